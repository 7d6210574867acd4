/* RFC 8628 user codes (§6.1): drawn from BCDFGHJKLMNPQRSTVWXZ without bias,
 * shown as XXXX-XXXX; compared case-insensitively without the dash. */
#include "unit.h"

#include <string.h>

#include "oauth/device.h"

/* A generator that answers a fixed sequence of bytes, then 0xff forever. */
typedef struct {
    const uint8_t *p;
    size_t n, at;
} fixed_bytes;

static int fixed_rng(void *ctx, uint8_t *out, size_t n)
{
    fixed_bytes *f = ctx;

    for (size_t i = 0; i < n; i++, f->at++)
        out[i] = f->at < f->n ? f->p[f->at] : 0xff;
    return 1;
}

static void test_new_codes(void **state)
{
    char code[MDT_DEVICE_USER_CODE_LEN + 1], norm[MDT_DEVICE_USER_CODE_CHARS + 1];
    int seen[26] = {0};

    (void)state;
    for (int round = 0; round < 2000; round++) {
        assert_int_equal(mdt_device_user_code_new(&mdt_rng_system, code), MDT_OK);
        assert_int_equal(strlen(code), MDT_DEVICE_USER_CODE_LEN);
        assert_int_equal(code[4], '-');
        for (int i = 0; i < MDT_DEVICE_USER_CODE_LEN; i++) {
            if (i == 4)
                continue;
            assert_non_null(strchr(MDT_DEVICE_USER_CODE_ALPHABET, code[i]));
            seen[code[i] - 'A']++;
        }
        assert_true(mdt_device_user_code_normalize(code, norm));
        assert_int_equal(strlen(norm), MDT_DEVICE_USER_CODE_CHARS);
    }
    /* every letter of the alphabet comes up, and no vowel ever */
    for (const char *c = MDT_DEVICE_USER_CODE_ALPHABET; *c; c++)
        assert_true(seen[*c - 'A'] > 0);
    for (const char *v = "AEIOUY"; *v; v++)
        assert_int_equal(seen[*v - 'A'], 0);
}

/* Bytes from 240 up would favour the first letters: they are skipped. */
static void test_unbiased(void **state)
{
    static const uint8_t bytes[] = {240, 255, 0, 19, 20, 239, 241, 1, 2, 3, 4, 5, 6};
    fixed_bytes f = {bytes, sizeof(bytes), 0};
    mdt_rng rng = {fixed_rng, &f};
    char code[MDT_DEVICE_USER_CODE_LEN + 1];

    (void)state;
    assert_int_equal(mdt_device_user_code_new(&rng, code), MDT_OK);
    /* 0->B 19->Z 20->B 239->Z (239 % 20 = 19) 1->C 2->D 3->F 4->G */
    assert_string_equal(code, "BZBZ-CDFG");
}

static void test_failing_generator(void **state)
{
    fixed_bytes f = {NULL, 0, 0};
    mdt_rng rng = {fixed_rng, &f};
    char code[MDT_DEVICE_USER_CODE_LEN + 1];

    (void)state;
    /* only bytes out of range: refused after a bounded number of draws */
    assert_int_not_equal(mdt_device_user_code_new(&rng, code), MDT_OK);
}

static void test_normalize(void **state)
{
    char out[MDT_DEVICE_USER_CODE_CHARS + 1];

    (void)state;
    assert_true(mdt_device_user_code_normalize("WDJB-MJHT", out));
    assert_string_equal(out, "WDJBMJHT");
    assert_true(mdt_device_user_code_normalize("wdjbmjht", out));
    assert_string_equal(out, "WDJBMJHT");
    assert_true(mdt_device_user_code_normalize(" wdjb - MjHt ", out));
    assert_string_equal(out, "WDJBMJHT");
    assert_false(mdt_device_user_code_normalize("WDJB-MJH", out));   /* too short */
    assert_false(mdt_device_user_code_normalize("WDJB-MJHTB", out)); /* too long */
    assert_false(mdt_device_user_code_normalize("WDJA-MJHT", out));  /* a vowel */
    assert_false(mdt_device_user_code_normalize("WDJ0-MJHT", out));  /* a digit */
    assert_false(mdt_device_user_code_normalize("WDJB_MJHT", out));
    assert_false(mdt_device_user_code_normalize("WDJB\nMJHT", out));
    assert_false(mdt_device_user_code_normalize("", out));
    assert_false(mdt_device_user_code_normalize(NULL, out));
    assert_false(mdt_device_user_code_normalize(
        "----------------------------------------------------------------WDJBMJHT", out));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_codes),
        cmocka_unit_test(test_unbiased),
        cmocka_unit_test(test_failing_generator),
        cmocka_unit_test(test_normalize),
    };
    return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
