/* The AuthZEN Authorization API 1.0 of the embedded PDP (pep/authzen.h).
 *
 * Callers present a Bearer access token of this server carrying the scope
 * of [authzen] scope, checked as every API of the server checks one
 * (mdt_bearer_token_check). Decisions are the embedded PDP's
 * (mdt_policy_eval); the answer's context carries the ids of the policies
 * that determined the decision ("reasons") and of those whose evaluation
 * erred ("errors"). A request's X-Request-ID is echoed in the answer.
 *
 * Audit: the API is a hot path, so decisions are aggregated: one
 * `authzen.decisions` event per node and minute with traffic (calls,
 * evaluations, permits, denies of that minute), written by the first call
 * after the minute ended; refusals of a token that is active (403) are
 * audited one by one. */
#include "pep/authzen.h"

#include <string.h>

#include "core/words.h"
#include "oauth/binding.h"
#include "oauth/tokens.h"
#include "pep/tally.h"
#include "policy/engine.h"

typedef enum { SEM_EXECUTE_ALL, SEM_DENY_ON_FIRST_DENY, SEM_PERMIT_ON_FIRST_PERMIT } semantic;

/* ------------------------------------------------------------- answers */

static void fail_json(mdt_resp *resp, int status, const char *error, const char *desc)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->no_store = true;
    mdt_buf_reset(&resp->body);
    if (mdt_buf_addf(&resp->body, "{\"error\":\"%s\",\"error_description\":", error) != MDT_OK ||
        mdt_buf_add_json_str(&resp->body, desc) != MDT_OK || mdt_buf_adds(&resp->body, "}"))
        mdt_buf_reset(&resp->body);
}

static void challenge(mdt_resp *resp, int status, const char *header, const char *error,
                      const char *desc)
{
    fail_json(resp, status, error, desc);
    mdt_resp_header(resp, "WWW-Authenticate", header);
}

/* ------------------------------------------------------------- callers */

/* The caller holds an active access token of this server with the scope
 * of [authzen] scope; else resp is the refusal (RFC 6750 §3). */
static bool authorize(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *tok = mdt_req_access_token(req), *scope, *want = env->cfg.authzen_scope;
    mdt_token_info ti = {0};
    mdt_err err = {0};
    bool ok = false;
    mdt_rc rc;

    if (!tok) {
        const char *h = mdt_arena_printf(req->arena, "Bearer realm=\"mandate\", scope=\"%s\"",
                                         want);
        challenge(resp, 401, h ? h : "Bearer realm=\"mandate\"", "invalid_token",
                  "a Bearer access token is required");
        return false;
    }
    rc = mdt_bearer_token_check(env, req, tok, &ti, &err);
    if (mdt_token_unusable(rc)) { /* RFC 6750 §3, RFC 9449 §7.1 */
        mdt_token_unauthorized(env, req, resp, rc, "mandate",
                               rc == MDT_ERR_INVALID_TOKEN ? "the access token is not active"
                                                           : err.msg);
        goto out;
    }
    if (rc != MDT_OK) {
        mdt_resp_error(resp, &err);
        goto out;
    }
    resp->client_id = mdt_arena_strdup(req->arena, ti.client_id);
    scope = json_string_value(json_object_get(ti.claims, "scope"));
    if (!mdt_words_has(scope, want)) {
        const char *why = mdt_arena_printf(req->arena, "the access token lacks the scope %s",
                                           want);
        const char *h = mdt_arena_printf(
            req->arena, "Bearer realm=\"mandate\", error=\"insufficient_scope\", scope=\"%s\"",
            want);
        mdt_audit_event ev = {.type = "authzen.refused", .actor = resp->client_id,
                              .client_id = resp->client_id, .decision = "deny",
                              .reason = why ? why : "insufficient_scope"};
        challenge(resp, 403, h ? h : "Bearer realm=\"mandate\", error=\"insufficient_scope\"",
                  "insufficient_scope", why ? why : "insufficient scope");
        mdt_resp_audit(req, resp, &ev);
        goto out;
    }
    ok = true;
out:
    mdt_token_info_clear(&ti);
    return ok;
}

/* X-Request-ID, echoed (AuthZEN §10.1.3): printable ASCII, bounded. False
 * (resp the refusal) when it is present and not so. */
