#include "oauth/tokens.h"

#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "core/metrics.h"
#include "core/thread_local.h"
#include "core/words.h"
#include "jose/jws.h"
#include "keys/keyring.h"
#include "iga/scope.h"
#include "store/store.h"
#include "users/users.h"

/* ,"key": (without the comma right after '{'): built on the stack, one
 * append, no formatting: the claims are assembled per token. */
static mdt_rc add_key(mdt_buf *b, const char *key)
{
    char tmp[64];
    size_t n = strlen(key), at = 0;

    if (n > sizeof(tmp) - 4)
        return MDT_ERR_INTERNAL;
    if (b->len && b->data[b->len - 1] != '{')
        tmp[at++] = ',';
    tmp[at++] = '"';
    memcpy(tmp + at, key, n);
    at += n;
    tmp[at++] = '"';
    tmp[at++] = ':';
    return mdt_buf_add(b, tmp, at);
}

/* ,"key":<decimal value>, as %lld would write it. */
static mdt_rc add_int(mdt_buf *b, const char *key, long long v)
{
    char d[24];
    size_t at = sizeof(d);
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    mdt_rc rc = add_key(b, key);

    do {
        d[--at] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--at] = '-';
    return rc == MDT_OK ? mdt_buf_add(b, d + at, sizeof(d) - at) : rc;
}

static mdt_rc add_member(mdt_buf *b, const char *key, const char *val)
{
    mdt_rc rc;
    if (!val)
        return MDT_OK;
    if ((rc = add_key(b, key)) != MDT_OK)
        return rc;
    return mdt_buf_add_json_str(b, val);
}

/* key with a value that is already JSON text (built or validated by us). */
static mdt_rc add_raw(mdt_buf *b, const char *key, const char *json)
{
    mdt_rc rc;
    if (!json)
        return MDT_OK;
    if ((rc = add_key(b, key)) != MDT_OK)
        return rc;
    return mdt_buf_adds(b, json);
}

static mdt_rc add_app(mdt_buf *b, const mdt_grant *g)
{
    const mdt_client *c = g->client;
    mdt_rc rc;

    if ((rc = mdt_buf_adds(b, ",\"app\":{")) != MDT_OK ||
        (rc = add_member(b, "kind", c->kind)) != MDT_OK ||
        (rc = add_member(b, "name", c->name)) != MDT_OK ||
        (rc = add_member(b, "owner", c->owner)) != MDT_OK ||
        (rc = add_member(b, "auth", g->auth_method)) != MDT_OK ||
        (rc = add_member(b, "tier", c->tier)) != MDT_OK ||
        (rc = add_member(b, "software_id", c->software_id)) != MDT_OK ||
        (rc = add_member(b, "software_version", c->software_version)) != MDT_OK ||
        (rc = add_member(b, "approval",
                         g->approval ? g->approval : mdt_client_scope_approval(c, g->scope))) !=
            MDT_OK)
        return rc;
    return mdt_buf_adds(b, "}");
}

static mdt_rc add_aud(mdt_buf *b, const mdt_grant *g)
{
    mdt_rc rc;

    if (g->naud == 1) {
        if ((rc = mdt_buf_adds(b, ",\"aud\":")) != MDT_OK)
            return rc;
        return mdt_buf_add_json_str(b, g->aud[0]);
    }
    if ((rc = mdt_buf_adds(b, ",\"aud\":[")) != MDT_OK)
        return rc;
    for (size_t i = 0; i < g->naud; i++)
        if ((i && (rc = mdt_buf_adds(b, ",")) != MDT_OK) ||
            (rc = mdt_buf_add_json_str(b, g->aud[i])) != MDT_OK)
            return rc;
    return mdt_buf_adds(b, "]");
}

/* RFC 9068 §2.2.1: auth_time and amr when a user authenticated. */
static mdt_rc add_user(mdt_buf *b, const mdt_grant *g)
{
    mdt_rc rc = MDT_OK;
    const char *sep = "";

    if (g->auth_time && (rc = mdt_buf_addf(b, ",\"auth_time\":%lld", (long long)g->auth_time)))
        return rc;
    if (!g->amr || !*g->amr)
        return MDT_OK;
    rc = mdt_buf_adds(b, ",\"amr\":[");
    for (mdt_words w = mdt_words_of(g->amr); rc == MDT_OK && mdt_words_next(&w); sep = ",")
        rc = mdt_buf_addf(b, "%s\"%.*s\"", sep, (int)w.len, w.word);
    return rc == MDT_OK ? mdt_buf_adds(b, "]") : rc;
}

