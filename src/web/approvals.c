/* GET and POST /approvals (SPEC §2.6, §3.5): the inbox of the signed-in
 * person. It lists every pending request they may decide, by the rule of
 * the decision itself (mdt_request_list_for): CIBA requests that ask them,
 * and whatever else waits for them as approver, admin or owner
 * (registrations, device authorizations, access requests). Each item shows
 * who asks (the client's name, kind, owner, how it authenticates, whether
 * anyone vouches for it), the exact action (scopes with their descriptions,
 * resource, binding_message, authorization_details rendered as text, what
 * the request's type shows approvers) and when it expires, with Allow and
 * Deny and an optional note. A decision goes through mdt_request_decide as
 * the person (who may decide is checked there again, so posting the id of a
 * request they may not decide changes nothing), and the page says what
 * came of it: approved, denied, or still waiting for more approvers.
 * Audited: request.approved, request.denied (by the service),
 * approval.refused. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "iga/client.h"
#include "iga/entitlements.h"
#include "iga/requests.h"
#include "oauth/grants.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/session.h"
#include "web/web.h"

#define APPROVALS_PATH "/approvals"
#define APPROVALS_ID_MAX 64 /* bytes of a submitted request id */
#define SHOWN_DEPTH_MAX 8   /* nesting rendered as lists; deeper: JSON text */
#define APPROVALS_SHOWN_MAX 50 /* items on one page, oldest first (a page has a size cap) */

static const char page_tpl[] =
    "<p class=\"lead\">Requests that wait for your decision.</p>\n"
    "{{!items}}"
    "<p class=\"muted\">Signed in as {{username}}.</p>\n";

static const char item_tpl[] =
    "<section class=\"approval\" id=\"{{id}}\" aria-labelledby=\"h-{{id}}\">\n"
    "<h2 id=\"h-{{id}}\"><strong class=\"client-name\">{{name}}</strong> asks: "
    "<span class=\"approval-kind\">{{what}}</span></h2>\n"
    "{{!binding}}"
    "<dl class=\"who\">\n"
    "<dt>Application</dt><dd>{{name}} <span class=\"muted\">({{client_id}})</span></dd>\n"
    "<dt>Kind</dt><dd class=\"client-kind\">{{kind}}</dd>\n"
    "<dt>Owner</dt><dd class=\"client-owner\">{{owner}}</dd>\n"
    "<dt>Authenticates with</dt><dd class=\"client-auth\">{{auth}}</dd>\n"
    "<dt>Verified</dt><dd class=\"client-verified\">{{verified}}</dd>\n"
    "<dt>On behalf of</dt><dd class=\"subject\">{{subject}}</dd>\n"
    "<dt>Resource</dt><dd class=\"resource\">{{resource}}</dd>\n"
    "<dt>Request</dt><dd class=\"request-id\"><code>{{id}}</code></dd>\n"
    "<dt>Expires</dt><dd class=\"expires\"><time datetime=\"{{expires}}\">{{expires}}</time></dd>\n"
    "</dl>\n"
    "<h3>It asks for</h3>\n<ul class=\"scopes\">\n{{!scopes}}</ul>\n"
    "{{!details}}{{!shown}}"
    "<form method=\"post\" action=\"" APPROVALS_PATH "\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"request\" value=\"{{id}}\">\n"
    "<label for=\"note-{{id}}\">Note (optional)</label>\n"
    "<textarea id=\"note-{{id}}\" name=\"note\" maxlength=\"1000\" rows=\"2\"></textarea>\n"
    "{{!for_field}}"
    "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
    "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n"
    "</form>\n</section>\n";

/* An access request may be allowed for less time than it asks. */
static const char for_tpl[] =
    "<label for=\"for-{{id}}\">Allow for (optional, shorter than asked: e.g. 30m, 2h)</label>\n"
    "<input id=\"for-{{id}}\" name=\"for\" type=\"text\" maxlength=\"16\" "
    "autocomplete=\"off\">\n";

static const char binding_tpl[] =
    "<p class=\"binding-message\">The application shows you this message: "
    "<strong>{{m}}</strong>. Allow only if it is the one in front of you.</p>\n";

static const char outcome_tpl[] =
    "<p class=\"lead outcome outcome-{{status}}\">{{text}}</p>\n"
    "<p><code>{{id}}</code></p>\n"
    "<p><a href=\"" APPROVALS_PATH "\">Back to your approvals</a></p>\n";

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* What an item of this type asks, in words. */
static const char *type_text(const char *type)
{
    if (mdt_str_eq(type, "ciba"))
        return "approve an action on your behalf";
    if (mdt_str_eq(type, "device"))
        return "sign in on a device";
    if (mdt_str_eq(type, "registration"))
        return "to be registered";
    if (mdt_str_eq(type, "access_request"))
        return "more access";
    return type;
}

