/* route.h - what a request's path and query string mean: the admin route,
 * and the instance name on both the admin and the client side
 * (PROTOCOL.md sections 2 and 3). Pure functions, no I/O. */
#ifndef APH_ROUTE_H
#define APH_ROUTE_H

#include <stddef.h>

#define ROUTE_INSTANCE_MAX 128   /* longest instance name, in bytes */

enum admin_route { ROUTE_PUBLISH, ROUTE_STATUS, ROUTE_METRICS, ROUTE_NOT_FOUND };

/* The admin route of `path` (without query string) once `prefix` (the
 * place the app is mounted, "" for the root) is taken off. */
enum admin_route route_admin(const char *path, const char *prefix);

/* The instance named by "instance=NAME" in a query string, decoded;
 * "default" when absent or empty. Returns 0, or -1 when the name is longer
 * than ROUTE_INSTANCE_MAX or decodes to a NUL or invalid escape. */
int route_query_instance(const char *query, char *out, size_t outlen);

/* The instance of a WebSocket path: the text after the first '~' with
 * every '/' removed (up to a second '~'), "default" when there is none or it is empty; any query
 * string is not part of it. Returns 0, or -1 when it is too long. */
int route_client_instance(const char *path, char *out, size_t outlen);

#endif
