/* The authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 9207, RFC 8707):
 * a validated authorization request, kept server-side while the person
 * signs in and consents (referenced by request_uri
 * "urn:ietf:params:oauth:request_uri:<id>"), and the responses: a code or
 * an error redirected to the client, or an error page when the client or
 * the redirect URI cannot be trusted. The protocol decides and returns an
 * outcome (mdt_authz_outcome); the pages (web/authorize.c) render it.
 *
 * Memory: everything returned lives in the request's arena. */
#ifndef MDT_OAUTH_AUTHORIZE_H
#define MDT_OAUTH_AUTHORIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/audit.h"
#include "iga/client.h"
#include "msg/msg.h"

#define MDT_AUTHZ_REQUEST_URI_PREFIX "urn:ietf:params:oauth:request_uri:"
#define MDT_AUTHZ_REQUEST_TTL 600 /* seconds a stored authorization request lives */
#define MDT_AUTHZ_PAR_TTL 60      /* seconds a pushed request (RFC 9126) lives: expires_in */
#define MDT_AUTHZ_CODE_TTL 60     /* seconds an authorization code lives */
#define MDT_AUTHZ_PARAM_MAX 1024  /* bytes of state, nonce, scope or resource */

typedef struct {
    const char *client_id;
    const char *redirect_uri;   /* the selected one */
    bool redirect_given;        /* redirect_uri was in the request (then required at /token) */
    const char *scope;          /* granted: narrowed to the client's entitlements */
    const char *resource;       /* RFC 8707; NULL */
    const char *state, *nonce;  /* NULL when absent */
    const char *code_challenge; /* S256 */
    const char *prompt;         /* NULL, or space-separated none|login|consent */
    int64_t max_age;            /* -1: none */
    int64_t login_after;        /* the session must be from this time or later; 0 */
    bool pushed;                /* stored by /par: single use, only through /authorize */
    bool form_post;             /* response_mode=form_post (OAuth 2.0 Form Post Response Mode) */
    const char *dpop_jkt;       /* RFC 9449 §10: the DPoP key the code is bound to; NULL */
} mdt_authz_params;

/* The stored request id (the part after the prefix) in a request_uri; NULL. */
const char *mdt_authz_request_id(const char *request_uri);

/* Whether client c may use /authorize at all: active, unexpired and
 * registered for the authorization_code grant. Any other client is answered
 * on an error page, never redirected to. */
bool mdt_authz_client_allowed(const mdt_client *c, int64_t now);

/* Reads and validates an authorization request (query or form; `get`
 * reads one parameter by name) for client c: the one rule set of /authorize
 * and /par. The redirect URI is checked first: when it is wrong,
 * p->redirect_uri stays NULL and the error must never be redirected. On
 * failure *error is the RFC 6749 error code and err the description. */
typedef const char *(*mdt_authz_get_fn)(mdt_req *req, const char *name);
mdt_rc mdt_authz_read(mdt_env *env, mdt_req *req, mdt_authz_get_fn get, const mdt_client *c,
                      mdt_authz_params *p, const char **error, mdt_err *err) MDT_WARN_UNUSED;
/* Stores p (RFC 9126 when p->pushed, living MDT_AUTHZ_PAR_TTL; or a
 * request waiting for login or consent); *id. */
mdt_rc mdt_authz_request_save(mdt_env *env, mdt_req *req, const mdt_authz_params *p,
                              const char **id, mdt_err *err) MDT_WARN_UNUSED;
/* Loads the stored request id. MDT_ERR_NOT_FOUND when unknown, expired or
 * pushed (a pushed request is used once, through /authorize only). */
mdt_rc mdt_authz_request_load(mdt_env *env, mdt_req *req, const char *id, mdt_authz_params *p,
                              mdt_err *err) MDT_WARN_UNUSED;

/* Removes the stored request id (one statement: of two callers, one
 * wins). MDT_ERR_NOT_FOUND when unknown, expired or already removed. */
mdt_rc mdt_authz_request_consume(mdt_env *env, mdt_req *req, const char *id,
                                 mdt_err *err) MDT_WARN_UNUSED;

/* ------------------------------------------------------------ outcomes
 * The protocol decides; the pages (web/) render. */

/* Who signed in, as the protocol needs it (never a web session). */
typedef struct {
    const char *username;
    int64_t auth_time;    /* when the person authenticated */
    const char *amr;      /* how ("pwd") */
    const char *sid;      /* the ID token's sid: derived from the session, never its id */
} mdt_authz_user;

/* Whether u is too old for p (prompt=login, max_age): the person must sign
 * in again before any code is issued for p. */
bool mdt_authz_needs_login(int64_t now, const mdt_authz_params *p, const mdt_authz_user *u);

/* The next step of a valid request p: a pure function of the request, who
 * signed in (u: NULL when nobody), whether u's consent covers p's scope
 * (ignored without u) and now. */
