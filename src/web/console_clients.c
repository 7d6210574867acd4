/* GET /console/clients: the applications, as a table with filters (kind,
 * owner, status, risk tier: a GET form), sortable columns (?sort= and
 * ?order=asc|desc) and pages of 50 (?page=, from 1), whose links keep the
 * filters and the order. The filtering, sorting and paging are
 * mdt_client_query's (iga/client_query.h); this page parses the query
 * string into its filter and renders the page it returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "iga/client_query.h"
#include "oauth/redirect.h"
#include "web/console.h"
#include "web/render.h"
#include "web/web.h"

#define PAGE_SIZE MDT_CLIENT_QUERY_LIMIT
#define PAGE_MAX 100000 /* the highest ?page= accepted */

static const char body_tpl[] =
    "<form method=\"get\" action=\"" MDT_CONSOLE_CLIENTS "\" class=\"console-filters\" "
    "role=\"search\" aria-label=\"Filter applications\">\n"
    "<div><label for=\"f-kind\">Kind</label>\n<select id=\"f-kind\" name=\"kind\">{{!kinds}}"
    "</select></div>\n"
    "<div><label for=\"f-owner\">Owner</label>\n<input type=\"text\" id=\"f-owner\" name=\"owner\" "
    "value=\"{{owner}}\" maxlength=\"64\" placeholder=\"username, or - for none\"></div>\n"
    "<div><label for=\"f-status\">Status</label>\n<select id=\"f-status\" name=\"status\">"
    "{{!statuses}}</select></div>\n"
    "<div><label for=\"f-tier\">Risk tier</label>\n<select id=\"f-tier\" name=\"tier\">{{!tiers}}"
    "</select></div>\n"
    "<input type=\"hidden\" name=\"sort\" value=\"{{sort}}\">\n"
    "<input type=\"hidden\" name=\"order\" value=\"{{order}}\">\n"
    "<div><button type=\"submit\">Filter</button> <a href=\"" MDT_CONSOLE_CLIENTS "\">Clear</a>"
    "</div>\n</form>\n"
    "<p class=\"console-count\" aria-live=\"polite\">{{count}}</p>\n"
    "{{!table}}{{!pager}}";

static const char table_tpl[] =
    "<table class=\"console-table clients\">\n<caption>Applications</caption>\n<thead><tr>\n"
    "{{!h_name}}{{!h_kind}}{{!h_owner}}{{!h_status}}{{!h_tier}}{{!h_created}}{{!h_last_used}}"
    "</tr></thead>\n<tbody>\n{{!rows}}</tbody>\n</table>\n";

static const char th_tpl[] =
    "<th scope=\"col\" aria-sort=\"{{aria}}\"><a href=\"{{href}}\">{{label}}</a>{{!mark}}</th>\n";

static const char row_tpl[] =
    "<tr class=\"client-row\" data-client-id=\"{{id}}\">"
    "<td><a class=\"client-name\" href=\"{{href}}\">{{name}}</a><br>"
    "<code class=\"client-id\">{{id}}</code></td>"
    "<td class=\"client-kind\">{{kind}}</td><td class=\"client-owner\">{{owner}}</td>"
    "<td class=\"client-status\"><span class=\"status status-{{status}}\">{{status}}</span></td>"
    "<td class=\"client-tier\">{{tier}}</td>"
    "<td class=\"client-created\"><time datetime=\"{{created}}\">{{created}}</time></td>"
    "<td class=\"client-last-used\">{{last_used}}</td></tr>\n";

static const char *const kinds[] = {"agent", "service", "web", "native", "cli", NULL};
static const char *const statuses[] = {"active", "pending", "suspended", "expired", NULL};
static const char *const tier_names[] = {"low", "medium", "high", NULL};

/* The query string of a page of the list: the filters of f, sort, order
 * and page (page 1 and defaults left out). */
static const char *query_of(mdt_req *req, const mdt_client_filter *f, mdt_client_sort sort,
                            bool desc, size_t page)
{
    const char *keys[] = {"kind", "owner", "status", "tier"};
    const char *vals[] = {f->kind, f->owner, f->status, f->tier};
    const char *q = "";

    for (size_t i = 0; i < MDT_ARRAY_LEN(keys) && q; i++) {
        const char *enc = vals[i] && *vals[i] ? mdt_url_encode(req->arena, vals[i]) : "";
        if (!enc)
            return NULL;
        if (*enc)
            q = mdt_arena_printf(req->arena, "%s&%s=%s", q, keys[i], enc);
    }
    if (q && sort != MDT_CLIENT_SORT_ID)
        q = mdt_arena_printf(req->arena, "%s&sort=%s", q, mdt_client_sort_name(sort));
    if (q && desc)
        q = mdt_arena_printf(req->arena, "%s&order=desc", q);
    if (q && page > 1)
        q = mdt_arena_printf(req->arena, "%s&page=%zu", q, page);
    if (!q)
        return NULL;
    return *q ? mdt_arena_printf(req->arena, MDT_CONSOLE_CLIENTS "?%s", q + 1) : MDT_CONSOLE_CLIENTS;
}

