/* test_message.c - lib/message.c: the admin POST body (PROTOCOL.md
 * section 2): Phorge's bodies are accepted and passed through untouched;
 * anything that is not a JSON object with a list of string subscribers is
 * refused with a reason; the `touched` rule; uniqueID assignment; and the
 * text written to the queue ('/' not escaped). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "token.h"

static const char notification[] =
    "{\"key\": \"7054362155930265462\", \"type\": \"notification\","
    " \"subscribers\": [\"PHID-USER-aaaaaaaaaaaaaaaaaaaa\", \"PHID-PROJ-bbbbbbbbbbbbbbbbbbbb\"],"
    " \"uniqueID\": \"4f0ab2c1d9e8f7a6b5c4d3e2f1a0b9c8\"}";
static const char chat_message[] =
    "{\"type\": \"message\", \"threadPHID\": \"PHID-CONP-cccccccccccccccccccc\", \"messageID\": 1234,"
    " \"subscribers\": [\"PHID-USER-aaaaaaaaaaaaaaaaaaaa\"], \"uniqueID\": \"u-message-1\"}";
static const char workboards[] =
    "{\"type\": \"workboards\", \"subscribers\": [\"PHID-PROJ-bbbbbbbbbbbbbbbbbbbb\"],"
    " \"uniqueID\": \"u-workboards-1\"}";

static void parse_ok(const char *body, struct message *m) {
    char err[MESSAGE_ERR_MAX] = "";
    int rc = message_parse(body, strlen(body), m, err, sizeof err);
    if (rc != 0) print_error("body %s refused: %s\n", body, err);
    assert_int_equal(rc, 0);
    assert_non_null(m->obj);
    assert_non_null(m->subscribers);
}

/* The body of `len` bytes must be refused with a reason containing `why`. */
static void refused_len(const char *body, size_t len, const char *why) {
    struct message m;
    char err[MESSAGE_ERR_MAX] = "";
    int rc = message_parse(body, len, &m, err, sizeof err);
    message_free(&m);
    if (rc != -1 || !strstr(err, why)) {
        print_error("body %.*s: rc %d, err \"%s\"; wanted -1 and \"%s\"\n", (int)len, body, rc, err, why);
        fail();
    }
    /* One line, as the 400 answer's JSON error. */
    assert_null(strchr(err, '\n'));
}

static void refused(const char *body, const char *why) { refused_len(body, strlen(body), why); }

static const char *field_string(struct message *m, const char *key) {
    struct json_object *v;
    if (!json_object_object_get_ex(m->obj, key, &v)) return NULL;
    return json_object_get_string(v);
}

static void test_phorge_bodies(void **state) {
    struct message m;
    parse_ok(notification, &m);
    assert_int_equal(json_object_array_length(m.subscribers), 2);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(m.subscribers, 1)),
                        "PHID-PROJ-bbbbbbbbbbbbbbbbbbbb");
    assert_string_equal(m.unique_id, "4f0ab2c1d9e8f7a6b5c4d3e2f1a0b9c8");
    assert_string_equal(field_string(&m, "key"), "7054362155930265462");
    message_free(&m);
    assert_null(m.obj);

    parse_ok(chat_message, &m);
    assert_int_equal(json_object_array_length(m.subscribers), 1);
    assert_string_equal(m.unique_id, "u-message-1");
    assert_string_equal(field_string(&m, "threadPHID"), "PHID-CONP-cccccccccccccccccccc");
    message_free(&m);

    parse_ok(workboards, &m);
    assert_string_equal(m.unique_id, "u-workboards-1");
    message_free(&m);

    /* Empty subscribers, a null touched, no uniqueID, white space around. */
    parse_ok("\n {\"type\": \"notification\", \"subscribers\": [], \"touched\": null} \r\n\t", &m);
    assert_int_equal(json_object_array_length(m.subscribers), 0);
    assert_string_equal(m.unique_id, "");
    message_free(&m);

    /* JSON numbers of every shape, written back as they came. */
    parse_ok("{\"subscribers\": [], \"n\": [0, -1, 1.5, -0.25e-3, 1E+2, 1e999, 12345678901234]}", &m);
    size_t len;
    assert_non_null(strstr(message_text(&m, &len), "[0,-1,1.5,-0.25e-3,1E+2,1e999,12345678901234]"));
    message_free(&m);

    /* A uniqueID that is not a string is still a stable key. */
    parse_ok("{\"subscribers\": [\"PHID-USER-a\"], \"uniqueID\": 42, \"touched\": [\"abc\"]}", &m);
    assert_string_equal(m.unique_id, "42");
    message_free(&m);
}

