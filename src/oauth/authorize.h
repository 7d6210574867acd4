/* The authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 9207, RFC 8707):
 * a validated authorization request, kept server-side while the person
 * signs in and consents (referenced by request_uri
 * "urn:ietf:params:oauth:request_uri:<id>"), and the responses: a code or
 * an error redirected to the client, or an error page when the client or
 * the redirect URI cannot be trusted.
 *
 * Memory: everything returned lives in the request's arena. */
#ifndef MDT_OAUTH_AUTHORIZE_H
#define MDT_OAUTH_AUTHORIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "iga/client.h"
#include "msg/msg.h"
#include "web/session.h"

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
} mdt_authz_params;

/* The stored request id (the part after the prefix) in a request_uri; NULL. */
const char *mdt_authz_request_id(const char *request_uri);

/* Whether client c may use /authorize at all: active, unexpired and
 * registered for the authorization_code grant. Any other client is answered
 * on an error page, never redirected to. */
bool mdt_authz_client_allowed(const mdt_client *c, int64_t now);

/* Whether session s is too old for p (prompt=login, max_age): the person
 * must sign in again before any code is issued for p. */
bool mdt_authz_needs_login(const mdt_req *req, const mdt_authz_params *p,
                           const mdt_web_session *s);

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

/* Consumes the stored request id (NULL: nothing to do) before it is
 * answered, so that one request is answered once however often its form is
 * sent; false with an error page when it was answered already (or a fault). */
bool mdt_authz_request_use(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *c,
                           const char *id);

/* Issues a code for session s and answers 303 to the client (code, state,
 * iss), audited as authz.code_issued. id: the stored request p was read
 * from (NULL: none), consumed first, so that it yields one code only; an
 * error page when it was consumed already. */
void mdt_authz_respond_code(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *c,
                            const mdt_authz_params *p, const mdt_web_session *s, const char *id);
/* Answers 303 to the client with error, error_description, state and iss;
 * audited as audit_type (authz.refused, consent.denied). */
void mdt_authz_respond_error(mdt_env *env, mdt_req *req, mdt_resp *resp,
                             const mdt_authz_params *p, const char *error, const char *desc,
                             const char *audit_type, const char *username);
/* An error page (never a redirect), audited as authz.refused. */
void mdt_authz_error_page(mdt_req *req, mdt_resp *resp, int status, const char *client_id,
                          const char *message);

/* GET and POST /authorize. */
void mdt_handle_authorize(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /par (RFC 9126, par.c): client authentication as at /token, the
 * checks of /authorize, 201 {"request_uri", "expires_in"}. */
void mdt_handle_par(mdt_env *env, mdt_req *req, mdt_resp *resp);

#endif