/* A number as its shortest text that reads back as the same double (15
 * significant digits when they suffice, else 17), not JSON's 17 always. */
static mdt_rc real_html(mdt_buf *b, double d)
{
    char text[40];

    snprintf(text, sizeof(text), "%.15g", d);
    if (strtod(text, NULL) != d)
        snprintf(text, sizeof(text), "%.17g", d);
    return mdt_buf_adds(b, text);
}

/* A JSON value as HTML: objects as <dl>, arrays as <ul>, strings as text,
 * other scalars (and what nests deeper than SHOWN_DEPTH_MAX) as JSON text.
 * Everything from the value is escaped. */
static mdt_rc value_html(mdt_buf *b, json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t i;
    mdt_rc rc = MDT_OK;

    if (json_is_string(v))
        return mdt_html_escape(b, json_string_value(v));
    if (json_is_real(v))
        return real_html(b, json_real_value(v));
    if (depth >= SHOWN_DEPTH_MAX || !(json_is_object(v) || json_is_array(v))) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return MDT_ERR_NOMEM;
        rc = mdt_buf_adds(b, "<code>");
        if (rc == MDT_OK)
            rc = mdt_html_escape(b, text);
        free(text);
        return rc == MDT_OK ? mdt_buf_adds(b, "</code>") : rc;
    }
    if (json_is_array(v)) {
        rc = mdt_buf_adds(b, "<ul>");
        json_array_foreach(v, i, item) {
            if (rc == MDT_OK && (rc = mdt_buf_adds(b, "<li>")) == MDT_OK &&
                (rc = value_html(b, item, depth + 1)) == MDT_OK)
                rc = mdt_buf_adds(b, "</li>");
        }
        return rc == MDT_OK ? mdt_buf_adds(b, "</ul>") : rc;
    }
    rc = mdt_buf_adds(b, "<dl>");
    json_object_foreach(v, key, item) {
        if (rc == MDT_OK && (rc = mdt_buf_adds(b, "<dt>")) == MDT_OK &&
            (rc = mdt_html_escape(b, key)) == MDT_OK && (rc = mdt_buf_adds(b, "</dt><dd>")) == MDT_OK &&
            (rc = value_html(b, item, depth + 1)) == MDT_OK)
            rc = mdt_buf_adds(b, "</dd>");
    }
    return rc == MDT_OK ? mdt_buf_adds(b, "</dl>") : rc;
}

mdt_rc mdt_web_details_html(mdt_buf *b, const char *text)
{
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL, *item;
    size_t i;
    mdt_rc rc = MDT_OK;

    if (!json_is_array(doc) || json_array_size(doc) == 0) {
        json_decref(doc);
        return MDT_OK;
    }
    rc = mdt_buf_adds(b, "<h3>Exactly this action</h3>\n");
    json_array_foreach(doc, i, item) {
        if (rc == MDT_OK && (rc = mdt_buf_adds(b, "<div class=\"authorization-detail\"><h4>")) ==
                                MDT_OK &&
            (rc = mdt_html_escape(b, json_string_value(json_object_get(item, "type")))) == MDT_OK &&
            (rc = mdt_buf_adds(b, "</h4>")) == MDT_OK && (rc = value_html(b, item, 1)) == MDT_OK)
            rc = mdt_buf_adds(b, "</div>\n");
    }
    json_decref(doc);
    return rc;
}

/* What the request's type shows approvers (a registration's metadata). */
static mdt_rc shown_html(mdt_buf *b, const char *text)
{
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    mdt_rc rc = MDT_OK;

    if (json_is_object(doc) && json_object_size(doc) &&
        (rc = mdt_buf_adds(b, "<h3>Details</h3>\n<div class=\"shown\">")) == MDT_OK &&
        (rc = value_html(b, doc, 0)) == MDT_OK)
        rc = mdt_buf_adds(b, "</div>\n");
    json_decref(doc);
    return rc;
}

/* html of fn(text) in the arena ("" when it renders nothing). */
static mdt_rc block(mdt_req *req, mdt_rc (*fn)(mdt_buf *, const char *), const char *text,
                    const char **html, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc;

    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = fn(&b, text);
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free(&b);
    return *html ? MDT_OK : nomem(err);
}