static void test_refused_bodies(void **state) {
    refused("", "empty");
    refused_len("{}", 0, "empty");
    refused("hello", "not JSON");
    refused("{\"subscribers\": [", "not JSON");
    refused("[\"PHID-USER-a\"]", "must be a JSON object");
    refused("\"PHID-USER-a\"", "must be a JSON object");
    refused("null", "");   /* json-c reads "null" as no object: either reason is a 400 */
    refused("{\"subscribers\": []", "not JSON");
    refused("{\"type\": \"notification\"}", "\"subscribers\" is missing");
    refused("{\"subscribers\": \"PHID-USER-a\"}", "\"subscribers\" must be a list");
    refused("{\"subscribers\": null}", "\"subscribers\" must be a list");
    refused("{\"subscribers\": {\"a\": \"PHID-USER-a\"}}", "\"subscribers\" must be a list");
    refused("{\"subscribers\": [\"PHID-USER-a\", 5]}", "\"subscribers\" must be a list");
    refused("{\"subscribers\": [[\"PHID-USER-a\"]]}", "\"subscribers\" must be a list");
    refused("{\"subscribers\": [], \"touched\": \"abc\"}", "\"touched\" must be a list");
    refused("{\"subscribers\": [], \"touched\": [\"abc\", null]}", "\"touched\" must be a list");
    /* Trailing text: json-c's strict mode or our own check refuses it. */
    refused("{\"subscribers\": []} x", "not JSON");
    refused("{\"subscribers\": []}{\"subscribers\": []}", "not JSON");
    refused("{\"subscribers\": []}\n]", "not JSON");
    /* Invalid UTF-8 inside a string, and a lone continuation byte. */
    refused("{\"subscribers\": [\"PHID-\xff\xfe\"]}", "not JSON");
    refused("{\"subscribers\": [], \"x\": \"\x80\"}", "not JSON");
    /* json-c takes these for numbers and would write them back as they
     * came, which is not JSON. */
    refused("{\"subscribers\": [], \"x\": NaN}", "not JSON");
    refused("{\"subscribers\": [], \"x\": Infinity}", "not JSON");
    refused("{\"subscribers\": [], \"x\": {\"y\": [1, -Infinity]}}", "not JSON");
    refused("{\"subscribers\": [], \"x\": 1.}", "not JSON");
    refused("{\"subscribers\": [], \"x\": 2.e5}", "not JSON");
    /* A NUL byte anywhere within the length. */
    static const char nul[] = "{\"subscribers\": []}\0 trailing";
    refused_len(nul, sizeof nul - 1, "NUL");
    static const char nul_in_string[] = "{\"subscribers\": [\"a\0b\"]}";
    refused_len(nul_in_string, sizeof nul_in_string - 1, "NUL");
    /* uniqueID is at most 255 bytes. */
    char body[400];
    snprintf(body, sizeof body, "{\"subscribers\": [], \"uniqueID\": \"%0256d\"}", 0);
    refused(body, "uniqueID");
}

/* A body whose nesting (the outer object counted) is `depth`. */
static char *nested_body(int depth) {
    size_t cap = (size_t)depth * 2 + 64;
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "{\"subscribers\": [], \"x\": ");
    for (int i = 1; i < depth; i++) *p++ = '[';
    for (int i = 1; i < depth; i++) *p++ = ']';
    strcpy(p, "}");
    return s;
}

static void test_nesting_limit(void **state) {
    struct message m;
    char *body = nested_body(MESSAGE_MAX_DEPTH);
    parse_ok(body, &m);
    message_free(&m);
    free(body);

    body = nested_body(MESSAGE_MAX_DEPTH + 1);
    refused(body, "not JSON");
    free(body);
    body = nested_body(10000);
    refused(body, "not JSON");
    free(body);
}

static int touched_count(struct message *m) {
    struct json_object *t;
    if (!json_object_object_get_ex(m->obj, "touched", &t)) return -1;
    return (int)json_object_array_length(t);
}

static const char *touched_at(struct message *m, int i) {
    struct json_object *t;
    json_object_object_get_ex(m->obj, "touched", &t);
    return json_object_get_string(json_object_array_get_idx(t, (size_t)i));
}

