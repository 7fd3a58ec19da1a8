/* test_route.c - lib/route.c: the admin route of a path, with and without a
 * mount prefix (PROTOCOL.md section 2); the instance named by a query
 * string, decoded; and the instance of a WebSocket path (section 3). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "route.h"

static void test_admin_root(void **state) {
    assert_int_equal(route_admin("/", ""), ROUTE_PUBLISH);
    assert_int_equal(route_admin("/", NULL), ROUTE_PUBLISH);
    assert_int_equal(route_admin("/status/", ""), ROUTE_STATUS);
    assert_int_equal(route_admin("/status", ""), ROUTE_NOT_FOUND);
    assert_int_equal(route_admin("/x", ""), ROUTE_NOT_FOUND);
    assert_int_equal(route_admin("", ""), ROUTE_NOT_FOUND);
    assert_int_equal(route_admin("//", ""), ROUTE_NOT_FOUND);
    assert_int_equal(route_admin("/status/x", ""), ROUTE_NOT_FOUND);
}

static void test_admin_prefix(void **state) {
    static const char *prefixes[] = { "/aphlict", "/aphlict/" };
    for (int i = 0; i < 2; i++) {
        const char *p = prefixes[i];
        assert_int_equal(route_admin("/aphlict/", p), ROUTE_PUBLISH);
        assert_int_equal(route_admin("/aphlict/status/", p), ROUTE_STATUS);
        assert_int_equal(route_admin("/aphlict/status", p), ROUTE_NOT_FOUND);
        assert_int_equal(route_admin("/aphlict/x", p), ROUTE_NOT_FOUND);
        assert_int_equal(route_admin("/aphlict", p), ROUTE_NOT_FOUND);
        /* Outside the mount point. */
        assert_int_equal(route_admin("/", p), ROUTE_NOT_FOUND);
        assert_int_equal(route_admin("/status/", p), ROUTE_NOT_FOUND);
        assert_int_equal(route_admin("/other/", p), ROUTE_NOT_FOUND);
        /* A longer name sharing the prefix's first characters. */
        assert_int_equal(route_admin("/aphlictx/", p), ROUTE_NOT_FOUND);
        assert_int_equal(route_admin("", p), ROUTE_NOT_FOUND);
    }
}

/* route_query_instance must answer rc and, when 0, the name `want`. */
/* The buffer is larger than a name can be, so that ROUTE_INSTANCE_MAX, not
 * the buffer, is what limits it. */
static void query_is(const char *query, int rc, const char *want) {
    char out[4 * ROUTE_INSTANCE_MAX];
    memset(out, 'Q', sizeof out);
    int got = route_query_instance(query, out, sizeof out);
    if (got != rc || (rc == 0 && strcmp(out, want) != 0)) {
        print_error("query \"%s\": rc %d, instance \"%.*s\"; wanted rc %d, \"%s\"\n", query ? query : "(null)",
                    got, (int)sizeof out, out, rc, want ? want : "");
        fail();
    }
}

static void test_query_instance(void **state) {
    query_is(NULL, 0, "default");
    query_is("", 0, "default");
    query_is("instance=", 0, "default");
    query_is("a=1&instance=&b=2", 0, "default");
    query_is("instance=acme", 0, "acme");
    query_is("a=1&instance=x%20y&b", 0, "x y");
    query_is("instance=x+y", 0, "x y");
    query_is("instance=%41%62%2f", 0, "Ab/");
    query_is("instance=a&instance=b", 0, "a");
    /* Not the instance parameter. */
    query_is("xinstance=a", 0, "default");
    query_is("instance", 0, "default");
    query_is("instances=a", 0, "default");
    /* Bad escapes and NUL. */
    query_is("instance=%zz", -1, NULL);
    query_is("instance=a%2", -1, NULL);
    query_is("instance=a%", -1, NULL);
    query_is("instance=%2&b=1", -1, NULL);
    query_is("instance=%00", -1, NULL);
    query_is("instance=a%00b", -1, NULL);
}

