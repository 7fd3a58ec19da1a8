/* fuzz_receipt.c - libFuzzer harness for a peer's receipt, the body of its
 * 200 answer to a relayed message (message_parse_receipt in lib/message.h),
 * with the properties the relay relies on checked:
 *   - a refused receipt has a one-line reason and leaves fp untouched;
 *   - an accepted fingerprint fits its buffer, is non-empty printable
 *     ASCII without a quote or backslash (it is searched for as "FP" in
 *     JSON text and written to the log);
 *   - nothing past len is read (the input is copied to a buffer of exactly
 *     len bytes, so ASan sees an overread). */
#include "message.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(const char *what) {
    fprintf(stderr, "fuzz_receipt: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *body = malloc(size ? size : 1);
    if (!body) return 0;
    memcpy(body, data, size);
    char fp[32], err[MESSAGE_ERR_MAX];
    memset(fp, 'U', sizeof fp);
    if (message_parse_receipt(body, size, fp, sizeof fp, err, sizeof err) < 0) {
        if (!err[0] || strchr(err, '\n')) fail("a refused receipt must have a one-line reason");
        for (size_t i = 0; i < sizeof fp; i++)
            if (fp[i] != 'U') fail("a refused receipt must leave fp untouched");
    } else {
        size_t n = strnlen(fp, sizeof fp);
        if (n == 0 || n >= sizeof fp) fail("an accepted fingerprint is 1 to 31 bytes, NUL-terminated");
        for (size_t i = 0; i < n; i++)
            if (fp[i] <= ' ' || fp[i] >= 127 || fp[i] == '"' || fp[i] == '\\')
                fail("an accepted fingerprint is printable ASCII without a quote or backslash");
    }
    free(body);
    return 0;
}