static void test_touch(void **state) {
    struct message m;
    parse_ok(notification, &m);
    assert_int_equal(touched_count(&m), -1);
    assert_int_equal(message_touch(&m, "fpAAAAAAAAAAAAAA"), 0);
    assert_int_equal(touched_count(&m), 1);
    assert_string_equal(touched_at(&m, 0), "fpAAAAAAAAAAAAAA");
    /* Seen: 1, and not appended twice. */
    assert_int_equal(message_touch(&m, "fpAAAAAAAAAAAAAA"), 1);
    assert_int_equal(touched_count(&m), 1);
    /* Another node appends after. */
    assert_int_equal(message_touch(&m, "fpBBBBBBBBBBBBBB"), 0);
    assert_int_equal(touched_count(&m), 2);
    assert_string_equal(touched_at(&m, 1), "fpBBBBBBBBBBBBBB");
    assert_int_equal(message_touch(&m, "fpAAAAAAAAAAAAAA"), 1);
    assert_int_equal(touched_count(&m), 2);
    message_free(&m);

    /* Already in the publisher's list, not first. */
    parse_ok("{\"subscribers\": [], \"touched\": [\"peer\", \"me\"]}", &m);
    assert_int_equal(message_touch(&m, "me"), 1);
    assert_int_equal(touched_count(&m), 2);
    /* A prefix of a listed fingerprint is another fingerprint. */
    assert_int_equal(message_touch(&m, "m"), 0);
    assert_int_equal(touched_count(&m), 3);
    message_free(&m);

    /* A null touched is an empty one. */
    parse_ok("{\"subscribers\": [], \"touched\": null}", &m);
    assert_int_equal(message_touch(&m, "me"), 0);
    assert_int_equal(touched_count(&m), 1);
    assert_string_equal(touched_at(&m, 0), "me");
    message_free(&m);
}

static void test_unique_id(void **state) {
    struct message m;
    parse_ok("{\"type\": \"notification\", \"subscribers\": [\"PHID-USER-a\"]}", &m);
    assert_string_equal(m.unique_id, "");
    assert_int_equal(message_ensure_unique_id(&m), 0);
    assert_int_equal(strlen(m.unique_id), TOKEN_UNIQUE_ID_LEN);
    assert_int_equal(strspn(m.unique_id, "abcdefghijklmnopqrstuvwxyz0123456789"), 32);
    /* The body carries it, so every later hop has the same key. */
    assert_string_equal(field_string(&m, "uniqueID"), m.unique_id);
    char first[sizeof m.unique_id];
    strcpy(first, m.unique_id);
    assert_int_equal(message_ensure_unique_id(&m), 0);
    assert_string_equal(m.unique_id, first);
    assert_string_equal(field_string(&m, "uniqueID"), first);
    message_free(&m);

    /* The publisher's is kept. */
    parse_ok(notification, &m);
    assert_int_equal(message_ensure_unique_id(&m), 0);
    assert_string_equal(m.unique_id, "4f0ab2c1d9e8f7a6b5c4d3e2f1a0b9c8");
    assert_string_equal(field_string(&m, "uniqueID"), "4f0ab2c1d9e8f7a6b5c4d3e2f1a0b9c8");
    message_free(&m);

    /* Two messages without one get different ids. */
    struct message a, b;
    parse_ok("{\"subscribers\": []}", &a);
    parse_ok("{\"subscribers\": []}", &b);
    assert_int_equal(message_ensure_unique_id(&a), 0);
    assert_int_equal(message_ensure_unique_id(&b), 0);
    assert_string_not_equal(a.unique_id, b.unique_id);
    message_free(&a);
    message_free(&b);
}

