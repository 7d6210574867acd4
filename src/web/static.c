/* The one stylesheet of the web pages, served at /static/mandate.css with a
 * long cache lifetime. It is small and has no external references (the CSP
 * allows styles from 'self' only). */
#include <string.h>

#include "web/render.h"
#include "web/web.h"

#define MDT_WEB_CSS_MAX_AGE "604800" /* a week: a changed stylesheet reaches browsers within it */

static const char stylesheet[] =
    ":root{color-scheme:light dark;--fg:#1d2330;--bg:#f4f5f8;--card:#fff;--line:#c9ceda;"
    "--accent:#2450b8;--error:#a4161a;--muted:#5b6375}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e6e8ee;--bg:#12151c;--card:#1c2130;"
    "--line:#3a4256;--accent:#8fb0ff;--error:#ff8a8a;--muted:#a3abbd}}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;"
    "background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif}\n"
    ".card{margin:8vh 1rem;padding:2rem;width:100%;max-width:26rem;background:var(--card);"
    "border:1px solid var(--line);border-radius:.75rem}\n"
    ".brand{margin:0;color:var(--muted);font-size:.85rem;letter-spacing:.08em;"
    "text-transform:uppercase}\n"
    "h1{margin:.25rem 0 1.25rem;font-size:1.5rem}\n"
    "label{display:block;margin:1rem 0 .25rem;font-weight:600}\n"
    "input[type=text],input[type=password]{width:100%;padding:.6rem .7rem;font:inherit;"
    "color:inherit;background:transparent;border:1px solid var(--line);border-radius:.4rem}\n"
    "input:focus,button:focus{outline:3px solid var(--accent);outline-offset:1px}\n"
    "button{margin-top:1.5rem;padding:.6rem 1.2rem;font:inherit;font-weight:600;color:#fff;"
    "background:var(--accent);border:0;border-radius:.4rem;cursor:pointer}\n"
    "button.secondary{color:var(--accent);background:transparent;border:1px solid var(--line)}\n"
    ".error{padding:.6rem .8rem;color:var(--error);border:1px solid var(--error);"
    "border-radius:.4rem}\n"
    ".muted{color:var(--muted)}\n"
    ".finding h2,.finding code{overflow-wrap:anywhere}\n"
    ".unverified,.phishing-warning{padding:.6rem .9rem;margin-bottom:1rem;"
    "border:2px solid var(--error);border-radius:.4rem}\n"
    ".unverified h2,.phishing-warning h2{margin:0 0 .25rem;color:var(--error);font-size:1.1rem}\n"
    ".verified-no{color:var(--error);font-weight:600}\n"
    /* the console: wide pages of tables */
    ".card.wide{max-width:72rem;margin:2rem 1rem}\n"
    ".console-nav{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;"
    "gap:.5rem;margin:0 0 1.25rem;padding-bottom:.75rem;border-bottom:1px solid var(--line)}\n"
    ".console-nav ul{display:flex;gap:1rem;margin:0;padding:0;list-style:none}\n"
    ".console-nav a{color:var(--accent);font-weight:600;text-decoration:none}\n"
    ".console-nav a[aria-current=page]{text-decoration:underline;text-underline-offset:.3em}\n"
    ".console-user{margin:0;color:var(--muted)}\n"
    ".console-role{padding:.1rem .45rem;border:1px solid var(--line);border-radius:1rem;"
    "font-size:.85rem}\n"
    ".console-filters{display:flex;flex-wrap:wrap;align-items:flex-end;gap:.75rem}\n"
    ".console-filters label{margin:0 0 .25rem}\n"
    ".console-filters button{margin-top:0}\n"
    "select,textarea{padding:.5rem .6rem;font:inherit;color:inherit;background:var(--card);"
    "border:1px solid var(--line);border-radius:.4rem}\n"
    "textarea{display:block;width:100%}\n"
    ".console-table{width:100%;border-collapse:collapse;margin:.5rem 0 1rem;font-size:.95rem}\n"
    ".console-table caption{text-align:left;color:var(--muted);font-size:.85rem}\n"
    ".console-table th,.console-table td{padding:.45rem .6rem;text-align:left;vertical-align:top;"
    "border-bottom:1px solid var(--line)}\n"
    ".console-table th a{color:inherit}\n"
    "code{font-size:.85em;overflow-wrap:anywhere}\n"
    ".status{padding:.1rem .45rem;border-radius:1rem;border:1px solid var(--line)}\n"
    ".status-suspended,.status-expired{color:var(--error);border-color:var(--error)}\n"
    ".metadata,.console-request .who{display:grid;grid-template-columns:max-content 1fr;"
    "gap:.25rem 1rem}\n"
    ".metadata dt,.console-request .who dt{font-weight:600}\n"
    ".metadata dd,.console-request .who dd{margin:0}\n.metadata ul{margin:0;padding-left:1.1rem}\n"
    ".console-request{margin:1rem 0;padding:1rem;border:1px solid var(--line);border-radius:.5rem}\n"
    ".console-request h2{margin:0 0 .5rem;font-size:1.15rem}\n"
    "button.danger{background:var(--error)}\n"
    ".pager{display:flex;gap:1rem}\n"
    ".audit-events{font-size:.85rem}\n.audit-events td{overflow-wrap:anywhere}\n"
    ".audit-events .ev-data{min-width:18rem}\n"
    ".usage-chart{color:var(--accent);max-width:100%;height:auto}\n"
    ".finding{margin:1rem 0;padding:1rem;border:1px solid var(--line);border-radius:.5rem}\n"
    ".finding h3{margin:0 0 .5rem;font-size:1.05rem}\n";

void mdt_handle_stylesheet(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    (void)env;
    (void)req;
    resp->status = 200;
    resp->content_type = "text/css; charset=utf-8";
    mdt_buf_reset(&resp->body);
    if (mdt_buf_add(&resp->body, stylesheet, sizeof(stylesheet) - 1) != MDT_OK) {
        mdt_resp_text(resp, 500, "internal error");
        return;
    }
    mdt_resp_header(resp, "Cache-Control", "public, max-age=" MDT_WEB_CSS_MAX_AGE);
}
