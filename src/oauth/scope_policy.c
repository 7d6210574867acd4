/* The decision of the configured PDP at token issuance (SPEC §3.8), one
 * function every grant calls once its scope and audience are final and
 * before its first write (oauth/grants.h: mdt_scope_policy). */
#include <string.h>

#include "core/log.h"
#include "core/words.h"
#include "net/fetch.h"
#include "oauth/grants.h"
#include "policy/pdp.h"
#include "policy/risk.h"

#define POLICY_SCOPES_MAX 128   /* scopes judged in one request (a client lists at most 100) */
#define POLICY_CONTEXT_MAX (1 << 16) /* bytes of one decision's context (audiences included) */

bool mdt_scope_policy_on(const mdt_env *env)
{
    return mdt_env_pdp(env) != NULL;
}

/* {"source": "static"|"access_request", "expires_at"} of the entitlement
 * that gives c scope. */
static mdt_rc entitlement_json(const mdt_client *c, const char *scope, mdt_buf *b)
{
    const mdt_entitlement_rec *e = mdt_client_scope_entitlement(c, scope);

    if (!e || !e->request_id)
        return mdt_buf_adds(b, "\"entitlement\":{\"source\":\"static\",\"expires_at\":0}");
    return mdt_buf_addf(b, "\"entitlement\":{\"source\":\"access_request\",\"expires_at\":%lld}",
                        (long long)e->expires_at);
}

