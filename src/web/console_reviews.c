/* GET and POST /console/reviews: every access review finding
 * (mdt_review_list_json, all clients), filtered by kind (?kind=), each with
 * its application, detail and since; for admins a form to certify it (a
 * note and a date or duration until which it stays quiet) or revoke it (the
 * remedy the finding calls for), decided through mdt_review_certify /
 * mdt_review_revoke — the service of `mandate review certify|revoke` and
 * /reviews — with the signed-in admin as the decider. Auditors read only;
 * their POST is refused (403, console.refused) before the form is read.
 *
 * Also the findings section of an application's page
 * (mdt_console_findings_html). */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "iga/review.h"
#include "web/console.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/web.h"

#define SHOWN_MAX 200 /* findings on the page */
#define NOTE_MAX 1000

static const char page_tpl[] =
    "<form method=\"get\" action=\"" MDT_CONSOLE_REVIEWS "\" class=\"console-filters\">\n"
    "<label for=\"f-kind\">Kind</label>\n<select id=\"f-kind\" name=\"kind\">\n{{!kinds}}"
    "</select>\n<button type=\"submit\">Filter</button>\n</form>\n{{!items}}";

static const char item_tpl[] =
    "<section class=\"finding\" id=\"{{id}}\" aria-labelledby=\"h-{{id}}\">\n"
    "<h3 id=\"h-{{id}}\"><span class=\"finding-kind\">{{kind}}</span>: "
    "<a class=\"finding-client\" href=\"{{href}}\">{{client_id}}</a></h3>\n"
    "<p class=\"finding-detail\">{{detail}}</p>\n"
    "<dl>\n<dt>Finding</dt><dd><code class=\"finding-id\">{{id}}</code></dd>\n"
    "<dt>Since</dt><dd><time datetime=\"{{since}}\">{{since}}</time></dd>\n</dl>\n"
    "{{!form}}</section>\n";

static const char form_tpl[] =
    "<form method=\"post\" action=\"" MDT_CONSOLE_REVIEWS "\">\n"
    "<input type=\"hidden\" name=\"" MDT_WEB_CSRF_FIELD "\" value=\"{{csrf}}\">\n"
    "<input type=\"hidden\" name=\"finding\" value=\"{{id}}\">\n"
    "<label for=\"note-{{id}}\">Note (required to certify)</label>\n"
    "<textarea id=\"note-{{id}}\" name=\"note\" maxlength=\"1000\" rows=\"2\"></textarea>\n"
    "<label for=\"until-{{id}}\">Certified until (a date such as 2027-03-31, or a duration "
    "such as 90d)</label>\n"
    "<input id=\"until-{{id}}\" name=\"until\" type=\"text\" maxlength=\"40\">\n"
    "<button type=\"submit\" name=\"decision\" value=\"certify\">Certify</button>\n"
    "<button type=\"submit\" name=\"decision\" value=\"revoke\" class=\"danger\">Revoke"
    "</button>\n</form>\n";

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s && *s ? s : dflt;
}

mdt_rc mdt_console_findings_html(mdt_env *env, mdt_req *req, const mdt_console_user *u,
                                 const char *client_id, const char *kind, const char **html,
                                 mdt_err *err)
{
    const char *json;
    json_t *arr, *x;
    size_t i, shown = 0;
    mdt_buf b;
    mdt_rc rc;

    if ((rc = mdt_review_list_json(env, &req->ctx, NULL, req->arena, &json, err)) != MDT_OK)
        return rc;
    if (!(arr = json_loads(json, 0, NULL)))
        return nomem(err);
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    json_array_foreach(arr, i, x) {
        const char *cid = str_or(x, "client_id", ""), *form = "";
        if (rc != MDT_OK || shown >= SHOWN_MAX)
            break;
        if ((client_id && !mdt_str_eq(cid, client_id)) ||
            (kind && *kind && !mdt_str_eq(str_or(x, "kind", ""), kind)))
            continue;
        if (u->admin) {
            mdt_kv fv[] = {{"csrf", u->csrf}, {"id", str_or(x, "id", "")}};
            rc = mdt_web_render_str(req->arena, form_tpl, fv, MDT_ARRAY_LEN(fv), &form, err);
        }
        mdt_kv vars[] = {
            {"id", str_or(x, "id", "")},
            {"kind", str_or(x, "kind", "")},
            {"client_id", cid},
            {"href", mdt_console_client_path(req, cid)},
            {"detail", str_or(x, "detail", "")},
            {"since", str_or(x, "since", "-")},
            {"form", form},
        };
        if (rc == MDT_OK)
            rc = mdt_web_render(&b, item_tpl, vars, MDT_ARRAY_LEN(vars), err);
        shown++;
    }
    json_decref(arr);
    if (rc == MDT_OK)
        *html = shown ? mdt_arena_strndup(req->arena, b.data, b.len)
                      : "<p class=\"empty\">No finding.</p>\n";
    mdt_buf_free(&b);
    return rc != MDT_OK ? rc : *html ? MDT_OK : nomem(err);
}

