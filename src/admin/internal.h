/* What the files of the admin API share: the caller, the parsing of
 * requests and the rendering of answers. Handlers are thin: parse, call
 * the service the command line calls, render. */
#ifndef MDT_ADMIN_INTERNAL_H
#define MDT_ADMIN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app/env.h"
#include "core/mdt.h"
#include "msg/msg.h"

#define MDT_ADMIN_SCOPE "mandate:admin"
#define MDT_ADMIN_LIMIT_DEFAULT 50
#define MDT_ADMIN_LIMIT_MAX 200
#define MDT_ADMIN_CURSOR_MAX 512        /* characters of a cursor */
#define MDT_ADMIN_AUDIT_EVENTS_MAX 1000 /* events of one page of /admin/v1/audit */
#define MDT_ADMIN_AUDIT_BYTES_MAX (768 * 1024)

/* Who calls: the token's client, and the person it acts for. */
typedef struct {
    const char *client_id;
    const char *username; /* NULL: a service client acting for itself */
    const char *actor;    /* in audit events: the username, else "client:<client_id>" */
} mdt_admin_caller;

/* The request being served: the path's parameters (percent-decoded by
 * the server), the caller. */
typedef struct {
    mdt_env *env;
    mdt_req *req;
    mdt_resp *resp;
    const mdt_admin_caller *caller;
    const char *p1, *p2; /* {id}, {key_id} */
} mdt_admin_call;

typedef void (*mdt_admin_fn)(mdt_admin_call *c);

/* auth.c: checks the Bearer token (mdt_token_inspect, as introspection:
 * signature, expiry, revocation, the kill switch, the client still
 * usable; a certificate-bound token only with its certificate), its scope
 * and, for a person's token, that the person is an active admin now. On
 * failure resp is the 401 or 403 answer and false is returned. */
bool mdt_admin__authorize(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_admin_caller *out);

/* api.c: whether path (after /admin/v1/) matches pattern: literal segments,
 * "*" for {id} (which may hold '/': it takes what the literals around it
 * leave) and a final "*" for a {key_id} segment. *p1, *p2: the parameters
 * (in a; NULL when the pattern has none). */
bool mdt_admin__match(const char *pattern, const char *path, mdt_arena *a, const char **p1,
                      const char **p2);

/* api.c: answers. */
void mdt_admin__error(mdt_admin_call *c, const mdt_err *err);
void mdt_admin__fail(mdt_admin_call *c, mdt_rc rc, const char *msg);
/* status with a JSON text (copied); secret: Cache-Control no-store and the
 * text is wiped by the caller. */
void mdt_admin__json(mdt_admin_call *c, int status, const char *json);
/* A page of a service's JSON array (text) of objects: the items keep
 * accepts (NULL: all), ordered by their string member key, after the
 * request's ?cursor, at most ?limit of them, as {"items", "next"}. */
typedef bool (*mdt_admin_keep_fn)(mdt_admin_call *c, json_t *item);
void mdt_admin__page(mdt_admin_call *c, const char *array_json, const char *key,
                     mdt_admin_keep_fn keep);
/* The request's body as a JSON object (*out, caller decrefs): it must be
 * application/json and an object; when optional, an empty body is {}. */
bool mdt_admin__body(mdt_admin_call *c, bool optional, json_t **out);
/* A member that must be a string (or absent: *out NULL). */
bool mdt_admin__str(mdt_admin_call *c, json_t *body, const char *key, const char **out);
/* A duration member: a string such as "1h" or a number of seconds (absent: 0). */
bool mdt_admin__duration(mdt_admin_call *c, json_t *body, const char *key, int64_t *out);
/* Only these members (NULL-terminated) may be in body. */
bool mdt_admin__only(mdt_admin_call *c, json_t *body, const char *const *keys);

/* clients.c */
void mdt_admin__clients_list(mdt_admin_call *c);
void mdt_admin__clients_create(mdt_admin_call *c);
void mdt_admin__client_get(mdt_admin_call *c);
void mdt_admin__client_patch(mdt_admin_call *c);
void mdt_admin__client_delete(mdt_admin_call *c);
void mdt_admin__client_suspend(mdt_admin_call *c);
void mdt_admin__client_resume(mdt_admin_call *c);
void mdt_admin__client_secret(mdt_admin_call *c);
void mdt_admin__apikey_create(mdt_admin_call *c);
void mdt_admin__apikey_revoke(mdt_admin_call *c);

/* directory.c: scopes and users */
void mdt_admin__scopes_list(mdt_admin_call *c);
void mdt_admin__scopes_create(mdt_admin_call *c);
void mdt_admin__users_list(mdt_admin_call *c);
void mdt_admin__users_create(mdt_admin_call *c);
void mdt_admin__user_get(mdt_admin_call *c);
void mdt_admin__user_patch(mdt_admin_call *c);

/* governance.c: access reviews, a client's entitlements and usage */
void mdt_admin__reviews_list(mdt_admin_call *c);
void mdt_admin__review_certify(mdt_admin_call *c);
void mdt_admin__review_revoke(mdt_admin_call *c);
void mdt_admin__entitlements_list(mdt_admin_call *c);
void mdt_admin__entitlement_revoke(mdt_admin_call *c);
void mdt_admin__usage(mdt_admin_call *c);

/* policies.c: the policies of the embedded PDP */
void mdt_admin__policies_list(mdt_admin_call *c);
void mdt_admin__policies_create(mdt_admin_call *c);
void mdt_admin__policies_validate(mdt_admin_call *c);
void mdt_admin__policies_evaluate(mdt_admin_call *c);
void mdt_admin__policy_get(mdt_admin_call *c);
void mdt_admin__policy_put(mdt_admin_call *c);
void mdt_admin__policy_delete(mdt_admin_call *c);

/* operations.c: approval requests, signing keys, the audit log, the document */
void mdt_admin__requests_list(mdt_admin_call *c);
void mdt_admin__request_approve(mdt_admin_call *c);
void mdt_admin__request_deny(mdt_admin_call *c);
void mdt_admin__keys_list(mdt_admin_call *c);
void mdt_admin__keys_rotate(mdt_admin_call *c);
void mdt_admin__audit(mdt_admin_call *c);
void mdt_admin__openapi(mdt_admin_call *c);

/* The OpenAPI document (docs/openapi.json), embedded at build time. */
extern const char mdt_admin_openapi_json[];
extern const unsigned long mdt_admin_openapi_json_len;

#endif