/* The client as the item shows it; a client that is gone shows its id. */
static void client_of(mdt_env *env, mdt_req *req, const char *client_id, mdt_client *c)
{
    mdt_err ignored = {0};

    if (!client_id || mdt_client_load(env, client_id, req->now, req->arena, c, &ignored) != MDT_OK) {
        memset(c, 0, sizeof(*c));
        c->client_id = client_id ? client_id : "";
    }
}

/* The resource asked for, else the client's registered resources. */
static const char *resource_text(mdt_req *req, const mdt_request_rec *r, const mdt_client *c)
{
    const char *s = "";

    if (r->resource)
        return r->resource;
    if (!c->nresources)
        return "(this server)";
    for (size_t i = 0; i < c->nresources && s; i++)
        s = mdt_arena_printf(req->arena, "%s%s%s", s, i ? ", " : "", c->resources[i]);
    return s;
}

static const char *verified_text(const mdt_client *c)
{
    if (!c->kind)
        return "unknown application";
    if (mdt_client_unvouched(c))
        return "no: nobody vouches for it; its name is what it says about itself";
    return c->vouched_by ? "yes: a trusted publisher vouches for it" : "yes: registered by an administrator or vouched for";
}

static mdt_rc item(mdt_env *env, mdt_req *req, const mdt_request_item *it, const char *csrf,
                   mdt_buf *out, mdt_err *err)
{
    const mdt_request_rec *r = &it->rec;
    const char *scopes, *details, *shown, *binding = "", *for_field = "", *html;
    char expires[21];
    mdt_client c;
    mdt_rc rc;

    client_of(env, req, r->client_id, &c);
    mdt_time_format(r->expires_at, expires);
    if ((rc = mdt_web_scope_list(env, req, r->scope ? r->scope : "", &scopes, err)) != MDT_OK ||
        (rc = block(req, mdt_web_details_html, r->authorization_details, &details, err)) != MDT_OK ||
        (rc = block(req, shown_html, it->shown, &shown, err)) != MDT_OK)
        return rc;
    if (mdt_str_eq(r->type, MDT_ACCESS_REQUEST_TYPE)) {
        mdt_kv fv[] = {{"id", r->id}};
        if ((rc = mdt_web_render_str(req->arena, for_tpl, fv, 1, &for_field, err)) != MDT_OK)
            return rc;
    }
    if (r->binding_message) {
        mdt_kv bv[] = {{"m", r->binding_message}};
        if ((rc = mdt_web_render_str(req->arena, binding_tpl, bv, 1, &binding, err)) != MDT_OK)
            return rc;
    }
    mdt_kv vars[] = {
        {"id", r->id}, {"what", type_text(r->type)}, {"binding", binding},
        {"name", c.name && c.name[0] ? c.name : c.client_id}, {"client_id", c.client_id},
        {"kind", c.kind ? c.kind : "-"}, {"owner", c.owner && c.owner[0] ? c.owner : "(no owner)"},
        {"auth", c.auth_method ? c.auth_method : "-"}, {"verified", verified_text(&c)},
        {"subject", r->subject ? r->subject : "-"},
        {"resource", resource_text(req, r, &c)},
        {"expires", expires}, {"scopes", scopes}, {"details", details}, {"shown", shown},
        {"csrf", csrf}, {"for_field", for_field},
    };
    if ((rc = mdt_web_render_str(req->arena, item_tpl, vars, MDT_ARRAY_LEN(vars), &html, err)))
        return rc;
    return mdt_buf_adds(out, html) == MDT_OK ? MDT_OK : nomem(err);
}

/* Every item the person may decide (or a sentence when none), in *html. */
static mdt_rc items(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                    const char **html, mdt_err *err)
{
    mdt_request_item *list = NULL;
    size_t n = 0;
    const char *csrf;
    mdt_buf b;
    mdt_rc rc = mdt_request_list_for(env, &req->ctx, s->rec.username, req->arena, &list, &n, err);

    if (rc != MDT_OK)
        return rc;
    if (n == 0) {
        *html = "<p class=\"empty\">Nothing waits for your decision.</p>\n";
        return MDT_OK;
    }
    if ((rc = mdt_web_csrf_issue(env, req, resp, s, "approvals", &csrf, err)) != MDT_OK)
        return rc;
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    for (size_t i = 0; i < n && i < APPROVALS_SHOWN_MAX && rc == MDT_OK; i++)
        rc = item(env, req, &list[i], csrf, &b, err);
    if (rc == MDT_OK && n > APPROVALS_SHOWN_MAX &&
        mdt_buf_addf(&b, "<p class=\"more\">%zu more wait after these: decide these first, or "
                         "use <code>mandate request list</code>.</p>\n",
                     n - APPROVALS_SHOWN_MAX) != MDT_OK)
        rc = nomem(err);
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free(&b);
    if (rc == MDT_OK && !*html)
        rc = nomem(err);
    return rc;
}

