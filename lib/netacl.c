/* netacl.c - see netacl.h. */
#include "netacl.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int parse_addr(const char *s, int *family, unsigned char *out) {
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        /* A v4-mapped address (::ffff:a.b.c.d) is that IPv4 address. */
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            *family = AF_INET;
        }
        return 0;
    }
    return -1;
}

int netacl_add(struct netacl *acl, const char *cidr) {
    if (acl->n >= NETACL_MAX) return -1;
    char buf[INET6_ADDRSTRLEN + 8];
    snprintf(buf, sizeof buf, "%s", cidr);
    struct netacl_entry *e = &acl->e[acl->n];
    char *slash = strchr(buf, '/');
    if (slash) *slash = '\0';
    if (parse_addr(buf, &e->family, e->addr) < 0) return -1;
    int max = e->family == AF_INET ? 32 : 128;
    e->prefix = max;
    if (slash) {
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > max) return -1;
        e->prefix = (int)bits;
    }
    acl->n++;
    return 0;
}

int netacl_add_host(struct netacl *acl, const char *host) {
    struct addrinfo hints, *res, *ai;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) return 0;
    int added = 0;
    for (ai = res; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN];
        const void *a = ai->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                                 : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if (inet_ntop(ai->ai_family, a, text, sizeof text) && netacl_add(acl, text) == 0) added++;
    }
    freeaddrinfo(res);
    return added;
}

static int prefix_equal(const unsigned char *a, const unsigned char *b, int bits) {
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0) return 0;
    if (rest == 0) return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

int netacl_match(const struct netacl *acl, const char *addr) {
    int family;
    unsigned char a[16];
    if (!addr || parse_addr(addr, &family, a) < 0) return 0;
    for (int i = 0; i < acl->n; i++)
        if (acl->e[i].family == family && prefix_equal(a, acl->e[i].addr, acl->e[i].prefix)) return 1;
    return 0;
}
