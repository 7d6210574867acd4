/* Opaque access tokens: the id they carry (a sequence that grows with time,
 * then random bytes), its encoding in the token and its parsing back, and
 * the constant-time check of the stored hash. */
#include "unit.h"

#include <string.h>

#include "core/hash.h"
#include "oauth/tokens.h"

static void test_seq_grows_with_time(void **state)
{
    uint64_t last = 0, a, b, c;
    (void)state;

    a = mdt_opaque_seq_next(&last, 1000);
    assert_int_equal(a, (uint64_t)1000 << 20);
    b = mdt_opaque_seq_next(&last, 1000);
    assert_int_equal(b, a + 1);
    c = mdt_opaque_seq_next(&last, 999); /* the clock stepped back: still greater */
    assert_int_equal(c, b + 1);
    assert_int_equal(mdt_opaque_seq_next(&last, 1001), (uint64_t)1001 << 20);
    assert_int_equal(last, (uint64_t)1001 << 20);
}

static void test_id_in_time_order(void **state)
{
    uint8_t r1[8], r2[8], id1[MDT_TOKEN_ID_LEN], id2[MDT_TOKEN_ID_LEN];
    (void)state;

    memset(r1, 0xff, sizeof(r1));
    memset(r2, 0x00, sizeof(r2));
    mdt_opaque_id_make(0x0102030405060708ULL, r1, id1);
    mdt_opaque_id_make(0x0102030405060709ULL, r2, id2);
    assert_int_equal(id1[0], 0x01);
    assert_int_equal(id1[7], 0x08);
    assert_memory_equal(id1 + 8, r1, 8);
    assert_true(memcmp(id1, id2, MDT_TOKEN_ID_LEN) < 0); /* byte order is sequence order */
}

static void test_format_and_parse(void **state)
{
    uint8_t id[MDT_TOKEN_ID_LEN], secret[MDT_OPAQUE_SECRET_BYTES], back[MDT_TOKEN_ID_LEN];
    char tok[MDT_OPAQUE_LEN + 1], bad[MDT_OPAQUE_LEN + 1];
    (void)state;

    for (size_t i = 0; i < sizeof(id); i++)
        id[i] = (uint8_t)(0xf0 + i);
    memset(secret, 0xab, sizeof(secret));
    mdt_opaque_format(id, secret, tok);
    assert_int_equal(strlen(tok), MDT_OPAQUE_LEN);
    assert_int_equal(strncmp(tok, "mdt_at_", 7), 0);
    assert_true(mdt_opaque_id_parse(tok, strlen(tok), back));
    assert_memory_equal(back, id, sizeof(id));

    /* a token issued before ids: prefix and 43 characters */
    assert_false(mdt_opaque_id_parse("mdt_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 50, back));
    /* one character more or less, another prefix, a character outside base64url */
    assert_false(mdt_opaque_id_parse(tok, strlen(tok) - 1, back));
    memcpy(bad, tok, sizeof(bad));
    bad[0] = 'x';
    assert_false(mdt_opaque_id_parse(bad, strlen(bad), back));
    memcpy(bad, tok, sizeof(bad));
    bad[10] = '.';
    assert_false(mdt_opaque_id_parse(bad, strlen(bad), back));
    memcpy(bad, tok, sizeof(bad));
    bad[10] = '=';
    assert_false(mdt_opaque_id_parse(bad, strlen(bad), back));
}

static void test_hash_matches(void **state)
{
    uint8_t h[MDT_HASH_LEN], other[MDT_HASH_LEN];
    (void)state;

    mdt_sha256("mdt_at_x", 8, h);
    memcpy(other, h, sizeof(h));
    assert_true(mdt_opaque_hash_matches(h, other));
    other[MDT_HASH_LEN - 1] ^= 1; /* the last byte differs */
    assert_false(mdt_opaque_hash_matches(h, other));
    memcpy(other, h, sizeof(h));
    other[0] ^= 0x80;
    assert_false(mdt_opaque_hash_matches(h, other));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_grows_with_time),
        cmocka_unit_test(test_id_in_time_order),
        cmocka_unit_test(test_format_and_parse),
        cmocka_unit_test(test_hash_matches),
    };
    return cmocka_run_group_tests_name("opaque_token", tests, NULL, NULL);
}
