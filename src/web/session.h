/* People's web sessions: server-side records found by the SHA-256 of a
 * random 256-bit id carried in the cookie `mandate_session` (HttpOnly,
 * SameSite=Lax, Path=/, Secure unless the issuer is loopback http). The
 * store never holds the id itself, so a copy of the database cannot be
 * turned into sessions. A session ends after [web] session_idle without a
 * request, session_max after login, or when revoked (logout).
 *
 * Memory: everything returned lives in the arena passed in (the request's). */
#ifndef MDT_WEB_SESSION_H
#define MDT_WEB_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "msg/msg.h"
#include "store/store.h"

#define MDT_WEB_SESSION_COOKIE "mandate_session"
#define MDT_WEB_SESSION_ID_BYTES 32  /* 256 bits of randomness */
#define MDT_WEB_SESSION_ID_LEN 43    /* its base64url length */
#define MDT_WEB_SESSION_TOUCH_EVERY 60 /* seconds between two last_seen_at writes */

typedef struct {
    const char *id;        /* the cookie value: a secret, never logged */
    mdt_session_rec rec;
} mdt_web_session;

/* Whether cookies carry Secure: false only for an http:// issuer (which
 * configuration allows only on loopback). */
bool mdt_web_cookie_secure(const mdt_config *cfg);
/* "name=value; Path=/; Max-Age=N; HttpOnly; SameSite=Lax[; Secure]" in a;
 * max_age < 0 leaves Max-Age out, 0 deletes the cookie. */
const char *mdt_web_set_cookie(mdt_arena *a, const char *name, const char *value,
                               int64_t max_age, bool secure);

/* Whether rec is usable at now: not revoked, before expires_at and within
 * idle seconds of last_seen_at. */
bool mdt_web_session_live(const mdt_session_rec *rec, int64_t now, int64_t idle);

/* The request's live session. MDT_ERR_NOT_FOUND when there is no cookie or
 * it names no live session; store faults keep their codes. Refreshes
 * last_seen_at at most every MDT_WEB_SESSION_TOUCH_EVERY seconds. */
mdt_rc mdt_web_session_get(mdt_env *env, mdt_req *req, mdt_arena *a, mdt_web_session *out,
                           mdt_err *err) MDT_WARN_UNUSED;
/* The request's live session into *s (true); otherwise (false) resp is the
 * answer: a redirect through /login that comes back to back_to (a path of
 * this server, query included), or a fault page when the store failed. */
bool mdt_web_session_or_login(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *back_to,
                              mdt_web_session *s);
/* Creates a session for username authenticated now by amr (e.g. "pwd"),
 * stores it and adds its Set-Cookie to resp. */
mdt_rc mdt_web_session_create(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *username,
                              const char *amr, mdt_web_session *out, mdt_err *err) MDT_WARN_UNUSED;
#define MDT_WEB_SID_LEN 32 /* bytes of a sid, NUL included */
/* The OpenID Connect sid of the session (ID tokens, and the access tokens
 * that end with the session): never the session's own hash. */
void mdt_web_session_sid(const mdt_session_rec *rec, char sid64[MDT_WEB_SID_LEN]);
/* Signing out: ends what was issued in s and depends on it (access tokens
 * bound to its sid and what was delegated from them, refresh tokens of
 * grants without offline_access: mdt_token_session_end), revokes s in the
 * store (at once, on every node) and adds a Set-Cookie that deletes the
 * cookie. */
mdt_rc mdt_web_session_revoke(mdt_env *env, mdt_req *req, mdt_resp *resp,
                              const mdt_web_session *s, mdt_err *err) MDT_WARN_UNUSED;

#endif
