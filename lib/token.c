/* token.c - see token.h. */
#include "token.h"

#include <openssl/rand.h>
#include <string.h>

int token_random(char *out, size_t len, const char *alphabet) {
    size_t n = strlen(alphabet);
    /* Reject bytes past the largest multiple of n, so every character is
     * equally likely. */
    unsigned limit = 256 - (256 % n);
    size_t filled = 0;
    unsigned char buf[64];
    while (filled < len) {
        if (RAND_bytes(buf, sizeof buf) != 1) return -1;
        for (size_t i = 0; i < sizeof buf && filled < len; i++)
            if (buf[i] < limit) out[filled++] = alphabet[buf[i] % n];
    }
    out[len] = '\0';
    return 0;
}
