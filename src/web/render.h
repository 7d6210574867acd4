/* Server-rendered HTML pages (SPEC §2.6): a tiny template helper that
 * HTML-escapes every interpolated value, one page layout with one
 * stylesheet, and the security headers every page carries.
 *
 * Templates: "{{name}}" is replaced by the value of name, escaped for both
 * text and quoted attribute contexts (& < > " ' become entities).
 * "{{!name}}" inserts the value unescaped: only for HTML that another
 * mdt_web_render call produced. Values are never re-scanned for
 * placeholders.
 * Memory: output goes to the caller's mdt_buf; nothing is retained. */
#ifndef MDT_WEB_RENDER_H
#define MDT_WEB_RENDER_H

#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/mdt.h"
#include "msg/msg.h"

#define MDT_WEB_PAGE_MAX ((size_t)256 << 10) /* bytes of one rendered page */
#define MDT_WEB_VAR_NAME_MAX 32              /* bytes of a placeholder's name */
#define MDT_WEB_CSS_PATH "/static/mandate.css"

/* The Content-Security-Policy of every page. */
#define MDT_WEB_CSP                                                                    \
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "       \
    "frame-ancestors 'none'; base-uri 'none'"

/* Appends s HTML-escaped (safe in text and in quoted attribute values).
 * NULL appends nothing. */
mdt_rc mdt_html_escape(mdt_buf *b, const char *s) MDT_WARN_UNUSED;

/* Appends tpl with its placeholders replaced by vars (n of them). A
 * placeholder naming no var, or left unclosed, is MDT_ERR_INTERNAL (a
 * programming error); a NULL value renders as "". */
mdt_rc mdt_web_render(mdt_buf *out, const char *tpl, const mdt_kv *vars, size_t n,
                      mdt_err *err) MDT_WARN_UNUSED;

/* Same, into a string of arena a. */
mdt_rc mdt_web_render_str(mdt_arena *a, const char *tpl, const mdt_kv *vars, size_t n,
                          const char **out, mdt_err *err) MDT_WARN_UNUSED;

/* Adds the security headers of every page (CSP, X-Frame-Options: DENY,
 * Referrer-Policy: no-referrer) and sets no_store (Cache-Control: no-store). */
void mdt_web_security_headers(mdt_resp *resp);

/* The whole page: the layout around body_html (already rendered HTML),
 * title escaped, text/html, the security headers. On failure the response
 * becomes a plain 500. */
void mdt_web_page(mdt_resp *resp, int status, const char *title, const char *body_html);

/* The same layout for pages of tables (the console): the full width of
 * the window. */
void mdt_web_wide_page(mdt_resp *resp, int status, const char *title, const char *body_html);

/* A page that moves the browser on to url (a path on this server) by itself
 * (meta refresh) and by a link. After a form submission this is how to reach
 * a place that may redirect to another origin: a 303 would keep the
 * navigation a form submission, which CSP form-action 'self' stops at the
 * first cross-origin redirect; a refresh starts a new navigation. */
void mdt_web_continue_page(mdt_resp *resp, const char *title, const char *url, const char *text);

/* A page with one escaped paragraph of text. */
void mdt_web_message_page(mdt_resp *resp, int status, const char *title, const char *message);
/* A refused decision of a signed-in person (username): the "Cannot decide"
 * page with text, and `event` (e.g. "approval.refused") in the audit log,
 * its reason the id decided on (NULL: none) and err's text. */
void mdt_web_decision_refused(mdt_req *req, mdt_resp *resp, const char *event,
                              const char *username, int status, const char *text, const char *id,
                              const mdt_err *err);
/* The page of a fault: err reported once (mdt_resp_fault: logged with the
 * request id, the access log's fault field) and a page with what, the
 * public text; the status is err's (500 for a server fault). */
void mdt_web_fault_page(mdt_resp *resp, const mdt_err *err, const char *what);

#endif
