/* sign.h - the optional signature on relays between peers: an
 * HMAC-SHA256 of the body under cluster.secret, sent as
 * "X-Aphlict-Signature: sha256=<hex>". Off unless configured, so a mixed
 * cluster with stock Aphlict nodes keeps working. */
#ifndef APH_SIGN_H
#define APH_SIGN_H

#include <stddef.h>

#define SIGN_HEADER "X-Aphlict-Signature"
#define SIGN_CGI_PARAM "HTTP_X_APHLICT_SIGNATURE"
#define SIGN_VALUE_MAX 80   /* "sha256=" + 64 hex digits + NUL, with room */

/* Writes "sha256=<hex>" for body into out. */
void sign_body(const char *secret, const char *body, size_t len, char out[SIGN_VALUE_MAX]);
/* 1 when value is the right signature of body (compared in constant time). */
int sign_check(const char *secret, const char *body, size_t len, const char *value);

#endif
