/* Clients (applications): RFC 7591 metadata with the Mandate extensions
 * (SPEC §2.4), validated and normalized in one place for the CLI, the admin
 * API and dynamic registration; their credentials; and the typed
 * view of a client that the token endpoint decides on.
 *
 * The implementation is split by job: client_metadata.c (the field table and
 * the checks of metadata), client_json.c (stored record -> mdt_client -> JSON
 * documents, status, the checks of a typed client), client_lifecycle.c
 * (create, update, suspend, resume, delete, secret rotation) and
 * client_cache.c (the per-thread cache behind mdt_client_load).
 *
 * Memory: everything returned lives in the caller's arena. JSON texts that
 * hold a client_secret should be wiped (mdt_wipe) by the caller once sent. */
#ifndef MDT_IGA_CLIENT_H
#define MDT_IGA_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "iga/credentials.h"
#include "iga/names.h"
#include "store/store.h"

#define MDT_CLIENT_METADATA_MAX (64 * 1024) /* bytes of metadata JSON accepted */
#define MDT_CLIENT_NAME_MAX 200
#define MDT_CLIENT_DESCRIPTION_MAX 2000
#define MDT_CLIENT_OWNER_MAX 64
#define MDT_CLIENT_LIST_MAX 100             /* items of any metadata array */
#define MDT_CLIENT_TOUCH_INTERVAL 60        /* seconds between last_used_at updates */

typedef struct mdt_client {
    const char *client_id, *status, *name, *kind, *owner, *tier, *auth_method, *software_id,
        *software_version, *access_token_format /* NULL = config default */;
    /* entitlements: static ones (the metadata's scope and resources) and, from
       mdt_client_load, the dynamic ones live at its now (approved access
       requests, iga/entitlements.h) merged in */
    const char **scopes; size_t nscopes;
    const char **resources; size_t nresources;
    const char **introspection_for; size_t nintrospection_for; /* admin-set: resource server of */
    const char **grant_types; size_t ngrant_types;
    const char **redirect_uris; size_t nredirect_uris; /* exact matching (oauth/redirect.h) */
    const char **post_logout_redirect_uris; size_t npost_logout_redirect_uris; /* exact */
    bool require_par;              /* require_pushed_authorization_requests (RFC 9126 §6) */
    int64_t access_token_ttl /* 0 = config default */, expires_at, tokens_valid_after;
    int64_t max_delegation_depth;
    const char *metadata;  /* normalized JSON text */
    const mdt_cred_rec *creds; size_t ncreds; /* every credential, expired ones included */
    /* asymmetric and key-bound credentials (RFC 7523, RFC 8705, workload identity) */
    const char *jwks;              /* registered JWK Set, JSON text; NULL when none */
    const char *jwks_uri;          /* NULL when none */
    const char *auth_signing_alg;  /* token_endpoint_auth_signing_alg; NULL: any asymmetric */
    const char *tls_subject_dn, *tls_san_dns, *tls_san_uri, *tls_san_ip, *tls_san_email;
    bool cert_bound_tokens;        /* tls_client_certificate_bound_access_tokens */
    bool dpop_bound_tokens;        /* dpop_bound_access_tokens (RFC 9449 §5.2): a DPoP proof
                                      is required at /token */
    const char *workload_issuer, *workload_subject; /* workload_identity; NULL when none */
    /* self-registration (iga/registration.h): server-assigned, never taken from input */
    const char *origin;            /* "dcr" | "cimd"; NULL: created by an admin */
    const char *vouched_by;        /* issuer of the software statement that vouched; NULL */
    const char *iat_id;            /* the initial access token it registered with; NULL */
    int64_t created_at;
    int64_t version;               /* the stored row's (mdt_client_rec.version) */
    int64_t approved_at;           /* when a pending registration was approved; 0 */
    /* the dynamic entitlements behind scopes that are not static (one per
       scope, the oldest live one), for the audit trail of what they allowed */
    const mdt_entitlement_rec *ents; size_t nents;
} mdt_client;

/* Grant types and kinds a client may register (the rules of metadata
 * validation, for initial access token policies). */
bool mdt_client_grant_type_known(const char *grant_type);
bool mdt_client_kind_known(const char *kind);

/* The token endpoint authentication methods a client may register. */
bool mdt_client_auth_method_known(const char *method);
/* Whether the method authenticates with a shared secret Mandate generated. */
bool mdt_client_auth_method_is_secret(const char *method);

/* Privileged members: client metadata that widens what a client may do
 * (SPEC §3.3). An admin sets them (`mandate client create|update`, the admin
 * API); in self-registration only an initial access token's policy or the
 * claims of a trusted software statement may set them, and an unvouched
 * client gets the [registration] defaults for unverified clients (asking for
 * more makes it pending, or reduced). Each member says how a value compares
 * with what is allowed; a member that is admin-only is never set by
 * self-registration. Adding a privileged member is one more row of
 * mdt_client_privileged_members. */
