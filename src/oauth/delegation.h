/* Delegation by token exchange (RFC 8693, SPEC §3.5), the pure half: what
 * a new link of a delegation chain may carry. The grant itself is in
 * grant_delegation.c.
 *
 * A delegated token keeps the person (sub) of its subject token and names
 * every client that acted in act, the newest outermost (RFC 8693 §4.1):
 *   {"sub": "agent-b", "act": {"sub": "agent-a"}}
 * Its depth is the number of actors. It also carries what it was derived
 * from, so that revocation follows the chain (mdt_token_inspect):
 *   "lineage": {"jti": ["<subject's jti>", "<its subject's jti>", ...],
 *               "client_id": "<the client the chain started with>"}
 * and the subject's "sid" (the web session it depends on) when it had one.
 *
 * Memory: strings returned live in the arena passed in. */
#ifndef MDT_OAUTH_DELEGATION_H
#define MDT_OAUTH_DELEGATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/mdt.h"
#include "iga/client.h"

#define MDT_DELEGATION_DEPTH_MAX 10   /* actors in a chain, whatever clients say */
#define MDT_DELEGATION_LINEAGE_MAX 16 /* tokens a token may be derived from */

/* The number of actors in act (nested act objects; 0 for NULL), counting
 * at most MDT_DELEGATION_DEPTH_MAX + 1. */
size_t mdt_delegation_depth(json_t *act);

/* Whether a chain of depth actors is allowed by every limit (the
 * max_delegation_depth of each client in it: the most restrictive wins).
 * Never beyond MDT_DELEGATION_DEPTH_MAX. */
bool mdt_delegation_depth_ok(size_t depth, const int64_t *limits, size_t nlimits);

/* RFC 8693 §4.4: whether the subject token's may_act (NULL: no claim, any
 * actor) names the acting client, by its sub or client_id member. */
bool mdt_delegation_may_act(json_t *may_act, const char *client_id);

/* {"sub": actor, "act": prev} (prev NULL: no "act") as JSON text. */
mdt_rc mdt_delegation_act(mdt_arena *a, const char *actor, json_t *prev, const char **out,
                          mdt_err *err) MDT_WARN_UNUSED;

/* The scope of a delegated token: requested (NULL: all of it) within the
 * subject token's scope (space-separated) and the acting client's
 * entitlements; anything beyond, or nothing in common, is invalid_scope. */
mdt_rc mdt_delegation_scope(mdt_arena *a, const char *subject_scope, const mdt_client *actor,
                            const char *requested, const char **granted,
                            mdt_err *err) MDT_WARN_UNUSED;

/* The lineage of a token exchanged from a subject token (its jti, NULL for
 * a foreign token without one; its client, NULL for a foreign one; its own
 * lineage claim, NULL when none), as JSON text; *out NULL when there is
 * nothing to record. More than MDT_DELEGATION_LINEAGE_MAX ancestors is
 * invalid_request. */
mdt_rc mdt_delegation_lineage(mdt_arena *a, const char *subject_jti, const char *subject_client,
                              json_t *subject_lineage, const char **out,
                              mdt_err *err) MDT_WARN_UNUSED;

#endif
