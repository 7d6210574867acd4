/* Encryption at rest (AES-256-GCM under the master key). SHA-256 is in
 * core/hash.h. */
#ifndef MDT_JOSE_SEAL_H
#define MDT_JOSE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/mdt.h"

#define MDT_MASTER_KEY_LEN 32
#define MDT_SEAL_VERSION 0x01
#define MDT_SEAL_OVERHEAD (1 + 12 + 16)  /* version, nonce, tag */

/* out = 0x01 | 12-byte random nonce | ciphertext | 16-byte tag, malloc'ed
 * (caller frees). aad binds the ciphertext to its context (e.g. the kid). */
mdt_rc mdt_seal(const uint8_t key[MDT_MASTER_KEY_LEN], const uint8_t *aad, size_t aadlen,
                const uint8_t *pt, size_t n, uint8_t **out, size_t *outlen,
                mdt_err *err) MDT_WARN_UNUSED;

/* Reverse; wrong key, aad, version, length or tag -> MDT_ERR_VERIFY. Output
 * malloc'ed: the caller must mdt_wipe then free it. */
mdt_rc mdt_unseal(const uint8_t key[MDT_MASTER_KEY_LEN], const uint8_t *aad, size_t aadlen,
                  const uint8_t *in, size_t n, uint8_t **out, size_t *outlen,
                  mdt_err *err) MDT_WARN_UNUSED;

#endif
