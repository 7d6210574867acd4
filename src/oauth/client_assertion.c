/* RFC 7523 client assertions (client_assertion_type
 * urn:ietf:params:oauth:client-assertion-type:jwt-bearer), two methods:
 *
 * private_key_jwt: the client signs its own assertion. iss = sub = its
 *   client_id; aud names this server and nothing else (its issuer or the
 *   token endpoint URL, as a string or an array of only these: SPEC §3.2,
 *   draft-ietf-oauth-rfc7523bis), at every endpoint; exp required, at most [client_auth]
 *   assertion_max_lifetime ahead; jti required and single use (the store's
 *   replay cache, so across threads and nodes); alg ES256, RS256, PS256 or
 *   EdDSA, and the registered token_endpoint_auth_signing_alg when set; key
 *   from the registered jwks or jwks_uri (JWK Set cache: one refetch per
 *   refetch interval on an unknown kid).
 *
 * workload_identity: the assertion is a platform token (SPIFFE JWT-SVID,
 *   Kubernetes service-account token) whose iss is a trusted [workload]
 *   issuer and whose sub is the client's registered workload_identity
 *   subject; aud the issuer's configured audience; exp required, at most
 *   MDT_WORKLOAD_MAX_AHEAD away; no jti rule (platforms reuse a token for
 *   its lifetime). The client is the one named by client_id, or else the
 *   one whose workload credential matches issuer and subject.
 *
 * Which method applies is decided by the assertion's iss: a trusted
 * workload issuer, or else a client_id. Times allow MDT_ASSERTION_LEEWAY of
 * clock skew. Every failure is the uniform invalid_client, with the precise
 * reason in err->detail for the audit log. */
#include <string.h>

#include "iga/credentials.h"
#include "oauth/assertion.h"
#include "oauth/cimd.h"
#include "oauth/client_auth.h"
#include "oauth/jwks_cache.h"
#include "oauth/trust.h"

/* Verifies the signature; thumb gets the RFC 7638 thumbprint of the key. */
static mdt_rc verify(mdt_env *env, const mdt_assertion *a, const mdt_key_source *src, int64_t now,
                     uint8_t thumb[32], mdt_err *err)
{
    mdt_err verr = {0};
    mdt_rc rc = mdt_jwks_verify(env->jwks, a, src, now, thumb, &verr);

    if (rc == MDT_OK || rc != MDT_ERR_VERIFY) {
        if (err && rc != MDT_OK)
            *err = verr;
        return rc;
    }
    return mdt_client_auth_fail(err, "%s", mdt_err_text(&verr));
}

static mdt_rc check(const mdt_assertion *a, const mdt_assertion_rules *r, int64_t now,
                    mdt_err *err)
{
    mdt_err cerr = {0};

    if (mdt_assertion_check(a, r, now, &cerr) == MDT_OK)
        return MDT_OK;
    return mdt_client_auth_fail(err, "%s", mdt_err_text(&cerr));
}

static mdt_rc load_client(mdt_env *env, mdt_req *req, const char *id, mdt_client_authn *out,
                          const char *unknown, mdt_err *err)
{
    mdt_rc rc = mdt_client_load(env, id, req->now, req->arena, &out->client, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "%s", unknown);
    if (rc != MDT_OK)
        return rc;
    if (!mdt_auth_method_presented_as(out->client.auth_method, MDT_PRESENT_ASSERTION))
        return mdt_client_auth_fail(err, "client registered for %s, used a client assertion",
                                    out->client.auth_method);
    return MDT_OK;
}

/* The client named id: a stored client, or, for a document URL, the
 * candidate built from its client ID metadata document (nothing stored
 * until the request authenticated: mdt_cimd_register). */
static mdt_rc client_or_document(mdt_env *env, mdt_req *req, const char *id,
                                 mdt_client_authn *out, mdt_cimd_doc *doc, bool *is_doc,
                                 const char *unknown, mdt_err *err)
{
    mdt_rc rc;

    if (!(*is_doc = mdt_cimd_is_url(env, id)))
        return load_client(env, req, id, out, unknown, err);
    if ((rc = mdt_cimd_prepare(env, req, id, doc, &out->client, err)) != MDT_OK)
        return rc;
    if (!mdt_auth_method_presented_as(out->client.auth_method, MDT_PRESENT_ASSERTION))
        return mdt_client_auth_fail(err, "client registered for %s, used a client assertion",
                                    out->client.auth_method ? out->client.auth_method : "none");
    return MDT_OK;
}

