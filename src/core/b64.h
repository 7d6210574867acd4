/* base64url without padding (RFC 4648 §5, as JOSE uses it). */
#ifndef MDT_CORE_B64_H
#define MDT_CORE_B64_H

#include <stddef.h>
#include <stdint.h>

#include "core/mdt.h"

static inline size_t mdt_b64url_len(size_t n) { return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0); }
/* Writes mdt_b64url_len(n) characters and a NUL; out must hold that + 1. */
size_t mdt_b64url_encode(const uint8_t *in, size_t n, char *out);
/* Decodes into out, which holds outcap bytes; rejects padding, bad
 * characters and non-canonical trailing bits (MDT_ERR_INVALID_REQUEST), and
 * input that would decode to more than outcap bytes (MDT_ERR_TOO_LARGE,
 * nothing written). n * 3 / 4 bytes always suffice. */
mdt_rc mdt_b64url_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                         size_t *outlen) MDT_WARN_UNUSED;
/* The value of a hexadecimal digit, or -1 (percent-encoding, DN escapes). */
int mdt_hex_value(char c);
/* Lower-case hexadecimal of p[0..n): writes 2 * n characters and a NUL. */
void mdt_hex_encode(const uint8_t *p, size_t n, char *out);
/* Standard base64 with padding, for HTTP Basic. Same contract. */
mdt_rc mdt_b64_decode(const char *in, size_t n, uint8_t *out, size_t outcap,
                      size_t *outlen) MDT_WARN_UNUSED;

#endif
