/* log.c - see log.h. Files are opened O_APPEND so that several processes
 * (the admin app's threads, the push daemon) can share one file. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static struct {
    const char *program;
    enum log_level min_level;
    int to_stderr;
    int nfiles;
    char *paths[LOG_MAX_TARGETS];
    int fds[LOG_MAX_TARGETS];
} logger = { "aphlict", LOG_INFO, 1, 0, {0}, {0} };

/* Guards fds[] against a reopen racing a write from another thread. */
static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;

static const char *level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *program, enum log_level min_level, int to_stderr) {
    logger.program = program;
    logger.min_level = min_level;
    logger.to_stderr = to_stderr;
}

static int open_log_file(const char *path) {
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_open_files(const char *const *paths, int npaths, char *errbuf, int errlen) {
    if (npaths > LOG_MAX_TARGETS) {
        snprintf(errbuf, errlen, "too many log files (%d, at most %d)", npaths, LOG_MAX_TARGETS);
        return -1;
    }
    int fds[LOG_MAX_TARGETS];
    for (int i = 0; i < npaths; i++) {
        fds[i] = open_log_file(paths[i]);
        if (fds[i] < 0) {
            snprintf(errbuf, errlen, "cannot open log file %s: %s", paths[i], strerror(errno));
            while (i-- > 0) close(fds[i]);
            return -1;
        }
    }
    log_close();
    pthread_rwlock_wrlock(&log_lock);
    for (int i = 0; i < npaths; i++) {
        logger.paths[i] = strdup(paths[i]);
        logger.fds[i] = fds[i];
    }
    logger.nfiles = npaths;
    pthread_rwlock_unlock(&log_lock);
    return 0;
}

void log_reopen(void) {
    pthread_rwlock_wrlock(&log_lock);
    for (int i = 0; i < logger.nfiles; i++) {
        int fd = open_log_file(logger.paths[i]);
        if (fd < 0) continue; /* keep writing to the old file rather than nowhere */
        close(logger.fds[i]);
        logger.fds[i] = fd;
    }
    pthread_rwlock_unlock(&log_lock);
}

void log_close(void) {
    pthread_rwlock_wrlock(&log_lock);
    for (int i = 0; i < logger.nfiles; i++) {
        close(logger.fds[i]);
        free(logger.paths[i]);
    }
    logger.nfiles = 0;
    pthread_rwlock_unlock(&log_lock);
}

static void write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        buf += n;
        len -= (size_t)n;
    }
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap) {
    if (level < logger.min_level) return;
    char line[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int len = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s[%d] %s: ",
                       tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                       tm.tm_sec, (int)(tv.tv_usec / 1000), logger.program, (int)getpid(),
                       level_names[level]);
    int room = (int)sizeof line - len - 1;
    int n = vsnprintf(line + len, room + 1, fmt, ap);
    len += n < room ? n : room;
    line[len++] = '\n';

    pthread_rwlock_rdlock(&log_lock);
    for (int i = 0; i < logger.nfiles; i++) write_all(logger.fds[i], line, (size_t)len);
    if (logger.to_stderr || logger.nfiles == 0) write_all(2, line, (size_t)len);
    pthread_rwlock_unlock(&log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
