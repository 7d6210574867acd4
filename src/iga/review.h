/* Access reviews (SPEC §3.6): findings about clients, computed on demand
 * from the store (there is no table of findings), and the decisions people
 * make on them — certify (the finding stays quiet until a date) or revoke
 * (the remedy the finding calls for) — recorded in review_decisions and
 * audited (review.certified, review.revoked). The CLI (`mandate review`),
 * the /reviews page and the admin API call these functions.
 *
 * Kinds of finding, each with a stable id ("fnd_" + base64url of SHA-256
 * over kind, client_id and the object: a static scope, a dynamic
 * entitlement's id, a credential id or ""):
 *   ownerless              the owner is absent, not a user or disabled
 *   unused_entitlement     a scope of the client not used for [review]
 *                          unused_after, counted from the later of its grant
 *                          and its last use (clients younger than that are
 *                          not reported)
 *   old_credential         a live secret or API key older than [review]
 *                          rotation_after
 *   symmetric_on_high_tier risk_tier high with a live secret or API key
 *   never_authenticated    no credential ever used and no token ever issued,
 *                          created more than [review] grace ago
 *   expired_with_refresh_tokens  an expired client still holding usable
 *                          refresh tokens
 * The first five are about clients that are active or pending; the last
 * about expired ones. A suspended client has no findings but the last. */
#ifndef MDT_IGA_REVIEW_H
#define MDT_IGA_REVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "store/store.h"

typedef enum {
    MDT_FINDING_OWNERLESS,
    MDT_FINDING_UNUSED_ENTITLEMENT,
    MDT_FINDING_OLD_CREDENTIAL,
    MDT_FINDING_SYMMETRIC_ON_HIGH_TIER,
    MDT_FINDING_NEVER_AUTHENTICATED,
    MDT_FINDING_EXPIRED_WITH_REFRESH_TOKENS,
    MDT_FINDING_KIND_COUNT
} mdt_finding_kind;

/* The stored and wire name of a kind ("ownerless", ...); NULL out of range. */
const char *mdt_finding_kind_name(mdt_finding_kind k);

#define MDT_FINDING_ID_LEN 47 /* "fnd_" + 43 characters of base64url */

typedef struct {
    char id[MDT_FINDING_ID_LEN + 1];
    mdt_finding_kind kind;
    const char *client_id;
    const char *object;  /* the static scope, the entitlement or credential id, or "" */
    const char *detail;  /* for people */
    int64_t since;       /* when the condition began; 0: not known */
    bool holds;          /* false: a finding that could be, but is not */
} mdt_finding;

/* The policy of the rules ([review] unused_after, rotation_after, grace). */
typedef struct {
    int64_t unused_after, rotation_after, grace;
} mdt_review_policy;

typedef enum {
    MDT_OWNER_ABSENT,
    MDT_OWNER_ACTIVE,
    MDT_OWNER_UNKNOWN,
    MDT_OWNER_DISABLED,
} mdt_owner_state;

/* An entitlement of a client: static (its `scope` metadata; granted when
 * the client was created) or dynamic (an approved access request; its id
 * "ent_..."). */
typedef struct {
    const char *scope;
    int64_t granted_at;
    const char *entitlement_id; /* NULL: static */
} mdt_review_grant;

/* What the rules look at for one client (borrowed). */
typedef struct {
    const char *client_id;
    const char *status;        /* effective: active | pending | suspended | expired */
    int64_t created_at, expires_at;
    const char *owner;         /* NULL: none */
    mdt_owner_state owner_state;
    int64_t owner_disabled_at; /* the owner's last change, when disabled */
    const char *risk_tier;     /* NULL: none */
    const mdt_review_grant *grants; size_t ngrants; /* its entitlements */
    const mdt_cred_rec *creds; size_t ncreds;
    const mdt_usage_scope_rec *usage; size_t nusage; /* this client's rows */
    bool ever_issued;          /* a token was issued to it (usage by day) */
    int64_t live_refresh;      /* refresh tokens still usable */
} mdt_review_facts;

/* The finding id of (kind, client_id, object) into id. */
void mdt_finding_id(mdt_finding_kind kind, const char *client_id, const char *object,
                    char id[MDT_FINDING_ID_LEN + 1]);

/* Every candidate finding of one client at now, holding or not (a pure
 * function of its arguments): *out in a. */
mdt_rc mdt_review_rules(const mdt_review_facts *f, const mdt_review_policy *p, int64_t now,
                        mdt_arena *a, mdt_finding **out, size_t *n, mdt_err *err) MDT_WARN_UNUSED;

/* The findings that hold and are not certified at ctx->now, as a JSON
 * array of {id, kind, client_id, detail, since} (since RFC 3339 or null),
 * ordered by client_id, then kind. owner: only the findings about the
 * clients this user owns (never `ownerless` ones); NULL: all. */
mdt_rc mdt_review_list_json(mdt_env *env, mdt_ctx *ctx, const char *owner, mdt_arena *a,
                            const char **json, mdt_err *err) MDT_WARN_UNUSED;

/* The end of a certification as people write it: a date ("2027-03-31",
 * midnight UTC), an RFC 3339 time, or a duration from now ("90d"). false
 * when s is none of them (or NULL or empty). Whether it is after now and
 * within [review] max_certify is mdt_review_certify's to say. */
bool mdt_review_until_parse(const char *s, int64_t now, int64_t *out);

/* Certifies finding id until `until` (after now, at most [review]
 * max_certify from now): it is not listed until then, then reappears if it
 * still holds. by: the person deciding (an admin, or the owner of the
 * client for findings other than `ownerless`); NULL: the operator (the CLI
 * or an admin API caller already authorised). note: required, not empty.
 * Audited review.certified. *json: {id, kind, client_id, detail, decision,
 * note, until, decided_by}. MDT_ERR_NOT_FOUND: no such finding;
 * MDT_ERR_CONFLICT: it no longer holds; MDT_ERR_ACCESS_DENIED: by may not
 * decide it; MDT_ERR_INVALID_REQUEST: bad until or note. */
mdt_rc mdt_review_certify(mdt_env *env, mdt_ctx *ctx, const char *id, const char *by,
                          const char *note, int64_t until, mdt_arena *a, const char **json,
                          mdt_err *err) MDT_WARN_UNUSED;

/* Revokes finding id: does what it calls for — unused_entitlement: the
 * scope leaves the client's metadata (a dynamic entitlement ends);
 * old_credential: the credential expires now; symmetric_on_high_tier: every
 * live secret and API key of the client expires now; ownerless and
 * never_authenticated: the client is suspended (kill switch);
 * expired_with_refresh_tokens: its refresh tokens are revoked (and the
 * access tokens issued with them). Audited review.revoked beside the
 * remedy's own events. by, errors and *json as mdt_review_certify (note
 * optional; decision "revoke", action: what was done). */
mdt_rc mdt_review_revoke(mdt_env *env, mdt_ctx *ctx, const char *id, const char *by,
                         const char *note, mdt_arena *a, const char **json,
                         mdt_err *err) MDT_WARN_UNUSED;

#endif
