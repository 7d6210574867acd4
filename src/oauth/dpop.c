/* DPoP proofs (RFC 9449 §4.3) and the nonces of this server (§8, §9).
 *
 * A proof is checked in the order of §4.3, cheapest first, and its jti is
 * recorded in the store's replay cache only once everything else passed:
 * a refused proof records nothing. The jti is recorded under an issuer of
 * its own ("dpop:" + the key's thumbprint), so that a proof can never
 * collide with a client assertion's jti, until the proof's iat leaves the
 * accepted window.
 *
 * Nonces are stateless: "<slot>.<base64url HMAC-SHA256(k, slot)>", where
 * slot counts [dpop] nonce_rotation periods and k is derived from the
 * master key (mdt_keyring_derive), so that every node issues and accepts
 * the same nonces without sharing anything else. The current slot, the one
 * before it and the one after it (a node whose clock is a little ahead)
 * are accepted. */
#include "oauth/dpop.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/b64.h"
#include "core/hash.h"
#include "jose/jws.h"
#include "keys/keyring.h"
#include "oauth/assertion.h"
#include "store/store.h"

#define BAD MDT_ERR_INVALID_DPOP_PROOF
#define HTU_MAX 2048

bool mdt_dpop_nonce_required(const mdt_env *env, bool resource)
{
    const char *m = env->cfg.dpop_nonce;

    if (!m)
        return false;
    return resource ? strcmp(m, "all") == 0 : strcmp(m, "token") == 0 || strcmp(m, "all") == 0;
}

/* ------------------------------------------------------------- htu */

static bool unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends s[0..n) to out at *len, with percent-encodings normalised and,
 * when lower, letters in lower case. */
static bool put(char *out, size_t cap, size_t *len, const char *s, size_t n, bool lower)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? mdt_hex_value(s[i + 1]) : -1;
            int lo = hi >= 0 ? mdt_hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            int v = hi * 16 + lo;
            if (unreserved(v)) {
                c = lower ? tolower(v) : v;
            } else {
                if (*len + 3 >= cap)
                    return false;
                out[(*len)++] = '%';
                out[(*len)++] = (char)toupper((unsigned char)s[i + 1]);
                out[(*len)++] = (char)toupper((unsigned char)s[i + 2]);
                i += 2;
                continue;
            }
            i += 2;
        } else if (lower) {
            c = tolower(c);
        }
        if (c <= 0x20 || c == 0x7f || *len + 1 >= cap)
            return false;
        out[(*len)++] = (char)c;
    }
    out[*len] = '\0';
    return true;
}

/* A host: a name or IPv4 address without ':', '[' or ']', or an IPv6
 * literal in brackets; not empty. */
static bool host_ok(const char *h, size_t n)
{
    bool literal = n >= 2 && h[0] == '[' && h[n - 1] == ']';

    if (n == 0)
        return false;
    for (size_t i = literal ? 1 : 0; i < (literal ? n - 1 : n); i++)
        if (h[i] == '[' || h[i] == ']' || (!literal && h[i] == ':'))
            return false;
    return true;
}

bool mdt_dpop_htu_normalise(const char *url, char *out, size_t n)
{
    const char *p, *auth, *auth_end, *port = NULL, *path;
    size_t len = 0, schlen;
    bool https;

    if (!url || n == 0)
        return false;
    out[0] = '\0';
    if (!(p = strstr(url, "://")))
        return false;
    schlen = (size_t)(p - url);
    if (schlen == 5 && strncasecmp(url, "https", 5) == 0)
        https = true;
    else if (schlen == 4 && strncasecmp(url, "http", 4) == 0)
        https = false;
    else
        return false;
    auth = p + 3;
    auth_end = auth + strcspn(auth, "/?#");
    path = auth_end;
    if (memchr(auth, '@', (size_t)(auth_end - auth)))
        return false;
    /* the port follows the last ':' outside an IPv6 literal */
    for (const char *c = auth_end; c > auth; c--)
        if (c[-1] == ']')
            break;
        else if (c[-1] == ':') {
            port = c - 1;
            break;
        }
    const char *host_end = port ? port : auth_end;
    if (!host_ok(auth, (size_t)(host_end - auth)))
        return false;
    if (!put(out, n, &len, https ? "https://" : "http://", https ? 8 : 7, false) ||
        !put(out, n, &len, auth, (size_t)(host_end - auth), true))
        return false;
    if (port) {
        const char *d = port + 1;
        size_t dn = (size_t)(auth_end - d);
        for (size_t i = 0; i < dn; i++)
            if (!isdigit((unsigned char)d[i]))
                return false;
        while (dn > 1 && *d == '0') { /* ":0443" is port 443 */
            d++;
            dn--;
        }
        bool dflt = dn == 0 || (https && dn == 3 && memcmp(d, "443", 3) == 0) ||
                    (!https && dn == 2 && memcmp(d, "80", 2) == 0);
        if (!dflt && (!put(out, n, &len, ":", 1, false) || !put(out, n, &len, d, dn, false)))
            return false;
    }
    size_t plen = strcspn(path, "?#");
    if (plen == 0)
        return put(out, n, &len, "/", 1, false);
    return put(out, n, &len, path, plen, false);
}

