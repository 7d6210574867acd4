/* RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6): the code is used in one
 * statement; then it must have been issued to this client, for this
 * redirect_uri, and the code_verifier must match its S256 challenge. A code
 * presented a second time is refused and every token issued from its first
 * use is revoked (RFC 6749 §4.1.2, RFC 9700 §4.5). The ids of those tokens
 * (the access token's jti, the refresh token family) are chosen before the
 * code is used and recorded by the statement that uses it, so that a second
 * use racing the first finds them even before they are minted. A failed
 * attempt uses the code up as well: whoever holds a code without its
 * verifier is not its client. */
#include <string.h>

#include "core/hash.h"
#include "oauth/grants.h"
#include "oauth/id_token.h"
#include "oauth/pkce.h"
#include "oauth/refresh.h"
#include "store/store.h"

#define CODE_MAX 128 /* bytes of a presented code */

typedef struct {
    const char *redirect_uri, *code_challenge, *scope, *resource, *amr, *nonce, *sid;
    bool redirect_given;
    int64_t auth_time;
} bound;

static mdt_rc invalid(mdt_err *err, const char *detail)
{
    return mdt_failf(err, MDT_ERR_INVALID_GRANT, "the authorization code is invalid", "%s",
                     detail);
}

/* What the code is bound to, as stored with it. */
static mdt_rc read_bound(const mdt_authz_code_rec *rec, bound *b, mdt_err *err)
{
    *b = (bound){.redirect_uri = rec->redirect_uri, .code_challenge = rec->code_challenge,
                 .scope = rec->scope, .resource = rec->resource, .amr = rec->amr,
                 .nonce = rec->nonce, .sid = rec->sid, .redirect_given = rec->redirect_given,
                 .auth_time = rec->auth_time};
    if (!b->redirect_uri || !*b->redirect_uri || !b->code_challenge || !*b->code_challenge ||
        !b->scope)
        return mdt_fail(err, MDT_ERR_STORE, "stored code parameters incomplete");
    return MDT_OK;
}

/* A replay: revoke what the first use issued, record it, refuse. */
static mdt_rc replayed(mdt_env *env, mdt_req *req, const mdt_client *c,
                       const mdt_authz_code_rec *rec, mdt_err *err)
{
    mdt_audit_event ev = {.type = "token.code_reused", .actor = c->client_id,
                          .client_id = rec->client_id, .subject = rec->username,
                          .decision = "deny", .reason = "authorization code used twice",
                          .request_id = req->request_id, .ip = req->peer_ip};
    /* token_jtis: what codes used before access_jti and family existed recorded */
    const char *old = rec->token_jtis ? rec->token_jtis : "";
    const char *jti = rec->access_jti ? rec->access_jti : "", *fam = rec->family ? rec->family : "";
    char *list = mdt_arena_printf(req->arena, "%s%s%s%s%s", old, *old && *jti ? " " : "", jti,
                                  *fam ? " " : "", fam);
    mdt_err e2 = {0};

    if (!list)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        char save = p[n];

        p[n] = '\0';
        if (n && mdt_store_jti_revoke(env->store, p, rec->client_id, rec->tokens_expire_at,
                                      req->now, &e2) != MDT_OK)
            return mdt_fail(err, e2.rc, "cannot revoke the tokens of a replayed code");
        /* a refresh token family: its later access tokens go too */
        if (strncmp(p, MDT_REFRESH_FAMILY_PREFIX, strlen(MDT_REFRESH_FAMILY_PREFIX)) == 0 &&
            mdt_store_refresh_revoke_family(env->store, p, req->now, &e2) != MDT_OK)
            return mdt_fail(err, e2.rc, "cannot revoke the refresh tokens of a replayed code");
        p += n + (save == ' ');
    }
    ev.data = mdt_arena_printf(req->arena, "{\"revoked_tokens\":\"%s\"}", list);
    if (mdt_ctx_audit_outcome(&req->ctx, &ev, &e2) != MDT_OK)
        return mdt_fail(err, e2.rc, "cannot record a replayed code");
    return invalid(err, "authorization code used before: its tokens are revoked");
}

/* The code is this client's, for this redirect_uri and code_verifier, and
 * dpop_jkt (the key of the request's DPoP proof; NULL: none) is the key it
 * is bound to, if any. */
