/* The one storage interface. Typed operations only: no SQL, rows or
 * database handles cross it. It is implemented once (sql.c) over two
 * drivers (sqlite.c, postgres.c: see driver.h); both pass the same
 * conformance tests (tests/unit/test_store.c).
 *
 * Threads: a store may be used from any number of threads at once; each
 * thread gets its own connection, opened on first use.
 * Memory: records returned through an mdt_arena live in that arena; the
 * caller never frees their fields.
 * Time: every "now" is passed in from the injected clock, never read from the
 * database. Times are seconds since the epoch; 0 means "none". */
#ifndef MDT_STORE_STORE_H
#define MDT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/mdt.h"

typedef struct mdt_store mdt_store;

#define MDT_HASH_LEN 32 /* SHA-256 */

/* A client: the fields Mandate decides on are typed; the full RFC 7591
 * metadata document (with the Mandate extensions, never a secret) is kept
 * as the JSON text the service layer produced. */
typedef struct {
    const char *client_id;
    const char *status;        /* active | pending | suspended | expired */
    const char *metadata;      /* JSON object text */
    int64_t created_at;
    int64_t updated_at;
    int64_t expires_at;        /* 0 = never */
    int64_t tokens_valid_after; /* tokens issued before this are revoked (kill switch) */
    int64_t version;           /* moves with every change of this client, its credentials or
                                  its entitlements (beside the clients counter); read only */
} mdt_client_rec;

/* A single-use identifier a decision consumes (a client assertion's jti),
 * recorded by the append that records the decision (mdt_audit_rec.uses) as
 * mdt_store_jti_use would record it. */
typedef struct {
    const char *issuer;
    const char *jti;
    int64_t expires_at;
} mdt_jti_use_rec;

/* A decision's premise about one client, checked when the event that
 * carries it is appended (mdt_audit_rec.checks): the client had this
 * version while the store's clients counter had the value clients. */
typedef struct {
    const char *client_id;
    int64_t version;
    int64_t clients;
} mdt_client_check;

typedef struct {
    const char *id;            /* "cred_..." */
    const char *client_id;
    const char *type;          /* secret | api_key | jwk | certificate | workload */
    uint8_t hash[MDT_HASH_LEN]; /* SHA-256 of the secret, for secret and api_key */
    int64_t created_at;
    int64_t expires_at;        /* 0 = never */
    int64_t last_used_at;      /* 0 = never */
    const char *name;          /* what it is, for people: a kid, a DN, an issuer and subject; "" */
} mdt_cred_rec;

typedef struct {
    const char *name;
    const char *description;
    const char *sensitivity;   /* none | consent | approval */
    const char *const *resources; /* NULL-terminated; may be NULL */
    int64_t created_at;
} mdt_scope_rec;

/* Opaque access tokens (and, later, refresh tokens). A token carries id, a
 * key that grows with time (so that inserts append to the table's indexes):
 * its row is found by id and the caller compares hash, the SHA-256 of the
 * token value, the only thing stored of its secret part. Rows of tokens
 * issued before ids existed (has_id false) are found by hash alone.
 * claims is the JSON object text introspection returns. */
#define MDT_TOKEN_ID_LEN 16
typedef struct {
    bool has_id;
    uint8_t id[MDT_TOKEN_ID_LEN];
    uint8_t hash[MDT_HASH_LEN];
    const char *jti;
    const char *client_id;
    const char *kind;          /* access | refresh */
    const char *claims;
    int64_t issued_at;
    int64_t expires_at;
    int64_t revoked_at;        /* 0 = not revoked */
} mdt_token_rec;

typedef struct {
    const char *kid;
    const char *alg;
    const uint8_t *sealed;     /* private key, AES-256-GCM sealed under the master key */
    size_t sealed_len;
    int64_t created_at;
    int64_t activate_at;       /* signs from this time */
    int64_t retire_at;         /* stops signing at this time (0 = not yet scheduled) */
    int64_t expire_at;         /* leaves the JWKS at this time (0 = not yet scheduled) */
} mdt_key_rec;

/* A human user. Usernames are unique regardless of ASCII case; lookups by
 * username are exact. */
typedef struct {
    const char *username;
    const char *name;          /* "" when none */
    const char *email;         /* "" when none */
    const char *roles;         /* space-separated, e.g. "admin approver"; "" when none */
    const char *status;        /* active | disabled */
    const char *password_hash; /* argon2id encoded string ("$argon2id$v=19$m=...") */
    int64_t created_at;
    int64_t updated_at;
} mdt_user_rec;

/* A person's web session (src/web/session.h), found by the SHA-256 of its
 * cookie value: the value itself is never stored. Expired sessions are
 * deleted by mdt_store_purge_expired a day after expires_at. */
typedef struct {
    uint8_t hash[MDT_HASH_LEN];
    const char *username;
    const char *amr;           /* space-separated authentication methods, e.g. "pwd" */
    int64_t auth_time;         /* when the person authenticated */
    int64_t created_at;
    int64_t last_seen_at;      /* for the idle limit */
    int64_t expires_at;        /* absolute limit */
    int64_t revoked_at;        /* 0 = not revoked */
} mdt_session_rec;

/* A pending authorization request (RFC 9126 PAR, or one waiting for login
 * or consent), referenced by its id in request_uri
 * "urn:mandate:authz:<id>": the request as validated. Optional text is
 * NULL when the request did not have it. */
typedef struct {
    const char *id;
    const char *client_id;
    const char *redirect_uri;   /* the selected one */
    bool redirect_given;        /* redirect_uri was in the request */
    const char *scope;          /* granted, space-separated */
    const char *resource;       /* RFC 8707; NULL */
    const char *state;          /* NULL */
    const char *nonce;          /* NULL */
    const char *code_challenge; /* S256 */
    const char *prompt;         /* NULL, or space-separated none|login|consent */
    int64_t max_age;            /* -1: none */
    int64_t login_after;        /* the session must be from this time or later; 0 */
    bool pushed;                /* stored by /par */
    bool form_post;             /* response_mode=form_post */
    int64_t created_at;
    int64_t expires_at;
    const char *dpop_jkt;       /* RFC 9449 §10: the DPoP key its code is bound to; NULL */
} mdt_authz_request_rec;

/* An authorization code, found by the SHA-256 of the code, and what it is
 * bound to (redirect_uri, code_challenge, scope, resource, nonce, and the
 * sign-in: auth_time, amr, sid). access_jti and family: what its
 * redemption issues (the access token's jti, the refresh token family, ""
 * when none), recorded by the statement that uses the code and valid until
 * tokens_expire_at. token_jtis: the same as a space-separated list, as
 * codes used before access_jti and family existed recorded them. */
