/* fuzz_command.c - libFuzzer harness for a listener's frame
 * (push/command.h): command_parse, then what server.c does with it
 * (command_phid_count and command_phid over every entry), command_free. */
#include "command.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PHID_MAX 256   /* HUB_PHID_MAX */

static void fail(const char *what) {
    fprintf(stderr, "fuzz_command: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A frame is not NUL-terminated: copy it to a block of exactly its size
     * so that a read past its end is seen. */
    char *frame = malloc(size ? size : 1);
    memcpy(frame, data, size);
    struct command c;
    command_parse(frame, size, &c);
    switch (c.kind) {
    case COMMAND_IGNORED:
        if (!c.why) fail("an ignored frame says why");
        if (command_phid_count(&c) != 0) fail("an ignored frame has no PHIDs");
        break;
    case COMMAND_SUBSCRIBE:
    case COMMAND_UNSUBSCRIBE: {
        if (!c.phids) fail("(un)subscribe without a list");
        size_t n = command_phid_count(&c);
        for (size_t i = 0; i < n; i++) {
            const char *phid = command_phid(&c, i, PHID_MAX);
            if (!phid) continue;
            size_t len = strlen(phid);
            if (len == 0 || len > PHID_MAX) fail("command_phid returned an empty or too long PHID");
        }
        if (command_phid(&c, n, PHID_MAX)) fail("command_phid past the end must be NULL");
        break;
    }
    case COMMAND_REPLAY:
        if (c.age_ms <= 0) fail("a replay age is positive");
        break;
    case COMMAND_PING:
        break;
    default:
        fail("unknown command kind");
    }
    command_free(&c);
    free(frame);
    return 0;
}