typedef enum {
    MDT_PRIV_ADMIN_ONLY, /* never from self-registration */
    MDT_PRIV_SUBSET,     /* array: within = every item allowed */
    MDT_PRIV_AT_MOST,    /* integer: within = at most the allowed one */
    MDT_PRIV_EQUAL,      /* within = equal */
    MDT_PRIV_AT_LEAST,   /* enum of rank: within = at least as high as the allowed one */
} mdt_priv_order;

typedef struct {
    const char *key;
    mdt_priv_order order;
    const char *const *rank;   /* MDT_PRIV_AT_LEAST: the values, lowest first, NULL-ended */
} mdt_client_privileged;

extern const mdt_client_privileged mdt_client_privileged_members[];
extern const size_t mdt_client_nprivileged;

/* Whether the asked value of privileged member f stays within allowed (a
 * value of the same member; NULL or JSON null: nothing allowed, so only an
 * absent asked value is within). Admin-only members are within only when
 * absent or equal to allowed. Borrows both. */
bool mdt_client_privilege_within(const mdt_client_privileged *f, const json_t *asked,
                                 const json_t *allowed);

/* Loads and parses a client and its credentials into the arena (everything
 * arena-owned); its status as of now (the request's time). status is
 * "expired" when expires_at has passed, or when a
 * self-registered client never authenticated within [registration]
 * inactive_expiry (mdt_registration_inactive_deadline).
 * MDT_ERR_NOT_FOUND when unknown. Served from a per-thread cache that is
 * used only while the store's clients counter has not moved, so a change
 * made anywhere (another process, another node) is seen by the next call. */
mdt_rc mdt_client_load(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                       mdt_client *out, mdt_err *err) MDT_WARN_UNUSED;
/* From begin to end, this thread's mdt_client_load calls serve the cache on
 * the clients counter as the process saw it within the last
 * MDT_CLIENT_RECENT_US (mdt_store_clients_version_recent) instead of
 * reading it, and record what each loaded client was: the premises of the
 * decision, which the caller hands to the audit event that records it
 * (mdt_audit_event.checks), so that the group commit refuses the event if
 * one of those clients changed meanwhile. Only for a request whose outcome
 * leaves after its event is durable (the token endpoint). end stops the
 * recording and returns the premises, copied into a (NULL, *n 0 when none
 * or out of memory: the event then carries none, as before begin). */
#define MDT_CLIENT_RECENT_US 5000
void mdt_client_checks_begin(void);
bool mdt_client_checks_active(void);
const mdt_client_check *mdt_client_checks_end(mdt_arena *a, size_t *n);
/* When a self-registered client (origin "dcr" or "cimd") that never
 * authenticated expires: max(created_at, approved_at) + inactive_expiry
 * while no credential but its registration access token has a
 * last_used_at; 0 when the rule does not apply. Part of a client's status
 * (SPEC §3.3; iga/registration.h). */
int64_t mdt_registration_inactive_deadline(const char *origin, int64_t created_at,
                                           int64_t approved_at, const mdt_cred_rec *creds,
                                           size_t n, int64_t inactive_expiry);
/* True when status is active and expires_at (if any) is after now. */
bool mdt_client_usable(const mdt_client *c, int64_t now);
bool mdt_client_has_scope(const mdt_client *c, const char *scope);
/* Whether c is a self-registered client nobody vouched for (SPEC §3.3: no
 * software statement, no initial access token). */
bool mdt_client_unvouched(const mdt_client *c);
/* The dynamic entitlement that gives c scope (borrowed from c); NULL when
 * the scope is static (in the client's metadata: approved by the admin who
 * put it there) or not c's. */
const mdt_entitlement_rec *mdt_client_scope_entitlement(const mdt_client *c, const char *scope);
/* The approval request behind the scopes of a grant (space-separated):
 * the request_id of their dynamic entitlements when exactly one approval
 * is behind all of them that are dynamic; NULL when none is dynamic or
 * several approvals are (the audit event names each). Borrowed from c. */
const char *mdt_client_scope_approval(const mdt_client *c, const char *scope);
/* The earliest expiry of the dynamic entitlements behind the scopes of a
 * grant (space-separated); 0 when none is dynamic (or none expires). A
 * token must not outlive it. */
int64_t mdt_client_scope_expiry(const mdt_client *c, const char *scope);
bool mdt_client_has_resource(const mdt_client *c, const char *uri);
bool mdt_client_has_grant(const mdt_client *c, const char *grant_type);
/* Whether an admin made c a resource server for uri (introspection_for):
 * it may introspect other clients' tokens with that audience. */
bool mdt_client_introspects_for(const mdt_client *c, const char *uri);
/* Credential lifecycle (SPEC §1): every credential has an id, a type, a
 * name, created_at, optional expires_at and last_used_at; several may be
 * live at once. */
/* (mdt_cred_live, in credentials.h, says whether one has expired.) */
/* The client's first credential of this type with this hash (a JWK
 * thumbprint, SHA-256 of a certificate binding name or of issuer "\n"
 * subject; see credentials.h), expired ones included; NULL when none.
 * Borrowed from c. Not for secrets: see mdt_client_verify_secret. */
const mdt_cred_rec *mdt_client_cred_find(const mdt_client *c, const char *type,
                                         const uint8_t hash[MDT_HASH_LEN]);
