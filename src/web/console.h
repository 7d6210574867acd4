/* What the pages of the console (/console, SPEC §3.6) share: who may enter
 * (a signed-in, active user with role admin, who reads and acts, or
 * auditor, who only reads; anyone else signed in gets 403, and nobody
 * signed in goes through /login and back), the navigation bar with the
 * signed-in user and their role, the page layout, and small text helpers.
 * Pages are split by file: console_clients.c (the applications),
 * console_client.c (one application, suspend and resume),
 * console_requests.c (pending approval requests), console_reviews.c (review
 * findings, certify and revoke), console_audit.c (the audit log).
 *
 * Every console form carries the CSRF token of purpose MDT_CONSOLE_CSRF,
 * and every POST checks, in this order: a live session (else the login
 * page), the role admin (else 403, audited console.refused), the CSRF
 * token (else 403, audited). Only then does it call a service, with the
 * admin as the actor.
 *
 * Memory: everything returned lives in the request's arena. */
#ifndef MDT_WEB_CONSOLE_H
#define MDT_WEB_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "app/env.h"
#include "core/mdt.h"
#include "msg/msg.h"
#include "store/store.h"
#include "web/session.h"

#define MDT_CONSOLE_PATH "/console"
#define MDT_CONSOLE_CLIENTS "/console/clients"
#define MDT_CONSOLE_REQUESTS "/console/requests"
#define MDT_CONSOLE_REVIEWS "/console/reviews"
#define MDT_CONSOLE_AUDIT "/console/audit"
#define MDT_CONSOLE_CSRF "console" /* the purpose of every console form's CSRF token */
#define MDT_CONSOLE_ID_MAX 512     /* bytes of an id taken from a path or a form */

typedef enum {
    MDT_CONSOLE_NAV_CLIENTS,
    MDT_CONSOLE_NAV_REQUESTS,
    MDT_CONSOLE_NAV_REVIEWS,
    MDT_CONSOLE_NAV_AUDIT
} mdt_console_nav;

typedef struct {
    mdt_web_session s;
    const char *username;
    bool admin;       /* may act; false: an auditor, who reads only */
    const char *role; /* "admin" or "auditor", as the page shows it */
    const char *csrf; /* the token of console forms; NULL for an auditor */
} mdt_console_user;

/* Lets the request in: true with *u filled, or false with resp the answer
 * (a redirect through /login coming back to back_to, 403 for a user who is
 * neither admin nor auditor, or a fault page). An admin's u->csrf is
 * issued here. */
bool mdt_console_enter(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *back_to,
                       mdt_console_user *u);
/* For a POST, after mdt_console_enter: true when u is an admin and the
 * form (parsed) carries a valid CSRF token; otherwise resp is a 403 page
 * saying why, and console.refused is audited with what. */
bool mdt_console_may_act(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_console_user *u,
                         const char *what);

/* The page: the navigation bar (nav current), the signed-in user and role,
 * then body_html (rendered), in the wide layout. */
void mdt_console_page(mdt_req *req, mdt_resp *resp, int status, const char *title,
                      const mdt_console_user *u, mdt_console_nav nav, const char *body_html);
/* A console page of one escaped paragraph (an error, an outcome), with a
 * link back to back (a console path). */
void mdt_console_message(mdt_req *req, mdt_resp *resp, int status, const char *title,
                         const mdt_console_user *u, mdt_console_nav nav, const char *text,
                         const char *back);
/* A refused action: the message page (back to the page of the path's
 * section) and console.refused in the audit log (actor the user, reason
 * "what: why"). */
void mdt_console_refused(mdt_req *req, mdt_resp *resp, const mdt_console_user *u, int status,
                         const char *text, const char *what, const char *why);

/* t as RFC 3339 ("-" for 0). */
const char *mdt_console_time(mdt_req *req, int64_t t);
/* How long ago t was at now, in the largest whole unit ("3 days ago",
 * "just now"); "never" for 0. */
const char *mdt_console_ago(mdt_req *req, int64_t t);
/* The path of an application's page: /console/clients/ + client_id
 * percent-encoded. */
const char *mdt_console_client_path(mdt_req *req, const char *client_id);
/* A table of audit events (newest first as given): seq, time, type, actor,
 * client, decision, reason, and the rest of each body as escaped JSON
 * text; empty (HTML) when n is 0. */
mdt_rc mdt_console_events_html(mdt_req *req, const mdt_audit_rec *evs, size_t n,
                               const char *caption, const char *empty, const char **html,
                               mdt_err *err) MDT_WARN_UNUSED;

/* The review findings (at most a few hundred) about client_id (NULL: every
 * client) of kind (NULL or "": every kind), as sections; for an admin each
 * with the certify / revoke form posting to /console/reviews. */
mdt_rc mdt_console_findings_html(mdt_env *env, mdt_req *req, const mdt_console_user *u,
                                 const char *client_id, const char *kind, const char **html,
                                 mdt_err *err) MDT_WARN_UNUSED;

#endif
