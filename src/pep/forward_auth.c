/* /forward-auth and the RFC 9728 metadata of protected resources
 * (pep/forward_auth.h).
 *
 * Everything before the PDP's decision is read-only but the DPoP proof's
 * jti, recorded once (req->dpop_jkt_used remembers it for a run again
 * after an external PDP answered); a single-use token's use is recorded
 * only once the request is allowed.
 *
 * Tokens are read through the per-thread cache of verified claims
 * (mdt_token_inspect_cached): a repeated token costs no signature
 * verification, while expiry, revocation, the kill switch and delegation
 * chains are checked on every request as for an uncached token, so the
 * cache delays no refusal.
 *
 * Audit: decisions are counted per resource and outcome and recorded once
 * a minute per node (`forward_auth.decisions`, pep/tally.h); with
 * [forward_auth] audit = sampled or all, some or every decision is also
 * audited alone (`forward_auth.decision`). Refusals that signal an attack
 * (a token whose signature does not verify, a refused DPoP proof, a
 * binding not honoured) are audited alone (`forward_auth.refused`), at
 * most ATTACKS_PER_MINUTE a minute per node. */
#include "pep/forward_auth.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/words.h"
#include "iga/resources.h"
#include "msg/client_cert.h"
#include "net/fetch.h"
#include "oauth/binding.h"
#include "oauth/dpop.h"
#include "oauth/tokens.h"
#include "pep/tally.h"
#include "policy/pdp.h"
#include "policy/risk.h"
#include "store/store.h"

#define PREFIX "/forward-auth"
#define METADATA_PREFIX "/.well-known/oauth-protected-resource"
#define ATTACKS_PER_MINUTE 60
#define CONTEXT_MAX (1 << 16)
#define HEADER_MAX 4096

enum { OUT_ALLOW, OUT_UNAUTHORIZED, OUT_FORBIDDEN, OUT_ERROR }; /* as mdt_metric_fwd */

static mdt_tally tally = {.event = "forward_auth.decisions", .actor = "forward-auth",
                          .key_name = "resource",
                          .outcomes = {"allow", "unauthorized", "forbidden", "error"}};

/* One forwarded request under judgement. */
typedef struct {
    const mdt_resources *res; /* read once (mdt_env_resources) */
    size_t idx;
    const char *resource, *meta; /* the entry's identifier and metadata URL */
    const char *method, *scheme, *host, *path;
    const char *token;
    bool dpop_scheme;           /* Authorization: DPoP */
    const char *proof;          /* the DPoP header */
    mdt_token_info ti;
    bool dpop_bound;            /* cnf jkt */
    size_t outcome;
    const char *why;            /* for the audit */
    bool attack;                /* a refusal audited alone */
    bool nonce_sent;            /* a DPoP-Nonce header is on the answer */
} fwd;

/* ------------------------------------------------------------ pure parts */

/* Whether the escape at p ("%XX") is one a path in normal form does not
 * have: malformed, or of an unreserved character (RFC 3986 §6.2.2.2: a
 * proxy or upstream decodes it, and would route "/%6Dcp" as "/mcp"), of
 * '/' or '\\' (another segment to an upstream that decodes it), or NUL. */
static bool bad_escape(const char *p)
{
    int hi = mdt_hex_value(p[1]), lo = hi >= 0 ? mdt_hex_value(p[2]) : -1, c;

    if (hi < 0 || lo < 0)
        return true;
    c = hi << 4 | lo;
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == '\\' || c == 0;
}

bool mdt_fwd_path_ok(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    for (const char *p = path; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x21 || c >= 0x7f || c == '\\')
            return false;
        if (c == '%' && bad_escape(p))
            return false;
        if (c == '/') {
            const char *s = p + 1;
            size_t n = strcspn(s, "/");
            if ((n == 0 && *s == '/') || (n == 1 && s[0] == '.') ||
                (n == 2 && s[0] == '.' && s[1] == '.'))
                return false;
        }
    }
    return true;
}

