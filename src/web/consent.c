/* GET and POST /consent (SPEC §2.6): the person sees who asks — the
 * client's name, kind, owner, how it authenticates, where the answer goes —
 * and what for (each scope with its description and sensitivity, the
 * resource), then allows or denies. Allow remembers the consent (per person
 * and client) and issues the code; deny sends access_denied to the client.
 * Audited: consent.granted, consent.denied. */
#include <string.h>

#include "core/buf.h"
#include "core/words.h"
#include "iga/consent.h"
#include "oauth/authorize.h"
#include "oauth/grants.h"
#include "oauth/redirect.h"
#include "store/store.h"
#include "web/authorize.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/session.h"
#include "web/web.h"

#define CONSENT_HOST_MAX 256 /* bytes of the redirect host shown */

static const char consent_tpl[] =
    "{{!notice}}"
    "<p class=\"lead\"><strong class=\"client-name\">{{name}}</strong> asks to act on your "
    "behalf.</p>\n"
    "<p>If you allow it, you will be sent back to "
    "<strong class=\"redirect-host\">{{host}}</strong>.</p>\n"
    "<dl class=\"who\">\n"
    "<dt>Application</dt><dd>{{name}} <span class=\"muted\">({{client_id}})</span></dd>\n"
    "<dt>Kind</dt><dd class=\"client-kind\">{{kind}}</dd>\n"
    "<dt>Owner</dt><dd class=\"client-owner\">{{owner}}</dd>\n"
    "<dt>Authenticates with</dt><dd class=\"client-auth\">{{auth}}</dd>\n"
    "<dt>Returns to</dt><dd class=\"redirect-uri\">{{redirect_uri}}</dd>\n"
    "<dt>Resource</dt><dd class=\"resource\">{{resource}}</dd>\n"
    "</dl>\n"
    "<h2>It asks for</h2>\n"
    "<ul class=\"scopes\">\n{{!scopes}}</ul>\n"
    "<form method=\"post\" action=\"/consent\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"request\" value=\"{{request}}\">\n"
    "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
    "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n"
    "</form>\n"
    "<p class=\"muted\">Signed in as {{username}}.</p>\n";

/* A self-registered client nobody vouched for (SPEC §3.3): said first. */
static const char unverified_tpl[] =
    "<div class=\"unverified\" role=\"alert\">\n"
    "<h2>Unverified application</h2>\n"
    "<p>{{who}} No administrator, initial access token or trusted publisher vouches for it: "
    "its name is what it says about itself.</p>\n"
    "<p>Allow it only if you trust <strong class=\"unverified-host\">{{host}}</strong>, "
    "where your answer is sent.</p>\n"
    "</div>\n";

static const char scope_tpl[] =
    "<li class=\"scope sensitivity-{{sens}}\"><code>{{scope}}</code> {{desc}}"
    "{{!mark}}</li>\n";

/* The host the browser returns to (or the scheme of a private-use URI). */
static const char *redirect_host(mdt_arena *a, const char *uri)
{
    const char *p = strstr(uri, "://");
    size_t n;

    if (!p)
        return mdt_arena_strndup(a, uri, strcspn(uri, ":"));
    p += 3;
    n = strcspn(p, "/?#");
    return mdt_arena_strndup(a, p, n > CONSENT_HOST_MAX ? CONSENT_HOST_MAX : n);
}