static bool echo_request_id(mdt_req *req, mdt_resp *resp)
{
    const char *id = mdt_req_header(req, "X-Request-ID");
    size_t n = id ? strlen(id) : 0;

    if (!id)
        return true;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] < 0x20 || (unsigned char)id[i] > 0x7e)
            n = MDT_AUTHZEN_REQUEST_ID_MAX + 1;
    if (n == 0 || n > MDT_AUTHZEN_REQUEST_ID_MAX) {
        fail_json(resp, 400, "invalid_request",
                  "X-Request-ID must be 1 to 128 printable ASCII characters");
        return false;
    }
    mdt_resp_header(resp, "X-Request-ID", mdt_arena_strdup(req->arena, id));
    return true;
}

/* ------------------------------------------------------------- requests */

/* A property set, as JSON object text (NULL when absent). */
static mdt_rc props_text(mdt_arena *a, const json_t *o, const char *what, const char **out,
                         mdt_err *err)
{
    const json_t *p = json_object_get(o, "properties");
    char *s;

    *out = NULL;
    if (!p)
        return MDT_OK;
    if (!json_is_object(p))
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "properties must be an object",
                         "%s.properties must be an object", what);
    if (!(s = json_dumps(p, JSON_COMPACT)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    *out = mdt_arena_strdup(a, s);
    free(s);
    return *out ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* o[k] as a non-empty string. */
static mdt_rc member(const json_t *o, const char *what, const char *k, const char **out,
                     mdt_err *err)
{
    const char *s = json_string_value(json_object_get(o, k));

    if (!s || !*s)
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "malformed evaluation request",
                         "%s.%s must be a non-empty string", what, k);
    *out = s;
    return MDT_OK;
}

/* Subject or resource: {"type", "id", "properties"?}. */
static mdt_rc typed(mdt_arena *a, const json_t *o, const char *what, const char **type,
                    const char **id, const char **props, mdt_err *err)
{
    mdt_rc rc;

    if (!json_is_object(o))
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "malformed evaluation request",
                         "%s must be an object", what);
    if ((rc = member(o, what, "type", type, err)) != MDT_OK ||
        (rc = member(o, what, "id", id, err)) != MDT_OK)
        return rc;
    return props_text(a, o, what, props, err);
}

/* One evaluation from its own members, else the defaults d (NULL: none).
 * The strings borrow from the JSON (alive for the request). */
static mdt_rc query_of(mdt_arena *a, const json_t *e, const json_t *d, mdt_pdp_query *q,
                       mdt_err *err)
{
    const json_t *s = json_object_get(e, "subject"), *ac = json_object_get(e, "action");
    const json_t *r = json_object_get(e, "resource"), *c = json_object_get(e, "context");
    char *ctx;
    mdt_rc rc;

    memset(q, 0, sizeof(*q));
    if (d) {
        s = s ? s : json_object_get(d, "subject");
        ac = ac ? ac : json_object_get(d, "action");
        r = r ? r : json_object_get(d, "resource");
        c = c ? c : json_object_get(d, "context");
    }
    if ((rc = typed(a, s, "subject", &q->subject_type, &q->subject_id, &q->subject_props, err)))
        return rc;
    if (!json_is_object(ac))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "action must be an object");
    if ((rc = member(ac, "action", "name", &q->action, err)) != MDT_OK ||
        (rc = props_text(a, ac, "action", &q->action_props, err)) != MDT_OK)
        return rc;
    if ((rc = typed(a, r, "resource", &q->resource_type, &q->resource_id, &q->resource_props,
                    err)) != MDT_OK)
        return rc;
    if (!c)
        return MDT_OK;
    if (!json_is_object(c))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "context must be an object");
    if (!(ctx = json_dumps(c, JSON_COMPACT)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    q->context = mdt_arena_strdup(a, ctx);
    free(ctx);
    return q->context ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static mdt_rc parse_semantic(const json_t *root, semantic *out, mdt_err *err)
{
    const json_t *o = json_object_get(root, "options");
    const char *s;

    *out = SEM_EXECUTE_ALL;
    if (!o)
        return MDT_OK;
    if (!json_is_object(o))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "options must be an object");
    if (!json_object_get(o, "evaluations_semantic"))
        return MDT_OK;
    s = json_string_value(json_object_get(o, "evaluations_semantic"));
    if (mdt_str_eq(s, "execute_all"))
        return MDT_OK;
    if (mdt_str_eq(s, "deny_on_first_deny"))
        *out = SEM_DENY_ON_FIRST_DENY;
    else if (mdt_str_eq(s, "permit_on_first_permit"))
        *out = SEM_PERMIT_ON_FIRST_PERMIT;
    else
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "options.evaluations_semantic must be execute_all, deny_on_first_deny "
                        "or permit_on_first_permit");
    return MDT_OK;
}

