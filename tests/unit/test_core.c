#include "unit.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>

#include "core/arena.h"
#include "core/b64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/words.h"

/* ---- base64url ------------------------------------------------------------------------- */

static const struct {
    const char *raw;
    const char *b64url; /* RFC 4648 §10 vectors, padding removed */
    const char *b64;    /* with padding */
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg", "Zg=="},
    {"fo", "Zm8", "Zm8="},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg", "Zm9vYg=="},
    {"fooba", "Zm9vYmE", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_b64url_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(rfc4648); i++) {
        const char *raw = rfc4648[i].raw;
        size_t n = strlen(raw), outlen = 99;
        char enc[16];
        uint8_t dec[16];

        assert_int_equal(mdt_b64url_len(n), strlen(rfc4648[i].b64url));
        assert_int_equal(mdt_b64url_encode((const uint8_t *)raw, n, enc), strlen(rfc4648[i].b64url));
        assert_string_equal(enc, rfc4648[i].b64url);
        assert_int_equal(mdt_b64url_decode(enc, strlen(enc), dec, sizeof(dec), &outlen), MDT_OK);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, raw, n);

        outlen = 99;
        assert_int_equal(mdt_b64_decode(rfc4648[i].b64, strlen(rfc4648[i].b64), dec, sizeof(dec), &outlen),
                         MDT_OK);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, raw, n);
    }
}

static void test_b64url_alphabet(void **state)
{
    static const uint8_t dashes[] = {0xfb, 0xef, 0xbe};     /* 62 62 62 62 */
    static const uint8_t unders[] = {0xff, 0xff, 0xff};     /* 63 63 63 63 */
    static const uint8_t mixed[] = {0xfb, 0xff};             /* "-_8" / "+/8=" */
    char enc[8];
    uint8_t dec[8];
    size_t outlen;
    (void)state;

    mdt_b64url_encode(dashes, 3, enc);
    assert_string_equal(enc, "----");
    mdt_b64url_encode(unders, 3, enc);
    assert_string_equal(enc, "____");
    mdt_b64url_encode(mixed, 2, enc);
    assert_string_equal(enc, "-_8");
    assert_int_equal(mdt_b64url_decode("-_8", 3, dec, sizeof(dec), &outlen), MDT_OK);
    assert_int_equal(outlen, 2);
    assert_memory_equal(dec, mixed, 2);
    /* the standard alphabet decodes "+/" and refuses "-_" */
    assert_int_equal(mdt_b64_decode("+/8=", 4, dec, sizeof(dec), &outlen), MDT_OK);
    assert_int_equal(outlen, 2);
    assert_memory_equal(dec, mixed, 2);
    assert_int_equal(mdt_b64_decode("-_8=", 4, dec, sizeof(dec), &outlen), MDT_ERR_INVALID_REQUEST);
    /* every byte value survives a round trip */
    {
        uint8_t all[256], back[256];
        char text[344];
        for (int i = 0; i < 256; i++)
            all[i] = (uint8_t)i;
        mdt_b64url_encode(all, sizeof(all), text);
        assert_int_equal(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_"),
                         strlen(text));
        assert_int_equal(mdt_b64url_decode(text, strlen(text), back, sizeof(back), &outlen), MDT_OK);
        assert_int_equal(outlen, 256);
        assert_memory_equal(all, back, 256);
    }
}