static mdt_rc build_claims(mdt_env *env, const mdt_grant *g, const char *jti, mdt_buf *b)
{
    mdt_rc rc;

    if ((rc = mdt_buf_adds(b, "{")) != MDT_OK ||
        (rc = add_member(b, "iss", env->cfg.issuer)) != MDT_OK ||
        (rc = add_member(b, "sub", g->sub)) != MDT_OK || (rc = add_aud(b, g)) != MDT_OK ||
        (rc = add_int(b, "exp", (long long)g->exp)) != MDT_OK ||
        (rc = add_int(b, "iat", (long long)g->iat)) != MDT_OK ||
        (rc = add_member(b, "jti", jti)) != MDT_OK ||
        (rc = add_member(b, "client_id", g->client->client_id)) != MDT_OK ||
        (rc = add_member(b, "scope", g->scope)) != MDT_OK || (rc = add_user(b, g)) != MDT_OK ||
        (rc = add_member(b, "sid", g->sid)) != MDT_OK ||
        (rc = add_app(b, g)) != MDT_OK || (rc = add_raw(b, "act", g->act)) != MDT_OK ||
        (rc = add_raw(b, "lineage", g->lineage)) != MDT_OK ||
        (rc = add_raw(b, "authorization_details", g->authorization_details)) != MDT_OK)
        return rc;
    if (g->cnf_x5t || g->cnf_jkt) { /* RFC 8705 §3.1, RFC 9449 §6.1; both when both apply */
        if ((rc = mdt_buf_adds(b, ",\"cnf\":{")) != MDT_OK ||
            (g->cnf_x5t && ((rc = mdt_buf_adds(b, "\"x5t#S256\":")) != MDT_OK ||
                            (rc = mdt_buf_add_json_str(b, g->cnf_x5t)) != MDT_OK)) ||
            (g->cnf_x5t && g->cnf_jkt && (rc = mdt_buf_adds(b, ",")) != MDT_OK) ||
            (g->cnf_jkt && ((rc = mdt_buf_adds(b, "\"jkt\":")) != MDT_OK ||
                            (rc = mdt_buf_add_json_str(b, g->cnf_jkt)) != MDT_OK)) ||
            (rc = mdt_buf_adds(b, "}")) != MDT_OK)
            return rc;
    }
    return mdt_buf_adds(b, "}");
}

static bool wants_opaque(mdt_env *env, const mdt_client *c)
{
    const char *fmt = c->access_token_format ? c->access_token_format : env->cfg.access_token_format;
    return mdt_str_eq(fmt, "opaque");
}

