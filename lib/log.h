/* log.h - one line per event, to the configured log files and/or stderr.
 *
 * Every line carries a UTC timestamp, a level and the text. A line is
 * formatted into one buffer and written with one write() per target, so
 * lines from different threads never interleave. */
#ifndef APH_LOG_H
#define APH_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

#define LOG_MAX_TARGETS 8   /* log files one program writes to at once */
#define LOG_LINE_MAX 2048   /* longest line; longer text is cut */

/* Names the program in each line and sets the lowest level written. */
void log_init(const char *program, enum log_level min_level, int to_stderr);
/* Opens (or, when already open, reopens) the given files for appending.
 * Returns 0, or -1 with errbuf saying which file failed and why. */
int log_open_files(const char *const *paths, int npaths, char *errbuf, int errlen);
/* Reopens every file opened before: the logrotate postrotate step. */
void log_reopen(void);
void log_close(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
