#include "web/render.h"

#include <string.h>

static const char layout[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>{{title}} - Mandate</title>\n"
    "{{!head}}"
    "<link rel=\"stylesheet\" href=\"" MDT_WEB_CSS_PATH "\">\n"
    "</head>\n"
    "<body>\n"
    "<main class=\"{{main_class}}\">\n"
    "<p class=\"brand\">Mandate</p>\n"
    "<h1>{{title}}</h1>\n"
    "{{!body}}"
    "</main>\n"
    "</body>\n"
    "</html>\n";

static const char *entity(char c)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default: return NULL;
    }
}

mdt_rc mdt_html_escape(mdt_buf *b, const char *s)
{
    mdt_rc rc = MDT_OK;

    while (s && *s && rc == MDT_OK) {
        size_t run = strcspn(s, "&<>\"'");

        rc = mdt_buf_add(b, s, run);
        s += run;
        if (*s && rc == MDT_OK)
            rc = mdt_buf_adds(b, entity(*s++));
    }
    return rc;
}

static const mdt_kv *find_var(const mdt_kv *vars, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
            return &vars[i];
    return NULL;
}

/* *p points just after "{{": appends the value and advances past "}}". */
static mdt_rc placeholder(mdt_buf *out, const char **p, const mdt_kv *vars, size_t n,
                          mdt_err *err)
{
    bool raw = **p == '!';
    const char *name = *p + raw;
    const char *end = strstr(name, "}}");
    const mdt_kv *v;
    mdt_rc rc;

    if (!end || (size_t)(end - name) > MDT_WEB_VAR_NAME_MAX)
        return mdt_fail(err, MDT_ERR_INTERNAL, "template placeholder not closed");
    v = find_var(vars, n, name, (size_t)(end - name));
    if (!v)
        return mdt_failf(err, MDT_ERR_INTERNAL, "template placeholder unknown", "%.*s",
                         (int)(end - name), name);
    rc = raw ? mdt_buf_adds(out, v->value ? v->value : "") : mdt_html_escape(out, v->value);
    *p = end + 2;
    return rc == MDT_OK ? MDT_OK : mdt_fail(err, rc, "page too large");
}

mdt_rc mdt_web_render(mdt_buf *out, const char *tpl, const mdt_kv *vars, size_t n, mdt_err *err)
{
    const char *p = tpl;
    mdt_rc rc = MDT_OK;

    while (*p && rc == MDT_OK) {
        const char *open = strstr(p, "{{");
        size_t run = open ? (size_t)(open - p) : strlen(p);

        if (mdt_buf_add(out, p, run) != MDT_OK)
            return mdt_fail(err, MDT_ERR_NOMEM, "page too large");
        p += run;
        if (open) {
            p += 2;
            rc = placeholder(out, &p, vars, n, err);
        }
    }
    return rc;
}

void mdt_web_security_headers(mdt_resp *resp)
{
    mdt_resp_header(resp, "Content-Security-Policy", MDT_WEB_CSP);
    mdt_resp_header(resp, "X-Frame-Options", "DENY");
    mdt_resp_header(resp, "Referrer-Policy", "no-referrer");
    resp->no_store = true;
}

static void page_in(mdt_resp *resp, int status, const char *title, const char *head,
                    const char *main_class, const char *body_html)
{
    mdt_kv vars[] = {{"title", title}, {"head", head}, {"body", body_html},
                     {"main_class", main_class}};
    mdt_err err = {0};

    mdt_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "text/html; charset=utf-8";
    mdt_web_security_headers(resp);
    if (mdt_web_render(&resp->body, layout, vars, MDT_ARRAY_LEN(vars), &err) != MDT_OK)
        mdt_resp_text(resp, 500, "internal error");
}

static void page(mdt_resp *resp, int status, const char *title, const char *head,
                 const char *body_html)
{
    page_in(resp, status, title, head, "card", body_html);
}

void mdt_web_page(mdt_resp *resp, int status, const char *title, const char *body_html)
{
    page(resp, status, title, "", body_html);
}

void mdt_web_wide_page(mdt_resp *resp, int status, const char *title, const char *body_html)
{
    page_in(resp, status, title, "", "card wide", body_html);
}

void mdt_web_continue_page(mdt_resp *resp, const char *title, const char *url, const char *text)
{
    mdt_kv vars[] = {{"url", url}, {"text", text}};
    char head[4096], body[4096];
    mdt_buf h, b;
    mdt_err err = {0};

    mdt_buf_init(&h, sizeof(head));
    mdt_buf_init(&b, sizeof(body));
    if (mdt_web_render(&h, "<meta http-equiv=\"refresh\" content=\"0;url={{url}}\">\n", vars, 1,
                       &err) != MDT_OK ||
        mdt_web_render(&b, "<p>{{text}}</p>\n<p><a href=\"{{url}}\">Continue</a></p>\n", vars, 2,
                       &err) != MDT_OK)
        mdt_resp_text(resp, 500, "internal error");
    else
        page(resp, 200, title, h.data, b.data);
    mdt_buf_free(&h);
    mdt_buf_free(&b);
}

void mdt_web_decision_refused(mdt_req *req, mdt_resp *resp, const char *event,
                              const char *username, int status, const char *text, const char *id,
                              const mdt_err *err)
{
    mdt_web_message_page(resp, status, "Cannot decide", text);
    mdt_resp_audit(req, resp,
                   &(mdt_audit_event){.type = event,
                                      .actor = username,
                                      .subject = username,
                                      .decision = "deny",
                                      .reason = mdt_arena_printf(req->arena, "%s%s%s",
                                                                 id ? id : "", id ? ": " : "",
                                                                 mdt_err_text(err))});
}

void mdt_web_message_page(mdt_resp *resp, int status, const char *title, const char *message)
{
    mdt_kv vars[] = {{"message", message}};
    mdt_buf b;
    mdt_err err = {0};

    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    if (mdt_web_render(&b, "<p>{{message}}</p>\n", vars, 1, &err) != MDT_OK) {
        mdt_resp_text(resp, 500, "internal error");
    } else {
        mdt_web_page(resp, status, title, b.data);
    }
    mdt_buf_free(&b);
}

void mdt_web_fault_page(mdt_resp *resp, const mdt_err *err, const char *what)
{
    int status = err ? mdt_rc_http_status(err->rc) : 500;

    if (status < 400)
        status = 500;
    if (err)
        mdt_resp_fault(resp, err);
    mdt_web_message_page(resp, status, "Something went wrong", what);
}

mdt_rc mdt_web_render_str(mdt_arena *a, const char *tpl, const mdt_kv *vars, size_t n,
                          const char **out, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc;

    *out = NULL;
    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = mdt_web_render(&b, tpl, vars, n, err);
    if (rc == MDT_OK && !(*out = mdt_arena_strdup(a, b.data ? b.data : "")))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_buf_free(&b);
    return rc;
}
