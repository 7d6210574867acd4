#include "web/csrf.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/b64.h"

#define CSRF_LABEL "mandate-csrf-v1:"
#define CSRF_PURPOSE_MAX 64

void mdt_web_csrf_token(const char *secret, const char *purpose, char out[MDT_WEB_CSRF_LEN + 1])
{
    char msg[sizeof(CSRF_LABEL) + CSRF_PURPOSE_MAX];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(msg, sizeof(msg), CSRF_LABEL "%.*s", CSRF_PURPOSE_MAX, purpose);

    out[0] = '\0';
    if (n < 0 || !HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)msg,
                       (size_t)n, mac, &maclen) || maclen != 32)
        return; /* "" never verifies */
    mdt_b64url_encode(mac, 32, out);
    out[MDT_WEB_CSRF_LEN] = '\0';
}

bool mdt_web_csrf_verify(const char *secret, const char *purpose, const char *presented)
{
    char want[MDT_WEB_CSRF_LEN + 1];

    if (!secret || !secret[0] || !purpose || !presented || !presented[0])
        return false;
    mdt_web_csrf_token(secret, purpose, want);
    return want[0] && mdt_ct_eq(want, strlen(want), presented, strlen(presented));
}

static bool secret_valid(const char *s)
{
    return s && strlen(s) == MDT_WEB_CSRF_LEN &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               MDT_WEB_CSRF_LEN;
}

/* The browser's pre-session secret, or a new one set on resp. */
static mdt_rc pre_session_secret(mdt_env *env, mdt_req *req, mdt_resp *resp, const char **out,
                                 mdt_err *err)
{
    const char *have = mdt_req_cookie(req, MDT_WEB_CSRF_COOKIE);
    uint8_t raw[MDT_WEB_CSRF_SECRET_BYTES];
    char *s;

    if (secret_valid(have)) {
        *out = have;
        return MDT_OK;
    }
    if (!(s = mdt_arena_alloc(req->arena, MDT_WEB_CSRF_LEN + 1)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (mdt_random(&env->rng, raw, sizeof(raw)) != MDT_OK)
        return mdt_fail(err, MDT_ERR_CRYPTO, "no randomness");
    mdt_b64url_encode(raw, sizeof(raw), s);
    mdt_wipe(raw, sizeof(raw));
    mdt_resp_header(resp, "Set-Cookie",
                    mdt_web_set_cookie(req->arena, MDT_WEB_CSRF_COOKIE, s, -1,
                                       mdt_web_cookie_secure(&env->cfg)));
    *out = s;
    return MDT_OK;
}

mdt_rc mdt_web_csrf_issue(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                          const char *purpose, const char **token, mdt_err *err)
{
    const char *secret = s ? s->id : NULL;
    char *t;
    mdt_rc rc;

    *token = NULL;
    if (!secret && (rc = pre_session_secret(env, req, resp, &secret, err)) != MDT_OK)
        return rc;
    if (!(t = mdt_arena_alloc(req->arena, MDT_WEB_CSRF_LEN + 1)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_web_csrf_token(secret, purpose, t);
    *token = t;
    return MDT_OK;
}

/* The issuer's origin: scheme://host[:port], without the path. */
static bool same_origin(const char *issuer, const char *origin)
{
    const char *host = strstr(issuer, "://");
    size_t n;

    if (!host)
        return false;
    n = strcspn(host + 3, "/") + (size_t)(host + 3 - issuer);
    return strlen(origin) == n && strncmp(origin, issuer, n) == 0;
}

mdt_rc mdt_web_csrf_check(mdt_env *env, mdt_req *req, const mdt_web_session *s,
                          const char *purpose, mdt_err *err)
{
    const char *origin = mdt_req_header(req, "Origin");
    const char *presented = mdt_req_form(req, MDT_WEB_CSRF_FIELD);
    const char *secret = s ? s->id : mdt_req_cookie(req, MDT_WEB_CSRF_COOKIE);
    const char *deny = "the form expired or was not sent by this site";

    if (origin && strcmp(origin, "null") != 0 && !same_origin(env->cfg.issuer, origin))
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, deny, "csrf: cross-origin post from %.100s",
                         origin);
    if (!presented || !presented[0])
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, deny, "csrf: token missing");
    if (!secret_valid(secret))
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, deny, "csrf: %s cookie missing",
                         s ? "session" : MDT_WEB_CSRF_COOKIE);
    if (!mdt_web_csrf_verify(secret, purpose, presented))
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, deny, "csrf: token wrong");
    return MDT_OK;
}
