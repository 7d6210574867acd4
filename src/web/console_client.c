/* GET and POST /console/clients/{client_id}: one application. Its metadata
 * (the RFC 7591 document, as a definition list), its credentials with
 * their age and last use (mdt_client_show_json), its entitlements with
 * their source and expiry (mdt_entitlement_list_json), its usage — tokens
 * per day over USAGE_DAYS days as an inline SVG chart drawn here (no
 * script, no style attribute: the page's CSP holds), with a text
 * alternative, and the last use of each scope (mdt_usage_client_json) —,
 * the approval requests of this client still pending
 * (mdt_request_list_client_json), its recent decisions from the audit log
 * (the last RECENT_EVENTS events about it, mdt_audit_recent through the
 * store's client index) and its review findings (with certify / revoke
 * for admins, posting to /console/reviews).
 *
 * For admins, two actions with a confirmation step, each a GET of
 * ?confirm=... showing what will happen, whose form POSTs with the
 * console's CSRF token to this path: suspend or resume (action=
 * suspend|resume, mdt_client_set_status, the service the CLI uses;
 * audited client.suspended / client.resumed), and ending a dynamic
 * entitlement (action=end&entitlement=ent_..., mdt_entitlement_revoke;
 * audited entitlement.revoked). Both act as the signed-in admin. Auditors
 * see no button, and their POST is refused (403, console.refused) before
 * anything is read from it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "audit/audit.h"
#include "iga/client.h"
#include "iga/entitlements.h"
#include "iga/requests.h"
#include "iga/usage.h"
#include "web/console.h"
#include "web/csrf.h"
#include "web/render.h"
#include "oauth/redirect.h"
#include "web/web.h"

#define CLIENT_PREFIX MDT_CONSOLE_CLIENTS "/"
#define USAGE_DAYS 30
#define RECENT_EVENTS 20
#define RECENT_SCAN_MAX 5000 /* audit events read for the recent decisions, at most */
#define ENT_ID_MAX 128

static const char body_tpl[] =
    "<p class=\"lead\"><strong class=\"client-name\">{{name}}</strong> "
    "<code class=\"client-id\">{{id}}</code> "
    "<span class=\"status status-{{status}} client-status\">{{status}}</span></p>\n"
    "{{!actions}}"
    "<section aria-labelledby=\"h-meta\">\n<h2 id=\"h-meta\">Registration</h2>\n"
    "<dl class=\"metadata\">\n{{!metadata}}</dl>\n</section>\n"
    "<section aria-labelledby=\"h-creds\">\n<h2 id=\"h-creds\">Credentials</h2>\n{{!creds}}"
    "</section>\n"
    "<section aria-labelledby=\"h-ents\">\n<h2 id=\"h-ents\">Entitlements</h2>\n{{!ents}}"
    "</section>\n"
    "<section aria-labelledby=\"h-usage\">\n<h2 id=\"h-usage\">Usage</h2>\n{{!usage}}"
    "</section>\n"
    "<section aria-labelledby=\"h-reqs\">\n<h2 id=\"h-reqs\">Pending requests</h2>\n{{!requests}}"
    "</section>\n"
    "<section aria-labelledby=\"h-events\">\n<h2 id=\"h-events\">Recent decisions</h2>\n"
    "{{!events}}<p><a href=\"{{audit_href}}\">The whole audit log of this application</a></p>\n"
    "</section>\n"
    "<section aria-labelledby=\"h-findings\">\n<h2 id=\"h-findings\">Review findings</h2>\n"
    "{{!findings}}</section>\n"
    "<p><a href=\"" MDT_CONSOLE_CLIENTS "\">All applications</a></p>\n";

static const char action_tpl[] =
    "<form method=\"get\" action=\"{{path}}\" class=\"console-actions\">\n"
    "<input type=\"hidden\" name=\"confirm\" value=\"{{action}}\">\n"
    "<button type=\"submit\" class=\"{{class}}\">{{label}}</button>\n</form>\n";

static const char confirm_tpl[] =
    "<p class=\"lead\">{{question}}</p>\n"
    "<p class=\"consequence\">{{consequence}}</p>\n"
    "<form method=\"post\" action=\"{{path}}\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"action\" value=\"{{action}}\">\n"
    "<button type=\"submit\" class=\"{{class}}\">{{label}}</button>\n"
    "<a href=\"{{path}}\">Cancel</a>\n</form>\n";