typedef struct {
    uint8_t hash[MDT_HASH_LEN];
    const char *client_id;
    const char *username;
    const char *redirect_uri;
    bool redirect_given;       /* redirect_uri was in the request (then required at /token) */
    const char *code_challenge; /* S256 */
    const char *scope;         /* granted, space-separated */
    const char *resource;      /* RFC 8707; NULL */
    const char *nonce;         /* NULL */
    int64_t auth_time;         /* when the person signed in */
    const char *amr;           /* how; "" when unknown */
    const char *sid;           /* the ID token's sid; NULL */
    int64_t created_at;
    int64_t expires_at;
    int64_t used_at;           /* 0 = not used */
    const char *token_jtis;
    int64_t tokens_expire_at;
    const char *access_jti;
    const char *family;
    const char *dpop_jkt;      /* RFC 9449 §10: the DPoP key it must be redeemed with; NULL */
} mdt_authz_code_rec;

/* What the redemption of a code will issue, recorded in the statement that
 * uses the code, so that a replay racing the redemption, or a revocation of
 * the grant, finds them even before they are minted. */
typedef struct {
    const char *access_jti;    /* the access token's jti */
    const char *family;        /* the refresh token family; "" when none */
    int64_t expires_at;        /* none of them is valid after this */
} mdt_code_issue;

/* A refresh token (src/oauth/refresh.h), found by the SHA-256 of its value:
 * the value itself is never stored. Each rotation inserts a row in the same
 * family; parent is the hash of the row it replaced (zeros for the first).
 * access_jti/access_exp: the access token issued with this refresh token. */
typedef struct {
    uint8_t hash[MDT_HASH_LEN];
    const char *family;        /* "rtf_..." */
    uint8_t parent[MDT_HASH_LEN];
    const char *client_id;
    const char *subject;       /* the user */
    const char *scope;         /* the grant's scope, space-separated */
    const char *resource;      /* RFC 8707 resource of the grant; "" when none */
    int64_t auth_time;
    const char *amr;           /* "" when none */
    const char *sid;           /* "" when none */
    const char *cnf_x5t;       /* RFC 8705 binding of the grant; "" when none */
    const char *cnf_jkt;       /* RFC 9449 binding of a public client's grant; "" when none */
    int64_t created_at;
    int64_t expires_at;
    int64_t used_at;           /* 0 = not used (rotated) yet */
    int64_t revoked_at;        /* 0 = not revoked */
    const char *access_jti;    /* "" when none */
    int64_t access_exp;
} mdt_refresh_rec;

/* The scopes a person consented to for a client (space-separated). */
typedef struct {
    const char *username;
    const char *client_id;
    const char *scope;
    int64_t created_at;
    int64_t updated_at;
} mdt_consent_rec;

/* An initial access token for dynamic registration (RFC 7591 §3), found by
 * the SHA-256 of its value. */
typedef struct {
    const char *id;            /* "iat_..." */
    uint8_t hash[MDT_HASH_LEN];
    const char *policy;        /* JSON object text; "" when none */
    int64_t max_uses;          /* >= 1 */
    int64_t uses;
    int64_t created_at;
    int64_t expires_at;        /* 0 = never */
    const char *created_by;
} mdt_iat_rec;

/* A request that waits for a human decision: a pending registration, and
 * later access requests, CIBA and device authorizations. Text fields that do
 * not apply are NULL. */
typedef struct {
    const char *id;            /* "req_..." */
    const char *type;          /* access_request | ciba | device | registration */
    const char *status;        /* pending | approved | denied | expired (expired is also
                                  derived: pending past expires_at) */
    const char *client_id;
    const char *subject;
    const char *scope;
    const char *resource;
    const char *binding_message;
    const char *authorization_details; /* JSON array text */
    int64_t created_at;
    int64_t expires_at;        /* 0 = never */
    const char *decided_by;
    int64_t decided_at;        /* 0 = not decided */
    const char *note;
    const char *metadata_hash; /* registration: hex SHA-256 of the metadata shown; NULL */
    const char *justification; /* access_request: why the client asks; NULL */
    int64_t duration;          /* access_request: seconds asked; 0: none */
} mdt_request_rec;

/* A dynamic entitlement: the right of a client to obtain a scope
 * (optionally for a resource) until expires_at, given by an approved access
 * request. Static entitlements are the client's metadata, not rows. */
typedef struct {
    const char *id;            /* "ent_..." */
    const char *client_id;
    const char *scope;
    const char *resource;      /* NULL: none */
    const char *request_id;    /* the approval request behind it; NULL */
    const char *approved_by;   /* who approved it */
    int64_t created_at;
    int64_t expires_at;        /* 0 = never */
    int64_t ended_at;          /* 0 = not ended early (revoked) */
} mdt_entitlement_rec;

/* A device authorization (RFC 8628): the device_code and the user code are
 * kept as SHA-256 hashes only. request_id names the approval request
 * created when a person entered the user code (NULL before: the user code
 * can be entered once). */
typedef struct {
    uint8_t hash[MDT_HASH_LEN];      /* SHA-256 of the device_code */
    uint8_t user_hash[MDT_HASH_LEN]; /* SHA-256 of the normalised user code */
    const char *client_id;
    const char *scope;               /* requested, space-separated; "" when none */
    const char *resource;            /* RFC 8707; NULL when none */
    const char *request_id;          /* "req_..."; NULL until the user code is entered */
    int64_t interval;                /* seconds between two polls */
    int64_t last_poll;               /* 0 = never polled */
    int64_t created_at;
    int64_t expires_at;
    int64_t consumed_at;             /* 0 = tokens not issued yet */
    bool slow_down;                  /* mdt_store_device_poll: this poll came too soon */
} mdt_device_rec;
/* One approver's vote on a request that needs a quorum. */
typedef struct {
    const char *request_id;
    const char *approver;
    const char *decision;      /* allow | deny */
    const char *note;          /* NULL: none */
    int64_t voted_at;
} mdt_vote_rec;

/* One delivery of a webhook notification: the event (event_id, the body
 * that is signed and sent) to one endpoint (url). */
typedef struct {
    const char *id;            /* "obx_...": this delivery */
    const char *event_id;     /* the event, the same for every endpoint and attempt */
    const char *url;
    const char *body;          /* JSON text */
    int64_t created_at;
    int64_t next_at;           /* due at */
    int64_t attempts;          /* attempts started so far */
    int64_t lease_until;       /* claimed by a node until then; 0: not claimed */
} mdt_outbox_rec;
/* A CIBA backchannel authentication request (poll mode), found by the
 * SHA-256 of its auth_req_id: the approval request it waits on and the
 * client's polls. */
typedef struct {
    const char *request_id;    /* the approval request, "req_..." */
    const char *client_id;     /* the client that asked; only it may poll */
    int64_t interval;          /* seconds the client waits between polls */
    int64_t last_poll;         /* mdt_store_ciba_poll: the poll before this one; 0: none */
    int64_t expires_at;
    int64_t consumed_at;       /* 0: tokens not issued yet */
} mdt_ciba_rec;

/* Usage of a client, counted in memory and written in batches
 * (iga/usage.h): the last time a token with this scope was issued to the
 * client. */