static void test_query_instance_length(void **state) {
    char query[512], want[ROUTE_INSTANCE_MAX + 2];
    memset(want, 'n', ROUTE_INSTANCE_MAX);
    want[ROUTE_INSTANCE_MAX] = '\0';
    snprintf(query, sizeof query, "instance=%s", want);
    query_is(query, 0, want);
    snprintf(query, sizeof query, "instance=%sn", want);
    query_is(query, -1, NULL);
    /* The limit is on the decoded name: 128 escapes are 128 bytes. */
    char *q = query + snprintf(query, sizeof query, "instance=");
    for (int i = 0; i < ROUTE_INSTANCE_MAX; i++) q += sprintf(q, "%%41");
    memset(want, 'A', ROUTE_INSTANCE_MAX);
    query_is(query, 0, want);

    /* A buffer of exactly ROUTE_INSTANCE_MAX + 1 bytes holds the longest. */
    char exact[ROUTE_INSTANCE_MAX + 1];
    snprintf(query, sizeof query, "instance=%s", want);
    assert_int_equal(route_query_instance(query, exact, sizeof exact), 0);
    assert_string_equal(exact, want);
    char path[ROUTE_INSTANCE_MAX + 8];
    snprintf(path, sizeof path, "/~%s", want);
    assert_int_equal(route_client_instance(path, exact, sizeof exact), 0);
    assert_string_equal(exact, want);

    /* A buffer smaller than the name is not overrun. */
    char small[8] = "";
    assert_int_equal(route_query_instance("instance=abcdefgh", small, sizeof small), -1);
    assert_int_equal(route_query_instance("instance=abcdefg", small, sizeof small), 0);
    assert_string_equal(small, "abcdefg");
}

/* route_client_instance must answer rc and, when 0, the name `want`. */
static void client_is(const char *path, int rc, const char *want) {
    char out[4 * ROUTE_INSTANCE_MAX];
    memset(out, 'Q', sizeof out);
    int got = route_client_instance(path, out, sizeof out);
    if (got != rc || (rc == 0 && strcmp(out, want) != 0)) {
        print_error("path \"%s\": rc %d, instance \"%.*s\"; wanted rc %d, \"%s\"\n", path, got,
                    (int)sizeof out, out, rc, want ? want : "");
        fail();
    }
}

static void test_client_instance(void **state) {
    client_is("/", 0, "default");
    client_is("", 0, "default");
    client_is("/ws/", 0, "default");
    client_is("/ws/~acme/", 0, "acme");
    client_is("/~acme", 0, "acme");
    client_is("/~a/b/c", 0, "abc");
    client_is("/~/", 0, "default");
    client_is("/~", 0, "default");
    client_is("/~acme?x=1", 0, "acme");
    client_is("/~acme/?instance=other", 0, "acme");
    client_is("/x~a~b", 0, "a");
    /* A '~' only in the query string does not count. */
    client_is("/ws/?x=~acme", 0, "default");
}

static void test_client_instance_length(void **state) {
    char path[512], want[ROUTE_INSTANCE_MAX + 1];
    memset(want, 'c', ROUTE_INSTANCE_MAX);
    want[ROUTE_INSTANCE_MAX] = '\0';
    snprintf(path, sizeof path, "/ws/~%s/", want);
    client_is(path, 0, want);
    snprintf(path, sizeof path, "/ws/~%sc/", want);
    client_is(path, -1, NULL);
    /* Slashes are removed before the length counts. */
    snprintf(path, sizeof path, "/~%.64s/////%.64s/", want, want);
    client_is(path, 0, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_root),
        cmocka_unit_test(test_admin_prefix),
        cmocka_unit_test(test_query_instance),
        cmocka_unit_test(test_query_instance_length),
        cmocka_unit_test(test_client_instance),
        cmocka_unit_test(test_client_instance_length),
    };
    return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
