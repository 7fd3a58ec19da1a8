/* privs.c - see privs.h. */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int privs_lookup(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err, size_t errlen) {
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, errlen, "process.user: no such user \"%s\"", user);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (group) {
        struct group *gr = getgrnam(group);
        if (!gr) {
            snprintf(err, errlen, "process.group: no such group \"%s\"", group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

void privs_chown(const char *path, uid_t uid, gid_t gid) {
    if (geteuid() == 0 && path) (void)chown(path, uid, gid);
}

int privs_drop(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen) {
    if (geteuid() != 0) {
        if (geteuid() == uid) return 0;
        snprintf(err, errlen, "process.user: cannot become %s: not started as root", user);
        return -1;
    }
    if (initgroups(user, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
        snprintf(err, errlen, "process.user: cannot become %s: %s", user, strerror(errno));
        return -1;
    }
    if (uid != 0 && setuid(0) == 0) {   /* must be impossible now */
        snprintf(err, errlen, "process.user: dropping privileges did not stick");
        return -1;
    }
    return 0;
}
