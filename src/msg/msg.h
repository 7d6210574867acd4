/* Requests and responses as values: what handlers and protocol code see of
 * an HTTP exchange, their parsers (form, JSON body) and the response
 * builders. Nothing here knows the server: what only the server can answer
 * (header and query lookup, the TLS peer's certificates) goes through the
 * request's transport (msg/transport.h), set by src/http/server.c, where
 * libmicrohttpd stays. */
#ifndef MDT_MSG_MSG_H
#define MDT_MSG_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app/ctx.h"
#include "app/env.h"
#include "audit/audit.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/mdt.h"

#define MDT_HTTP_MAX_FORM_FIELDS 64
#define MDT_HTTP_MAX_JSON_DEPTH 16   /* nesting of arrays and objects in a JSON body */
#define MDT_HTTP_MAX_HEADERS 8

typedef struct {
    const char *name;
    const char *value;
} mdt_kv;

typedef struct mdt_req {
    mdt_arena *arena;          /* dies with the request */
    mdt_ctx ctx;               /* who acts, now, the request id and the client address,
                                * passed to services; the audit events the request caused
                                * (app/ctx.h), appended by the server before it answers */
    int64_t now;               /* read once from the injected clock (= ctx.now) */
    const char *method;
    const char *path;
    const char *request_id;
    const char *peer_ip;       /* the client's address: what rate limits, throttling and audit
                                * records use (the TCP peer, or, from a trusted proxy, the
                                * address it forwarded: http/client_addr.h) */
    const char *socket_ip;     /* the TCP peer itself: only for trusting forwarded headers */
    const char *content_type;  /* media type only, lower case, without parameters; NULL when absent */
    const char *body;          /* NUL-terminated; "" when none */
    size_t body_len;
    void *conn;                /* the server's connection: only src/http uses it */
    const struct mdt_req_transport *transport; /* lookups only the server can answer
                                                  (msg/transport.h); NULL: none */
    mdt_kv *form;              /* after mdt_req_parse_form */
    size_t nform;
    struct mdt_fetch_waiter *waiter; /* set by the server: a cache that must fetch registers it
                                        and the request is run again once the fetch ended
                                        (net/fetch.h); NULL: fetches block */
    struct mdt_pdp_call *pdp_call; /* a call to an external PDP this request waits for, and
                                      then its answer (policy/pdp.h); NULL: none */
    const char *dpop_jkt_used;     /* the key thumbprint of the DPoP proof an earlier run of
                                      this request accepted (and whose jti it recorded): a run
                                      again after a PDP's answer must not see it as replayed */
    mdt_jti_use_rec dpop_jti;      /* that proof's jti when its recording was left to the
                                      decision's commit (mdt_dpop_expect.defer_jti); jti NULL
                                      when none is pending */
} mdt_req;

typedef struct mdt_resp {
    int status;
    const char *content_type;
    mdt_buf body;
    mdt_kv headers[MDT_HTTP_MAX_HEADERS];
    size_t nheaders;
    bool no_store;             /* Cache-Control: no-store, Pragma: no-cache */
    const char *client_id;     /* for the access log */
    char fault[256];           /* a server fault's "kind: detail", for the access log
                                  (set by mdt_resp_error; "" when none) */
} mdt_resp;

typedef void (*mdt_handler_fn)(mdt_env *env, mdt_req *req, mdt_resp *resp);

/* Case-insensitive header lookup; NULL when absent (or without transport). */
const char *mdt_req_header(mdt_req *req, const char *name);
/* The token of an `Authorization: Bearer` header (RFC 6750 §2.1; the scheme
 * in any case, spaces after it skipped); NULL when there is none. */
const char *mdt_req_bearer(mdt_req *req);
/* A query parameter, decoded; NULL when absent (or without transport). */
const char *mdt_req_query(mdt_req *req, const char *name);
/* Parses an application/x-www-form-urlencoded body. A parameter given twice,
 * a bad percent-escape or more than MDT_HTTP_MAX_FORM_FIELDS fields ->
 * MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_req_parse_form(mdt_req *req, mdt_err *err) MDT_WARN_UNUSED;
/* Same parser, usable on any string (unit tests, fuzzing). */
mdt_rc mdt_form_parse(const char *s, size_t len, mdt_arena *a, mdt_kv **out, size_t *n,
                      mdt_err *err) MDT_WARN_UNUSED;
const char *mdt_req_form(const mdt_req *req, const char *name);
/* Parses an application/json body into a JSON object (*out: the caller
 * json_decref()s it). Another media type -> MDT_ERR_UNSUPPORTED_MEDIA; not
 * JSON, not an object, nesting deeper than MDT_HTTP_MAX_JSON_DEPTH, a NUL
 * byte or a duplicated member -> MDT_ERR_INVALID_REQUEST. (The body size is
 * already bounded by max_body_bytes.) */
mdt_rc mdt_req_parse_json(mdt_req *req, json_t **out, mdt_err *err) MDT_WARN_UNUSED;
/* Same parser, usable on any string (unit tests, fuzzing). */
mdt_rc mdt_json_parse_object(const char *s, size_t len, json_t **out, mdt_err *err) MDT_WARN_UNUSED;
/* Decodes %XX and '+' in place-free fashion into the arena; NULL on a bad escape. */
char *mdt_url_decode(mdt_arena *a, const char *s, size_t len);

#define MDT_BASIC_MAX 1024           /* bytes of the base64 of Basic credentials */
#define MDT_COOKIE_HEADER_MAX 4096   /* bytes of a Cookie header we look into */

/* RFC 6749 §2.3.1 client credentials in an Authorization header of the
 * Basic scheme: base64(urlencode(id) ":" urlencode(secret)), decoded into a.
 * Anything else (no header, another scheme, bad base64, no ':', an empty
 * id, more than MDT_BASIC_MAX bytes) -> MDT_ERR_INVALID_CLIENT. */
mdt_rc mdt_basic_parse(mdt_arena *a, const char *hdr, const char **id, const char **secret,
                       mdt_err *err) MDT_WARN_UNUSED;
/* The value of cookie name in a Cookie header (copied into a), or NULL when
 * absent or when the header is larger than MDT_COOKIE_HEADER_MAX. */
const char *mdt_cookie_find(const char *header, const char *name, mdt_arena *a);
/* Same, from the request's Cookie header. */
const char *mdt_req_cookie(mdt_req *req, const char *name);

void mdt_resp_header(mdt_resp *resp, const char *name, const char *value);
/* Takes a JSON text (copied). */
void mdt_resp_json(mdt_resp *resp, int status, const char *json, size_t len);
/* RFC 6749 §5.2 error body from err, with its status; invalid_client adds
 * WWW-Authenticate. Server faults never leak their detail: the body has the
 * public text, and the fault is reported by mdt_resp_fault. */
void mdt_resp_error(mdt_resp *resp, const mdt_err *err);
/* The one place a server fault is reported: logged once at level error with
 * its private detail (the line carries the request id), and kept in
 * resp->fault for the access log line. Nothing for a client fault. A handler
 * that renders its own answer for a fault (a page) calls this. */
void mdt_resp_fault(mdt_resp *resp, const mdt_err *err);
void mdt_resp_text(mdt_resp *resp, int status, const char *text);
/* Records ev, the event of the request's outcome, in the request's context
 * (mdt_ctx_audit_outcome: the request id and client address by default);
 * the server appends it, and waits until it is durable, before the answer
 * leaves. When it cannot be recorded, resp becomes that server fault's
 * answer, so that nothing leaves unaudited. */
void mdt_resp_audit(mdt_req *req, mdt_resp *resp, const mdt_audit_event *ev);

#endif
