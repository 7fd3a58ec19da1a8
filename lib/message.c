/* message.c - see message.h. */
#include "message.h"
#include "token.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static int reject(char *err, size_t errlen, const char *what) {
    snprintf(err, errlen, "%s", what);
    return -1;
}

static int is_string_list(struct json_object *v) {
    if (!json_object_is_type(v, json_type_array)) return 0;
    size_t n = json_object_array_length(v);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string)) return 0;
        /* "\u0000" would make a PHID that C strings read shorter. */
        if (strlen(json_object_get_string(e)) != (size_t)json_object_get_string_len(e)) return 0;
    }
    return 1;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, RFC 8259's number. */
static int is_json_number(const char *s) {
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (*s >= '1' && *s <= '9') while (*s >= '0' && *s <= '9') s++;
    else return 0;
    if (*s == '.') {
        if (*++s < '0' || *s > '9') return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        if (*++s == '+' || *s == '-') s++;
        if (*s < '0' || *s > '9') return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == '\0';
}

/* json-c, even strict, reads NaN, Infinity and "1." as numbers and writes
 * them back as they came: not JSON, and refused by the queue's json_valid
 * CHECK. Integers are written from their value, so only doubles matter. */
static int numbers_are_json(struct json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_double:
        return is_json_number(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!numbers_are_json(json_object_array_get_idx(v, i))) return 0;
        return 1;
    case json_type_object: {
        json_object_object_foreach(v, key, val) {
            (void)key;
            if (!numbers_are_json(val)) return 0;
        }
        return 1;
    }
    default:
        return 1;
    }
}

static struct json_object *parse_strict(const char *body, size_t len, char *err, size_t errlen) {
    if (len == 0) {
        reject(err, errlen, "body is empty: expected a JSON object");
        return NULL;
    }
    if (memchr(body, '\0', len)) {
        reject(err, errlen, "body is not JSON: it contains a NUL byte");
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(MESSAGE_MAX_DEPTH);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, body, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success || !obj) {
        snprintf(err, errlen, "body is not JSON: %s",
                 jerr == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(jerr));
        json_object_put(obj);
        return NULL;
    }
    if (!numbers_are_json(obj)) {
        json_object_put(obj);
        reject(err, errlen, "body is not JSON: a number is not a JSON number (NaN, Infinity...)");
        return NULL;
    }
    return obj;
}

int message_parse(const char *body, size_t len, struct message *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    struct json_object *obj = parse_strict(body, len, err, errlen);
    if (!obj) return -1;
    m->obj = obj;

    if (!json_object_is_type(obj, json_type_object))
        return reject(err, errlen, "body must be a JSON object");
    struct json_object *v;
    if (!json_object_object_get_ex(obj, "subscribers", &v))
        return reject(err, errlen, "\"subscribers\" is missing: expected a list of PHID strings");
    if (!is_string_list(v))
        return reject(err, errlen, "\"subscribers\" must be a list of PHID strings");
    m->subscribers = v;

    if (json_object_object_get_ex(obj, "touched", &v) && !json_object_is_type(v, json_type_null) &&
        !is_string_list(v))
        return reject(err, errlen, "\"touched\" must be a list of fingerprint strings");

    if (json_object_object_get_ex(obj, "uniqueID", &v) && !json_object_is_type(v, json_type_null)) {
        /* Phorge sends a string; anything else is still a stable key. */
        const char *s = json_object_is_type(v, json_type_string)
                            ? json_object_get_string(v)
                            : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        /* The key is a C string: a "\u0000" would cut it, and two
         * different messages would be taken for one. */
        if (json_object_is_type(v, json_type_string) && strlen(s) != (size_t)json_object_get_string_len(v))
            return reject(err, errlen, "\"uniqueID\" contains a NUL character (\\u0000)");
        if (strlen(s) >= sizeof m->unique_id)
            return reject(err, errlen, "\"uniqueID\" is longer than 255 bytes");
        snprintf(m->unique_id, sizeof m->unique_id, "%s", s);
    }
    return 0;
}

int message_touch(struct message *m, const char *fingerprint) {
    struct json_object *touched;
    if (!json_object_object_get_ex(m->obj, "touched", &touched) ||
        json_object_is_type(touched, json_type_null)) {
        touched = json_object_new_array();
        json_object_object_add(m->obj, "touched", touched);
    }
    size_t n = json_object_array_length(touched);
    for (size_t i = 0; i < n; i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(touched, i)), fingerprint) == 0)
            return 1;
    json_object_array_add(touched, json_object_new_string(fingerprint));
    return 0;
}

int message_ensure_unique_id(struct message *m) {
    if (m->unique_id[0]) return 0;
    char id[TOKEN_UNIQUE_ID_LEN + 1];
    if (token_random(id, TOKEN_UNIQUE_ID_LEN, TOKEN_UNIQUE_ID_ALPHABET) < 0) return -1;
    json_object_object_add(m->obj, "uniqueID", json_object_new_string(id));
    memcpy(m->unique_id, id, sizeof id);
    return 0;
}

const char *message_text(struct message *m, size_t *len) {
    const char *s = json_object_to_json_string_length(
        m->obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    return s;
}

void message_free(struct message *m) {
    json_object_put(m->obj);
    memset(m, 0, sizeof *m);
}

int message_parse_receipt(const char *body, size_t len, char *fp, size_t fplen, char *err, size_t errlen) {
    char why[MESSAGE_ERR_MAX];
    struct json_object *o = parse_strict(body, len, why, sizeof why), *f;
    int rc = -1;
    if (!o) {
        snprintf(err, errlen, "the receipt is not JSON");
    } else if (!json_object_object_get_ex(o, "fingerprint", &f) || !json_object_is_type(f, json_type_string)) {
        snprintf(err, errlen, "the receipt has no \"fingerprint\" string");
    } else {
        const char *s = json_object_get_string(f);
        size_t n = (size_t)json_object_get_string_len(f), i = 0;
        while (i < n && s[i] > ' ' && s[i] < 127 && s[i] != '"' && s[i] != '\\') i++;
        if (n == 0 || n >= fplen) {
            snprintf(err, errlen, "the receipt's fingerprint is %zu bytes long (1 to %zu expected)", n, fplen - 1);
        } else if (i < n) {
            snprintf(err, errlen, "the receipt's fingerprint has a character that is not printable ASCII, or a quote");
        } else {
            memcpy(fp, s, n + 1);
            rc = 0;
        }
    }
    json_object_put(o);
    return rc;
}
