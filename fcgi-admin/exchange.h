/* exchange.h - one HTTP request and its answer, as the admin handler sees
 * it, whether it came over FastCGI (libfcgi) or as a plain CGI call. The
 * handler is written once against this. */
#ifndef APH_EXCHANGE_H
#define APH_EXCHANGE_H

#include <fcgiapp.h>

struct exchange {
    const char *(*param)(struct exchange *ex, const char *name);
    /* Reads up to n body bytes; 0 at the end of the body, -1 on error. */
    int (*read)(struct exchange *ex, char *buf, int n);
    int (*write)(struct exchange *ex, const char *buf, int n);
    FCGX_Request *request;   /* FastCGI only */
    long long cgi_remaining; /* CGI only: body bytes not yet read */
};

void exchange_init_fcgi(struct exchange *ex, FCGX_Request *request);
void exchange_init_cgi(struct exchange *ex);

#endif
