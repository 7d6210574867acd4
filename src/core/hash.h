/* SHA-256, the one hash every module uses (token and code hashes, key
 * thumbprints, the audit chain). */
#ifndef MDT_CORE_HASH_H
#define MDT_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MDT_SHA256_LEN 32

/* SHA-256 of p[n]. Aborts the process if OpenSSL cannot hash (no provider). */
void mdt_sha256(const void *p, size_t n, uint8_t out[MDT_SHA256_LEN]);

/* OpenSSL's SHA-256, fetched once: for a digest context of the caller's own
 * (EVP_sha256() fetches it again at each EVP_DigestInit). Aborts as above. */
const struct evp_md_st *mdt_sha256_md(void);

#endif