static void test_b64url_rejects(void **state)
{
    static const char *const bad[] = {
        "Zg==",      /* padding */
        "Zm8=",      /* padding */
        "Zm+v",      /* standard-alphabet character */
        "Zm/v",      /* standard-alphabet character */
        "Zm9v Yg",   /* space */
        "Zm9v\nYg",  /* newline */
        "Zh",        /* non-canonical: trailing bits set ("Zg" is canonical) */
        "Zm9",       /* non-canonical: "Zm8" is canonical */
        "Z",         /* length % 4 == 1 */
        "Zm9vY",     /* length % 4 == 1 */
        "Zm9v=",     /* length % 4 == 1 with padding */
        "Zm\x80v",   /* high byte */
    };
    uint8_t dec[16];
    size_t outlen;
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        if (mdt_b64url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &outlen) != MDT_ERR_INVALID_REQUEST)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* an embedded NUL counts as a bad character */
    assert_int_equal(mdt_b64url_decode("Zm\0v", 4, dec, sizeof(dec), &outlen), MDT_ERR_INVALID_REQUEST);
    /* the output capacity is a hard bound: one byte short is refused, nothing written */
    dec[0] = 0x5a;
    assert_int_equal(mdt_b64url_decode("Zm9v", 4, dec, 2, &outlen), MDT_ERR_TOO_LARGE);
    assert_int_equal(dec[0], 0x5a);
    assert_int_equal(mdt_b64url_decode("Zm8", 3, dec, 1, &outlen), MDT_ERR_TOO_LARGE);
    assert_int_equal(mdt_b64url_decode("Zm8", 3, dec, 2, &outlen), MDT_OK);
    assert_int_equal(outlen, 2);
}

static void test_b64_std(void **state)
{
    static const char *const bad[] = {
        "Zm9vYg",    /* padding missing */
        "Zm9vYg=",   /* short padding */
        "Zh==",      /* non-canonical */
        "Zm9=",      /* non-canonical */
        "Z===",      /* too much padding */
        "====",      /* only padding */
        "Zm=v",      /* padding inside */
        "Zm9vYg==Zm9v", /* padding inside */
        "Zm9v\r\n",  /* line breaks */
    };
    uint8_t dec[32]; /* room for n * 3 / 4 */
    size_t outlen;
    (void)state;

    /* HTTP Basic: "Aladdin:open sesame" (RFC 7617 example) */
    assert_int_equal(mdt_b64_decode("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 28, dec, sizeof(dec), &outlen), MDT_OK);
    assert_int_equal(outlen, 19);
    assert_memory_equal(dec, "Aladdin:open sesame", 19);
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        if (mdt_b64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec), &outlen) != MDT_ERR_INVALID_REQUEST)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

/* ---- durations and time ---------------------------------------------------------------- */

static void test_hex(void **state)
{
    static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(in) + 1];

    (void)state;
    memset(out, 'x', sizeof(out));
    mdt_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    mdt_hex_encode(in, 0, out);
    assert_string_equal(out, "");
    for (int i = 0; i < 16; i++)
        assert_int_equal(mdt_hex_value("0123456789abcdef"[i]), i);
    assert_int_equal(mdt_hex_value('A'), 10);
    assert_int_equal(mdt_hex_value('g'), -1);
}

static void test_words(void **state)
{
    static const char *const want[] = {"read", "write", "profile"};
    size_t n = 0, k;
    const char **split;
    mdt_arena a;

    (void)state;
    for (mdt_words w = mdt_words_of("  read  write profile "); mdt_words_next(&w); n++) {
        assert_true(n < 3);
        assert_true(mdt_words_is(&w, want[n]));
    }
    assert_int_equal(n, 3);
    n = 0;
    for (mdt_words w = mdt_words_of(NULL); mdt_words_next(&w);)
        n++;
    assert_int_equal(n, 0);
    assert_true(mdt_words_has("openid  offline_access", "offline_access"));
    assert_false(mdt_words_has("openid offline_access", "offline"));
    assert_false(mdt_words_has("openid", ""));
    assert_false(mdt_words_has(NULL, "openid"));
    assert_false(mdt_words_has("openid", NULL));
    mdt_arena_init(&a, 256);
    split = mdt_words_split(&a, " a  bb c ", &k);
    assert_non_null(split);
    assert_int_equal(k, 3);
    assert_string_equal(split[0], "a");
    assert_string_equal(split[1], "bb");
    assert_string_equal(split[2], "c");
    assert_null(split[3]);
    split = mdt_words_split(&a, "", &k);
    assert_non_null(split);
    assert_int_equal(k, 0);
    mdt_arena_free(&a);
}

