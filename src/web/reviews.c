/* GET and POST /reviews (SPEC §3.6, §2.6): the access review findings the
 * signed-in person may decide — an admin sees every finding, anyone else
 * the findings about the clients they own (never `ownerless` ones) — each
 * with Certify (a note and a date or duration until which it stays quiet)
 * and Revoke (the remedy the finding calls for). A decision goes through
 * mdt_review_certify / mdt_review_revoke as the person, which check again
 * who may decide, so posting the id of someone else's finding changes
 * nothing. Audited: review.certified, review.revoked (by the service),
 * review.refused. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "iga/client.h"
#include "iga/review.h"
#include "users/users.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/session.h"
#include "web/web.h"

#define REVIEWS_PATH "/reviews"
#define REVIEWS_SHOWN_MAX 100 /* findings on one page */
#define REVIEWS_NOTE_MAX 1000

static const char page_tpl[] =
    "<p class=\"lead\">Access review: findings about {{whose}} applications.</p>\n"
    "{{!items}}"
    "<p class=\"muted\">Signed in as {{username}}.</p>\n";

static const char item_tpl[] =
    "<section class=\"finding\" id=\"{{id}}\" aria-labelledby=\"h-{{id}}\">\n"
    "<h2 id=\"h-{{id}}\"><span class=\"finding-kind\">{{kind}}</span>: "
    "<span class=\"finding-client\">{{name}}</span></h2>\n"
    "<p class=\"finding-detail\">{{detail}}</p>\n"
    "<dl>\n<dt>Application</dt><dd><code class=\"finding-client-id\">{{client_id}}</code></dd>\n"
    "<dt>Finding</dt><dd><code class=\"finding-id\">{{id}}</code></dd>\n"
    "<dt>Since</dt><dd><time datetime=\"{{since}}\">{{since}}</time></dd>\n</dl>\n"
    "<form method=\"post\" action=\"" REVIEWS_PATH "\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"finding\" value=\"{{id}}\">\n"
    "<label for=\"note-{{id}}\">Note (required to certify)</label>\n"
    "<textarea id=\"note-{{id}}\" name=\"note\" maxlength=\"1000\" rows=\"2\"></textarea>\n"
    "<label for=\"until-{{id}}\">Certified until (a date such as 2027-03-31, or a duration "
    "such as 90d)</label>\n"
    "<input id=\"until-{{id}}\" name=\"until\" type=\"text\" maxlength=\"40\">\n"
    "<button type=\"submit\" name=\"decision\" value=\"certify\">Certify</button>\n"
    "<button type=\"submit\" name=\"decision\" value=\"revoke\" class=\"secondary\">Revoke"
    "</button>\n</form>\n</section>\n";

static const char outcome_tpl[] =
    "<p class=\"lead outcome outcome-{{decision}}\">{{text}}</p>\n"
    "<p><code>{{id}}</code></p>\n"
    "<p><a href=\"" REVIEWS_PATH "\">Back to the review</a></p>\n";

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* Whether username is an admin (then every finding is theirs to decide). */
static bool is_admin(mdt_env *env, mdt_req *req, const char *username)
{
    mdt_user_rec u;
    mdt_err err = {0};

    return mdt_store_user_get(env->store, username, req->arena, &u, &err) == MDT_OK &&
           mdt_user_has_role(u.roles, "admin");
}

/* The client's name for people (its id when it has none or cannot be read). */
static const char *client_name(mdt_env *env, mdt_req *req, const char *client_id)
{
    mdt_client c;
    mdt_err err = {0};

    if (mdt_client_load(env, client_id, req->ctx.now, req->arena, &c, &err) == MDT_OK && c.name &&
        c.name[0])
        return c.name;
    return client_id;
}

static mdt_rc item(mdt_env *env, mdt_req *req, json_t *f, const char *csrf, mdt_buf *out,
                   mdt_err *err)
{
    const char *since = json_string_value(json_object_get(f, "since")), *html;
    const char *client_id = json_string_value(json_object_get(f, "client_id"));
    mdt_kv vars[] = {
        {"id", json_string_value(json_object_get(f, "id"))},
        {"kind", json_string_value(json_object_get(f, "kind"))},
        {"name", client_name(env, req, client_id)},
        {"client_id", client_id},
        {"detail", json_string_value(json_object_get(f, "detail"))},
        {"since", since ? since : "-"},
        {"csrf", csrf},
    };
    mdt_rc rc = mdt_web_render_str(req->arena, item_tpl, vars, MDT_ARRAY_LEN(vars), &html, err);

    if (rc != MDT_OK)
        return rc;
    return mdt_buf_adds(out, html) == MDT_OK ? MDT_OK : nomem(err);
}

/* The findings of the person (or a sentence when none), in *html. */
static mdt_rc items(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_web_session *s,
                    bool admin, const char **html, mdt_err *err)
{
    const char *json, *csrf;
    json_t *arr = NULL, *f;
    size_t i;
    mdt_buf b;
    mdt_rc rc = mdt_review_list_json(env, &req->ctx, admin ? NULL : s->rec.username, req->arena,
                                     &json, err);

    if (rc != MDT_OK)
        return rc;
    if (!(arr = json_loads(json, 0, NULL)))
        return nomem(err);
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        *html = "<p class=\"empty\">No findings: nothing to review.</p>\n";
        return MDT_OK;
    }
    if ((rc = mdt_web_csrf_issue(env, req, resp, s, "reviews", &csrf, err)) != MDT_OK) {
        json_decref(arr);
        return rc;
    }
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    json_array_foreach(arr, i, f) {
        if (rc != MDT_OK || i >= REVIEWS_SHOWN_MAX)
            break;
        rc = item(env, req, f, csrf, &b, err);
    }
    if (rc == MDT_OK && json_array_size(arr) > REVIEWS_SHOWN_MAX &&
        mdt_buf_addf(&b, "<p class=\"more\">%zu more after these: use <code>mandate "
                         "review</code>.</p>\n",
                     json_array_size(arr) - REVIEWS_SHOWN_MAX) != MDT_OK)
        rc = nomem(err);
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free(&b);
    json_decref(arr);
    if (rc == MDT_OK && !*html)
        rc = nomem(err);
    return rc;
}

