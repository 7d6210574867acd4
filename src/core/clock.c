#define _GNU_SOURCE
#include "core/clock.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/b64.h"

static int64_t system_now(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL);
}

/* Small requests (token ids, secrets) are served from a per-thread pool
 * refilled from OpenSSL's DRBG 1 KiB at a time: the DRBG call costs far more
 * than the bytes. Bytes leave the pool once and are wiped from it. */
#define POOL_SIZE 1024
#define POOL_MAX_REQUEST 64

static _Thread_local struct {
    uint8_t bytes[POOL_SIZE];
    size_t used;
    bool filled;
} pool;

static int system_bytes(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    if (n > POOL_MAX_REQUEST)
        return RAND_bytes(out, (int)n) == 1;
    if (!pool.filled || POOL_SIZE - pool.used < n) {
        if (RAND_bytes(pool.bytes, POOL_SIZE) != 1)
            return 0;
        pool.used = 0;
        pool.filled = true;
    }
    memcpy(out, pool.bytes + pool.used, n);
    mdt_wipe(pool.bytes + pool.used, n);
    pool.used += n;
    return 1;
}

const mdt_clock mdt_clock_system = {system_now, NULL};
const mdt_rng mdt_rng_system = {system_bytes, NULL};

mdt_rc mdt_random(const mdt_rng *r, uint8_t *out, size_t n)
{
    return r->bytes(r->ctx, out, n) ? MDT_OK : MDT_ERR_CRYPTO;
}

mdt_rc mdt_random_b64url(const mdt_rng *r, size_t n, char *out)
{
    uint8_t raw[128];
    if (n > sizeof(raw) || mdt_random(r, raw, n) != MDT_OK)
        return MDT_ERR_CRYPTO;
    mdt_b64url_encode(raw, n, out);
    mdt_wipe(raw, n);
    return MDT_OK;
}

double mdt_time_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t mdt_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mdt_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void mdt_time_format(int64_t t, char out[21])
{
    static _Thread_local int64_t last_t = INT64_MIN;
    static _Thread_local char last[21];
    int64_t asked = t;
    struct tm tm;
    time_t tt;

    if (t == last_t) { /* most calls format the second the previous one did */
        memcpy(out, last, 21);
        return;
    }
    /* clamp to years 0000..9999, which is all that fits the format and out[21] */
    if (t < -62167219200)
        t = -62167219200;
    if (t > 253402300799)
        t = 253402300799;
    tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        snprintf(out, 21, "%s", "0000-01-01T00:00:00Z");
    memcpy(last, out, 21);
    last_t = asked;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p))
            return 0;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 1;
}

mdt_rc mdt_time_parse(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, off = 0;
    const char *p = s;

    if (!s || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return MDT_ERR_INVALID_REQUEST;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return MDT_ERR_INVALID_REQUEST;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return MDT_ERR_INVALID_REQUEST;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return MDT_ERR_INVALID_REQUEST;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return MDT_ERR_INVALID_REQUEST;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60)
        return MDT_ERR_INVALID_REQUEST;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = (int64_t)timegm(&tm) - off;
    return MDT_OK;
}

mdt_rc mdt_duration_parse(const char *s, int64_t *out)
{
    char *end;
    long long v;
    int64_t mult = 1;

    if (!s || !isdigit((unsigned char)*s))
        return MDT_ERR_INVALID_REQUEST;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || v < 0)
        return MDT_ERR_INVALID_REQUEST;
    switch (*end) {
    case '\0': break;
    case 's': mult = 1; end++; break;
    case 'm': mult = 60; end++; break;
    case 'h': mult = 3600; end++; break;
    case 'd': mult = 86400; end++; break;
    default: return MDT_ERR_INVALID_REQUEST;
    }
    if (*end || v > INT64_MAX / mult / 1000)
        return MDT_ERR_INVALID_REQUEST;
    *out = (int64_t)v * mult;
    return MDT_OK;
}
