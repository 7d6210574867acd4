/* CIBA requests (iga/ciba.h): the row of hooks of the approval request type
 * "ciba", and the service that starts a request and answers a poll. The
 * person a request asks (its subject) may decide it; a decision needs no
 * hook: the client's next poll reads the request's status, so that a
 * decision that is not final yet (several approvers) keeps it pending. */
#include "iga/ciba.h"

#include <string.h>

#include "core/hash.h"
#include "iga/internal.h"
#include "iga/requests.h"

static mdt_rc user_active(mdt_env *env, const char *username, mdt_arena *a, mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc;

    if (!username || !*username)
        return mdt_fail(err, MDT_ERR_UNKNOWN_USER_ID, "unknown user");
    rc = mdt_store_user_get(env->store, username, a, &u, err);
    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return mdt_failf(err, MDT_ERR_UNKNOWN_USER_ID, "unknown user",
                         "user %.64s is unknown or disabled", username);
    return rc;
}

mdt_rc mdt_ciba_start(mdt_env *env, mdt_ctx *ctx, const mdt_ciba_ask *ask, mdt_arena *a,
                      const char **auth_req_id, int64_t *interval, mdt_err *err)
{
    mdt_request_rec r = {.type = MDT_CIBA_REQUEST_TYPE, .client_id = ask->client_id,
                         .subject = ask->subject, .scope = ask->scope,
                         .binding_message = ask->binding_message,
                         .authorization_details = ask->authorization_details,
                         .expires_at = ctx->now + ask->expires_in};
    mdt_ciba_rec rec = {.client_id = ask->client_id, .interval = env->cfg.ciba_interval,
                        .expires_at = r.expires_at};
    uint8_t hash[MDT_HASH_LEN];
    char id[64];
    mdt_rc rc;

    *auth_req_id = NULL;
    *interval = rec.interval;
    if (ask->expires_in < 1)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the request expires at once");
    if ((rc = user_active(env, ask->subject, a, err)) != MDT_OK)
        return rc;
    if (mdt_random_b64url(&env->rng, MDT_CIBA_ID_BYTES, id) != MDT_OK)
        return mdt_fail(err, MDT_ERR_CRYPTO, "cannot generate an auth_req_id");
    mdt_sha256(id, strlen(id), hash);
    if ((rc = mdt_request_create(env, ctx, &r, a, &rec.request_id, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_store_ciba_insert(env->store, hash, &rec, err)) != MDT_OK) {
        /* nobody could ever poll it: close it rather than offer it to the person */
        mdt_request_rec closed;
        mdt_rc closing = mdt_store_request_decide(env->store, rec.request_id, "denied",
                                                  mdt_ctx_actor(ctx), "could not be stored",
                                                  ctx->now, a, &closed, NULL);
        (void)closing; /* if this fails too, the request expires by itself */
        return rc;
    }
    if (!(*auth_req_id = mdt_arena_strdup(a, id)))
        return mdt_iga__nomem(err);
    return MDT_OK;
}

/* The answer to a poll of a request in status st (effective, at now). */
static mdt_rc status_answer(mdt_request_state st)
{
    switch (st) {
    case MDT_REQUEST_APPROVED:
        return MDT_OK;
    case MDT_REQUEST_DENIED:
        return MDT_ERR_DENIED_BY_USER;
    case MDT_REQUEST_EXPIRED:
        return MDT_ERR_EXPIRED_TOKEN;
    default:
        return MDT_ERR_AUTHORIZATION_PENDING;
    }
}

mdt_rc mdt_ciba_poll(mdt_env *env, mdt_ctx *ctx, const char *auth_req_id, const char *client_id,
                     mdt_arena *a, mdt_request_rec *out, mdt_err *err)
{
    int64_t now = ctx->now;
    uint8_t hash[MDT_HASH_LEN];
    mdt_ciba_rec rec;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!auth_req_id || !*auth_req_id || strlen(auth_req_id) > 128)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "auth_req_id is required");
    mdt_sha256(auth_req_id, strlen(auth_req_id), hash);
    rc = mdt_store_ciba_poll(env->store, hash, client_id, now, a, &rec, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_fail(err, MDT_ERR_INVALID_GRANT, "unknown auth_req_id");
    if (rc != MDT_OK)
        return rc;
    if (rec.consumed_at)
        return mdt_fail(err, MDT_ERR_INVALID_GRANT, "the auth_req_id was already redeemed");
    if (rec.expires_at <= now)
        return mdt_fail(err, MDT_ERR_EXPIRED_TOKEN, "the auth_req_id has expired");
    if (rec.last_poll && now - rec.last_poll < rec.interval)
        return mdt_fail(err, MDT_ERR_SLOW_DOWN, "polled faster than the interval");
    if ((rc = mdt_store_request_get(env->store, rec.request_id, a, out, err)) != MDT_OK)
        return rc == MDT_ERR_NOT_FOUND ? mdt_fail(err, MDT_ERR_INVALID_GRANT, "unknown auth_req_id")
                                       : rc;
    switch (rc = status_answer(mdt_request_state_from_name(mdt_request_status(out, now)))) {
    case MDT_OK:
        break;
    case MDT_ERR_DENIED_BY_USER:
        return mdt_fail(err, rc, "the person denied the request");
    case MDT_ERR_EXPIRED_TOKEN:
        return mdt_fail(err, rc, "the auth_req_id has expired");
    default:
        return mdt_fail(err, rc, "the person has not decided yet");
    }
    rc = mdt_store_ciba_consume(env->store, hash, now, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_fail(err, MDT_ERR_INVALID_GRANT, "the auth_req_id was already redeemed");
    return rc;
}

mdt_rc mdt_ciba_peek(mdt_env *env, const char *auth_req_id, const char *client_id, int64_t now,
                     mdt_arena *a, mdt_request_rec *out, mdt_err *err)
{
    uint8_t hash[MDT_HASH_LEN];
    mdt_ciba_rec rec;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!auth_req_id || !*auth_req_id || strlen(auth_req_id) > 128)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "auth_req_id is required");
    mdt_sha256(auth_req_id, strlen(auth_req_id), hash);
    if ((rc = mdt_store_ciba_get(env->store, hash, client_id, a, &rec, err)) != MDT_OK)
        return rc;
    if (rec.consumed_at || rec.expires_at <= now ||
        (rec.last_poll && now - rec.last_poll < rec.interval))
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "a poll now would not redeem it");
    if ((rc = mdt_store_request_get(env->store, rec.request_id, a, out, err)) != MDT_OK)
        return rc;
    if (status_answer(mdt_request_state_from_name(mdt_request_status(out, now))) != MDT_OK)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "not approved");
    return MDT_OK;
}

/* Approvers are shown the request's own fields (scope, binding_message,
 * authorization_details): no describe hook. */
const mdt_request_type mdt_iga__request_ciba = {
    .name = MDT_CIBA_REQUEST_TYPE,
    .owner_may_decide = false,
    .subject_may_decide = true,
};
