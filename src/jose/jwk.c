/* Signing keys: one EVP_PKEY plus what is derived from it once, at
 * construction (thumbprint, public JWK, JWS headers, EVP_PKEY_CTX templates).
 * Nothing in an mdt_jwk changes afterwards, so threads share it freely: a
 * thread duplicates a prepared context once per key and signs or verifies
 * with its copy again and again (EVP_PKEY_sign and EVP_PKEY_verify may be
 * called many times on one context), instead of re-fetching the algorithm
 * from the provider for each signature (as much as 15% of an ES256 sign),
 * or duplicating it each time (a few percent more). */
#include "jose/jwk.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "core/thread_local.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define MEMBER_B64_MAX 1400 /* base64url of an RSA-8192 modulus, with NUL */

static const char *const hdr_typs[] = {NULL, "JWT", "at+jwt"};
#define N_HDR MDT_ARRAY_LEN(hdr_typs)

struct mdt_jwk {
    uint64_t serial; /* unique in the process: what a thread's contexts are found by */
    EVP_PKEY *pkey;
    EVP_PKEY_CTX *sign_tmpl;   /* NULL for EdDSA and public keys */
    EVP_PKEY_CTX *verify_tmpl; /* NULL for EdDSA */
    mdt_alg alg;
    bool priv;
    char *kid;
    char *pub_json;
    uint8_t thumb[32];
    char *hdr[N_HDR];
    size_t hdr_len[N_HDR];
};

/* The two key members, base64url: EC x, y; RSA n, e; OKP x. */
typedef struct {
    char a[MEMBER_B64_MAX];
    char b[MEMBER_B64_MAX];
} members;

static const char *const alg_names[] = {
    [MDT_ALG_ES256] = "ES256",
    [MDT_ALG_RS256] = "RS256",
    [MDT_ALG_PS256] = "PS256",
    [MDT_ALG_EDDSA] = "EdDSA",
};

const char *mdt_alg_name(mdt_alg alg)
{
    if (alg <= MDT_ALG_NONE || (size_t)alg >= MDT_ARRAY_LEN(alg_names))
        return "none";
    return alg_names[alg];
}

mdt_rc mdt_alg_parse(const char *s, mdt_alg *out)
{
    *out = MDT_ALG_NONE;
    if (mdt_str_eq(s, "Ed25519")) { /* RFC 9864's fully-specified name */
        *out = MDT_ALG_EDDSA;
        return MDT_OK;
    }
    for (size_t i = 1; s && i < MDT_ARRAY_LEN(alg_names); i++) {
        if (strcmp(s, alg_names[i]) == 0) {
            *out = (mdt_alg)i;
            return MDT_OK;
        }
    }
    return MDT_ERR_INVALID_REQUEST;
}

static bool is_rsa(mdt_alg alg) { return alg == MDT_ALG_RS256 || alg == MDT_ALG_PS256; }

/* Does the key's type fit alg? */
static bool key_fits(mdt_alg alg, EVP_PKEY *pk)
{
    char group[32];

    switch (alg) {
    case MDT_ALG_ES256:
        return EVP_PKEY_is_a(pk, "EC") &&
               EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) &&
               (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0);
    case MDT_ALG_RS256:
    case MDT_ALG_PS256:
        return EVP_PKEY_is_a(pk, "RSA") && EVP_PKEY_get_bits(pk) >= RSA_MIN_BITS &&
               EVP_PKEY_get_bits(pk) <= RSA_MAX_BITS;
    case MDT_ALG_EDDSA:
        return EVP_PKEY_is_a(pk, "ED25519");
    default:
        return false;
    }
}

/* ---- derived data: members, thumbprint, public JSON, headers ---------- */

static mdt_rc bn_b64(EVP_PKEY *pk, const char *param, int pad, char *out)
{
    BIGNUM *bn = NULL;
    uint8_t bin[RSA_MAX_BITS / 8];
    int len;
    mdt_rc rc = MDT_ERR_CRYPTO;

    if (!EVP_PKEY_get_bn_param(pk, param, &bn))
        goto out;
    len = pad ? pad : BN_num_bytes(bn);
    if (len <= 0 || (size_t)len > sizeof(bin) || BN_bn2binpad(bn, bin, len) != len)
        goto out;
    mdt_b64url_encode(bin, (size_t)len, out);
    rc = MDT_OK;
out:
    BN_free(bn);
    return rc;
}

