/* handler.h - the admin API (PROTOCOL.md section 2): POST / and
 * GET /status/, answered over any exchange (FastCGI or CGI). */
#ifndef APH_HANDLER_H
#define APH_HANDLER_H

#include "exchange.h"

struct config;
struct netacl;
struct queue;

/* What one request thread owns: its own SQLite connection and doorbell. */
struct admin_ctx {
    const struct config *cfg;
    struct queue *queue;
    int wake_fd;
    long long started_ms;    /* when this admin process started */
    const struct netacl *publishers;   /* who may POST (admin.allow) */
};

void handle_request(struct admin_ctx *ctx, struct exchange *ex);

#endif