static void test_duration(void **state)
{
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {
        {"90s", 90}, {"15m", 900}, {"8h", 28800}, {"30d", 2592000}, {"0", 0}, {"12", 12},
        {"0s", 0},   {"1d", 86400},
    };
    static const char *const bad[] = {
        "", "5x", "-1", "1.5h", "+5", " 5", "5 ", "5s5", "s", "1hh", "1H",
        "99999999999999999999",           /* strtoll overflow */
        "9223372036854775807",            /* too close to INT64_MAX */
        "999999999999999d",               /* overflows once multiplied */
    };
    int64_t v;
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(good); i++) {
        v = -1;
        assert_int_equal(mdt_duration_parse(good[i].s, &v), MDT_OK);
        assert_int_equal(v, good[i].v);
    }
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        v = 42;
        if (mdt_duration_parse(bad[i], &v) == MDT_OK)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(v, 42); /* untouched on error */
    }
    assert_int_not_equal(mdt_duration_parse(NULL, &v), MDT_OK);
}

static void test_time(void **state)
{
    static const struct {
        const char *s;
        int64_t t;
    } good[] = {
        {"2026-11-29T13:16:38Z", 1795958198},
        {"2026-11-29T14:16:38+01:00", 1795958198},
        {"2026-11-29T08:46:38.123456-04:30", 1795958198},
        {"2026-11-29t13:16:38.9z", 1795958198},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59Z", -1},
        {"2024-02-29T00:00:00Z", 1709164800},
        {"2000-02-29T12:00:00Z", 951825600},
    };
    static const char *const bad[] = {
        "",
        "2026-11-29",
        "2026-11-29T13:16:38",         /* no offset */
        "2026-11-29T13:16Z",
        "2026-1-29T13:16:38Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-31T00:00:00Z",        /* November has 30 days */
        "2023-02-29T00:00:00Z",        /* not a leap year */
        "1900-02-29T00:00:00Z",        /* not a leap year */
        "2026-11-29T24:00:00Z",
        "2026-11-29T13:60:00Z",
        "2026-11-29T13:16:38.Z",       /* empty fraction */
        "2026-11-29T13:16:38+0100",    /* offset without colon */
        "2026-11-29T13:16:38+24:00",
        "2026-11-29T13:16:38Zjunk",
        "2026-11-29X13:16:38Z",
        "2026/11/29T13:16:38Z",
    };
    char out[21];
    int64_t t;
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(good); i++) {
        if (mdt_time_parse(good[i].s, &t) != MDT_OK)
            fail_msg("refused \"%s\"", good[i].s);
        assert_int_equal(t, good[i].t);
    }
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        if (mdt_time_parse(bad[i], &t) == MDT_OK)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_not_equal(mdt_time_parse(NULL, &t), MDT_OK);

    mdt_time_format(1795958198, out);
    assert_string_equal(out, "2026-11-29T13:16:38Z");
    mdt_time_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    /* round trips, including before the epoch */
    for (int64_t x = -86400 * 400; x < (int64_t)86400 * 365 * 100; x += 86400 * 37 + 3623) {
        assert_int_equal(mdt_time_parse((mdt_time_format(x, out), out), &t), MDT_OK);
        assert_int_equal(t, x);
    }
    /* out of range: clamped, always a terminated 20-character string */
    memset(out, 'x', sizeof(out));
    mdt_time_format(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    memset(out, 'x', sizeof(out));
    mdt_time_format(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00Z");
}

static int fixed_bytes(void *ctx, uint8_t *out, size_t n)
{
    memset(out, *(const int *)ctx, n);
    return 1;
}

static int failing_bytes(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    (void)out;
    (void)n;
    return 0;
}

static void test_random(void **state)
{
    int fill = 0xff;
    const mdt_rng rng = {fixed_bytes, &fill};
    const mdt_rng broken = {failing_bytes, NULL};
    char out[64];
    uint8_t raw[4];
    (void)state;

    assert_int_equal(mdt_random_b64url(&rng, 3, out), MDT_OK);
    assert_string_equal(out, "____");
    assert_int_equal(mdt_random_b64url(&broken, 3, out), MDT_ERR_CRYPTO);
    assert_int_equal(mdt_random_b64url(&rng, 129, out), MDT_ERR_CRYPTO); /* over its limit */
    assert_int_equal(mdt_random(&broken, raw, sizeof(raw)), MDT_ERR_CRYPTO);
    assert_int_equal(mdt_random(&mdt_rng_system, raw, sizeof(raw)), MDT_OK);
}

/* ---- buffers --------------------------------------------------------------------------- */

/* addf formats once into the spare room when the text fits, and again after
 * growing when it does not; a failure leaves the content as it was. */
static void test_buf_addf_room(void **state)
{
    mdt_buf b;
    char big[300];
    (void)state;

    mdt_buf_init(&b, 0);
    assert_int_equal(mdt_buf_addf(&b, "%s=%d", "a", 1), MDT_OK); /* first allocation */
    assert_string_equal(b.data, "a=1");
    assert_int_equal(mdt_buf_addf(&b, ",%s", "bc"), MDT_OK);     /* fits the room */
    assert_string_equal(b.data, "a=1,bc");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_true(b.cap - b.len < sizeof(big));
    assert_int_equal(mdt_buf_addf(&b, "[%s]", big), MDT_OK);     /* past it: grows */
    assert_int_equal(b.len, 6 + 2 + sizeof(big) - 1);
    assert_int_equal(strlen(b.data), b.len);
    assert_memory_equal(b.data, "a=1,bc[xx", 9);
    assert_int_equal(b.data[b.len - 1], ']');
    mdt_buf_free(&b);

    /* the text overruns the room and the cap: nothing of it stays */
    mdt_buf_init(&b, 12);
    assert_int_equal(mdt_buf_adds(&b, "0123456789"), MDT_OK);
    assert_int_equal(mdt_buf_addf(&b, "%s", "abcdef"), MDT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789");
    assert_int_equal(mdt_buf_addf(&b, "%d", 12), MDT_OK);        /* exactly up to max */
    assert_string_equal(b.data, "012345678912");
    mdt_buf_free(&b);
}

static void test_buf_i64_reserve(void **state)
{
    static const long long v[] = {0, 7, -1, 10, -10, 1234567890123LL, LLONG_MAX, LLONG_MIN};
    mdt_buf b;
    char want[32];
    char *data;
    (void)state;

    mdt_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        mdt_buf_reset(&b);
        assert_int_equal(mdt_buf_add_i64(&b, v[i]), MDT_OK);
        snprintf(want, sizeof(want), "%lld", v[i]);
        assert_string_equal(b.data, want);
    }
    mdt_buf_free(&b);

    mdt_buf_init(&b, 2048);
    assert_int_equal(mdt_buf_reserve(&b, 1024), MDT_OK);
    assert_true(b.cap >= 1025);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    data = b.data;
    for (int i = 0; i < 100; i++)
        assert_int_equal(mdt_buf_adds(&b, "0123456789"), MDT_OK);
    assert_ptr_equal(b.data, data); /* no reallocation within the reserve */
    assert_int_equal(mdt_buf_reserve(&b, 2048), MDT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 1000);
    mdt_buf_free(&b);

    mdt_buf_init(&b, 10);
    assert_int_equal(mdt_buf_add_i64(&b, LLONG_MIN), MDT_ERR_TOO_LARGE); /* 20 > 10 */
    assert_int_equal(b.len, 0);
    mdt_buf_free(&b);
}

static void test_buf_cap(void **state)
{
    mdt_buf b;
    (void)state;

    mdt_buf_init(&b, 10);
    assert_int_equal(mdt_buf_adds(&b, "0123456789"), MDT_OK);
    assert_int_equal(b.len, 10);
    assert_int_equal(mdt_buf_add(&b, "x", 1), MDT_ERR_TOO_LARGE);
    assert_int_equal(mdt_buf_addf(&b, "%d", 7), MDT_ERR_TOO_LARGE);
    assert_int_equal(mdt_buf_add_json_str(&b, ""), MDT_ERR_TOO_LARGE);
    assert_int_equal(mdt_buf_add(&b, "x", SIZE_MAX), MDT_ERR_TOO_LARGE); /* no wrap-around */
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "0123456789"); /* nothing appended on failure */
    assert_int_equal(mdt_buf_add(&b, "", 0), MDT_OK);

    mdt_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(mdt_buf_adds(&b, "ab"), MDT_OK);
    /* JSON string that does not fit (2 + 9 > 10): all or nothing */
    assert_int_equal(mdt_buf_add_json_str(&b, "abcdefg"), MDT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    assert_int_equal(mdt_buf_addf(&b, "%s-%d", "xy", 42), MDT_OK);
    assert_string_equal(b.data, "abxy-42");
    mdt_buf_free(&b);
    assert_null(b.data);

    /* growth past the first allocation, and take */
    mdt_buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(mdt_buf_adds(&b, "0123456789"), MDT_OK);
    assert_int_equal(b.len, 10000);
    assert_int_equal(strlen(b.data), 10000);
    {
        char *s = mdt_buf_take(&b);
        assert_int_equal(strlen(s), 10000);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        free(s);
    }
    {
        char *s = mdt_buf_take(&b); /* empty buffer: an empty string, not NULL */
        assert_string_equal(s, "");
        free(s);
    }
    mdt_buf_free_wipe(&b);
}

static void test_buf_json(void **state)
{
    static const char in[] = "say \"hi\"\\ now\n\t\r\x01\x1f\x7f caf\xc3\xa9 </script>";
    mdt_buf b;
    json_t *j;
    json_error_t jerr;
    (void)state;

    mdt_buf_init(&b, 0);
    assert_int_equal(mdt_buf_add_json_str(&b, in), MDT_OK);
    assert_string_equal(b.data, "\"say \\\"hi\\\"\\\\ now\\u000a\\u0009\\u000d\\u0001\\u001f"
                                "\x7f caf\xc3\xa9 </script>\"");
    /* a real JSON parser reads back the same string */
    j = json_loads(b.data, JSON_DECODE_ANY, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(j), in);
    json_decref(j);

    mdt_buf_reset(&b);
    assert_int_equal(mdt_buf_add_json_str(&b, ""), MDT_OK);
    assert_string_equal(b.data, "\"\"");
    mdt_buf_free(&b);
}

/* ---- arena ----------------------------------------------------------------------------- */

static void test_arena(void **state)
{
    mdt_arena a;
    char *s, *p;
    unsigned char *big, *z;
    (void)state;

    mdt_arena_init(&a, 256);
    for (int i = 1; i < 200; i += 7) {
        z = mdt_arena_alloc(&a, (size_t)i);
        assert_non_null(z);
        assert_int_equal((uintptr_t)z % 16, 0);
        for (int k = 0; k < i; k++)
            assert_int_equal(z[k], 0);
        memset(z, 0xaa, (size_t)i);
    }
    s = mdt_arena_strdup(&a, "hello");
    assert_string_equal(s, "hello");
    assert_null(mdt_arena_strdup(&a, NULL));
    assert_string_equal(mdt_arena_strndup(&a, "hello", 3), "hel");
    assert_string_equal(mdt_arena_strndup(&a, "ab", 10), "ab"); /* stops at the NUL */
    p = mdt_arena_printf(&a, "%s=%d;%c", "n", -12, 'x');
    assert_string_equal(p, "n=-12;x");
    /* larger than a chunk, then small ones still work */
    big = mdt_arena_alloc(&a, 10000);
    assert_non_null(big);
    assert_int_equal(big[9999], 0);
    memset(big, 1, 10000);
    s = mdt_arena_strdup(&a, "after");
    assert_string_equal(s, "after");
    assert_string_equal(p, "n=-12;x"); /* earlier allocations are intact */
    assert_null(mdt_arena_alloc(&a, SIZE_MAX));
    assert_null(mdt_arena_alloc(&a, SIZE_MAX - 40));

    mdt_arena_reset(&a);
    z = mdt_arena_alloc(&a, 64);
    assert_non_null(z);
    for (int k = 0; k < 64; k++)
        assert_int_equal(z[k], 0); /* reused memory is zeroed again */
    assert_string_equal(mdt_arena_printf(&a, "%05d", 42), "00042");
    mdt_arena_free(&a);
    assert_null(a.head);
    mdt_arena_free(&a); /* twice is harmless */

    /* first allocation bigger than a chunk */
    mdt_arena_init(&a, 0);
    assert_non_null(mdt_arena_alloc(&a, 100000));
    assert_non_null(mdt_arena_strdup(&a, "x"));
    mdt_arena_reset(&a);
    assert_non_null(mdt_arena_strdup(&a, "y"));
    mdt_arena_free(&a);
}

/* ---- errors and helpers ---------------------------------------------------------------- */

static void test_ct_eq(void **state)
{
    (void)state;
    assert_true(mdt_ct_eq("abc", 3, "abc", 3));
    assert_false(mdt_ct_eq("abc", 3, "abd", 3));
    assert_false(mdt_ct_eq("abc", 3, "abcd", 4));
    assert_false(mdt_ct_eq("abcd", 4, "abc", 3));
    assert_false(mdt_ct_eq("", 0, "a", 1));
    assert_true(mdt_ct_eq("ab", 2, "abX", 2)); /* only the given lengths count */
    assert_true(mdt_ct_eq("", 0, "", 0));
    assert_true(mdt_str_eq(NULL, NULL));
    assert_false(mdt_str_eq("a", NULL));
    assert_false(mdt_str_eq(NULL, "a"));
    assert_true(mdt_str_eq("a", "a"));
    assert_false(mdt_str_eq("a", "b"));
}

static void test_rc_table(void **state)
{
    static const struct {
        mdt_rc rc;
        const char *name;
        int status;
    } want[] = {
        {MDT_OK, "ok", 200},
        {MDT_ERR_INVALID_REQUEST, "invalid_request", 400},
        {MDT_ERR_INVALID_CLIENT, "invalid_client", 401},
        {MDT_ERR_INVALID_GRANT, "invalid_grant", 400},
        {MDT_ERR_INVALID_TOKEN, "invalid_token", 401},
        {MDT_ERR_ACCESS_DENIED, "access_denied", 403},
        {MDT_ERR_NOT_FOUND, "not_found", 404},
        {MDT_ERR_METHOD, "invalid_request", 405},
        {MDT_ERR_TOO_LARGE, "invalid_request", 413},
        {MDT_ERR_UNSUPPORTED_MEDIA, "invalid_request", 415},
        {MDT_ERR_NOMEM, "server_error", 500},
        {MDT_ERR_STORE, "server_error", 500},
        {MDT_ERR_UNAVAILABLE, "temporarily_unavailable", 503},
        {(mdt_rc)999, "server_error", 500},
        {(mdt_rc)-1, "server_error", 500},
    };
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(want); i++) {
        assert_string_equal(mdt_rc_name(want[i].rc), want[i].name);
        assert_int_equal(mdt_rc_http_status(want[i].rc), want[i].status);
    }
    for (int rc = 0; rc < MDT_RC_COUNT; rc++) {
        int st = mdt_rc_http_status((mdt_rc)rc);
        if (!mdt_rc_name((mdt_rc)rc) || st < 200 || st > 599)
            fail_msg("rc %d has no table row", rc);
        /* server faults never look like the client's fault */
        if (mdt_rc_is_server_fault((mdt_rc)rc) && st < 500)
            fail_msg("server fault %d maps to %d", rc, st);
    }
    assert_false(mdt_rc_is_server_fault(MDT_ERR_INVALID_CLIENT));
    assert_true(mdt_rc_is_server_fault(MDT_ERR_NOMEM));
}