/* ----------------------------------------------------------- nonces */

static mdt_rc nonce_key(mdt_env *env, uint8_t key[MDT_MASTER_KEY_LEN], mdt_err *err)
{
    if (!env->keys)
        return mdt_fail(err, MDT_ERR_INTERNAL, "DPoP nonces need the key ring");
    mdt_keyring_derive(env->keys, "dpop-nonce", key);
    return MDT_OK;
}

static int64_t rotation(const mdt_env *env)
{
    return env->cfg.dpop_nonce_rotation > 0 ? env->cfg.dpop_nonce_rotation : 300;
}

static void nonce_of(const uint8_t key[MDT_MASTER_KEY_LEN], int64_t slot,
                     char out[MDT_DPOP_NONCE_MAX])
{
    uint8_t mac[MDT_SHA256_LEN];
    unsigned int maclen = sizeof(mac);
    char msg[32];
    int n = snprintf(msg, sizeof(msg), "%" PRId64, slot);

    if (!HMAC(EVP_sha256(), key, MDT_MASTER_KEY_LEN, (const uint8_t *)msg, (size_t)n, mac, &maclen))
        abort(); /* HMAC-SHA256 fails only without a provider */
    memcpy(out, msg, (size_t)n);
    out[n] = '.';
    mdt_b64url_encode(mac, sizeof(mac), out + n + 1);
}

mdt_rc mdt_dpop_nonce(mdt_env *env, char out[MDT_DPOP_NONCE_MAX], mdt_err *err)
{
    uint8_t key[MDT_MASTER_KEY_LEN];
    mdt_rc rc = nonce_key(env, key, err);

    out[0] = '\0';
    if (rc == MDT_OK)
        nonce_of(key, mdt_now(&env->clock) / rotation(env), out);
    mdt_wipe(key, sizeof(key));
    return rc;
}

/* MDT_OK when nonce is one of this server's of now (this slot, the one
 * before or the one after); MDT_ERR_USE_DPOP_NONCE otherwise. */
static mdt_rc nonce_check(mdt_env *env, const char *nonce, mdt_err *err)
{
    uint8_t key[MDT_MASTER_KEY_LEN];
    char want[MDT_DPOP_NONCE_MAX];
    int64_t slot = mdt_now(&env->clock) / rotation(env);
    size_t n = strlen(nonce);
    bool ok = false;
    mdt_rc rc;

    if ((rc = nonce_key(env, key, err)) != MDT_OK)
        return rc;
    for (int64_t d = -1; d <= 1; d++) {
        nonce_of(key, slot + d, want);
        ok |= mdt_ct_eq(want, strlen(want), nonce, n);
    }
    mdt_wipe(key, sizeof(key));
    return ok ? MDT_OK
              : mdt_fail(err, MDT_ERR_USE_DPOP_NONCE,
                         "the DPoP proof must carry the nonce of the DPoP-Nonce header");
}

/* ----------------------------------------------------------- proofs */

