/* The audit log: an append-only, hash-chained record of every
 * security-relevant decision (see the construction at the top of audit.c).
 *
 * Events are written by one writer thread doing group commit: many events,
 * one transaction, one fsync. mdt_audit_record blocks until its event is
 * durable, so that no response that issued a token leaves before its audit
 * event is committed. Short-lived processes (the CLI) use
 * mdt_audit_append_now instead. The store serialises the chain (seq and
 * prev_hash are assigned inside its transaction), so several writers,
 * processes or nodes still build one chain.
 *
 * Threads: an mdt_audit may be used from any number of threads at once.
 * Memory: events are copied on submit; the caller keeps ownership of its
 * strings. */
#ifndef MDT_AUDIT_AUDIT_H
#define MDT_AUDIT_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mdt.h"
#include "jose/jwk.h"
#include "store/store.h"

#define MDT_AUDIT_QUEUE_MAX 65536             /* events queued at most */
#define MDT_AUDIT_QUEUE_BYTES ((size_t)64 << 20) /* body bytes queued at most */
#define MDT_AUDIT_BATCH_DEFAULT 256           /* when max_batch is 0 */
#define MDT_AUDIT_BATCH_MAX 4096
#define MDT_AUDIT_TYPE_MAX 64                 /* [a-z0-9._-], 1..64 bytes */
#define MDT_AUDIT_FIELD_MAX 1024              /* longer string fields are cut */
#define MDT_AUDIT_DATA_MAX 8192               /* bytes of the data object */
#define MDT_AUDIT_DATA_DEPTH 16               /* nesting of the data object */
#define MDT_AUDIT_TAIL_POLL_MS 500

#define MDT_AUDIT_ANCHOR "audit.anchor"       /* the first keyed event (see audit.c) */
#define MDT_AUDIT_CHECKPOINT_TYP "audit-checkpoint" /* JWS typ of a checkpoint */
#define MDT_AUDIT_CHECKPOINT_MAX 8192         /* bytes of an exported checkpoint */

typedef struct mdt_audit mdt_audit;

/* The keys of the audit log, kept outside the database (src/keys/audit_key.c). */
typedef struct mdt_audit_keys {
    uint8_t chain[MDT_HASH_LEN]; /* HMAC-SHA256 key of the event chain */
    mdt_jwk *signer;             /* Ed25519 key that signs checkpoints; owned */
} mdt_audit_keys;

typedef struct mdt_audit_event_s {
    const char *type;       /* "token.issued", "token.refused", "client.auth_failed", ...; required */
    const char *actor;      /* who: "cli", a client_id, a username; NULL allowed */
    const char *client_id;  /* NULL allowed */
    const char *subject;    /* NULL allowed */
    const char *decision;   /* "allow" | "deny" | NULL */
    const char *reason;     /* why, e.g. "invalid_scope: scope 'x' not entitled"; NULL allowed */
    const char *request_id; /* NULL allowed */
    const char *ip;         /* NULL allowed */
    const char *data;       /* extra JSON object text, or NULL. Never a token or a secret. */
    /* An opaque token's row (the hash of its value, never the value), stored
     * in the same transaction as this event, so that the one group commit
     * makes both durable before the response that carries the token leaves;
     * NULL when none. Copied when the event is queued. */
    const mdt_token_rec *token;
    /* The premises of the decision this event records (the clients it was
     * made from, as cached): checked inside the group commit's transaction;
     * when one no longer holds, this event alone is not appended and its
     * producer gets MDT_ERR_CONFLICT. Copied when the event is queued. */
    const mdt_client_check *checks;
    size_t nchecks;
    /* Single-use identifiers the decision consumes (a client assertion's
     * jti, a DPoP proof's), recorded in the same transaction; when one was
     * used already, this event is not appended, on_replay (when set: the
     * refusal) is appended in its place, and the producer gets replay_err:
     * the answer it names for a replay (static: kept past the call), or
     * when NULL a client assertion's (invalid_client). Copied when the
     * event is queued (on_replay's own uses and checks are not). */
    const mdt_jti_use_rec *uses;
    size_t nuses;
    const struct mdt_audit_event_s *on_replay;
    const mdt_err *replay_err;
} mdt_audit_event;

/* Starts the group-commit writer thread. max_batch: events per transaction
 * (0 = MDT_AUDIT_BATCH_DEFAULT, at most MDT_AUDIT_BATCH_MAX). Borrows store
 * and clock: both must outlive the mdt_audit. Free with mdt_audit_stop. */
