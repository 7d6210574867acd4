/* The device authorization endpoint (RFC 8628 §3.1, §3.2) and the services
 * of the /device page: find what a user code asks for, enter it (an
 * approval request of type device for the person), decide it. */
#include "oauth/device.h"

#include <ctype.h>
#include <string.h>

#include "core/b64.h"
#include "iga/requests.h"
#include "oauth/grants.h"

#define DEVICE_INSERT_TRIES 4     /* new user codes tried when one is taken */
#define DEVICE_RATE_WINDOW 60     /* seconds: device authorizations per source per minute */

static const char alphabet[] = MDT_DEVICE_USER_CODE_ALPHABET;
#define ALPHABET_N (sizeof(alphabet) - 1)

mdt_rc mdt_device_user_code_new(const mdt_rng *rng, char out[MDT_DEVICE_USER_CODE_LEN + 1])
{
    uint8_t pool[32];
    size_t got = 0, used = sizeof(pool);
    /* bytes at or above the largest multiple of the alphabet's size are
     * dropped, so that every character is equally likely */
    const unsigned limit = 256 - 256 % ALPHABET_N;
    mdt_rc rc = MDT_OK;

    for (int rounds = 0; got < MDT_DEVICE_USER_CODE_CHARS && rounds < 64; rounds++) {
        if (used == sizeof(pool)) {
            if ((rc = mdt_random(rng, pool, sizeof(pool))) != MDT_OK)
                break;
            used = 0;
        }
        for (; used < sizeof(pool) && got < MDT_DEVICE_USER_CODE_CHARS; used++) {
            if (pool[used] >= limit)
                continue;
            out[got + (got >= 4)] = alphabet[pool[used] % ALPHABET_N];
            got++;
        }
    }
    mdt_wipe(pool, sizeof(pool));
    if (rc == MDT_OK && got < MDT_DEVICE_USER_CODE_CHARS)
        rc = MDT_ERR_CRYPTO; /* a generator that keeps answering bytes out of range */
    out[4] = '-';
    out[MDT_DEVICE_USER_CODE_LEN] = '\0';
    return rc;
}

bool mdt_device_user_code_normalize(const char *typed, char out[MDT_DEVICE_USER_CODE_CHARS + 1])
{
    size_t n = 0;

    out[0] = '\0';
    if (!typed || strlen(typed) > MDT_DEVICE_USER_CODE_INPUT_MAX)
        return false;
    for (const char *p = typed; *p; p++) {
        char ch = (char)toupper((unsigned char)*p);

        if (ch == '-' || ch == ' ')
            continue;
        if (!strchr(alphabet, ch) || n == MDT_DEVICE_USER_CODE_CHARS)
            return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n == MDT_DEVICE_USER_CODE_CHARS;
}

/* ------------------------------------------------------------ endpoint */

typedef struct {
    const char *scope, *resource;
    char device_code[64];
    char user_code[MDT_DEVICE_USER_CODE_LEN + 1];
    int64_t expires_at, interval;
} issued_codes;

static void refuse(mdt_req *req, mdt_resp *resp, const char *client_id, const mdt_err *err)
{
    mdt_audit_event ev = {
        .type = "device.refused",
        .actor = client_id,
        .client_id = client_id,
        .decision = "deny",
        .reason = mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc),
                                   mdt_err_audit_text(err)),
    };

    mdt_resp_error(resp, err);
    mdt_resp_audit(req, resp, &ev);
}

/* Per source address and minute; *limited when this request is one too many. */
static mdt_rc rate(mdt_env *env, mdt_req *req, bool *limited, mdt_err *err)
{
    int64_t w = req->now - req->now % DEVICE_RATE_WINDOW, n = 0;
    const char *name = mdt_arena_printf(req->arena, "device:authz:source:%.256s",
                                        req->peer_ip ? req->peer_ip : "-");
    mdt_rc rc;

    *limited = false;
    if (!name)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if ((rc = mdt_store_rate_hit(env->store, name, w, &n, err)) != MDT_OK)
        return rc;
    *limited = n > env->cfg.device_rate_per_source;
    return MDT_OK;
}

