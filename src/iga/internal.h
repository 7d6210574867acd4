/* Internal to src/iga/: what the files of the service layer share and no
 * caller outside it uses. Nothing outside src/iga/ includes this header but
 * the unit tests of src/iga/.
 *
 * It includes no other header of src/iga/ but names.h, so that any file of
 * the layer may include it without making one module depend on another;
 * the typed client is named by its struct tag only.
 *
 * Memory: everything returned lives in the caller's arena unless said. */
#ifndef MDT_IGA_INTERNAL_H
#define MDT_IGA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "iga/names.h"
#include "store/store.h"

struct mdt_client;

/* --- shared helpers (internal.c) --- */

mdt_rc mdt_iga__nomem(mdt_err *err);
/* Records one audit event of the service layer in the request's context
 * (appended before the answer): actor ctx's, decision allow; data is JSON
 * object text or NULL. */
mdt_rc mdt_iga__audit(mdt_ctx *ctx, const char *type, const char *client_id, const char *data,
                      mdt_err *err) MDT_WARN_UNUSED;
/* mdt_iga__audit with data as a jansson object, whose reference it takes
 * (NULL: no data). */
mdt_rc mdt_iga__audit_json(mdt_ctx *ctx, const char *type, const char *client_id, json_t *data,
                           mdt_err *err) MDT_WARN_UNUSED;
/* json_dumps of a jansson value copied into a (the heap copy is wiped: it
 * may hold a secret). */
mdt_rc mdt_iga__dump(const void *json_value, mdt_arena *a, const char **out,
                     mdt_err *err) MDT_WARN_UNUSED;
/* mdt_iga__dump of doc, whose reference it takes; a NULL doc is NOMEM. */
mdt_rc mdt_iga__dump_take(json_t *doc, mdt_arena *a, const char **out,
                          mdt_err *err) MDT_WARN_UNUSED;
/* A time as an RFC 3339 JSON string, 0 as null (a new reference). */
void *mdt_iga__time_json(int64_t t);
/* The client record; MDT_ERR_NOT_FOUND "unknown client". */
mdt_rc mdt_iga__client_get(mdt_env *env, const char *client_id, mdt_arena *a, mdt_client_rec *out,
                           mdt_err *err) MDT_WARN_UNUSED;

/* --- credentials (credentials.c) --- */

/* Derived rows of one client at most: its keys, a jwks_uri, a binding, a
 * workload identity. */
#define MDT_CRED_DERIVED_MAX (MDT_CLIENT_JWKS_MAX + 3)

/* The credentials implied by normalized metadata (JSON object text, as
 * mdt_client_metadata_validate returns it): type, name and hash filled,
 * no id, client or times. At most MDT_CRED_DERIVED_MAX. */
mdt_rc mdt_creds_derive(const char *metadata, mdt_arena *a, mdt_cred_rec **out, size_t *n,
                        mdt_err *err) MDT_WARN_UNUSED;

/* Changes of a client's credential rows, applied by
 * mdt_store_client_update_creds (deletes first, then inserts). */
typedef struct {
    mdt_cred_rec *add;
    size_t nadd, cap_add;
    const char **del;
    size_t ndel, cap_del;
} mdt_cred_plan;

/* Plans the derived rows of have[] (the client's current credentials) into
 * want[] (mdt_creds_derive): derived rows of have that match a want by type,
 * name and hash are kept untouched; the other derived rows of have are
 * deleted; wants with no match are added with a fresh "cred_" id, client_id
 * and created_at = now. Secrets and API keys are never touched. The plan
 * has room for extra additions: nhave + 1 more than the derived ones. */
mdt_rc mdt_creds_plan(const mdt_rng *rng, const char *client_id, const mdt_cred_rec *have,
                      size_t nhave, const mdt_cred_rec *want, size_t nwant, int64_t now,
                      mdt_arena *a, mdt_cred_plan *out, mdt_err *err) MDT_WARN_UNUSED;