static const char cred_row_tpl[] =
    "<tr><td><code>{{id}}</code></td><td class=\"cred-type\">{{type}}</td><td>{{name}}</td>"
    "<td><time datetime=\"{{created}}\">{{created}}</time> <span class=\"muted\">({{age}})"
    "</span></td><td>{{expires}}</td><td class=\"cred-last-used\">{{last_used}}</td></tr>\n";

static const char req_row_tpl[] =
    "<tr><td><a href=\"" MDT_CONSOLE_REQUESTS "#{{id}}\"><code>{{id}}</code></a></td>"
    "<td>{{type}}</td><td>{{subject}}</td><td>{{scope}}</td>"
    "<td><time datetime=\"{{created}}\">{{created}}</time></td>"
    "<td><time datetime=\"{{expires}}\">{{expires}}</time></td></tr>\n";

/* What each action does, in the words of the confirmation page. */
static const struct {
    const char *action, *status, *label, *class, *question, *consequence, *done;
} actions[] = {
    {"suspend", "suspended", "Suspend application", "danger",
     "Suspend this application?",
     "Suspending revokes every token and refresh token of the client at once, and it gets no "
     "new ones until an administrator resumes it.",
     "Suspended. Every token and refresh token of the application is revoked, and it gets no "
     "new ones."},
    {"resume", "active", "Resume application", "",
     "Resume this application?",
     "Resuming lets the client get new tokens again. The tokens revoked by the suspension stay "
     "revoked.",
     "Resumed. The application can get new tokens again."},
};

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The client id of the path, or NULL when there is none or it is too long. */
static const char *client_id_of(mdt_req *req)
{
    const char *id = req->path + strlen(CLIENT_PREFIX);

    return *id && strlen(id) <= MDT_CONSOLE_ID_MAX ? id : NULL;
}

static int action_index(const char *action)
{
    for (size_t i = 0; i < MDT_ARRAY_LEN(actions); i++)
        if (mdt_str_eq(action, actions[i].action))
            return (int)i;
    return -1;
}

/* The action an admin may take on a client of this status: suspend for an
 * active or pending one, resume for a suspended one; -1: none (expired). */
static int action_for(const char *status)
{
    if (mdt_str_eq(status, "active") || mdt_str_eq(status, "pending"))
        return 0;
    return mdt_str_eq(status, "suspended") ? 1 : -1;
}

/* A value of the document: text for a string or an integer, a list for an
 * array of strings, compact JSON for anything else; escaped. */