/* The context members every scope's question shares (no braces). */
static mdt_rc common_context(mdt_req *req, const mdt_client_authn *who, const mdt_policy_ask *ask,
                             const mdt_risk *risk, mdt_buf *b)
{
    const char *grant = mdt_req_form(req, "grant_type");
    mdt_rc rc;

    if ((rc = mdt_buf_adds(b, "\"grant_type\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, grant ? grant : "")) != MDT_OK ||
        (rc = mdt_buf_adds(b, ",\"auth_method\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, who->method ? who->method : "none")) != MDT_OK ||
        (rc = mdt_buf_addf(b, ",\"delegation_depth\":%lld,\"audience\":[",
                           (long long)ask->delegation_depth)) != MDT_OK)
        return rc;
    for (size_t i = 0; i < ask->naud; i++)
        if ((i && (rc = mdt_buf_adds(b, ",")) != MDT_OK) ||
            (rc = mdt_buf_add_json_str(b, ask->aud[i])) != MDT_OK)
            return rc;
    if ((rc = mdt_buf_adds(b, "]")) != MDT_OK)
        return rc;
    if (ask->user && ((rc = mdt_buf_adds(b, ",\"user\":{\"__entity\":{\"type\":\"User\",\"id\":")) !=
                          MDT_OK ||
                      (rc = mdt_buf_add_json_str(b, ask->user)) != MDT_OK ||
                      (rc = mdt_buf_adds(b, "}}")) != MDT_OK))
        return rc;
    if ((rc = mdt_buf_adds(b, ",\"risk\":")) != MDT_OK || (rc = mdt_risk_json(risk, b)) != MDT_OK)
        return rc;
    return mdt_buf_adds(b, ",");
}

/* One question per scope of scopes[n]. */
static mdt_rc build_queries(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                            const mdt_policy_ask *ask, const char **scopes, size_t n,
                            mdt_pdp_query *q, mdt_err *err)
{
    mdt_risk risk;
    mdt_buf b;
    size_t common;
    mdt_rc rc = mdt_risk_read(env, who->client.client_id, req->peer_ip, who->cred_id, req->now,
                              env->cfg.pdp_risk_memory, &risk, err);

    if (rc != MDT_OK)
        return rc;
    mdt_buf_init(&b, POLICY_CONTEXT_MAX);
    if ((rc = mdt_buf_adds(&b, "{")) != MDT_OK ||
        (rc = common_context(req, who, ask, &risk, &b)) != MDT_OK)
        goto out;
    common = b.len;
    for (size_t i = 0; i < n; i++) {
        b.len = common;
        if ((rc = entitlement_json(&who->client, scopes[i], &b)) != MDT_OK ||
            (rc = mdt_buf_adds(&b, "}")) != MDT_OK)
            goto out;
        q[i] = (mdt_pdp_query){.subject_type = "Client", .subject_id = who->client.client_id,
                               .action = "token.issue", .resource_type = "Scope",
                               .resource_id = scopes[i],
                               .context = mdt_arena_strdup(req->arena, b.data)};
        if (!q[i].context) {
            rc = MDT_ERR_NOMEM;
            goto out;
        }
    }
out:
    mdt_buf_free(&b);
    if (rc != MDT_OK && rc != MDT_ERR_NOMEM)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the decision's context is too large");
    return rc == MDT_OK ? MDT_OK : mdt_fail(err, rc, "out of memory");
}

static mdt_rc add_ids(mdt_buf *b, const char *name, const char *const *ids, size_t n)
{
    mdt_rc rc = mdt_buf_addf(b, ",\"%s\":[", name);

    for (size_t i = 0; rc == MDT_OK && i < n; i++)
        if ((!i || (rc = mdt_buf_adds(b, ",")) == MDT_OK))
            rc = mdt_buf_add_json_str(b, ids[i]);
    return rc == MDT_OK ? mdt_buf_adds(b, "]") : rc;
}

/* "policy": {scope: {decision, reasons, errors}}, and "log_only": true, as
 * members of the token event's data, after what out->audit held. */
static mdt_rc audit_decisions(bool log_only, mdt_arena *a, const char **scopes,
                              const mdt_pdp_answer *ans, size_t n, mdt_grant_result *out)
{
    mdt_buf b;
    mdt_rc rc;

    mdt_buf_init(&b, 1 << 20);
    rc = mdt_buf_addf(&b, "%s%s\"policy\":{", out->audit ? out->audit : "", out->audit ? "," : "");
    for (size_t i = 0; rc == MDT_OK && i < n; i++)
        if ((!i || (rc = mdt_buf_adds(&b, ",")) == MDT_OK) &&
            (rc = mdt_buf_add_json_str(&b, scopes[i])) == MDT_OK &&
            (rc = mdt_buf_addf(&b, ":{\"decision\":\"%s\"", ans[i].allow ? "allow" : "deny")) ==
                MDT_OK &&
            (rc = add_ids(&b, "reasons", ans[i].reasons, ans[i].nreasons)) == MDT_OK &&
            (rc = add_ids(&b, "errors", ans[i].errors, ans[i].nerrors)) == MDT_OK)
            rc = mdt_buf_adds(&b, "}");
    if (rc == MDT_OK)
        rc = mdt_buf_adds(&b, log_only ? "},\"log_only\":true" : "}");
    if (rc == MDT_OK && !(out->audit = mdt_arena_strdup(a, b.data)))
        rc = MDT_ERR_NOMEM;
    mdt_buf_free(&b);
    return rc;
}

/* Whether rc is an external PDP's call under way: the request is asked
 * again once it answered. */
static bool waiting(const mdt_req *req, mdt_rc rc)
{
    return rc == MDT_ERR_UNAVAILABLE && req->waiter && req->waiter->registered;
}

/* In log-only mode, a PDP that failed: "policy_error" and "log_only" join
 * the token event's data, after what out->audit held. */
static mdt_rc audit_failure(mdt_arena *a, const mdt_err *why, mdt_grant_result *out)
{
    const char *text = mdt_err_public_text(why);
    mdt_buf b;
    mdt_rc rc;

    mdt_buf_init(&b, 1 << 16);
    if ((rc = mdt_buf_addf(&b, "%s%s\"policy_error\":", out->audit ? out->audit : "",
                           out->audit ? "," : "")) == MDT_OK &&
        (rc = mdt_buf_add_json_str(&b, text ? text : mdt_rc_name(why->rc))) == MDT_OK &&
        (rc = mdt_buf_adds(&b, ",\"log_only\":true")) == MDT_OK &&
        !(out->audit = mdt_arena_strdup(a, b.data)))
        rc = MDT_ERR_NOMEM;
    mdt_buf_free(&b);
    return rc;
}

/* The scopes allowed, space-separated; *denied: the first one denied. */
static mdt_rc apply(bool drop_denied, mdt_arena *a, const char **scopes,
                    const mdt_pdp_answer *ans, size_t n, const char **scope, mdt_err *err)
{
    mdt_buf b;
    const char *denied = NULL, *msg;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, 1 << 16);
    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        if (!ans[i].allow) {
            denied = denied ? denied : scopes[i];
            continue;
        }
        if ((b.len && (rc = mdt_buf_adds(&b, " ")) != MDT_OK) ||
            (rc = mdt_buf_adds(&b, scopes[i])) != MDT_OK)
            break;
    }
    if (rc == MDT_OK && denied && (!drop_denied || !b.len)) {
        msg = mdt_arena_printf(a, "scope '%s' is refused by policy", denied);
        rc = mdt_failf(err, MDT_ERR_INVALID_SCOPE, msg ? msg : "a scope is refused by policy",
                       "policy denies scope '%.64s'", denied);
    } else if (rc == MDT_OK && denied && !(*scope = mdt_arena_strdup(a, b.data))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    } else if (rc != MDT_OK) {
        rc = mdt_fail(err, rc, "out of memory");
    }
    mdt_buf_free(&b);
    return rc;
}

mdt_rc mdt_scope_policy(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                        const mdt_policy_ask *ask, const char **scope, mdt_grant_result *out,
                        mdt_err *err)
{
    const char **scopes;
    mdt_pdp_query *q;
    mdt_pdp_answer *ans;
    size_t n = 0;
    mdt_err rec = {0};
    mdt_pdp *pdp = mdt_env_pdp(env);
    bool log_only = mdt_pdp_log_only(pdp);
    mdt_rc rc;

    if (!pdp)
        return MDT_OK; /* off: nothing asked, nothing recorded */
    if (!(scopes = mdt_words_split(req->arena, *scope ? *scope : "", &n)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (n > POLICY_SCOPES_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_SCOPE, "too many scopes requested");
    q = mdt_arena_alloc(req->arena, (n ? n : 1) * sizeof(*q));
    ans = mdt_arena_alloc(req->arena, (n ? n : 1) * sizeof(*ans));
    if (!q || !ans)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (n && (rc = build_queries(env, req, who, ask, scopes, n, q, err)) != MDT_OK)
        return rc;
    if (n && (rc = mdt_pdp_decide(env, req, req->arena, q, n, ans, err)) != MDT_OK) {
        if (waiting(req, rc) || !log_only)
            return rc; /* asked again once an external PDP answered, or failed closed */
        n = 0;         /* log only: the failure is audited, nothing refused */
        if (audit_failure(req->arena, err, out) != MDT_OK)
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    if (mdt_risk_record_request(env, who->client.client_id, req->peer_ip, who->cred_id, req->now,
                                env->cfg.pdp_risk_memory, &rec) != MDT_OK)
        MDT_WARN("risk signal not recorded: %s", mdt_err_audit_text(&rec));
    if (!n)
        return MDT_OK;
    if (audit_decisions(log_only, req->arena, scopes, ans, n, out) != MDT_OK)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return log_only ? MDT_OK
                    : apply(mdt_pdp_drops_denied(pdp), req->arena, scopes, ans, n, scope, err);
}