static mdt_rc get_members(const mdt_jwk *k, members *m)
{
    uint8_t raw[32], pt[65];
    size_t rawlen = sizeof(raw), ptlen = 0;

    switch (k->alg) {
    case MDT_ALG_ES256:
        /* the point as 0x04 || x || y: one conversion to affine coordinates
         * where x and y asked apart cost one each */
        if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt),
                                            &ptlen) &&
            ptlen == sizeof(pt) && pt[0] == 0x04) {
            mdt_b64url_encode(pt + 1, 32, m->a);
            mdt_b64url_encode(pt + 33, 32, m->b);
            return MDT_OK;
        }
        ERR_clear_error();
        if (bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32, m->a) != MDT_OK)
            return MDT_ERR_CRYPTO;
        return bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32, m->b);
    case MDT_ALG_RS256:
    case MDT_ALG_PS256:
        if (bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0, m->a) != MDT_OK)
            return MDT_ERR_CRYPTO;
        return bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0, m->b);
    case MDT_ALG_EDDSA:
        if (!EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) || rawlen != 32)
            return MDT_ERR_CRYPTO;
        mdt_b64url_encode(raw, rawlen, m->a);
        m->b[0] = '\0';
        return MDT_OK;
    default:
        return MDT_ERR_INTERNAL;
    }
}

