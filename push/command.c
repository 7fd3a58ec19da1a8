/* command.c - see command.h. */
#include "command.h"

#include <json-c/json.h>
#include <string.h>

static void ignored(struct command *c, const char *why) {
    c->kind = COMMAND_IGNORED;
    c->why = why;
}

void command_parse(const char *text, size_t len, struct command *c) {
    memset(c, 0, sizeof *c);
    struct json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    c->root = json_tokener_parse_ex(tok, text, (int)len);
    json_tokener_free(tok);
    struct json_object *cmd, *data = NULL;
    if (!c->root || !json_object_is_type(c->root, json_type_object) ||
        !json_object_object_get_ex(c->root, "command", &cmd) || !json_object_is_type(cmd, json_type_string)) {
        ignored(c, "not a {\"command\": ...} JSON object");
        return;
    }
    json_object_object_get_ex(c->root, "data", &data);
    const char *name = json_object_get_string(cmd);
    if (strcmp(name, "subscribe") == 0 || strcmp(name, "unsubscribe") == 0) {
        if (!json_object_is_type(data, json_type_array)) {
            ignored(c, "(un)subscribe with data that is not a list");
            return;
        }
        c->kind = name[0] == 's' ? COMMAND_SUBSCRIBE : COMMAND_UNSUBSCRIBE;
        c->phids = data;
    } else if (strcmp(name, "replay") == 0) {
        struct json_object *age;
        c->kind = COMMAND_REPLAY;
        if (json_object_is_type(data, json_type_object) && json_object_object_get_ex(data, "age", &age) &&
            (json_object_is_type(age, json_type_int) || json_object_is_type(age, json_type_double)))
            c->age_ms = json_object_get_int64(age);
        if (c->age_ms <= 0) c->age_ms = COMMAND_DEFAULT_REPLAY_AGE_MS;
    } else if (strcmp(name, "ping") == 0) {
        c->kind = COMMAND_PING;
    } else {
        ignored(c, "unknown command");
    }
}

size_t command_phid_count(const struct command *c) {
    return c->phids ? json_object_array_length(c->phids) : 0;
}

const char *command_phid(const struct command *c, size_t i, size_t max_len) {
    struct json_object *v = json_object_array_get_idx(c->phids, i);
    if (!json_object_is_type(v, json_type_string)) return NULL;
    size_t len = (size_t)json_object_get_string_len(v);
    const char *s = json_object_get_string(v);
    /* "\u0000" makes a string whose C length is shorter: not a PHID. */
    return len == 0 || len > max_len || memchr(s, '\0', len) ? NULL : s;
}

void command_free(struct command *c) {
    json_object_put(c->root);
    memset(c, 0, sizeof *c);
}
