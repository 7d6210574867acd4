/* GET and POST /device (RFC 8628 §3.3, SPEC §2.6): a signed-in person
 * enters the code a device shows (verification_uri_complete fills it in,
 * but the person still confirms it, §5.4), then sees who asks — the
 * client's name, kind, owner, how it authenticates, whether anyone vouches
 * for it — and what for, with a warning against codes sent by someone
 * else (§5.4), and allows or denies. Wrong codes are counted per person and
 * per source address and refused beyond the limits (§5.1). Audited:
 * device.code_refused, device.code_throttled, request.created,
 * request.approved | request.denied, device.approved | device.denied. */
#include <ctype.h>
#include <string.h>

#include "core/clock.h"
#include "oauth/device.h"
#include "oauth/grants.h"
#include "oauth/redirect.h"
#include "users/users.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/session.h"
#include "web/web.h"

#define DEVICE_PURPOSE "device" /* the CSRF purpose of the device forms */

static const char entry_tpl[] =
    "{{!message}}"
    "<p class=\"lead\">Enter the code shown on your device.</p>\n"
    "<form method=\"post\" action=\"/device\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<label for=\"user_code\">Code</label>\n"
    "<input id=\"user_code\" name=\"user_code\" value=\"{{user_code}}\" autocomplete=\"off\" "
    "autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"64\" required>\n"
    "<button type=\"submit\">Continue</button>\n"
    "</form>\n"
    "<p class=\"muted\">Only enter a code that a device in front of you shows. Signed in as "
    "{{username}}.</p>\n";

static const char decision_tpl[] =
    "<div class=\"phishing-warning\" role=\"alert\">\n"
    "<h2>Is this device in front of you?</h2>\n"
    "<p>Allow only if you started this yourself, on a device or terminal you are using now. "
    "If someone sent you this code or asked you to enter it (by e-mail, chat or phone), choose "
    "Deny: whoever holds the device would act as you.</p>\n"
    "</div>\n"
    "<p class=\"lead\"><strong class=\"client-name\">{{name}}</strong> asks to act on your "
    "behalf from a device.</p>\n"
    "<dl class=\"who\">\n"
    "<dt>Application</dt><dd>{{name}} <span class=\"muted\">({{client_id}})</span></dd>\n"
    "<dt>Kind</dt><dd class=\"client-kind\">{{kind}}</dd>\n"
    "<dt>Owner</dt><dd class=\"client-owner\">{{owner}}</dd>\n"
    "<dt>Authenticates with</dt><dd class=\"client-auth\">{{auth}}</dd>\n"
    "<dt>Verified</dt><dd class=\"client-verified verified-{{verified}}\">{{vouched}}</dd>\n"
    "<dt>Resource</dt><dd class=\"resource\">{{resource}}</dd>\n"
    "<dt>Code expires</dt><dd class=\"expires\">{{expires}} ({{minutes}})</dd>\n"
    "</dl>\n"
    "<h2>It asks for</h2>\n"
    "<ul class=\"scopes\">\n{{!scopes}}</ul>\n"
    "<form method=\"post\" action=\"/device\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"request\" value=\"{{request}}\">\n"
    "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
    "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button>\n"
    "</form>\n"
    "<p class=\"muted\">Signed in as {{username}}.</p>\n";

static const char message_tpl[] = "<p class=\"error\" role=\"alert\">{{text}}</p>\n";

/* ------------------------------------------------------------- helpers */

static void audit(mdt_req *req, mdt_resp *resp, const char *type, const char *username,
                  const char *client_id, const char *reason)
{
    mdt_audit_event ev = {.type = type, .actor = username, .subject = username,
                          .client_id = client_id, .decision = "deny", .reason = reason};

    mdt_resp_audit(req, resp, &ev);
}

static void fault(mdt_resp *resp, const mdt_err *err)
{
    mdt_web_fault_page(resp, err, "The service could not complete this request. Try again later.");
}

/* The entry form, with message (plain text) above it when not NULL. */
static void entry_page(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                       int status, const char *user_code, const char *message)
{
    const char *csrf, *body, *msg_html = "";
    mdt_err err = {0};
    mdt_kv msg[] = {{"text", message}};

    if (mdt_web_csrf_issue(env, req, resp, s, DEVICE_PURPOSE, &csrf, &err) != MDT_OK ||
        (message && mdt_web_render_str(req->arena, message_tpl, msg, 1, &msg_html, &err))) {
        fault(resp, &err);
        return;
    }
    mdt_kv vars[] = {{"message", msg_html}, {"csrf", csrf},
                     {"user_code", user_code ? user_code : ""}, {"username", s->rec.username}};
    if (mdt_web_render_str(req->arena, entry_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err)) {
        fault(resp, &err);
        return;
    }
    mdt_web_page(resp, status, "Connect a device", body);
}

