/* The token endpoint: the grant registry (iga/registry.h) says what each
 * grant_type needs, and this table binds each grant to its function. Every
 * answer, issued or refused, carries its audit event, and the server sends
 * it only once that event is durable. */
#include <string.h>

#include "core/metrics.h"
#include "core/words.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "oauth/grants.h"
#include "iga/usage.h"
#include "net/fetch.h"

static const mdt_grant_fn handlers[MDT_GRANT_ID_COUNT] = {
    [MDT_GRANT_ID_CLIENT_CREDENTIALS] = mdt_grant_client_credentials,
    [MDT_GRANT_ID_TOKEN_EXCHANGE] = mdt_grant_token_exchange,
    [MDT_GRANT_ID_JWT_BEARER] = mdt_grant_jwt_bearer,
    [MDT_GRANT_ID_AUTHORIZATION_CODE] = mdt_grant_authorization_code,
    [MDT_GRANT_ID_REFRESH_TOKEN] = mdt_grant_refresh_token,
    [MDT_GRANT_ID_DEVICE_CODE] = mdt_grant_device_code,
    [MDT_GRANT_ID_CIBA] = mdt_grant_ciba,
};

mdt_grant_fn mdt_grant_handler(mdt_grant_id id)
{
    return (unsigned)id < MDT_GRANT_ID_COUNT ? handlers[id] : NULL;
}

/* Client authentication, or the subject token when its type is the
 * client's credential (an API key). */
static mdt_rc authenticate(mdt_env *env, mdt_req *req, mdt_client_authn *who,
                           const char **claimed, mdt_err *err)
{
    const mdt_grant_def *g = mdt_grant_find(mdt_req_form(req, "grant_type"));
    const mdt_subject_type_def *st =
        mdt_grant_subject_find(g, mdt_req_form(req, "subject_token_type"));
    mdt_client_authn_fn by_subject = mdt_token_exchange_authenticator(st);

    if (by_subject)
        return by_subject(env, req, who, claimed, err);
    return mdt_client_authenticate(env, req, who, claimed, err);
}

/* The answer to a DPoP proof found spent when its jti is recorded. */
static const mdt_err dpop_replayed = {.rc = MDT_ERR_INVALID_DPOP_PROOF, .msg = MDT_DPOP_REPLAYED};

static void refuse(mdt_req *req, mdt_resp *resp, const mdt_client_authn *who, const char *grant,
                   const char *extra, const mdt_err *err)
{
    mdt_audit_event ev = {
        .type = "token.refused",
        .actor = who->client.client_id,
        .client_id = who->client.client_id,
        .decision = "deny",
        .reason =
            mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc), mdt_err_audit_text(err)),
    };

    mdt_metrics_token_refused(mdt_metrics_grant_of(grant), err->rc);
    mdt_resp_error(resp, err);
    if (err->rc == MDT_ERR_ACCESS_DENIED)
        resp->status = 400; /* RFC 6749 §5.2, RFC 8628 §3.5: a denied grant is a 400 here */
    if (grant) {
        mdt_buf b;
        mdt_buf_init(&b, 4096);
        if (mdt_buf_adds(&b, "{\"grant_type\":") == MDT_OK &&
            mdt_buf_add_json_str(&b, grant) == MDT_OK &&
            (!extra || mdt_buf_addf(&b, ",%s", extra) == MDT_OK) && mdt_buf_adds(&b, "}") == MDT_OK)
            ev.data = mdt_arena_strdup(req->arena, b.data);
        mdt_buf_free(&b);
    }
    mdt_resp_audit(req, resp, &ev);
}

/* RFC 8693 §2.2.1: issued_token_type joins the token response object. */
static mdt_rc add_issued_type(mdt_buf *body, const char *type)
{
    if (!type)
        return MDT_OK;
    body->len--; /* reopen the object: its closing brace is written again below */
    return mdt_buf_addf(body, ",\"issued_token_type\":\"%s\"}", type);
}