/* The filter, sort and page of the query string; MDT_ERR_INVALID_REQUEST
 * naming the bad parameter. */
static mdt_rc read_query(mdt_req *req, mdt_client_filter *f, size_t *page, mdt_err *err)
{
    const char *order = mdt_req_query(req, "order"), *p = mdt_req_query(req, "page");
    char *end = NULL;
    long long n = 1;

    memset(f, 0, sizeof(*f));
    f->kind = mdt_req_query(req, "kind");
    f->owner = mdt_req_query(req, "owner");
    f->status = mdt_req_query(req, "status");
    f->tier = mdt_req_query(req, "tier");
    f->sort = mdt_client_sort_from_name(mdt_req_query(req, "sort"));
    if (order && *order && !mdt_str_eq(order, "asc") && !mdt_str_eq(order, "desc"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "order must be asc or desc");
    f->desc = mdt_str_eq(order, "desc");
    if (p && *p) {
        n = strtoll(p, &end, 10);
        if (*end || n < 1 || n > PAGE_MAX)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "page must be a number from 1");
    }
    *page = (size_t)n;
    f->limit = PAGE_SIZE;
    f->offset = (*page - 1) * PAGE_SIZE;
    return mdt_client_filter_check(f, err);
}

/* <option>s of a select: "any", then names, the current one selected. */
static mdt_rc options(mdt_req *req, const char *const *names, const char *cur, const char **html,
                      mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    rc = mdt_buf_adds(&b, "<option value=\"\">any</option>");
    for (size_t i = 0; names[i] && rc == MDT_OK; i++)
        rc = mdt_buf_addf(&b, "<option value=\"%s\"%s>%s</option>", names[i],
                          mdt_str_eq(cur, names[i]) ? " selected" : "", names[i]);
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data, b.len) : NULL;
    mdt_buf_free(&b);
    return *html ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* A column header: a link that sorts by col (ascending, or the other way
 * when the list is sorted by it already), and aria-sort. */
static mdt_rc header(mdt_req *req, const mdt_client_filter *f, mdt_client_sort col,
                     const char *label, const char **html, mdt_err *err)
{
    bool on = f->sort == col;
    mdt_kv vars[] = {
        {"aria", on ? (f->desc ? "descending" : "ascending") : "none"},
        {"href", query_of(req, f, col, on && !f->desc, 1)},
        {"label", label},
        {"mark", on ? (f->desc ? " <span aria-hidden=\"true\">&#9660;</span>"
                               : " <span aria-hidden=\"true\">&#9650;</span>")
                    : ""},
    };

    if (!vars[1].value)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return mdt_web_render_str(req->arena, th_tpl, vars, MDT_ARRAY_LEN(vars), html, err);
}

