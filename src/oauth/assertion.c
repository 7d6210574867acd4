/* JWT assertions: parse, check, pick a key, verify (see assertion.h). */
#include "oauth/assertion.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MSG "invalid assertion"
#define TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z: larger NumericDates are malformed */

/* ---------------------------------------------------------------- JWK Sets */

typedef struct {
    mdt_jwk *jwk;
    const char *kid; /* borrowed from jwk */
    mdt_alg alg;
} ks_entry;

struct mdt_keyset {
    atomic_int refs;
    size_t n;
    ks_entry e[2 * MDT_KEYSET_MAX]; /* an RSA key without alg takes two */
};

static void ks_add(mdt_keyset *ks, mdt_jwk *k)
{
    ks->e[ks->n].jwk = k;
    ks->e[ks->n].kid = mdt_jwk_kid(k);
    ks->e[ks->n].alg = mdt_jwk_alg(k);
    ks->n++;
}

/* One member of "keys": added when usable, skipped otherwise. */
static void ks_add_json(mdt_keyset *ks, json_t *k)
{
    const char *use = json_string_value(json_object_get(k, "use"));
    const char *kty = json_string_value(json_object_get(k, "kty"));
    json_t *copy = NULL;
    char *text = NULL;
    mdt_jwk *jwk = NULL;
    mdt_err ignored;

    if (!json_is_object(k) || (use && strcmp(use, "sig") != 0 && strcmp(use, "jwt-svid") != 0))
        return;
    if (use && strcmp(use, "jwt-svid") == 0) { /* SPIFFE bundles: a signing key for JWT-SVIDs */
        if (!(copy = json_deep_copy(k)) || json_object_del(copy, "use") != 0)
            goto out;
        k = copy;
    }
    if (!(text = json_dumps(k, JSON_COMPACT)))
        goto out;
    if (mdt_str_eq(kty, "RSA") && !json_object_get(k, "alg")) {
        if (mdt_jwk_from_json_rsa(text, strlen(text), MDT_ALG_RS256, &jwk, &ignored) == MDT_OK)
            ks_add(ks, jwk);
        if (mdt_jwk_from_json_rsa(text, strlen(text), MDT_ALG_PS256, &jwk, &ignored) == MDT_OK)
            ks_add(ks, jwk);
    } else if (mdt_jwk_from_json(text, strlen(text), &jwk, &ignored) == MDT_OK) {
        ks_add(ks, jwk);
    }
out:
    free(text);
    json_decref(copy);
}

mdt_rc mdt_keyset_parse(const char *json, size_t len, mdt_keyset **out, mdt_err *err)
{
    json_t *doc = NULL, *keys, *k;
    mdt_keyset *ks = NULL;
    mdt_rc rc = MDT_ERR_INVALID_REQUEST;
    size_t i;

    *out = NULL;
    if (len > MDT_KEYSET_JSON_MAX)
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "JWK Set too large");
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys)) {
        mdt_fail(err, rc, "not a JWK Set: a JSON object with a \"keys\" array is expected");
        goto out;
    }
    if (json_array_size(keys) > MDT_KEYSET_MAX) {
        mdt_failf(err, rc, "JWK Set has too many keys", "JWK Set has more than %d keys",
                  MDT_KEYSET_MAX);
        goto out;
    }
    if (!(ks = calloc(1, sizeof(*ks)))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    atomic_init(&ks->refs, 1);
    json_array_foreach(keys, i, k)
        ks_add_json(ks, k);
    if (ks->n == 0) {
        mdt_fail(err, rc, "JWK Set holds no usable signing key (EC P-256, RSA, Ed25519)");
        goto out;
    }
    *out = ks;
    ks = NULL;
    rc = MDT_OK;
out:
    mdt_keyset_unref(ks);
    json_decref(doc);
    return rc;
}

mdt_keyset *mdt_keyset_ref(mdt_keyset *ks)
{
    if (ks)
        atomic_fetch_add_explicit(&ks->refs, 1, memory_order_relaxed);
    return ks;
}