/* refresh_token and id_token join the token response object. */
static mdt_rc add_token_member(mdt_buf *body, const char *name, const char *value)
{
    mdt_rc rc;

    if (!value)
        return MDT_OK;
    body->len--; /* reopen the object, as add_issued_type does */
    if ((rc = mdt_buf_addf(body, ",\"%s\":", name)) != MDT_OK ||
        (rc = mdt_buf_add_json_str(body, value)) != MDT_OK)
        return rc;
    return mdt_buf_adds(body, "}");
}

/* A string member of the token.issued event's data, when set. */
static mdt_rc audit_member(mdt_buf *b, const char *name, const char *value)
{
    mdt_rc rc;

    if (!value)
        return MDT_OK;
    if ((rc = mdt_buf_addf(b, ",\"%s\":", name)) != MDT_OK)
        return rc;
    return mdt_buf_add_json_str(b, value);
}

/* The dynamic entitlements behind the granted scope, for the token.issued
 * event: "entitlements": {scope: "ent_..."} and "approvals": {scope:
 * "req_..."} (the approval request behind each); nothing when every scope
 * granted is static. */
static mdt_rc audit_entitlements(mdt_buf *b, const mdt_client *c, const char *scope)
{
    mdt_rc rc = MDT_OK;

    for (int pass = 0; pass < 2 && rc == MDT_OK; pass++) {
        size_t k = 0;
        for (size_t i = 0; rc == MDT_OK && i < c->nents; i++) {
            const mdt_entitlement_rec *e = &c->ents[i];
            const char *v = pass ? e->request_id : e->id;
            if (!v || !mdt_words_has(scope, e->scope))
                continue;
            if ((rc = k++ ? mdt_buf_adds(b, ",")
                          : mdt_buf_addf(b, ",\"%s\":{", pass ? "approvals" : "entitlements")) ==
                    MDT_OK &&
                (rc = mdt_buf_add_json_str(b, e->scope)) == MDT_OK &&
                (rc = mdt_buf_adds(b, ":")) == MDT_OK)
                rc = mdt_buf_add_json_str(b, v);
        }
        if (rc == MDT_OK && k)
            rc = mdt_buf_adds(b, "}");
    }
    return rc;
}

/* RFC 9396 §7: authorization_details (JSON array text, validated) joins the
 * token response object as JSON. */
static mdt_rc add_json_member(mdt_buf *body, const char *name, const char *json)
{
    mdt_rc rc;

    if (!json)
        return MDT_OK;
    body->len--; /* reopen the object, as add_issued_type does */
    if ((rc = mdt_buf_addf(body, ",\"%s\":", name)) != MDT_OK ||
        (rc = mdt_buf_adds(body, json)) != MDT_OK)
        return rc;
    return mdt_buf_adds(body, "}");
}

/* {"grant_type":"…","jti":"…","format":"…","expires_in":N,"scope": — the
 * start of the token.issued event's data. */
static mdt_rc audit_head(mdt_buf *b, const char *grant, const mdt_issued *t)
{
    mdt_rc rc;

    if ((rc = mdt_buf_reserve(b, 512)) != MDT_OK ||
        (rc = mdt_buf_adds(b, "{\"grant_type\":\"")) != MDT_OK ||
        (rc = mdt_buf_adds(b, grant)) != MDT_OK ||
        (rc = mdt_buf_adds(b, "\",\"jti\":\"")) != MDT_OK ||
        (rc = mdt_buf_adds(b, t->jti)) != MDT_OK ||
        (rc = mdt_buf_adds(b, t->opaque ? "\",\"format\":\"opaque\",\"expires_in\":"
                                        : "\",\"format\":\"jwt\",\"expires_in\":")) != MDT_OK ||
        (rc = mdt_buf_add_i64(b, (long long)t->expires_in)) != MDT_OK)
        return rc;
    return mdt_buf_adds(b, ",\"scope\":");
}

