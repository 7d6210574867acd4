/* CSRF protection of every form (SPEC §2.6).
 *
 * Design (works across nodes and restarts, with no server-side key):
 * a form's token is base64url(HMAC-SHA256(key = binding secret,
 * "mandate-csrf-v1:" purpose)), where the binding secret is
 *   - the session id (the `mandate_session` cookie value) when the form
 *     belongs to a signed-in person (logout, consent...), or
 *   - a random 256-bit pre-session value in the cookie `mandate_csrf`
 *     (HttpOnly, SameSite=Lax, Secure like the session cookie), set when
 *     a form is rendered without a session (the login form): a
 *     double-submit cookie whose token is keyed by it.
 * Another site can neither read these cookies nor compute a token without
 * them; any node can verify a token from the request alone. The purpose
 * ("login", "logout", ...) keeps a token from serving another form. In
 * addition a POST whose Origin header names another origin than the
 * issuer's is refused.
 *
 * Memory: returned strings live in the request's arena. */
#ifndef MDT_WEB_CSRF_H
#define MDT_WEB_CSRF_H

#include <stdbool.h>

#include "app/env.h"
#include "core/mdt.h"
#include "msg/msg.h"
#include "web/session.h"

#define MDT_WEB_CSRF_COOKIE "mandate_csrf"
#define MDT_WEB_CSRF_FIELD "csrf_token"
#define MDT_WEB_CSRF_SECRET_BYTES 32
#define MDT_WEB_CSRF_LEN 43 /* base64url of a SHA-256 HMAC */

/* The token of purpose under secret into out (NUL-terminated). */
void mdt_web_csrf_token(const char *secret, const char *purpose, char out[MDT_WEB_CSRF_LEN + 1]);
/* Constant-time check of a presented token; false when any is NULL or empty. */
bool mdt_web_csrf_verify(const char *secret, const char *purpose, const char *presented);

/* The token to embed in a form of purpose: bound to s when not NULL, else
 * to the browser's pre-session cookie, created (and its Set-Cookie added to
 * resp) when missing or malformed. */
mdt_rc mdt_web_csrf_issue(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                          const char *purpose, const char **token, mdt_err *err) MDT_WARN_UNUSED;
/* Checks a submitted form (already parsed): its csrf_token field against
 * s (or the pre-session cookie when s is NULL) and the Origin header.
 * MDT_ERR_ACCESS_DENIED with the reason in detail. */
mdt_rc mdt_web_csrf_check(mdt_env *env, mdt_req *req, const mdt_web_session *s,
                          const char *purpose, mdt_err *err) MDT_WARN_UNUSED;

#endif
