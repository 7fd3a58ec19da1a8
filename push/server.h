/* server.h - the push daemon's event loop on libwebsockets: one vhost per
 * "client" entry of the configuration, the WebSocket protocol of
 * PROTOCOL.md section 3, the doorbell and signals folded into the loop,
 * and the timers (fallback poll, heartbeat, prune). */
#ifndef APH_SERVER_H
#define APH_SERVER_H

struct config;

#define SERVER_TICK_MS 1000        /* fallback poll and heartbeat */
#define SERVER_PRUNE_EVERY 5       /* ticks between prunes */
#define SERVER_SHUTDOWN_GRACE_MS 500
#define SERVER_RX_BUFFER 64        /* bytes read per receive callback: lws keeps this
                                      * buffer for the life of each connection */
#define SERVER_BATCH_FRAMES 64     /* queued frames sent in one write */
#define SERVER_BATCH_BYTES 65536   /* ... and at most this many bytes */

/* Runs until SIGTERM or SIGINT. Returns the process exit status. */
int server_run(const struct config *cfg, int debug);

#endif
