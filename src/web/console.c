/* The console's door, navigation and helpers (console.h), and GET /console,
 * which leads to the applications. */
#include "web/console.h"

#include <string.h>

#include "core/clock.h"
#include "oauth/redirect.h"
#include "users/users.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/web.h"

static const char nav_tpl[] =
    "<nav class=\"console-nav\" aria-label=\"Console\">\n<ul>\n"
    "<li><a href=\"" MDT_CONSOLE_CLIENTS "\"{{!clients_cur}}>Applications</a></li>\n"
    "<li><a href=\"" MDT_CONSOLE_REQUESTS "\"{{!requests_cur}}>Requests</a></li>\n"
    "<li><a href=\"" MDT_CONSOLE_REVIEWS "\"{{!reviews_cur}}>Reviews</a></li>\n"
    "<li><a href=\"" MDT_CONSOLE_AUDIT "\"{{!audit_cur}}>Audit</a></li>\n"
    "</ul>\n"
    "<p class=\"console-user\">Signed in as <strong class=\"console-username\">{{username}}"
    "</strong> <span class=\"console-role role-{{role}}\">{{role}}</span>"
    "{{!readonly}} <a href=\"/logout\">Sign out</a></p>\n"
    "</nav>\n{{!body}}";

static const char message_tpl[] =
    "<p class=\"lead console-message\">{{text}}</p>\n<p><a href=\"{{back}}\">Back</a></p>\n";

static const char forbidden_text[] =
    "The console is for administrators and auditors. Ask an administrator for the role you need.";

