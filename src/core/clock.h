/* Injected time and randomness, so that expiry, rotation and replay logic
 * can be tested with an advanceable clock and a seeded generator. */
#ifndef MDT_CORE_CLOCK_H
#define MDT_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/mdt.h"

typedef struct {
    int64_t (*now)(void *ctx); /* seconds since the epoch */
    void *ctx;
} mdt_clock;

typedef struct {
    int (*bytes)(void *ctx, uint8_t *out, size_t n); /* 1 on success */
    void *ctx;
} mdt_rng;

extern const mdt_clock mdt_clock_system;
extern const mdt_rng mdt_rng_system; /* OpenSSL RAND_bytes */

static inline int64_t mdt_now(const mdt_clock *c) { return c->now(c->ctx); }
mdt_rc mdt_random(const mdt_rng *r, uint8_t *out, size_t n) MDT_WARN_UNUSED;
/* n random bytes as base64url (out must hold mdt_b64url_len(n)+1). */
mdt_rc mdt_random_b64url(const mdt_rng *r, size_t n, char *out) MDT_WARN_UNUSED;

/* Wall-clock time with sub-second precision, for logs and latencies. */
double mdt_time_real(void);
/* Monotonic milliseconds. */
int64_t mdt_time_mono_ms(void);
/* Monotonic microseconds. */
int64_t mdt_time_mono_us(void);

/* RFC 3339 in UTC ("2026-11-29T13:16:38Z"); out must hold 21 bytes. */
void mdt_time_format(int64_t t, char out[21]);
/* Accepts RFC 3339 with Z or an offset, fractional seconds ignored. */
mdt_rc mdt_time_parse(const char *s, int64_t *out) MDT_WARN_UNUSED;
/* "90s", "15m", "8h", "30d", "0" -> seconds. Bare digits are seconds. */
mdt_rc mdt_duration_parse(const char *s, int64_t *out) MDT_WARN_UNUSED;

#endif