static void issued(mdt_req *req, mdt_resp *resp, const mdt_client_authn *who, const char *grant,
                   const mdt_grant_result *r)
{
    mdt_audit_event replay;
    mdt_buf b;

    mdt_buf_init(&b, 8192);
    resp->status = 200;
    resp->content_type = "application/json";
    if (mdt_buf_reserve(&resp->body, 1024) != MDT_OK || /* what a token response needs */
        mdt_token_response(&r->token, r->scope, &resp->body) != MDT_OK ||
        add_issued_type(&resp->body, r->issued_token_type) != MDT_OK ||
        add_token_member(&resp->body, "refresh_token", r->refresh_token) != MDT_OK ||
        add_token_member(&resp->body, "id_token", r->id_token) != MDT_OK ||
        add_json_member(&resp->body, "authorization_details", r->authorization_details) != MDT_OK ||
        audit_head(&b, grant, &r->token) != MDT_OK ||
        mdt_buf_add_json_str(&b, r->scope ? r->scope : "") != MDT_OK ||
        audit_member(&b, "issued_token_type", r->issued_token_type) != MDT_OK ||
        audit_member(&b, "audience", r->audience) != MDT_OK ||
        (r->audit && mdt_buf_addf(&b, ",%s", r->audit) != MDT_OK) ||
        audit_member(&b, "approval",
                     r->approval ? r->approval
                                 : mdt_client_scope_approval(&who->client, r->scope)) != MDT_OK ||
        audit_entitlements(&b, &who->client, r->scope ? r->scope : "") != MDT_OK ||
        mdt_buf_adds(&b, "}") != MDT_OK) {
        mdt_err err;
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_buf_free(&b);
        refuse(req, resp, who, grant, r->audit, &err);
        return;
    }
    mdt_audit_event ev = {
        .type = "token.issued",
        .actor = who->client.client_id,
        .client_id = who->client.client_id,
        .subject = r->subject ? r->subject : who->client.client_id,
        .decision = "allow",
        .reason = who->method,
        .data = mdt_arena_strdup(req->arena, b.data),
        .token = r->token.row,
    };

    ev.checks = mdt_client_checks_end(req->arena, &ev.nchecks);
    /* consumed in the same commit; a replay found there refuses: the
     * assertion's jti, or else a DPoP proof's whose recording was deferred
     * (dpop(): never both) */
    if (who->jti_use.jti) {
        mdt_err replayed;
        mdt_client_auth_fail(&replayed, "replayed jti");
        replay = mdt_client_auth_failed_event(req, who->client.client_id, &replayed);
        ev.uses = &who->jti_use;
        ev.nuses = 1;
        ev.on_replay = &replay;
    } else if (req->dpop_jti.jti) {
        replay = (mdt_audit_event){
            .type = "token.refused",
            .actor = who->client.client_id,
            .client_id = who->client.client_id,
            .decision = "deny",
            .reason = "invalid_dpop_proof: " MDT_DPOP_REPLAYED,
            .data = mdt_arena_printf(req->arena, "{\"grant_type\":\"%s\"}", grant),
        };
        ev.uses = &req->dpop_jti;
        ev.nuses = 1;
        ev.on_replay = &replay;
        ev.replay_err = &dpop_replayed;
    }
    mdt_buf_free(&b);
    mdt_resp_audit(req, resp, &ev);
}

/* RFC 9449 §5: the DPoP proof of a token request (htm POST, htu this
 * server's token endpoint), checked before the grant writes anything; its
 * key's thumbprint goes to who->dpop_jkt, what the access token is bound
 * to. A client registered with dpop_bound_access_tokens must present one
 * (§5.2). A refused proof is answered invalid_dpop_proof (or
 * use_dpop_nonce), 400. */