void mdt_keyset_unref(mdt_keyset *ks)
{
    if (!ks || atomic_fetch_sub_explicit(&ks->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < ks->n; i++)
        mdt_jwk_free(ks->e[i].jwk);
    free(ks);
}

size_t mdt_keyset_count(const mdt_keyset *ks) { return ks ? ks->n : 0; }

/* ---------------------------------------------------------------- parsing */

static bool opt_string(json_t *o, const char *name, const char **out)
{
    json_t *v = json_object_get(o, name);

    *out = json_string_value(v);
    return !v || json_is_string(v);
}

static bool opt_time(json_t *o, const char *name, int64_t *out)
{
    json_t *v = json_object_get(o, name);
    double d;

    *out = 0;
    if (!v)
        return true;
    if (!json_is_number(v))
        return false;
    d = json_number_value(v);
    if (!(d > 0 && d <= (double)TIME_MAX))
        return false;
    *out = (int64_t)d;
    return true;
}

static bool aud_ok(json_t *claims)
{
    json_t *aud = json_object_get(claims, "aud"), *x;
    size_t i;

    if (!aud || json_is_string(aud))
        return true;
    if (!json_is_array(aud))
        return false;
    json_array_foreach(aud, i, x)
        if (!json_is_string(x))
            return false;
    return true;
}

mdt_rc mdt_assertion_parse(const char *compact, size_t len, mdt_assertion *out, mdt_err *err)
{
    const char *payload;
    size_t plen = 0;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (len > MDT_ASSERTION_MAX)
        return mdt_failf(err, MDT_ERR_TOO_LARGE, MSG, "assertion longer than %d bytes",
                         MDT_ASSERTION_MAX);
    if ((rc = mdt_jws_parse(compact, len, MDT_ASSERTION_MAX, &out->jws, err)) != MDT_OK)
        return rc;
    payload = mdt_jws_payload(out->jws, &plen);
    out->claims = json_loadb(payload, plen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(out->claims) || !opt_string(out->claims, "iss", &out->iss) ||
        !opt_string(out->claims, "sub", &out->sub) || !opt_string(out->claims, "jti", &out->jti) ||
        !opt_time(out->claims, "exp", &out->exp) || !opt_time(out->claims, "iat", &out->iat) ||
        !opt_time(out->claims, "nbf", &out->nbf) || !aud_ok(out->claims)) {
        mdt_assertion_clear(out);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "malformed assertion claims");
    }
    return MDT_OK;
}

void mdt_assertion_clear(mdt_assertion *a)
{
    if (!a)
        return;
    mdt_jws_free(a->jws);
    json_decref(a->claims);
    memset(a, 0, sizeof(*a));
}

/* ---------------------------------------------------------------- rules */

static mdt_rc check_header(const mdt_assertion *a, const mdt_assertion_rules *r, mdt_err *err)
{
    static const char *const refused_typ[] = {"at+jwt", "application/at+jwt", "dpop+jwt"};
    const char *alg = mdt_jws_alg(a->jws), *typ = mdt_jws_typ(a->jws);
    mdt_alg parsed, registered;

    if (mdt_alg_parse(alg, &parsed) != MDT_OK)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "alg '%.32s' refused: asymmetric only", alg);
    if (r->alg && (mdt_alg_parse(r->alg, &registered) != MDT_OK || registered != parsed))
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "alg %s is not the registered %s", alg, r->alg);
    for (size_t i = 0; typ && i < MDT_ARRAY_LEN(refused_typ); i++)
        if (strcasecmp(typ, refused_typ[i]) == 0)
            return mdt_failf(err, MDT_ERR_VERIFY, MSG, "typ %s is not an assertion", typ);
    return MDT_OK;
}

static bool aud_accepted(const mdt_assertion_rules *r, const char *s)
{
    for (size_t i = 0; s && i < r->naud; i++)
        if (mdt_str_eq(r->aud[i], s))
            return true;
    return false;
}

/* aud names this server and nothing else: one accepted string, or a
 * non-empty array of accepted strings only. An array that also names
 * another party is refused: that party could present the assertion here
 * (the audience injection that draft-ietf-oauth-rfc7523bis closes).
 * NULL when acceptable, else the reason. */