static mdt_rc check_bound(mdt_req *req, const mdt_client *c, const char *dpop_jkt,
                          const mdt_authz_code_rec *rec, const bound *b, mdt_err *err)
{
    const char *ru = mdt_req_form(req, "redirect_uri");

    if (!mdt_str_eq(rec->client_id, c->client_id))
        return invalid(err, "authorization code issued to another client");
    if (b->redirect_given ? !mdt_str_eq(ru, b->redirect_uri) : ru && !mdt_str_eq(ru, b->redirect_uri))
        return invalid(err, "redirect_uri differs from the authorization request's");
    if (!mdt_req_form(req, "code_verifier"))
        return mdt_failf(err, MDT_ERR_INVALID_GRANT, "code_verifier is required",
                         "code_verifier missing");
    if (!mdt_pkce_verify(mdt_req_form(req, "code_verifier"), b->code_challenge))
        return mdt_failf(err, MDT_ERR_INVALID_GRANT, "code_verifier does not match",
                         "PKCE verification failed");
    /* RFC 9449 §10: a code bound to a DPoP key (dpop_jkt, or the proof at /par) */
    if (rec->dpop_jkt && *rec->dpop_jkt && !mdt_str_eq(rec->dpop_jkt, dpop_jkt))
        return mdt_failf(err, dpop_jkt ? MDT_ERR_INVALID_GRANT : MDT_ERR_INVALID_DPOP_PROOF,
                         dpop_jkt ? "the authorization code is bound to another DPoP key"
                                  : "the authorization code is bound to a DPoP key: a DPoP "
                                    "proof of it is required",
                         "code bound to DPoP key %.43s", rec->dpop_jkt);
    return MDT_OK;
}

