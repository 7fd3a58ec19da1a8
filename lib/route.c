/* route.c - see route.h. */
#include "route.h"

#include <string.h>

enum admin_route route_admin(const char *path, const char *prefix) {
    size_t plen = prefix ? strlen(prefix) : 0;
    /* A prefix is given as "/aphlict" or "/aphlict/"; compare without its
     * trailing slash so both spellings mount at the same place. */
    while (plen > 0 && prefix[plen - 1] == '/') plen--;
    if (plen > 0) {
        if (strncmp(path, prefix, plen) != 0) return ROUTE_NOT_FOUND;
        path += plen;
    }
    if (strcmp(path, "/") == 0) return ROUTE_PUBLISH;
    if (strcmp(path, "/status/") == 0) return ROUTE_STATUS;
    if (strcmp(path, "/metrics") == 0) return ROUTE_METRICS;   /* Prometheus */
    return ROUTE_NOT_FOUND;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes application/x-www-form-urlencoded text of length len. */
static int url_decode(const char *s, size_t len, char *out, size_t outlen) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 1 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi * 16 + lo);
            if (c == '\0') return -1;
            i += 2;
        }
        if (o + 1 >= outlen) return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

static int set_default(char *out, size_t outlen) {
    if (outlen < sizeof "default") return -1;
    memcpy(out, "default", sizeof "default");
    return 0;
}

int route_query_instance(const char *query, char *out, size_t outlen) {
    size_t cap = outlen < ROUTE_INSTANCE_MAX + 1 ? outlen : ROUTE_INSTANCE_MAX + 1;
    for (const char *p = query ? query : ""; *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= 9 && strncmp(p, "instance=", 9) == 0) {
            if (url_decode(p + 9, len - 9, out, cap) < 0) return -1;
            return out[0] ? 0 : set_default(out, outlen);
        }
        if (!end) break;
        p = end + 1;
    }
    return set_default(out, outlen);
}

int route_client_instance(const char *path, char *out, size_t outlen) {
    size_t cap = outlen < ROUTE_INSTANCE_MAX + 1 ? outlen : ROUTE_INSTANCE_MAX + 1;
    const char *tilde = strchr(path, '~');
    const char *query = strchr(path, '?');
    if (!tilde || (query && tilde > query)) return set_default(out, outlen);
    size_t o = 0;
    /* As the reference's path.split('~')[1]: a second '~' ends the name. */
    for (const char *p = tilde + 1; *p && *p != '?' && *p != '~'; p++) {
        if (*p == '/') continue;
        if (o + 1 >= cap) return -1;
        out[o++] = *p;
    }
    out[o] = '\0';
    return o ? 0 : set_default(out, outlen);
}