mdt_rc mdt_audit_start(mdt_store *store, const mdt_clock *clock, size_t max_batch, mdt_audit **out,
                       mdt_err *err) MDT_WARN_UNUSED;
/* Flushes everything queued, stops and joins the writer, frees. NULL ok. */
void mdt_audit_stop(mdt_audit *a);
/* Enqueues and blocks until the event is durable (MDT_OK) or failed.
 * MDT_ERR_INVALID_REQUEST for a malformed event, MDT_ERR_UNAVAILABLE when the
 * queue is full or the log is stopping, the store's error when the commit failed. */
mdt_rc mdt_audit_record(mdt_audit *a, const mdt_audit_event *ev, mdt_err *err) MDT_WARN_UNUSED;
/* Enqueues and returns at once. On MDT_OK, done(ctx, rc) is called exactly
 * once from the writer thread after the commit that holds the event (rc
 * MDT_OK) or after it failed; done may be NULL. On any other return done is
 * never called. done must not call mdt_audit_stop. */
mdt_rc mdt_audit_submit(mdt_audit *a, const mdt_audit_event *ev, void (*done)(void *ctx, mdt_rc rc),
                        void *ctx, mdt_err *err) MDT_WARN_UNUSED;
/* Writer statistics: transactions committed and events they held. */
void mdt_audit_stats(mdt_audit *a, uint64_t *commits, uint64_t *events);

/* For short-lived processes (the CLI): appends one event in the calling
 * thread, in its own transaction. */
mdt_rc mdt_audit_append_now(mdt_store *store, const mdt_clock *clock, const mdt_audit_event *ev,
                            mdt_err *err) MDT_WARN_UNUSED;

/* The canonical body of ev at time t (see audit.c). *out is malloc'd: the
 * caller frees it. MDT_ERR_INVALID_REQUEST when type is missing or
 * malformed or data is not a JSON object. */
mdt_rc mdt_audit_body(const mdt_audit_event *ev, int64_t t, char **out, mdt_err *err) MDT_WARN_UNUSED;
/* The chain hash of ev from ev->prev_hash, seq, time, type and body:
 * SHA-256 (events before the anchor) or, with key, HMAC-SHA256. */
