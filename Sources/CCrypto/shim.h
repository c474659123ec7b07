#ifndef DSDEPLOY_CCRYPTO_SHIM_H
#define DSDEPLOY_CCRYPTO_SHIM_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/// HMAC-SHA256 of `data` under `key` into `out` (32 bytes). Returns 1 on success.
static inline int dsd_hmac_sha256(const void *key, int key_length, const unsigned char *data, size_t length,
                                  unsigned char *out) {
    unsigned int out_length = 0;
    return HMAC(EVP_sha256(), key, key_length, data, length, out, &out_length) != NULL && out_length == 32;
}

#endif