void mdt_handle_reviews_page(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    const char *list, *body;
    bool admin;
    mdt_err err = {0};

    if (!mdt_web_session_or_login(env, req, resp, REVIEWS_PATH, &s))
        return;
    admin = is_admin(env, req, s.rec.username);
    if (items(env, req, resp, &s, admin, &list, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not list the findings.");
        return;
    }
    mdt_kv vars[] = {{"whose", admin ? "all" : "your"}, {"items", list},
                     {"username", s.rec.username}};
    if (mdt_web_render_str(req->arena, page_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not list the findings.");
        return;
    }
    mdt_web_page(resp, 200, "Access review", body);
}

/* A refused submission: the page, and review.refused in the audit log. */
static void refused(mdt_req *req, mdt_resp *resp, const mdt_web_session *s, int status,
                    const char *text, const char *id, const mdt_err *err)
{
    mdt_web_decision_refused(req, resp, "review.refused", s->rec.username, status, text, id, err);
}

static void outcome(mdt_req *req, mdt_resp *resp, const char *id, bool certify,
                    const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    const char *until = json_string_value(json_object_get(doc, "until"));
    const char *action = json_string_value(json_object_get(doc, "action")), *body;
    const char *text = certify ? mdt_arena_printf(req->arena, "Certified until %s.",
                                                  until ? until : "?")
                               : mdt_arena_printf(req->arena, "Revoked: %s.",
                                                  action ? action : "done");
    mdt_err err = {0};
    mdt_kv vars[] = {{"decision", certify ? "certify" : "revoke"}, {"text", text}, {"id", id}};

    if (mdt_web_render_str(req->arena, outcome_tpl, vars, MDT_ARRAY_LEN(vars), &body, &err) !=
        MDT_OK)
        mdt_web_fault_page(resp, &err, "The service could not show the outcome.");
    else
        mdt_web_page(resp, 200, "Decision recorded", body);
    json_decref(doc);
}

/* The submitted decision. */
static mdt_rc read_form(mdt_req *req, const char **id, bool *certify, const char **note,
                        int64_t *until, mdt_err *err)
{
    const char *d = mdt_req_form(req, "decision");

    *id = mdt_req_form(req, "finding");
    *note = mdt_req_form(req, "note");
    if (!*id || !**id || strlen(*id) > MDT_FINDING_ID_LEN)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "Choose a finding to decide.");
    if (!mdt_str_eq(d, "certify") && !mdt_str_eq(d, "revoke"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "Choose Certify or Revoke.");
    if (*note && strlen(*note) > REVIEWS_NOTE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "The note is longer than 1000 bytes.");
    if (*note && !**note)
        *note = NULL;
    *certify = mdt_str_eq(d, "certify");
    if (*certify && !*note)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "Say why in the note to certify.");
    if (*certify && !mdt_review_until_parse(mdt_req_form(req, "until"), req->ctx.now, until))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "Give the date until which it is certified (2027-03-31, or 90d).");
    return MDT_OK;
}

void mdt_handle_reviews(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_web_session s;
    const char *id = NULL, *note = NULL, *json = NULL;
    bool certify = false;
    int64_t until = 0;
    mdt_err err = {0};
    mdt_rc rc;

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Cannot decide", "The form could not be read.");
        return;
    }
    if (!mdt_web_session_or_login(env, req, resp, REVIEWS_PATH, &s))
        return;
    if (mdt_web_csrf_check(env, req, &s, "reviews", &err) != MDT_OK) {
        refused(req, resp, &s, 403, "This form expired or was not sent by this site.", NULL, &err);
        return;
    }
    if (read_form(req, &id, &certify, &note, &until, &err) != MDT_OK) {
        refused(req, resp, &s, 400, err.msg, NULL, &err);
        return;
    }
    if (certify)
        rc = mdt_review_certify(env, &req->ctx, id, s.rec.username, note, until, req->arena,
                                &json, &err);
    else
        rc = mdt_review_revoke(env, &req->ctx, id, s.rec.username, note, req->arena, &json,
                               &err);
    if (rc == MDT_ERR_NOT_FOUND || rc == MDT_ERR_ACCESS_DENIED) /* the same to the person */
        refused(req, resp, &s, 404, "No such finding is yours to decide.", id, &err);
    else if (rc == MDT_ERR_CONFLICT)
        refused(req, resp, &s, 409, "This finding no longer holds.", id, &err);
    else if (rc == MDT_ERR_INVALID_REQUEST)
        refused(req, resp, &s, 400, err.msg, id, &err);
    else if (rc != MDT_OK)
        mdt_web_fault_page(resp, &err, "The service could not record your decision.");
    else
        outcome(req, resp, id, certify, json);
}