/* Who vouches for c (SPEC §3.3): *verified "yes" or "no". */
static const char *vouched_text(mdt_req *req, const mdt_client *c, const char **verified)
{
    *verified = "yes";
    if (!c->origin)
        return "Yes: registered by an administrator";
    if (c->vouched_by)
        return mdt_arena_printf(req->arena, "Yes: its software statement is signed by %s",
                                c->vouched_by);
    if (c->iat_id)
        return "Yes: registered with an initial access token an administrator issued";
    *verified = "no";
    return mdt_str_eq(c->origin, "cimd")
               ? "No: unverified, its name is what its own metadata document says"
               : "No: unverified, it registered itself and its name is what it says about itself";
}

static const char *resource_text(mdt_env *env, mdt_req *req, const mdt_device_view *v)
{
    const char *s = "";

    if (v->resource)
        return v->resource;
    if (!v->client.nresources)
        return env->cfg.issuer;
    for (size_t i = 0; i < v->client.nresources && s; i++)
        s = mdt_arena_printf(req->arena, "%s%s%s", s, i ? ", " : "", v->client.resources[i]);
    return s;
}

static void decision_page(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                          const mdt_device_view *v)
{
    const mdt_client *c = &v->client;
    const char *csrf, *scopes, *body, *verified, *vouched = vouched_text(req, c, &verified);
    int64_t left = (v->expires_at - req->now + 59) / 60;
    char expires[21];
    mdt_err err = {0};

    mdt_time_format(v->expires_at, expires);
    if (mdt_web_csrf_issue(env, req, resp, s, DEVICE_PURPOSE, &csrf, &err) != MDT_OK ||
        mdt_web_scope_list(env, req, v->scope, &scopes, &err) != MDT_OK) {
        fault(resp, &err);
        return;
    }
    mdt_kv vars[] = {
        {"name", c->name && c->name[0] ? c->name : c->client_id},
        {"client_id", c->client_id},
        {"kind", c->kind},
        {"owner", c->owner && c->owner[0] ? c->owner : "(no owner)"},
        {"auth", mdt_str_eq(c->auth_method, "none") ? "none (a public client)" : c->auth_method},
        {"verified", verified},
        {"vouched", vouched},
        {"resource", resource_text(env, req, v)},
        {"expires", expires},
        {"minutes", mdt_arena_printf(req->arena, "in %lld minute%s", (long long)left,
                                     left == 1 ? "" : "s")},
        {"scopes", scopes},
        {"csrf", csrf},
        {"request", v->request_id},
        {"username", s->rec.username},
    };
    if (mdt_web_render_str(req->arena, decision_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err)) {
        fault(resp, &err);
        return;
    }
    mdt_web_page(resp, 200, "Allow this device?", body);
}

/* ------------------------------------------------------------ throttling */

static const char *counter(mdt_arena *a, const char *kind, const char *key)
{
    char lower[MDT_USERNAME_MAX + 1];
    size_t n = 0;

    if (strcmp(kind, "user") != 0)
        return mdt_arena_printf(a, "device:code:%s:%.256s", kind, key);
    for (; key[n] && n < MDT_USERNAME_MAX; n++)
        lower[n] = (char)tolower((unsigned char)key[n]);
    lower[n] = '\0';
    return mdt_arena_printf(a, "device:code:user:%s", lower);
}

/* Gives back the slots an entry took (the code was right). */
static mdt_rc give_back(mdt_env *env, mdt_req *req, const char *username, bool user, bool source,
                        mdt_err *err)
{
    int64_t w = mdt_web_login_window(req->now);
    const char *u = counter(req->arena, "user", username);
    const char *ip = counter(req->arena, "source", req->peer_ip ? req->peer_ip : "-");
    mdt_rc rc = u && ip ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");

    if (rc == MDT_OK && user)
        rc = mdt_store_rate_release(env->store, u, w, err);
    if (rc == MDT_OK && source)
        rc = mdt_store_rate_release(env->store, ip, w, err);
    return rc;
}

/* Counts the entry before its code is looked up, one atomic step per
 * counter (as failed logins are counted), so that concurrent guesses cannot
 * pass a check none of them had counted: *ok when both had a slot free. */
