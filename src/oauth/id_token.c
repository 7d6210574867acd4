#include "oauth/id_token.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/b64.h"
#include "core/buf.h"
#include "core/words.h"
#include "jose/jws.h"
#include "keys/keyring.h"

#define CLAIMS_MAX (16 * 1024) /* bytes of the claims of an ID token */
#define ID_TOKEN_MAX (32 * 1024)

bool mdt_scope_has(const char *scope, const char *word)
{
    return mdt_words_has(scope, word);
}

mdt_rc mdt_oidc_token_hash(const char *alg, const char *token, char out[MDT_TOKEN_HASH_MAX],
                           mdt_err *err)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    const EVP_MD *h;

    if (mdt_str_eq(alg, "ES256") || mdt_str_eq(alg, "RS256") || mdt_str_eq(alg, "PS256"))
        h = EVP_sha256();
    else if (mdt_str_eq(alg, "EdDSA") || mdt_str_eq(alg, "Ed25519"))
        h = EVP_sha512();
    else
        return mdt_failf(err, MDT_ERR_INTERNAL, "unsupported signing algorithm",
                         "no token hash for alg %.16s", alg ? alg : "(none)");
    if (!EVP_Digest(token, strlen(token), md, &n, h, NULL))
        return mdt_fail(err, MDT_ERR_CRYPTO, "cannot hash the token");
    mdt_b64url_encode(md, n / 2, out);
    return MDT_OK;
}

static mdt_rc add_str(mdt_buf *b, const char *key, const char *val)
{
    mdt_rc rc;

    if (!val || !*val)
        return MDT_OK;
    if ((rc = mdt_buf_addf(b, ",\"%s\":", key)) != MDT_OK)
        return rc;
    return mdt_buf_add_json_str(b, val);
}

static mdt_rc add_amr(mdt_buf *b, const char *amr)
{
    const char *sep = "";
    mdt_rc rc;

    if (!amr || !*amr)
        return MDT_OK;
    rc = mdt_buf_adds(b, ",\"amr\":[");
    for (mdt_words w = mdt_words_of(amr); rc == MDT_OK && mdt_words_next(&w); sep = ",")
        rc = mdt_buf_addf(b, "%s\"%.*s\"", sep, (int)w.len, w.word);
    if (rc == MDT_OK && (rc = mdt_buf_adds(b, "]")) == MDT_OK && mdt_scope_has(amr, "pwd"))
        rc = add_str(b, "acr", MDT_ACR_PASSWORD);
    return rc;
}