/* The body as a JSON object, within the API's cap. */
static mdt_rc parse_body(mdt_req *req, json_t **root, mdt_err *err)
{
    *root = NULL;
    if (req->body_len > MDT_AUTHZEN_MAX_BODY)
        return mdt_failf(err, MDT_ERR_TOO_LARGE, "request body too large",
                         "an AuthZEN request is at most %d bytes", MDT_AUTHZEN_MAX_BODY);
    return mdt_req_parse_json(req, root, err);
}

/* ------------------------------------------------------------ decisions */

enum { CALLS, EVALUATIONS, PERMITS, DENIES };

static mdt_tally tally = {.event = "authzen.decisions", .actor = "authzen",
                          .outcomes = {"calls", "evaluations", "permits", "denies"}};

/* Counts one call's decisions; the first call of a new minute records the
 * previous minute's counts as one audit event (pep/tally.h). */
static void count(mdt_req *req, size_t evaluations, size_t permits)
{
    mdt_tally_add(&tally, req, NULL, CALLS, 1);
    mdt_tally_add(&tally, req, NULL, EVALUATIONS, (long long)evaluations);
    mdt_tally_add(&tally, req, NULL, PERMITS, (long long)permits);
    mdt_tally_add(&tally, req, NULL, DENIES, (long long)(evaluations - permits));
}

/* {"decision": bool, "context": {"reasons": [...], "errors": [...]}} */
static mdt_rc render_one(mdt_buf *b, const mdt_pdp_answer *a)
{
    mdt_rc rc = mdt_buf_addf(b, "{\"decision\":%s,\"context\":{\"reasons\":[",
                             a->allow ? "true" : "false");

    for (size_t i = 0; rc == MDT_OK && i < a->nreasons; i++)
        if ((rc = i ? mdt_buf_adds(b, ",") : MDT_OK) == MDT_OK)
            rc = mdt_buf_add_json_str(b, a->reasons[i]);
    if (rc == MDT_OK)
        rc = mdt_buf_adds(b, "],\"errors\":[");
    for (size_t i = 0; rc == MDT_OK && i < a->nerrors; i++)
        if ((rc = i ? mdt_buf_adds(b, ",") : MDT_OK) == MDT_OK)
            rc = mdt_buf_add_json_str(b, a->errors[i]);
    return rc == MDT_OK ? mdt_buf_adds(b, "]}}") : rc;
}

/* The embedded PDP decides q; a failure to decide is no decision. */
static mdt_rc decide(mdt_env *env, mdt_req *req, const mdt_pdp_query *q, mdt_pdp_answer *a,
                     mdt_err *err)
{
    memset(a, 0, sizeof(*a));
    if (!env->policy)
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "the embedded policy decision point is not running");
    return mdt_policy_eval(env, req->arena, q, a, err);
}

