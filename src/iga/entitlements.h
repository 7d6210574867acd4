/* Entitlements and access requests (SPEC §1 "Entitlement", §3.6).
 *
 * A client's entitlements are static — the scopes of its `scope` metadata
 * and the URIs of its `resources`, set by an admin (a scope of sensitivity
 * `approval` an admin put there counts as approved by that admin) — and
 * dynamic: rows of the store (mdt_entitlement_rec), each created by an
 * approved access request and live until its expires_at or until it is
 * revoked. The token path sees the union of the static ones and the
 * dynamic ones live at the request's time (mdt_client_load); a dynamic
 * entitlement with a resource widens both the client's scopes and its
 * resources.
 *
 * An access request is an approval request of type "access_request"
 * (iga/requests.h): a client asks for one or more scopes (optionally for a
 * resource) with a justification and a duration; the client's owner, an
 * approver or an admin decides it (or whom [approvals] routing names); its
 * approval creates one entitlement per scope, expiring at the decision
 * time + min(duration asked, the approver's `for`, [access_requests]
 * max_duration).
 *
 * Memory: everything returned lives in the caller's arena. */
#ifndef MDT_IGA_ENTITLEMENTS_H
#define MDT_IGA_ENTITLEMENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "iga/client.h"
#include "store/store.h"

#define MDT_ACCESS_REQUEST_TYPE "access_request"
#define MDT_ACCESS_JUSTIFICATION_MAX 1000 /* bytes of a justification */
#define MDT_ACCESS_SCOPES_MAX 16          /* scopes one access request may ask for */
#define MDT_ACCESS_RESOURCE_MAX 2048      /* bytes of a resource URI */

/* JSON array of the entitlements of client_id, static first (in the order
 * of its metadata: scopes, then resources), then the dynamic ones live at
 * ctx->now, oldest first: {id|null, scope|null, resource|null, source:
 * "static"|"access_request", request_id|null, approved_by|null,
 * created_at|null, expires_at|null} (times RFC 3339). A static resource is
 * an item with scope null. MDT_ERR_NOT_FOUND for an unknown client. */
mdt_rc mdt_entitlement_list_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_arena *a,
                                 const char **json, mdt_err *err) MDT_WARN_UNUSED;

/* mdt_client_show_json (iga/client.h) with an "entitlements" member: the
 * array of mdt_entitlement_list_json. What `client show --json` prints. */
mdt_rc mdt_client_show_entitlements_json(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                                         mdt_arena *a, const char **json,
                                         mdt_err *err) MDT_WARN_UNUSED;

/* Ends the dynamic entitlement ent_id of client_id now (its tokens already
 * issued run to their expiry; no new one gets its scope). Audited:
 * entitlement.revoked. MDT_ERR_NOT_FOUND when client_id has no such live
 * entitlement. */
mdt_rc mdt_entitlement_revoke(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                              const char *ent_id, mdt_err *err) MDT_WARN_UNUSED;

/* A duration as a client writes it: seconds ("3600") or a duration string
 * ("90s", "15m", "8h", "30d"); more than 0. MDT_ERR_INVALID_REQUEST
 * otherwise. */
mdt_rc mdt_access_duration_parse(const char *text, int64_t *out, mdt_err *err) MDT_WARN_UNUSED;

/* How long an approved access request's entitlement lasts: the duration
 * asked (0: dflt), at most for_secs when the approver gave one (0: none),
 * at most max. Pure. */
int64_t mdt_access_duration_grant(int64_t asked, int64_t for_secs, int64_t dflt, int64_t max);

/* What a client asks for. */
typedef struct {
    const char *scope;         /* one scope or several, space-separated; required */
    const char *resource;      /* an absolute URI; NULL: none */
    const char *justification; /* 1..MDT_ACCESS_JUSTIFICATION_MAX bytes, printable; required */
    int64_t duration;          /* seconds; 0: [access_requests] default_duration */
} mdt_access_ask;

/* Files an access request of client c (authenticated and usable at
 * ctx->now). Every scope must exist (MDT_ERR_INVALID_SCOPE), and
 * `mandate:admin` cannot be asked for by an unvouched self-registered
 * client (MDT_ERR_INVALID_SCOPE); the resource must be an absolute URI
 * without fragment (MDT_ERR_INVALID_TARGET); justification and duration as
 * above, duration at most [access_requests] max_duration
 * (MDT_ERR_INVALID_REQUEST naming the cap). When the client already has a
 * pending access request for the same scope and resource, that one is
 * returned (*existing true, nothing stored); otherwise a client with
 * [access_requests] max_pending pending ones is refused with
 * MDT_ERR_SLOW_DOWN. Audited: request.created (requests.h). *id: the
 * request's id. */
mdt_rc mdt_access_request_create(mdt_env *env, mdt_ctx *ctx, const mdt_client *c,
                                 const mdt_access_ask *ask, mdt_arena *a, const char **id,
                                 bool *existing, mdt_err *err) MDT_WARN_UNUSED;

/* The access request id as its client sees it: {id, status, scope,
 * resource, justification, duration, created_at, expires_at, decided_at,
 * entitlement_expires_at} (times RFC 3339 or null; expires_at: when the
 * request stops waiting; entitlement_expires_at: when the access granted
 * by its approval ends). MDT_ERR_NOT_FOUND when it is unknown, not an
 * access request, or another client's. */
mdt_rc mdt_access_request_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *id,
                               mdt_arena *a, const char **json, mdt_err *err) MDT_WARN_UNUSED;

#endif