/* RFC 7638 §3.2: required members only, lexicographic order, no spaces. */
static mdt_rc canonical_json(const mdt_jwk *k, const members *m, mdt_buf *b)
{
    if (k->alg == MDT_ALG_ES256)
        return mdt_buf_addf(b, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", m->a, m->b);
    if (is_rsa(k->alg))
        return mdt_buf_addf(b, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", m->b, m->a);
    return mdt_buf_addf(b, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", m->a);
}

static mdt_rc public_json(const mdt_jwk *k, const members *m, mdt_buf *b)
{
    mdt_rc rc;

    if (k->alg == MDT_ALG_ES256)
        rc = mdt_buf_addf(b, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"", m->a, m->b);
    else if (is_rsa(k->alg))
        rc = mdt_buf_addf(b, "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", m->a, m->b);
    else
        rc = mdt_buf_addf(b, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", m->a);
    if (rc == MDT_OK)
        rc = mdt_buf_addf(b, ",\"use\":\"sig\",\"alg\":\"%s\",\"kid\":", mdt_alg_name(k->alg));
    if (rc == MDT_OK)
        rc = mdt_buf_add_json_str(b, k->kid);
    if (rc == MDT_OK)
        rc = mdt_buf_adds(b, "}");
    return rc;
}

/* The JWS protected header, base64url. kid and typ are escaped as JSON. */
static mdt_rc build_header(const mdt_jwk *k, const char *typ, mdt_buf *out)
{
    char js[2 * MDT_JWK_KID_MAX + 400];
    mdt_buf h;
    mdt_rc rc;

    mdt_buf_init(&h, 8 * MDT_JWK_KID_MAX + 4096);
    rc = mdt_buf_addf(&h, "{\"alg\":\"%s\"", mdt_alg_name(k->alg));
    if (rc == MDT_OK && typ)
        rc = mdt_buf_adds(&h, ",\"typ\":");
    if (rc == MDT_OK && typ)
        rc = mdt_buf_add_json_str(&h, typ);
    if (rc == MDT_OK)
        rc = mdt_buf_adds(&h, ",\"kid\":");
    if (rc == MDT_OK)
        rc = mdt_buf_add_json_str(&h, k->kid);
    if (rc == MDT_OK)
        rc = mdt_buf_adds(&h, "}");
    if (rc == MDT_OK && mdt_b64url_len(h.len) < sizeof(js)) {
        rc = mdt_buf_add(out, js, mdt_b64url_encode((const uint8_t *)h.data, h.len, js));
    } else if (rc == MDT_OK) { /* a long typ: encode through the heap */
        char *big = malloc(mdt_b64url_len(h.len) + 1);
        rc = big ? mdt_buf_add(out, big, mdt_b64url_encode((const uint8_t *)h.data, h.len, big))
                 : MDT_ERR_NOMEM;
        free(big);
    }
    mdt_buf_free(&h);
    return rc;
}

static mdt_rc derive_json(mdt_jwk *k, mdt_err *err)
{
    members m;
    mdt_buf b;
    mdt_rc rc;

    mdt_buf_init(&b, 8192);
    if ((rc = get_members(k, &m)) != MDT_OK) {
        mdt_fail_openssl(err, "read public key");
        goto out;
    }
    if ((rc = canonical_json(k, &m, &b)) != MDT_OK)
        goto fail;
    mdt_sha256(b.data, b.len, k->thumb);
    if (!k->kid) {
        char kid[44];
        mdt_b64url_encode(k->thumb, sizeof(k->thumb), kid);
        if (!(k->kid = mdt_strdup(kid)))
            goto nomem;
    }
    mdt_buf_reset(&b);
    if ((rc = public_json(k, &m, &b)) != MDT_OK)
        goto fail;
    k->pub_json = mdt_buf_take(&b);
    for (size_t i = 0; i < N_HDR; i++) {
        if ((rc = build_header(k, hdr_typs[i], &b)) != MDT_OK)
            goto fail;
        k->hdr_len[i] = b.len;
        k->hdr[i] = mdt_buf_take(&b);
    }
    goto out;
nomem:
    rc = MDT_ERR_NOMEM;
fail:
    mdt_fail(err, rc, "cannot build key description");
out:
    mdt_buf_free(&b);
    return rc;
}

/* ---- prepared signature contexts -------------------------------------- */

static EVP_PKEY_CTX *make_tmpl(EVP_PKEY *pk, mdt_alg alg, bool sign)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    bool ok = c && (sign ? EVP_PKEY_sign_init(c) : EVP_PKEY_verify_init(c)) > 0 &&
              EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) > 0;

    if (ok && alg == MDT_ALG_RS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0;
    if (ok && alg == MDT_ALG_PS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(c, 32) > 0;
    if (!ok) {
        EVP_PKEY_CTX_free(c);
        return NULL;
    }
    return c;
}

static _Atomic uint64_t next_serial = 1;

/* Takes ownership of pk (freed on failure). kid NULL -> thumbprint. */
static mdt_rc jwk_new(mdt_alg alg, EVP_PKEY *pk, bool priv, const char *kid, mdt_jwk **out,
                      mdt_err *err)
{
    mdt_jwk *k = calloc(1, sizeof(*k));
    mdt_rc rc;

    *out = NULL;
    if (!k) {
        EVP_PKEY_free(pk);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    k->pkey = pk;
    k->alg = alg;
    k->priv = priv;
    k->serial = atomic_fetch_add(&next_serial, 1);
    if (kid && !(k->kid = mdt_strdup(kid))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = derive_json(k, err)) != MDT_OK)
        goto out;
    if (alg != MDT_ALG_EDDSA) {
        k->verify_tmpl = make_tmpl(pk, alg, false);
        k->sign_tmpl = priv ? make_tmpl(pk, alg, true) : NULL;
        if (!k->verify_tmpl || (priv && !k->sign_tmpl)) {
            rc = mdt_fail_openssl(err, "prepare signature context");
            goto out;
        }
    }
    *out = k;
    k = NULL;
    rc = MDT_OK;
out:
    mdt_jwk_free(k);
    return rc;
}

static bool kid_ok(const char *kid)
{
    size_t n = kid ? strlen(kid) : 0;
    return n >= 1 && n <= MDT_JWK_KID_MAX;
}

/* ---- generation and PKCS#8 -------------------------------------------- */

mdt_rc mdt_jwk_generate(mdt_alg alg, mdt_jwk **out, mdt_err *err)
{
    EVP_PKEY *pk = NULL;

    *out = NULL;
    if (alg == MDT_ALG_ES256)
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (is_rsa(alg))
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_MIN_BITS);
    else if (alg == MDT_ALG_EDDSA)
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "unsupported signing algorithm");
    if (!pk)
        return mdt_fail_openssl(err, "generate key");
    return jwk_new(alg, pk, true, NULL, out, err);
}

mdt_rc mdt_jwk_export_private(const mdt_jwk *k, uint8_t **der, size_t *len, mdt_err *err)
{
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *enc = NULL;
    int n = 0;
    mdt_rc rc = MDT_ERR_CRYPTO;

    *der = NULL;
    *len = 0;
    if (!k->priv)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "key has no private part");
    if (!(p8 = EVP_PKEY2PKCS8(k->pkey)) || (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &enc)) <= 0) {
        mdt_fail_openssl(err, "encode PKCS#8");
        goto out;
    }
    if (!(*der = malloc((size_t)n))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(*der, enc, (size_t)n);
    *len = (size_t)n;
    rc = MDT_OK;
out:
    if (enc)
        OPENSSL_clear_free(enc, (size_t)n);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return rc;
}

mdt_rc mdt_jwk_import_private(mdt_alg alg, const char *kid, const uint8_t *der, size_t len,
                              mdt_jwk **out, mdt_err *err)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pk = NULL;

    *out = NULL;
    if (kid && !kid_ok(kid))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "bad kid");
    if (!der || len == 0 || len > 64 * 1024)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "bad private key");
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 && p == der + len)
        pk = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    if (!pk)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "bad private key");
    if (!key_fits(alg, pk)) {
        EVP_PKEY_free(pk);
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "key type does not fit algorithm",
                         "private key is not a %s key", mdt_alg_name(alg));
    }
    return jwk_new(alg, pk, true, kid, out, err);
}