static void test_text_passes_through(void **state) {
    static const char body[] =
        "{\"type\": \"notification\", \"key\": \"1\", \"subscribers\": [\"PHID-USER-a\"],"
        " \"href\": \"/T1#comment/2\", \"n\": -12, \"f\": 2.5, \"b\": false, \"z\": null,"
        " \"nested\": {\"list\": [1, \"two\", {\"three\": [3]}], \"esc\": \"q\\\"b\\\\n\\u00e9\\u2603\"},"
        " \"uniqueID\": \"u1\"}";
    struct message m;
    parse_ok(body, &m);
    size_t len = 0;
    const char *text = message_text(&m, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "\"href\":\"/T1#comment/2\""));
    assert_null(strstr(text, "\\/"));

    /* Every field as published: the text reads back equal to the body. */
    struct json_object *orig = json_tokener_parse(body);
    struct json_object *back = json_tokener_parse(text);
    assert_non_null(orig);
    assert_non_null(back);
    assert_true(json_object_equal(orig, back));
    json_object_put(back);

    /* After touch, the same plus touched. */
    assert_int_equal(message_touch(&m, "fp"), 0);
    text = message_text(&m, &len);
    back = json_tokener_parse(text);
    assert_non_null(back);
    struct json_object *t;
    assert_true(json_object_object_get_ex(back, "touched", &t));
    assert_int_equal(json_object_array_length(t), 1);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(t, 0)), "fp");
    json_object_object_del(back, "touched");
    assert_true(json_object_equal(orig, back));
    json_object_put(back);
    json_object_put(orig);
    message_free(&m);
}

/* A peer's receipt: the fingerprint of a stock or of this project's node is
 * read; anything else is refused with a reason and leaves fp alone. */
static void receipt_refused(const char *body, size_t len, const char *why) {
    char fp[32] = "unchanged", err[MESSAGE_ERR_MAX] = "";
    int rc = message_parse_receipt(body, len, fp, sizeof fp, err, sizeof err);
    if (rc != -1 || !strstr(err, why)) {
        print_error("receipt %.*s: rc %d, err \"%s\"; wanted -1 and \"%s\"\n", (int)len, body, rc, err, why);
        fail();
    }
    assert_string_equal(fp, "unchanged");
    assert_null(strchr(err, '\n'));
}

#define RECEIPT_REFUSED(lit, why) receipt_refused(lit, sizeof lit - 1, why)

static void test_receipts(void **state) {
    (void)state;
    char fp[32], err[MESSAGE_ERR_MAX];
    const char *ok = "{\"fingerprint\": \"23456789abcdefgh\"}";
    assert_int_equal(message_parse_receipt(ok, strlen(ok), fp, sizeof fp, err, sizeof err), 0);
    assert_string_equal(fp, "23456789abcdefgh");
    /* Other fields (a newer peer's) are ignored. */
    const char *more = "{\"fingerprint\":\"QRSTUVWXYZ234567\",\"version\":8}";
    assert_int_equal(message_parse_receipt(more, strlen(more), fp, sizeof fp, err, sizeof err), 0);
    assert_string_equal(fp, "QRSTUVWXYZ234567");
    /* Only len bytes are read: the rest of the buffer is not the receipt. */
    assert_int_equal(message_parse_receipt(ok, strlen(ok) - 1, fp, sizeof fp, err, sizeof err), -1);

    RECEIPT_REFUSED("", "not JSON");
    RECEIPT_REFUSED("<html>OK</html>", "not JSON");
    RECEIPT_REFUSED("{\"fingerprint\": \"abc\"} x", "not JSON");
    RECEIPT_REFUSED("[\"23456789abcdefgh\"]", "no \"fingerprint\" string");
    RECEIPT_REFUSED("{\"fingerprint\": 42}", "no \"fingerprint\" string");
    RECEIPT_REFUSED("{\"fingerprint\": null}", "no \"fingerprint\" string");
    RECEIPT_REFUSED("{\"fingerprint\": \"\"}", "0 bytes long");
    RECEIPT_REFUSED("{\"fingerprint\": \"0123456789abcdef0123456789abcdef\"}", "32 bytes long");
    RECEIPT_REFUSED("{\"fingerprint\": \"ab\\\"cd\"}", "not printable ASCII, or a quote");
    RECEIPT_REFUSED("{\"fingerprint\": \"ab\\u0000cd\"}", "not printable ASCII, or a quote");
    RECEIPT_REFUSED("{\"fingerprint\": \"ab cd\"}", "not printable ASCII, or a quote");
    RECEIPT_REFUSED("{\"fingerprint\": \"caf\u00e9\"}", "not printable ASCII, or a quote");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phorge_bodies),
        cmocka_unit_test(test_refused_bodies),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_touch),
        cmocka_unit_test(test_unique_id),
        cmocka_unit_test(test_text_passes_through),
        cmocka_unit_test(test_receipts),
    };
    return cmocka_run_group_tests_name("message", tests, NULL, NULL);
}
