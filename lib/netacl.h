/* netacl.h - "may this address publish?": a list of networks in CIDR
 * notation (IPv4 and IPv6), matched against the client address the web
 * server passes as REMOTE_ADDR. */
#ifndef APH_NETACL_H
#define APH_NETACL_H

#include <stddef.h>

#define NETACL_MAX 512

struct netacl_entry {
    int family;               /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;               /* bits */
};

struct netacl {
    struct netacl_entry e[NETACL_MAX];
    int n;
};

/* Adds "ADDR" or "ADDR/BITS". Returns 0, or -1 when it is not a network. */
int netacl_add(struct netacl *acl, const char *cidr);
/* Adds every address a host name or literal resolves to, as a single host.
 * Returns the number added (0 when it does not resolve). */
int netacl_add_host(struct netacl *acl, const char *host);
/* 1 when addr (a literal, v4, v6 or v4-mapped v6) is in a listed network. */
int netacl_match(const struct netacl *acl, const char *addr);

#endif