/* ---- public JWK parsing ----------------------------------------------- */

static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

/* Decodes base64url member name into buf (exactly want bytes when want > 0). */
static bool get_b64(json_t *o, const char *name, uint8_t *buf, size_t cap, size_t want,
                    size_t *len)
{
    json_t *v = json_object_get(o, name);
    const char *s = json_string_value(v);
    size_t slen = json_string_length(v);

    if (!s || slen == 0 || slen > (cap / 3) * 4 + 3)
        return false;
    if (mdt_b64url_decode(s, slen, buf, cap, len) != MDT_OK)
        return false;
    return *len > 0 && *len <= cap && (want == 0 || *len == want);
}

static bool str_member_is(json_t *o, const char *name, const char *want)
{
    return mdt_str_eq(json_string_value(json_object_get(o, name)), want);
}

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;

    if (!c || EVP_PKEY_fromdata_init(c) <= 0 ||
        EVP_PKEY_fromdata(c, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pk = NULL;
    EVP_PKEY_CTX_free(c);
    return pk;
}

static EVP_PKEY *ec_from_json(json_t *o)
{
    uint8_t pt[65], tmp[33];
    size_t n;
    char group[] = "P-256";
    OSSL_PARAM params[3];

    if (!str_member_is(o, "crv", "P-256"))
        return NULL;
    pt[0] = 0x04;
    if (!get_b64(o, "x", tmp, sizeof(tmp), 32, &n))
        return NULL;
    memcpy(pt + 1, tmp, 32);
    if (!get_b64(o, "y", tmp, sizeof(tmp), 32, &n))
        return NULL;
    memcpy(pt + 33, tmp, 32);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
    params[2] = OSSL_PARAM_construct_end();
    return fromdata("EC", params);
}

static EVP_PKEY *rsa_from_json(json_t *o)
{
    uint8_t nb[RSA_MAX_BITS / 8 + 1], eb[16];
    size_t nlen, elen;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pk = NULL;

    if (!get_b64(o, "n", nb, sizeof(nb), 0, &nlen) || !get_b64(o, "e", eb, sizeof(eb), 0, &elen))
        return NULL;
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
        (params = OSSL_PARAM_BLD_to_param(bld)))
        pk = fromdata("RSA", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pk;
}

static EVP_PKEY *okp_from_json(json_t *o)
{
    uint8_t x[33];
    size_t n;

    if (!str_member_is(o, "crv", "Ed25519") || !get_b64(o, "x", x, sizeof(x), 32, &n))
        return NULL;
    return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, n);
}

/* An EC key is only ever P-256 here (ec_from_json), a curve of prime order:
 * a point on it other than infinity has the group's order, so the quick
 * check (on the curve, not infinity) is the whole check, without the full
 * one's scalar multiplication by the order. */
static bool public_check(EVP_PKEY *pk)
{
    EVP_PKEY_CTX *c;
    bool ok;

    if (EVP_PKEY_is_a(pk, "ED25519"))
        return true;
    c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (c && EVP_PKEY_is_a(pk, "EC"))
        ok = EVP_PKEY_public_check_quick(c) == 1;
    else
        ok = c && EVP_PKEY_public_check(c) == 1;
    EVP_PKEY_CTX_free(c);
    return ok;
}

