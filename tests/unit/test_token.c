/* test_token.c - lib/token.c: random identifiers (node fingerprints,
 * uniqueIDs) have the asked length, only characters of the alphabet, a
 * terminating NUL, differ from call to call, and are uniform: every
 * character appears, and a chi-square test over many draws would catch the
 * modulo bias of a plain `byte % n`. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "token.h"

static void test_length_alphabet_nul(void **state) {
    char out[TOKEN_UNIQUE_ID_LEN + 8];
    for (int round = 0; round < 100; round++) {
        memset(out, 'X', sizeof out);
        assert_int_equal(token_random(out, TOKEN_FINGERPRINT_LEN, TOKEN_FINGERPRINT_ALPHABET), 0);
        assert_int_equal(out[TOKEN_FINGERPRINT_LEN], '\0');
        assert_int_equal(strlen(out), TOKEN_FINGERPRINT_LEN);
        assert_int_equal(strspn(out, TOKEN_FINGERPRINT_ALPHABET), TOKEN_FINGERPRINT_LEN);
        /* Nothing written past the NUL. */
        assert_int_equal(out[TOKEN_FINGERPRINT_LEN + 1], 'X');

        memset(out, '#', sizeof out);
        assert_int_equal(token_random(out, TOKEN_UNIQUE_ID_LEN, TOKEN_UNIQUE_ID_ALPHABET), 0);
        assert_int_equal(strlen(out), TOKEN_UNIQUE_ID_LEN);
        assert_int_equal(strspn(out, TOKEN_UNIQUE_ID_ALPHABET), TOKEN_UNIQUE_ID_LEN);
        assert_int_equal(out[TOKEN_UNIQUE_ID_LEN + 1], '#');
    }
    /* The fingerprint alphabet has none of the look-alikes. */
    assert_null(strpbrk(TOKEN_FINGERPRINT_ALPHABET, "01iloIO"));
    assert_int_equal(strlen(TOKEN_FINGERPRINT_ALPHABET), 55);

    /* Zero length: just the NUL. */
    out[0] = 'X';
    assert_int_equal(token_random(out, 0, "ab"), 0);
    assert_int_equal(out[0], '\0');

    /* A one-character alphabet, and a length past one 64-byte batch. */
    char many[300];
    assert_int_equal(token_random(many, sizeof many - 1, "z"), 0);
    assert_int_equal(strlen(many), sizeof many - 1);
    assert_int_equal(strspn(many, "z"), sizeof many - 1);
}

static void test_calls_differ(void **state) {
    char a[TOKEN_FINGERPRINT_LEN + 1], b[TOKEN_FINGERPRINT_LEN + 1];
    assert_int_equal(token_random(a, TOKEN_FINGERPRINT_LEN, TOKEN_FINGERPRINT_ALPHABET), 0);
    assert_int_equal(token_random(b, TOKEN_FINGERPRINT_LEN, TOKEN_FINGERPRINT_ALPHABET), 0);
    assert_string_not_equal(a, b);
    char c[TOKEN_UNIQUE_ID_LEN + 1], d[TOKEN_UNIQUE_ID_LEN + 1];
    assert_int_equal(token_random(c, TOKEN_UNIQUE_ID_LEN, TOKEN_UNIQUE_ID_ALPHABET), 0);
    assert_int_equal(token_random(d, TOKEN_UNIQUE_ID_LEN, TOKEN_UNIQUE_ID_ALPHABET), 0);
    assert_string_not_equal(c, d);
}

/* Draws 4000 characters per alphabet character, in `len`-long tokens, and
 * checks that every character appears and that the counts pass a
 * chi-square test at `limit`: 150 for 54 degrees of freedom (55
 * characters) and 120 for 35 (36 characters) are passed by a uniform source
 * but with a probability of failure below 1e-10. The bias of a plain
 * `byte % n` would give about 2200 and 320. */
static void check_uniform(const char *alphabet, size_t len, double limit) {
    size_t n = strlen(alphabet);
    size_t total = n * 4000;
    long counts[256] = { 0 };
    char buf[64];
    size_t drawn = 0;
    while (drawn < total) {
        assert_int_equal(token_random(buf, len, alphabet), 0);
        for (size_t i = 0; i < len; i++) {
            const char *at = strchr(alphabet, buf[i]);
            assert_non_null(at);
            counts[at - alphabet]++;
        }
        drawn += len;
    }
    double expected = (double)drawn / (double)n, chi2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (counts[i] == 0) print_error("'%c' never drawn\n", alphabet[i]);
        assert_true(counts[i] > 0);
        double d = (double)counts[i] - expected;
        chi2 += d * d / expected;
    }
    if (chi2 >= limit) print_error("chi-square %.1f over %zu characters of \"%s\"\n", chi2, n, alphabet);
    assert_true(chi2 < limit);
}

static void test_uniform_fingerprint(void **state) {
    check_uniform(TOKEN_FINGERPRINT_ALPHABET, TOKEN_FINGERPRINT_LEN, 150);
}

static void test_uniform_unique_id(void **state) {
    check_uniform(TOKEN_UNIQUE_ID_ALPHABET, TOKEN_UNIQUE_ID_LEN, 120);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_alphabet_nul),
        cmocka_unit_test(test_calls_differ),
        cmocka_unit_test(test_uniform_fingerprint),
        cmocka_unit_test(test_uniform_unique_id),
    };
    return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