bool mdt_fwd_header_ok(const char *s)
{
    size_t n = 0;

    for (; s && *s; s++, n++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return s && n <= HEADER_MAX;
}

const char *mdt_fwd_act_header(mdt_arena *a, const json_t *claims, bool *bad)
{
    const json_t *act = json_object_get(claims, "act");
    const char *out = NULL;
    size_t depth = 0;

    *bad = false;
    for (; act; act = json_object_get(act, "act")) {
        const char *sub = json_string_value(json_object_get(act, "sub"));
        if (!json_is_object(act) || !sub || !*sub || strchr(sub, ',') ||
            !mdt_fwd_header_ok(sub) || ++depth > 16) {
            *bad = true;
            return NULL;
        }
        out = out ? mdt_arena_printf(a, "%s,%s", out, sub) : mdt_arena_strdup(a, sub);
        if (!out) {
            *bad = true;
            return NULL;
        }
    }
    if (out && !mdt_fwd_header_ok(out)) {
        *bad = true;
        return NULL;
    }
    return out;
}

const char *mdt_fwd_challenge(mdt_arena *a, const char *scheme, const char *error,
                              const char *scope, const char *metadata_url)
{
    bool dpop = mdt_str_eq(scheme, "DPoP");

    return mdt_arena_printf(
        a, "%s%s%s%s%s%s%s%s%sresource_metadata=\"%s\"", dpop ? "DPoP" : "Bearer",
        dpop ? " algs=\"" MDT_DPOP_ALGS_TEXT "\"," : "", error ? " error=\"" : "",
        error ? error : "", error ? "\"," : "", scope ? " scope=\"" : "", scope ? scope : "",
        scope ? "\"," : "", " ", metadata_url ? metadata_url : "");
}

/* ----------------------------------------------------------- the answers */

static void body_error(mdt_resp *resp, int status, const char *error, const char *desc)
{
    resp->status = status;
    resp->content_type = "application/json";
    mdt_buf_reset(&resp->body);
    if (mdt_buf_addf(&resp->body, "{\"error\":\"%s\",\"error_description\":", error) != MDT_OK ||
        mdt_buf_add_json_str(&resp->body, desc) != MDT_OK || mdt_buf_adds(&resp->body, "}"))
        mdt_buf_reset(&resp->body);
}

/* 401 (or 403 for insufficient_scope) with its challenge. DPoP is the
 * scheme when the token is DPoP-bound or came with the DPoP scheme or a
 * proof; with no token at all, both schemes are offered. */
static void challenge(fwd *f, mdt_req *req, mdt_resp *resp, int status, const char *error,
                      const char *scope, const char *desc)
{
    bool dpop = f->dpop_bound || f->dpop_scheme || f->proof;
    const char *h;

    body_error(resp, status, error ? error : "invalid_token", desc);
    if (!f->token && !f->proof) {
        const char *b = mdt_fwd_challenge(req->arena, "Bearer", NULL, NULL, f->meta);
        const char *d = mdt_fwd_challenge(req->arena, "DPoP", NULL, NULL, f->meta);
        h = b && d ? mdt_arena_printf(req->arena, "%s, %s", b, d) : NULL;
    } else {
        h = mdt_fwd_challenge(req->arena, dpop ? "DPoP" : "Bearer", error, scope, f->meta);
    }
    mdt_resp_header(resp, "WWW-Authenticate", h ? h : "Bearer");
    f->outcome = status == 401 ? OUT_UNAUTHORIZED : OUT_FORBIDDEN;
    f->why = desc;
}

static void forbidden(fwd *f, mdt_resp *resp, const char *error, const char *desc)
{
    body_error(resp, 403, error, desc);
    f->outcome = OUT_FORBIDDEN;
    f->why = desc;
}

static void server_fault(fwd *f, mdt_resp *resp, const mdt_err *err)
{
    mdt_resp_error(resp, err);
    f->outcome = OUT_ERROR;
    f->why = "server fault";
}

/* --------------------------------------------------- the forwarded request */

static const char *either(mdt_req *req, const char *a, const char *b)
{
    const char *v = mdt_req_header(req, a);
    return v && *v ? v : mdt_req_header(req, b);
}

/* An HTTP method as proxies forward it: 1 to 32 upper-case letters, digits
 * or '-'. */
static bool method_ok(const char *m)
{
    size_t n = 0;

    for (; m && *m; m++, n++)
        if (!((*m >= 'A' && *m <= 'Z') || (*m >= '0' && *m <= '9') || *m == '-'))
            return false;
    return m && n >= 1 && n <= 32;
}

/* Method, scheme, host and path of the original request; false (resp the
 * refusal) when they are missing or not in normal form. */
static bool read_forwarded(mdt_req *req, mdt_resp *resp, fwd *f)
{
    const char *uri = either(req, "X-Forwarded-Uri", "X-Original-URI");
    size_t n;

    f->method = either(req, "X-Forwarded-Method", "X-Original-Method");
    if (!f->method || !*f->method)
        f->method = req->method; /* Envoy, Traefik's preserveRequestMethod: the original one */
    if (!uri && strncmp(req->path, PREFIX "/", sizeof(PREFIX)) == 0)
        uri = req->path + sizeof(PREFIX) - 1; /* Envoy: path_prefix + the original path */
    f->scheme = mdt_req_header(req, "X-Forwarded-Proto");
    f->scheme = f->scheme && *f->scheme ? f->scheme : "https";
    f->host = either(req, "X-Forwarded-Host", "Host");
    if (!uri || !f->host || !*f->host) {
        body_error(resp, 400, "invalid_request",
                   "the proxy must forward the original URI (X-Forwarded-Uri or X-Original-URI) "
                   "and host (X-Forwarded-Host or Host)");
        return false;
    }
    n = strcspn(uri, "?#");
    if (strlen(uri) > MDT_FWD_URI_MAX || !(f->path = mdt_arena_strndup(req->arena, uri, n)) ||
        !mdt_fwd_path_ok(f->path) || !method_ok(f->method) ||
        (!mdt_str_eq(f->scheme, "https") && !mdt_str_eq(f->scheme, "http"))) {
        body_error(resp, 400, "invalid_request",
                   "the forwarded method, scheme or path is malformed or not in normal form "
                   "(dot segments, empty segments, encoded '.', '/' or '\\\\')");
        return false;
    }
    return true;
}

/* The token of Authorization: Bearer or DPoP, and the DPoP header. */
static void read_credentials(mdt_req *req, fwd *f)
{
    const char *h = mdt_req_header(req, "Authorization");

    f->proof = mdt_req_header(req, "DPoP");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
    } else if (h && strncasecmp(h, "DPoP ", 5) == 0) {
        h += 5;
        f->dpop_scheme = true;
    } else {
        return;
    }
    while (*h == ' ')
        h++;
    f->token = *h ? h : NULL;
}