/* typ, alg and the public jwk of the header; *key on success. */
static mdt_rc check_header(const mdt_jws *j, const mdt_jwk **key, mdt_err *err)
{
    const char *typ = mdt_jws_typ(j), *alg = mdt_jws_alg(j);
    mdt_alg a;
    mdt_rc rc;

    if (!typ || strcmp(typ, "dpop+jwt") != 0)
        return mdt_fail(err, BAD, "the DPoP proof's typ must be dpop+jwt");
    if (mdt_alg_parse(alg, &a) != MDT_OK)
        return mdt_failf(err, BAD, "the DPoP proof's alg is not supported (asymmetric only: " MDT_DPOP_ALGS_TEXT ")",
                         "alg %.32s", alg);
    rc = mdt_jws_header_jwk_cached(j, key, err);
    if (rc == MDT_ERR_INVALID_REQUEST)
        return mdt_failf(err, BAD,
                         "the DPoP proof's header needs a jwk: a public key of a supported type "
                         "(no private members)",
                         "%s", err->msg ? err->msg : "jwk refused");
    if (rc != MDT_OK)
        return rc;
    if (mdt_jwk_has_private(*key))
        return mdt_fail(err, BAD, "the DPoP proof's jwk must be a public key (no private members)");
    if (mdt_jws_verify(j, *key, err) != MDT_OK)
        return mdt_fail(err, BAD, "the DPoP proof's signature does not verify with its jwk");
    return MDT_OK;
}

static const char *claim_str(json_t *c, const char *name)
{
    return json_string_value(json_object_get(c, name));
}

/* htm, htu, iat and ath against exp at now. */
static mdt_rc check_claims(mdt_env *env, json_t *c, const mdt_dpop_expect *exp, int64_t now,
                           mdt_err *err)
{
    const char *htm = claim_str(c, "htm"), *htu = claim_str(c, "htu"), *ath = claim_str(c, "ath");
    const char *jti = claim_str(c, "jti");
    json_t *iatv = json_object_get(c, "iat");
    char have[HTU_MAX], want[HTU_MAX];
    int64_t iat;

    if (!jti || !*jti || strlen(jti) > MDT_DPOP_JTI_MAX)
        return mdt_fail(err, BAD, "the DPoP proof needs a jti (at most 256 bytes)");
    if (!htm || !exp->htm || strcmp(htm, exp->htm) != 0)
        return mdt_fail(err, BAD, "the DPoP proof's htm is not the method of this request");
    if (!htu || !mdt_dpop_htu_normalise(htu, have, sizeof(have)) || !exp->htu ||
        !mdt_dpop_htu_normalise(exp->htu, want, sizeof(want)) || strcmp(have, want) != 0)
        return mdt_fail(err, BAD, "the DPoP proof's htu is not the URI of this request");
    if (!json_is_number(iatv))
        return mdt_fail(err, BAD, "the DPoP proof needs an iat");
    iat = (int64_t)json_number_value(iatv);
    if (iat < now - env->cfg.dpop_max_age)
        return mdt_fail(err, BAD, "the DPoP proof's iat is too old");
    if (iat > now + MDT_ASSERTION_LEEWAY)
        return mdt_fail(err, BAD, "the DPoP proof's iat is in the future");
    if (exp->access_token) {
        uint8_t h[MDT_SHA256_LEN];
        char b[MDT_DPOP_JKT_LEN + 1]; /* base64url of a SHA-256 */
        mdt_sha256(exp->access_token, strlen(exp->access_token), h);
        mdt_b64url_encode(h, sizeof(h), b);
        if (!ath)
            return mdt_fail(err, BAD, "the DPoP proof needs ath, the hash of the access token");
        if (!mdt_ct_eq(b, strlen(b), ath, strlen(ath)))
            return mdt_fail(err, BAD, "the DPoP proof's ath is not the hash of the access token");
    }
    return MDT_OK;
}

static mdt_rc check_nonce(mdt_env *env, json_t *c, const mdt_dpop_expect *exp, mdt_err *err)
{
    json_t *v = json_object_get(c, "nonce");

    if (!v)
        return exp->nonce ? mdt_fail(err, MDT_ERR_USE_DPOP_NONCE,
                                     "a DPoP nonce is required: use the one of the DPoP-Nonce header")
                          : MDT_OK;
    if (!json_is_string(v) || json_string_length(v) >= MDT_DPOP_NONCE_MAX)
        return mdt_fail(err, MDT_ERR_USE_DPOP_NONCE,
                        "the DPoP proof must carry the nonce of the DPoP-Nonce header");
    return nonce_check(env, json_string_value(v), err);
}