typedef enum {
    MDT_AUTHZ_STEP_LOGIN,            /* sign in first */
    MDT_AUTHZ_STEP_LOGIN_REQUIRED,   /* sign-in needed but prompt=none: login_required */
    MDT_AUTHZ_STEP_CONSENT,          /* ask for consent */
    MDT_AUTHZ_STEP_CONSENT_REQUIRED, /* consent needed but prompt=none: consent_required */
    MDT_AUTHZ_STEP_CODE,             /* issue the code */
} mdt_authz_step;
mdt_authz_step mdt_authz_next_step(const mdt_authz_params *p, const mdt_authz_user *u,
                                   bool consented, int64_t now);

typedef enum {
    MDT_AUTHZ_SHOW_ERROR,     /* an error page, never a redirect: status, title, message */
    MDT_AUTHZ_REDIRECT_ERROR, /* an error response to the client: redirect_uri, params */
    MDT_AUTHZ_NEEDS_LOGIN,    /* sign in, then back to resume */
    MDT_AUTHZ_NEEDS_CONSENT,  /* the consent page of the stored request request_id */
    MDT_AUTHZ_CODE,           /* the code response to the client: redirect_uri, params */
} mdt_authz_kind;

#define MDT_AUTHZ_RESPONSE_PARAMS 4

typedef struct {
    mdt_authz_kind kind;
    int status;               /* SHOW_ERROR: 400, or 500/503 for a server fault */
    const char *title;        /* SHOW_ERROR: the page's title */
    const char *message;      /* SHOW_ERROR: the page's text (public) */
    const char *request_id;   /* NEEDS_LOGIN, NEEDS_CONSENT: the stored request */
    const char *resume;       /* NEEDS_LOGIN: the path on this server to come back to */
    const char *redirect_uri; /* CODE, REDIRECT_ERROR: where the response goes */
    bool form_post;           /* ... as an auto-submitted form (response_mode=form_post),
                                 else in the redirect's query */
    mdt_kv params[MDT_AUTHZ_RESPONSE_PARAMS]; /* the response's parameters; a NULL value
                                                 is left out */
    size_t nparams;
    char code[64];            /* CODE: the code itself (a secret: mdt_authz_outcome_wipe) */
    bool has_audit;           /* audit: the outcome's event, returned with the decision
                                 (a pure value); the page that renders the outcome records
                                 it in the request's context (mdt_resp_audit) */
    mdt_audit_event audit;
    bool has_fault;           /* SHOW_ERROR of a server fault: fault, for the page to report
                                 (mdt_resp_fault: logged once with the request id) */
    mdt_err fault;
} mdt_authz_outcome;

/* Wipes the code an outcome carries, once it has been rendered. */
void mdt_authz_outcome_wipe(mdt_authz_outcome *o);

/* GET and POST /authorize: reads the request (query or form), its client,
 * a pushed or stored request (request_uri), and decides for u (NULL: nobody
 * signed in; the caller reads who did). Stores the request when sign-in or
 * consent must come first, issues the code when nothing must. */
void mdt_authorize(mdt_env *env, mdt_req *req, const mdt_authz_user *u,
                   mdt_authz_outcome *out);

/* The consent page of stored request id for u: true with the request and
 * its client when consent can be asked; false with the outcome (an error
 * page when the request is unknown, expired, answered or its client cannot
 * use /authorize any more; NEEDS_LOGIN with resume when u's sign-in is too
 * old for the request). */
bool mdt_authz_consent_pending(mdt_env *env, mdt_req *req, const char *id,
                               const mdt_authz_user *u, const char *resume,
                               mdt_authz_params *p, mdt_client *c, mdt_authz_outcome *out);

/* The person's answer to the consent page of stored request id (already
 * checked by mdt_authz_consent_pending): allow remembers the consent
 * (audited as consent.granted) and issues the code; deny answers
 * access_denied (audited as consent.denied). The stored request is consumed
 * first: of two answers, one wins, the other gets an error page. */
void mdt_authz_consent_answer(mdt_env *env, mdt_req *req, const mdt_authz_user *u,
                              const mdt_client *c, const mdt_authz_params *p, const char *id,
                              bool allow, mdt_authz_outcome *out);

/* An error page outcome, audited as authz.refused (never a redirect). */
void mdt_authz_error_page(mdt_req *req, mdt_authz_outcome *out, int status,
                          const char *client_id, const char *message);
/* The error page of a server fault (err's status: 503 when the store is
 * unavailable, else 500; audited as authz.refused with the public message),
 * carrying err for the page to report. */
void mdt_authz_fault_page(mdt_req *req, mdt_authz_outcome *out, const mdt_err *err,
                          const char *client_id, const char *message);

/* POST /par (RFC 9126, par.c): client authentication as at /token, the
 * checks of /authorize, 201 {"request_uri", "expires_in"}. */
void mdt_handle_par(mdt_env *env, mdt_req *req, mdt_resp *resp);

#endif