/* A credential row that matched: refused once expired, else touched. */
static mdt_rc use_cred(mdt_env *env, mdt_req *req, mdt_client_authn *out, const char *type,
                       const uint8_t hash[MDT_HASH_LEN], mdt_err *err)
{
    const mdt_cred_rec *cred = mdt_client_cred_find(&out->client, type, hash);

    out->cred_id = NULL;
    if (!cred)
        return MDT_OK;
    if (!mdt_cred_live(cred, req->now))
        return mdt_client_auth_fail(err, "credential %s has expired", cred->id);
    mdt_client_cred_used(env, &out->client, cred, req->now);
    out->cred_id = cred->id;
    return MDT_OK;
}

static mdt_rc private_key_jwt(mdt_env *env, mdt_req *req, const mdt_assertion *a,
                              mdt_client_authn *out, mdt_err *err)
{
    const char *form_id = mdt_req_form(req, "client_id"), *iss = env->cfg.issuer;
    const char *aud[2] = {iss, mdt_arena_printf(req->arena, "%s/token", iss)};
    mdt_assertion_rules rules = {.iss = a->iss, .sub = a->iss, .aud = aud, .naud = 2,
                                 .max_lifetime = env->cfg.assertion_max_lifetime,
                                 .require_jti = true};
    mdt_key_source src;
    uint8_t hash[MDT_HASH_LEN];
    mdt_cimd_doc doc;
    bool is_doc = false;
    mdt_rc rc;

    if (!aud[1])
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (form_id && !mdt_str_eq(form_id, a->iss))
        return mdt_client_auth_fail(err, "assertion iss is neither the client_id nor a trusted "
                                         "workload issuer");
    if ((rc = client_or_document(env, req, a->iss, out, &doc, &is_doc,
                                 "unknown client (assertion iss is neither a client_id nor a "
                                 "trusted workload issuer)", err)) != MDT_OK)
        return rc;
    if (!out->client.jwks && !out->client.jwks_uri)
        return mdt_client_auth_fail(err, "client has no registered keys (jwks or jwks_uri)");
    rules.alg = out->client.auth_signing_alg;
    src = (mdt_key_source){.jwks = out->client.jwks, .uri = out->client.jwks_uri,
                           .wait = req->waiter};
    if ((rc = check(a, &rules, req->now, err)) != MDT_OK ||
        (rc = verify(env, a, &src, req->now, hash, err)) != MDT_OK)
        return rc;
    if (src.uri)
        mdt_cred_name_hash(src.uri, hash);
    if ((rc = use_cred(env, req, out, "jwk", hash, err)) != MDT_OK)
        return rc;
    /* kept past exp by the leeway, during which the assertion still passes */
    out->jti_use = (mdt_jti_use_rec){.issuer = mdt_arena_strdup(req->arena, a->iss),
                                     .jti = mdt_arena_strdup(req->arena, a->jti),
                                     .expires_at = a->exp + MDT_ASSERTION_LEEWAY};
    if (!out->jti_use.issuer || !out->jti_use.jti)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    /* with the token it issues, in the group commit (client_auth.h), unless
     * the client is about to be created from its document */
    rc = is_doc || !mdt_client_checks_active() ? mdt_client_authn_consume(env, req, out, err)
                                                : MDT_OK;
    if (rc == MDT_OK && is_doc) /* authenticated: now the client may be created */
        rc = mdt_cimd_register(env, req, a->iss, &doc, &out->client, err);
    out->method = "private_key_jwt";
    return rc;
}

/* The client a workload token authenticates: client_id, else the owner of
 * the workload credential of (issuer, subject). */