static void test_err(void **state)
{
    mdt_err err = {0};
    char longer[400];
    (void)state;

    assert_int_equal(mdt_fail(NULL, MDT_ERR_STORE, "x"), MDT_ERR_STORE);
    assert_int_equal(mdt_failf(NULL, MDT_ERR_STORE, "x", "%d", 1), MDT_ERR_STORE);
    assert_string_equal(mdt_err_text(&err), "ok");
    assert_int_equal(mdt_fail(&err, MDT_ERR_INVALID_GRANT, "code expired"), MDT_ERR_INVALID_GRANT);
    assert_int_equal(err.rc, MDT_ERR_INVALID_GRANT);
    assert_string_equal(mdt_err_text(&err), "code expired");
    assert_int_equal(mdt_failf(&err, MDT_ERR_STORE, "storage failed", "sqlite: %s (%d)", "busy", 5),
                     MDT_ERR_STORE);
    assert_string_equal(err.msg, "storage failed");
    assert_string_equal(mdt_err_text(&err), "sqlite: busy (5)");
    /* detail is truncated, never overflowed */
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    mdt_failf(&err, MDT_ERR_INTERNAL, "internal", "%s", longer);
    assert_int_equal(strlen(err.detail), sizeof(err.detail) - 1);
    mdt_fail(&err, MDT_ERR_NOMEM, NULL);
    assert_string_equal(mdt_err_text(&err), "server_error");
    mdt_err_clear(&err);
    assert_int_equal(err.rc, MDT_OK);
    assert_null(err.msg);
    assert_string_equal(err.detail, "");
    assert_string_equal(mdt_err_text(NULL), "error");
}