mdt_rc mdt_dpop_check(mdt_env *env, const char *proof, const mdt_dpop_expect *exp,
                      mdt_dpop_proof *out, mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    mdt_jws *j = NULL;
    const mdt_jwk *key = NULL; /* borrowed from this thread's key cache */
    json_t *c = NULL;
    uint8_t tp[MDT_SHA256_LEN];
    const char *payload;
    size_t plen, n;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!proof || !*proof)
        return mdt_fail(err, BAD, "a DPoP proof is required");
    n = strlen(proof);
    if (n > MDT_DPOP_PROOF_MAX || strchr(proof, ',') || strchr(proof, ' '))
        return mdt_fail(err, BAD, "the DPoP header must hold exactly one proof");
    if ((rc = mdt_jws_parse(proof, n, MDT_DPOP_PROOF_MAX, &j, err)) != MDT_OK) {
        if (!mdt_rc_is_server_fault(rc))
            rc = mdt_fail(err, BAD, "the DPoP proof is not a signed JWT");
        goto out;
    }
    if ((rc = check_header(j, &key, err)) != MDT_OK)
        goto out;
    payload = mdt_jws_payload(j, &plen);
    c = json_loadb(payload, plen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(c)) {
        rc = mdt_fail(err, BAD, "the DPoP proof's claims are not a JSON object");
        goto out;
    }
    if ((rc = check_claims(env, c, exp, now, err)) != MDT_OK ||
        (rc = check_nonce(env, c, exp, err)) != MDT_OK ||
        (rc = mdt_jwk_thumbprint(key, tp, err)) != MDT_OK)
        goto out;
    mdt_b64url_encode(tp, sizeof(tp), out->jkt);
    snprintf(out->jti_issuer, sizeof(out->jti_issuer), "dpop:%s", out->jkt);
    snprintf(out->jti_value, sizeof(out->jti_value), "%s", claim_str(c, "jti"));
    out->jti = (mdt_jti_use_rec){
        .issuer = out->jti_issuer,
        .jti = out->jti_value,
        .expires_at = (int64_t)json_number_value(json_object_get(c, "iat")) +
                      env->cfg.dpop_max_age + MDT_ASSERTION_LEEWAY + 1,
    };
    if (exp->defer_jti)
        goto out;
    rc = mdt_store_jti_use(env->store, out->jti.issuer, out->jti.jti, out->jti.expires_at, now,
                           err);
    if (rc == MDT_ERR_CONFLICT)
        rc = mdt_fail(err, BAD, MDT_DPOP_REPLAYED);
out:
    if (rc != MDT_OK)
        memset(out, 0, sizeof(*out));
    json_decref(c);
    mdt_jws_free(j);
    return rc;
}

mdt_rc mdt_dpop_check_once(mdt_env *env, mdt_req *req, const char *proof,
                           const mdt_dpop_expect *exp, const char **jkt, mdt_err *err)
{
    mdt_dpop_proof p;
    mdt_rc rc;

    if (!req->dpop_jkt_used) {
        if ((rc = mdt_dpop_check(env, proof, exp, &p, err)) != MDT_OK)
            return rc;
        if (exp->defer_jti)
            req->dpop_jti = (mdt_jti_use_rec){
                .issuer = mdt_arena_strdup(req->arena, p.jti.issuer),
                .jti = mdt_arena_strdup(req->arena, p.jti.jti),
                .expires_at = p.jti.expires_at,
            };
        if (!(req->dpop_jkt_used = mdt_arena_strdup(req->arena, p.jkt)) ||
            (exp->defer_jti && (!req->dpop_jti.issuer || !req->dpop_jti.jti)))
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    *jkt = req->dpop_jkt_used;
    return MDT_OK;
}

void mdt_dpop_nonce_header(mdt_env *env, mdt_req *req, mdt_resp *resp, bool resource, mdt_rc rc)
{
    char nonce[MDT_DPOP_NONCE_MAX];
    mdt_err err = {0};

    if (rc != MDT_ERR_USE_DPOP_NONCE && !mdt_dpop_nonce_required(env, resource))
        return;
    if (mdt_dpop_nonce(env, nonce, &err) == MDT_OK)
        mdt_resp_header(resp, "DPoP-Nonce", mdt_arena_strdup(req->arena, nonce));
}