/* Common start of both endpoints: request id, caller, body. */
static bool begin(mdt_env *env, mdt_req *req, mdt_resp *resp, json_t **root)
{
    mdt_err err = {0};

    resp->no_store = true;
    if (!echo_request_id(req, resp) || !authorize(env, req, resp))
        return false;
    if (parse_body(req, root, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        return false;
    }
    return true;
}

/* The single evaluation of root. */
static void answer_one(mdt_env *env, mdt_req *req, mdt_resp *resp, const json_t *root)
{
    mdt_pdp_query q;
    mdt_pdp_answer a;
    mdt_err err = {0};

    if (query_of(req->arena, root, NULL, &q, &err) != MDT_OK ||
        decide(env, req, &q, &a, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    if (render_one(&resp->body, &a) != MDT_OK) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        return;
    }
    count(req, 1, a.allow);
}

void mdt_handle_authzen_evaluation(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    json_t *root = NULL;

    if (!begin(env, req, resp, &root))
        return;
    answer_one(env, req, resp, root);
    json_decref(root);
}

/* Reads every item before deciding any, so that a malformed item refuses
 * the whole request (400) rather than answering part of it. */
static mdt_rc read_items(mdt_req *req, const json_t *root, const json_t *list, mdt_pdp_query **q,
                         size_t *n, mdt_err *err)
{
    size_t len = json_array_size(list);

    *n = 0;
    if (len > MDT_AUTHZEN_MAX_EVALUATIONS)
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "too many evaluations",
                         "%zu evaluations; at most %d in one request", len,
                         MDT_AUTHZEN_MAX_EVALUATIONS);
    if (!(*q = mdt_arena_alloc(req->arena, (len ? len : 1) * sizeof(**q))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < len; i++) {
        const json_t *e = json_array_get(list, i);
        mdt_rc rc;
        if (!json_is_object(e))
            return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "malformed evaluation request",
                             "evaluations[%zu] must be an object", i);
        if ((rc = query_of(req->arena, e, root, &(*q)[i], err)) != MDT_OK)
            return rc;
    }
    *n = len;
    return MDT_OK;
}

/* Decides q[0..n) in order under sem into {"evaluations": [...]}: after a
 * short-circuit the remaining items are neither decided nor answered
 * (AuthZEN §7.1.2.1). */
static mdt_rc decide_all(mdt_env *env, mdt_req *req, const mdt_pdp_query *q, size_t n,
                         semantic sem, mdt_buf *b, size_t *done, size_t *permits, mdt_err *err)
{
    mdt_rc rc = mdt_buf_adds(b, "{\"evaluations\":[");

    *done = *permits = 0;
    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        mdt_pdp_answer a;
        if ((rc = decide(env, req, &q[i], &a, err)) != MDT_OK)
            return rc;
        if ((i && (rc = mdt_buf_adds(b, ",")) != MDT_OK) || (rc = render_one(b, &a)) != MDT_OK)
            break;
        (*done)++;
        *permits += a.allow;
        if ((sem == SEM_DENY_ON_FIRST_DENY && !a.allow) ||
            (sem == SEM_PERMIT_ON_FIRST_PERMIT && a.allow))
            break;
    }
    if (rc == MDT_OK)
        rc = mdt_buf_adds(b, "]}");
    return rc == MDT_OK ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

void mdt_handle_authzen_evaluations(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    json_t *root = NULL;
    const json_t *list;
    mdt_pdp_query *q = NULL;
    size_t n = 0, done = 0, permits = 0;
    semantic sem;
    mdt_err err = {0};

    if (!begin(env, req, resp, &root))
        return;
    list = json_object_get(root, "evaluations");
    if (list && !json_is_array(list)) {
        mdt_fail(&err, MDT_ERR_INVALID_REQUEST, "evaluations must be an array");
        mdt_resp_error(resp, &err);
        goto out;
    }
    if (!json_array_size(list)) { /* none: the single evaluation (§7.1) */
        answer_one(env, req, resp, root);
        goto out;
    }
    if (parse_semantic(root, &sem, &err) != MDT_OK ||
        read_items(req, root, list, &q, &n, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        goto out;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    if (decide_all(env, req, q, n, sem, &resp->body, &done, &permits, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        goto out;
    }
    count(req, done, permits);
out:
    json_decref(root);
}

void mdt_handle_authzen_metadata(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *iss = env->cfg.issuer;
    size_t n = strlen(iss);
    int len = (int)(n && iss[n - 1] == '/' ? n - 1 : n);
    mdt_err err;

    (void)req;
    resp->status = 200;
    resp->content_type = "application/json";
    if (mdt_buf_adds(&resp->body, "{\"policy_decision_point\":") != MDT_OK ||
        mdt_buf_add_json_str(&resp->body, iss) != MDT_OK ||
        mdt_buf_addf(&resp->body,
                     ",\"access_evaluation_endpoint\":\"%.*s/access/v1/evaluation\""
                     ",\"access_evaluations_endpoint\":\"%.*s/access/v1/evaluations\"}",
                     len, iss, len, iss) != MDT_OK) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        return;
    }
    mdt_resp_header(resp, "Cache-Control", "public, max-age=300");
    mdt_resp_header(resp, "Access-Control-Allow-Origin", "*");
}
