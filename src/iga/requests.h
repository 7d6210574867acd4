/* Approval requests: what waits for a human decision (SPEC §1 "Approval",
 * §3.5, §3.6). One record and one decision path for every type:
 * registration (a pending self-registered client, iga/registration.h), and
 * later access_request, ciba and device. A request has an id "req_...", a
 * status pending | approved | denied | expired (expired: pending past
 * expires_at; stored once the server's sweep closed it), and its decision
 * (decided_by, decided_at, note). Who decides is [approvals] routing
 * (iga/routing.h); a decision (or a quorum's vote) is taken in one store
 * transaction, so two approvers cannot both decide nor a vote be lost; it
 * is audited (request.voted, request.approved, request.denied,
 * request.expired) and then applied by the service of its type, through the
 * row of hooks of the type (src/iga/request_types.c): a new type is a new
 * row, and nothing here or in the callers changes.
 *
 * Memory: everything returned lives in the caller's arena. */
#ifndef MDT_IGA_REQUESTS_H
#define MDT_IGA_REQUESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "store/store.h"

#define MDT_REQUEST_TTL (7 * 86400) /* a request nobody decides expires after this */
#define MDT_REQUEST_NOTE_MAX 1000   /* bytes of a decision's note */
#define MDT_REQUEST_TYPE_DEVICE "device" /* RFC 8628 (iga/request_device.c) */
#define MDT_REQUEST_EXPIRE_BATCH 16 /* requests closed per call of mdt_request_expire_due */

/* The status of r at now: "expired" for a pending request past expires_at. */
const char *mdt_request_status(const mdt_request_rec *r, int64_t now);

/* Creates a pending request from r (type, client_id, subject, scope, ...;
 * its id, status, created_at and expires_at are set here: now +
 * MDT_REQUEST_TTL unless r->expires_at is set). *id: the new id (in a).
 * MDT_ERR_INVALID_REQUEST for a type the server has no row for (nothing is
 * stored). Audited: request.created. */
mdt_rc mdt_request_create(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, mdt_arena *a,
                          const char **id, mdt_err *err) MDT_WARN_UNUSED;

/* JSON array of requests, oldest first: {id, type, status, client_id,
 * subject, scope, resource, binding_message, authorization_details,
 * created_at, expires_at, decided_by, decided_at, note, justification,
 * duration}; times RFC 3339 or null, authorization_details a JSON array or
 * null, justification and duration (seconds asked) those of an access
 * request, null for other types. status: only requests
 * of this (effective) status; NULL: all. */
mdt_rc mdt_request_list_json(mdt_env *env, mdt_ctx *ctx, const char *status, mdt_arena *a,
                             const char **json, mdt_err *err) MDT_WARN_UNUSED;

/* The same list, only of the requests of client client_id. */
mdt_rc mdt_request_list_client_json(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                                    const char *status, mdt_arena *a, const char **json,
                                    mdt_err *err) MDT_WARN_UNUSED;

/* A pending request one person may decide, with what its type shows
 * approvers beyond the record (the describe hook: e.g. the metadata of a
 * registration), as JSON object text; NULL when nothing. */
typedef struct {
    mdt_request_rec rec;
    const char *shown;
} mdt_request_item;

/* The requests pending at ctx->now that username may decide, by the very
 * rule mdt_request_decide applies, oldest first, into *out (n of them, in
 * a). An unknown or disabled user gets none. */
mdt_rc mdt_request_list_for(mdt_env *env, mdt_ctx *ctx, const char *username, mdt_arena *a,
                            mdt_request_item **out, size_t *n, mdt_err *err) MDT_WARN_UNUSED;

/* Approves or denies a pending request. by: the deciding user (NULL: the
 * environment's actor, e.g. the operator at the command line, whose
 * decision is final whatever the routing, but who approves a request that
 * asks a person, CIBA or device, only as that person), who must exist, be active and be
 * whom the request's route names (mdt_request_may_decide; by default an
 * approver, an admin, or the owner of the request's client or the person it
 * asks where its type allows; MDT_ERR_ACCESS_DENIED). Under a quorum the
 * call records by's vote (audited request.voted; a second vote of by:
 * MDT_ERR_CONFLICT) and the request stays pending until `n` distinct
 * approvers allowed it; a deny is final. Only the final decision is audited
 * request.approved / request.denied and applied by the type's hooks: read
 * the status of *json. for_secs (approve only, 0: none): how long the
 * approval lasts (a registration: the client expires after it).
 * MDT_ERR_NOT_FOUND for an unknown id; MDT_ERR_CONFLICT when the request is
 * already decided or expired, when its type no longer accepts the approval
 * (a registration whose metadata changed), or when the server has no row for
 * its type (nothing is recorded). *json: the request after the call. */
mdt_rc mdt_request_decide(mdt_env *env, mdt_ctx *ctx, const char *id, bool approve, const char *by,
                          const char *note, int64_t for_secs, mdt_arena *a, const char **json,
                          mdt_err *err) MDT_WARN_UNUSED;

/* A decision by an automated caller that acts for no person (a service
 * client of the admin API): it decides as the context's actor, like the
 * operator at the command line, but approves only what the routing leaves
 * to any approver (no rule, or a rule naming approvers) and never a
 * request that asks a person (CIBA, device) or one routed to its owner, to
 * the person it asks or to a quorum: those are MDT_ERR_ACCESS_DENIED, for
 * a person to decide. A deny is taken as the operator's. Otherwise as
 * mdt_request_decide with by NULL. */
mdt_rc mdt_request_decide_unattended(mdt_env *env, mdt_ctx *ctx, const char *id, bool approve,
                                     const char *note, int64_t for_secs, mdt_arena *a,
                                     const char **json, mdt_err *err) MDT_WARN_UNUSED;

/* Whether user `username` may decide (or, under a quorum, vote on) the
 * pending request r now, by the rule of [approvals] routing that matches it
 * (iga/routing.h; the type's default without one): false when r is not
 * pending, the user is unknown or disabled, is not whom the rule names,
 * owns r's client under a quorum, or has voted on it already. What the
 * approvals inbox lists; mdt_request_decide applies the same rule. */
bool mdt_request_may_decide(mdt_env *env, mdt_ctx *ctx, const char *username,
                            const mdt_request_rec *r);

/* Closes at most MDT_REQUEST_EXPIRE_BATCH pending requests past their
 * expires_at as expired (it counts as denied: the denied hook of its type
 * runs), each exactly once across threads and nodes, and records
 * request.expired for each in ctx; the caller commits ctx, and calls again
 * while *closed (how many) is the whole batch. */
mdt_rc mdt_request_expire_due(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, size_t *closed,
                              mdt_err *err) MDT_WARN_UNUSED;

#endif
