/* token.h - random identifiers: the node fingerprint and message uniqueIDs. */
#ifndef APH_TOKEN_H
#define APH_TOKEN_H

#include <stddef.h>

/* The reference server's fingerprint alphabet (no 0, 1, i, l, o, I, O). */
#define TOKEN_FINGERPRINT_ALPHABET "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
#define TOKEN_FINGERPRINT_LEN 16
/* Phorge's uniqueIDs are 32 characters; ours look the same. */
#define TOKEN_UNIQUE_ID_ALPHABET "abcdefghijklmnopqrstuvwxyz0123456789"
#define TOKEN_UNIQUE_ID_LEN 32

/* Fills out[0..len-1] with characters of `alphabet`, uniformly, from the
 * OpenSSL CSPRNG, and NUL-terminates it (out has len + 1 bytes).
 * Returns 0, or -1 when no randomness could be had. */
int token_random(char *out, size_t len, const char *alphabet);

#endif