/* 429 with Retry-After: the source asked too often this minute. */
static void too_many(mdt_req *req, mdt_resp *resp)
{
    static const char body[] = "{\"error\":\"slow_down\",\"error_description\":"
                               "\"too many device authorization requests; retry later\"}";

    mdt_resp_json(resp, 429, body, sizeof(body) - 1);
    resp->no_store = true;
    mdt_resp_header(resp, "Retry-After", mdt_arena_printf(req->arena, "%lld",
                                                         (long long)(DEVICE_RATE_WINDOW -
                                                                     req->now % DEVICE_RATE_WINDOW)));
    mdt_resp_audit(req, resp,
                   &(mdt_audit_event){.type = "device.refused", .decision = "deny",
                                      .reason = "rate_limited: per source"});
}

/* What the client may ask a person for: the scopes and the resource, read
 * as at /authorize (SPEC §3.3, §3.7). */
static mdt_rc what_asked(mdt_env *env, mdt_req *req, const mdt_client *c, issued_codes *ic,
                         mdt_err *err)
{
    const char *scope = mdt_req_form(req, "scope");
    const char *const *aud;
    size_t naud;
    mdt_client view;
    mdt_rc rc;

    ic->resource = mdt_req_form(req, "resource");
    if ((rc = mdt_consented_client(env, req->arena, c, scope, ic->resource, &view, err)) != MDT_OK ||
        (rc = mdt_scope_narrow_for(env, req->arena, &view, scope, &ic->scope, err)) != MDT_OK)
        return rc;
    return mdt_resource_select(req->arena, &view, env->cfg.issuer, ic->resource, &aud, &naud, err);
}

/* New codes, stored as hashes; a user code already taken is drawn again. */
static mdt_rc store_codes(mdt_env *env, mdt_req *req, const mdt_client *c, issued_codes *ic,
                          mdt_err *err)
{
    char norm[MDT_DEVICE_USER_CODE_CHARS + 1];
    mdt_device_rec d = {.client_id = c->client_id, .scope = ic->scope, .resource = ic->resource,
                        .interval = env->cfg.device_interval, .created_at = req->now,
                        .expires_at = mdt_token_exp_clamp(c, req->now + env->cfg.device_code_ttl)};
    mdt_rc rc = MDT_ERR_CONFLICT;

    if (d.expires_at <= req->now)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT, "the client has expired");
    for (int i = 0; rc == MDT_ERR_CONFLICT && i < DEVICE_INSERT_TRIES; i++) {
        if ((rc = mdt_random_b64url(&env->rng, MDT_DEVICE_CODE_BYTES, ic->device_code)) != MDT_OK ||
            (rc = mdt_device_user_code_new(&env->rng, ic->user_code)) != MDT_OK)
            return mdt_fail(err, rc, "cannot generate a device code");
        if (!mdt_device_user_code_normalize(ic->user_code, norm))
            return mdt_fail(err, MDT_ERR_INTERNAL, "generated user code does not read back");
        mdt_sha256(ic->device_code, strlen(ic->device_code), d.hash);
        mdt_sha256(norm, strlen(norm), d.user_hash);
        rc = mdt_store_device_insert(env->store, &d, err);
    }
    ic->expires_at = d.expires_at;
    ic->interval = d.interval;
    return rc;
}