static mdt_rc scope_item(mdt_env *env, mdt_req *req, const char *name, mdt_buf *out,
                         mdt_err *err)
{
    mdt_scope_rec sc = {0};
    const char *sens = "none", *mark = "", *html;
    mdt_rc rc = mdt_store_scope_get(env->store, name, req->arena, &sc, err);

    if (rc == MDT_ERR_NOT_FOUND)
        mdt_err_clear(err);
    else if (rc != MDT_OK)
        return rc;
    else if (sc.sensitivity)
        sens = sc.sensitivity;
    if (strcmp(sens, "none") != 0)
        mark = mdt_str_eq(sens, "approval")
                   ? " <strong class=\"sensitive\">(sensitive: needs approval)</strong>"
                   : " <strong class=\"sensitive\">(sensitive: needs your consent)</strong>";
    mdt_kv vars[] = {{"sens", sens}, {"scope", name},
                     {"desc", sc.description && sc.description[0] ? sc.description : ""},
                     {"mark", mark}};
    if ((rc = mdt_web_render_str(req->arena, scope_tpl, vars, MDT_ARRAY_LEN(vars), &html, err)))
        return rc;
    return mdt_buf_adds(out, html) == MDT_OK ? MDT_OK
                                             : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

mdt_rc mdt_web_scope_list(mdt_env *env, mdt_req *req, const char *scope, const char **html,
                          mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    for (mdt_words w = mdt_words_of(scope); rc == MDT_OK && mdt_words_next(&w);)
        rc = scope_item(env, req, mdt_arena_strndup(req->arena, w.word, w.len), &b, err);
    if (rc == MDT_OK && b.len == 0 &&
        mdt_buf_adds(&b, "<li>No scope: only to know who you are.</li>\n") != MDT_OK)
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (rc == MDT_OK && !(*html = mdt_arena_strndup(req->arena, b.data, b.len)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_buf_free(&b);
    return rc;
}

static const char *resource_text(mdt_env *env, mdt_req *req, const mdt_client *c,
                                 const mdt_authz_params *p)
{
    const char *s = "";

    if (p->resource)
        return p->resource;
    if (!c->nresources)
        return env->cfg.issuer;
    for (size_t i = 0; i < c->nresources && s; i++)
        s = mdt_arena_printf(req->arena, "%s%s%s", s, i ? ", " : "", c->resources[i]);
    return s;
}

/* The redirect URI's origin ("scheme://host[:port]", or "scheme:" of a
 * private-use URI) as a CSP source, or NULL when it holds a character a
 * policy cannot carry. */
static const char *csp_origin(mdt_arena *a, const char *uri)
{
    const char *p = strstr(uri, "://");
    const char *o = p ? mdt_arena_strndup(a, uri, (size_t)(p + 3 - uri) + strcspn(p + 3, "/?#"))
                      : mdt_arena_strndup(a, uri, strcspn(uri, ":") + 1);

    return o && !o[strcspn(o, " ;,'\"\r\n\t")] ? o : NULL;
}

/* The consent form's answer is a redirect to the client: CSP form-action
 * must allow that origin, or the browser stops the navigation. */
void mdt_web_allow_form_target(mdt_req *req, mdt_resp *resp, const char *redirect_uri)
{
    const char *o = csp_origin(req->arena, redirect_uri);
    const char *csp = o ? mdt_arena_printf(req->arena, "default-src 'none'; style-src 'self'; "
                                           "img-src 'self'; form-action 'self' %s; "
                                           "frame-ancestors 'none'; base-uri 'none'", o)
                        : NULL;

    for (size_t i = 0; csp && i < resp->nheaders; i++)
        if (strcmp(resp->headers[i].name, "Content-Security-Policy") == 0)
            resp->headers[i].value = csp;
}

static void fault(mdt_resp *resp, const mdt_err *err, const char *what)
{
    mdt_web_fault_page(resp, err, what);
}

/* Who registered c, for the notice of an unverified client. */
static const char *registered_by(const mdt_client *c)
{
    if (mdt_str_eq(c->origin, "cimd"))
        return "It was registered from the client ID metadata document at its client_id, "
               "which anyone can publish.";
    return "It registered itself through open dynamic client registration.";
}

static mdt_rc unverified_notice(mdt_req *req, const mdt_client *c, const mdt_authz_params *p,
                                const char **html, mdt_err *err)
{
    mdt_kv vars[] = {{"who", registered_by(c)},
                     {"host", redirect_host(req->arena, p->redirect_uri)}};

    *html = "";
    if (!mdt_client_unvouched(c))
        return MDT_OK;
    return mdt_web_render_str(req->arena, unverified_tpl, vars, MDT_ARRAY_LEN(vars), html, err);
}

static void render(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                   const mdt_client *c, const mdt_authz_params *p, const char *id)
{
    const char *csrf, *scopes, *body, *notice;
    mdt_err err = {0};

    if (mdt_web_csrf_issue(env, req, resp, s, "consent", &csrf, &err) != MDT_OK ||
        mdt_web_scope_list(env, req, p->scope, &scopes, &err) != MDT_OK) {
        fault(resp, &err, "The service could not show this request.");
        return;
    }
    if (unverified_notice(req, c, p, &notice, &err) != MDT_OK) {
        fault(resp, &err, "The service could not show this request.");
        return;
    }
    mdt_kv vars[] = {
        {"notice", notice},
        {"name", c->name && c->name[0] ? c->name : c->client_id},
        {"client_id", c->client_id},
        {"host", redirect_host(req->arena, p->redirect_uri)},
        {"kind", c->kind},
        {"owner", c->owner && c->owner[0] ? c->owner : "(no owner)"},
        {"auth", mdt_str_eq(c->auth_method, "none") ? "none (a public client, with PKCE)"
                                                    : c->auth_method},
        {"redirect_uri", p->redirect_uri},
        {"resource", resource_text(env, req, c, p)},
        {"scopes", scopes},
        {"csrf", csrf},
        {"request", id},
        {"username", s->rec.username},
    };
    if (mdt_web_render_str(req->arena, consent_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err) !=
        MDT_OK) {
        fault(resp, &err, "The service could not show this request.");
        return;
    }
    mdt_web_page(resp, 200, "Allow access?", body);
    mdt_web_allow_form_target(req, resp, p->redirect_uri);
}

/* Where sign-in comes back to: the consent page of id. */
static const char *consent_path(mdt_req *req, const char *id)
{
    return mdt_arena_printf(req->arena, "/consent?request=%s", mdt_url_encode(req->arena, id));
}

/* Who signed in, or a redirect to /login that comes back here (false). */
static bool need_session(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *id,
                         mdt_web_session *s, mdt_authz_user *u)
{
    mdt_err err = {0};
    mdt_authz_outcome o = {.kind = MDT_AUTHZ_NEEDS_LOGIN, .request_id = id};
    mdt_rc rc = mdt_web_signed_in(env, req, s, u, &err);

    if (rc == MDT_OK)
        return true;
    if (rc != MDT_ERR_NOT_FOUND) {
        fault(resp, &err, "The service could not read the session.");
        return false;
    }
    o.resume = consent_path(req, id);
    mdt_web_authz_render(req, resp, &o);
    return false;
}

/* The stored request and its client, when consent can be asked (else the
 * protocol's answer is rendered: an error page, or sign-in again). */
static bool pending(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *id,
                    const mdt_authz_user *u, mdt_authz_params *p, mdt_client *c)
{
    mdt_authz_outcome o;

    if (mdt_authz_consent_pending(env, req, id, u, consent_path(req, id), p, c, &o))
        return true;
    mdt_web_authz_render(req, resp, &o);
    return false;
}

/* An error page for a request that names no stored request. */
static void no_request(mdt_req *req, mdt_resp *resp)
{
    mdt_authz_outcome o = {0};

    mdt_authz_error_page(req, &o, 400, NULL, "No authorization request to consent to.");
    mdt_web_authz_render(req, resp, &o);
}

void mdt_handle_consent_page(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *id = mdt_req_query(req, "request");
    mdt_web_session s;
    mdt_authz_user u;
    mdt_authz_params p = {0};
    mdt_client c;

    if (!id || !*id || strlen(id) > 64) {
        no_request(req, resp);
        return;
    }
    if (need_session(env, req, resp, id, &s, &u) && pending(env, req, resp, id, &u, &p, &c))
        render(env, req, resp, &s, &c, &p, id);
}

void mdt_handle_consent(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *id, *decision;
    mdt_web_session s;
    mdt_authz_user u;
    mdt_authz_params p = {0};
    mdt_authz_outcome o;
    mdt_client c;
    mdt_err err = {0};

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Cannot authorize", "The form could not be read.");
        return;
    }
    id = mdt_req_form(req, "request");
    decision = mdt_req_form(req, "decision");
    if (!id || !*id || strlen(id) > 64) {
        no_request(req, resp);
        return;
    }
    if (!need_session(env, req, resp, id, &s, &u))
        return;
    if (mdt_web_csrf_check(env, req, &s, "consent", &err) != MDT_OK) {
        mdt_web_message_page(resp, 403, "Cannot authorize",
                             "This form expired or was not sent by this site.");
        mdt_resp_audit(
            req, resp,
            &(mdt_audit_event){.type = "consent.refused",
                               .actor = s.rec.username,
                               .subject = s.rec.username,
                               .decision = "deny",
                               .reason = mdt_arena_printf(req->arena, "%s", mdt_err_text(&err))});
        return;
    }
    if (!pending(env, req, resp, id, &u, &p, &c))
        return;
    if (!mdt_str_eq(decision, "allow") && !mdt_str_eq(decision, "deny")) {
        mdt_web_message_page(resp, 400, "Cannot authorize", "Choose Allow or Deny.");
        return;
    }
    mdt_authz_consent_answer(env, req, &u, &c, &p, id, mdt_str_eq(decision, "allow"), &o);
    mdt_web_authz_render(req, resp, &o);
}