/* The checks on the members around the key: private parts, use, kid, alg. */
static mdt_rc check_envelope(json_t *o, mdt_alg *alg, const char **kid, mdt_err *err)
{
    json_t *v;

    for (size_t i = 0; i < MDT_ARRAY_LEN(private_members); i++)
        if (json_object_get(o, private_members[i]))
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWK holds private key material");
    if ((v = json_object_get(o, "use")) && !mdt_str_eq(json_string_value(v), "sig"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWK is not a signing key");
    *kid = NULL;
    if ((v = json_object_get(o, "kid")) && !kid_ok(*kid = json_string_value(v)))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWK kid invalid");
    *alg = MDT_ALG_NONE;
    if ((v = json_object_get(o, "alg")) && mdt_alg_parse(json_string_value(v), alg) != MDT_OK)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWK alg unsupported");
    return MDT_OK;
}

static mdt_rc key_from_object(json_t *o, mdt_alg rsa_alg, mdt_jwk **out, mdt_err *err)
{
    const char *kty = json_string_value(json_object_get(o, "kty")), *kid = NULL;
    mdt_alg alg = MDT_ALG_NONE;
    EVP_PKEY *pk = NULL;
    mdt_rc rc = check_envelope(o, &alg, &kid, err);

    if (rc != MDT_OK)
        return rc;
    if (mdt_str_eq(kty, "EC"))
        pk = ec_from_json(o);
    else if (mdt_str_eq(kty, "RSA"))
        pk = rsa_from_json(o);
    else if (mdt_str_eq(kty, "OKP"))
        pk = okp_from_json(o);
    else
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWK kty unsupported");
    if (alg == MDT_ALG_NONE)
        alg = mdt_str_eq(kty, "EC") ? MDT_ALG_ES256 : mdt_str_eq(kty, "OKP") ? MDT_ALG_EDDSA : rsa_alg;
    ERR_clear_error();
    if (!pk || !public_check(pk) || !key_fits(alg, pk)) {
        ERR_clear_error();
        EVP_PKEY_free(pk);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWK key invalid or unsupported");
    }
    return jwk_new(alg, pk, false, kid, out, err);
}

mdt_rc mdt_jwk_from_json_rsa(const char *json, size_t len, mdt_alg rsa_alg, mdt_jwk **out,
                             mdt_err *err)
{
    json_error_t jerr;
    json_t *o;
    mdt_rc rc;

    *out = NULL;
    if (!is_rsa(rsa_alg))
        return mdt_fail(err, MDT_ERR_INTERNAL, "RSA default alg must be RS256 or PS256");
    if (len > MDT_JWK_JSON_MAX)
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "JWK too large");
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o))
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWK is not a JSON object");
    else
        rc = key_from_object(o, rsa_alg, out, err);
    json_decref(o);
    return rc;
}

mdt_rc mdt_jwk_from_json(const char *json, size_t len, mdt_jwk **out, mdt_err *err)
{
    return mdt_jwk_from_json_rsa(json, len, MDT_ALG_RS256, out, err);
}

/* ---- accessors -------------------------------------------------------- */

mdt_rc mdt_jwk_public_json(const mdt_jwk *k, mdt_buf *out, mdt_err *err)
{
    mdt_rc rc = mdt_buf_adds(out, k->pub_json);
    return rc == MDT_OK ? MDT_OK : mdt_fail(err, rc, "cannot render JWK");
}

mdt_rc mdt_jwk_thumbprint(const mdt_jwk *k, uint8_t out[32], mdt_err *err)
{
    (void)err;
    memcpy(out, k->thumb, sizeof(k->thumb));
    return MDT_OK;
}

mdt_rc mdt_jwk_jws_header(const mdt_jwk *k, const char *typ, mdt_buf *out, mdt_err *err)
{
    mdt_rc rc;

    for (size_t i = 0; i < N_HDR; i++)
        if (mdt_str_eq(typ, hdr_typs[i]))
            return mdt_buf_add(out, k->hdr[i], k->hdr_len[i]) == MDT_OK
                       ? MDT_OK
                       : mdt_fail(err, MDT_ERR_TOO_LARGE, "token too large");
    rc = build_header(k, typ, out);
    return rc == MDT_OK ? MDT_OK : mdt_fail(err, rc, "cannot build JWS header");
}