typedef struct {
    const char *client_id;
    const char *scope;
    int64_t last_used_at;
} mdt_usage_scope_rec;

/* Tokens issued to a client on one day (day: days since the epoch, UTC) and
 * the last time one was. */
typedef struct {
    const char *client_id;
    int64_t day;
    int64_t tokens;
    int64_t last_used_at;
} mdt_usage_day_rec;

/* A decision of an access review (iga/review.h) on a finding. */
typedef struct {
    const char *id;            /* "rvd_..." */
    const char *finding_id;    /* "fnd_..." */
    const char *kind;          /* the finding's kind */
    const char *client_id;
    const char *decision;      /* certify | revoke */
    const char *note;          /* "" when none */
    int64_t until;             /* certify: quiet until then; 0 for revoke */
    const char *decided_by;
    int64_t decided_at;
} mdt_review_decision_rec;

/* A text of Cedar policies of the embedded PDP (policy/policies.h). */
typedef struct {
    const char *id;          /* [A-Za-z0-9._:-]{1,128} */
    const char *text;        /* Cedar policy text: one policy or several */
    const char *description; /* NULL when none */
    int64_t created_at;
    int64_t updated_at;
    const char *created_by;  /* the actor who added it */
} mdt_policy_rec;

/* An audit event. The store assigns seq and asks the caller for the hash
 * inside the same transaction, so that the chain is serialised across
 * threads, processes and nodes. */
typedef struct {
    int64_t seq;
    int64_t time;
    const char *type;          /* token.issued, token.refused, client.auth_failed, ... */
    const char *body;          /* canonical JSON text of the event */
    const char *client_id;     /* the client the event is about (the body's client_id), kept
                                  beside it for mdt_store_audit_each_client; NULL: none */
    uint8_t prev_hash[MDT_HASH_LEN];
    uint8_t hash[MDT_HASH_LEN];
    const mdt_token_rec *token; /* NULL, or an opaque token's row, inserted in the same
                                   transaction just before the event (see
                                   mdt_audit_event.token) */
    /* The premises of the decision the event records: inside the append's
     * transaction, when the clients counter is no longer a check's, the
     * client's own version is read, and if it moved (or the client is gone)
     * the event is not appended: refused is set to MDT_ERR_CONFLICT and
     * the other events of the call are appended without it. */
    const mdt_client_check *checks;
    size_t nchecks;
    /* Single-use identifiers the decision consumes, recorded (at the event's
     * time) in the same transaction, once its premises hold. When one is
     * still live (a replay), the event is not appended: replay_type and
     * replay_body (when set) are appended in its place, and refused is set
     * with replayed. */
    const mdt_jti_use_rec *uses;
    size_t nuses;
    const char *replay_type, *replay_body;
    mdt_rc refused; /* out */
    bool replayed;  /* out */
} mdt_audit_rec;

/* A signed checkpoint of the audit chain: the n-th checkpoint says that
 * event seq had hash head at time; jws is its compact JWS (src/audit/checkpoint.c). */
typedef struct {
    int64_t n;
    int64_t seq;
    int64_t time;
    uint8_t head[MDT_HASH_LEN];
    const char *jws;
} mdt_audit_checkpoint_rec;
/* Called for each checkpoint in order of n; return false to stop. */
typedef bool (*mdt_audit_checkpoint_fn)(const mdt_audit_checkpoint_rec *c, void *ctx);

/* Computes ev->hash from ev->prev_hash, ev->seq and ev->body. */
typedef void (*mdt_audit_hash_fn)(mdt_audit_rec *ev);
/* Called for each event in seq order; return false to stop. */
typedef bool (*mdt_audit_each_fn)(const mdt_audit_rec *ev, void *ctx);

/* --- lifecycle --- */
/* url: "sqlite:PATH" (PATH relative to the working directory) or
 * "postgresql://...". Does not create the schema: see mdt_store_migrate. */
