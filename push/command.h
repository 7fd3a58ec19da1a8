/* command.h - a frame from a listener, parsed (PROTOCOL.md section 3):
 * {"command": "subscribe"|"unsubscribe"|"replay"|"ping", "data": ...}.
 * Pure: no I/O, no libwebsockets, so it can be fuzzed on its own. */
#ifndef APH_COMMAND_H
#define APH_COMMAND_H

#include <stddef.h>

struct json_object;

#define COMMAND_DEFAULT_REPLAY_AGE_MS 60000

enum command_kind {
    COMMAND_IGNORED,        /* not a command we act on: `why` says so */
    COMMAND_SUBSCRIBE,
    COMMAND_UNSUBSCRIBE,
    COMMAND_REPLAY,
    COMMAND_PING,
};

struct command {
    enum command_kind kind;
    struct json_object *root;
    struct json_object *phids;   /* (un)subscribe: the data list */
    long long age_ms;            /* replay: missing or 0 means the default */
    const char *why;             /* COMMAND_IGNORED: for the log */
};

/* Parses one text frame of len bytes. Always fills c; free with command_free. */
void command_parse(const char *text, size_t len, struct command *c);
/* The number of entries in the (un)subscribe list. */
size_t command_phid_count(const struct command *c);
/* Entry i as a PHID, or NULL when it is not a non-empty string of at most
 * max_len bytes (such entries are skipped). */
const char *command_phid(const struct command *c, size_t i, size_t max_len);
void command_free(struct command *c);

#endif
