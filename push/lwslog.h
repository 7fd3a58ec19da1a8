/* lwslog.h - libwebsockets' log lines into the daemon's log, within a
 * budget: lws can say the same things thousands of times a second (a
 * refused accept at the open-file limit is retried on every turn of its
 * loop), which must not fill the disk. Past LWSLOG_BUDGET lines in
 * LWSLOG_INTERVAL_MS its lines are counted, not written, and the count is
 * written once the interval is over. */
#ifndef APH_LWSLOG_H
#define APH_LWSLOG_H

#define LWSLOG_INTERVAL_MS 1000
#define LWSLOG_BUDGET 20

/* The emit callback for lws_set_log_level. */
void lwslog_emit(int level, const char *line);

/* Writes the count of lines held back once their interval is over: call
 * it about once a second, so that a burst that stopped is still told. */
void lwslog_tick(void);

#endif
