/* POST /access-requests and GET /access-requests/{id} (SPEC §3.6): a client,
 * authenticated as at /token, asks for an entitlement and reads the
 * outcome. Thin: the body is read (JSON or a form), the client
 * authenticated, and iga/entitlements.h decides. A JSON body's string
 * members are read like form parameters, so every client authentication
 * method of /token works with either (client_id, client_secret,
 * client_assertion, ...). */
#include <jansson.h>
#include <string.h>

#include "iga/entitlements.h"
#include "oauth/client_auth.h"
#include "oauth/endpoints.h"

#define PATH_PREFIX "/access-requests/"

static void audit(mdt_req *req, mdt_resp *resp, const char *type, const char *decision,
                  const char *client_id, const char *reason)
{
    mdt_audit_event ev = {.type = type, .actor = client_id, .client_id = client_id,
                          .decision = decision, .reason = reason};

    mdt_resp_audit(req, resp, &ev);
}

/* Too many pending requests is 429 (invalid_request); every other refusal
 * has the status of its code. */
static void refuse(mdt_req *req, mdt_resp *resp, const char *client_id, const mdt_err *err)
{
    if (err->rc == MDT_ERR_SLOW_DOWN) {
        mdt_err shown = *err;
        shown.rc = MDT_ERR_INVALID_REQUEST;
        mdt_resp_error(resp, &shown);
        resp->status = 429;
    } else {
        mdt_resp_error(resp, err);
    }
    audit(req, resp, "access_request.refused", "deny", client_id,
          mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc), mdt_err_audit_text(err)));
}

/* A JSON body: its string members become the request's parameters (as a
 * form's would); *duration: the "duration" member's text or number. */
static mdt_rc json_params(mdt_req *req, const char **duration, mdt_err *err)
{
    static const char *const text_only[] = {"scope", "resource", "justification"};
    json_t *doc = NULL, *v;
    const char *key;
    size_t n = 0;
    mdt_rc rc;

    if ((rc = mdt_req_parse_json(req, &doc, err)) != MDT_OK)
        return rc;
    if (!(req->form = mdt_arena_alloc(req->arena, (json_object_size(doc) + 1) * sizeof(mdt_kv))))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_object_foreach(doc, key, v) {
        if (rc != MDT_OK)
            break;
        if (strcmp(key, "duration") == 0 && json_is_integer(v)) {
            *duration = mdt_arena_printf(req->arena, "%lld", (long long)json_integer_value(v));
            continue;
        }
        if (!json_is_string(v)) {
            for (size_t i = 0; i < MDT_ARRAY_LEN(text_only); i++)
                if (strcmp(key, text_only[i]) == 0 || strcmp(key, "duration") == 0)
                    rc = mdt_failf(err, MDT_ERR_INVALID_REQUEST, "a member has the wrong type",
                                   "%.32s must be a string", key);
            continue;
        }
        req->form[n].name = mdt_arena_strdup(req->arena, key);
        req->form[n].value = mdt_arena_strdup(req->arena, json_string_value(v));
        if (!req->form[n].name || !req->form[n].value)
            rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        if (strcmp(key, "duration") == 0)
            *duration = req->form[n].value;
        n++;
    }
    req->nform = n;
    json_decref(doc);
    return rc;
}

/* The body, JSON or a form, as the request's parameters. */
static mdt_rc read_body(mdt_req *req, const char **duration, mdt_err *err)
{
    *duration = NULL;
    if (req->content_type && strcmp(req->content_type, "application/json") == 0)
        return json_params(req, duration, err);
    if (req->content_type &&
        strcmp(req->content_type, "application/x-www-form-urlencoded") == 0) {
        mdt_rc rc = mdt_req_parse_form(req, err);
        *duration = mdt_req_form(req, "duration");
        return rc;
    }
    return mdt_fail(err, MDT_ERR_UNSUPPORTED_MEDIA,
                    "the body must be application/json or application/x-www-form-urlencoded");
}

static mdt_rc read_ask(mdt_req *req, const char *duration, mdt_access_ask *ask, mdt_err *err)
{
    memset(ask, 0, sizeof(*ask));
    ask->scope = mdt_req_form(req, "scope");
    ask->resource = mdt_req_form(req, "resource");
    ask->justification = mdt_req_form(req, "justification");
    if (!ask->scope || !*ask->scope)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "scope is required");
    if (!ask->justification || !*ask->justification)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "justification is required");
    return duration ? mdt_access_duration_parse(duration, &ask->duration, err) : MDT_OK;
}

static void created(mdt_req *req, mdt_resp *resp, const char *client_id, const char *id,
                    bool existing)
{
    mdt_buf *b = &resp->body;
    const char *loc = mdt_arena_printf(req->arena, PATH_PREFIX "%s", id);

    resp->status = existing ? 200 : 201;
    resp->content_type = "application/json";
    if (!loc || mdt_buf_adds(b, "{\"id\":") != MDT_OK || mdt_buf_add_json_str(b, id) != MDT_OK ||
        mdt_buf_adds(b, ",\"status\":\"pending\"}") != MDT_OK) {
        mdt_err err;
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        refuse(req, resp, client_id, &err);
        return;
    }
    mdt_resp_header(resp, "Location", loc);
    audit(req, resp, existing ? "access_request.repeated" : "access_request.filed", "allow",
          client_id, id);
}

void mdt_handle_access_request(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    mdt_ctx as_client;
    mdt_access_ask ask;
    const char *claimed = NULL, *id = NULL, *duration = NULL;
    bool existing = false;
    mdt_err err = {0};

    resp->no_store = true;
    if (read_body(req, &duration, &err) != MDT_OK) {
        refuse(req, resp, NULL, &err);
        return;
    }
    if (mdt_client_authenticate(env, req, &who, &claimed, &err) != MDT_OK) {
        mdt_client_auth_refuse(req, resp, claimed, &err);
        return;
    }
    resp->client_id = who.client.client_id;
    as_client = mdt_ctx_as(&req->ctx, who.client.client_id); /* the client asks */
    if (read_ask(req, duration, &ask, &err) != MDT_OK ||
        mdt_access_request_create(env, &as_client, &who.client, &ask, req->arena, &id, &existing,
                                  &err) != MDT_OK) {
        refuse(req, resp, who.client.client_id, &err);
        return;
    }
    created(req, resp, who.client.client_id, id, existing);
}

void mdt_handle_access_request_get(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    const char *claimed = NULL, *json = NULL, *id = req->path + strlen(PATH_PREFIX);
    mdt_err err = {0};

    resp->no_store = true;
    /* a GET has no body: client authentication by its headers (Basic, a
       certificate) or, when sent, a form body as at /token */
    if (req->body_len && mdt_req_parse_form(req, &err) != MDT_OK) {
        refuse(req, resp, NULL, &err);
        return;
    }
    if (!req->form && !(req->form = mdt_arena_alloc(req->arena, sizeof(mdt_kv)))) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        refuse(req, resp, NULL, &err);
        return;
    }
    if (mdt_client_authenticate(env, req, &who, &claimed, &err) != MDT_OK) {
        mdt_client_auth_refuse(req, resp, claimed, &err);
        return;
    }
    resp->client_id = who.client.client_id;
    if (mdt_access_request_json(env, &req->ctx, who.client.client_id, id, req->arena, &json,
                                &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        return;
    }
    mdt_resp_json(resp, 200, json, strlen(json));
}
