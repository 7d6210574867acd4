/* GET and POST /consents: a signed-in person sees the applications they
 * consented to (name, scopes, when) and revokes any of them: the tokens
 * the application holds for them stop working at once, and its next
 * authorization shows the consent page again. Revocation is
 * CSRF-protected and audited as consent.revoked. */
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "iga/client.h"
#include "iga/consent.h"
#include "store/store.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/session.h"
#include "web/web.h"

#define CONSENTS_PATH "/consents"
#define CONSENTS_CLIENT_ID_MAX 2048 /* bytes of a submitted client_id (CIMD URLs are long) */

static const char page_tpl[] =
    "<p class=\"lead\">Applications you allowed to act on your behalf.</p>\n"
    "{{!rows}}"
    "<p class=\"muted\">Signed in as {{username}}.</p>\n";

static const char table_tpl[] =
    "<form method=\"post\" action=\"" CONSENTS_PATH "\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<ul class=\"consents\">\n{{!items}}</ul>\n</form>\n";

static const char item_tpl[] =
    "<li class=\"consent\"><strong class=\"client-name\">{{name}}</strong> "
    "<span class=\"muted\">({{client_id}})</span>\n"
    "<dl class=\"who\"><dt>Scopes</dt><dd class=\"scopes\"><code>{{scope}}</code></dd>\n"
    "<dt>Allowed</dt><dd>{{created}}</dd><dt>Last updated</dt><dd>{{updated}}</dd></dl>\n"
    "<button type=\"submit\" name=\"revoke\" value=\"{{client_id}}\" class=\"secondary\" "
    "aria-label=\"Revoke the consent given to {{name}}\">Revoke</button></li>\n";

static void fault(mdt_resp *resp, const mdt_err *err, const char *what)
{
    mdt_web_fault_page(resp, err, what);
}

static mdt_rc item(mdt_env *env, mdt_req *req, const mdt_consent_rec *r, mdt_buf *out,
                   mdt_err *err)
{
    mdt_client c;
    char created[21], updated[21];
    const char *name = r->client_id, *html;
    mdt_err ignored = {0};
    mdt_rc rc;

    if (mdt_client_load(env, r->client_id, req->now, req->arena, &c, &ignored) == MDT_OK && c.name &&
        c.name[0])
        name = c.name;
    mdt_time_format(r->created_at, created);
    mdt_time_format(r->updated_at, updated);
    mdt_kv vars[] = {{"name", name}, {"client_id", r->client_id}, {"scope", r->scope},
                     {"created", created}, {"updated", updated}};
    if ((rc = mdt_web_render_str(req->arena, item_tpl, vars, MDT_ARRAY_LEN(vars), &html, err)))
        return rc;
    return mdt_buf_adds(out, html) == MDT_OK ? MDT_OK
                                             : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* The table of consents (or a sentence when there is none) in *html. */
static mdt_rc rows(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                   const char **html, mdt_err *err)
{
    mdt_consent_rec *list = NULL;
    size_t n = 0;
    const char *csrf, *items;
    mdt_buf b;
    mdt_rc rc = mdt_store_consent_list(env->store, s->rec.username, req->arena, &list, &n, err);

    if (rc != MDT_OK)
        return rc;
    if (n == 0) {
        *html = "<p>You have not allowed any application yet.</p>\n";
        return MDT_OK;
    }
    if ((rc = mdt_web_csrf_issue(env, req, resp, s, "consents", &csrf, err)) != MDT_OK)
        return rc;
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    for (size_t i = 0; i < n && rc == MDT_OK; i++)
        rc = item(env, req, &list[i], &b, err);
    items = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free(&b);
    if (rc == MDT_OK && !items)
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (rc != MDT_OK)
        return rc;
    mdt_kv vars[] = {{"csrf", csrf}, {"items", items}};
    return mdt_web_render_str(req->arena, table_tpl, vars, MDT_ARRAY_LEN(vars), html, err);
}

void mdt_handle_consents_page(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    const char *table, *body;
    mdt_err err = {0};

    if (!mdt_web_session_or_login(env, req, resp, "/consents", &s))
        return;
    if (rows(env, req, resp, &s, &table, &err) != MDT_OK) {
        fault(resp, &err, "The service could not list your consents.");
        return;
    }
    mdt_kv vars[] = {{"rows", table}, {"username", s.rec.username}};
    if (mdt_web_render_str(req->arena, page_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err) !=
        MDT_OK) {
        fault(resp, &err, "The service could not list your consents.");
        return;
    }
    mdt_web_page(resp, 200, "Your consents", body);
}

static void refused(mdt_req *req, mdt_resp *resp, const mdt_web_session *s, const mdt_err *err)
{
    mdt_web_message_page(resp, 403, "Cannot revoke",
                         "This form expired or was not sent by this site.");
    mdt_resp_audit(
        req, resp,
        &(mdt_audit_event){.type = "consent.refused",
                           .actor = s->rec.username,
                           .subject = s->rec.username,
                           .decision = "deny",
                           .reason = mdt_arena_printf(req->arena, "%s", mdt_err_text(err))});
}

/* {"scope": scope} for the audit event; NULL when out of memory. */
static const char *scope_json(mdt_req *req, const char *scope)
{
    mdt_buf b;
    const char *out = NULL;

    mdt_buf_init(&b, MDT_CONSENT_SCOPE_MAX + 64);
    if (mdt_buf_adds(&b, "{\"scope\":") == MDT_OK && mdt_buf_add_json_str(&b, scope) == MDT_OK &&
        mdt_buf_adds(&b, "}") == MDT_OK)
        out = mdt_arena_strdup(req->arena, b.data);
    mdt_buf_free(&b);
    return out;
}

void mdt_handle_consents(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    mdt_consent_rec rec;
    const char *client_id;
    mdt_err err = {0};
    mdt_rc rc;

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Cannot revoke", "The form could not be read.");
        return;
    }
    if (!mdt_web_session_or_login(env, req, resp, "/consents", &s))
        return;
    if (mdt_web_csrf_check(env, req, &s, "consents", &err) != MDT_OK) {
        refused(req, resp, &s, &err);
        return;
    }
    client_id = mdt_req_form(req, "revoke");
    if (!client_id || !*client_id || strlen(client_id) > CONSENTS_CLIENT_ID_MAX) {
        mdt_web_message_page(resp, 400, "Cannot revoke", "Choose an application to revoke.");
        return;
    }
    rc = mdt_store_consent_get(env->store, s.rec.username, client_id, req->arena, &rec, &err);
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_web_message_page(resp, 404, "Cannot revoke", "You gave no consent to this application.");
        return;
    }
    if (rc != MDT_OK || mdt_consent_revoke(env, s.rec.username, client_id, req->now, &err) != MDT_OK) {
        fault(resp, &err, "The service could not revoke this consent.");
        return;
    }
    resp->status = 303;
    mdt_resp_header(resp, "Location", CONSENTS_PATH);
    mdt_web_security_headers(resp);
    mdt_resp_audit(req, resp,
                   &(mdt_audit_event){.type = "consent.revoked",
                                      .actor = s.rec.username,
                                      .client_id = client_id,
                                      .subject = s.rec.username,
                                      .decision = "allow",
                                      .data = scope_json(req, rec.scope)});
}