mdt_rc mdt_store_open(const char *url, mdt_store **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_store_close(mdt_store *s);
/* Applies the pending versioned migrations; idempotent. */
mdt_rc mdt_store_migrate(mdt_store *s, mdt_err *err) MDT_WARN_UNUSED;
/* Schema version in use (0 when never migrated). */
mdt_rc mdt_store_schema_version(mdt_store *s, int *out, mdt_err *err) MDT_WARN_UNUSED;
/* Cheap check that the database answers (for /readyz). */
mdt_rc mdt_store_ping(mdt_store *s, mdt_err *err) MDT_WARN_UNUSED;
/* Releases this thread's connection (call before a worker thread exits). */
void mdt_store_thread_done(mdt_store *s);

/* A read scope: the reads the calling thread makes between
 * mdt_store_read_begin and mdt_store_read_end share one read transaction,
 * so they see one snapshot and pay for one transaction (on SQLite each read
 * outside a scope is its own transaction: two locks, and a check of the
 * page cache against the log). Scopes nest; the outermost end closes it.
 * - Nothing is read ahead: the transaction starts with the scope's first
 *   read, so a scope that reads nothing costs nothing.
 * - Anything that writes inside a scope (an operation that runs a
 *   transaction, or a single write statement) first ends the scope's
 *   transaction, then runs as it does outside a scope; the scope's later
 *   reads then run alone, each seeing what was written.
 * - While the scope's transaction is open, the clients counter
 *   (mdt_store_clients_version) is read once.
 * - A scope must end before the work it covers is answered: an open read
 *   transaction pins the SQLite log, which cannot restart under it. The
 *   server checks after every handler (mdt_store_read_reset).
 * PostgreSQL: every statement already sees the latest commit and is one
 * round trip, so a scope only counts its nesting there. The three cannot
 * fail: when a transaction cannot be opened, the read fails as any read
 * does; a read-only transaction that cannot be committed is rolled back. */
void mdt_store_read_begin(mdt_store *s);
void mdt_store_read_end(mdt_store *s);
/* Ends every read scope the calling thread left open; returns how many
 * were open (0 when every begin had its end). */
int mdt_store_read_reset(mdt_store *s);
/* Starts the backend's housekeeping for a long-running server (SQLite: a
 * thread that checkpoints the WAL, so that request threads never do);
 * stopped by mdt_store_close. Short-lived processes need not call it. */
mdt_rc mdt_store_background_start(mdt_store *s, mdt_err *err) MDT_WARN_UNUSED;

/* --- clients --- (MDT_ERR_NOT_FOUND, MDT_ERR_CONFLICT when client_id exists) */
/* Inserts the client and its credentials in one transaction. */
mdt_rc mdt_store_client_insert(mdt_store *s, const mdt_client_rec *c, const mdt_cred_rec *creds,
                               size_t ncreds, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_client_get(mdt_store *s, const char *client_id, mdt_arena *a,
                            mdt_client_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Ordered by client_id. */
mdt_rc mdt_store_client_list(mdt_store *s, mdt_arena *a, mdt_client_rec **out, size_t *n,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Replaces status, metadata, updated_at, expires_at and tokens_valid_after. */
mdt_rc mdt_store_client_update(mdt_store *s, const mdt_client_rec *c, mdt_err *err) MDT_WARN_UNUSED;
/* Replaces the client as mdt_store_client_update does and, in the same
 * transaction, inserts add[] and deletes the credentials of the client whose
 * ids are in del[]. */
mdt_rc mdt_store_client_update_creds(mdt_store *s, const mdt_client_rec *c, const mdt_cred_rec *add,
                                     size_t nadd, const char *const *del, size_t ndel,
                                     mdt_err *err) MDT_WARN_UNUSED;
/* Deletes the client, its credentials and its opaque tokens, and leaves a
 * tombstone (client_id, now): a client created again under that id gets
 * tokens_valid_after past now, so the deleted client's tokens stay inactive. */
mdt_rc mdt_store_client_delete(mdt_store *s, const char *client_id, int64_t now,
                               mdt_err *err) MDT_WARN_UNUSED;
/* When a client of that id was last deleted; *deleted_at 0: never. */
mdt_rc mdt_store_client_deleted_at(mdt_store *s, const char *client_id, int64_t *deleted_at,
                                   mdt_err *err) MDT_WARN_UNUSED;

/* --- credentials --- */
mdt_rc mdt_store_cred_insert(mdt_store *s, const mdt_cred_rec *c, mdt_err *err) MDT_WARN_UNUSED;
/* All credentials of a client, oldest first, expired ones included. */
mdt_rc mdt_store_cred_list(mdt_store *s, const char *client_id, mdt_arena *a, mdt_cred_rec **out,
                           size_t *n, mdt_err *err) MDT_WARN_UNUSED;
/* The last use of each client: the latest last_used_at of its credentials,
 * for the clients with a credential used at least once, ordered by
 * client_id (one statement, for lists of clients). */
typedef struct {
    const char *client_id;
    int64_t last_used_at;
} mdt_client_last_use;
mdt_rc mdt_store_cred_last_used(mdt_store *s, mdt_arena *a, mdt_client_last_use **out, size_t *n,
                                mdt_err *err) MDT_WARN_UNUSED;
/* Sets expires_at of every credential of client_id of this type whose
 * expires_at is 0 or later than expires_at, except keep_id. (Secret rotation.) */
mdt_rc mdt_store_cred_expire_others(mdt_store *s, const char *client_id, const char *type,
                                    const char *keep_id, int64_t expires_at,
                                    mdt_err *err) MDT_WARN_UNUSED;
/* One credential by id (API keys name theirs). MDT_ERR_NOT_FOUND. */
mdt_rc mdt_store_cred_get(mdt_store *s, const char *id, mdt_arena *a, mdt_cred_rec *out,
                          mdt_err *err) MDT_WARN_UNUSED;
/* The oldest credential of this type with this hash (workload identities are
 * found by the hash of issuer and subject). MDT_ERR_NOT_FOUND. */
mdt_rc mdt_store_cred_find(mdt_store *s, const char *type, const uint8_t hash[MDT_HASH_LEN],
                           mdt_arena *a, mdt_cred_rec *out, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_cred_touch(mdt_store *s, const char *id, int64_t now, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_cred_delete(mdt_store *s, const char *client_id, const char *id,
                             mdt_err *err) MDT_WARN_UNUSED;

/* A counter incremented in the same transaction as every change of a
 * client or of its credentials (client_insert/update/delete,
 * cred_insert/expire_others/delete; not cred_touch): a cache of clients is
 * current while this has not moved. */
mdt_rc mdt_store_clients_version(mdt_store *s, int64_t *out, mdt_err *err) MDT_WARN_UNUSED;
/* The clients counter as this process last saw it, when it saw it at most
 * max_age_us ago (read by a request, or by an audit append that checked a
 * premise; forgotten when this process changes a client); else read as by
 * mdt_store_clients_version. Only for decisions whose events carry their
 * premises (mdt_client_check), which the append checks. */
mdt_rc mdt_store_clients_version_recent(mdt_store *s, int64_t max_age_us, int64_t *out,
                                        mdt_err *err) MDT_WARN_UNUSED;

/* --- dynamic entitlements --- */
/* Inserts one, moving the clients counter in the same transaction (the
 * client cache of every node sees it at once). MDT_ERR_NOT_FOUND when the
 * client does not exist; MDT_ERR_CONFLICT when the id does. */
mdt_rc mdt_store_entitlement_insert(mdt_store *s, const mdt_entitlement_rec *e,
                                    mdt_err *err) MDT_WARN_UNUSED;
/* The entitlements of client_id live at now (not ended, expires_at 0 or
 * after now), ordered by created_at, then id. */
mdt_rc mdt_store_entitlement_list(mdt_store *s, const char *client_id, int64_t now, mdt_arena *a,
                                  mdt_entitlement_rec **out, size_t *n,
                                  mdt_err *err) MDT_WARN_UNUSED;
/* Ends entitlement id of client_id at now, in one statement, moving the
 * clients counter in the same transaction; *out: it after the change.
 * MDT_ERR_NOT_FOUND when no such entitlement is live at now. */
mdt_rc mdt_store_entitlement_end(mdt_store *s, const char *client_id, const char *id, int64_t now,
                                 mdt_arena *a, mdt_entitlement_rec *out,
                                 mdt_err *err) MDT_WARN_UNUSED;

/* --- scopes --- */
mdt_rc mdt_store_scope_insert(mdt_store *s, const mdt_scope_rec *sc, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_scope_get(mdt_store *s, const char *name, mdt_arena *a, mdt_scope_rec *out,
                           mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_scope_list(mdt_store *s, mdt_arena *a, mdt_scope_rec **out, size_t *n,
                            mdt_err *err) MDT_WARN_UNUSED;

/* --- tokens --- */
mdt_rc mdt_store_token_insert(mdt_store *s, const mdt_token_rec *t, mdt_err *err) MDT_WARN_UNUSED;
/* id: the row with that id (the caller compares its hash with the token's,
 * in constant time); NULL: the row without id whose hash is hash. */
mdt_rc mdt_store_token_get(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                           mdt_arena *a, mdt_token_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Sets revoked_at if not yet revoked; MDT_ERR_NOT_FOUND when unknown. The
 * row is found as mdt_store_token_get finds it (by id and hash, or by hash
 * among the rows without id). */
mdt_rc mdt_store_token_revoke(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                              int64_t now, mdt_err *err) MDT_WARN_UNUSED;
/* Revocation list for self-contained (JWT) tokens, by jti. expires_at is the
 * token's exp, after which the entry may be purged. Idempotent. */
mdt_rc mdt_store_jti_revoke(mdt_store *s, const char *jti, const char *client_id,
                            int64_t expires_at, int64_t now, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_jti_is_revoked(mdt_store *s, const char *jti, bool *out,
                                mdt_err *err) MDT_WARN_UNUSED;
/* Replay cache of single-use identifiers (client assertion jti, DPoP jti):
 * records (issuer, jti) until expires_at. MDT_ERR_CONFLICT when the pair was
 * recorded before and has not expired at now: a replay. Atomic across
 * threads, processes and nodes. */
mdt_rc mdt_store_jti_use(mdt_store *s, const char *issuer, const char *jti, int64_t expires_at,
                         int64_t now, mdt_err *err) MDT_WARN_UNUSED;
/* A pending use (*u, left to a commit that did not come: its request was
 * refused) recorded now, and *u cleared: MDT_OK when none was pending, else
 * as mdt_store_jti_use. */
mdt_rc mdt_store_jti_use_pending(mdt_store *s, mdt_jti_use_rec *u, int64_t now,
                                 mdt_err *err) MDT_WARN_UNUSED;
/* Deletes expired opaque tokens, revocation and replay entries, rate
 * windows older than a day, entitlements ended or expired more than
 * MDT_ENTITLEMENT_KEEP seconds ago, and daily usage rows older than 400 days. */
#define MDT_ENTITLEMENT_KEEP (30 * 86400)
mdt_rc mdt_store_purge_expired(mdt_store *s, int64_t now, mdt_err *err) MDT_WARN_UNUSED;

/* --- signing keys --- */
mdt_rc mdt_store_key_insert(mdt_store *s, const mdt_key_rec *k, mdt_err *err) MDT_WARN_UNUSED;
/* Ordered by activate_at, then created_at. */
mdt_rc mdt_store_key_list(mdt_store *s, mdt_arena *a, mdt_key_rec **out, size_t *n,
                          mdt_err *err) MDT_WARN_UNUSED;
/* Sets retire_at and expire_at of one key. */
mdt_rc mdt_store_key_schedule(mdt_store *s, const char *kid, int64_t retire_at, int64_t expire_at,
                              mdt_err *err) MDT_WARN_UNUSED;

/* --- users --- */
/* MDT_ERR_CONFLICT when the username exists (in any ASCII case). */
mdt_rc mdt_store_user_insert(mdt_store *s, const mdt_user_rec *u, mdt_err *err) MDT_WARN_UNUSED;
/* MDT_ERR_NOT_FOUND when unknown. */
mdt_rc mdt_store_user_get(mdt_store *s, const char *username, mdt_arena *a, mdt_user_rec *out,
                          mdt_err *err) MDT_WARN_UNUSED;
/* Ordered by username. */
mdt_rc mdt_store_user_list(mdt_store *s, mdt_arena *a, mdt_user_rec **out, size_t *n,
                           mdt_err *err) MDT_WARN_UNUSED;
/* Replaces name, email, roles, status, password_hash and updated_at of
 * u->username; MDT_ERR_NOT_FOUND when unknown. */
mdt_rc mdt_store_user_update(mdt_store *s, const mdt_user_rec *u, mdt_err *err) MDT_WARN_UNUSED;
/* Number of users, disabled ones included. */
mdt_rc mdt_store_user_count(mdt_store *s, int64_t *out, mdt_err *err) MDT_WARN_UNUSED;

/* --- initial access tokens --- (MDT_ERR_CONFLICT when id or hash exists) */
mdt_rc mdt_store_iat_insert(mdt_store *s, const mdt_iat_rec *t, mdt_err *err) MDT_WARN_UNUSED;
/* By the hash of the token value, whatever its uses and expiry. MDT_ERR_NOT_FOUND. */
mdt_rc mdt_store_iat_find(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_iat_rec *out, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_iat_get(mdt_store *s, const char *id, mdt_arena *a, mdt_iat_rec *out,
                         mdt_err *err) MDT_WARN_UNUSED;
/* Consumes one use of the token id in one statement (two threads or nodes cannot both take
 * the last one): MDT_OK with the token after the use, or MDT_ERR_NOT_FOUND
 * when it is unknown, exhausted or expired at now. */
mdt_rc mdt_store_iat_consume(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                             mdt_iat_rec *out, mdt_err *err) MDT_WARN_UNUSED;

/* --- approval requests --- */
mdt_rc mdt_store_request_insert(mdt_store *s, const mdt_request_rec *r,
                                mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_request_get(mdt_store *s, const char *id, mdt_arena *a, mdt_request_rec *out,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Ordered by created_at, then id. */
mdt_rc mdt_store_request_list(mdt_store *s, mdt_arena *a, mdt_request_rec **out, size_t *n,
                              mdt_err *err) MDT_WARN_UNUSED;
/* How many requests are still pending and not expired at now (the
 * mandate_approvals_pending gauge). */
mdt_rc mdt_store_request_count_pending(mdt_store *s, int64_t now, int64_t *out,
                                       mdt_err *err) MDT_WARN_UNUSED;
/* The requests still pending and not expired at now (what an inbox may
 * show), ordered by created_at, then id. */
mdt_rc mdt_store_request_list_pending(mdt_store *s, int64_t now, mdt_arena *a,
                                      mdt_request_rec **out, size_t *n,
                                      mdt_err *err) MDT_WARN_UNUSED;
/* Records a decision in one statement: sets status (approved | denied),
 * decided_by, decided_at = now and note of a request that is still pending
 * and not expired at now, and returns it in *out. MDT_ERR_NOT_FOUND when no
 * such request (unknown, decided or expired). */
mdt_rc mdt_store_request_decide(mdt_store *s, const char *id, const char *status,
                                const char *decided_by, const char *note, int64_t now,
                                mdt_arena *a, mdt_request_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* mdt_store_request_insert and, in the same transaction, the deliveries
 * ev[0..nev) of the notification of the new request (a restart loses
 * none). */
mdt_rc mdt_store_request_insert_notify(mdt_store *s, const mdt_request_rec *r,
                                       const mdt_outbox_rec *ev, size_t nev,
                                       mdt_err *err) MDT_WARN_UNUSED;
/* Records the vote of approver on a request that needs `quorum` distinct
 * approvals, in one transaction that first locks the request row (two
 * nodes voting at once neither lose a vote nor count one twice): a deny
 * decides it denied; an allow that makes `quorum` distinct allows decides
 * it approved (decided_by approver, note); otherwise it stays pending.
 * *out: the request after the vote; *allows: the distinct allows so far.
 * MDT_ERR_NOT_FOUND when no request with this id is pending and unexpired
 * at now; MDT_ERR_CONFLICT when approver has voted on it already (nothing
 * changes). */
mdt_rc mdt_store_request_vote(mdt_store *s, const char *id, const char *approver, bool approve,
                              int64_t quorum, const char *note, int64_t now, mdt_arena *a,
                              mdt_request_rec *out, int64_t *allows, mdt_err *err) MDT_WARN_UNUSED;
/* Every vote, ordered by request, time and approver. */
mdt_rc mdt_store_vote_list(mdt_store *s, mdt_arena *a, mdt_vote_rec **out, size_t *n,
                           mdt_err *err) MDT_WARN_UNUSED;
/* The votes on one request, ordered by time and approver. */
mdt_rc mdt_store_request_votes(mdt_store *s, const char *id, mdt_arena *a, mdt_vote_rec **out,
                               size_t *n, mdt_err *err) MDT_WARN_UNUSED;
/* Closes, in one statement, at most limit requests still pending with
 * expires_at (not 0) at or before now, earliest first: status "expired",
 * decided_at now. Returns them, so that each is closed (and audited) by
 * exactly one caller across threads and nodes. */
mdt_rc mdt_store_request_expire_due(mdt_store *s, int64_t now, int64_t limit, mdt_arena *a,
                                    mdt_request_rec **out, size_t *n, mdt_err *err) MDT_WARN_UNUSED;

/* --- webhook outbox --- */
/* Claims at most limit deliveries due at now and not leased, in one
 * statement: each gets lease_until and one more attempt, and is returned
 * (with those values) to exactly one caller. */
mdt_rc mdt_store_outbox_claim(mdt_store *s, int64_t now, int64_t lease_until, int64_t limit,
                              mdt_arena *a, mdt_outbox_rec **out, size_t *n,
                              mdt_err *err) MDT_WARN_UNUSED;
/* Removes a delivery (delivered, or given up). */
mdt_rc mdt_store_outbox_delete(mdt_store *s, const char *id, mdt_err *err) MDT_WARN_UNUSED;
/* Releases a claimed delivery to be tried again at next_at. */
mdt_rc mdt_store_outbox_retry(mdt_store *s, const char *id, int64_t next_at,
                              mdt_err *err) MDT_WARN_UNUSED;
/* Every delivery not yet done, oldest first. */
mdt_rc mdt_store_outbox_list(mdt_store *s, mdt_arena *a, mdt_outbox_rec **out, size_t *n,
                             mdt_err *err) MDT_WARN_UNUSED;

/* --- device authorizations (RFC 8628) --- */
/* MDT_ERR_CONFLICT when the device_code's or the user code's hash exists. */
mdt_rc mdt_store_device_insert(mdt_store *s, const mdt_device_rec *d,
                               mdt_err *err) MDT_WARN_UNUSED;
/* The authorization of a user code not entered yet, not expired at now and
 * not redeemed; MDT_ERR_NOT_FOUND otherwise. */
mdt_rc mdt_store_device_find_user(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN],
                                  int64_t now, mdt_arena *a, mdt_device_rec *out,
                                  mdt_err *err) MDT_WARN_UNUSED;
/* Binds the approval request request_id to the authorization of a user
 * code, in one statement (UPDATE ... WHERE request_id IS NULL AND
 * expires_at > now RETURNING): a user code is entered once.
 * MDT_ERR_NOT_FOUND when unknown, expired or already entered. */
mdt_rc mdt_store_device_bind(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN],
                             const char *request_id, int64_t now, mdt_arena *a,
                             mdt_device_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Records a poll of the device_code by client_id at now, in one statement:
 * out->slow_down when it came less than interval seconds after the last
 * one, which then adds 5 seconds to interval (RFC 8628 §3.5; up to 300).
 * Expired and redeemed authorizations are returned too (the caller tells
 * them apart). MDT_ERR_NOT_FOUND when unknown or of another client (then
 * nothing changes). */
mdt_rc mdt_store_device_poll(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                             const char *client_id, int64_t now, mdt_arena *a,
                             mdt_device_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* The authorization of device_code for client_id as mdt_store_device_poll
 * returns it, without recording a poll (read-only). MDT_ERR_NOT_FOUND when
 * unknown or of another client. */
mdt_rc mdt_store_device_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                            mdt_arena *a, mdt_device_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Redeems the device_code in one statement (consumed_at = now where it was
 * 0, the client matches and it has not expired): only one redemption wins.
 * MDT_ERR_NOT_FOUND otherwise. */
mdt_rc mdt_store_device_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                                const char *client_id, int64_t now, mdt_arena *a,
                                mdt_device_rec *out, mdt_err *err) MDT_WARN_UNUSED;

/* --- CIBA requests, single-use tokens --- */
mdt_rc mdt_store_ciba_insert(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                             const mdt_ciba_rec *r, mdt_err *err) MDT_WARN_UNUSED;
/* Records a poll at now by client_id in one statement and returns the
 * request with out->last_poll the time of the poll before this one (0:
 * none). MDT_ERR_NOT_FOUND when no request has this hash for this client. */
mdt_rc mdt_store_ciba_poll(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                           int64_t now, mdt_arena *a, mdt_ciba_rec *out,
                           mdt_err *err) MDT_WARN_UNUSED;
/* The request as mdt_store_ciba_poll returns it, out->last_poll the last
 * poll, without recording one (read-only). MDT_ERR_NOT_FOUND as there. */
mdt_rc mdt_store_ciba_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                          mdt_arena *a, mdt_ciba_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Marks the request redeemed at now in one statement (two threads or
 * nodes cannot both win). MDT_ERR_NOT_FOUND when unknown or redeemed. */
mdt_rc mdt_store_ciba_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                              mdt_err *err) MDT_WARN_UNUSED;
/* Records that the access token jti may be used once (kept until
 * expires_at). */
mdt_rc mdt_store_single_use_add(mdt_store *s, const char *jti, int64_t expires_at,
                                mdt_err *err) MDT_WARN_UNUSED;
/* Counts one use of a single-use token in one statement: *uses is the
 * count after it (1: the first use). MDT_ERR_NOT_FOUND when jti is not a
 * single-use token. */
mdt_rc mdt_store_single_use_take(mdt_store *s, const char *jti, int64_t *uses,
                                 mdt_err *err) MDT_WARN_UNUSED;

/* --- rate limits --- */
/* Counts one event of name in the fixed window starting at window_start
 * (atomic across threads, processes and nodes); *count: events of the
 * window so far, this one included. Windows older than a day are purged by
 * mdt_store_purge_expired. */
mdt_rc mdt_store_rate_hit(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                          mdt_err *err) MDT_WARN_UNUSED;

/* Events of name counted so far in the window starting at window_start,
 * without counting one (0 when none). */
mdt_rc mdt_store_rate_peek(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                           mdt_err *err) MDT_WARN_UNUSED;

/* Gives back one event of name counted in the window starting at
 * window_start (a slot taken by mdt_store_rate_hit for an attempt that,
 * in the end, does not count); never below 0. Atomic as rate_hit. */
mdt_rc mdt_store_rate_release(mdt_store *s, const char *name, int64_t window_start,
                              mdt_err *err) MDT_WARN_UNUSED;

/* --- web sessions --- */
/* Inserts a session; MDT_ERR_CONFLICT when the hash exists. */
mdt_rc mdt_store_session_insert(mdt_store *s, const mdt_session_rec *v, mdt_err *err) MDT_WARN_UNUSED;
/* MDT_ERR_NOT_FOUND when unknown (revoked and expired sessions are returned:
 * the caller decides). */
mdt_rc mdt_store_session_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                             mdt_session_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Sets last_seen_at = now on a session not revoked; MDT_ERR_NOT_FOUND otherwise. */
mdt_rc mdt_store_session_touch(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                               mdt_err *err) MDT_WARN_UNUSED;
/* Sets revoked_at = now on every session of username not yet revoked. */
mdt_rc mdt_store_session_revoke_user(mdt_store *s, const char *username, int64_t now,
                                     mdt_err *err) MDT_WARN_UNUSED;
/* Sets revoked_at = now unless already revoked; an unknown or already
 * revoked session is MDT_OK (idempotent). */
mdt_rc mdt_store_session_revoke(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                                mdt_err *err) MDT_WARN_UNUSED;

/* --- authorization requests, codes, consents --- */
/* MDT_ERR_CONFLICT when the id exists. */
mdt_rc mdt_store_authz_request_insert(mdt_store *s, const mdt_authz_request_rec *r,
                                      mdt_err *err) MDT_WARN_UNUSED;
/* MDT_ERR_NOT_FOUND when unknown or expired at now. */
mdt_rc mdt_store_authz_request_get(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                   mdt_authz_request_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Deletes the request and returns it, in one statement (single use:
 * RFC 9126 §7.3). MDT_ERR_NOT_FOUND when unknown, expired or taken. */
mdt_rc mdt_store_authz_request_take(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                    mdt_authz_request_rec *out, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_code_insert(mdt_store *s, const mdt_authz_code_rec *c,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Uses the code and records what its redemption issues, in one statement
 * (UPDATE ... SET used_at = now, access_jti, family, tokens_expire_at WHERE
 * used_at = 0 AND expires_at > now RETURNING): MDT_OK with the code;
 * MDT_ERR_CONFLICT with the code in *out when it was used before (a replay:
 * the caller revokes out->access_jti, out->family and out->token_jtis);
 * MDT_ERR_NOT_FOUND when unknown or expired. */
mdt_rc mdt_store_code_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                              const mdt_code_issue *issue, mdt_arena *a, mdt_authz_code_rec *out,
                              mdt_err *err) MDT_WARN_UNUSED;
/* The code as stored, used or not, expired or not (read-only: the caller
 * decides); MDT_ERR_NOT_FOUND when unknown. */
mdt_rc mdt_store_code_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_authz_code_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* --- refresh tokens --- */
/* Inserts a refresh token unless its family is revoked (in the same
 * statement): MDT_ERR_CONFLICT when the family is revoked (a reuse was
 * detected while this rotation ran) or the hash exists. */
mdt_rc mdt_store_refresh_insert(mdt_store *s, const mdt_refresh_rec *r,
                                mdt_err *err) MDT_WARN_UNUSED;
/* MDT_ERR_NOT_FOUND when unknown (used, revoked and expired rows are
 * returned: the caller decides). */
mdt_rc mdt_store_refresh_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                             mdt_refresh_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Uses the refresh token in one statement (UPDATE ... SET used_at = now
 * WHERE used_at = 0 AND revoked_at = 0 AND expires_at > now RETURNING):
 * MDT_OK with the row; MDT_ERR_CONFLICT with the row in *out when it was
 * used before (a reuse: the caller revokes the family); MDT_ERR_NOT_FOUND
 * when unknown, revoked or expired. */
mdt_rc mdt_store_refresh_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                                 mdt_arena *a, mdt_refresh_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* In one transaction: sets revoked_at = now on every refresh token of the
 * family not yet revoked, and adds the access_jti of each (until its
 * access_exp) to the revocation list. Idempotent. */
mdt_rc mdt_store_refresh_revoke_family(mdt_store *s, const char *family, int64_t now,
                                       mdt_err *err) MDT_WARN_UNUSED;

/* MDT_ERR_NOT_FOUND when the person never consented to the client. */
mdt_rc mdt_store_consent_get(mdt_store *s, const char *username, const char *client_id,
                             mdt_arena *a, mdt_consent_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* Inserts or replaces (scope, updated_at; created_at kept). */
mdt_rc mdt_store_consent_put(mdt_store *s, const mdt_consent_rec *c, mdt_err *err) MDT_WARN_UNUSED;
/* The person's consents, ordered by client_id. */
mdt_rc mdt_store_consent_list(mdt_store *s, const char *username, mdt_arena *a,
                              mdt_consent_rec **out, size_t *n, mdt_err *err) MDT_WARN_UNUSED;
/* Ends what username allowed client_id (every client when client_id is
 * NULL), in one transaction: deletes the consent, expires the codes not
 * used yet, revokes what the used codes issued (access tokens by jti until
 * they expire, refresh token families) and every refresh token of the
 * person for the client, with the access token issued with each.
 * Idempotent. */
mdt_rc mdt_store_grant_revoke(mdt_store *s, const char *username, const char *client_id,
                              int64_t now, mdt_err *err) MDT_WARN_UNUSED;
/* Idempotent. */
mdt_rc mdt_store_consent_delete(mdt_store *s, const char *username, const char *client_id,
                                mdt_err *err) MDT_WARN_UNUSED;

/* --- usage (iga/usage.h) --- */
/* Writes one batch in one transaction: each scope row is upserted with
 * last_used_at the greater of the stored and the given one; each day row
 * adds its tokens to the stored count and keeps the greater last_used_at
 * (so that several nodes writing their batches agree). */
mdt_rc mdt_store_usage_flush(mdt_store *s, const mdt_usage_scope_rec *sc, size_t nsc,
                             const mdt_usage_day_rec *days, size_t ndays,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Every (client, scope) row, ordered by client_id, scope. */
mdt_rc mdt_store_usage_scope_list(mdt_store *s, mdt_arena *a, mdt_usage_scope_rec **out,
                                  size_t *n, mdt_err *err) MDT_WARN_UNUSED;
/* The day rows of client_id (NULL: every client) from day since_day on,
 * ordered by client_id, day. Rows older than 400 days are deleted by
 * mdt_store_purge_expired. */
mdt_rc mdt_store_usage_day_list(mdt_store *s, const char *client_id, int64_t since_day,
                                mdt_arena *a, mdt_usage_day_rec **out, size_t *n,
                                mdt_err *err) MDT_WARN_UNUSED;
/* Refresh tokens of the client still usable at now (not used, not revoked,
 * not expired). */
mdt_rc mdt_store_refresh_live_count(mdt_store *s, const char *client_id, int64_t now,
                                    int64_t *count, mdt_err *err) MDT_WARN_UNUSED;
/* In one transaction: every refresh token of the client not yet revoked is
 * revoked at now, and the access token issued with each is added to the
 * revocation list (until it expires). *revoked: refresh tokens revoked. */
mdt_rc mdt_store_refresh_revoke_client(mdt_store *s, const char *client_id, int64_t now,
                                       int64_t *revoked, mdt_err *err) MDT_WARN_UNUSED;

/* --- access review decisions (iga/review.h) --- */
/* MDT_ERR_CONFLICT when the id exists. */
mdt_rc mdt_store_review_insert(mdt_store *s, const mdt_review_decision_rec *d,
                               mdt_err *err) MDT_WARN_UNUSED;
/* Every decision, ordered by decided_at, then id. */
mdt_rc mdt_store_review_list(mdt_store *s, mdt_arena *a, mdt_review_decision_rec **out,
                             size_t *n, mdt_err *err) MDT_WARN_UNUSED;

/* --- policies of the embedded PDP (policy/policies.h) ---
 * Every change moves the policies counter in the same transaction, so that
 * a node knows with one read whether its compiled set is current. */
/* MDT_ERR_CONFLICT when the id exists. */
mdt_rc mdt_store_policy_insert(mdt_store *s, const mdt_policy_rec *p, mdt_err *err) MDT_WARN_UNUSED;
/* Replaces text, description and updated_at (created_at, created_by kept).
 * MDT_ERR_NOT_FOUND when there is no such id. */
mdt_rc mdt_store_policy_update(mdt_store *s, const mdt_policy_rec *p, mdt_err *err) MDT_WARN_UNUSED;
/* MDT_ERR_NOT_FOUND when there is no such id. */
mdt_rc mdt_store_policy_delete(mdt_store *s, const char *id, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store_policy_get(mdt_store *s, const char *id, mdt_arena *a, mdt_policy_rec *out,
                            mdt_err *err) MDT_WARN_UNUSED;
/* Every policy text, ordered by id. */
mdt_rc mdt_store_policy_list(mdt_store *s, mdt_arena *a, mdt_policy_rec **out, size_t *n,
                             mdt_err *err) MDT_WARN_UNUSED;
/* The policies counter (moves with every insert, update and delete). */
mdt_rc mdt_store_policies_version(mdt_store *s, int64_t *out, mdt_err *err) MDT_WARN_UNUSED;

/* --- audit --- */
/* Appends events in one transaction: for each, sets seq (last + 1),
 * prev_hash (the previous event's hash, zeros for the first) and then calls
 * hash(ev); an event's token row (ev->token), when set, is inserted in the
 * same transaction. On failure nothing is appended and no row inserted.
 * An event whose premises no longer hold (ev->checks) is left out alone:
 * ev->refused, seq 0; MDT_OK when every other event was appended. */
mdt_rc mdt_store_audit_append(mdt_store *s, mdt_audit_rec *evs, size_t n, mdt_audit_hash_fn hash,
                              mdt_err *err) MDT_WARN_UNUSED;
/* Events with seq > after_seq (and time >= since when since != 0), in order. */
mdt_rc mdt_store_audit_each(mdt_store *s, int64_t after_seq, int64_t since,
                            mdt_audit_each_fn fn, void *ctx, mdt_err *err) MDT_WARN_UNUSED;
/* The same, only events about client_id (their client_id column, written
 * by the append from mdt_audit_rec.client_id): one index range. */
mdt_rc mdt_store_audit_each_client(mdt_store *s, const char *client_id, int64_t after_seq,
                                   int64_t since, mdt_audit_each_fn fn, void *ctx,
                                   mdt_err *err) MDT_WARN_UNUSED;
/* The last event's seq (0 when empty). */
mdt_rc mdt_store_audit_last_seq(mdt_store *s, int64_t *out, mdt_err *err) MDT_WARN_UNUSED;
/* The last event's seq and hash (0 and zeros when empty). */
mdt_rc mdt_store_audit_head(mdt_store *s, int64_t *seq, uint8_t hash[MDT_HASH_LEN],
                            mdt_err *err) MDT_WARN_UNUSED;
/* The seq of the first event of this type (0 when there is none). */
mdt_rc mdt_store_audit_find_type(mdt_store *s, const char *type, int64_t *seq,
                                 mdt_err *err) MDT_WARN_UNUSED;
/* Appends checkpoint c only if it comes next: c->n is 1 and there is no
 * checkpoint, or c->n is the last checkpoint's n + 1 and c->seq is beyond
 * the last checkpoint's seq. Otherwise (another writer was first)
 * MDT_ERR_CONFLICT and nothing is written. */
mdt_rc mdt_store_audit_checkpoint_add(mdt_store *s, const mdt_audit_checkpoint_rec *c,
                                      mdt_err *err) MDT_WARN_UNUSED;
/* The checkpoint with the highest n; MDT_ERR_NOT_FOUND when there is none. */
mdt_rc mdt_store_audit_checkpoint_last(mdt_store *s, mdt_arena *a, mdt_audit_checkpoint_rec *out,
                                       mdt_err *err) MDT_WARN_UNUSED;
/* Every checkpoint in order of n. The record lives only during the call. */
mdt_rc mdt_store_audit_checkpoint_each(mdt_store *s, mdt_audit_checkpoint_fn fn, void *ctx,
                                       mdt_err *err) MDT_WARN_UNUSED;
/* The key of the audit chain (src/audit/audit.c), kept in memory with the
 * handle so that every writer of this process keys the chain alike: copied;
 * NULL forgets it. mdt_store_audit_key returns NULL when none was set. */
void mdt_store_set_audit_key(mdt_store *s, const uint8_t key[MDT_HASH_LEN]);
const uint8_t *mdt_store_audit_key(const mdt_store *s);

/* --- backups --- */
/* Copies the SQLite database of url ("sqlite:PATH") to the new file dest
 * while other connections keep writing: one consistent snapshot, owner-only,
 * integrity-checked and made durable under dest.partial before it takes the
 * name dest. MDT_ERR_CONFLICT when dest exists; MDT_ERR_CONFIG for a URL of
 * another backend. Opens connections of its own: no store handle needed. */
mdt_rc mdt_store_backup(const char *url, const char *dest, mdt_err *err) MDT_WARN_UNUSED;

/* --- moving to PostgreSQL --- */
typedef struct {
    size_t tables;      /* tables copied */
    int64_t rows;       /* rows copied */
    int schema_version; /* of both databases after the copy */
} mdt_store_copy_report;

/* Copies every row of the SQLite database of src_url ("sqlite:PATH") into
 * the PostgreSQL database of dst_url, which must hold no rows: the source
 * is migrated to this program's schema, the destination checked for rows
 * (before anything is written to it), migrated, and filled table by table
 * inside one transaction: all of it or nothing. Values are copied as they
 * are (hashes, sealed keys, the audit chain byte for byte), so a server
 * with the same master and audit keys carries on where the source stopped.
 * Refusals: MDT_ERR_CONFIG (src_url not SQLite), MDT_ERR_INVALID_REQUEST
 * (dst_url not PostgreSQL), MDT_ERR_CONFLICT (the destination holds rows),
 * MDT_ERR_UNAVAILABLE (either database cannot be reached). Errors name the
 * destination without its password. */
mdt_rc mdt_store_copy(const char *src_url, const char *dst_url, mdt_store_copy_report *out,
                      mdt_err *err) MDT_WARN_UNUSED;

#endif