mdt_rc mdt_audit_hash(const mdt_audit_rec *ev, uint8_t out[MDT_HASH_LEN], mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_audit_mac(const uint8_t key[MDT_HASH_LEN], const mdt_audit_rec *ev,
                     uint8_t out[MDT_HASH_LEN], mdt_err *err) MDT_WARN_UNUSED;
/* Appends the anchor event (the first event keyed with the store's audit
 * key, mdt_store_set_audit_key) unless the log has one. checkpoint_kid names
 * the checkpoint key in its data. */
mdt_rc mdt_audit_anchor_ensure(mdt_store *store, const mdt_clock *clock, const char *actor,
                               const char *checkpoint_kid, mdt_err *err) MDT_WARN_UNUSED;

/* Makes the writer sign a checkpoint after every_events events, or every
 * every_seconds when events were written since the last one, and when it
 * stops. Borrows signer (it must outlive a). */
void mdt_audit_set_checkpoints(mdt_audit *a, const mdt_jwk *signer, int64_t every_events,
                               int64_t every_seconds);
/* Signs and stores the next checkpoint (the head of the chain now) unless
 * the last checkpoint already covers the head or another writer stored the
 * same checkpoint first. *written tells whether this call wrote one. */
mdt_rc mdt_audit_checkpoint_write(mdt_store *store, const mdt_jwk *signer, int64_t now,
                                  bool *written, mdt_err *err) MDT_WARN_UNUSED;
/* Appends the latest checkpoint as one JSON object for export:
 * {"n","seq","head","time","prev","jws","jwk"}. MDT_ERR_NOT_FOUND when
 * there is none. */
mdt_rc mdt_audit_checkpoint_export(mdt_store *store, const mdt_jwk *signer, mdt_buf *out,
                                   mdt_err *err) MDT_WARN_UNUSED;

/* Checks the whole chain: seq numbers consecutive from 1, each prev_hash
 * equal to the previous event's hash, each hash recomputing. On the first
 * failure returns MDT_ERR_VERIFY and sets *bad_seq to that event's seq (for
 * a deleted event: the seq of the first event after the gap; *bad_seq is 0
 * on success). *count gets the number of events that verified. Deleting the
 * newest events (truncation) cannot be detected from the chain alone: see
 * mdt_audit_verify_full, which this calls without checkpoints. */
mdt_rc mdt_audit_verify(mdt_store *store, int64_t *count, int64_t *bad_seq, mdt_err *err) MDT_WARN_UNUSED;

typedef struct {
    const mdt_jwk *signer;        /* checks the signed checkpoints; NULL: not checked */
    const char *checkpoint;       /* an exported checkpoint (JSON text), or NULL */
} mdt_audit_verify_opts;

typedef struct {
    int64_t count;       /* events that verified */
    int64_t bad_seq;     /* first event that does not verify; 0 when all do */
    int64_t anchor_seq;  /* seq of the anchor; 0: the chain is not keyed */
    int64_t checkpoints; /* signed checkpoints checked */
    int64_t checkpoint_seq; /* the highest seq a checkpoint covers */
} mdt_audit_verify_result;

/* The whole check: with the store's audit key, every event from the anchor
 * on must carry its HMAC (a chain recomputed without the key fails at the
 * first recomputed event) and an anchor must exist; every stored checkpoint
 * (and o->checkpoint) must be signed by o->signer, chained to the previous
 * one, and name the hash its event has; events a checkpoint covers must all
 * be there (truncation names the first missing seq). MDT_ERR_VERIFY with
 * r->bad_seq on the first failure; MDT_ERR_CONFIG when the log is keyed but
 * the key is not loaded. */
mdt_rc mdt_audit_verify_full(mdt_store *store, const mdt_audit_verify_opts *o,
                             mdt_audit_verify_result *r, mdt_err *err) MDT_WARN_UNUSED;
/* Which events an export gives. */
typedef struct {
    int64_t since;         /* time >= since; 0: from the first */
    int64_t after_seq;     /* seq > after_seq; 0: from the first */
    const char *client_id; /* only the events about this client (their client_id: the events
                              of its tokens, refusals, authentication, changes and approvals),
                              read through the store's index; NULL: every event */
} mdt_audit_filter;

/* Writes the events f selects as NDJSON, one object a line:
 * {"seq":N,"time":"RFC3339","type":...,<the body's other fields>,
 *  "prev_hash":"hex","hash":"hex"}. MDT_ERR_IO when writing fails.
 * (`mandate audit export [--since TIME] [--client ID]`.) */
mdt_rc mdt_audit_export(mdt_store *store, const mdt_audit_filter *f, FILE *out,
                        mdt_err *err) MDT_WARN_UNUSED;
/* The same lines appended to out, at most max_events of them and at most
 * max_bytes in out (the admin API's bounded pages). *next_after: the seq
 * to continue after (f->after_seq of the next page) when events were left
 * out; 0 when the page holds the last one. */
mdt_rc mdt_audit_export_page(mdt_store *store, const mdt_audit_filter *f, size_t max_events,
                             size_t max_bytes, mdt_buf *out, int64_t *next_after,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Prints the last n events as NDJSON, then follows new ones (polling every
 * MDT_AUDIT_TAIL_POLL_MS) until *stop becomes nonzero (a volatile
 * sig_atomic_t set by a signal handler). */
mdt_rc mdt_audit_tail(mdt_store *store, size_t n, volatile int *stop, FILE *out, mdt_err *err) MDT_WARN_UNUSED;

/* Which events mdt_audit_recent gives, newest first. */
typedef struct {
    const char *client_id;   /* only this client's events (the store's index); NULL: all */
    const char *type_prefix; /* only types starting with it; NULL or "": all */
    int64_t since;           /* time >= since; 0: no bound */
    int64_t before_seq;      /* seq < before_seq (the cursor of older pages); 0: from the last */
} mdt_audit_recent_filter;

/* The newest events f selects, newest first, at most n of them into *out
 * (records and strings in a), for the console. Reads the log backwards in
 * windows of seq, at most max_scan events in all: a page over a sparse
 * filter may hold fewer than n. *next_before: the before_seq of the next
 * (older) page; 0 when nothing older is left. */
mdt_rc mdt_audit_recent(mdt_store *store, const mdt_audit_recent_filter *f, size_t n,
                        int64_t max_scan, mdt_arena *a, mdt_audit_rec **out, size_t *nout,
                        int64_t *next_before, mdt_err *err) MDT_WARN_UNUSED;

#endif
