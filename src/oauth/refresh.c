#include "oauth/refresh.h"
#include "oauth/tokens.h"

#include <string.h>

#include "core/buf.h"
#include "core/hash.h"
#include "iga/client.h"

#define REFRESH_BYTES 32 /* 256 bits */
#define FAMILY_BYTES 16

bool mdt_refresh_token_like(const char *token)
{
    return token && strncmp(token, MDT_REFRESH_PREFIX, strlen(MDT_REFRESH_PREFIX)) == 0;
}

mdt_rc mdt_refresh_family_new(mdt_env *env, mdt_arena *a, const char **family, mdt_err *err)
{
    char rnd[64];
    mdt_rc rc = mdt_random_b64url(&env->rng, FAMILY_BYTES, rnd);

    if (rc != MDT_OK)
        return mdt_fail(err, rc, "cannot generate a refresh token family");
    if (!(*family = mdt_arena_printf(a, MDT_REFRESH_FAMILY_PREFIX "%s", rnd)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

mdt_rc mdt_refresh_issue(mdt_env *env, mdt_arena *a, mdt_refresh_rec *r, const char **token,
                         mdt_err *err)
{
    char rnd[64];
    mdt_rc rc;

    *token = NULL;
    if (!r->family && (rc = mdt_refresh_family_new(env, a, &r->family, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_random_b64url(&env->rng, REFRESH_BYTES, rnd)) != MDT_OK)
        return mdt_fail(err, rc, "cannot generate a refresh token");
    *token = mdt_arena_printf(a, MDT_REFRESH_PREFIX "%s", rnd);
    mdt_wipe(rnd, sizeof(rnd));
    if (!*token)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_sha256(*token, strlen(*token), r->hash);
    r->used_at = 0;
    r->revoked_at = 0;
    return mdt_store_refresh_insert(env->store, r, err);
}

static mdt_rc inactive(mdt_err *err, const char *why)
{
    return mdt_failf(err, MDT_ERR_INVALID_TOKEN, "the token is not active", "%s", why);
}

mdt_rc mdt_refresh_inspect(mdt_env *env, mdt_arena *a, const char *token, int64_t now,
                           mdt_refresh_rec *out, mdt_err *err)
{
    uint8_t hash[MDT_HASH_LEN];
    bool revoked = false;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!mdt_refresh_token_like(token) || strlen(token) > MDT_REFRESH_MAX_LEN)
        return inactive(err, "not a refresh token");
    mdt_sha256(token, strlen(token), hash);
    rc = mdt_store_refresh_get(env->store, hash, a, out, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return inactive(err, "unknown refresh token");
    if (rc != MDT_OK)
        return rc;
    if (out->used_at || out->revoked_at)
        return inactive(err, out->used_at ? "refresh token rotated" : "refresh token revoked");
    if (out->expires_at <= now)
        return inactive(err, "refresh token expired");
    /* a replayed authorization code revokes the family by its id */
    if ((rc = mdt_store_jti_is_revoked(env->store, out->family, &revoked, err)) != MDT_OK)
        return rc;
    if (revoked)
        return inactive(err, "refresh token family revoked");
    /* a grant without offline_access ends with the person's session */
    if ((rc = mdt_token_session_ended(env, mdt_token_session_sid(out->sid, out->scope), &revoked,
                                      err)) != MDT_OK)
        return rc;
    if (revoked)
        return inactive(err, "the session it was issued in ended");
    if ((rc = mdt_token_user_check(env, a, out->subject, out->client_id, err)) != MDT_OK)
        return rc;
    return mdt_token_client_check(env, a, out->client_id, out->created_at, now, err);
}

const char *mdt_refresh_introspection(mdt_arena *a, const mdt_refresh_rec *r)
{
    mdt_buf b;
    const char *out = NULL;

    mdt_buf_init(&b, 16384);
    if (mdt_buf_adds(&b, "{\"active\":true,\"token_type\":\"refresh_token\",\"client_id\":") ==
            MDT_OK &&
        mdt_buf_add_json_str(&b, r->client_id) == MDT_OK &&
        mdt_buf_adds(&b, ",\"sub\":") == MDT_OK && mdt_buf_add_json_str(&b, r->subject) == MDT_OK &&
        mdt_buf_adds(&b, ",\"scope\":") == MDT_OK && mdt_buf_add_json_str(&b, r->scope) == MDT_OK &&
        mdt_buf_addf(&b, ",\"exp\":%lld,\"iat\":%lld}", (long long)r->expires_at,
                     (long long)r->created_at) == MDT_OK)
        out = mdt_arena_strndup(a, b.data, b.len);
    mdt_buf_free(&b);
    return out;
}
