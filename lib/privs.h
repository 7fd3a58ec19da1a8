/* privs.h - starting as root to bind, then running as a configured user
 * (process.user, process.group). */
#ifndef APH_PRIVS_H
#define APH_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* Looks the user (and group, or the user's own) up. Returns 0, or -1 with
 * err saying which name is unknown. */
int privs_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* Gives path to uid:gid when running as root (state created before the
 * drop must stay usable after it). */
void privs_chown(const char *path, uid_t uid, gid_t gid);
/* Becomes uid:gid for good (supplementary groups of the user included).
 * Returns 0, or -1 with err. */
int privs_drop(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
