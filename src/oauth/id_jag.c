/* Identity Assertion JWT Authorization Grants (see id_jag.h): the claims,
 * and their issue by token exchange (RFC 8693 with
 * requested_token_type=urn:ietf:params:oauth:token-type:id-jag).
 *
 * The client exchanges an ID token this server issued to it (or an access
 * token of this server issued to it, naming a person) and names in audience
 * an authorization server of the [id_jag] targets file that lists the
 * client. The ID-JAG names the same person, the client's id at the target,
 * and at most the target's scopes and one of its resources; it lives the
 * target's ttl, never beyond the client's own expiry, and is signed with
 * the key that signs tokens (typ oauth-id-jag+jwt). The token response
 * carries it as access_token with issued_token_type
 * urn:ietf:params:oauth:token-type:id-jag and token_type N_A. */
#include "oauth/id_jag.h"

#include <string.h>
#include <strings.h>

#include "core/words.h"
#include "jose/jws.h"
#include "keys/keyring.h"
#include "oauth/grants.h"
#include "oauth/id_token.h"

#define CLAIMS_MAX (16 * 1024) /* bytes of the claims of an ID-JAG */

static mdt_rc add_member(mdt_buf *b, const char *key, const char *val)
{
    mdt_rc rc;

    if (!val || !*val)
        return MDT_OK;
    if ((rc = mdt_buf_addf(b, ",\"%s\":", key)) != MDT_OK)
        return rc;
    return mdt_buf_add_json_str(b, val);
}

