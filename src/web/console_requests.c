/* GET and POST /console/requests: every approval request still pending,
 * of every type (registrations, CIBA, device authorizations, access
 * requests), with who asks, for whom, what and until when. An admin
 * decides with the same form as /approvals (a note, <button
 * name="decision" value="allow|deny">) through mdt_request_decide as
 * themself, so routing applies exactly as in /approvals: the form is shown
 * on the requests routing lets them decide (mdt_request_list_for), and a
 * decision on another one is refused with the reason routing gives.
 * Auditors read only. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "iga/client.h"
#include "iga/requests.h"
#include "web/console.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/web.h"

#define SHOWN_MAX 200 /* requests on the page, oldest first */

static const char item_tpl[] =
    "<section class=\"console-request\" id=\"{{id}}\" aria-labelledby=\"h-{{id}}\">\n"
    "<h2 id=\"h-{{id}}\"><a href=\"{{client_href}}\" class=\"client-name\">{{name}}</a> "
    "<span class=\"request-type\">{{type}}</span></h2>\n"
    "<dl class=\"who\">\n"
    "<dt>Request</dt><dd class=\"request-id\"><code>{{id}}</code></dd>\n"
    "<dt>Application</dt><dd>{{name}} <span class=\"muted\">({{client_id}})</span></dd>\n"
    "<dt>Owner</dt><dd class=\"client-owner\">{{owner}}</dd>\n"
    "<dt>On behalf of</dt><dd class=\"subject\">{{subject}}</dd>\n"
    "<dt>Scope</dt><dd class=\"scope\">{{scope}}</dd>\n"
    "<dt>Resource</dt><dd class=\"resource\">{{resource}}</dd>\n"
    "{{!binding}}"
    "<dt>Asked</dt><dd><time datetime=\"{{created}}\">{{created}}</time></dd>\n"
    "<dt>Expires</dt><dd class=\"expires\"><time datetime=\"{{expires}}\">{{expires}}</time></dd>\n"
    "</dl>\n{{!details}}{{!decide}}</section>\n";

static const char decide_tpl[] =
    "<form method=\"post\" action=\"" MDT_CONSOLE_REQUESTS "\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"request\" value=\"{{id}}\">\n"
    "<label for=\"note-{{id}}\">Note (optional)</label>\n"
    "<textarea id=\"note-{{id}}\" name=\"note\" maxlength=\"1000\" rows=\"2\"></textarea>\n"
    "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
    "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n"
    "</form>\n";

static const char not_yours[] =
    "<p class=\"muted not-yours\">Routing does not let you decide this request: it waits for "
    "someone else's decision.</p>\n";

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s && *s ? s : dflt;
}

static bool listed(const mdt_request_item *mine, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(mine[i].rec.id, id))
            return true;
    return false;
}

/* The RFC 9396 action of a request as /approvals shows it; "" when none. */
static mdt_rc details_of(mdt_req *req, json_t *details, const char **html, mdt_err *err)
{
    char *text = json_is_array(details) ? json_dumps(details, JSON_COMPACT) : NULL;
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    *html = "";
    if (!json_is_array(details))
        return MDT_OK;
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    if (!text || mdt_web_details_html(&b, text) != MDT_OK ||
        !(*html = mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len)))
        rc = nomem(err);
    free(text);
    mdt_buf_free(&b);
    return rc;
}

static mdt_rc item(mdt_env *env, mdt_req *req, const mdt_console_user *u, json_t *r,
                   bool decidable, mdt_buf *out, mdt_err *err)
{
    const char *id = str_or(r, "id", ""), *client_id = str_or(r, "client_id", "");
    const char *decide = "", *binding = "", *details = "", *href;
    mdt_client c;
    mdt_err ignored = {0};
    mdt_rc rc;

    if (!*client_id ||
        mdt_client_load(env, client_id, req->now, req->arena, &c, &ignored) != MDT_OK)
        memset(&c, 0, sizeof(c));
    if (!(href = mdt_console_client_path(req, client_id)))
        return nomem(err);
    if (u->admin && decidable) {
        mdt_kv dv[] = {{"csrf", u->csrf}, {"id", id}};
        if ((rc = mdt_web_render_str(req->arena, decide_tpl, dv, 2, &decide, err)) != MDT_OK)
            return rc;
    } else if (u->admin) {
        decide = not_yours;
    }
    if (json_string_value(json_object_get(r, "binding_message"))) {
        mdt_kv bv[] = {{"m", str_or(r, "binding_message", "")}};
        if ((rc = mdt_web_render_str(req->arena,
                                     "<dt>Message shown</dt><dd class=\"binding-message\">{{m}}"
                                     "</dd>\n",
                                     bv, 1, &binding, err)) != MDT_OK)
            return rc;
    }
    if ((rc = details_of(req, json_object_get(r, "authorization_details"), &details, err)))
        return rc;
    mdt_kv vars[] = {
        {"id", id},
        {"details", details},
        {"client_href", href},
        {"name", c.name && *c.name ? c.name : client_id},
        {"type", str_or(r, "type", "-")},
        {"client_id", client_id},
        {"owner", c.owner && *c.owner ? c.owner : "(no owner)"},
        {"subject", str_or(r, "subject", "-")},
        {"scope", str_or(r, "scope", "-")},
        {"resource", str_or(r, "resource", "-")},
        {"binding", binding},
        {"created", str_or(r, "created_at", "-")},
        {"expires", str_or(r, "expires_at", "-")},
        {"decide", decide},
    };
    return mdt_web_render(out, item_tpl, vars, MDT_ARRAY_LEN(vars), err);
}

