/* fuzz_route.c - libFuzzer harness for lib/route.h: route_admin,
 * route_query_instance and route_client_instance.
 *
 * Input: one byte choosing the output buffer size (most often the size the
 * programs use, ROUTE_INSTANCE_MAX + 1, else 1 to 140 bytes), then up to
 * three NUL-separated parts: a request path, a mount prefix and a query
 * string. The path is also used as a WebSocket path. Output buffers are
 * heap blocks of exactly the chosen size, so AddressSanitizer sees any
 * write past them. */
#include "route.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what) {
    fprintf(stderr, "fuzz_route: %s\n", what);
    abort();
}

/* A valid instance name: NUL-terminated inside the buffer, non-empty, at
 * most ROUTE_INSTANCE_MAX bytes. */
static void check_instance(const char *out, size_t outlen) {
    size_t n = strnlen(out, outlen);
    if (n == outlen) fail("instance not NUL-terminated inside its buffer");
    if (n == 0) fail("instance is empty (should be \"default\")");
    if (n > ROUTE_INSTANCE_MAX) fail("instance longer than ROUTE_INSTANCE_MAX");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t outlen = data[0] < 128 ? ROUTE_INSTANCE_MAX + 1 : 1 + data[0] % 140;
    data++, size--;

    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *parts[3] = { "", "", "" };
    char *p = buf, *end = buf + size;
    for (int i = 0; i < 3 && p <= end; i++) {
        parts[i] = p;
        p += strlen(p) + 1;
    }
    const char *path = parts[0], *prefix = parts[1], *query = parts[2];

    enum admin_route r = route_admin(path, prefix);
    if ((int)r < 0 || r > ROUTE_NOT_FOUND) fail("route_admin: unknown route");
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '/') plen--;
    if (r != ROUTE_NOT_FOUND && strncmp(path, prefix, plen) != 0) fail("route_admin: a route outside the prefix");
    r = route_admin(path, NULL);
    if (r == ROUTE_PUBLISH && strcmp(path, "/") != 0) fail("route_admin: only \"/\" publishes at the root");
    if (r == ROUTE_STATUS && strcmp(path, "/status/") != 0) fail("route_admin: only \"/status/\" is the status");

    char *out = malloc(outlen);
    if (route_query_instance(query, out, outlen) == 0) {
        check_instance(out, outlen);
    }
    if (route_query_instance(NULL, out, outlen) == 0 && strcmp(out, "default") != 0)
        fail("route_query_instance: no query string means default");
    if (route_client_instance(path, out, outlen) == 0) {
        check_instance(out, outlen);
        if (strchr(out, '/') || strchr(out, '?') || strchr(out, '~'))
            fail("route_client_instance: the instance has '/', '?' or '~'");
    }
    free(out);
    free(buf);
    return 0;
}