/* Records that cred (one of c->creds) authenticated a request at now:
 * updates last_used_at at most once every MDT_CLIENT_TOUCH_INTERVAL, and
 * never for a client that is not usable. A failure to record is logged,
 * never fatal. */
void mdt_client_cred_used(mdt_env *env, const mdt_client *c, const mdt_cred_rec *cred,
                          int64_t now);
/* Verifies a presented secret against the client's unexpired secret
 * credentials (constant time); touches last_used_at at most once every
 * MDT_CLIENT_TOUCH_INTERVAL. *cred_id (may be NULL) gets the matching
 * credential's id, in a. MDT_ERR_INVALID_CLIENT on mismatch. */
mdt_rc mdt_client_verify_secret(mdt_env *env, const mdt_client *c, const char *secret, size_t len,
                                int64_t now, mdt_arena *a, const char **cred_id,
                                mdt_err *err) MDT_WARN_UNUSED;

/* Validates RFC 7591 metadata (json, len bytes) in full and returns the
 * normalized object text (defaults filled in, unknown fields dropped, no
 * client_id/secret/status) in *metadata and its expires_at (0 = none).
 * MDT_ERR_INVALID_CLIENT_METADATA or MDT_ERR_INVALID_REDIRECT_URI with a
 * public message naming the field. Reads scopes from the store. */
mdt_rc mdt_client_metadata_validate(mdt_env *env, const char *json, size_t len, mdt_arena *a,
                                    const char **metadata, int64_t *expires_at,
                                    mdt_err *err) MDT_WARN_UNUSED;

/* Service operations (CLI now, admin API and /register later). Each audits
 * its change in ctx (actor and time from the context). Bad input changes nothing. */
/* Creates an active client. Its credentials: a generated secret when its
 * token_endpoint_auth_method is a secret one (mdt_client_auth_method_is_secret),
 * and the credentials its metadata implies (credentials.h), stored in the
 * same transaction. *response_json is the RFC 7591 response, with
 * client_secret and client_secret_expires_at only when a secret was made. */
mdt_rc mdt_client_create(mdt_env *env, mdt_ctx *ctx, const char *json, size_t len, mdt_arena *a,
                         const char **response_json, mdt_err *err) MDT_WARN_UNUSED;
/* The RFC 7591 document of a client (metadata + client_id +
 * client_id_issued_at + status), no secret, no credentials. */
mdt_rc mdt_client_doc_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_arena *a,
                           const char **json, mdt_err *err) MDT_WARN_UNUSED;

/* Merges json into the stored metadata (a key set to null is removed;
 * client_id, client_secret and status are ignored), validates the result as
 * on create and stores it with its derived credentials in one transaction
 * (rows of keys, bindings and identities that stay registered are kept,
 * with their ids and times). Changing token_endpoint_auth_method away from
 * a secret method expires every live secret now; changing it from another
 * method to a secret one generates a secret when none is live, returned
 * once in the response as client_secret (with client_secret_expires_at 0).
 * *response_json: metadata + client_id + status [+ client_secret]. */
mdt_rc mdt_client_update(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *json,
                         size_t len, mdt_arena *a, const char **response_json,
                         mdt_err *err) MDT_WARN_UNUSED;
/* status "suspended": also sets tokens_valid_after = now + 1 (kill switch).
 * status "active": resumes a suspended or pending client; MDT_ERR_CONFLICT
 * when the client has expired. */
mdt_rc mdt_client_set_status(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *status,
                             mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_client_delete(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                         mdt_err *err) MDT_WARN_UNUSED;
/* Adds a new secret; every other secret of the client expires at now + keep.
 * *response_json: {client_id, client_secret, client_secret_expires_at}.
 * MDT_ERR_INVALID_REQUEST when the client's method is not a secret one. */
mdt_rc mdt_client_rotate_secret(mdt_env *env, mdt_ctx *ctx, const char *client_id, int64_t keep,
                                mdt_arena *a, const char **response_json,
                                mdt_err *err) MDT_WARN_UNUSED;
/* Sets the expires_at of one credential of the client (any type) to now +
 * in (in >= 0), or leaves it when it already expires earlier; the credential
 * stays listed. Audited as client.credential_expired. *response_json:
 * {client_id, id, type, [name,] created_at, expires_at, last_used_at}.
 * MDT_ERR_NOT_FOUND for an unknown client or a credential not of this client. */
mdt_rc mdt_client_credential_expire(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                                    const char *cred_id, int64_t in, mdt_arena *a,
                                    const char **response_json, mdt_err *err) MDT_WARN_UNUSED;
/* metadata + client_id + client_id_issued_at + status + credentials
 * ([{id, type, [name,] created_at, expires_at, last_used_at}], times RFC 3339
 * or null, name only when not empty), oldest first, expired ones included. */
mdt_rc mdt_client_show_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_arena *a,
                            const char **json, mdt_err *err) MDT_WARN_UNUSED;
/* JSON array of metadata + client_id + client_id_issued_at + status. */
mdt_rc mdt_client_list_json(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, const char **json,
                            mdt_err *err) MDT_WARN_UNUSED;

#endif