const char *mdt_jwk_kid(const mdt_jwk *k) { return k->kid; }
mdt_alg mdt_jwk_alg(const mdt_jwk *k) { return k->alg; }
bool mdt_jwk_has_private(const mdt_jwk *k) { return k->priv; }

void mdt_jwk_free(mdt_jwk *k)
{
    if (!k)
        return;
    EVP_PKEY_CTX_free(k->sign_tmpl);
    EVP_PKEY_CTX_free(k->verify_tmpl);
    EVP_PKEY_free(k->pkey);
    for (size_t i = 0; i < N_HDR; i++)
        free(k->hdr[i]);
    free(k->pub_json);
    free(k->kid);
    free(k);
}

/* ---- signatures ------------------------------------------------------- */

static bool der_to_rs(const uint8_t *der, size_t dlen, uint8_t rs[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    const BIGNUM *r = NULL, *sv = NULL;
    bool ok = false;

    if (s) {
        ECDSA_SIG_get0(s, &r, &sv);
        ok = BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(sv, rs + 32, 32) == 32;
    }
    ECDSA_SIG_free(s);
    return ok;
}

static bool rs_to_der(const uint8_t rs[64], uint8_t *der, size_t cap, size_t *dlen)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *sv = BN_bin2bn(rs + 32, 32, NULL);
    unsigned char *p = der;
    int n = -1;

    if (s && r && sv && ECDSA_SIG_set0(s, r, sv)) {
        r = sv = NULL; /* owned by s */
        if (i2d_ECDSA_SIG(s, NULL) <= (int)cap)
            n = i2d_ECDSA_SIG(s, &p);
    }
    BN_free(r);
    BN_free(sv);
    ECDSA_SIG_free(s);
    *dlen = n > 0 ? (size_t)n : 0;
    return n > 0;
}

static mdt_rc ed_sign(const mdt_jwk *k, const void *msg, size_t n, uint8_t *sig, size_t *siglen,
                      mdt_err *err)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    mdt_rc rc = MDT_OK;

    *siglen = MDT_JWS_SIG_MAX;
    if (!m || !EVP_DigestSignInit_ex(m, NULL, NULL, NULL, NULL, k->pkey, NULL) ||
        !EVP_DigestSign(m, sig, siglen, msg, n))
        rc = mdt_fail_openssl(err, "EdDSA sign");
    EVP_MD_CTX_free(m);
    return rc;
}

/* --- a thread's prepared contexts ------------------------------------------
 * Each thread keeps copies of the contexts of the keys it used last, found
 * by the key's serial (never reused, so a freed key's copy is never found
 * again: it holds its own reference to the EVP_PKEY and goes when evicted or
 * when the thread ends). */
#define THREAD_CTXS 8

typedef struct {
    uint64_t serial;
    bool sign;
    uint64_t used;
    EVP_PKEY_CTX *ctx;
} thread_ctx;

typedef struct {
    thread_ctx e[THREAD_CTXS];
    uint64_t tick;
} thread_ctxs;

static void *ctxs_make(void) { return calloc(1, sizeof(thread_ctxs)); }

static void ctxs_free(void *p)
{
    thread_ctxs *t = p;

    for (size_t i = 0; i < THREAD_CTXS; i++)
        EVP_PKEY_CTX_free(t->e[i].ctx);
    free(t);
}

static mdt_thread_local ctxs = MDT_THREAD_LOCAL(ctxs_make, ctxs_free);

/* This thread's copy of k's prepared context for signing or verifying,
 * made on first use (the least recently used copy makes room); NULL when
 * out of memory. Borrowed until this thread's next call. */
static EVP_PKEY_CTX *thread_ctx_of(const mdt_jwk *k, bool sign)
{
    thread_ctxs *t;
    thread_ctx *victim;
    EVP_PKEY_CTX *c;

    if (!(t = mdt_thread_local_get(&ctxs)))
        return NULL;
    t->tick++;
    victim = &t->e[0];
    for (size_t i = 0; i < THREAD_CTXS; i++) {
        thread_ctx *e = &t->e[i];
        if (e->ctx && e->serial == k->serial && e->sign == sign) {
            e->used = t->tick;
            return e->ctx;
        }
        if (e->used < victim->used)
            victim = e;
    }
    if (!(c = EVP_PKEY_CTX_dup(sign ? k->sign_tmpl : k->verify_tmpl)))
        return NULL;
    EVP_PKEY_CTX_free(victim->ctx);
    *victim = (thread_ctx){.serial = k->serial, .sign = sign, .used = t->tick, .ctx = c};
    return c;
}