static mdt_rc value_html(mdt_buf *b, json_t *v)
{
    json_t *x;
    size_t i;
    mdt_rc rc = MDT_OK;
    char *text;

    if (json_is_string(v))
        return mdt_html_escape(b, json_string_value(v));
    if (json_is_integer(v))
        return mdt_buf_addf(b, "%lld", (long long)json_integer_value(v));
    if (json_is_array(v) && json_array_size(v)) {
        bool strings = true;
        json_array_foreach(v, i, x) strings = strings && json_is_string(x);
        if (strings) {
            rc = mdt_buf_adds(b, "<ul>");
            json_array_foreach(v, i, x) {
                if (rc == MDT_OK && (rc = mdt_buf_adds(b, "<li>")) == MDT_OK &&
                    (rc = mdt_html_escape(b, json_string_value(x))) == MDT_OK)
                    rc = mdt_buf_adds(b, "</li>");
            }
            return rc == MDT_OK ? mdt_buf_adds(b, "</ul>") : rc;
        }
    }
    if (!(text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
        return MDT_ERR_NOMEM;
    if ((rc = mdt_buf_adds(b, "<code>")) == MDT_OK && (rc = mdt_html_escape(b, text)) == MDT_OK)
        rc = mdt_buf_adds(b, "</code>");
    free(text);
    return rc;
}

/* Every member of the document but its credentials, as <dt>/<dd>. */
static mdt_rc metadata_html(mdt_req *req, json_t *doc, const char **html, mdt_err *err)
{
    const char *key;
    json_t *v;
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    json_object_foreach(doc, key, v) {
        if (rc != MDT_OK || mdt_str_eq(key, "credentials"))
            continue;
        if ((rc = mdt_buf_adds(&b, "<dt>")) == MDT_OK && (rc = mdt_html_escape(&b, key)) == MDT_OK &&
            (rc = mdt_buf_adds(&b, "</dt><dd>")) == MDT_OK && (rc = value_html(&b, v)) == MDT_OK)
            rc = mdt_buf_adds(&b, "</dd>\n");
    }
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free(&b);
    return *html ? MDT_OK : nomem(err);
}

/* An RFC 3339 member of o as seconds (0 when null or absent). */
static int64_t time_of(json_t *o, const char *key)
{
    const char *s = str_of(o, key);
    int64_t t = 0;

    return s && mdt_time_parse(s, &t) == MDT_OK ? t : 0;
}

static mdt_rc table_html(mdt_req *req, json_t *arr, const char *head, const char *empty,
                         mdt_rc (*row)(mdt_req *, json_t *, const void *, mdt_buf *, mdt_err *),
                         const void *ctx, const char **html, mdt_err *err)
{
    json_t *x;
    size_t i;
    mdt_buf b;
    mdt_rc rc;

    if (!json_array_size(arr)) {
        *html = empty;
        return MDT_OK;
    }
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = mdt_buf_adds(&b, head) == MDT_OK ? MDT_OK : nomem(err);
    json_array_foreach(arr, i, x) {
        if (rc == MDT_OK)
            rc = row(req, x, ctx, &b, err);
    }
    if (rc == MDT_OK && mdt_buf_adds(&b, "</tbody>\n</table>\n") != MDT_OK)
        rc = nomem(err);
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data, b.len) : NULL;
    mdt_buf_free(&b);
    return rc != MDT_OK ? rc : *html ? MDT_OK : nomem(err);
}

static mdt_rc cred_row(mdt_req *req, json_t *c, const void *ctx, mdt_buf *b, mdt_err *err)
{
    (void)ctx;
    int64_t created = time_of(c, "created_at"), expires = time_of(c, "expires_at");
    mdt_kv vars[] = {
        {"id", str_of(c, "id")},
        {"type", str_of(c, "type")},
        {"name", str_of(c, "name") ? str_of(c, "name") : "-"},
        {"created", mdt_console_time(req, created)},
        {"age", mdt_console_ago(req, created)},
        {"expires", expires ? mdt_console_time(req, expires) : "never"},
        {"last_used", mdt_console_ago(req, time_of(c, "last_used_at"))},
    };
    return mdt_web_render(b, cred_row_tpl, vars, MDT_ARRAY_LEN(vars), err);
}

static mdt_rc req_row(mdt_req *req, json_t *r, const void *ctx, mdt_buf *b, mdt_err *err)
{
    (void)ctx;
    mdt_kv vars[] = {
        {"id", str_of(r, "id")},
        {"type", str_of(r, "type")},
        {"subject", str_of(r, "subject") ? str_of(r, "subject") : "-"},
        {"scope", str_of(r, "scope") ? str_of(r, "scope") : "-"},
        {"created", mdt_console_time(req, time_of(r, "created_at"))},
        {"expires", mdt_console_time(req, time_of(r, "expires_at"))},
    };
    return mdt_web_render(b, req_row_tpl, vars, MDT_ARRAY_LEN(vars), err);
}

static const char creds_head[] =
    "<table class=\"console-table credentials\">\n<caption>Credentials</caption>\n<thead><tr>"
    "<th scope=\"col\">Id</th><th scope=\"col\">Type</th><th scope=\"col\">What</th>"
    "<th scope=\"col\">Created</th><th scope=\"col\">Expires</th><th scope=\"col\">Last use</th>"
    "</tr></thead>\n<tbody>\n";
static const char reqs_head[] =
    "<table class=\"console-table requests\">\n<caption>Pending requests</caption>\n<thead><tr>"
    "<th scope=\"col\">Request</th><th scope=\"col\">Type</th><th scope=\"col\">On behalf of</th>"
    "<th scope=\"col\">Scope</th><th scope=\"col\">Asked</th><th scope=\"col\">Expires</th>"
    "</tr></thead>\n<tbody>\n";

static const char ents_head[] =
    "<table class=\"console-table entitlements\">\n<caption>Entitlements</caption>\n<thead><tr>"
    "<th scope=\"col\">Scope</th><th scope=\"col\">Resource</th><th scope=\"col\">Source</th>"
    "<th scope=\"col\">Granted</th><th scope=\"col\">Expires</th><th scope=\"col\">Action</th>"
    "</tr></thead>\n<tbody>\n";

static const char ent_row_tpl[] =
    "<tr class=\"entitlement source-{{source}}\" data-scope=\"{{scope}}\"><td class=\"ent-scope\">"
    "{{scope}}</td><td>{{resource}}</td><td class=\"ent-source\">{{!source_html}}</td>"
    "<td>{{created}}</td><td class=\"ent-expires\">{{expires}}</td><td>{{!end}}</td></tr>\n";

static const char ent_source_tpl[] =
    "access request <a href=\"" MDT_CONSOLE_AUDIT "?client={{client_q}}\"><code "
    "class=\"ent-request\">{{request_id}}</code></a>, approved by <span class=\"ent-approver\">"
    "{{approved_by}}</span>";

static const char ent_end_tpl[] =
    "<form method=\"get\" action=\"{{path}}\">\n"
    "<input type=\"hidden\" name=\"confirm\" value=\"end\">\n"
    "<input type=\"hidden\" name=\"entitlement\" value=\"{{ent}}\">\n"
    "<button type=\"submit\" class=\"danger\">End</button>\n</form>";

static const char ent_confirm_tpl[] =
    "<p class=\"lead\">End the entitlement <code>{{ent}}</code> ({{scope}}) now?</p>\n"
    "<p class=\"consequence\">The application gets no new token with this scope from now on; "
    "tokens already issued run to their expiry.</p>\n"
    "<form method=\"post\" action=\"{{path}}\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"action\" value=\"end\">\n"
    "<input type=\"hidden\" name=\"entitlement\" value=\"{{ent}}\">\n"
    "<button type=\"submit\" class=\"danger\">End entitlement</button>\n"
    "<a href=\"{{path}}\">Cancel</a>\n</form>\n";

typedef struct {
    const mdt_console_user *u;
    const char *client_id, *path;
} ent_ctx;

static mdt_rc ent_row(mdt_req *req, json_t *e, const void *ctx, mdt_buf *b, mdt_err *err)
{
    const ent_ctx *c = ctx;
    const char *src = str_of(e, "source"), *ent = str_of(e, "id"), *src_html = "static",
               *end = "";
    bool dynamic = mdt_str_eq(src, "access_request");
    mdt_rc rc = MDT_OK;

    if (dynamic) {
        const char *q = mdt_url_encode(req->arena, c->client_id);
        mdt_kv sv[] = {{"client_q", q},
                       {"request_id", str_of(e, "request_id") ? str_of(e, "request_id") : "-"},
                       {"approved_by", str_of(e, "approved_by") ? str_of(e, "approved_by") : "-"}};
        rc = q ? mdt_web_render_str(req->arena, ent_source_tpl, sv, MDT_ARRAY_LEN(sv), &src_html,
                                    err)
               : nomem(err);
    }
    if (rc == MDT_OK && dynamic && ent && c->u->admin) {
        mdt_kv ev[] = {{"path", c->path}, {"ent", ent}};
        rc = mdt_web_render_str(req->arena, ent_end_tpl, ev, MDT_ARRAY_LEN(ev), &end, err);
    }
    if (rc != MDT_OK)
        return rc;
    mdt_kv vars[] = {
        {"source", dynamic ? "dynamic" : "static"},
        {"scope", str_of(e, "scope") ? str_of(e, "scope") : "-"},
        {"resource", str_of(e, "resource") ? str_of(e, "resource") : "-"},
        {"source_html", src_html},
        {"created", str_of(e, "created_at") ? str_of(e, "created_at") : "-"},
        {"expires", str_of(e, "expires_at") ? str_of(e, "expires_at") : "never"},
        {"end", end},
    };
    return mdt_web_render(b, ent_row_tpl, vars, MDT_ARRAY_LEN(vars), err);
}

static mdt_rc ents_html(mdt_req *req, const mdt_console_user *u, const char *id,
                        const char *path, json_t *ents, const char **html, mdt_err *err)
{
    ent_ctx c = {.u = u, .client_id = id, .path = path};

    return table_html(req, ents, ents_head, "<p class=\"empty\">No entitlement.</p>\n", ent_row,
                      &c, html, err);
}

/* The usage chart: one bar per day, its height relative to the busiest
 * day, each bar titled with its day and count; the SVG's title and desc
 * say what it shows, and a table gives the same numbers. */
static mdt_rc usage_html(mdt_req *req, json_t *usage, const char **html, mdt_err *err)
{
    json_t *daily = json_object_get(usage, "daily"), *d, *sc;
    json_int_t max = 0, total = 0;
    size_t i, n = json_array_size(daily);
    mdt_buf b;
    mdt_rc rc;

    json_array_foreach(daily, i, d) {
        json_int_t t = json_integer_value(json_object_get(d, "tokens"));
        total += t;
        max = t > max ? t : max;
    }
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = mdt_buf_addf(&b,
                      "<p class=\"usage-total\">%lld tokens in the last %zu days; last use: "
                      "<span class=\"usage-last\">",
                      (long long)total, n);
    if (rc == MDT_OK)
        rc = mdt_html_escape(&b, str_of(usage, "last_used_at") ? str_of(usage, "last_used_at")
                                                                 : "never");
    if (rc == MDT_OK)
        rc = mdt_buf_addf(&b,
                          "</span>.</p>\n<svg class=\"usage-chart\" role=\"img\" "
                          "aria-labelledby=\"usage-title usage-desc\" viewBox=\"0 0 %zu 104\" "
                          "width=\"%zu\" height=\"104\" xmlns=\"http://www.w3.org/2000/svg\">\n"
                          "<title id=\"usage-title\">Tokens per day, last %zu days</title>\n"
                          "<desc id=\"usage-desc\">%lld tokens in all, at most %lld in a day."
                          "</desc>\n<line x1=\"0\" y1=\"100.5\" x2=\"%zu\" y2=\"100.5\" "
                          "stroke=\"currentColor\" stroke-width=\"1\"/>\n",
                          n * 12, n * 12, n, (long long)total, (long long)max, n * 12);
    json_array_foreach(daily, i, d) {
        json_int_t t = json_integer_value(json_object_get(d, "tokens"));
        long long h = max ? (long long)(t * 96 / max) : 0;
        if (t > 0 && h < 2)
            h = 2;
        if (rc == MDT_OK)
            rc = mdt_buf_addf(&b,
                              "<rect class=\"usage-bar\" x=\"%zu\" y=\"%lld\" width=\"10\" "
                              "height=\"%lld\" fill=\"currentColor\"><title>",
                              i * 12 + 1, 100 - h, h);
        if (rc == MDT_OK)
            rc = mdt_html_escape(&b, str_of(d, "day") ? str_of(d, "day") : "");
        if (rc == MDT_OK)
            rc = mdt_buf_addf(&b, ": %lld tokens</title></rect>\n", (long long)t);
    }
    if (rc == MDT_OK)
        rc = mdt_buf_adds(&b, "</svg>\n<details><summary>Tokens per day as a table</summary>\n"
                              "<table class=\"console-table usage-days\"><caption>Tokens per day"
                              "</caption>\n<thead><tr><th scope=\"col\">Day</th><th scope=\"col\">"
                              "Tokens</th></tr></thead>\n<tbody>\n");
    json_array_foreach(daily, i, d) {
        if (rc == MDT_OK)
            rc = mdt_buf_adds(&b, "<tr><td>");
        if (rc == MDT_OK)
            rc = mdt_html_escape(&b, str_of(d, "day") ? str_of(d, "day") : "");
        if (rc == MDT_OK)
            rc = mdt_buf_addf(&b, "</td><td class=\"usage-day-tokens\">%lld</td></tr>\n",
                              (long long)json_integer_value(json_object_get(d, "tokens")));
    }
    if (rc == MDT_OK)
        rc = mdt_buf_adds(&b, "</tbody></table>\n</details>\n");
    sc = json_object_get(usage, "scopes");
    if (rc == MDT_OK && json_array_size(sc))
        rc = mdt_buf_adds(&b, "<table class=\"console-table usage-scopes\"><caption>Last use of "
                              "each scope</caption>\n<thead><tr><th scope=\"col\">Scope</th>"
                              "<th scope=\"col\">Last use</th></tr></thead>\n<tbody>\n");
    json_array_foreach(sc, i, d) {
        if (rc == MDT_OK)
            rc = mdt_buf_adds(&b, "<tr><td class=\"usage-scope\">");
        if (rc == MDT_OK)
            rc = mdt_html_escape(&b, str_of(d, "scope") ? str_of(d, "scope") : "");
        if (rc == MDT_OK)
            rc = mdt_buf_adds(&b, "</td><td>");
        if (rc == MDT_OK)
            rc = mdt_html_escape(&b, str_of(d, "last_used_at") ? str_of(d, "last_used_at") : "-");
        if (rc == MDT_OK)
            rc = mdt_buf_adds(&b, "</td></tr>\n");
    }
    if (rc == MDT_OK && json_array_size(sc))
        rc = mdt_buf_adds(&b, "</tbody></table>\n");
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data, b.len) : NULL;
    mdt_buf_free(&b);
    return rc != MDT_OK ? nomem(err) : *html ? MDT_OK : nomem(err);
}