void mdt_handle_approvals_page(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    const char *list, *body;
    mdt_err err = {0};

    if (!mdt_web_session_or_login(env, req, resp, "/approvals", &s))
        return;
    if (items(env, req, resp, &s, &list, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not list your approvals.");
        return;
    }
    mdt_kv vars[] = {{"items", list}, {"username", s.rec.username}};
    if (mdt_web_render_str(req->arena, page_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not list your approvals.");
        return;
    }
    mdt_web_page(resp, 200, "Your approvals", body);
}

/* A refused submission: the page, and approval.refused in the audit log. */
static void refused(mdt_req *req, mdt_resp *resp, const mdt_web_session *s, int status,
                    const char *text, const char *id, const mdt_err *err)
{
    mdt_web_decision_refused(req, resp, "approval.refused", s->rec.username, status, text, id, err);
}

/* The outcome page: the request's status after the decision. */
static void outcome(mdt_req *req, mdt_resp *resp, const char *id, const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    const char *st = json_string_value(json_object_get(doc, "status")), *text, *body;
    mdt_err err = {0};

    if (mdt_str_eq(st, "approved"))
        text = "Approved. The application can go ahead with exactly what it asked.";
    else if (mdt_str_eq(st, "denied"))
        text = "Denied. The application is told so.";
    else
        text = "Your approval is recorded. The request still waits for more approvers.";
    mdt_kv vars[] = {{"status", st ? st : "pending"}, {"text", text}, {"id", id}};
    if (mdt_web_render_str(req->arena, outcome_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err) != MDT_OK)
        mdt_web_fault_page(resp, &err, "The service could not show the outcome.");
    else
        mdt_web_page(resp, 200, "Decision recorded", body);
    json_decref(doc);
}

/* The submitted decision: request id, allow or deny, note, and how long
 * an approval lasts (for; 0: as asked). */
static mdt_rc read_form(mdt_req *req, const char **id, bool *approve, const char **note,
                        int64_t *for_secs, mdt_err *err)
{
    const char *d = mdt_req_form(req, "decision"), *f = mdt_req_form(req, "for");

    *for_secs = 0;
    if (mdt_str_eq(d, "allow") && f && *f &&
        (strlen(f) > 16 || mdt_duration_parse(f, for_secs) != MDT_OK || *for_secs <= 0))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "Write the time as a duration such as 30m or 2h.");

    *id = mdt_req_form(req, "request");
    *note = mdt_req_form(req, "note");
    if (!*id || !**id || strlen(*id) > APPROVALS_ID_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "Choose a request to decide.");
    if (!mdt_str_eq(d, "allow") && !mdt_str_eq(d, "deny"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "Choose Allow or Deny.");
    if (*note && strlen(*note) > MDT_REQUEST_NOTE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "The note is longer than 1000 bytes.");
    if (*note && !**note)
        *note = NULL;
    *approve = mdt_str_eq(d, "allow");
    return MDT_OK;
}

void mdt_handle_approvals(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    const char *id = NULL, *note = NULL, *json = NULL;
    int64_t for_secs = 0;
    bool approve = false;
    mdt_err err = {0};
    mdt_rc rc;

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Cannot decide", "The form could not be read.");
        return;
    }
    if (!mdt_web_session_or_login(env, req, resp, "/approvals", &s))
        return;
    if (mdt_web_csrf_check(env, req, &s, "approvals", &err) != MDT_OK) {
        refused(req, resp, &s, 403, "This form expired or was not sent by this site.", NULL, &err);
        return;
    }
    if (read_form(req, &id, &approve, &note, &for_secs, &err) != MDT_OK) {
        refused(req, resp, &s, 400, err.msg, NULL, &err);
        return;
    }
    rc = mdt_request_decide(env, &req->ctx, id, approve, s.rec.username, note, for_secs,
                            req->arena, &json, &err);
    if (rc == MDT_ERR_NOT_FOUND || rc == MDT_ERR_ACCESS_DENIED) /* the same to the person */
        refused(req, resp, &s, 404, "No such request waits for your decision.", id, &err);
    else if (rc == MDT_ERR_CONFLICT)
        refused(req, resp, &s, 409, "This request is no longer pending (decided or expired).", id,
                &err);
    else if (rc != MDT_OK)
        mdt_web_fault_page(resp, &err, "The service could not record your decision.");
    else
        outcome(req, resp, id, json);
}
