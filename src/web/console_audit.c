/* GET /console/audit: the audit log, newest first, read-only for both
 * roles. Filters: client (its client_id, through the store's index), type
 * (a prefix: "token." or "client.suspended"), since (RFC 3339); pages of
 * PAGE_EVENTS events, each page read with mdt_audit_recent (at most
 * SCAN_MAX events from the store), the link to older events carrying the
 * cursor before=SEQ. Each event shows its time, type, actor, client,
 * decision and reason, and the rest of its body as escaped JSON text.
 *
 * Also the table of events that an application's page shows as its recent
 * decisions (mdt_console_events_html). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/clock.h"
#include "oauth/redirect.h"
#include "web/console.h"
#include "web/render.h"
#include "web/web.h"

#define PAGE_EVENTS 50
#define SCAN_MAX 5000 /* events a page reads from the store, at most */
#define FILTER_MAX 200 /* bytes of the type filter */

static const char page_tpl[] =
    "<form method=\"get\" action=\"" MDT_CONSOLE_AUDIT "\" class=\"console-filters\">\n"
    "<label for=\"f-client\">Client</label>\n"
    "<input id=\"f-client\" name=\"client\" value=\"{{client}}\">\n"
    "<label for=\"f-type\">Type starts with</label>\n"
    "<input id=\"f-type\" name=\"type\" value=\"{{type}}\" placeholder=\"token.\">\n"
    "<label for=\"f-since\">Since (RFC 3339)</label>\n"
    "<input id=\"f-since\" name=\"since\" value=\"{{since}}\" "
    "placeholder=\"2026-01-01T00:00:00Z\">\n"
    "<button type=\"submit\">Filter</button>\n</form>\n"
    "{{!events}}{{!more}}";

static const char more_tpl[] =
    "<p class=\"pager\"><a rel=\"next\" class=\"older\" href=\"{{href}}\">Older events</a></p>\n";

static const char head[] =
    "<table class=\"console-table audit-events\">\n<caption>{{caption}}</caption>\n<thead><tr>"
    "<th scope=\"col\">Seq</th><th scope=\"col\">Time</th><th scope=\"col\">Type</th>"
    "<th scope=\"col\">Actor</th><th scope=\"col\">Client</th><th scope=\"col\">Decision</th>"
    "<th scope=\"col\">Reason</th><th scope=\"col\">Data</th></tr></thead>\n<tbody>\n";

static const char row_tpl[] =
    "<tr class=\"audit-event\" data-seq=\"{{seq}}\"><td>{{seq}}</td>"
    "<td><time datetime=\"{{time}}\">{{time}}</time></td><td class=\"ev-type\">{{type}}</td>"
    "<td class=\"ev-actor\">{{actor}}</td><td class=\"ev-client\">{{client}}</td>"
    "<td class=\"ev-decision\">{{decision}}</td><td class=\"ev-reason\">{{reason}}</td>"
    "<td class=\"ev-data\"><code>{{data}}</code></td></tr>\n";

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s && *s ? s : dflt;
}

/* The body's members other than the columns, as compact JSON ("" when none). */
static const char *rest_of(mdt_req *req, json_t *body)
{
    static const char *const shown[] = {"time", "type", "actor", "client_id", "decision", "reason"};
    json_t *rest = json_deep_copy(body);
    const char *out = "";
    char *text;

    if (!rest)
        return "";
    for (size_t i = 0; i < MDT_ARRAY_LEN(shown); i++)
        json_object_del(rest, shown[i]);
    if (json_object_size(rest) && (text = json_dumps(rest, JSON_COMPACT | JSON_SORT_KEYS))) {
        out = mdt_arena_strdup(req->arena, text);
        free(text);
    }
    json_decref(rest);
    return out ? out : "";
}