/* ------------------------------------------------------------ the token */

static bool audience_has(const json_t *claims, const char *resource)
{
    const json_t *aud = json_object_get(claims, "aud"), *v;
    size_t i;

    if (json_is_string(aud))
        return mdt_str_eq(json_string_value(aud), resource);
    json_array_foreach(aud, i, v)
        if (mdt_str_eq(json_string_value(v), resource))
            return true;
    return false;
}

/* htu of the original request: scheme://host[:port]/path (RFC 9449 §4.3). */
static const char *htu_of(mdt_req *req, const fwd *f)
{
    return mdt_arena_printf(req->arena, "%s://%s%s", f->scheme, f->host, f->path);
}

/* The proof of a DPoP-bound token: checked once per request (its jti is
 * recorded then), for this key. */
static bool check_dpop(mdt_env *env, mdt_req *req, mdt_resp *resp, fwd *f, const char *jkt)
{
    mdt_dpop_expect exp = {.htm = f->method, .htu = htu_of(req, f), .access_token = f->token,
                          .nonce = mdt_dpop_nonce_required(env, true)};
    const char *proved = NULL;
    mdt_err err = {0};
    mdt_rc rc;

    if (!f->dpop_scheme) { /* RFC 9449 §7.2: a bound token as a Bearer token */
        challenge(f, req, resp, 401, "invalid_token", NULL,
                  "the access token is DPoP-bound: present it with the DPoP scheme and a proof");
        f->attack = true;
        return false;
    }
    if (!f->proof) {
        challenge(f, req, resp, 401, "invalid_dpop_proof", NULL,
                  "a DPoP proof is required with this access token");
        f->attack = true;
        return false;
    }
    if (!exp.htu) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        server_fault(f, resp, &err);
        return false;
    }
    rc = mdt_dpop_check_once(env, req, f->proof, &exp, &proved, &err);
    if (rc == MDT_ERR_USE_DPOP_NONCE) {
        challenge(f, req, resp, 401, "use_dpop_nonce", NULL, "the DPoP proof needs a nonce");
        f->nonce_sent = true;
        mdt_dpop_nonce_header(env, req, resp, true, rc);
        return false;
    }
    if (rc == MDT_ERR_INVALID_DPOP_PROOF || (rc == MDT_OK && !mdt_str_eq(proved, jkt))) {
        challenge(f, req, resp, 401, "invalid_dpop_proof", NULL,
                  rc == MDT_OK ? "the DPoP proof is signed by another key than the token's"
                               : mdt_err_public_text(&err));
        f->attack = true;
        return false;
    }
    if (rc != MDT_OK) {
        server_fault(f, resp, &err);
        return false;
    }
    return true;
}