static mdt_rc answer(mdt_env *env, mdt_req *req, mdt_resp *resp, const issued_codes *ic)
{
    const char *dev = mdt_arena_printf(req->arena, "%s/device", env->cfg.issuer);
    const char *complete = mdt_arena_printf(req->arena, "%s?user_code=%s", dev, ic->user_code);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "device_code", ic->device_code,
                            "user_code", ic->user_code, "verification_uri", dev ? dev : "",
                            "verification_uri_complete", complete ? complete : "", "expires_in",
                            (json_int_t)(ic->expires_at - req->now), "interval",
                            (json_int_t)ic->interval);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (!text || !dev || !complete) {
        free(text);
        return MDT_ERR_NOMEM;
    }
    mdt_resp_json(resp, 200, text, strlen(text));
    mdt_wipe(text, strlen(text));
    free(text);
    resp->no_store = true;
    return MDT_OK;
}

static void issued(mdt_req *req, mdt_resp *resp, const mdt_client *c, const char *method,
                   const issued_codes *ic)
{
    mdt_buf b;
    mdt_audit_event ev = {.type = "device.issued", .actor = c->client_id,
                          .client_id = c->client_id, .decision = "allow", .reason = method};

    mdt_buf_init(&b, 4096);
    if (mdt_buf_adds(&b, "{\"scope\":") == MDT_OK && mdt_buf_add_json_str(&b, ic->scope) == MDT_OK &&
        mdt_buf_addf(&b, ",\"expires_at\":%lld}", (long long)ic->expires_at) == MDT_OK)
        ev.data = mdt_arena_strdup(req->arena, b.data);
    mdt_buf_free(&b);
    mdt_resp_audit(req, resp, &ev);
}

void mdt_handle_device_authorization(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    issued_codes ic = {0};
    const char *claimed = NULL;
    bool limited = false;
    mdt_err err = {0};
    mdt_rc rc;

    resp->no_store = true;
    if ((rc = mdt_req_parse_form(req, &err)) != MDT_OK ||
        (rc = rate(env, req, &limited, &err)) != MDT_OK) {
        refuse(req, resp, NULL, &err);
        return;
    }
    if (limited) {
        too_many(req, resp);
        return;
    }
    if ((rc = mdt_client_authenticate(env, req, &who, &claimed, &err)) != MDT_OK) {
        mdt_client_auth_refuse(req, resp, claimed, &err);
        return;
    }
    resp->client_id = who.client.client_id;
    if (!mdt_client_has_grant(&who.client, MDT_GRANT_DEVICE_CODE))
        rc = mdt_failf(&err, MDT_ERR_UNAUTHORIZED_CLIENT,
                       "the client is not registered for the device_code grant",
                       "grant_type '%s' not registered", MDT_GRANT_DEVICE_CODE);
    if (rc == MDT_OK)
        rc = what_asked(env, req, &who.client, &ic, &err);
    if (rc == MDT_OK)
        rc = store_codes(env, req, &who.client, &ic, &err);
    if (rc == MDT_OK && (rc = answer(env, req, resp, &ic)) != MDT_OK)
        mdt_fail(&err, rc, "out of memory");
    mdt_wipe(ic.device_code, sizeof(ic.device_code));
    if (rc != MDT_OK) {
        refuse(req, resp, who.client.client_id, &err);
        return;
    }
    issued(req, resp, &who.client, who.method, &ic);
}

/* ------------------------------------------------------ the /device page */

static mdt_rc not_found(mdt_err *err, const char *detail)
{
    return mdt_failf(err, MDT_ERR_NOT_FOUND,
                     "this code is unknown, has expired or was already used", "%s", detail);
}

/* The client of an authorization, still usable. */
static mdt_rc view_client(mdt_env *env, mdt_req *req, const char *client_id, mdt_device_view *out,
                          mdt_err *err)
{
    mdt_rc rc = mdt_client_load(env, client_id, req->now, req->arena, &out->client, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_client_usable(&out->client, req->now)))
        return not_found(err, "the client is gone or not usable");
    return rc;
}

