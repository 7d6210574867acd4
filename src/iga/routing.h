/* Approval routing ([approvals] routing, SPEC §3.5): who must approve a
 * request, and how long it may wait before it expires as denied, from a
 * JSON file read when `serve` starts (and by `mandate request`):
 *   [{"type": "ciba",                  (optional: request types, a string or an array)
 *     "scope": ["payments"],           (optional: any scope of the request)
 *     "sensitivity": "approval",       (optional: of any scope of the request)
 *     "risk_tier": ["high"],           (optional: of the request's client)
 *     "approve": "quorum",             user | owner | approver | quorum
 *     "n": 2,                          (quorum only: distinct approvers, 1..20)
 *     "expires_in": "15m"}]            (optional: seconds or a duration)
 * A rule matches when every condition it has holds; the first match wins;
 * no match is the default (the request type's own rule). Unknown members,
 * an unknown `approve`, `n` without quorum or a quorum without `n` are
 * errors naming the file and the rule.
 *
 * Memory: an mdt_routing owns everything reachable from it and is
 * immutable once loaded, so any number of threads may read it. */
#ifndef MDT_IGA_ROUTING_H
#define MDT_IGA_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#include "core/mdt.h"

#define MDT_ROUTING_FILE_MAX (256 * 1024) /* bytes of the file */
#define MDT_ROUTING_RULES_MAX 256         /* rules in it */
#define MDT_ROUTING_QUORUM_MAX 20         /* approvers a quorum may ask for */

typedef struct mdt_routing mdt_routing;

typedef enum {
    MDT_ROUTE_DEFAULT = 0, /* no rule: the type's own (approver, admin, owner or subject) */
    MDT_ROUTE_USER,        /* the person the request asks (its subject) */
    MDT_ROUTE_OWNER,       /* the owner of the request's client */
    MDT_ROUTE_APPROVER,    /* any active user with role approver or admin */
    MDT_ROUTE_QUORUM,      /* n distinct approvers, none of them the client's owner */
} mdt_route_who;

typedef struct {
    mdt_route_who who;
    int64_t quorum;     /* MDT_ROUTE_QUORUM: distinct approvals needed */
    int64_t expires_in; /* seconds; 0: not said */
    int rule;           /* index of the matching rule; -1: none */
} mdt_route;

/* What a rule is matched against. */
typedef struct {
    const char *type;
    const char *const *scopes;        /* the request's scopes */
    const char *const *sensitivities; /* of each scope (none | consent | approval) */
    size_t nscopes;
    const char *risk_tier;            /* of the client; NULL: unknown */
} mdt_route_facts;

/* Loads path ("" or NULL: *out is NULL, the defaults). On error nothing is
 * returned and err names the file, the rule and what is wrong. */
mdt_rc mdt_routing_load(const char *path, mdt_routing **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_routing_free(mdt_routing *rt);

/* The first rule of rt (NULL: none) that matches f. */
mdt_route mdt_routing_match(const mdt_routing *rt, const mdt_route_facts *f);

/* "user", "owner", "approver", "quorum" or "default". */
const char *mdt_route_who_name(mdt_route_who w);

#endif