/* The last RECENT_EVENTS events about the client, newest first. */
static mdt_rc events_html(mdt_env *env, mdt_req *req, const char *id, const char **html,
                          mdt_err *err)
{
    mdt_audit_recent_filter f = {.client_id = id};
    mdt_audit_rec *evs;
    size_t n;
    int64_t next;
    mdt_rc rc = mdt_audit_recent(env->store, &f, RECENT_EVENTS, RECENT_SCAN_MAX, req->arena,
                                 &evs, &n, &next, err);

    if (rc != MDT_OK)
        return rc;
    return mdt_console_events_html(req, evs, n, "Recent decisions, newest first",
                                   "<p class=\"empty\">No recent event about this application."
                                   "</p>\n",
                                   html, err);
}

/* The admin's button for the client's status, or "". */
static mdt_rc actions_html(mdt_req *req, const mdt_console_user *u, const char *path,
                           const char *status, const char **html, mdt_err *err)
{
    int i = action_for(status);

    *html = "";
    if (!u->admin || i < 0)
        return MDT_OK;
    mdt_kv vars[] = {{"path", path},
                     {"action", actions[i].action},
                     {"class", actions[i].class},
                     {"label", actions[i].label}};
    return mdt_web_render_str(req->arena, action_tpl, vars, MDT_ARRAY_LEN(vars), html, err);
}

