/* HTTP handlers of the web pages for people (SPEC §2.3, §2.6): /authorize,
 * /consent, /consents, /login, /logout and the stylesheet. */
#ifndef MDT_WEB_WEB_H
#define MDT_WEB_WEB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "msg/msg.h"

#define MDT_WEB_RETURN_TO_MAX 2048    /* bytes of a return_to path */
#define MDT_WEB_LOGIN_WINDOW 900      /* seconds: failed logins are counted per 15 minutes */
#define MDT_WEB_PASSWORD_FIELD_MAX 1024 /* bytes of a submitted password */

/* Whether s may be a redirect target after login: a path on this server
 * ("/" then not "/" nor "\"), printable ASCII without a backslash, and its
 * percent-decoding neither starts with "//" or "/\" nor holds a backslash
 * or a control character. Absolute and protocol-relative URLs are refused. */
bool mdt_web_return_to_valid(const char *s);

/* Failed-login throttling: the fixed window holding now, and the whole
 * minutes (at least 1) until it ends. */
int64_t mdt_web_login_window(int64_t now);
int64_t mdt_web_login_retry_minutes(int64_t now);
/* Whether another attempt is refused: failures already counted in the
 * window for the user and for the source against their limits. */
bool mdt_web_login_throttled(int64_t user_failures, int64_t source_failures,
                             int64_t max_user, int64_t max_source);

/* GET /login: the form, or "signed in as X" with a live session and no return_to. */
void mdt_handle_login_page(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /login: CSRF, throttling, password check, session, 303. */
void mdt_handle_login(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* GET /logout: a confirmation form. */
void mdt_handle_logout_page(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /logout: CSRF, then the session is revoked and its cookie cleared. */
void mdt_handle_logout(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* GET and POST /authorize (authorize.c): who signed in, the protocol's
 * decision (oauth/authorize.h), its page or redirect. */
void mdt_handle_authorize(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* GET /consent?request=<id>: who asks for what, with Allow and Deny (consent.c). */
void mdt_handle_consent_page(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /consent: CSRF, then the decision: the code, or access_denied. */
void mdt_handle_consent(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* The <li> items of the scopes of scope (space-separated), each with its
 * description and sensitivity, into *html (consent.c); shown by every page
 * where a person decides. */
mdt_rc mdt_web_scope_list(mdt_env *env, mdt_req *req, const char *scope, const char **html,
                          mdt_err *err) MDT_WARN_UNUSED;
/* GET /approvals: what waits for the signed-in person's decision, each
 * with who asks, what for and until when, and Allow / Deny (approvals.c). */
void mdt_handle_approvals_page(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /approvals: CSRF, then request=<id>, decision=allow|deny and an
 * optional note, decided as the signed-in person; the outcome. */
void mdt_handle_approvals(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* RFC 9396 authorization_details (JSON array text; NULL or not an array:
 * nothing) as HTML appended to b: a heading, then one block per object
 * headed by its type, members as nested lists, every value escaped and
 * numbers as sent (approvals.c; also the console's requests page). */
mdt_rc mdt_web_details_html(mdt_buf *b, const char *text) MDT_WARN_UNUSED;
/* GET /reviews: the access review findings the signed-in person may decide
 * (an admin: all; anyone else: those about the clients they own), each with
 * Certify and Revoke (reviews.c). */
void mdt_handle_reviews_page(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /reviews: CSRF, then finding=<id>, decision=certify|revoke, note and
 * (certify) until, decided as the signed-in person. */
void mdt_handle_reviews(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* GET /consents: the signed-in person's consents, each with a revoke
 * button (consents.c). */
void mdt_handle_consents_page(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /consents: CSRF, then revoke=<client_id>: the consent is forgotten,
 * audited as consent.revoked. */
void mdt_handle_consents(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* The list items (<li>) of a decision page for each scope of scope
 * (space-separated): the name, its description and sensitivity, or a line
 * saying there is none (consent.c). *html in req's arena. */
mdt_rc mdt_web_scope_list(mdt_env *env, mdt_req *req, const char *scope, const char **html,
                          mdt_err *err) MDT_WARN_UNUSED;
/* GET /device[?user_code=]: sign-in first, then the form to enter the code
 * a device shows (device.c). */
void mdt_handle_device_page(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /device: CSRF, then a user code entered (throttled per person and
 * per source) and the page of who asks for what, or the decision. */
void mdt_handle_device(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* Widens the CSP form-action of a rendered page to the origin of
 * redirect_uri (a form whose answer redirects to the client). */
void mdt_web_allow_form_target(mdt_req *req, mdt_resp *resp, const char *redirect_uri);
/* The console for admins and auditors (SPEC §3.6; console*.c): GET
 * /console leads to the applications; GET /console/clients lists them
 * (filters, sort, pages); GET /console/clients/{id} shows one (and, with
 * ?confirm=suspend|resume, the confirmation of that action); POST
 * /console/clients/{id} suspends or resumes it; GET /console/requests
 * lists pending approval requests, POST decides one. */
void mdt_handle_console(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_console_clients(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_console_client(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_console_client_action(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_console_requests(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* GET /console/reviews lists the review findings (filter by kind); POST
 * certifies or revokes one (admins). GET /console/audit reads the audit
 * log, newest first, with filters and pages. */
void mdt_handle_console_reviews(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_console_reviews_decide(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_console_audit(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_console_requests_decide(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* GET /static/mandate.css */
void mdt_handle_stylesheet(mdt_env *env, mdt_req *req, mdt_resp *resp);

#endif
