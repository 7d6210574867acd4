#include "web/session.h"

#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "oauth/redirect.h"
#include "oauth/tokens.h"
#include "web/render.h"

bool mdt_web_cookie_secure(const mdt_config *cfg)
{
    return !(cfg->issuer && strncmp(cfg->issuer, "http://", 7) == 0);
}

const char *mdt_web_set_cookie(mdt_arena *a, const char *name, const char *value,
                               int64_t max_age, bool secure)
{
    char age[40] = "";

    if (max_age >= 0)
        snprintf(age, sizeof(age), "; Max-Age=%lld", (long long)max_age);
    return mdt_arena_printf(a, "%s=%s; Path=/%s; HttpOnly; SameSite=Lax%s", name, value, age,
                            secure ? "; Secure" : "");
}

bool mdt_web_session_live(const mdt_session_rec *rec, int64_t now, int64_t idle)
{
    return rec->revoked_at == 0 && now < rec->expires_at && now < rec->last_seen_at + idle;
}

/* A well-formed id: exactly MDT_WEB_SESSION_ID_LEN base64url characters. */
static bool id_valid(const char *id)
{
    if (!id || strlen(id) != MDT_WEB_SESSION_ID_LEN)
        return false;
    return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           MDT_WEB_SESSION_ID_LEN;
}

mdt_rc mdt_web_session_get(mdt_env *env, mdt_req *req, mdt_arena *a, mdt_web_session *out,
                           mdt_err *err)
{
    const char *id = mdt_req_cookie(req, MDT_WEB_SESSION_COOKIE);
    uint8_t hash[MDT_HASH_LEN];
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!id_valid(id))
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "no session");
    mdt_sha256(id, strlen(id), hash);
    rc = mdt_store_session_get(env->store, hash, a, &out->rec, err);
    if (rc != MDT_OK)
        return rc;
    if (!mdt_web_session_live(&out->rec, req->now, env->cfg.session_idle))
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "session ended");
    if (req->now - out->rec.last_seen_at >= MDT_WEB_SESSION_TOUCH_EVERY) {
        rc = mdt_store_session_touch(env->store, hash, req->now, err);
        if (rc != MDT_OK)
            return rc;
        out->rec.last_seen_at = req->now;
    }
    out->id = id;
    return MDT_OK;
}

mdt_rc mdt_web_session_create(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *username,
                              const char *amr, mdt_web_session *out, mdt_err *err)
{
    uint8_t raw[MDT_WEB_SESSION_ID_BYTES];
    char *id = mdt_arena_alloc(req->arena, MDT_WEB_SESSION_ID_LEN + 1);
    mdt_session_rec *r = &out->rec;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!id)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if ((rc = mdt_random(&env->rng, raw, sizeof(raw))) != MDT_OK)
        return mdt_fail(err, rc, "no randomness");
    mdt_b64url_encode(raw, sizeof(raw), id);
    mdt_wipe(raw, sizeof(raw));
    mdt_sha256(id, strlen(id), r->hash);
    r->username = username;
    r->amr = amr;
    r->auth_time = r->created_at = r->last_seen_at = req->now;
    r->expires_at = req->now + env->cfg.session_max;
    if ((rc = mdt_store_session_insert(env->store, r, err)) != MDT_OK)
        return rc;
    out->id = id;
    mdt_resp_header(resp, "Set-Cookie",
                    mdt_web_set_cookie(req->arena, MDT_WEB_SESSION_COOKIE, id,
                                       env->cfg.session_max, mdt_web_cookie_secure(&env->cfg)));
    return MDT_OK;
}

void mdt_web_session_sid(const mdt_session_rec *rec, char sid64[MDT_WEB_SID_LEN])
{
    uint8_t sid[MDT_SHA256_LEN];

    mdt_sha256(rec->hash, sizeof(rec->hash), sid); /* never the session's own hash */
    mdt_b64url_encode(sid, 16, sid64);
}

mdt_rc mdt_web_session_revoke(mdt_env *env, mdt_req *req, mdt_resp *resp,
                              const mdt_web_session *s, mdt_err *err)
{
    char sid[MDT_WEB_SID_LEN];
    mdt_rc rc;

    /* first what was issued in it, so that a failure leaves the session to sign out again */
    mdt_web_session_sid(&s->rec, sid);
    if ((rc = mdt_token_session_end(env, sid, req->now, err)) != MDT_OK)
        return rc;
    rc = mdt_store_session_revoke(env->store, s->rec.hash, req->now, err);

    if (rc == MDT_OK)
        mdt_resp_header(resp, "Set-Cookie",
                        mdt_web_set_cookie(req->arena, MDT_WEB_SESSION_COOKIE, "", 0,
                                           mdt_web_cookie_secure(&env->cfg)));
    return rc;
}

bool mdt_web_session_or_login(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *back_to,
                              mdt_web_session *s)
{
    mdt_err err = {0};
    mdt_rc rc = mdt_web_session_get(env, req, req->arena, s, &err);

    if (rc == MDT_OK)
        return true;
    if (rc != MDT_ERR_NOT_FOUND) {
        mdt_web_fault_page(resp, &err, "The service could not read the session.");
        return false;
    }
    resp->status = 303;
    mdt_resp_header(resp, "Location", mdt_arena_printf(req->arena, "/login?return_to=%s",
                                                       mdt_url_encode(req->arena, back_to)));
    mdt_web_security_headers(resp);
    return false;
}
