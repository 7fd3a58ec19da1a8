/* metrics.h - GET /metrics: the node's figures in the Prometheus text
 * exposition format (version 0.0.4), read from the queue database, where
 * the admin app and the push daemon both write theirs. */
#ifndef APH_METRICS_H
#define APH_METRICS_H

#include <stdio.h>

struct config;
struct queue;

/* Writes every family to out. Returns 0, or -1 with err when the queue
 * could not be read. */
int metrics_write(FILE *out, struct queue *q, const struct config *cfg, long long now_ms, char *err, size_t errlen);

#endif