static mdt_rc show_body(mdt_env *env, mdt_req *req, const mdt_console_user *u, const char *id,
                        const char **title, const char **html, mdt_err *err)
{
    const char *doc_json, *reqs_json, *ents_json, *usage_json, *meta, *creds, *reqs, *acts,
        *path, *ents, *usage, *events, *findings, *audit_href;
    json_t *doc = NULL, *rq = NULL, *en = NULL, *us = NULL;
    mdt_rc rc;

    if ((rc = mdt_client_show_json(env, &req->ctx, id, req->arena, &doc_json, err)) != MDT_OK ||
        (rc = mdt_request_list_client_json(env, &req->ctx, id, "pending", req->arena, &reqs_json,
                                           err)) != MDT_OK ||
        (rc = mdt_entitlement_list_json(env, &req->ctx, id, req->arena, &ents_json, err)) !=
            MDT_OK ||
        (rc = mdt_usage_client_json(env, &req->ctx, id, USAGE_DAYS, req->arena, &usage_json,
                                    err)) != MDT_OK)
        return rc;
    doc = json_loads(doc_json, 0, NULL);
    rq = json_loads(reqs_json, 0, NULL);
    en = json_loads(ents_json, 0, NULL);
    us = json_loads(usage_json, 0, NULL);
    path = mdt_console_client_path(req, id);
    audit_href = mdt_url_encode(req->arena, id);
    audit_href = audit_href ? mdt_arena_printf(req->arena, MDT_CONSOLE_AUDIT "?client=%s",
                                               audit_href)
                            : NULL;
    const char *name = str_of(doc, "client_name"), *status = str_of(doc, "status");
    *title = name && *name ? mdt_arena_strdup(req->arena, name) : id;
    if (!doc || !rq || !en || !us || !path || !audit_href || !*title)
        rc = nomem(err);
    if (rc == MDT_OK)
        rc = metadata_html(req, doc, &meta, err);
    if (rc == MDT_OK)
        rc = table_html(req, json_object_get(doc, "credentials"), creds_head,
                        "<p class=\"empty\">No credentials.</p>\n", cred_row, NULL, &creds, err);
    if (rc == MDT_OK)
        rc = table_html(req, rq, reqs_head,
                        "<p class=\"empty\">No request of this application waits.</p>\n", req_row,
                        NULL, &reqs, err);
    if (rc == MDT_OK)
        rc = ents_html(req, u, id, path, en, &ents, err);
    if (rc == MDT_OK)
        rc = usage_html(req, us, &usage, err);
    if (rc == MDT_OK)
        rc = events_html(env, req, id, &events, err);
    if (rc == MDT_OK)
        rc = mdt_console_findings_html(env, req, u, id, NULL, &findings, err);
    if (rc == MDT_OK)
        rc = actions_html(req, u, path, status, &acts, err);
    if (rc == MDT_OK) {
        mdt_kv vars[] = {{"name", *title},   {"id", id},          {"status", status ? status : "-"},
                         {"actions", acts},  {"metadata", meta},  {"creds", creds},
                         {"ents", ents},     {"usage", usage},    {"requests", reqs},
                         {"events", events}, {"audit_href", audit_href},
                         {"findings", findings}};
        rc = mdt_web_render_str(req->arena, body_tpl, vars, MDT_ARRAY_LEN(vars), html, err);
    }
    json_decref(doc);
    json_decref(rq);
    json_decref(en);
    json_decref(us);
    return rc;
}