static mdt_rc take_slot(mdt_env *env, mdt_req *req, const char *username, bool *ok, mdt_err *err)
{
    int64_t w = mdt_web_login_window(req->now), nu = 0, ns = 0;
    const char *u = counter(req->arena, "user", username);
    const char *ip = counter(req->arena, "source", req->peer_ip ? req->peer_ip : "-");
    mdt_rc rc;

    *ok = false;
    if (!u || !ip)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if ((rc = mdt_store_rate_hit(env->store, u, w, &nu, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_store_rate_hit(env->store, ip, w, &ns, err)) != MDT_OK) {
        mdt_err e2 = {0};
        (void)give_back(env, req, username, true, false, &e2);
        return rc;
    }
    if (mdt_web_login_throttled(nu - 1, ns - 1, env->cfg.device_max_wrong_codes,
                                env->cfg.device_max_wrong_codes_per_source))
        return give_back(env, req, username, true, true, err);
    *ok = true;
    return MDT_OK;
}

/* ------------------------------------------------------------- handlers */

void mdt_handle_device_page(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *code = mdt_req_query(req, "user_code");
    const char *back = "/device";
    mdt_web_session s;

    if (code && strlen(code) > MDT_DEVICE_USER_CODE_INPUT_MAX)
        code = NULL;
    if (code && *code)
        back = mdt_arena_printf(req->arena, "/device?user_code=%s",
                                mdt_url_encode(req->arena, code));
    if (mdt_web_session_or_login(env, req, resp, back ? back : "/device", &s))
        entry_page(env, req, resp, &s, 200, code, NULL);
}

/* A user code entered: throttling, then the request and its page. */
static void enter(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s)
{
    const char *code = mdt_req_form(req, "user_code"), *user = s->rec.username;
    int64_t minutes = mdt_web_login_retry_minutes(req->now);
    mdt_device_view v;
    mdt_err err = {0};
    bool ok = false;
    mdt_rc rc;

    if (!code || !code[strspn(code, " -")]) { /* nothing entered: not a guess */
        entry_page(env, req, resp, s, 400, NULL, "Enter the code your device shows.");
        return;
    }
    if (strlen(code) > MDT_DEVICE_USER_CODE_INPUT_MAX)
        code = NULL;
    if ((rc = take_slot(env, req, user, &ok, &err)) != MDT_OK) {
        fault(resp, &err);
        return;
    }
    if (!ok) {
        entry_page(env, req, resp, s, 429, code,
                   mdt_arena_printf(req->arena, "Too many wrong codes; try again in %lld minute%s.",
                                    (long long)minutes, minutes == 1 ? "" : "s"));
        mdt_resp_header(resp, "Retry-After",
                        mdt_arena_printf(req->arena, "%lld", (long long)minutes * 60));
        audit(req, resp, "device.code_throttled", user, NULL, "too many wrong user codes");
        return;
    }
    rc = mdt_device_enter(env, req, code, user, &v, &err);
    if (rc == MDT_ERR_NOT_FOUND) { /* a wrong entry keeps its slots */
        entry_page(env, req, resp, s, 400, code,
                   "That code is unknown, has expired or was already used. Check the code your "
                   "device shows.");
        audit(req, resp, "device.code_refused", user, NULL, mdt_err_audit_text(&err));
        return;
    }
    if (rc == MDT_OK)
        rc = give_back(env, req, user, true, true, &err);
    if (rc != MDT_OK) {
        fault(resp, &err);
        return;
    }
    decision_page(env, req, resp, s, &v);
}

/* Allow or deny: the one decision path of approval requests. */
static void decide(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                   const char *id, const char *decision)
{
    bool allow = mdt_str_eq(decision, "allow");
    mdt_device_view v;
    mdt_err err = {0};
    mdt_rc rc;

    if (!allow && !mdt_str_eq(decision, "deny")) {
        mdt_web_message_page(resp, 400, "Connect a device", "Choose Allow or Deny.");
        return;
    }
    rc = mdt_device_decide(env, req, id, s->rec.username, allow, &v, &err);
    if (rc == MDT_ERR_NOT_FOUND || rc == MDT_ERR_CONFLICT || rc == MDT_ERR_ACCESS_DENIED) {
        mdt_web_message_page(resp, rc == MDT_ERR_NOT_FOUND ? 404 : rc == MDT_ERR_CONFLICT ? 409 : 403,
                             "Connect a device",
                             rc == MDT_ERR_CONFLICT
                                 ? "This request was already decided or has expired."
                                 : "There is no such request waiting for you.");
        return;
    }
    if (rc != MDT_OK) {
        fault(resp, &err);
        return;
    }
    if (!allow)
        mdt_web_message_page(resp, 200, "Access denied",
                             "You denied the request. The device will not get access.");
    else if (mdt_str_eq(v.status, "approved"))
        mdt_web_message_page(resp, 200, "Device connected",
                             "You allowed the request. You can return to your device.");
    else
        mdt_web_message_page(resp, 200, "Waiting for approval",
                             "Your approval is recorded. The request now waits for approval by "
                             "another approver; your device continues once it is approved.");
}

void mdt_handle_device(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *id;
    mdt_web_session s;
    mdt_err err = {0};

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Connect a device", "The form could not be read.");
        return;
    }
    if (!mdt_web_session_or_login(env, req, resp, "/device", &s))
        return;
    if (mdt_web_csrf_check(env, req, &s, DEVICE_PURPOSE, &err) != MDT_OK) {
        mdt_web_message_page(resp, 403, "Connect a device",
                             "This form expired or was not sent by this site.");
        audit(req, resp, "device.code_refused", s.rec.username, NULL, mdt_err_text(&err));
        return;
    }
    id = mdt_req_form(req, "request");
    if (id && *id)
        decide(env, req, resp, &s, id, mdt_req_form(req, "decision"));
    else
        enter(env, req, resp, &s);
}