/* The kind filter's options, kind selected. */
static mdt_rc kinds_html(mdt_req *req, const char *kind, const char **html, mdt_err *err)
{
    static const char opt_tpl[] = "<option value=\"{{v}}\"{{!sel}}>{{label}}</option>\n";
    mdt_buf b;
    mdt_rc rc;
    mdt_kv all[] = {{"v", ""}, {"sel", ""}, {"label", "every kind"}};

    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = mdt_web_render(&b, opt_tpl, all, 3, err);
    for (int k = 0; k < MDT_FINDING_KIND_COUNT && rc == MDT_OK; k++) {
        const char *name = mdt_finding_kind_name((mdt_finding_kind)k);
        mdt_kv v[] = {{"v", name}, {"sel", mdt_str_eq(name, kind) ? " selected" : ""},
                      {"label", name}};
        rc = mdt_web_render(&b, opt_tpl, v, 3, err);
    }
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data, b.len) : NULL;
    mdt_buf_free(&b);
    return rc != MDT_OK ? rc : *html ? MDT_OK : nomem(err);
}

void mdt_handle_console_reviews(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    const char *kind = mdt_req_query(req, "kind"), *kinds, *items, *html;
    mdt_err err = {0};
    mdt_rc rc;

    if (!mdt_console_enter(env, req, resp, MDT_CONSOLE_REVIEWS, &u))
        return;
    if (kind && strlen(kind) > 64)
        kind = NULL;
    if ((rc = kinds_html(req, kind, &kinds, &err)) == MDT_OK)
        rc = mdt_console_findings_html(env, req, &u, NULL, kind, &items, &err);
    if (rc == MDT_OK) {
        mdt_kv vars[] = {{"kinds", kinds}, {"items", items}};
        rc = mdt_web_render_str(req->arena, page_tpl, vars, 2, &html, &err);
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not list the findings.");
        return;
    }
    mdt_console_page(req, resp, 200, "Review findings", &u, MDT_CONSOLE_NAV_REVIEWS, html);
}

void mdt_handle_console_reviews_decide(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    const char *id, *d, *note, *json = NULL, *text;
    int64_t until = 0;
    bool certify;
    mdt_ctx as;
    mdt_err err = {0};
    mdt_rc rc;

    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_web_message_page(resp, 400, "Not done", "The form could not be read.");
        return;
    }
    id = mdt_req_form(req, "finding");
    if (!mdt_console_enter(env, req, resp, MDT_CONSOLE_REVIEWS, &u) ||
        !mdt_console_may_act(env, req, resp, &u, id && *id ? id : "(no finding)"))
        return;
    d = mdt_req_form(req, "decision");
    note = mdt_req_form(req, "note");
    if (note && !*note)
        note = NULL;
    certify = mdt_str_eq(d, "certify");
    if (!id || !*id || strlen(id) > MDT_FINDING_ID_LEN ||
        (!certify && !mdt_str_eq(d, "revoke")) || (note && strlen(note) > NOTE_MAX) ||
        (certify && (!note || !mdt_review_until_parse(mdt_req_form(req, "until"), req->ctx.now, &until)))) {
        mdt_console_refused(req, resp, &u, 400,
                            "Choose a finding and Certify or Revoke; to certify, say why in the "
                            "note and give a date until which it is certified (2027-03-31, or "
                            "90d). Nothing was changed.",
                            id ? id : "(no finding)", "bad form");
        return;
    }
    as = mdt_ctx_as(&req->ctx, u.username);
    rc = certify ? mdt_review_certify(env, &as, id, u.username, note, until, req->arena, &json,
                                      &err)
                 : mdt_review_revoke(env, &as, id, u.username, note, req->arena, &json, &err);
    if (rc == MDT_ERR_NOT_FOUND || rc == MDT_ERR_ACCESS_DENIED) {
        mdt_console_refused(req, resp, &u, 404, "No such finding. Nothing was changed.", id,
                            mdt_err_text(&err));
        return;
    }
    if (rc == MDT_ERR_CONFLICT || rc == MDT_ERR_INVALID_REQUEST) {
        mdt_console_refused(req, resp, &u, rc == MDT_ERR_CONFLICT ? 409 : 400,
                            rc == MDT_ERR_CONFLICT ? "This finding no longer holds." : err.msg,
                            id, mdt_err_text(&err));
        return;
    }
    if (rc != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not record the decision.");
        return;
    }
    {
        json_t *doc = json_loads(json, 0, NULL);
        const char *v = str_or(doc, certify ? "until" : "action", "done");
        text = certify ? mdt_arena_printf(req->arena, "Certified until %s.", v)
                       : mdt_arena_printf(req->arena, "Revoked: %s.", v);
        json_decref(doc);
    }
    mdt_console_message(req, resp, 200, "Decision recorded", &u, MDT_CONSOLE_NAV_REVIEWS,
                        text ? text : "Decision recorded.", MDT_CONSOLE_REVIEWS);
}