static mdt_rc dpop(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_client_authn *who,
                   mdt_err *err)
{
    const char *proof = mdt_req_header(req, "DPoP");
    mdt_dpop_expect exp = {.htm = "POST", .nonce = mdt_dpop_nonce_required(env, false)};
    mdt_rc rc;

    if (!proof)
        return who->client.dpop_bound_tokens
                   ? mdt_fail(err, MDT_ERR_INVALID_DPOP_PROOF,
                              "this client's access tokens are DPoP-bound: a DPoP proof is required")
                   : MDT_OK;
    if (!(exp.htu = mdt_arena_printf(req->arena, "%s/token", env->cfg.issuer)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    /* A client_credentials grant writes nothing before its event: the
     * proof's jti is recorded by the event's commit (issued()), unless a
     * client assertion's is already. */
    exp.defer_jti = mdt_client_checks_active() && !who->jti_use.jti;
    rc = mdt_dpop_check_once(env, req, proof, &exp, &who->dpop_jkt, err);
    mdt_dpop_nonce_header(env, req, resp, false, rc);
    return rc;
}

/* A refused request's DPoP proof whose jti was left to the commit
 * (req->dpop_jti), recorded now: spent all the same.
 * MDT_ERR_INVALID_DPOP_PROOF when it was used already. */
static mdt_rc dpop_consume(mdt_env *env, mdt_req *req, mdt_err *err)
{
    mdt_rc rc = mdt_store_jti_use_pending(env->store, &req->dpop_jti, req->now, err);

    if (rc != MDT_ERR_CONFLICT)
        return rc;
    *err = dpop_replayed;
    return err->rc;
}

static void handle_token(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    mdt_grant_result result = {0};
    const char *claimed = NULL, *grant;
    const mdt_grant_def *g;
    const mdt_subject_type_def *st;
    mdt_grant_fn fn;
    mdt_err err = {0};
    mdt_rc rc;

    resp->no_store = true;
    if ((rc = mdt_req_parse_form(req, &err)) != MDT_OK) {
        refuse(req, resp, &who, NULL, NULL, &err);
        return;
    }
    /* A client_credentials grant writes nothing before its token.issued
     * event (a DPoP proof's jti aside, which a client never reuses; a
     * client assertion's goes with the event): its clients may come from
     * the cache on a recent clients counter, the event carrying what they
     * were. */
    if (mdt_str_eq(mdt_req_form(req, "grant_type"), "client_credentials"))
        mdt_client_checks_begin();
    if ((rc = authenticate(env, req, &who, &claimed, &err)) != MDT_OK) {
        mdt_err ignored;
        mdt_client_authn_consume(env, req, &who, &ignored); /* refused all the same */
        mdt_metrics_token_refused(mdt_metrics_grant_of(mdt_req_form(req, "grant_type")), err.rc);
        mdt_client_auth_refuse(req, resp, claimed, &err);
        return;
    }
    resp->client_id = who.client.client_id;
    grant = mdt_req_form(req, "grant_type");
    rc = mdt_grant_decide(grant, mdt_req_form(req, "subject_token_type"),
                          (const char *const *)who.client.grant_types, who.client.ngrant_types,
                          &g, &st, &err);
    if (rc == MDT_OK)
        rc = dpop(env, req, resp, &who, &err);
    if (rc == MDT_OK && !(fn = mdt_grant_handler(g->id)))
        rc = mdt_failf(&err, MDT_ERR_INTERNAL, "internal error", "grant %s has no handler",
                       g->name);
    if (rc == MDT_OK)
        rc = fn(env, req, &who, &result, &err);
    if (rc != MDT_OK && req->waiter && req->waiter->registered)
        return; /* waiting for an external answer (a PDP's): asked again once it is in */
    if (rc != MDT_OK) {
        mdt_err used;
        if (mdt_client_authn_consume(env, req, &who, &used) == MDT_ERR_INVALID_CLIENT) {
            mdt_metrics_token_refused(mdt_metrics_grant_of(grant), used.rc);
            mdt_client_auth_refuse(req, resp, claimed, &used); /* a replay, whatever else */
            return;
        }
        if (dpop_consume(env, req, &used) == MDT_ERR_INVALID_DPOP_PROOF) {
            refuse(req, resp, &who, grant, NULL, &used); /* a replay, whatever else */
            return;
        }
        refuse(req, resp, &who, grant, result.audit, &err);
        return;
    }
    issued(req, resp, &who, grant, &result);
    if (resp->status == 200)
        mdt_metrics_token_issued(mdt_metrics_grant_of(grant));
    if (resp->status == 200)
        mdt_usage_note(env, who.client.client_id, result.scope, req->ctx.now);
}

void mdt_handle_token(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    size_t n;

    handle_token(env, req, resp);
    (void)mdt_client_checks_end(req->arena, &n); /* whatever path it took */
}