mdt_rc mdt_console_events_html(mdt_req *req, const mdt_audit_rec *evs, size_t n,
                               const char *caption, const char *empty, const char **html,
                               mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc;
    mdt_kv cap[] = {{"caption", caption}};

    if (!n) {
        *html = empty;
        return MDT_OK;
    }
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = mdt_web_render(&b, head, cap, 1, err);
    for (size_t i = 0; i < n && rc == MDT_OK; i++) {
        json_t *body = json_loads(evs[i].body, 0, NULL);
        mdt_kv vars[] = {
            {"seq", mdt_arena_printf(req->arena, "%lld", (long long)evs[i].seq)},
            {"time", mdt_console_time(req, evs[i].time)},
            {"type", evs[i].type},
            {"actor", str_or(body, "actor", "-")},
            {"client", str_or(body, "client_id", "-")},
            {"decision", str_or(body, "decision", "-")},
            {"reason", str_or(body, "reason", "-")},
            {"data", body ? rest_of(req, body) : evs[i].body},
        };
        rc = vars[0].value ? mdt_web_render(&b, row_tpl, vars, MDT_ARRAY_LEN(vars), err)
                           : nomem(err);
        json_decref(body);
    }
    if (rc == MDT_OK && mdt_buf_adds(&b, "</tbody>\n</table>\n") != MDT_OK)
        rc = nomem(err);
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data, b.len) : NULL;
    mdt_buf_free(&b);
    return rc != MDT_OK ? rc : *html ? MDT_OK : nomem(err);
}

/* A query parameter, "" when absent. */
static const char *param(mdt_req *req, const char *name)
{
    const char *v = mdt_req_query(req, name);

    return v ? v : "";
}

/* before=SEQ: a positive integer, or absent (0). */
static bool parse_before(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    *out = 0;
    if (!*s)
        return true;
    v = strtoll(s, &end, 10);
    if (!end || *end || v <= 0 || s[0] == '+' || s[0] == ' ')
        return false;
    *out = v;
    return true;
}

/* The link to the page before seq next with the same filters. */
static const char *older_href(mdt_req *req, const char *client, const char *type,
                              const char *since, int64_t next)
{
    const char *c = mdt_url_encode(req->arena, client), *t = mdt_url_encode(req->arena, type),
               *s = mdt_url_encode(req->arena, since);

    if (!c || !t || !s)
        return NULL;
    return mdt_arena_printf(req->arena, MDT_CONSOLE_AUDIT "?client=%s&type=%s&since=%s&before=%lld",
                            c, t, s, (long long)next);
}

void mdt_handle_console_audit(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    const char *client = param(req, "client"), *type = param(req, "type"),
               *since = param(req, "since"), *events, *more = "", *html;
    mdt_audit_recent_filter f = {0};
    mdt_audit_rec *evs;
    size_t n = 0;
    int64_t next = 0;
    mdt_err err = {0};
    mdt_rc rc;

    if (!mdt_console_enter(env, req, resp, MDT_CONSOLE_AUDIT, &u))
        return;
    if (strlen(client) > MDT_CONSOLE_ID_MAX || strlen(type) > FILTER_MAX ||
        !parse_before(param(req, "before"), &f.before_seq) ||
        (*since && mdt_time_parse(since, &f.since) != MDT_OK)) {
        mdt_console_message(req, resp, 400, "Bad filter", &u, MDT_CONSOLE_NAV_AUDIT,
                            "A filter could not be read: the client id and the type are at most "
                            "a few hundred characters, since is a time such as "
                            "2026-01-01T00:00:00Z.",
                            MDT_CONSOLE_AUDIT);
        return;
    }
    f.client_id = *client ? client : NULL;
    f.type_prefix = type;
    rc = mdt_audit_recent(env->store, &f, PAGE_EVENTS, SCAN_MAX, req->arena, &evs, &n, &next,
                          &err);
    if (rc == MDT_OK)
        rc = mdt_console_events_html(req, evs, n, "Audit events, newest first",
                                     "<p class=\"empty\">No event matches on this page.</p>\n",
                                     &events, &err);
    if (rc == MDT_OK && next) {
        const char *href = older_href(req, client, type, since, next);
        mdt_kv mv[] = {{"href", href}};
        rc = href ? mdt_web_render_str(req->arena, more_tpl, mv, 1, &more, &err) : nomem(&err);
    }
    if (rc == MDT_OK) {
        mdt_kv vars[] = {{"client", client}, {"type", type}, {"since", since},
                         {"events", events}, {"more", more}};
        rc = mdt_web_render_str(req->arena, page_tpl, vars, MDT_ARRAY_LEN(vars), &html, &err);
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not read the audit log.");
        return;
    }
    mdt_console_page(req, resp, 200, "Audit log", &u, MDT_CONSOLE_NAV_AUDIT, html);
}