uint64_t mdt_opaque_seq_next(uint64_t *last, int64_t now)
{
    _Atomic uint64_t *l = (_Atomic uint64_t *)last;
    uint64_t floor = now > 0 ? (uint64_t)now << 20 : 0;
    uint64_t cur = atomic_load_explicit(l, memory_order_relaxed), next;

    do {
        next = cur + 1 > floor ? cur + 1 : floor;
    } while (!atomic_compare_exchange_weak_explicit(l, &cur, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return next;
}

void mdt_opaque_id_make(uint64_t seq, const uint8_t rnd[8], uint8_t id[MDT_TOKEN_ID_LEN])
{
    for (int i = 0; i < 8; i++)
        id[i] = (uint8_t)(seq >> (56 - 8 * i)); /* big-endian: byte order is time order */
    memcpy(id + 8, rnd, 8);
}

void mdt_opaque_format(const uint8_t id[MDT_TOKEN_ID_LEN],
                       const uint8_t secret[MDT_OPAQUE_SECRET_BYTES], char *out)
{
    size_t p = sizeof(MDT_OPAQUE_PREFIX) - 1;

    memcpy(out, MDT_OPAQUE_PREFIX, p);
    p += mdt_b64url_encode(id, MDT_TOKEN_ID_LEN, out + p);
    mdt_b64url_encode(secret, MDT_OPAQUE_SECRET_BYTES, out + p);
}

bool mdt_opaque_id_parse(const char *token, size_t len, uint8_t id[MDT_TOKEN_ID_LEN])
{
    size_t p = sizeof(MDT_OPAQUE_PREFIX) - 1, n = 0;

    if (len != MDT_OPAQUE_LEN || strncmp(token, MDT_OPAQUE_PREFIX, p) != 0)
        return false;
    return mdt_b64url_decode(token + p, MDT_OPAQUE_ID_CHARS, id, MDT_TOKEN_ID_LEN, &n) ==
               MDT_OK &&
           n == MDT_TOKEN_ID_LEN;
}

bool mdt_opaque_hash_matches(const uint8_t stored[MDT_HASH_LEN],
                             const uint8_t presented[MDT_HASH_LEN])
{
    return mdt_ct_eq(stored, MDT_HASH_LEN, presented, MDT_HASH_LEN);
}

/* The node's id sequence (mdt_opaque_seq_next). */
static uint64_t opaque_seq;

static mdt_rc opaque_row(mdt_env *env, mdt_arena *a, const mdt_grant *g, mdt_issued *out,
                           mdt_err *err)
{
    uint8_t rnd[8 + MDT_OPAQUE_SECRET_BYTES];
    mdt_token_rec *rec = mdt_arena_alloc(a, sizeof(*rec));
    char *tok = mdt_arena_alloc(a, MDT_OPAQUE_LEN + 1);
    mdt_rc rc;

    if (!rec || !tok)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    memset(rec, 0, sizeof(*rec));
    if ((rc = mdt_random(&env->rng, rnd, sizeof(rnd))) != MDT_OK)
        return mdt_fail(err, rc, "cannot generate a token");
    rec->has_id = true;
    mdt_opaque_id_make(mdt_opaque_seq_next(&opaque_seq, mdt_now(&env->clock)), rnd, rec->id);
    mdt_opaque_format(rec->id, rnd + 8, tok);
    mdt_wipe(rnd, sizeof(rnd));
    out->access_token = tok;
    mdt_sha256(tok, MDT_OPAQUE_LEN, rec->hash);
    rec->jti = out->jti;
    rec->client_id = g->client->client_id;
    rec->kind = "access";
    rec->claims = out->claims;
    rec->issued_at = g->iat;
    rec->expires_at = g->exp;
    out->row = rec; /* stored with the token.issued event */
    return MDT_OK;
}

void mdt_token_times(mdt_grant *g, const mdt_client *c, int64_t now, int64_t ttl, int64_t limit)
{
    g->iat = mdt_token_iat(c, now);
    g->exp = g->iat + ttl;
    if (limit && g->exp > limit)
        g->exp = limit;
    g->exp = mdt_token_exp_clamp(c, g->exp);
}

mdt_rc mdt_token_mint(mdt_env *env, mdt_arena *a, const mdt_grant *g, mdt_issued *out,
                      mdt_err *err)
{
    int64_t until = mdt_client_scope_expiry(g->client, g->scope);
    mdt_grant bounded;
    char jti[32];
    mdt_buf claims, tok;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = mdt_token_admin_scope_check(env, a, g->sub, g->client->client_id, g->scope, err)) !=
        MDT_OK)
        return rc;
    if (until && until < g->exp) { /* no token outlives the entitlement behind its scope */
        bounded = *g;
        bounded.exp = until > g->iat ? until : g->iat + 1;
        g = &bounded;
    }
    if (g->jti) {
        if (strlen(g->jti) >= sizeof(jti))
            return mdt_fail(err, MDT_ERR_INTERNAL, "token id too long");
        memcpy(jti, g->jti, strlen(g->jti) + 1);
    } else if ((rc = mdt_random_b64url(&env->rng, MDT_JTI_BYTES, jti)) != MDT_OK) {
        return mdt_fail(err, rc, "cannot generate a token id");
    }
    mdt_buf_init(&claims, 64 * 1024);
    mdt_buf_init(&tok, MDT_MAX_TOKEN_LEN);
    if ((rc = build_claims(env, g, jti, &claims)) != MDT_OK) {
        mdt_fail(err, rc, "token too large");
        goto out;
    }
    out->jti = mdt_arena_strdup(a, jti);
    out->claims = mdt_arena_strndup(a, claims.data, claims.len);
    out->expires_in = g->exp - g->iat;
    out->opaque = wants_opaque(env, g->client);
    out->token_type = g->cnf_jkt ? "DPoP" : NULL; /* RFC 9449 §5 */
    if (!out->jti || !out->claims) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (out->opaque) {
        rc = opaque_row(env, a, g, out, err);
        goto out;
    }
    if ((rc = mdt_keyring_sign(env->keys, g->iat, "at+jwt", claims.data, claims.len, &tok,
                               err)) != MDT_OK)
        goto out;
    if (!(out->access_token = mdt_arena_strndup(a, tok.data, tok.len)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
out:
    mdt_buf_free(&claims);
    mdt_buf_free_wipe(&tok);
    return rc;
}

mdt_rc mdt_token_response(const mdt_issued *t, const char *scope, mdt_buf *out)
{
    mdt_rc rc;
    if ((rc = mdt_buf_adds(out, "{\"access_token\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(out, t->access_token)) != MDT_OK ||
        (rc = mdt_buf_adds(out, ",\"token_type\":\"")) != MDT_OK ||
        (rc = mdt_buf_adds(out, t->token_type ? t->token_type : "Bearer")) != MDT_OK ||
        (rc = mdt_buf_adds(out, "\"")) != MDT_OK ||
        (rc = add_int(out, "expires_in", (long long)t->expires_in)) != MDT_OK)
        return rc;
    if (scope && *scope &&
        ((rc = mdt_buf_adds(out, ",\"scope\":")) != MDT_OK ||
         (rc = mdt_buf_add_json_str(out, scope)) != MDT_OK))
        return rc;
    return mdt_buf_adds(out, "}");
}

void mdt_token_info_clear(mdt_token_info *ti)
{
    if (ti->claims)
        json_decref(ti->claims);
    memset(ti, 0, sizeof(*ti));
}

static mdt_rc inactive(mdt_err *err, const char *why)
{
    return mdt_failf(err, MDT_ERR_INVALID_TOKEN, "the token is not active", "%s", why);
}

static mdt_rc read_opaque(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                          mdt_token_info *out, mdt_err *err)
{
    size_t len = strlen(token);
    mdt_token_rec rec;
    mdt_rc rc;

    (void)now;
    out->opaque = true;
    mdt_sha256(token, len, out->hash);
    out->has_id = mdt_opaque_id_parse(token, len, out->id);
    rc = mdt_store_token_get(env->store, out->has_id ? out->id : NULL, out->hash, a, &rec, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return inactive(err, "unknown token");
    if (rc != MDT_OK)
        return rc;
    /* found by id: the secret part is known only by the hash, compared in constant time */
    if (out->has_id && !mdt_opaque_hash_matches(rec.hash, out->hash))
        return inactive(err, "unknown token");
    if (!mdt_str_eq(rec.kind, "access"))
        return inactive(err, "not an access token");
    if (!(out->claims = json_loads(rec.claims, 0, NULL)))
        return mdt_fail(err, MDT_ERR_STORE, "stored token claims are not JSON");
    out->claims_text = rec.claims;
    out->claims_len = strlen(rec.claims);
    if (rec.revoked_at)
        return inactive(err, "token revoked");
    return MDT_OK;
}

static mdt_rc read_jwt(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                       mdt_token_info *out, mdt_err *err)
{
    mdt_jws *jws = NULL;
    const char *payload;
    size_t plen;

    if (mdt_jws_parse(token, strlen(token), MDT_MAX_TOKEN_LEN, &jws, err) != MDT_OK)
        return inactive(err, "malformed token");
    if (mdt_keyring_verify(env->keys, now, jws, err) != MDT_OK ||
        !mdt_str_eq(mdt_jws_typ(jws), "at+jwt")) {
        mdt_jws_free(jws);
        return inactive(err, "signature does not verify");
    }
    payload = mdt_jws_payload(jws, &plen);
    out->claims = json_loadb(payload, plen, 0, NULL);
    if (out->claims && (out->claims_text = mdt_arena_strndup(a, payload, plen)))
        out->claims_len = plen;
    mdt_jws_free(jws);
    if (!out->claims || !json_is_object(out->claims))
        return inactive(err, "claims are not a JSON object");
    if (!mdt_str_eq(json_string_value(json_object_get(out->claims, "iss")), env->cfg.issuer))
        return inactive(err, "issued by another issuer");
    return MDT_OK;
}

/* The entry of a web session in the jti revocation list: ':' never occurs
 * in a jti nor in a refresh family id. */
#define SESSION_ENTRY "sid:"

const char *mdt_token_session_sid(const char *sid, const char *scope)
{
    if (!sid || !*sid || mdt_words_has(scope, "offline_access"))
        return NULL;
    return sid;
}

mdt_rc mdt_token_session_ended(mdt_env *env, const char *sid, bool *ended, mdt_err *err)
{
    char entry[128];

    *ended = false;
    if (!sid || strlen(sid) + sizeof(SESSION_ENTRY) > sizeof(entry))
        return MDT_OK;
    memcpy(entry, SESSION_ENTRY, sizeof(SESSION_ENTRY) - 1);
    memcpy(entry + sizeof(SESSION_ENTRY) - 1, sid, strlen(sid) + 1);
    return mdt_store_jti_is_revoked(env->store, entry, ended, err);
}

mdt_rc mdt_token_session_end(mdt_env *env, const char *sid, int64_t now, mdt_err *err)
{
    char entry[128];
    /* kept as long as anything bound to the session may live: an access
     * token (at most a day) or a refresh token */
    int64_t keep = env->cfg.refresh_token_ttl > 86400 ? env->cfg.refresh_token_ttl : 86400;

    if (!sid || !*sid || strlen(sid) + sizeof(SESSION_ENTRY) > sizeof(entry))
        return MDT_OK;
    memcpy(entry, SESSION_ENTRY, sizeof(SESSION_ENTRY) - 1);
    memcpy(entry + sizeof(SESSION_ENTRY) - 1, sid, strlen(sid) + 1);
    return mdt_store_jti_revoke(env->store, entry, "", now + keep, now, err);
}

/* Revocation along the chain (mdt_token_inspect): only tokens that carry
 * sid, act or lineage pay for it. */
static mdt_rc check_chain(mdt_env *env, mdt_arena *a, int64_t now, mdt_token_info *out,
                          mdt_err *err)
{
    json_t *lineage = json_object_get(out->claims, "lineage"), *act, *v;
    const char *origin;
    bool revoked = false;
    size_t i, n = 0;
    mdt_rc rc;

    if ((rc = mdt_token_session_ended(env, json_string_value(json_object_get(out->claims, "sid")),
                                      &revoked, err)) != MDT_OK)
        return rc;
    if (revoked)
        return inactive(err, "the person's session ended");
    json_array_foreach(json_object_get(lineage, "jti"), i, v) {
        if ((rc = mdt_store_jti_is_revoked(env->store, json_string_value(v), &revoked, err)) !=
            MDT_OK)
            return rc;
        if (revoked)
            return inactive(err, "a token it was exchanged from is revoked");
    }
    origin = json_string_value(json_object_get(lineage, "client_id"));
    if (origin && !mdt_str_eq(origin, out->client_id) &&
        (rc = mdt_token_client_check(env, a, origin, out->iat, now, err)) != MDT_OK)
        return rc;
    for (act = json_object_get(out->claims, "act"); json_is_object(act) && n++ < 16;
         act = json_object_get(act, "act")) {
        const char *id = json_string_value(json_object_get(act, "sub"));
        if (id && !mdt_str_eq(id, out->client_id) &&
            (rc = mdt_token_client_check(env, a, id, out->iat, now, err)) != MDT_OK)
            return rc;
    }
    return MDT_OK;
}

static mdt_rc check_common(mdt_env *env, mdt_arena *a, int64_t now, mdt_token_info *out,
                           mdt_err *err)
{
    bool revoked = false;
    mdt_rc rc;

    out->client_id = json_string_value(json_object_get(out->claims, "client_id"));
    out->jti = json_string_value(json_object_get(out->claims, "jti"));
    out->exp = (int64_t)json_integer_value(json_object_get(out->claims, "exp"));
    out->iat = (int64_t)json_integer_value(json_object_get(out->claims, "iat"));
    if (!out->client_id || !out->jti || !out->exp)
        return inactive(err, "claims incomplete");
    if (out->exp <= now)
        return inactive(err, "token expired");
    /* by jti for both formats: a replayed authorization code revokes by jti */
    if ((rc = mdt_store_jti_is_revoked(env->store, out->jti, &revoked, err)) != MDT_OK)
        return rc;
    if (revoked)
        return inactive(err, "token revoked");
    if ((rc = mdt_token_user_check(env, a, json_string_value(json_object_get(out->claims, "sub")),
                                   out->client_id, err)) != MDT_OK ||
        (rc = mdt_token_client_check(env, a, out->client_id, out->iat, now, err)) != MDT_OK)
        return rc;
    if (!json_object_get(out->claims, "sid") && !json_object_get(out->claims, "act") &&
        !json_object_get(out->claims, "lineage"))
        return MDT_OK; /* the hot path: nothing derived */
    return check_chain(env, a, now, out, err);
}

mdt_rc mdt_token_use_once(mdt_env *env, const mdt_token_info *ti, mdt_err *err)
{
    json_t *app = json_object_get(ti->claims, "app");
    int64_t uses = 0;
    mdt_rc rc;

    if (!json_is_string(json_object_get(app, "approval")))
        return MDT_OK;
    rc = mdt_store_single_use_take(env->store, ti->jti, &uses, err);
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        return MDT_OK;
    }
    if (rc != MDT_OK)
        return rc;
    return uses > 1 ? inactive(err, "single-use token used before") : MDT_OK;
}

mdt_rc mdt_token_user_check(mdt_env *env, mdt_arena *a, const char *sub, const char *client_id,
                            mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc;

    if (!sub || mdt_str_eq(sub, client_id)) /* no person: the client acts for itself */
        return MDT_OK;
    rc = mdt_store_user_get(env->store, sub, a, &u, err);
    if (rc == MDT_ERR_NOT_FOUND) { /* a subject from elsewhere (a trusted issuer's) */
        mdt_err_clear(err);
        return MDT_OK;
    }
    if (rc != MDT_OK)
        return rc;
    return mdt_str_eq(u.status, "active") ? MDT_OK : inactive(err, "the user is disabled");
}

/* Whether username is an active user with role admin. */
static mdt_rc user_is_admin(mdt_env *env, mdt_arena *a, const char *username, bool *yes,
                            mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, username, a, &u, err);

    *yes = false;
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        return MDT_OK;
    }
    if (rc != MDT_OK)
        return rc;
    *yes = mdt_str_eq(u.status, "active") && mdt_user_has_role(u.roles, "admin");
    return MDT_OK;
}

mdt_rc mdt_token_admin_scope_check(mdt_env *env, mdt_arena *a, const char *sub,
                                   const char *client_id, const char *scope, mdt_err *err)
{
    bool admin = false;
    mdt_rc rc;

    if (!mdt_words_has(scope, MDT_SCOPE_ADMIN) || !sub || mdt_str_eq(sub, client_id))
        return MDT_OK;
    if ((rc = user_is_admin(env, a, sub, &admin, err)) != MDT_OK)
        return rc;
    if (!admin)
        return mdt_failf(err, MDT_ERR_INVALID_SCOPE,
                         "the scope " MDT_SCOPE_ADMIN " is only for people with role admin",
                         "%.64s is not an active admin", sub);
    return MDT_OK;
}

const char *mdt_token_admin_scope_for(mdt_env *env, mdt_arena *a, const char *username,
                                      const char *scope, mdt_err *err)
{
    bool admin = false;
    const char *out = "";

    if (!mdt_words_has(scope, MDT_SCOPE_ADMIN))
        return scope;
    if (user_is_admin(env, a, username, &admin, err) != MDT_OK)
        return NULL;
    if (admin)
        return scope;
    for (mdt_words w = mdt_words_of(scope); out && mdt_words_next(&w);)
        if (!mdt_words_is(&w, MDT_SCOPE_ADMIN))
            out = mdt_arena_printf(a, "%s%s%.*s", out, *out ? " " : "", (int)w.len, w.word);
    if (!out)
        mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return out;
}

mdt_rc mdt_token_client_check(mdt_env *env, mdt_arena *a, const char *client_id, int64_t issued_at,
                              int64_t now, mdt_err *err)
{
    mdt_client c;
    mdt_rc rc = mdt_client_load(env, client_id, now, a, &c, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return inactive(err, "client deleted");
    if (rc != MDT_OK)
        return rc;
    if (!mdt_client_usable(&c, now))
        return inactive(err, "client not active");
    if (issued_at < c.tokens_valid_after)
        return inactive(err, "token revoked with its client");
    return MDT_OK;
}

/* ---- JWTs verified before: per thread, VERIFIED_SLOTS entries, each
 * keyed by the token's SHA-256 and kept until the token expires or another
 * token takes its slot. An entry holds what read_jwt produced from exactly
 * those bytes (signature and issuer checked); everything check_common
 * checks is checked again on every use, so a cached token is refused as
 * soon as an uncached one would be. A token takes a slot at its second
 * verification on the thread (the slot remembers the last token verified
 * there): one that is asked about once costs no copy and evicts nothing. */

#define VERIFIED_SLOTS 1024

typedef struct {
    const mdt_env *env;
    uint8_t key[MDT_SHA256_LEN];
    int64_t exp;
    json_t *claims;
    char *text; /* the claims as signed */
    size_t len;
    uint64_t seen; /* the last token verified for this slot (bytes 8..15 of its key) */
} verified;

static void verified_clear(verified *v)
{
    uint64_t seen = v->seen;

    json_decref(v->claims);
    free(v->text);
    memset(v, 0, sizeof(*v));
    v->seen = seen;
}

static void *verified_make(void) { return calloc(VERIFIED_SLOTS, sizeof(verified)); }

static void verified_free(void *p)
{
    verified *v = p;

    for (size_t i = 0; i < VERIFIED_SLOTS; i++)
        verified_clear(&v[i]);
    free(v);
}

static mdt_thread_local verified_caches = MDT_THREAD_LOCAL(verified_make, verified_free);

/* key's slot in this thread's cache; NULL when out of memory. */
static verified *verified_slot(const uint8_t key[MDT_SHA256_LEN])
{
    verified *v = mdt_thread_local_get(&verified_caches);

    return v ? &v[(key[0] | (size_t)key[1] << 8) % VERIFIED_SLOTS] : NULL;
}

mdt_rc mdt_token_inspect_cached(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                                mdt_token_info *out, bool *bad_signature, mdt_err *err)
{
    size_t len = strlen(token);
    uint8_t key[MDT_SHA256_LEN];
    verified *s;
    mdt_rc rc;

    if (bad_signature)
        *bad_signature = false;
    if (len == 0 || len > MDT_MAX_TOKEN_LEN ||
        strncmp(token, MDT_OPAQUE_PREFIX, strlen(MDT_OPAQUE_PREFIX)) == 0)
        return mdt_token_inspect(env, a, token, now, out, err);
    mdt_sha256(token, len, key);
    s = verified_slot(key);
    if (s && s->claims && s->env == env && s->exp > now &&
        CRYPTO_memcmp(s->key, key, sizeof(key)) == 0) {
        mdt_metrics_token_read(true);
        memset(out, 0, sizeof(*out));
        out->claims = json_incref(s->claims);
        if ((out->claims_text = mdt_arena_strndup(a, s->text, s->len)))
            out->claims_len = s->len;
        return check_common(env, a, now, out, err);
    }
    rc = mdt_token_inspect(env, a, token, now, out, err);
    if (out->claims)
        mdt_metrics_token_read(false);
    if (bad_signature)
        *bad_signature = rc == MDT_ERR_INVALID_TOKEN && !out->claims;
    if (rc == MDT_OK && s && out->claims_text) {
        uint64_t seen;
        char *text;

        memcpy(&seen, key + 8, sizeof(seen));
        if (s->seen != seen) { /* its first verification here: remembered, not kept */
            s->seen = seen;
            return rc;
        }
        text = mdt_strdup(out->claims_text);
        verified_clear(s);
        if (text) {
            s->env = env;
            memcpy(s->key, key, sizeof(key));
            s->exp = out->exp;
            s->claims = json_incref(out->claims);
            s->text = text;
            s->len = out->claims_len;
        }
    }
    return rc;
}

mdt_rc mdt_token_inspect(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                         mdt_token_info *out, mdt_err *err)
{
    size_t len = strlen(token);
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (len == 0 || len > MDT_MAX_TOKEN_LEN)
        return inactive(err, "token length out of bounds");
    if (strncmp(token, MDT_OPAQUE_PREFIX, strlen(MDT_OPAQUE_PREFIX)) == 0)
        rc = read_opaque(env, a, token, now, out, err);
    else
        rc = read_jwt(env, a, token, now, out, err);
    if (rc != MDT_OK)
        return rc;
    return check_common(env, a, now, out, err);
}
