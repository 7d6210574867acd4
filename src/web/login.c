/* /login and /logout: people sign in with a username and password, get a
 * server-side session, and sign out. Every outcome is audited:
 * user.login, user.login_failed (with the reason, never the password),
 * user.login_throttled and user.logout. */
#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "core/b64.h"
#include "iga/client.h"
#include "oauth/authorize.h"
#include "oauth/id_token.h"
#include "oauth/redirect.h"
#include "store/store.h"
#include "users/users.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/session.h"
#include "web/web.h"

#define LOGIN_KEY_MAX 320      /* bytes of a throttling counter's name */
#define LOGOUT_STATE_MAX 1024  /* bytes of a logout request's state */

/* An RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), checked:
 * every member NULL when the logout was not started by a client. */
typedef struct {
    const char *client_id; /* the hint's aud, or client_id */
    const char *uri;       /* a post_logout_redirect_uri registered by that client */
    const char *state;
    const char *hint_sub;  /* the person the id_token_hint names; NULL */
} logout_req;

static const char login_form[] =
    "{{!message}}"
    "<form method=\"post\" action=\"/login\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"return_to\" value=\"{{return_to}}\">\n"
    "<label for=\"username\">Username</label>\n"
    "<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" "
    "autocapitalize=\"none\" spellcheck=\"false\" maxlength=\"64\" required autofocus "
    "value=\"{{username}}\">\n"
    "<label for=\"password\">Password</label>\n"
    "<input id=\"password\" name=\"password\" type=\"password\" "
    "autocomplete=\"current-password\" maxlength=\"1024\" required>\n"
    "<button type=\"submit\">Sign in</button>\n"
    "</form>\n";

static const char logout_form[] =
    "<p>You are signed in as <strong class=\"who\">{{name}}</strong> "
    "<span class=\"muted\">({{username}})</span>.</p>\n"
    "<form method=\"post\" action=\"/logout\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"client_id\" value=\"{{client_id}}\">\n"
    "<input type=\"hidden\" name=\"post_logout_redirect_uri\" value=\"{{uri}}\">\n"
    "<input type=\"hidden\" name=\"state\" value=\"{{state}}\">\n"
    "<button type=\"submit\" class=\"secondary\">Sign out</button>\n"
    "</form>\n";

/* ------------------------------------------------------------ pure logic */

/* Raw: printable ASCII only, no space, no backslash. */
static bool bad_byte(unsigned char c)
{
    return c < 0x21 || c >= 0x7f || c == '\\';
}

/* Percent-decoded: no control character and no backslash. */
static bool bad_decoded(unsigned char c)
{
    return c < 0x20 || c == 0x7f || c == '\\';
}

bool mdt_web_return_to_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char dec[MDT_WEB_RETURN_TO_MAX + 1];
    size_t m = 0;

    if (n == 0 || n > MDT_WEB_RETURN_TO_MAX || s[0] != '/' || s[1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int hi, lo;

        if (bad_byte(c))
            return false;
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            hi = mdt_hex_value(s[i + 1]);
            lo = mdt_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0 || bad_decoded((unsigned char)(hi << 4 | lo)))
                return false;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        dec[m++] = (char)c;
    }
    dec[m] = '\0';
    return dec[0] == '/' && dec[1] != '/';
}

int64_t mdt_web_login_window(int64_t now)
{
    return now - now % MDT_WEB_LOGIN_WINDOW;
}

int64_t mdt_web_login_retry_minutes(int64_t now)
{
    int64_t left = mdt_web_login_window(now) + MDT_WEB_LOGIN_WINDOW - now;

    return left <= 60 ? 1 : (left + 59) / 60;
}

bool mdt_web_login_throttled(int64_t user_failures, int64_t source_failures,
                             int64_t max_user, int64_t max_source)
{
    return user_failures >= max_user || source_failures >= max_source;
}