/* The token is active, for this resource, and used as its binding says. */
static bool check_token(mdt_env *env, mdt_req *req, mdt_resp *resp, fwd *f)
{
    mdt_err err = {0};
    bool bad_signature;
    json_t *cnf, *x5t, *cert_only;
    const char *jkt;
    mdt_rc rc;

    if (!f->token) {
        challenge(f, req, resp, 401, NULL, NULL, "an access token is required");
        return false;
    }
    rc = mdt_token_inspect_cached(env, req->arena, f->token, req->now, &f->ti, &bad_signature,
                                  &err);
    if (rc == MDT_ERR_INVALID_TOKEN) {
        challenge(f, req, resp, 401, "invalid_token", NULL, "the access token is not active");
        f->attack = bad_signature;
        return false;
    }
    if (rc != MDT_OK) {
        server_fault(f, resp, &err);
        return false;
    }
    cnf = json_object_get(f->ti.claims, "cnf");
    jkt = json_string_value(json_object_get(cnf, "jkt"));
    f->dpop_bound = jkt != NULL;
    if (!audience_has(f->ti.claims, f->resource)) {
        challenge(f, req, resp, 401, "invalid_token", NULL,
                  "the access token is not for this resource");
        return false;
    }
    x5t = json_object_get(cnf, "x5t#S256");
    if (jkt && json_object_size(cnf) != 1u + (x5t != NULL)) {
        challenge(f, req, resp, 401, "invalid_token", NULL,
                  "the token's confirmation method is not supported here");
        return false;
    }
    if (jkt && !check_dpop(env, req, resp, f, jkt))
        return false;
    if (jkt && !x5t)
        return true;
    if (!jkt && f->dpop_scheme) {
        challenge(f, req, resp, 401, "invalid_token", NULL, "the access token is not DPoP-bound");
        return false;
    }
    /* Unbound, or bound to a certificate (also when bound to a key as
     * well: then both must be proven, as at this server's own APIs). */
    cert_only = x5t ? json_pack("{s:{s:O}}", "cnf", "x5t#S256", x5t) : NULL;
    if (x5t && !cert_only) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        server_fault(f, resp, &err);
        return false;
    }
    rc = mdt_token_binding_check(env, req, cert_only ? cert_only : f->ti.claims, &err);
    json_decref(cert_only);
    if (rc == MDT_ERR_INVALID_TOKEN) {
        challenge(f, req, resp, 401, "invalid_token", NULL, mdt_err_public_text(&err));
        f->attack = true;
        return false;
    }
    if (rc != MDT_OK) {
        server_fault(f, resp, &err);
        return false;
    }
    return true;
}