static mdt_rc workload_client_id(mdt_env *env, mdt_req *req, const mdt_assertion *a,
                                 const char **id, mdt_err *err)
{
    uint8_t h[MDT_HASH_LEN];
    mdt_cred_rec cred;
    mdt_rc rc;

    if ((*id = mdt_req_form(req, "client_id")))
        return MDT_OK;
    if ((rc = mdt_cred_workload_hash(a->iss, a->sub, h, err)) != MDT_OK)
        return rc;
    rc = mdt_store_cred_find(env->store, "workload", h, req->arena, &cred, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "no client has this workload identity");
    if (rc == MDT_OK)
        *id = cred.client_id;
    return rc;
}

static mdt_rc workload(mdt_env *env, mdt_req *req, const mdt_assertion *a,
                       const mdt_trusted_issuer *ti, mdt_client_authn *out,
                       const char **claimed_id, mdt_err *err)
{
    const char *id = NULL;
    mdt_assertion_rules rules = {.iss = ti->issuer, .aud = &ti->audience, .naud = 1,
                                 .max_lifetime = ti->max_lifetime};
    mdt_key_source src = {.uri = ti->jwks_uri, .fixed = ti->keys, .wait = req->waiter};
    uint8_t hash[MDT_HASH_LEN];
    mdt_cimd_doc doc;
    bool is_doc = false;
    mdt_rc rc;

    if (!a->sub || !*a->sub)
        return mdt_client_auth_fail(err, "workload token without sub");
    if ((rc = workload_client_id(env, req, a, &id, err)) != MDT_OK)
        return rc;
    *claimed_id = id;
    if ((rc = client_or_document(env, req, id, out, &doc, &is_doc, "unknown client", err)) !=
        MDT_OK)
        return rc;
    if (!mdt_str_eq(out->client.workload_issuer, a->iss))
        return mdt_client_auth_fail(err, "client has no workload identity of issuer %.80s", a->iss);
    if (!mdt_str_eq(out->client.workload_subject, a->sub))
        return mdt_client_auth_fail(err, "workload token for another subject");
    rules.sub = out->client.workload_subject;
    rules.alg = out->client.auth_signing_alg;
    if ((rc = check(a, &rules, req->now, err)) != MDT_OK ||
        (rc = verify(env, a, &src, req->now, hash, err)) != MDT_OK ||
        (rc = mdt_cred_workload_hash(a->iss, a->sub, hash, err)) != MDT_OK ||
        (rc = use_cred(env, req, out, "workload", hash, err)) != MDT_OK)
        return rc;
    if (is_doc && (rc = mdt_cimd_register(env, req, id, &doc, &out->client, err)) != MDT_OK)
        return rc;
    out->method = "workload_identity";
    return MDT_OK;
}

mdt_rc mdt_client_auth_assertion(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                                 const char **claimed_id, mdt_err *err)
{
    const char *type = mdt_req_form(req, "client_assertion_type");
    const char *jwt = mdt_req_form(req, "client_assertion");
    const mdt_trusted_issuer *ti;
    mdt_assertion a;
    mdt_err perr = {0};
    mdt_rc rc;

    if (!mdt_str_eq(type, MDT_ASSERTION_TYPE_JWT_BEARER))
        return mdt_client_auth_fail(err, type ? "unsupported client_assertion_type"
                                              : "client_assertion_type missing");
    if (!jwt)
        return mdt_client_auth_fail(err, "client_assertion missing");
    if (mdt_assertion_parse(jwt, strlen(jwt), &a, &perr) != MDT_OK)
        return mdt_client_auth_fail(err, "malformed client assertion: %s", mdt_err_text(&perr));
    if (!a.iss || !*a.iss) {
        rc = mdt_client_auth_fail(err, "client assertion without iss");
    } else if ((ti = mdt_trust_find(env->trust, MDT_TRUST_WORKLOAD, a.iss))) {
        rc = workload(env, req, &a, ti, out, claimed_id, err);
    } else {
        if (!*claimed_id)
            *claimed_id = mdt_arena_strndup(req->arena, a.iss, 128);
        rc = private_key_jwt(env, req, &a, out, err);
    }
    mdt_assertion_clear(&a);
    return rc;
}