static void not_found(mdt_req *req, mdt_resp *resp, const mdt_console_user *u)
{
    mdt_console_message(req, resp, 404, "No such application", u, MDT_CONSOLE_NAV_CLIENTS,
                        "No application has this client_id.", MDT_CONSOLE_CLIENTS);
}

/* The confirmation page of action i on client id (admins only). */
static void confirm_page(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_console_user *u,
                         const char *id, int i)
{
    const char *doc_json, *html, *path = mdt_console_client_path(req, id);
    mdt_err err = {0};
    mdt_rc rc = mdt_client_doc_json(env, &req->ctx, id, req->arena, &doc_json, &err);

    if (rc == MDT_ERR_NOT_FOUND) {
        not_found(req, resp, u);
        return;
    }
    if (rc == MDT_OK && !path)
        rc = nomem(&err);
    if (rc == MDT_OK) {
        mdt_kv vars[] = {{"question", actions[i].question}, {"consequence", actions[i].consequence},
                         {"path", path}, {"csrf", u->csrf}, {"action", actions[i].action},
                         {"class", actions[i].class}, {"label", actions[i].label}};
        rc = mdt_web_render_str(req->arena, confirm_tpl, vars, MDT_ARRAY_LEN(vars), &html, &err);
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not show the application.");
        return;
    }
    mdt_console_page(req, resp, 200, mdt_arena_printf(req->arena, "%s: %s", actions[i].label, id),
                     u, MDT_CONSOLE_NAV_CLIENTS, html);
}