static mdt_rc rows(mdt_req *req, const mdt_client_page *p, const char **html, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, MDT_WEB_PAGE_MAX);
    for (size_t i = 0; i < p->n && rc == MDT_OK; i++) {
        const mdt_client_summary *c = &p->items[i];
        const char *href = mdt_console_client_path(req, c->client_id);
        mdt_kv vars[] = {
            {"id", c->client_id},
            {"href", href},
            {"name", c->name[0] ? c->name : c->client_id},
            {"kind", c->kind[0] ? c->kind : "-"},
            {"owner", c->owner[0] ? c->owner : "(no owner)"},
            {"status", c->status},
            {"tier", c->tier[0] ? c->tier : "-"},
            {"created", mdt_console_time(req, c->created_at)},
            {"last_used", mdt_console_ago(req, c->last_used_at)},
        };
        rc = href ? mdt_web_render(&b, row_tpl, vars, MDT_ARRAY_LEN(vars), err)
                  : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    *html = rc == MDT_OK ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free(&b);
    return *html || rc != MDT_OK ? rc : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static mdt_rc table(mdt_req *req, const mdt_client_filter *f, const mdt_client_page *p,
                    const char **html, mdt_err *err)
{
    static const struct {
        const char *var, *label;
        mdt_client_sort col;
    } cols[] = {
        {"h_name", "Application", MDT_CLIENT_SORT_NAME},
        {"h_kind", "Kind", MDT_CLIENT_SORT_KIND},
        {"h_owner", "Owner", MDT_CLIENT_SORT_OWNER},
        {"h_status", "Status", MDT_CLIENT_SORT_STATUS},
        {"h_tier", "Risk tier", MDT_CLIENT_SORT_TIER},
        {"h_created", "Created", MDT_CLIENT_SORT_CREATED},
        {"h_last_used", "Last use", MDT_CLIENT_SORT_LAST_USED},
    };
    mdt_kv vars[MDT_ARRAY_LEN(cols) + 1];
    mdt_rc rc = MDT_OK;

    if (p->n == 0) {
        *html = "<p class=\"empty\">No application matches.</p>\n";
        return MDT_OK;
    }
    for (size_t i = 0; i < MDT_ARRAY_LEN(cols) && rc == MDT_OK; i++) {
        vars[i].name = cols[i].var;
        rc = header(req, f, cols[i].col, cols[i].label, &vars[i].value, err);
    }
    vars[MDT_ARRAY_LEN(cols)].name = "rows";
    if (rc == MDT_OK)
        rc = rows(req, p, &vars[MDT_ARRAY_LEN(cols)].value, err);
    return rc != MDT_OK ? rc
                        : mdt_web_render_str(req->arena, table_tpl, vars, MDT_ARRAY_LEN(vars),
                                             html, err);
}

/* Previous and next links (keeping filters and order), or "". */
static const char *pager(mdt_req *req, const mdt_client_filter *f, const mdt_client_page *p,
                         size_t page)
{
    const char *prev = "", *next = "";
    mdt_err err = {0};

    if (page > 1) {
        mdt_kv v[] = {{"href", query_of(req, f, f->sort, f->desc, page - 1)}};
        if (!v[0].value || mdt_web_render_str(req->arena,
                                              "<a rel=\"prev\" class=\"prev\" href=\"{{href}}\">"
                                              "Previous page</a>",
                                              v, 1, &prev, &err) != MDT_OK)
            return NULL;
    }
    if (p->next >= 0) {
        mdt_kv v[] = {{"href", query_of(req, f, f->sort, f->desc, page + 1)}};
        if (!v[0].value || mdt_web_render_str(req->arena,
                                              "<a rel=\"next\" class=\"next\" href=\"{{href}}\">"
                                              "Next page</a>",
                                              v, 1, &next, &err) != MDT_OK)
            return NULL;
    }
    if (!*prev && !*next)
        return "";
    return mdt_arena_printf(req->arena,
                            "<nav class=\"pager\" aria-label=\"Pages\">%s %s</nav>\n", prev, next);
}

static const char *count_text(mdt_req *req, const mdt_client_page *p, const mdt_client_filter *f)
{
    if (p->n == 0)
        return p->total ? mdt_arena_printf(req->arena, "No application on this page (%zu in all).",
                                           p->total)
                        : "";
    return mdt_arena_printf(req->arena, "Applications %zu to %zu of %zu.", f->offset + 1,
                            f->offset + p->n, p->total);
}

static mdt_rc body(mdt_env *env, mdt_req *req, const mdt_client_filter *f, size_t page,
                   const char **html, mdt_err *err)
{
    mdt_client_page p;
    const char *k, *s, *t, *tbl, *pg;
    mdt_rc rc;

    if ((rc = mdt_client_query(env, &req->ctx, f, req->arena, &p, err)) != MDT_OK ||
        (rc = options(req, kinds, f->kind, &k, err)) != MDT_OK ||
        (rc = options(req, statuses, f->status, &s, err)) != MDT_OK ||
        (rc = options(req, tier_names, f->tier, &t, err)) != MDT_OK ||
        (rc = table(req, f, &p, &tbl, err)) != MDT_OK)
        return rc;
    if (!(pg = pager(req, f, &p, page)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_kv vars[] = {
        {"kinds", k}, {"statuses", s}, {"tiers", t}, {"owner", f->owner},
        {"sort", f->sort == MDT_CLIENT_SORT_ID ? "" : mdt_client_sort_name(f->sort)},
        {"order", f->desc ? "desc" : ""},
        {"count", count_text(req, &p, f)}, {"table", tbl}, {"pager", pg},
    };
    return mdt_web_render_str(req->arena, body_tpl, vars, MDT_ARRAY_LEN(vars), html, err);
}

void mdt_handle_console_clients(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_console_user u;
    mdt_client_filter f;
    size_t page = 1;
    const char *html;
    mdt_err err = {0};

    if (!mdt_console_enter(env, req, resp, MDT_CONSOLE_CLIENTS, &u))
        return;
    if (read_query(req, &f, &page, &err) != MDT_OK) {
        mdt_console_message(req, resp, 400, "Applications", &u, MDT_CONSOLE_NAV_CLIENTS, err.msg,
                            MDT_CONSOLE_CLIENTS);
        return;
    }
    if (body(env, req, &f, page, &html, &err) != MDT_OK) {
        mdt_web_fault_page(resp, &err, "The service could not list the applications.");
        return;
    }
    mdt_console_page(req, resp, 200, "Applications", &u, MDT_CONSOLE_NAV_CLIENTS, html);
}
