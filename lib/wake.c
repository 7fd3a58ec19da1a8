/* wake.c - see wake.h. */
#include "wake.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_address(struct sockaddr_un *sun, const char *path) {
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun->sun_path, path);
    return 0;
}

int wake_sender_open(void) {
    return socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

void wake_ring(int fd, const char *path) {
    struct sockaddr_un sun;
    if (fd < 0 || !path || fill_address(&sun, path) < 0) return;
    char byte = 1;
    (void)sendto(fd, &byte, 1, MSG_DONTWAIT, (struct sockaddr *)&sun, sizeof sun);
}

int wake_listener_open(const char *path) {
    struct sockaddr_un sun;
    if (fill_address(&sun, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || chmod(path, 0666) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int wake_drain(int fd) {
    char buf[64];
    int n = 0;
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0) n++;
    return n;
}
