/* message.h - a published message: validation of the admin POST body, the
 * `touched` rule and uniqueID assignment (PROTOCOL.md sections 2 and 4).
 *
 * The body is kept as the json-c object it was parsed into; every field is
 * passed through untouched except `touched` (our fingerprint appended) and
 * `uniqueID` (assigned when absent). */
#ifndef APH_MESSAGE_H
#define APH_MESSAGE_H

#include <stddef.h>

struct json_object;

#define MESSAGE_MAX_DEPTH 32       /* JSON nesting accepted in a body */
#define MESSAGE_ERR_MAX 160

struct message {
    struct json_object *obj;
    struct json_object *subscribers;   /* borrowed from obj: a list of strings */
    char unique_id[256];               /* the dedupe key */
};

/* Parses and checks a body of `len` bytes. Returns 0, or -1 with a
 * one-line reason in err (the 400 answer). */
int message_parse(const char *body, size_t len, struct message *m, char *err, size_t errlen);

/* The touched rule: returns 1 when `fingerprint` is already in `touched`
 * (the message was seen: deliver and relay nothing), else appends it and
 * returns 0. */
int message_touch(struct message *m, const char *fingerprint);

/* Gives the message a uniqueID when the publisher sent none, so that every
 * later hop carries it. Returns 0, or -1 when no randomness could be had. */
int message_ensure_unique_id(struct message *m);

/* The message as JSON text, '/' not escaped; valid until message_free. */
const char *message_text(struct message *m, size_t *len);

void message_free(struct message *m);

/* Reads a peer's receipt, the body of its 200 answer to a relayed message:
 * {"fingerprint": "..."}. The fingerprint must be 1 to fplen - 1 printable
 * ASCII characters other than '"' and '\\' (stock Aphlict sends 16 of
 * TOKEN_FINGERPRINT_ALPHABET), since it is compared inside JSON text and
 * written to the log. Returns 0 with it in fp, or -1 with a one-line
 * reason in err. */
int message_parse_receipt(const char *body, size_t len, char *fp, size_t fplen, char *err, size_t errlen);

#endif
