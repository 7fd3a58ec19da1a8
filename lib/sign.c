/* sign.c - see sign.h. */
#include "sign.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

void sign_body(const char *secret, const char *body, size_t len, char out[SIGN_VALUE_MAX]) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, len, mac, &maclen);
    int o = snprintf(out, SIGN_VALUE_MAX, "sha256=");
    for (unsigned i = 0; i < maclen && o + 3 <= SIGN_VALUE_MAX; i++) o += snprintf(out + o, 3, "%02x", mac[i]);
}

int sign_check(const char *secret, const char *body, size_t len, const char *value) {
    char want[SIGN_VALUE_MAX];
    sign_body(secret, body, len, want);
    size_t n = strlen(want);
    return value && strlen(value) == n && CRYPTO_memcmp(want, value, n) == 0;
}