/* Drops this thread's copy of k's context (after a failure with it). */
static void thread_ctx_drop(const mdt_jwk *k, bool sign)
{
    thread_ctxs *t = mdt_thread_local_peek(&ctxs);

    for (size_t i = 0; t && i < THREAD_CTXS; i++)
        if (t->e[i].ctx && t->e[i].serial == k->serial && t->e[i].sign == sign) {
            EVP_PKEY_CTX_free(t->e[i].ctx);
            t->e[i] = (thread_ctx){0};
        }
}

mdt_rc mdt_jwk_sign_bytes(const mdt_jwk *k, const void *msg, size_t n, uint8_t sig[MDT_JWS_SIG_MAX],
                          size_t *siglen, mdt_err *err)
{
    uint8_t dg[32], der[80];
    size_t dlen = sizeof(der);
    EVP_PKEY_CTX *c = NULL;
    mdt_rc rc = MDT_OK;

    *siglen = 0;
    if (!k->priv)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "key has no private part");
    if (k->alg == MDT_ALG_EDDSA)
        return ed_sign(k, msg, n, sig, siglen, err);
    mdt_sha256(msg, n, dg);
    if (!(c = thread_ctx_of(k, true)))
        return mdt_fail_openssl(err, "sign context");
    if (k->alg == MDT_ALG_ES256) {
        if (EVP_PKEY_sign(c, der, &dlen, dg, sizeof(dg)) <= 0 || !der_to_rs(der, dlen, sig))
            rc = mdt_fail_openssl(err, "ES256 sign");
        else
            *siglen = 64;
    } else {
        *siglen = MDT_JWS_SIG_MAX;
        if (EVP_PKEY_sign(c, sig, siglen, dg, sizeof(dg)) <= 0)
            rc = mdt_fail_openssl(err, "RSA sign");
    }
    if (rc != MDT_OK)
        thread_ctx_drop(k, true);
    return rc;
}

static int ed_verify(const mdt_jwk *k, const void *msg, size_t n, const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int r = -1;

    if (m && EVP_DigestVerifyInit_ex(m, NULL, NULL, NULL, NULL, k->pkey, NULL))
        r = EVP_DigestVerify(m, sig, siglen, msg, n) == 1;
    EVP_MD_CTX_free(m);
    return r;
}

/* 1 valid, 0 invalid, -1 fault. */
static int pkey_verify(const mdt_jwk *k, const void *msg, size_t n, const uint8_t *sig, size_t siglen)
{
    uint8_t dg[32], der[80];
    EVP_PKEY_CTX *c;
    int r;

    if (k->alg == MDT_ALG_ES256) {
        if (!rs_to_der(sig, der, sizeof(der), &siglen))
            return -1;
        sig = der;
    }
    mdt_sha256(msg, n, dg);
    if (!(c = thread_ctx_of(k, false)))
        return -1;
    r = EVP_PKEY_verify(c, sig, siglen, dg, sizeof(dg));
    if (r < 0)
        thread_ctx_drop(k, false); /* a fault, not a bad signature */
    return r == 1;
}

mdt_rc mdt_jwk_verify_bytes(const mdt_jwk *k, const void *msg, size_t n, const uint8_t *sig,
                            size_t siglen, mdt_err *err)
{
    size_t want = k->alg == MDT_ALG_ES256 || k->alg == MDT_ALG_EDDSA
                      ? 64
                      : (size_t)EVP_PKEY_get_size(k->pkey);
    int r;

    if (!sig || siglen != want)
        return mdt_fail(err, MDT_ERR_VERIFY, "signature has the wrong length");
    r = k->alg == MDT_ALG_EDDSA ? ed_verify(k, msg, n, sig, siglen) : pkey_verify(k, msg, n, sig, siglen);
    if (r < 0)
        return mdt_fail_openssl(err, "verify");
    ERR_clear_error();
    if (r != 1)
        return mdt_fail(err, MDT_ERR_VERIFY, "signature does not verify");
    return MDT_OK;
}