static const char *aud_problem(const mdt_assertion *a, const mdt_assertion_rules *r)
{
    json_t *aud = json_object_get(a->claims, "aud"), *x;
    bool ours = false, other = false;
    size_t i;

    if (!aud || (json_is_array(aud) && json_array_size(aud) == 0))
        return "aud missing";
    if (json_is_string(aud))
        return aud_accepted(r, json_string_value(aud)) ? NULL : "aud does not name this server";
    json_array_foreach(aud, i, x) {
        if (aud_accepted(r, json_string_value(x)))
            ours = true;
        else
            other = true;
    }
    if (!other)
        return NULL;
    return ours ? "aud names another audience besides this server"
                : "aud does not name this server";
}

static mdt_rc check_ids(const mdt_assertion *a, const mdt_assertion_rules *r, mdt_err *err)
{
    const char *aud;

    if (!a->iss || !mdt_str_eq(a->iss, r->iss))
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "iss %s", a->iss ? "mismatch" : "missing");
    if (!a->sub || !*a->sub)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "sub missing");
    if (r->sub && strcmp(a->sub, r->sub) != 0)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "sub mismatch");
    if ((aud = aud_problem(a, r)))
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "%s", aud);
    if (r->require_jti && (!a->jti || !*a->jti))
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "jti missing");
    if (a->jti && strlen(a->jti) > MDT_ASSERTION_JTI_MAX)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "jti too long");
    return MDT_OK;
}

static mdt_rc check_times(const mdt_assertion *a, const mdt_assertion_rules *r, int64_t now,
                          mdt_err *err)
{
    const int64_t skew = MDT_ASSERTION_LEEWAY;

    if (!a->exp)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "exp missing");
    if (a->exp <= now - skew)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "expired %lld s ago",
                         (long long)(now - a->exp));
    if (r->max_lifetime && a->exp - now > r->max_lifetime + skew)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "exp too far ahead (%lld s, at most %lld)",
                         (long long)(a->exp - now), (long long)r->max_lifetime);
    if (r->max_lifetime && a->iat && a->exp - a->iat > r->max_lifetime + skew)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "lifetime exp - iat too long (%lld s)",
                         (long long)(a->exp - a->iat));
    if (a->iat && a->iat > now + skew)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "iat in the future");
    if (a->nbf && a->nbf > now + skew)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "not valid before nbf");
    return MDT_OK;
}

mdt_rc mdt_assertion_check(const mdt_assertion *a, const mdt_assertion_rules *r, int64_t now,
                           mdt_err *err)
{
    mdt_rc rc;

    if ((rc = check_header(a, r, err)) != MDT_OK || (rc = check_ids(a, r, err)) != MDT_OK)
        return rc;
    return check_times(a, r, now, err);
}

/* ---------------------------------------------------------------- keys */

bool mdt_keyset_has_thumbprint(const mdt_keyset *ks, const uint8_t thumb[32])
{
    for (size_t i = 0; ks && i < ks->n; i++) {
        uint8_t t[32];
        if (mdt_jwk_thumbprint(ks->e[i].jwk, t, NULL) == MDT_OK && mdt_ct_eq(t, 32, thumb, 32))
            return true;
    }
    return false;
}

mdt_rc mdt_assertion_verify(const mdt_assertion *a, const mdt_keyset *ks, const mdt_jwk **used,
                            mdt_err *err)
{
    const char *kid = mdt_jws_kid(a->jws), *alg = mdt_jws_alg(a->jws);
    mdt_alg named = MDT_ALG_NONE;
    size_t tried = 0;

    if (used)
        *used = NULL;
    if (mdt_alg_parse(alg, &named) != MDT_OK)
        return mdt_failf(err, MDT_ERR_VERIFY, MSG, "alg '%.32s' refused", alg);
    for (size_t i = 0; ks && i < ks->n; i++) {
        const ks_entry *e = &ks->e[i];
        mdt_err verr;
        if ((kid && !mdt_str_eq(kid, e->kid)) || named != e->alg)
            continue;
        tried++;
        if (mdt_jws_verify(a->jws, e->jwk, &verr) == MDT_OK) {
            if (used)
                *used = e->jwk;
            return MDT_OK;
        }
    }
    if (!tried)
        return kid ? mdt_failf(err, MDT_ERR_NOT_FOUND, MSG, "unknown kid '%.64s' for %.16s", kid, alg)
                   : mdt_failf(err, MDT_ERR_NOT_FOUND, MSG, "no %.16s key", alg);
    return mdt_failf(err, MDT_ERR_VERIFY, MSG, "bad signature");
}