mdt_rc mdt_id_jag_claims_json(const mdt_id_jag_claims *c, mdt_buf *b)
{
    mdt_rc rc;

    if ((rc = mdt_buf_adds(b, "{\"iss\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, c->iss)) != MDT_OK ||
        (rc = add_member(b, "sub", c->sub)) != MDT_OK ||
        (rc = add_member(b, "aud", c->aud)) != MDT_OK ||
        (rc = add_member(b, "client_id", c->client_id)) != MDT_OK ||
        (rc = add_member(b, "jti", c->jti)) != MDT_OK ||
        (rc = mdt_buf_addf(b, ",\"iat\":%lld,\"exp\":%lld", (long long)c->iat,
                           (long long)c->exp)) != MDT_OK ||
        (c->auth_time &&
         (rc = mdt_buf_addf(b, ",\"auth_time\":%lld", (long long)c->auth_time)) != MDT_OK) ||
        (rc = add_member(b, "scope", c->scope)) != MDT_OK ||
        (rc = add_member(b, "resource", c->resource)) != MDT_OK)
        return rc;
    return mdt_buf_adds(b, "}");
}

mdt_rc mdt_id_jag_narrow(mdt_arena *a, const mdt_id_jag_target *tg, const char *scope,
                         const char *resource, const char **granted, mdt_err *err)
{
    mdt_client allowed = {0};
    bool listed = false;

    for (size_t i = 0; resource && i < tg->nresources; i++)
        listed = listed || strcmp(tg->resources[i], resource) == 0;
    if (resource && !listed)
        return mdt_failf(err, MDT_ERR_INVALID_TARGET,
                         "the resource is not one the audience allows",
                         "resource '%.120s' not listed for %.120s", resource, tg->issuer);
    allowed.scopes = (const char **)tg->scopes;
    allowed.nscopes = tg->nscopes;
    return mdt_scope_narrow(a, &allowed, scope, granted, err);
}

bool mdt_id_jag_typ(const char *typ)
{
    return typ && strcasecmp(typ, MDT_ID_JAG_TYP) == 0;
}

mdt_rc mdt_id_jag_accept_claims(json_t *claims, const char *client_id, const char **scope,
                                const char **resource, mdt_err *err)
{
    json_t *s = json_object_get(claims, "scope"), *r = json_object_get(claims, "resource");
    const char *cid = json_string_value(json_object_get(claims, "client_id"));

    *scope = *resource = NULL;
    if (!cid || !*cid)
        return mdt_fail(err, MDT_ERR_VERIFY, "ID-JAG without a client_id claim");
    if (!mdt_str_eq(cid, client_id))
        return mdt_failf(err, MDT_ERR_VERIFY, "invalid assertion",
                         "ID-JAG client_id '%.80s' is not the authenticated client", cid);
    if ((s && !json_is_string(s)) || (r && !json_is_string(r)))
        return mdt_fail(err, MDT_ERR_VERIFY, "ID-JAG scope and resource must be strings");
    *scope = json_string_value(s);
    *resource = json_string_value(r);
    return MDT_OK;
}

int64_t mdt_id_jag_auth_time(json_t *claims, int64_t now)
{
    json_t *v = json_object_get(claims, "auth_time");
    json_int_t t = json_integer_value(v);

    return json_is_integer(v) && t > 0 && t <= now + MDT_ASSERTION_LEEWAY ? (int64_t)t : 0;
}

/* ------------------------------------------------------------ issuing */

static mdt_rc bad_subject(mdt_err *err, const char *why)
{
    return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "invalid subject_token", "%s", why);
}

/* aud names client_id alone (a string, or an array of that one string). */
static bool aud_is(json_t *aud, const char *client_id)
{
    if (json_is_array(aud) && json_array_size(aud) == 1)
        aud = json_array_get(aud, 0);
    return mdt_str_eq(json_string_value(aud), client_id);
}

/* The ID token's claims, once its signature, issuer, audience and expiry hold. */
static mdt_rc id_token_claims(const mdt_env *env, int64_t now, const mdt_jws *jws,
                              const char *client_id, json_t *claims, mdt_err *err)
{
    const char *azp = json_string_value(json_object_get(claims, "azp"));
    json_t *exp = json_object_get(claims, "exp");

    if (!mdt_str_eq(mdt_jws_typ(jws), "JWT") ||
        !mdt_str_eq(json_string_value(json_object_get(claims, "iss")), env->cfg.issuer))
        return bad_subject(err, "not an ID token of this server");
    if (!aud_is(json_object_get(claims, "aud"), client_id) || (azp && !mdt_str_eq(azp, client_id)))
        return bad_subject(err, "the ID token was issued to another client");
    if (!json_is_integer(exp) || json_integer_value(exp) <= now)
        return bad_subject(err, "the ID token has expired");
    return MDT_OK;
}

static mdt_rc subject_id_token(mdt_env *env, mdt_req *req, const char *client_id,
                               const char *token, mdt_id_jag_claims *c, mdt_err *err)
{
    mdt_jws *jws = NULL;
    json_t *claims = NULL;
    const char *payload, *sub;
    size_t n = 0;
    mdt_err why = {0};
    mdt_rc rc;

    if (mdt_jws_parse(token, strlen(token), MDT_ID_TOKEN_HINT_MAX, &jws, &why) != MDT_OK)
        return bad_subject(err, "the subject token is not a JWS");
    rc = mdt_keyring_verify(env->keys, req->now, jws, &why);
    if (rc == MDT_ERR_VERIFY)
        rc = bad_subject(err, "the ID token's signature is not of this server");
    else if (rc != MDT_OK && err)
        *err = why;
    if (rc != MDT_OK)
        goto out;
    payload = mdt_jws_payload(jws, &n);
    claims = json_loadb(payload, n, JSON_REJECT_DUPLICATES, NULL);
    if ((rc = id_token_claims(env, req->now, jws, client_id, claims, err)) != MDT_OK)
        goto out;
    sub = json_string_value(json_object_get(claims, "sub"));
    if (!sub || !*sub) {
        rc = bad_subject(err, "the ID token has no sub");
        goto out;
    }
    if (!(c->sub = mdt_arena_strdup(req->arena, sub)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    c->auth_time = json_integer_value(json_object_get(claims, "auth_time"));
out:
    json_decref(claims);
    mdt_jws_free(jws);
    return rc;
}

static mdt_rc subject_access_token(mdt_env *env, mdt_req *req, const char *client_id,
                                   const char *token, mdt_id_jag_claims *c, mdt_err *err)
{
    mdt_token_info ti = {0};
    mdt_err why = {0};
    const char *sub;
    mdt_rc rc = mdt_token_inspect(env, req->arena, token, req->now, &ti, &why);

    if (rc == MDT_ERR_INVALID_TOKEN)
        rc = bad_subject(err, "not an active access token of this server");
    else if (rc != MDT_OK && err)
        *err = why;
    if (rc != MDT_OK)
        goto out;
    sub = json_string_value(json_object_get(ti.claims, "sub"));
    if (!mdt_str_eq(ti.client_id, client_id))
        rc = bad_subject(err, "the access token was issued to another client");
    else if (!sub || !*sub || mdt_str_eq(sub, client_id))
        rc = bad_subject(err, "the access token names no person");
    else if (json_object_get(ti.claims, "act"))
        rc = bad_subject(err, "a delegated access token is not exchanged for an ID-JAG");
    else if (!(c->sub = mdt_arena_strdup(req->arena, sub)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (rc == MDT_OK)
        c->auth_time = json_integer_value(json_object_get(ti.claims, "auth_time"));
out:
    mdt_token_info_clear(&ti);
    return rc;
}

/* The person the subject token names, still active here. */
static mdt_rc subject(mdt_env *env, mdt_req *req, const char *client_id, mdt_id_jag_claims *c,
                      mdt_err *err)
{
    const char *type = mdt_req_form(req, "subject_token_type");
    const char *token = mdt_req_form(req, "subject_token");
    mdt_err why = {0};
    mdt_rc rc;

    if (!token || !*token)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "subject_token is required");
    if (mdt_str_eq(type, MDT_TOKEN_TYPE_ID_TOKEN))
        rc = subject_id_token(env, req, client_id, token, c, err);
    else if (mdt_str_eq(type, MDT_TOKEN_TYPE_ACCESS_TOKEN))
        rc = subject_access_token(env, req, client_id, token, c, err);
    else
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                      "an ID-JAG is issued for an ID token or an access token");
    if (rc != MDT_OK)
        return rc;
    rc = mdt_token_user_check(env, req->arena, c->sub, client_id, &why);
    if (rc == MDT_ERR_INVALID_TOKEN)
        return bad_subject(err, "the person is disabled");
    if (rc != MDT_OK && err)
        *err = why;
    return rc;
}

/* The target of audience, and the client's id there. */
static mdt_rc target(mdt_env *env, mdt_req *req, const char *client_id,
                     const mdt_id_jag_target **tg, mdt_id_jag_claims *c, mdt_err *err)
{
    const char *audience = mdt_req_form(req, "audience");

    if (!audience || !*audience)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "audience is required: the issuer of the authorization server the "
                        "ID-JAG is for");
    if (!(*tg = mdt_trust_target_find(env->trust, audience)))
        return mdt_failf(err, MDT_ERR_INVALID_TARGET, "the audience is not a trusted target",
                         "audience '%.120s' is not an ID-JAG target", audience);
    if (!(c->client_id = mdt_id_jag_target_client(*tg, client_id)))
        return mdt_failf(err, MDT_ERR_INVALID_TARGET,
                         "the client may not ask for an ID-JAG for this audience",
                         "client not listed for %.120s", audience);
    c->aud = (*tg)->issuer;
    return MDT_OK;
}

static mdt_rc sign(mdt_env *env, mdt_arena *a, const mdt_id_jag_claims *c, const char **out,
                   mdt_err *err)
{
    mdt_buf claims, tok;
    mdt_rc rc;

    mdt_buf_init(&claims, CLAIMS_MAX);
    mdt_buf_init(&tok, MDT_MAX_TOKEN_LEN);
    if ((rc = mdt_id_jag_claims_json(c, &claims)) != MDT_OK) {
        rc = mdt_fail(err, rc, "ID-JAG too large");
        goto out;
    }
    if ((rc = mdt_keyring_sign(env->keys, c->iat, MDT_ID_JAG_TYP, claims.data, claims.len, &tok,
                               err)) != MDT_OK)
        goto out;
    if (!(*out = mdt_arena_strndup(a, tok.data, tok.len)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
out:
    mdt_buf_free(&claims);
    mdt_buf_free_wipe(&tok);
    return rc;
}

mdt_rc mdt_exchange_id_jag(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                           mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *client = &who->client;
    const mdt_id_jag_target *tg = NULL;
    mdt_id_jag_claims c = {.iss = env->cfg.issuer};
    char jti[32];
    mdt_rc rc;

    if (!mdt_str_eq(mdt_req_form(req, "requested_token_type"), MDT_TOKEN_TYPE_ID_JAG))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "this subject_token_type is exchanged for an ID-JAG only "
                        "(requested_token_type " MDT_TOKEN_TYPE_ID_JAG ")");
    if (mdt_req_form(req, "actor_token"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "an ID-JAG takes no actor_token");
    c.resource = mdt_req_form(req, "resource");
    if ((rc = target(env, req, client->client_id, &tg, &c, err)) != MDT_OK ||
        (rc = subject(env, req, client->client_id, &c, err)) != MDT_OK ||
        (rc = mdt_id_jag_narrow(req->arena, tg, mdt_req_form(req, "scope"), c.resource, &c.scope,
                                err)) != MDT_OK ||
        (rc = mdt_scope_policy(env, req, who,
                               &(mdt_policy_ask){.user = c.sub, .aud = &c.aud, .naud = c.aud ? 1 : 0},
                               &c.scope, out, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_random_b64url(&env->rng, MDT_JTI_BYTES, jti)) != MDT_OK)
        return mdt_fail(err, rc, "cannot generate a token id");
    c.jti = jti;
    c.iat = mdt_token_iat(client, req->now);
    c.exp = mdt_token_exp_clamp(client, c.iat + tg->ttl);
    if ((rc = sign(env, req->arena, &c, &out->token.access_token, err)) != MDT_OK)
        return rc;
    if (!(out->token.jti = mdt_arena_strdup(req->arena, jti)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    out->token.expires_in = c.exp - c.iat;
    out->token.token_type = MDT_ID_JAG_TOKEN_TYPE;
    out->scope = c.scope;
    out->subject = c.sub;
    out->audience = c.aud;
    out->issued_token_type = MDT_TOKEN_TYPE_ID_JAG;
    return MDT_OK;
}
