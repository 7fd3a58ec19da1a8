/* lwslog.c - see lwslog.h. */
#include "lwslog.h"

#include "log.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The current interval. lws logs from its service thread only. */
static struct {
    long long window_ms;    /* start of the current interval */
    long long lines;        /* written or held back in it */
    long long held;         /* held back in it */
    char last[200];         /* the last line held back */
} window;

/* Writes how many lines were held back, if any, and opens a new interval. */
static void write_held(long long now) {
    if (window.held)
        log_msg(LOG_WARN, "lws: %lld more lines in %lld ms not written, the last: %s", window.held,
                now - window.window_ms, window.last);
    window.window_ms = now;
    window.lines = window.held = 0;
}

void lwslog_emit(int level, const char *line) {
    size_t len = strlen(line);
    while (len && line[len - 1] == '\n') len--;
    long long now = now_ms();
    if (now - window.window_ms >= LWSLOG_INTERVAL_MS) write_held(now);
    if (++window.lines > LWSLOG_BUDGET) {
        window.held++;
        snprintf(window.last, sizeof window.last, "%.*s", (int)len, line);
        return;
    }
    enum log_level lv = level == LLL_ERR ? LOG_ERROR : level == LLL_WARN ? LOG_WARN : LOG_DEBUG;
    log_msg(lv, "lws: %.*s", (int)len, line);
}

void lwslog_tick(void) {
    long long now = now_ms();
    if (now - window.window_ms >= LWSLOG_INTERVAL_MS) write_held(now);
}