/* Consumes the code, recording ids; checks client, redirect_uri and verifier. */
static mdt_rc redeem(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                     const mdt_code_issue *ids, mdt_authz_code_rec *rec, bound *b, mdt_err *err)
{
    const char *code = mdt_req_form(req, "code");
    uint8_t hash[MDT_HASH_LEN];
    mdt_rc rc;

    if (!code || !*code || strlen(code) > CODE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "code is required");
    mdt_sha256(code, strlen(code), hash);
    rc = mdt_store_code_consume(env->store, hash, req->now, ids, req->arena, rec, err);
    if (rc == MDT_ERR_CONFLICT)
        return replayed(env, req, &who->client, rec, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return invalid(err, "unknown or expired authorization code");
    if (rc != MDT_OK || (rc = read_bound(rec, b, err)) != MDT_OK)
        return rc;
    return check_bound(req, &who->client, who->dpop_jkt, rec, b, err);
}

/* The code as stored, before it is used, for the decision of the PDP
 * (mdt_scope_policy): a request asked again once an external PDP answered
 * finds it as it was. A code this request cannot redeem (unknown, used,
 * expired, another client's, a wrong redirect_uri or verifier) is not
 * judged: redeem() uses it up and refuses, as without a PDP. *scope: the
 * scope of the access token (fewer scopes when the PDP dropped some);
 * NULL when not judged. */
static mdt_rc code_policy(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                          const char **scope, mdt_grant_result *out, mdt_err *err)
{
    const char *code = mdt_req_form(req, "code");
    uint8_t hash[MDT_HASH_LEN];
    mdt_authz_code_rec rec;
    mdt_policy_ask ask = {0};
    mdt_client view;
    mdt_err ignored;
    bound b;
    mdt_rc rc;

    *scope = NULL;
    if (!mdt_scope_policy_on(env) || !code || !*code || strlen(code) > CODE_MAX)
        return MDT_OK;
    mdt_sha256(code, strlen(code), hash);
    rc = mdt_store_code_get(env->store, hash, req->arena, &rec, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return MDT_OK;
    if (rc != MDT_OK)
        return rc;
    if (rec.used_at || rec.expires_at <= req->now || read_bound(&rec, &b, &ignored) != MDT_OK ||
        check_bound(req, &who->client, who->dpop_jkt, &rec, &b, &ignored) != MDT_OK)
        return MDT_OK;
    if ((rc = mdt_consented_client(env, req->arena, &who->client, NULL, b.resource, &view, err)) !=
            MDT_OK ||
        (rc = mdt_resource_select(req->arena, &view, env->cfg.issuer, b.resource, &ask.aud,
                                  &ask.naud, err)) != MDT_OK)
        return rc;
    ask.user = rec.username;
    *scope = b.scope;
    return mdt_scope_policy(env, req, who, &ask, scope, out, err);
}

static mdt_rc user_active(mdt_env *env, mdt_req *req, const char *username, mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, username, req->arena, &u, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return invalid(err, "the user is no longer active");
    return rc;
}

/* Whether the grant gets a refresh token: the client must be registered for
 * the refresh_token grant, and an OpenID Connect request (scope openid)
 * must have been granted offline_access (OIDC Core §11): a refresh token
 * outlives the sign-in session, which is what offline_access asks for.
 * Requests without openid get one as before (plain OAuth clients). */
static bool wants_refresh(const mdt_client *c, const char *scope)
{
    if (!mdt_client_has_grant(c, "refresh_token"))
        return false;
    return !mdt_scope_has(scope, "openid") || mdt_scope_has(scope, "offline_access");
}

/* The ids of what this redemption issues, and until when they live: the
 * access token's jti, and the refresh token family when the client is
 * registered for the refresh_token grant. */
static mdt_rc choose_ids(mdt_env *env, mdt_req *req, const mdt_grant *g, mdt_code_issue *ids,
                         mdt_err *err)
{
    char jti[32];
    int64_t refresh_until = mdt_token_exp_clamp(g->client, req->now + env->cfg.refresh_token_ttl);
    mdt_rc rc = mdt_random_b64url(&env->rng, MDT_JTI_BYTES, jti);

    memset(ids, 0, sizeof(*ids));
    if (rc != MDT_OK)
        return mdt_fail(err, rc, "cannot generate a token id");
    if (!(ids->access_jti = mdt_arena_strdup(req->arena, jti)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    ids->family = "";
    ids->expires_at = g->exp;
    if (!mdt_client_has_grant(g->client, "refresh_token"))
        return MDT_OK;
    if (refresh_until > ids->expires_at)
        ids->expires_at = refresh_until;
    return mdt_refresh_family_new(env, req->arena, &ids->family, err);
}

/* A refresh token, of the family recorded with the code, when
 * wants_refresh. */
static mdt_rc issue_refresh(mdt_env *env, mdt_req *req, const mdt_authz_code_rec *rec,
                            const bound *b, const mdt_grant *g, const mdt_code_issue *ids,
                            mdt_grant_result *out, mdt_err *err)
{
    mdt_refresh_rec r = {.client_id = rec->client_id, .subject = rec->username, .family = ids->family,
                         .scope = b->scope, .resource = b->resource, .auth_time = b->auth_time,
                         .amr = b->amr, .sid = b->sid, .cnf_x5t = g->cnf_x5t,
                         .cnf_jkt = mdt_refresh_dpop_jkt(g),
                         .created_at = g->iat, .access_jti = out->token.jti,
                         .access_exp = g->exp};
    mdt_rc rc;

    if (!*ids->family || !wants_refresh(g->client, b->scope))
        return MDT_OK; /* a family chosen before the scope was known stays unused */
    r.expires_at = mdt_token_exp_clamp(g->client, req->now + env->cfg.refresh_token_ttl);
    rc = mdt_refresh_issue(env, req->arena, &r, &out->refresh_token, err);
    if (rc == MDT_ERR_CONFLICT)
        return invalid(err, "authorization code used again meanwhile: its tokens are revoked");
    return rc;
}

mdt_rc mdt_grant_authorization_code(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                    mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    mdt_grant g = {.client = c, .auth_method = who->method};
    int64_t ttl = c->access_token_ttl ? c->access_token_ttl : env->cfg.access_token_ttl;
    mdt_authz_code_rec rec;
    mdt_code_issue ids;
    mdt_client view;
    bound b = {0};
    const char *judged = NULL; /* the scope the PDP left, when it judged the code */
    mdt_rc rc;

    mdt_token_times(&g, c, req->now, ttl, 0);
    if ((rc = code_policy(env, req, who, &judged, out, err)) != MDT_OK ||
        (rc = choose_ids(env, req, &g, &ids, err)) != MDT_OK ||
        (rc = redeem(env, req, who, &ids, &rec, &b, err)) != MDT_OK ||
        (rc = user_active(env, req, rec.username, err)) != MDT_OK ||
        (rc = mdt_scope_still_entitled(env, req->arena, c, b.scope, err)) != MDT_OK ||
        (rc = mdt_consented_client(env, req->arena, c, NULL, b.resource, &view, err)) != MDT_OK ||
        (rc = mdt_resource_select(req->arena, &view, env->cfg.issuer, b.resource, &g.aud, &g.naud,
                                  err)) != MDT_OK ||
        (rc = mdt_client_cert_binding(env, req, who, &g.cnf_x5t, err)) != MDT_OK)
        return rc;
    if (mdt_scope_policy_on(env) && !judged) /* read as redeemed: cannot happen */
        return mdt_fail(err, MDT_ERR_INTERNAL, "the authorization code was not decided");
    g.sub = rec.username; /* RFC 9068 §2.2: the user */
    g.scope = judged ? judged : b.scope; /* the same code: its scope, or what the PDP left */
    g.auth_time = b.auth_time;
    g.amr = b.amr;
    g.jti = ids.access_jti;
    g.sid = mdt_token_session_sid(b.sid, b.scope);
    out->scope = g.scope;
    out->subject = rec.username;
    g.cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    if ((rc = mdt_token_mint(env, req->arena, &g, &out->token, err)) != MDT_OK ||
        (rc = mdt_id_token_beside(env, req->arena, req->now, g.scope,
                                  (mdt_id_token_params){.client = c, .sub = g.sub,
                                                        .nonce = b.nonce, .auth_time = b.auth_time,
                                                        .amr = b.amr, .sid = b.sid,
                                                        .access_token = out->token.access_token},
                                  &out->id_token, err)) != MDT_OK)
        return rc;
    return issue_refresh(env, req, &rec, &b, &g, &ids, out, err);
}