/* The client_id parameter of a query (NULL: none, or more than one). */
static const char *query_client_id(mdt_arena *a, const char *query)
{
    const char *found = NULL;

    for (const char *p = query; p && *p;) {
        size_t n = strcspn(p, "&"), k = strcspn(p, "=&");
        const char *name = mdt_url_decode(a, p, k);

        if (name && strcmp(name, "client_id") == 0) {
            if (found || k == n)
                return NULL;
            found = mdt_url_decode(a, p + k + 1, n - k - 1);
        }
        p += n + (p[n] == '&');
    }
    return found;
}

/* A valid return_to (mdt_web_return_to_valid) may still lead through
 * /authorize to a client's redirect URI: only for a client that may use
 * /authorize, so that signing in never ends at a redirect URI nobody
 * approved for sign-in. NULL, or why return_to is refused. */
static const char *return_to_refused(mdt_env *env, mdt_req *req, const char *return_to)
{
    size_t n = strcspn(return_to, "?");
    const char *path = mdt_url_decode(req->arena, return_to, n), *client_id;
    mdt_client c;
    mdt_err err = {0};

    if (!path)
        return "The return_to parameter must be a path on this server.";
    if (strcmp(path, "/authorize") != 0)
        return NULL;
    client_id = return_to[n] ? query_client_id(req->arena, return_to + n + 1) : NULL;
    if (!client_id || mdt_client_load(env, client_id, req->now, req->arena, &c, &err) != MDT_OK ||
        !mdt_authz_client_allowed(&c, req->now))
        return "The application you are signing in for is unknown, not active or not "
               "registered to sign people in.";
    return NULL;
}

/* --------------------------------------------------------------- helpers */

/* The event of the page's outcome (client_id: the application, or NULL). */
static void audit_for(mdt_req *req, mdt_resp *resp, const char *type, const char *decision,
                      const char *username, const char *reason, const char *client_id)
{
    mdt_audit_event ev = {.type = type,
                          .actor = username,
                          .client_id = client_id,
                          .subject = username,
                          .decision = decision,
                          .reason = reason};

    mdt_resp_audit(req, resp, &ev);
}

static void audit(mdt_req *req, mdt_resp *resp, const char *type, const char *decision,
                  const char *username, const char *reason)
{
    audit_for(req, resp, type, decision, username, reason, NULL);
}

static void fault_page(mdt_resp *resp, const mdt_err *err)
{
    mdt_web_fault_page(resp, err,
                       mdt_rc_is_server_fault(err->rc)
                           ? "The service could not complete this request. Try again later."
                           : err->msg);
}

static void login_page(mdt_env *env, mdt_req *req, mdt_resp *resp, int status,
                       const char *username, const char *return_to, const char *message)
{
    const char *csrf, *body, *msg_html = "";
    mdt_kv msg[] = {{"m", message}};
    mdt_err err = {0};

    if (mdt_web_csrf_issue(env, req, resp, NULL, "login", &csrf, &err) != MDT_OK ||
        (message && mdt_web_render_str(req->arena, "<p class=\"error\" role=\"alert\">{{m}}</p>\n",
                                       msg, 1, &msg_html, &err) != MDT_OK)) {
        fault_page(resp, &err);
        return;
    }
    mdt_kv vars[] = {{"message", msg_html}, {"csrf", csrf}, {"return_to", return_to},
                     {"username", username}};
    if (mdt_web_render_str(req->arena, login_form, vars, MDT_ARRAY_LEN(vars), &body, &err) !=
        MDT_OK) {
        fault_page(resp, &err);
        return;
    }
    mdt_web_page(resp, status, "Sign in", body);
}

/* "Signed in as X" with a sign-out form (title given) carrying lr (NULL:
 * none). */