/* The scopes the entry requires for the method. */
static bool check_scopes(mdt_req *req, mdt_resp *resp, fwd *f)
{
    const char *want = mdt_resources_scopes(f->res, f->idx, f->method);
    const char *have = json_string_value(json_object_get(f->ti.claims, "scope"));

    for (mdt_words w = mdt_words_of(want); mdt_words_next(&w);) {
        const char *one = mdt_arena_strndup(req->arena, w.word, w.len);
        if (!mdt_words_has(have, one)) {
            challenge(f, req, resp, 403, "insufficient_scope", want,
                      "the access token lacks a scope this resource requires");
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------- the PDP */

static mdt_rc add_str(mdt_buf *b, const char *name, const char *v)
{
    mdt_rc rc = mdt_buf_addf(b, ",\"%s\":", name);
    return rc == MDT_OK ? (v ? mdt_buf_add_json_str(b, v) : mdt_buf_adds(b, "null")) : rc;
}

/* The decision's context: the client (an entity), the resource, host and
 * path, the token's scope, act chain, confirmation kind, authentication
 * method and tier, and the client's risk signals. */
static mdt_rc context_of(mdt_env *env, mdt_req *req, const fwd *f, const char *act,
                         const char **out, mdt_err *err)
{
    const json_t *app = json_object_get(f->ti.claims, "app"), *cnf;
    const char *cnf_kind = "none";
    mdt_risk risk;
    mdt_buf b;
    mdt_rc rc;

    cnf = json_object_get(f->ti.claims, "cnf");
    if (json_object_get(cnf, "jkt"))
        cnf_kind = "dpop";
    else if (json_object_get(cnf, "x5t#S256"))
        cnf_kind = "mtls";
    if ((rc = mdt_risk_read(env, f->ti.client_id, req->peer_ip, NULL, req->now,
                            env->cfg.pdp_risk_memory, &risk, err)) != MDT_OK)
        return rc;
    mdt_buf_init(&b, CONTEXT_MAX);
    rc = mdt_buf_adds(&b, "{\"client\":{\"__entity\":{\"type\":\"Client\",\"id\":");
    if (rc == MDT_OK && (rc = mdt_buf_add_json_str(&b, f->ti.client_id)) == MDT_OK &&
        (rc = mdt_buf_adds(&b, "}}")) == MDT_OK &&
        (rc = add_str(&b, "resource", f->resource)) == MDT_OK &&
        (rc = add_str(&b, "host", f->host)) == MDT_OK &&
        (rc = add_str(&b, "path", f->path)) == MDT_OK &&
        (rc = add_str(&b, "scope", json_string_value(json_object_get(f->ti.claims, "scope")))) ==
            MDT_OK &&
        (rc = add_str(&b, "act", act ? act : "")) == MDT_OK &&
        (rc = add_str(&b, "cnf", cnf_kind)) == MDT_OK &&
        (rc = add_str(&b, "auth_method", json_string_value(json_object_get(app, "auth")))) ==
            MDT_OK &&
        (rc = add_str(&b, "tier", json_string_value(json_object_get(app, "tier")))) == MDT_OK &&
        (rc = mdt_buf_adds(&b, ",\"risk\":")) == MDT_OK && (rc = mdt_risk_json(&risk, &b)) == MDT_OK)
        rc = mdt_buf_adds(&b, "}");
    if (rc == MDT_OK && !(*out = mdt_arena_strdup(req->arena, b.data)))
        rc = MDT_ERR_NOMEM;
    mdt_buf_free(&b);
    if (rc == MDT_ERR_NOMEM)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return rc == MDT_OK ? MDT_OK : mdt_fail(err, MDT_ERR_INVALID_REQUEST, "context too large");
}

/* MDT_OK allowed (or no PDP); MDT_ERR_UNAVAILABLE with the waiter
 * registered: asked again once the PDP answered; false otherwise with
 * resp the refusal. */
static mdt_rc ask_pdp(mdt_env *env, mdt_req *req, mdt_resp *resp, fwd *f, const char *act)
{
    const char *sub = json_string_value(json_object_get(f->ti.claims, "sub"));
    bool user = sub && !mdt_str_eq(sub, f->ti.client_id);
    mdt_pdp_query q = {.subject_type = user ? "User" : "Client",
                       .subject_id = user ? sub : f->ti.client_id, .action = f->method,
                       .resource_type = "Path", .resource_id = f->path};
    mdt_pdp_answer a;
    mdt_err err = {0};
    mdt_rc rc;

    if (!mdt_env_pdp(env))
        return MDT_OK;
    if ((rc = context_of(env, req, f, act, &q.context, &err)) == MDT_OK)
        rc = mdt_pdp_decide(env, req, req->arena, &q, 1, &a, &err);
    if (rc == MDT_ERR_UNAVAILABLE && req->waiter && req->waiter->registered)
        return rc;
    if (rc != MDT_OK) {
        if (rc == MDT_ERR_UNAVAILABLE)
            body_error(resp, 503, "temporarily_unavailable",
                       "the policy decision point did not answer");
        else
            mdt_resp_error(resp, &err);
        mdt_resp_fault(resp, &err);
        f->outcome = OUT_ERROR;
        f->why = "the policy decision point failed";
        return rc;
    }
    if (!a.allow) {
        forbidden(f, resp, "access_denied", "the request is denied by policy");
        return MDT_ERR_ACCESS_DENIED;
    }
    return MDT_OK;
}

/* ------------------------------------------------------------ the audit */

static struct {
    atomic_llong minute, count;
} attacks;

static bool attack_budget(int64_t now)
{
    long long m = now / 60, seen = atomic_load(&attacks.minute);

    if (m != seen && atomic_compare_exchange_strong(&attacks.minute, &seen, m))
        atomic_store(&attacks.count, 0);
    return atomic_fetch_add(&attacks.count, 1) < ATTACKS_PER_MINUTE;
}

static void audit(mdt_env *env, mdt_req *req, mdt_resp *resp, const fwd *f)
{
    static const char *const decisions[] = {"allow", "deny", "deny", "deny"};
    static atomic_llong sampled;
    const char *mode = env->cfg.forward_auth_audit;
    mdt_buf b;
    bool alone = mdt_str_eq(mode, "all") ||
                 (mdt_str_eq(mode, "sampled") &&
                  atomic_fetch_add(&sampled, 1) % env->cfg.forward_auth_audit_sample == 0);
    const char *data;

    mdt_tally_count(&tally, req, f->resource ? f->resource : "(none)", f->outcome);
    mdt_metrics_forward_auth((mdt_metric_fwd)f->outcome); /* OUT_* in the same order */
    if (f->attack)
        alone = attack_budget(req->now);
    if (!alone)
        return;
    mdt_buf_init(&b, 4 * MDT_FWD_URI_MAX);
    if (mdt_buf_adds(&b, "{\"resource\":") != MDT_OK ||
        mdt_buf_add_json_str(&b, f->resource ? f->resource : "") != MDT_OK ||
        mdt_buf_adds(&b, ",\"method\":") != MDT_OK ||
        mdt_buf_add_json_str(&b, f->method ? f->method : "") != MDT_OK ||
        mdt_buf_adds(&b, ",\"path\":") != MDT_OK ||
        mdt_buf_add_json_str(&b, f->path ? f->path : "") != MDT_OK ||
        mdt_buf_addf(&b, ",\"status\":%d}", resp->status) != MDT_OK)
        mdt_buf_reset(&b);
    data = b.len ? mdt_arena_strdup(req->arena, b.data) : NULL;
    mdt_buf_free(&b);
    mdt_audit_event ev = {.type = f->attack ? "forward_auth.refused" : "forward_auth.decision",
                          .actor = f->ti.client_id ? f->ti.client_id : "forward-auth",
                          .client_id = f->ti.client_id,
                          .subject = json_string_value(json_object_get(f->ti.claims, "sub")),
                          .decision = decisions[f->outcome], .reason = f->why, .data = data};
    mdt_resp_audit(req, resp, &ev);
}

/* ------------------------------------------------------------ the endpoint */

/* 200 with the identity headers. */
static void allow(mdt_req *req, mdt_resp *resp, fwd *f, const char *act)
{
    const char *sub = json_string_value(json_object_get(f->ti.claims, "sub"));
    const char *scope = json_string_value(json_object_get(f->ti.claims, "scope"));

    resp->status = 200;
    resp->content_type = NULL;
    mdt_buf_reset(&resp->body);
    mdt_resp_header(resp, MDT_FWD_SUBJECT, mdt_arena_strdup(req->arena, sub));
    mdt_resp_header(resp, MDT_FWD_CLIENT, mdt_arena_strdup(req->arena, f->ti.client_id));
    mdt_resp_header(resp, MDT_FWD_SCOPE, mdt_arena_strdup(req->arena, scope ? scope : ""));
    if (act)
        mdt_resp_header(resp, MDT_FWD_ACT, act);
    f->outcome = OUT_ALLOW;
    f->why = NULL;
}

/* From the token on: checks, decision, answer. */
static void judge(mdt_env *env, mdt_req *req, mdt_resp *resp, fwd *f)
{
    const char *act, *sub;
    bool bad_act;
    mdt_err err = {0};
    mdt_rc rc;

    if (!check_token(env, req, resp, f))
        return;
    sub = json_string_value(json_object_get(f->ti.claims, "sub"));
    act = mdt_fwd_act_header(req->arena, f->ti.claims, &bad_act);
    resp->client_id = mdt_arena_strdup(req->arena, f->ti.client_id);
    if (bad_act || !mdt_fwd_header_ok(sub) || !mdt_fwd_header_ok(f->ti.client_id) ||
        !mdt_fwd_header_ok(json_string_value(json_object_get(f->ti.claims, "scope")))) {
        challenge(f, req, resp, 401, "invalid_token", NULL,
                  "the access token's subject, client, scope or actors cannot be forwarded");
        return;
    }
    if (!check_scopes(req, resp, f))
        return;
    rc = ask_pdp(env, req, resp, f, act);
    if (rc == MDT_ERR_UNAVAILABLE && req->waiter && req->waiter->registered)
        return;
    if (rc != MDT_OK)
        return;
    rc = mdt_token_use_once(env, &f->ti, &err); /* [ciba] single_use_tokens */
    if (rc == MDT_ERR_INVALID_TOKEN) {
        challenge(f, req, resp, 401, "invalid_token", NULL, "the access token is not active");
        return;
    }
    if (rc != MDT_OK) {
        server_fault(f, resp, &err);
        return;
    }
    allow(req, resp, f, act);
}

void mdt_handle_forward_auth(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    fwd f = {0};

    resp->no_store = true;
    if (!mdt_req_peer_trusted(env, req)) {
        body_error(resp, 403, "access_denied",
                   "/forward-auth answers only the proxies in [server] trusted_proxies");
        return;
    }
    if (!read_forwarded(req, resp, &f))
        return;
    f.res = mdt_env_resources(env);
    read_credentials(req, &f);
    if (!mdt_resources_find(f.res, f.scheme, f.host, f.path, &f.idx)) {
        forbidden(&f, resp, "unknown_resource",
                  "no protected resource of [forward_auth] resources matches the forwarded "
                  "scheme, host and path");
        audit(env, req, resp, &f);
        return;
    }
    f.resource = mdt_resources_uri(f.res, f.idx);
    f.meta = mdt_resources_metadata_url(f.res, f.idx);
    /* the token's revocation entry, its client and person, and what the
       decision reads: one snapshot (store.h, read scopes) */
    mdt_store_read_begin(env->store);
    judge(env, req, resp, &f);
    mdt_store_read_end(env->store);
    if (req->waiter && req->waiter->registered)
        goto out; /* asked again once the PDP answered */
    if ((f.dpop_bound || f.proof) && !f.nonce_sent) /* the current nonce, where one is required */
        mdt_dpop_nonce_header(env, req, resp, true, MDT_OK);
    audit(env, req, resp, &f);
out:
    mdt_token_info_clear(&f.ti);
}

/* ------------------------------------------------------- RFC 9728 metadata */

static mdt_rc add_words_array(mdt_buf *b, const char *name, const char *words)
{
    mdt_rc rc = mdt_buf_addf(b, ",\"%s\":[", name);
    bool first = true;

    for (mdt_words w = mdt_words_of(words); rc == MDT_OK && mdt_words_next(&w); first = false)
        if ((first || (rc = mdt_buf_adds(b, ",")) == MDT_OK) &&
            (rc = mdt_buf_adds(b, "\"")) == MDT_OK &&
            (rc = mdt_buf_add(b, w.word, w.len)) == MDT_OK)
            rc = mdt_buf_adds(b, "\"");
    return rc == MDT_OK ? mdt_buf_adds(b, "]") : rc;
}

void mdt_handle_protected_resource_metadata(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const mdt_resources *res = mdt_env_resources(env);
    const char *path = req->path + strlen(METADATA_PREFIX), *host, *name;
    mdt_buf *b = &resp->body;
    mdt_err err = {0};
    size_t i;
    mdt_rc rc;

    host = mdt_req_peer_trusted(env, req) ? either(req, "X-Forwarded-Host", "Host")
                                          : mdt_req_header(req, "Host");
    if ((*path && *path != '/') || !mdt_resources_find_metadata(res, host, path, &i)) {
        body_error(resp, 404, "not_found", "no protected resource has this metadata");
        return;
    }
    name = mdt_resources_name(res, i);
    resp->status = 200;
    resp->content_type = "application/json";
    if ((rc = mdt_buf_adds(b, "{\"resource\":")) == MDT_OK &&
        (rc = mdt_buf_add_json_str(b, mdt_resources_uri(res, i))) == MDT_OK &&
        (rc = mdt_buf_adds(b, ",\"authorization_servers\":[")) == MDT_OK &&
        (rc = mdt_buf_add_json_str(b, env->cfg.issuer)) == MDT_OK &&
        (rc = mdt_buf_adds(b, "]")) == MDT_OK &&
        (rc = add_words_array(b, "scopes_supported", mdt_resources_scopes_all(res, i))) ==
            MDT_OK &&
        (rc = mdt_buf_adds(b, ",\"bearer_methods_supported\":[\"header\"]")) == MDT_OK &&
        (rc = mdt_buf_adds(b, ",\"dpop_signing_alg_values_supported\":" MDT_DPOP_ALGS_JSON)) ==
            MDT_OK &&
        (!name || ((rc = mdt_buf_adds(b, ",\"resource_name\":")) == MDT_OK &&
                   (rc = mdt_buf_add_json_str(b, name)) == MDT_OK)))
        rc = mdt_buf_adds(b, "}");
    if (rc != MDT_OK) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        return;
    }
    mdt_resp_header(resp, "Cache-Control", "public, max-age=300");
    mdt_resp_header(resp, "Access-Control-Allow-Origin", "*");
}
