/* fuzz_message.c - libFuzzer harness for the admin POST body (lib/message.h):
 * message_parse, then what handler.c does with a valid body (message_touch,
 * message_ensure_unique_id, message_text), with the properties the push
 * daemon relies on checked on the way:
 *   - a refused body has a one-line reason;
 *   - the dedupe key is the publisher's uniqueID string, all of it;
 *   - touching twice with one fingerprint says "seen" the second time;
 *   - the text that goes into the queue is itself a valid message, with the
 *     same uniqueID, and already touched by our fingerprint. */
#include "message.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP "23456789abcdefgh"

static void fail(const char *what) {
    fprintf(stderr, "fuzz_message: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct message m;
    char err[MESSAGE_ERR_MAX];
    if (message_parse((const char *)data, size, &m, err, sizeof err) < 0) {
        if (!err[0] || strchr(err, '\n')) fail("a refused body must have a one-line reason");
        message_free(&m);
        return 0;
    }
    if (!m.subscribers) fail("a valid message has subscribers");
    struct json_object *uid;
    if (json_object_object_get_ex(m.obj, "uniqueID", &uid) && json_object_is_type(uid, json_type_string) &&
        strlen(m.unique_id) != (size_t)json_object_get_string_len(uid))
        fail("the dedupe key must be the whole uniqueID (two different messages would be one)");
    int seen = message_touch(&m, FP);
    if (seen != 0 && seen != 1) fail("message_touch returns 0 or 1");
    if (message_touch(&m, FP) != 1) fail("a message touched by FP must be seen as touched");
    if (message_ensure_unique_id(&m) < 0) fail("message_ensure_unique_id failed");
    if (!m.unique_id[0]) fail("a message has a uniqueID once ensured");

    size_t len = 0;
    const char *text = message_text(&m, &len);
    if (!text || strlen(text) != len) fail("message_text: length mismatch or embedded NUL");

    /* What the queue stores must parse again, as the same message. */
    struct message again;
    char err2[MESSAGE_ERR_MAX];
    if (message_parse(text, len, &again, err2, sizeof err2) < 0) {
        fprintf(stderr, "fuzz_message: stored text %.*s refused: %s\n", (int)(len > 400 ? 400 : len), text, err2);
        fail("the stored text must be a valid message");
    }
    if (strcmp(again.unique_id, m.unique_id) != 0) fail("the uniqueID must survive the round trip");
    if (message_touch(&again, FP) != 1) fail("the stored text must carry our fingerprint in touched");
    message_free(&again);
    message_free(&m);
    return 0;
}
