/* exchange.c - see exchange.h. */
#include "exchange.h"

#include <stdio.h>
#include <stdlib.h>

static const char *fcgi_param(struct exchange *ex, const char *name) {
    return FCGX_GetParam(name, ex->request->envp);
}

static int fcgi_read(struct exchange *ex, char *buf, int n) {
    int got = FCGX_GetStr(buf, n, ex->request->in);
    if (got == 0 && FCGX_GetError(ex->request->in) != 0) return -1;
    return got;
}

static int fcgi_write(struct exchange *ex, const char *buf, int n) {
    return FCGX_PutStr(buf, n, ex->request->out) == n ? n : -1;
}

void exchange_init_fcgi(struct exchange *ex, FCGX_Request *request) {
    ex->param = fcgi_param;
    ex->read = fcgi_read;
    ex->write = fcgi_write;
    ex->request = request;
    ex->cgi_remaining = 0;
}

static const char *cgi_param(struct exchange *ex, const char *name) {
    (void)ex;
    return getenv(name);
}

/* CGI gives no end-of-body marker but CONTENT_LENGTH: read no further. */
static int cgi_read(struct exchange *ex, char *buf, int n) {
    if (ex->cgi_remaining <= 0) return 0;
    if (n > ex->cgi_remaining) n = (int)ex->cgi_remaining;
    size_t got = fread(buf, 1, (size_t)n, stdin);
    if (got == 0) return ferror(stdin) ? -1 : 0;
    ex->cgi_remaining -= (long long)got;
    return (int)got;
}

static int cgi_write(struct exchange *ex, const char *buf, int n) {
    (void)ex;
    return fwrite(buf, 1, (size_t)n, stdout) == (size_t)n ? n : -1;
}

void exchange_init_cgi(struct exchange *ex) {
    ex->param = cgi_param;
    ex->read = cgi_read;
    ex->write = cgi_write;
    ex->request = NULL;
    const char *len = getenv("CONTENT_LENGTH");
    ex->cgi_remaining = len ? atoll(len) : 0;
}