/* The confirmation page of ending entitlement ent of client id (admins
 * only): 404 when the client has no such live dynamic entitlement. */
static void end_confirm_page(mdt_env *env, mdt_req *req, mdt_resp *resp,
                             const mdt_console_user *u, const char *id, const char *ent)
{
    const char *json, *html, *scope = NULL, *path = mdt_console_client_path(req, id);
    json_t *arr = NULL, *x;
    size_t i;
    mdt_err err = {0};
    mdt_rc rc = ent && strlen(ent) <= ENT_ID_MAX
                    ? mdt_entitlement_list_json(env, &req->ctx, id, req->arena, &json, &err)
                    : MDT_ERR_NOT_FOUND;

    if (rc == MDT_OK && !(arr = json_loads(json, 0, NULL)))
        rc = nomem(&err);
    json_array_foreach(arr, i, x) {
        if (mdt_str_eq(str_of(x, "id"), ent))
            scope = mdt_arena_strdup(req->arena, str_of(x, "scope") ? str_of(x, "scope") : "-");
    }
    json_decref(arr);
    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !scope)) {
        mdt_console_message(req, resp, 404, "No such entitlement", u, MDT_CONSOLE_NAV_CLIENTS,
                            "This application has no such live entitlement.",
                            path ? path : MDT_CONSOLE_CLIENTS);
        return;
    }
    if (rc == MDT_OK && !path)
        rc = nomem(&err);
    if (rc == MDT_OK) {
        mdt_kv vars[] = {{"ent", ent}, {"scope", scope}, {"path", path}, {"csrf", u->csrf}};
        rc = mdt_web_render_str(req->arena, ent_confirm_tpl, vars, MDT_ARRAY_LEN(vars), &html,
                                &err);
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not show the entitlement.");
        return;
    }
    mdt_console_page(req, resp, 200, mdt_arena_printf(req->arena, "End entitlement: %s", id), u,
                     MDT_CONSOLE_NAV_CLIENTS, html);
}