/* What a client and the audit log may see of an error, and the fault text
 * the logs get: a server fault's detail never reaches the first two. */
static void test_err_public(void **state)
{
    mdt_err err = {0};
    char fault[64];
    (void)state;

    mdt_failf(&err, MDT_ERR_INVALID_GRANT, "code expired", "code %s used twice", "abc");
    assert_string_equal(mdt_err_public_text(&err), "code expired");
    assert_string_equal(mdt_err_audit_text(&err), "code abc used twice");
    mdt_err_fault_text(&err, fault, sizeof(fault));
    assert_string_equal(fault, "");
    mdt_fail(&err, MDT_ERR_INVALID_REQUEST, NULL);
    assert_null(mdt_err_public_text(&err));

    mdt_failf(&err, MDT_ERR_UNAVAILABLE, "database busy", "token_insert: database is locked");
    assert_string_equal(mdt_err_public_text(&err), "the service is temporarily unavailable");
    assert_string_equal(mdt_err_audit_text(&err), "the service is temporarily unavailable");
    mdt_err_fault_text(&err, fault, sizeof(fault));
    assert_string_equal(fault, "unavailable: token_insert: database is locked");

    mdt_failf(&err, MDT_ERR_STORE, "storage failed", "sqlite: disk I/O error");
    assert_string_equal(mdt_err_public_text(&err), "internal error");
    assert_string_equal(mdt_err_audit_text(&err), "internal error");
    mdt_err_fault_text(&err, fault, sizeof(fault));
    assert_string_equal(fault, "store: sqlite: disk I/O error");

    const struct {
        mdt_rc rc;
        const char *kind;
    } kinds[] = {{MDT_ERR_NOMEM, "memory: m"}, {MDT_ERR_CRYPTO, "crypto: m"},
                 {MDT_ERR_IO, "io: m"}, {MDT_ERR_INTERNAL, "internal: m"}};
    for (size_t i = 0; i < MDT_ARRAY_LEN(kinds); i++) {
        mdt_fail(&err, kinds[i].rc, "m");
        assert_string_equal(mdt_err_public_text(&err), "internal error");
        mdt_err_fault_text(&err, fault, sizeof(fault));
        assert_string_equal(fault, kinds[i].kind);
    }
    /* no message, no detail: still a fault, and truncated, never overflowed */
    mdt_fail(&err, MDT_ERR_STORE, NULL);
    mdt_err_fault_text(&err, fault, sizeof(fault));
    assert_string_equal(fault, "store: no detail");
    mdt_failf(&err, MDT_ERR_STORE, "s", "%0200d", 7);
    mdt_err_fault_text(&err, fault, sizeof(fault));
    assert_int_equal(strlen(fault), sizeof(fault) - 1);
    /* an error that says OK is an internal fault, never a silent success */
    mdt_err_clear(&err);
    assert_string_equal(mdt_err_public_text(&err), "internal error");
    mdt_err_fault_text(&err, fault, sizeof(fault));
    assert_string_equal(fault, "internal: no detail");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_vectors),
        cmocka_unit_test(test_b64url_alphabet),
        cmocka_unit_test(test_b64url_rejects),
        cmocka_unit_test(test_b64_std),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_addf_room),
        cmocka_unit_test(test_buf_i64_reserve),
        cmocka_unit_test(test_buf_json),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_ct_eq),
        cmocka_unit_test(test_rc_table),
        cmocka_unit_test(test_err),
        cmocka_unit_test(test_err_public),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