mdt_rc mdt_device_find(mdt_env *env, mdt_req *req, const char *user_code, mdt_device_view *out,
                       mdt_err *err)
{
    char norm[MDT_DEVICE_USER_CODE_CHARS + 1];
    uint8_t hash[MDT_HASH_LEN];
    mdt_device_rec d;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!mdt_device_user_code_normalize(user_code, norm))
        return not_found(err, "malformed user code");
    mdt_sha256(norm, strlen(norm), hash);
    rc = mdt_store_device_find_user(env->store, hash, req->now, req->arena, &d, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return not_found(err, "unknown, expired or entered user code");
    if (rc != MDT_OK)
        return rc;
    out->scope = d.scope;
    out->resource = d.resource;
    out->expires_at = d.expires_at;
    return view_client(env, req, d.client_id, out, err);
}

mdt_rc mdt_device_enter(mdt_env *env, mdt_req *req, const char *user_code, const char *username,
                        mdt_device_view *out, mdt_err *err)
{
    char norm[MDT_DEVICE_USER_CODE_CHARS + 1];
    uint8_t hash[MDT_HASH_LEN];
    mdt_request_rec r = {.type = MDT_REQUEST_TYPE_DEVICE, .subject = username};
    const char *id = NULL, *json;
    mdt_device_rec d;
    mdt_ctx as_person;
    mdt_err e2 = {0};
    mdt_rc rc = mdt_device_find(env, req, user_code, out, err);

    if (rc != MDT_OK)
        return rc;
    (void)mdt_device_user_code_normalize(user_code, norm);
    mdt_sha256(norm, strlen(norm), hash);
    r.client_id = out->client.client_id;
    r.scope = out->scope;
    r.resource = out->resource;
    r.expires_at = out->expires_at;
    as_person = mdt_ctx_as(&req->ctx, username); /* request.created: by the person */
    if ((rc = mdt_request_create(env, &as_person, &r, req->arena, &id, err)) != MDT_OK)
        return rc;
    rc = mdt_store_device_bind(env->store, hash, id, req->now, req->arena, &d, err);
    if (rc == MDT_ERR_NOT_FOUND) {
        /* entered by someone else meanwhile: this request asks for nothing */
        if (mdt_request_decide(env, &req->ctx, id, false, NULL, "user code entered twice", 0,
                               req->arena, &json, &e2) != MDT_OK)
            mdt_err_clear(&e2); /* left pending, it asks for nothing and expires with the code */
        return not_found(err, "user code entered twice at once");
    }
    if (rc != MDT_OK)
        return rc;
    out->request_id = id;
    out->status = "pending";
    return MDT_OK;
}

mdt_rc mdt_device_request(mdt_env *env, mdt_req *req, const char *request_id, const char *username,
                          mdt_device_view *out, mdt_err *err)
{
    mdt_request_rec r;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!request_id || strlen(request_id) > 64)
        return not_found(err, "no request id");
    rc = mdt_store_request_get(env->store, request_id, req->arena, &r, err);
    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && (!mdt_str_eq(r.type, MDT_REQUEST_TYPE_DEVICE) ||
                                                     !mdt_str_eq(r.subject, username))))
        return not_found(err, "no device request of this person with this id");
    if (rc != MDT_OK)
        return rc;
    out->scope = r.scope ? r.scope : "";
    out->resource = r.resource;
    out->expires_at = r.expires_at;
    out->request_id = r.id;
    out->status = mdt_request_status(&r, req->now);
    return view_client(env, req, r.client_id, out, err);
}

mdt_rc mdt_device_decide(mdt_env *env, mdt_req *req, const char *request_id, const char *username,
                         bool allow, mdt_device_view *out, mdt_err *err)
{
    const char *json;
    mdt_rc rc = mdt_device_request(env, req, request_id, username, out, err);

    if (rc != MDT_OK)
        return rc;
    if ((rc = mdt_request_decide(env, &req->ctx, request_id, allow, username, NULL, 0, req->arena,
                                 &json, err)) != MDT_OK)
        return rc;
    return mdt_device_request(env, req, request_id, username, out, err);
}