bool mdt_console_enter(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *back_to,
                       mdt_console_user *u)
{
    mdt_user_rec rec;
    mdt_err err = {0};
    mdt_rc rc;

    memset(u, 0, sizeof(*u));
    if (!mdt_web_session_or_login(env, req, resp, back_to, &u->s))
        return false;
    u->username = u->s.rec.username;
    rc = mdt_store_user_get(env->store, u->username, req->arena, &rec, &err);
    if (rc != MDT_OK && rc != MDT_ERR_NOT_FOUND) {
        mdt_web_fault_page(resp, &err, "The service could not read your account.");
        return false;
    }
    if (rc == MDT_OK && mdt_str_eq(rec.status, "active")) {
        u->admin = mdt_user_has_role(rec.roles, "admin");
        u->role = u->admin ? "admin" : mdt_user_has_role(rec.roles, "auditor") ? "auditor" : NULL;
    }
    if (!u->role) {
        mdt_web_message_page(resp, 403, "Not allowed", forbidden_text);
        return false;
    }
    if (u->admin &&
        mdt_web_csrf_issue(env, req, resp, &u->s, MDT_CONSOLE_CSRF, &u->csrf, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not prepare the page.");
        return false;
    }
    return true;
}

void mdt_console_refused(mdt_req *req, mdt_resp *resp, const mdt_console_user *u, int status,
                         const char *text, const char *what, const char *why)
{
    bool requests = strncmp(req->path, MDT_CONSOLE_REQUESTS, strlen(MDT_CONSOLE_REQUESTS)) == 0;
    bool reviews = strncmp(req->path, MDT_CONSOLE_REVIEWS, strlen(MDT_CONSOLE_REVIEWS)) == 0;

    mdt_console_message(req, resp, status, "Not done", u,
                        requests  ? MDT_CONSOLE_NAV_REQUESTS
                        : reviews ? MDT_CONSOLE_NAV_REVIEWS
                                  : MDT_CONSOLE_NAV_CLIENTS,
                        text,
                        requests  ? MDT_CONSOLE_REQUESTS
                        : reviews ? MDT_CONSOLE_REVIEWS
                                  : MDT_CONSOLE_CLIENTS);
    mdt_resp_audit(req, resp,
                   &(mdt_audit_event){.type = "console.refused",
                                      .actor = u->username,
                                      .subject = u->username,
                                      .decision = "deny",
                                      .reason = mdt_arena_printf(req->arena, "%s: %s",
                                                                 what ? what : "", why)});
}

bool mdt_console_may_act(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_console_user *u,
                         const char *what)
{
    mdt_err err = {0};

    if (!u->admin) {
        mdt_console_refused(req, resp, u, 403,
                            "Your role is auditor: the console is read-only for you. Nothing was "
                            "changed.",
                            what, "not an admin");
        return false;
    }
    if (mdt_web_csrf_check(env, req, &u->s, MDT_CONSOLE_CSRF, &err) != MDT_OK) {
        mdt_console_refused(req, resp, u, 403,
                            "This form expired or was not sent by this site. Nothing was changed.",
                            what, mdt_err_text(&err));
        return false;
    }
    return true;
}

void mdt_console_page(mdt_req *req, mdt_resp *resp, int status, const char *title,
                      const mdt_console_user *u, mdt_console_nav nav, const char *body_html)
{
    static const char cur[] = " aria-current=\"page\"";
    const char *html;
    mdt_err err = {0};
    mdt_kv vars[] = {
        {"clients_cur", nav == MDT_CONSOLE_NAV_CLIENTS ? cur : ""},
        {"requests_cur", nav == MDT_CONSOLE_NAV_REQUESTS ? cur : ""},
        {"reviews_cur", nav == MDT_CONSOLE_NAV_REVIEWS ? cur : ""},
        {"audit_cur", nav == MDT_CONSOLE_NAV_AUDIT ? cur : ""},
        {"username", u->username},
        {"role", u->role},
        {"readonly", u->admin ? "" : " <span class=\"muted\">(read-only)</span>"},
        {"body", body_html},
    };

    if (mdt_web_render_str(req->arena, nav_tpl, vars, MDT_ARRAY_LEN(vars), &html, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not show the page.");
        return;
    }
    mdt_web_wide_page(resp, status, title, html);
}

void mdt_console_message(mdt_req *req, mdt_resp *resp, int status, const char *title,
                         const mdt_console_user *u, mdt_console_nav nav, const char *text,
                         const char *back)
{
    const char *html;
    mdt_err err = {0};
    mdt_kv vars[] = {{"text", text}, {"back", back}};

    if (mdt_web_render_str(req->arena, message_tpl, vars, 2, &html, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not show the page.");
        return;
    }
    mdt_console_page(req, resp, status, title, u, nav, html);
}

const char *mdt_console_time(mdt_req *req, int64_t t)
{
    char text[21];

    if (!t)
        return "-";
    mdt_time_format(t, text);
    return mdt_arena_strdup(req->arena, text);
}

const char *mdt_console_ago(mdt_req *req, int64_t t)
{
    static const struct {
        int64_t secs;
        const char *unit;
    } units[] = {{86400, "day"}, {3600, "hour"}, {60, "minute"}, {1, "second"}};
    int64_t d = req->now - t;

    if (!t)
        return "never";
    if (d <= 0)
        return "just now";
    for (size_t i = 0; i < MDT_ARRAY_LEN(units); i++) {
        int64_t k = d / units[i].secs;
        if (k > 0)
            return mdt_arena_printf(req->arena, "%lld %s%s ago", (long long)k, units[i].unit,
                                    k == 1 ? "" : "s");
    }
    return "just now";
}

const char *mdt_console_client_path(mdt_req *req, const char *client_id)
{
    const char *enc = mdt_url_encode(req->arena, client_id);

    return enc ? mdt_arena_printf(req->arena, MDT_CONSOLE_CLIENTS "/%s", enc) : NULL;
}

/* GET /console: the applications are the console's first page. */
void mdt_handle_console(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    (void)env;
    (void)req;
    resp->status = 303;
    mdt_resp_header(resp, "Location", MDT_CONSOLE_CLIENTS);
    mdt_web_security_headers(resp);
}