static void signed_in_page(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                           const char *title, const logout_req *lr)
{
    mdt_user_rec u;
    const char *csrf, *body, *name = s->rec.username;
    mdt_err err = {0};

    if (mdt_store_user_get(env->store, s->rec.username, req->arena, &u, &err) == MDT_OK &&
        u.name[0])
        name = u.name;
    mdt_err_clear(&err);
    if (mdt_web_csrf_issue(env, req, resp, s, "logout", &csrf, &err) != MDT_OK) {
        fault_page(resp, &err);
        return;
    }
    mdt_kv vars[] = {{"name", name}, {"username", s->rec.username}, {"csrf", csrf},
                     {"client_id", lr ? lr->client_id : NULL}, {"uri", lr ? lr->uri : NULL},
                     {"state", lr ? lr->state : NULL}};
    if (mdt_web_render_str(req->arena, logout_form, vars, MDT_ARRAY_LEN(vars), &body, &err) !=
        MDT_OK) {
        fault_page(resp, &err);
        return;
    }
    mdt_web_page(resp, 200, title, body);
}

/* The live session in *s (true), none (false), or a fault page (false, *failed). */
static bool find_session(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_web_session *s,
                         bool *failed)
{
    mdt_err err = {0};
    mdt_rc rc = mdt_web_session_get(env, req, req->arena, s, &err);

    *failed = rc != MDT_OK && rc != MDT_ERR_NOT_FOUND;
    if (*failed)
        fault_page(resp, &err);
    return rc == MDT_OK;
}

/* ------------------------------------------------------------- throttling */

static const char *counter_name(mdt_arena *a, const char *kind, const char *key)
{
    char lower[MDT_USERNAME_MAX + 1];
    size_t n = 0;

    if (strcmp(kind, "user") != 0)
        return mdt_arena_printf(a, "login:%s:%.256s", kind, key);
    for (; key[n] && n < MDT_USERNAME_MAX; n++)
        lower[n] = (char)tolower((unsigned char)key[n]);
    lower[n] = '\0';
    return mdt_arena_printf(a, "login:user:%s", lower);
}