static mdt_rc build(mdt_env *env, const mdt_id_token_params *p, const char *at_hash, mdt_buf *b)
{
    mdt_rc rc;

    if ((rc = mdt_buf_adds(b, "{\"iss\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, env->cfg.issuer)) != MDT_OK ||
        (rc = add_str(b, "sub", p->sub)) != MDT_OK ||
        (rc = add_str(b, "aud", p->client->client_id)) != MDT_OK ||
        (rc = add_str(b, "azp", p->client->client_id)) != MDT_OK ||
        (rc = mdt_buf_addf(b, ",\"exp\":%lld,\"iat\":%lld", (long long)p->exp,
                           (long long)p->iat)) != MDT_OK ||
        (p->auth_time &&
         (rc = mdt_buf_addf(b, ",\"auth_time\":%lld", (long long)p->auth_time)) != MDT_OK) ||
        (rc = add_str(b, "nonce", p->nonce)) != MDT_OK || (rc = add_amr(b, p->amr)) != MDT_OK ||
        (rc = add_str(b, "sid", p->sid)) != MDT_OK || (rc = add_str(b, "at_hash", at_hash)))
        return rc;
    return mdt_buf_adds(b, "}");
}

/* The alg of a JWS the keyring produced (copied into alg). */
static mdt_rc signed_alg(const mdt_buf *tok, char alg[16], mdt_err *err)
{
    mdt_jws *jws = NULL;
    mdt_rc rc = mdt_jws_parse(tok->data, tok->len, ID_TOKEN_MAX, &jws, err);

    if (rc != MDT_OK)
        return rc;
    snprintf(alg, 16, "%s", mdt_jws_alg(jws) ? mdt_jws_alg(jws) : "");
    mdt_jws_free(jws);
    return MDT_OK;
}

/* Signs once with the hash of the configured alg; when the signing key
 * turns out to use another alg (during an alg change), again with its hash. */
static mdt_rc sign(mdt_env *env, const mdt_id_token_params *p, mdt_buf *tok, mdt_err *err)
{
    char hash[MDT_TOKEN_HASH_MAX] = "", alg[16];
    const char *want = env->cfg.signing_alg;
    mdt_buf claims;
    mdt_rc rc = MDT_OK;

    for (int round = 0; round < 2; round++) {
        mdt_buf_init(&claims, CLAIMS_MAX);
        tok->len = 0;
        if (p->access_token && (rc = mdt_oidc_token_hash(want, p->access_token, hash, err)))
            break;
        if ((rc = build(env, p, p->access_token ? hash : NULL, &claims)) != MDT_OK) {
            rc = mdt_fail(err, rc, "ID token too large");
            break;
        }
        if ((rc = mdt_keyring_sign(env->keys, p->iat, "JWT", claims.data, claims.len, tok,
                                   err)) != MDT_OK ||
            (rc = signed_alg(tok, alg, err)) != MDT_OK || mdt_str_eq(alg, want))
            break;
        mdt_buf_free(&claims);
        want = alg;
    }
    mdt_buf_free(&claims);
    return rc;
}

mdt_rc mdt_id_token_mint(mdt_env *env, mdt_arena *a, const mdt_id_token_params *p,
                         const char **out, mdt_err *err)
{
    mdt_buf tok;
    mdt_rc rc;

    *out = NULL;
    mdt_buf_init(&tok, ID_TOKEN_MAX);
    if ((rc = sign(env, p, &tok, err)) == MDT_OK &&
        !(*out = mdt_arena_strndup(a, tok.data, tok.len)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_buf_free(&tok);
    return rc;
}

mdt_rc mdt_id_token_beside(mdt_env *env, mdt_arena *a, int64_t now, const char *scope,
                           mdt_id_token_params p, const char **out, mdt_err *err)
{
    if (!mdt_scope_has(scope, "openid"))
        return MDT_OK;
    p.iat = now;
    p.exp = now + env->cfg.access_token_ttl;
    return mdt_id_token_mint(env, a, &p, out, err);
}

mdt_rc mdt_id_token_hint_verify(mdt_env *env, int64_t now, mdt_arena *a, const char *hint,
                                const char **client_id, const char **sub, mdt_err *err)
{
    mdt_jws *jws = NULL;
    json_t *claims = NULL;
    const char *payload, *aud, *who;
    size_t n;
    mdt_rc rc;

    if ((rc = mdt_jws_parse(hint, strlen(hint), MDT_ID_TOKEN_HINT_MAX, &jws, err)) != MDT_OK ||
        (rc = mdt_keyring_verify(env->keys, now, jws, err)) != MDT_OK)
        goto out;
    payload = mdt_jws_payload(jws, &n);
    claims = json_loadb(payload, n, 0, NULL);
    aud = json_string_value(json_object_get(claims, "aud"));
    who = json_string_value(json_object_get(claims, "sub"));
    if (!mdt_str_eq(mdt_jws_typ(jws), "JWT") || !aud || !who ||
        !mdt_str_eq(json_string_value(json_object_get(claims, "iss")), env->cfg.issuer)) {
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "id_token_hint is not an ID token");
        goto out;
    }
    if (!(*client_id = mdt_arena_strdup(a, aud)) || !(*sub = mdt_arena_strdup(a, who)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
out:
    json_decref(claims);
    mdt_jws_free(jws);
    return rc;
}