static mdt_rc body(mdt_env *env, mdt_req *req, const mdt_console_user *u, const char **html,
                   mdt_err *err)
{
    const char *json;
    mdt_request_item *mine = NULL;
    size_t nmine = 0, i;
    json_t *arr, *r;
    mdt_buf b;
    mdt_rc rc;

    if ((rc = mdt_request_list_json(env, &req->ctx, "pending", req->arena, &json, err)) != MDT_OK)
        return rc;
    if (u->admin && (rc = mdt_request_list_for(env, &req->ctx, u->username, req->arena, &mine,
                                               &nmine, err)) != MDT_OK)
        return rc;
    if (!(arr = json_loads(json, 0, NULL)))
        return nomem(err);
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = mdt_buf_addf(&b, "<p class=\"lead\">%zu pending request%s.</p>\n", json_array_size(arr),
                      json_array_size(arr) == 1 ? "" : "s") == MDT_OK
             ? MDT_OK
             : nomem(err);
    json_array_foreach(arr, i, r) {
        if (rc == MDT_OK && i < SHOWN_MAX)
            rc = item(env, req, u, r, listed(mine, nmine, str_or(r, "id", "")), &b, err);
    }
    if (rc == MDT_OK && json_array_size(arr) > SHOWN_MAX &&
        mdt_buf_addf(&b, "<p class=\"more\">%zu more wait after these: use <code>mandate request "
                         "list</code>.</p>\n",
                     json_array_size(arr) - SHOWN_MAX) != MDT_OK)
        rc = nomem(err);
    json_decref(arr);
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data, b.len) : NULL;
    mdt_buf_free(&b);
    return rc != MDT_OK ? rc : *html ? MDT_OK : nomem(err);
}

void mdt_handle_console_requests(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    const char *html;
    mdt_err err = {0};

    if (!mdt_console_enter(env, req, resp, MDT_CONSOLE_REQUESTS, &u))
        return;
    if (body(env, req, &u, &html, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not list the requests.");
        return;
    }
    mdt_console_page(req, resp, 200, "Pending requests", &u, MDT_CONSOLE_NAV_REQUESTS, html);
}

static void message(mdt_req *req, mdt_resp *resp, const mdt_console_user *u, int status,
                    const char *text)
{
    mdt_console_message(req, resp, status, "Decision", u, MDT_CONSOLE_NAV_REQUESTS, text,
                        MDT_CONSOLE_REQUESTS);
}

/* The request's status after the decision, in words. */
static const char *outcome_text(const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    const char *st = json_string_value(json_object_get(doc, "status")), *text;

    if (mdt_str_eq(st, "approved"))
        text = "Approved. The application can go ahead with exactly what it asked.";
    else if (mdt_str_eq(st, "denied"))
        text = "Denied. The application is told so.";
    else
        text = "Your approval is recorded. The request still waits for more approvers.";
    json_decref(doc);
    return text;
}

void mdt_handle_console_requests_decide(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    const char *id, *d, *note, *json = NULL;
    mdt_err err = {0};
    mdt_rc rc;

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Not done", "The form could not be read.");
        return;
    }
    id = mdt_req_form(req, "request");
    if (!mdt_console_enter(env, req, resp, MDT_CONSOLE_REQUESTS, &u) ||
        !mdt_console_may_act(env, req, resp, &u, id ? id : "(no request)"))
        return;
    d = mdt_req_form(req, "decision");
    note = mdt_req_form(req, "note");
    if (!id || !*id || strlen(id) > MDT_CONSOLE_ID_MAX) {
        message(req, resp, &u, 400, "Choose a request to decide.");
        return;
    }
    if (!mdt_str_eq(d, "allow") && !mdt_str_eq(d, "deny")) {
        message(req, resp, &u, 400, "Choose Allow or Deny.");
        return;
    }
    if (note && strlen(note) > MDT_REQUEST_NOTE_MAX) {
        message(req, resp, &u, 400, "The note is longer than 1000 bytes.");
        return;
    }
    rc = mdt_request_decide(env, &req->ctx, id, mdt_str_eq(d, "allow"), u.username,
                            note && *note ? note : NULL, 0, req->arena, &json, &err);
    if (rc == MDT_ERR_NOT_FOUND)
        message(req, resp, &u, 404, "No such request.");
    else if (rc == MDT_ERR_ACCESS_DENIED)
        mdt_console_refused(req, resp, &u, 403,
                            mdt_arena_printf(req->arena, "You may not decide this request: %s.",
                                             err.msg),
                            id, mdt_err_text(&err));
    else if (rc == MDT_ERR_CONFLICT)
        message(req, resp, &u, 409, err.msg);
    else if (rc != MDT_OK)
        mdt_web_fault_page(resp, &err, "The service could not record the decision.");
    else
        message(req, resp, &u, 200, outcome_text(json));
}