/* The two counters of an attempt: per username and per source address. */
static mdt_rc counter_names(mdt_req *req, const char *username, const char **u, const char **ip,
                            mdt_err *err)
{
    *u = counter_name(req->arena, "user", username);
    *ip = counter_name(req->arena, "source", req->peer_ip ? req->peer_ip : "-");
    return *u && *ip ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* Gives back the slots an attempt took (it turned out not to be a failure). */
static mdt_rc give_back(mdt_env *env, mdt_req *req, const char *username, bool user, bool source,
                        mdt_err *err)
{
    int64_t w = mdt_web_login_window(req->now);
    const char *u, *ip;
    mdt_rc rc = counter_names(req, username, &u, &ip, err);

    if (rc == MDT_OK && user)
        rc = mdt_store_rate_release(env->store, u, w, err);
    if (rc == MDT_OK && source)
        rc = mdt_store_rate_release(env->store, ip, w, err);
    return rc;
}

/* Counts the attempt before its password is checked, in one atomic step per
 * counter, so that concurrent attempts cannot all pass a check that none
 * of them had counted yet: *ok when a slot of both counters was free (the
 * attempt holds them; a failure keeps them, a success gives them back),
 * else the attempt is throttled and holds nothing. */
static mdt_rc take_slot(mdt_env *env, mdt_req *req, const char *username, bool *ok,
                        mdt_err *err)
{
    int64_t w = mdt_web_login_window(req->now), nu = 0, ns = 0;
    const char *u, *ip;
    mdt_rc rc = counter_names(req, username, &u, &ip, err);

    *ok = false;
    if (rc != MDT_OK || (rc = mdt_store_rate_hit(env->store, u, w, &nu, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_store_rate_hit(env->store, ip, w, &ns, err)) != MDT_OK) {
        mdt_err e2 = {0};
        (void)give_back(env, req, username, true, false, &e2);
        return rc;
    }
    if (mdt_web_login_throttled(nu - 1, ns - 1, env->cfg.login_max_failures,
                                env->cfg.login_max_failures_per_source))
        return give_back(env, req, username, true, true, err);
    *ok = true;
    return MDT_OK;
}

static void throttled_page(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *username,
                           const char *return_to)
{
    int64_t minutes = mdt_web_login_retry_minutes(req->now);
    const char *msg = mdt_arena_printf(req->arena, "Too many attempts; try again in %lld minute%s.",
                                       (long long)minutes, minutes == 1 ? "" : "s");

    login_page(env, req, resp, 429, username, return_to, msg);
    mdt_resp_header(resp, "Retry-After", mdt_arena_printf(req->arena, "%lld",
                                                         (long long)minutes * 60));
    audit(req, resp, "user.login_throttled", "deny", username, "too many failed logins");
}

/* ---------------------------------------------------------------- /login */

void mdt_handle_login_page(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *return_to = mdt_req_query(req, "return_to"), *why;
    mdt_web_session s;
    bool failed;

    if (return_to && !mdt_web_return_to_valid(return_to)) {
        mdt_web_message_page(resp, 400, "Cannot sign in",
                             "The return_to parameter must be a path on this server.");
        return;
    }
    if (return_to && (why = return_to_refused(env, req, return_to))) {
        mdt_web_message_page(resp, 400, "Cannot sign in", why);
        return;
    }
    if (find_session(env, req, resp, &s, &failed) && !return_to) {
        signed_in_page(env, req, resp, &s, "Signed in", NULL);
        return;
    }
    if (!failed)
        login_page(env, req, resp, 200, "", return_to, NULL);
}

/* Wrong password (or unknown user): it keeps its slot; the form again. */
static void login_failed(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *username,
                         const char *return_to, const mdt_err *why)
{
    login_page(env, req, resp, 400, username, return_to, "Wrong username or password.");
    audit(req, resp, "user.login_failed", "deny", username,
          mdt_arena_printf(req->arena, "%s", mdt_err_text(why)));
}

static void login_ok(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *username,
                     const char *return_to)
{
    mdt_web_session old, s;
    mdt_err err = {0};
    bool failed;

    if (find_session(env, req, resp, &old, &failed)) /* signing in again replaces it */
        failed = mdt_store_session_revoke(env->store, old.rec.hash, req->now, &err) != MDT_OK;
    else if (failed)
        return; /* find_session rendered the fault */
    if (failed || mdt_web_session_create(env, req, resp, username, "pwd", &s, &err) != MDT_OK) {
        fault_page(resp, &err);
        return;
    }
    if (return_to && return_to[0]) {
        /* not a 303: return_to may redirect to a client's origin (see the header) */
        mdt_web_continue_page(resp, "Signed in", return_to, "You are signed in.");
    } else {
        resp->status = 303;
        mdt_resp_header(resp, "Location", "/login");
        mdt_web_security_headers(resp);
    }
    audit(req, resp, "user.login", "allow", username, NULL);
}

/* After CSRF and return_to: a throttling slot, then the password. */
static void login_attempt(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *username,
                          const char *return_to)
{
    const char *password = mdt_req_form(req, "password");
    mdt_user_rec u;
    mdt_err err = {0}, e2 = {0};
    bool slot;
    mdt_rc rc;

    if (take_slot(env, req, username, &slot, &err) != MDT_OK) {
        fault_page(resp, &err);
        return;
    }
    if (!slot) {
        throttled_page(env, req, resp, username, return_to);
        return;
    }
    rc = mdt_user_authenticate(env, username, password, strlen(password), req->arena, &u, &err);
    if (rc == MDT_ERR_ACCESS_DENIED) {
        login_failed(env, req, resp, username, return_to, &err);
        return;
    }
    /* not a failure of the person: the slots go back, so that good logins never lock out */
    if (give_back(env, req, username, true, true, &e2) != MDT_OK && rc == MDT_OK) {
        rc = e2.rc;
        err = e2;
    }
    if (rc != MDT_OK)
        fault_page(resp, &err);
    else
        login_ok(env, req, resp, u.username, return_to);
}

void mdt_handle_login(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *username, *password, *return_to, *why;
    mdt_err err = {0};

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Cannot sign in", "The form could not be read.");
        return;
    }
    username = mdt_req_form(req, "username");
    password = mdt_req_form(req, "password");
    return_to = mdt_req_form(req, "return_to");
    if (mdt_web_csrf_check(env, req, NULL, "login", &err) != MDT_OK) {
        login_page(env, req, resp, 403, username ? username : "", NULL,
                   "This form expired or was not sent by this site. Please sign in again.");
        audit(req, resp, "user.login_failed", "deny", username, mdt_arena_printf(
                  req->arena, "%s", mdt_err_text(&err)));
        return;
    }
    if (return_to && return_to[0] && !mdt_web_return_to_valid(return_to)) {
        mdt_web_message_page(resp, 400, "Cannot sign in",
                             "The return_to parameter must be a path on this server.");
        return;
    }
    if (return_to && return_to[0] && (why = return_to_refused(env, req, return_to))) {
        mdt_web_message_page(resp, 400, "Cannot sign in", why);
        return;
    }
    if (!username || !username[0] || !password || !password[0] ||
        strlen(username) > MDT_USERNAME_MAX || strlen(password) > MDT_WEB_PASSWORD_FIELD_MAX) {
        login_page(env, req, resp, 400, username && strlen(username) <= MDT_USERNAME_MAX
                   ? username : "", return_to, "Enter your username and password.");
        return;
    }
    login_attempt(env, req, resp, username, return_to);
}

/* --------------------------------------------------------------- /logout */

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static bool registered(const mdt_client *c, const char *uri)
{
    for (size_t i = 0; i < c->npost_logout_redirect_uris; i++)
        if (mdt_str_eq(c->post_logout_redirect_uris[i], uri))
            return true;
    return false;
}

/* Checks a logout request into *out; NULL, or why it is refused. */
static const char *logout_check(mdt_env *env, mdt_req *req, const char *hint,
                                const char *client_id, logout_req *out)
{
    mdt_client c;
    mdt_err err = {0};

    if (out->state && strlen(out->state) > LOGOUT_STATE_MAX)
        return "state is too long";
    if (hint && mdt_id_token_hint_verify(env, req->now, req->arena, hint, &out->client_id,
                                         &out->hint_sub, &err) != MDT_OK)
        return "the id_token_hint is not a valid ID token from this server";
    if (client_id && out->client_id && !mdt_str_eq(client_id, out->client_id))
        return "client_id does not match the id_token_hint";
    if (!out->client_id)
        out->client_id = client_id;
    if (out->uri && !out->client_id)
        return "post_logout_redirect_uri needs id_token_hint or client_id";
    if (!out->client_id)
        return NULL;
    if (mdt_client_load(env, out->client_id, req->now, req->arena, &c, &err) != MDT_OK ||
        !mdt_client_usable(&c, req->now))
        return "the application is unknown or disabled";
    if (out->uri && !mdt_authz_client_allowed(&c, req->now))
        return "the application is not registered to sign people in, so it cannot redirect "
               "after sign-out";
    if (out->uri && !registered(&c, out->uri))
        return "post_logout_redirect_uri is not registered by the application";
    return NULL;
}

/* The checked logout request of the query (GET) or the form (POST); false
 * with an error page (never a redirect) and an audit event. */
static bool logout_params(mdt_env *env, mdt_req *req, mdt_resp *resp, bool form, logout_req *out)
{
#define GET(name) nonempty(form ? mdt_req_form(req, name) : mdt_req_query(req, name))
    const char *why;

    *out = (logout_req){.uri = GET("post_logout_redirect_uri"), .state = GET("state")};
    why = logout_check(env, req, form ? NULL : GET("id_token_hint"), GET("client_id"), out);
#undef GET
    if (!why)
        return true;
    mdt_web_message_page(resp, 400, "Cannot sign out",
                         mdt_arena_printf(req->arena, "This sign-out request is invalid: %s.",
                                          why));
    audit_for(req, resp, "user.logout_refused", "deny", NULL, why, out->client_id);
    return false;
}

/* Signed out: back to the application when it asked, else a page. */
static void signed_out(mdt_req *req, mdt_resp *resp, const logout_req *lr, const char *text)
{
    mdt_kv st[] = {{"state", lr->state}};
    const char *to = lr->uri ? mdt_redirect_build(req->arena, lr->uri, st, 1) : NULL;

    if (!to) {
        mdt_web_message_page(resp, 200, "Signed out", text);
        return;
    }
    resp->status = 303; /* the form's page allowed this origin in form-action */
    mdt_resp_header(resp, "Location", to);
    mdt_web_security_headers(resp);
}

/* The id_token_hint names another person than the one signed in here: the
 * application's sign-out is not theirs to make. Refused on a page without a
 * sign-out form or a redirect; the session stays. */
static void other_person(mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                         const logout_req *lr)
{
    mdt_kv vars[] = {{"u", s->rec.username}};
    const char *body;
    mdt_err err = {0};

    if (mdt_web_render_str(req->arena,
                           "<p class=\"error\" role=\"alert\">The application asked to sign "
                           "out another account than yours.</p>\n"
                           "<p>You are still signed in as <strong class=\"who\">{{u}}</strong>. "
                           "Nothing was changed. To sign out, open the sign-out page of this "
                           "site directly.</p>\n",
                           vars, 1, &body, &err) != MDT_OK) {
        fault_page(resp, &err);
        return;
    }
    mdt_web_page(resp, 400, "Cannot sign out", body);
    audit_for(req, resp, "user.logout_refused", "deny", s->rec.username,
              "the id_token_hint names another user than the signed-in one", lr->client_id);
}

void mdt_handle_logout_page(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    logout_req lr;
    bool failed;

    if (!logout_params(env, req, resp, false, &lr))
        return;
    if (find_session(env, req, resp, &s, &failed)) {
        if (lr.hint_sub && !mdt_str_eq(lr.hint_sub, s.rec.username)) {
            other_person(req, resp, &s, &lr);
            return;
        }
        signed_in_page(env, req, resp, &s, "Sign out", &lr);
        if (lr.uri)
            mdt_web_allow_form_target(req, resp, lr.uri);
    } else if (!failed) {
        signed_out(req, resp, &lr, "You are not signed in.");
    }
}

void mdt_handle_logout(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    logout_req lr;
    mdt_err err = {0};
    bool failed;

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Cannot sign out", "The form could not be read.");
        return;
    }
    if (!logout_params(env, req, resp, true, &lr))
        return;
    if (!find_session(env, req, resp, &s, &failed)) {
        if (failed)
            return;
        signed_out(req, resp, &lr, "You are signed out.");
        if (mdt_req_cookie(req, MDT_WEB_SESSION_COOKIE))
            mdt_resp_header(resp, "Set-Cookie",
                            mdt_web_set_cookie(req->arena, MDT_WEB_SESSION_COOKIE, "", 0,
                                               mdt_web_cookie_secure(&env->cfg)));
        return;
    }
    if (mdt_web_csrf_check(env, req, &s, "logout", &err) != MDT_OK) {
        mdt_web_message_page(resp, 403, "Cannot sign out",
                             "This form expired or was not sent by this site.");
        audit(req, resp, "user.logout_refused", "deny", s.rec.username,
              mdt_arena_printf(req->arena, "%s", mdt_err_text(&err)));
        return;
    }
    if (mdt_web_session_revoke(env, req, resp, &s, &err) != MDT_OK) {
        fault_page(resp, &err);
        return;
    }
    signed_out(req, resp, &lr, "You are signed out.");
    audit_for(req, resp, "user.logout", "allow", s.rec.username, NULL, lr.client_id);
}