/* POST action=end: ends entitlement ent of client id as the admin. */
static void end_entitlement(mdt_env *env, mdt_req *req, mdt_resp *resp,
                            const mdt_console_user *u, const char *id)
{
    const char *ent = mdt_req_form(req, "entitlement"), *path = mdt_console_client_path(req, id);
    mdt_ctx as = mdt_ctx_as(&req->ctx, u->username);
    mdt_err err = {0};
    mdt_rc rc = ent && *ent && strlen(ent) <= ENT_ID_MAX
                    ? mdt_entitlement_revoke(env, &as, id, ent, &err)
                    : MDT_ERR_NOT_FOUND;

    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_console_refused(req, resp, u, 404,
                            "This application has no such live entitlement. Nothing was changed.",
                            id, "no such entitlement");
        return;
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not end the entitlement.");
        return;
    }
    mdt_console_message(req, resp, 200, "Entitlement ended", u, MDT_CONSOLE_NAV_CLIENTS,
                        "Ended. The application gets no new token with this scope; tokens "
                        "already issued run to their expiry.",
                        path ? path : MDT_CONSOLE_CLIENTS);
}

void mdt_handle_console_client(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    const char *id = client_id_of(req), *title, *html, *confirm;
    mdt_err err = {0};
    mdt_rc rc;

    if (!mdt_console_enter(env, req, resp,
                           id ? mdt_console_client_path(req, id) : MDT_CONSOLE_CLIENTS, &u))
        return;
    if (!id) {
        not_found(req, resp, &u);
        return;
    }
    confirm = mdt_req_query(req, "confirm");
    if (u.admin && mdt_str_eq(confirm, "end")) {
        end_confirm_page(env, req, resp, &u, id, mdt_req_query(req, "entitlement"));
        return;
    }
    if (confirm && u.admin && action_index(confirm) >= 0) {
        confirm_page(env, req, resp, &u, id, action_index(confirm));
        return;
    }
    rc = show_body(env, req, &u, id, &title, &html, &err);
    if (rc == MDT_ERR_NOT_FOUND) {
        not_found(req, resp, &u);
        return;
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not show the application.");
        return;
    }
    mdt_console_page(req, resp, 200, title, &u, MDT_CONSOLE_NAV_CLIENTS, html);
}

/* POST: action=suspend|resume, or action=end&entitlement=ID, as the
 * signed-in admin. */
void mdt_handle_console_client_action(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    const char *id = client_id_of(req), *path;
    mdt_err err = {0};
    mdt_ctx as;
    int i;
    mdt_rc rc;

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Not done", "The form could not be read.");
        return;
    }
    if (!mdt_console_enter(env, req, resp, MDT_CONSOLE_CLIENTS, &u) ||
        !mdt_console_may_act(env, req, resp, &u, id ? id : "(no client)"))
        return;
    if (!id) {
        not_found(req, resp, &u);
        return;
    }
    if (mdt_str_eq(mdt_req_form(req, "action"), "end")) {
        end_entitlement(env, req, resp, &u, id);
        return;
    }
    if ((i = action_index(mdt_req_form(req, "action"))) < 0) {
        mdt_console_refused(req, resp, &u, 400, "Choose suspend, resume or end.", id,
                            "unknown action");
        return;
    }
    as = mdt_ctx_as(&req->ctx, u.username);
    rc = mdt_client_set_status(env, &as, id, actions[i].status, &err);
    path = mdt_console_client_path(req, id);
    if (rc == MDT_ERR_NOT_FOUND) {
        not_found(req, resp, &u);
        return;
    }
    if (rc == MDT_ERR_CONFLICT || rc == MDT_ERR_INVALID_REQUEST) {
        mdt_console_refused(req, resp, &u, rc == MDT_ERR_CONFLICT ? 409 : 400, err.msg, id,
                            mdt_err_text(&err));
        return;
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not change the application.");
        return;
    }
    mdt_console_message(req, resp, 200, actions[i].label, &u, MDT_CONSOLE_NAV_CLIENTS,
                        actions[i].done, path ? path : MDT_CONSOLE_CLIENTS);
}
