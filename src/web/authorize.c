/* GET and POST /authorize, and the rendering of the authorization
 * endpoint's outcomes: the protocol (oauth/authorize.c) decides, this page
 * shows it. */
#include "web/authorize.h"

#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "oauth/redirect.h"
#include "web/render.h"
#include "web/web.h"

mdt_rc mdt_web_signed_in(mdt_env *env, mdt_req *req, mdt_web_session *s, mdt_authz_user *u,
                         mdt_err *err)
{
    char sid64[MDT_WEB_SID_LEN];
    mdt_rc rc = mdt_web_session_get(env, req, req->arena, s, err);

    memset(u, 0, sizeof(*u));
    if (rc != MDT_OK)
        return rc;
    mdt_web_session_sid(&s->rec, sid64);
    u->username = s->rec.username;
    u->auth_time = s->rec.auth_time;
    u->amr = s->rec.amr;
    if (!(u->sid = mdt_arena_strdup(req->arena, sid64)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

static void redirect(mdt_resp *resp, const char *location)
{
    resp->status = 303;
    mdt_resp_header(resp, "Location", location);
    mdt_web_security_headers(resp);
}

static const char form_post_tpl[] =
    "<p>Continue to <strong>{{host}}</strong> to finish.</p>\n"
    "<form method=\"post\" action=\"{{uri}}\">\n"
    "{{!fields}}"
    "<button type=\"submit\">Continue to {{host}}</button>\n"
    "</form>\n";

/* The host[:port] of uri (its scheme when it has no authority). */
static const char *uri_host(mdt_arena *a, const char *uri)
{
    const char *p = strstr(uri, "://");

    return p ? mdt_arena_strndup(a, p + 3, strcspn(p + 3, "/?#"))
             : mdt_arena_strndup(a, uri, strcspn(uri, ":"));
}

/* OAuth 2.0 Form Post Response Mode, without script (the CSP forbids it):
 * a form of hidden fields that the person sends with a button; the page's
 * form-action allows the redirect URI's origin. False when it cannot be
 * rendered. */
static bool form_post(mdt_req *req, mdt_resp *resp, const char *uri, const mdt_kv *q, size_t n)
{
    static const char field[] = "<input type=\"hidden\" name=\"{{n}}\" value=\"{{v}}\">\n";
    const char *fields, *body;
    mdt_err err = {0};
    mdt_buf b;
    bool ok = true;

    mdt_buf_init(&b, MDT_REDIRECT_MAX);
    for (size_t i = 0; i < n && ok; i++) {
        mdt_kv kv[] = {{"n", q[i].name}, {"v", q[i].value}};
        ok = !q[i].value || mdt_web_render(&b, field, kv, 2, &err) == MDT_OK;
    }
    fields = ok ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free_wipe(&b);
    mdt_kv vars[] = {{"host", uri_host(req->arena, uri)}, {"uri", uri}, {"fields", fields}};
    if (!fields || mdt_web_render_str(req->arena, form_post_tpl, vars, MDT_ARRAY_LEN(vars), &body,
                                      &err) != MDT_OK)
        return false;
    mdt_web_page(resp, 200, "Continue", body);
    mdt_web_allow_form_target(req, resp, uri);
    return true;
}

/* The authorization response of o to its redirect URI in its response mode. */
static bool respond(mdt_req *req, mdt_resp *resp, const mdt_authz_outcome *o)
{
    const char *loc;

    if (o->form_post)
        return form_post(req, resp, o->redirect_uri, o->params, o->nparams);
    if (!(loc = mdt_redirect_build(req->arena, o->redirect_uri, o->params, o->nparams)))
        return false;
    redirect(resp, loc);
    return true;
}

/* The page or redirect of o; false when it cannot be built. */
static bool render(mdt_req *req, mdt_resp *resp, const mdt_authz_outcome *o)
{
    const char *loc;

    switch (o->kind) {
    case MDT_AUTHZ_SHOW_ERROR:
        if (o->has_fault)
            mdt_resp_fault(resp, &o->fault);
        mdt_web_message_page(resp, o->status, o->title, o->message);
        return true;
    case MDT_AUTHZ_NEEDS_LOGIN:
        loc = o->resume ? mdt_arena_printf(req->arena, "/login?return_to=%s",
                                           mdt_url_encode(req->arena, o->resume))
                        : NULL;
        break;
    case MDT_AUTHZ_NEEDS_CONSENT:
        loc = mdt_arena_printf(req->arena, "/consent?request=%s", o->request_id);
        break;
    case MDT_AUTHZ_REDIRECT_ERROR:
    case MDT_AUTHZ_CODE:
        return respond(req, resp, o);
    default:
        return false;
    }
    if (!loc)
        return false;
    redirect(resp, loc);
    return true;
}

void mdt_web_authz_render(mdt_req *req, mdt_resp *resp, mdt_authz_outcome *o)
{
    const char *client_id = o->audit.client_id;

    if (!render(req, resp, o)) {
        mdt_err err = {0};
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory building the answer");
        if (o->kind == MDT_AUTHZ_REDIRECT_ERROR)
            mdt_authz_error_page(req, o, 400, client_id, "The response is too large.");
        else if (o->kind == MDT_AUTHZ_CODE)
            mdt_authz_fault_page(req, o, &err, client_id, "The service could not issue a code.");
        else
            mdt_authz_fault_page(req, o, &err, client_id, "Out of memory.");
        if (o->has_fault)
            mdt_resp_fault(resp, &o->fault);
        mdt_web_message_page(resp, o->status, o->title, o->message);
    }
    if (o->has_audit)
        mdt_resp_audit(req, resp, &o->audit); /* the outcome's event */
    mdt_authz_outcome_wipe(o);
}

void mdt_handle_authorize(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    mdt_authz_user u;
    mdt_authz_outcome o;
    mdt_err err = {0};
    mdt_rc rc = mdt_web_signed_in(env, req, &s, &u, &err);

    if (rc != MDT_OK && rc != MDT_ERR_NOT_FOUND) {
        memset(&o, 0, sizeof(o));
        mdt_authz_fault_page(req, &o, &err, NULL, "The service could not read the session.");
    } else {
        mdt_authorize(env, req, rc == MDT_OK ? &u : NULL, &o);
    }
    mdt_web_authz_render(req, resp, &o);
}
