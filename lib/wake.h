/* wake.h - the doorbell from the admin app to the push daemon: a one-byte
 * datagram on a UNIX socket, sent after each commit returns. It carries no
 * data, only "look at the queue now"; a lost one delays a message until the
 * daemon's periodic check, it never loses it (see STACK-NOTES.md for why
 * inotify on the WAL is not used). */
#ifndef APH_WAKE_H
#define APH_WAKE_H

/* A non-blocking datagram socket for ringing; -1 on error (errno set). */
int wake_sender_open(void);
/* Rings the daemon listening at path. Never blocks, never fails loudly:
 * no daemon, or a full socket buffer, are normal. */
void wake_ring(int fd, const char *path);
/* Binds the daemon's end at path (replacing a stale socket file), mode
 * 0666 so that an admin app running as another user can ring it. Returns
 * the non-blocking fd, or -1 (errno set). */
int wake_listener_open(const char *path);
/* Reads every pending datagram; returns how many there were. */
int wake_drain(int fd);

#endif