/* A fresh credential id ("cred_" + 16 base64url characters) in a. */
mdt_rc mdt_iga__cred_id(const mdt_rng *rng, mdt_arena *a, const char **out,
                        mdt_err *err) MDT_WARN_UNUSED;
/* One credential of the client by id; MDT_ERR_NOT_FOUND "unknown credential"
 * when it does not exist or belongs to another client. */
mdt_rc mdt_iga__cred_of(mdt_env *env, const char *client_id, const char *cred_id, mdt_arena *a,
                        mdt_cred_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Moves cr->expires_at to at (or keeps it when it is earlier) and stores
 * it, with rec's updated_at = now, in one transaction. */
mdt_rc mdt_iga__cred_expire(mdt_env *env, mdt_client_rec *rec, mdt_cred_rec *cr, int64_t at,
                            int64_t now, mdt_err *err) MDT_WARN_UNUSED;
/* The JSON object of a credential ({id, type, [name,] created_at,
 * expires_at, last_used_at}) as a new reference; NULL on NOMEM. */
void *mdt_iga__cred_json(const mdt_cred_rec *cr);
/* Whether cr is a secret that has not expired at now. */
bool mdt_iga__secret_live(const mdt_cred_rec *cr, int64_t now);

/* --- client metadata (client_metadata.c) --- */

/* Parses metadata text: size cap, valid JSON, an object at the top. *out:
 * a new reference. */
mdt_rc mdt_iga__metadata_parse(const char *json, size_t len, json_t **out,
                               mdt_err *err) MDT_WARN_UNUSED;
/* The metadata after an update: in merged into the stored metadata text
 * stored (a member set to null is removed; read-only members such as
 * client_id or status are ignored), or in alone when replace; validated as
 * on create. *metadata (in a) and *expires_at: the result; *keys: the
 * members the input set, a JSON array (a new reference or NULL, released by
 * the caller also on error). */
mdt_rc mdt_iga__metadata_update(mdt_env *env, const char *stored, json_t *in, bool replace,
                                mdt_arena *a, const char **metadata, int64_t *expires_at,
                                json_t **keys, mdt_err *err) MDT_WARN_UNUSED;
/* Sets the server-assigned members (origin, vouched_by, iat_id,
 * approved_at) over the metadata text *metadata: those of stored (the
 * metadata before an update; NULL), then those of server_meta (JSON object
 * text; NULL; a null member removes it). */
mdt_rc mdt_iga__metadata_server_members(mdt_arena *a, const char **metadata, const char *stored,
                                        const char *server_meta, mdt_err *err) MDT_WARN_UNUSED;
/* A workload identity authenticates one client only: none of the workload
 * credentials of creds (about to be stored for client_id) may belong to
 * another client (MDT_ERR_INVALID_CLIENT_METADATA). */
mdt_rc mdt_iga__metadata_workload_unique(mdt_env *env, const char *client_id,
                                         const mdt_cred_rec *creds, size_t n, mdt_arena *a,
                                         mdt_err *err) MDT_WARN_UNUSED;
/* Whether normalized metadata registers a secret authentication method. */
bool mdt_iga__metadata_is_secret(const char *metadata);

/* --- the lifecycle for other services of src/iga/ (client_lifecycle.c) --- */

/* How another service than the admin's creates or changes a client
 * (self-registration, iga/registration.c). Every member is optional. */
typedef struct {
    const char *client_id;     /* create: NULL for a fresh "mdt_..." */
    const char *status;        /* NULL: "active" on create, unchanged on update */
    /* JSON object text of server-assigned members (origin, vouched_by,
     * iat_id, approved_at) stored beside the validated metadata; on update
     * they are set over the stored ones (a member set to null is removed).
     * Input metadata can never set them. */
    const char *server_meta;
    const mdt_cred_rec *extra; /* create: more credentials (client_id set), e.g. */
    size_t nextra;             /* a registration access token */
    bool replace;              /* update: json replaces the metadata instead of merging */
    const char *event;         /* audit type; NULL: client.created / client.updated */
    const char *event_data;    /* JSON object text merged into the audit data; NULL */
} mdt_client_spec;

/* mdt_client_create and mdt_client_update with a spec (NULL: as they). */
mdt_rc mdt_client_create_with(mdt_env *env, mdt_ctx *ctx, const char *json, size_t len,
                              const mdt_client_spec *spec, mdt_arena *a, const char **response_json,
                              mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_client_update_with(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *json,
                              size_t len, const mdt_client_spec *spec, mdt_arena *a,
                              const char **response_json, mdt_err *err) MDT_WARN_UNUSED;

/* --- the typed client and its documents (client_json.c) --- */

/* Reads a client and its credentials from the store, status as stored. */
mdt_rc mdt_iga__client_read(mdt_env *env, const char *client_id, mdt_arena *a,
                            struct mdt_client *out, mdt_err *err) MDT_WARN_UNUSED;
/* status, or "expired" when it is active or suspended and expires_at (not
 * 0) is not after now. Returns status itself or a static string. */
const char *mdt_iga__effective_status(const char *status, int64_t expires_at, int64_t now);
/* The status of c (as stored) at now: also "expired" past expires_at or, for
 * a self-registered client, past its inactivity deadline. */
const char *mdt_iga__client_status(const mdt_env *env, const struct mdt_client *c, int64_t now);
/* The status of a stored client at now, as its documents show it: rec's,
 * or "expired" past expires_at or the inactivity deadline of a
 * self-registered client. m: its parsed metadata (may be NULL); creds: its
 * credentials, or NULL to read them when the inactivity rule needs them. */
const char *mdt_iga__rec_status(mdt_env *env, const mdt_client_rec *rec, json_t *m,
                                const mdt_cred_rec *creds, size_t n, int64_t now);
/* {client_id, [client_secret, client_secret_expires_at,] client_id_issued_at,
 * ...metadata, status} of a stored client (a new reference; NULL on NOMEM or
 * unreadable metadata). creds: its credentials, or NULL to read them when
 * the inactivity rule needs them. */
json_t *mdt_iga__client_doc(mdt_env *env, const mdt_client_rec *rec, const mdt_cred_rec *creds,
                            size_t ncreds, const char *secret, int64_t now);

/* --- dynamic entitlements (entitlements.c) --- */

/* Merges into c (static entitlements from its metadata) the dynamic ones
 * of c->ents that are live at now (not ended, expires_at 0 or after now):
 * c->scopes becomes static ∪ their scopes, c->resources static ∪ their
 * resources (a scope+resource entitlement widens both lists), and c->ents
 * the ones behind a scope that is not static, the oldest per scope. Arrays
 * are new in a; the strings are shared. A pure function of c and now. */
mdt_rc mdt_iga__entitlements_merge(mdt_arena *a, struct mdt_client *c, int64_t now,
                                   mdt_err *err) MDT_WARN_UNUSED;

/* --- the per-thread client cache (client_cache.c) --- */

/* Records in this thread's cache that a credential was just used. */
void mdt_iga__cache_touched(const char *client_id, const char *cred_id, int64_t now);

/* --- configuration files (internal.c) --- */

/* Reads the JSON configuration file path, named by what (e.g. "[webhooks]
 * endpoints") in messages: at most max_bytes, duplicate members refused, an
 * array of at most max_items (noun: what they are, e.g. "endpoints").
 * MDT_ERR_CONFIG naming the file and the reason otherwise. *out: a new
 * reference, NULL on failure. */
mdt_rc mdt_iga__read_config_array(const char *path, const char *what, long max_bytes,
                                  size_t max_items, const char *noun, json_t **out,
                                  mdt_err *err) MDT_WARN_UNUSED;

/* --- webhook notifications (webhooks.c) --- */

/* The deliveries of one notification (type, e.g. "request.pending"; item: a
 * JSON object, borrowed) to every endpoint of env->webhooks, due at now,
 * sharing one new event id: *ev (in a) and *nev (0 when there are no
 * webhooks), to be stored with what they notify. */
mdt_rc mdt_iga__webhook_events(mdt_env *env, const char *type, json_t *item, int64_t now,
                               mdt_arena *a, mdt_outbox_rec **ev, size_t *nev,
                               mdt_err *err) MDT_WARN_UNUSED;

/* --- approval requests (requests.c, request_types.c) ---
 *
 * A type of approval request is one row: what the decision path asks of the
 * service that owns requests of that type. requests.c dispatches on the
 * stored type through a table of rows (request_types.c); adding a type
 * (access requests, CIBA, device approvals) is one more file with its row
 * and one more line in that table. Every hook may be NULL (nothing to do). */
typedef struct {
    const char *name;      /* the stored type, e.g. "registration" */
    /* whom the type trusts to decide besides approvers: the default route,
       and who an `owner` or `user` routing rule may name (iga/routing.h) */
    bool owner_may_decide; /* the owner of the request's client may decide it */
    /* The person the request asks (its subject) decides it first (their
     * consent): alone by default; when routing names others (the owner,
     * approvers, a quorum), they decide after the person allowed. */
    bool subject_may_decide;
    /* Before an approval of a pending request is recorded: MDT_OK when it
     * may be approved (otherwise nothing is recorded). */
    mdt_rc (*validate)(mdt_env *env, const mdt_request_rec *r, mdt_arena *a, mdt_err *err);
    /* Adds to doc (the request's JSON object in listings) what approvers
     * are shown of a pending request. */
    void (*describe)(mdt_env *env, const mdt_request_rec *r, mdt_arena *a, json_t *doc);
    /* After the final decision is recorded and audited (under a quorum:
     * the vote that completed or denied it): apply it, ctx acting for
     * whoever decided (r->decided_by). denied also runs when the request
     * expired (r->status "expired", ctx acting for the server). */
    mdt_rc (*approved)(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, int64_t for_secs,
                       mdt_err *err);
    mdt_rc (*denied)(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, mdt_err *err);
} mdt_request_type;

typedef struct {
    const mdt_request_type *const *types;
    size_t n;
} mdt_request_types;

/* Every type this server knows (request_types.c). */
extern const mdt_request_types mdt_iga__request_types;
/* The types, one row each, defined beside the service they belong to. */
extern const mdt_request_type mdt_iga__request_registration; /* registration.c */
extern const mdt_request_type mdt_iga__request_device; /* request_device.c */
extern const mdt_request_type mdt_iga__request_ciba;         /* request_ciba.c */
extern const mdt_request_type mdt_iga__request_access;       /* request_access.c */

/* The row of name in reg; NULL when unknown. */
const mdt_request_type *mdt_iga__request_type_find(const mdt_request_types *reg,
                                                   const char *name);
/* Closes every pending request of this type for client_id as denied by
 * ctx's actor with the note "superseded" (the client changed what it asks
 * for; a newer request shows it), without applying the denial. Audited:
 * request.superseded. */
mdt_rc mdt_request_supersede(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *type,
                             mdt_arena *a, mdt_err *err) MDT_WARN_UNUSED;

/* mdt_request_create, mdt_request_list_json (only client_id's requests when
 * not NULL: mdt_request_list_client_json) and mdt_request_decide
 * (requests.h) over the types of reg. */
mdt_rc mdt_iga__request_create_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                  const mdt_request_rec *r, mdt_arena *a, const char **id,
                                  mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_iga__request_list_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                const char *client_id, const char *status, mdt_arena *a,
                                const char **json, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_iga__request_decide_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                  const char *id, bool approve, const char *by, const char *note,
                                  int64_t for_secs, mdt_arena *a, const char **json,
                                  mdt_err *err) MDT_WARN_UNUSED;
/* mdt_request_may_decide and mdt_request_expire_due (requests.h) over the
 * types of reg. */
bool mdt_iga__request_may_decide_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                     const char *username, const mdt_request_rec *r);
mdt_rc mdt_iga__request_expire_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                  mdt_arena *a, size_t *closed, mdt_err *err) MDT_WARN_UNUSED;

#endif
