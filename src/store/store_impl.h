/* Private to src/store/: the vtable behind store.h. store.c picks a backend
 * by URL prefix and dispatches every call through these pointers. One
 * implementation fills it: the portable SQL layer (sql.c), over a driver per
 * engine (driver.h: sqlite.c, postgres.c); it embeds `mdt_store base` as the
 * first member of its handle. The signatures are those of store.h, one for
 * one. */
#ifndef MDT_STORE_STORE_IMPL_H
#define MDT_STORE_STORE_IMPL_H

#include <pthread.h>

#include "store/store.h"

typedef struct mdt_store_ops {
    const char *name; /* "sqlite", "postgresql" */
    void (*close)(mdt_store *s);
    mdt_rc (*migrate)(mdt_store *s, mdt_err *err);
    mdt_rc (*schema_version)(mdt_store *s, int *out, mdt_err *err);
    mdt_rc (*ping)(mdt_store *s, mdt_err *err);
    void (*thread_done)(mdt_store *s);
    void (*read_begin)(mdt_store *s);
    void (*read_end)(mdt_store *s);
    int (*read_reset)(mdt_store *s);
    mdt_rc (*background_start)(mdt_store *s, mdt_err *err);

    mdt_rc (*client_insert)(mdt_store *s, const mdt_client_rec *c, const mdt_cred_rec *creds,
                            size_t ncreds, mdt_err *err);
    mdt_rc (*client_get)(mdt_store *s, const char *client_id, mdt_arena *a, mdt_client_rec *out,
                         mdt_err *err);
    mdt_rc (*client_list)(mdt_store *s, mdt_arena *a, mdt_client_rec **out, size_t *n,
                          mdt_err *err);
    mdt_rc (*client_update)(mdt_store *s, const mdt_client_rec *c, mdt_err *err);
    mdt_rc (*client_update_creds)(mdt_store *s, const mdt_client_rec *c, const mdt_cred_rec *add,
                                  size_t nadd, const char *const *del, size_t ndel, mdt_err *err);
    mdt_rc (*cred_get)(mdt_store *s, const char *id, mdt_arena *a, mdt_cred_rec *out, mdt_err *err);
    mdt_rc (*cred_find)(mdt_store *s, const char *type, const uint8_t hash[MDT_HASH_LEN],
                        mdt_arena *a, mdt_cred_rec *out, mdt_err *err);
    mdt_rc (*jti_use)(mdt_store *s, const char *issuer, const char *jti, int64_t expires_at,
                      int64_t now, mdt_err *err);
    mdt_rc (*client_delete)(mdt_store *s, const char *client_id, int64_t now, mdt_err *err);
    mdt_rc (*client_deleted_at)(mdt_store *s, const char *client_id, int64_t *deleted_at,
                                mdt_err *err);

    mdt_rc (*cred_insert)(mdt_store *s, const mdt_cred_rec *c, mdt_err *err);
    mdt_rc (*cred_list)(mdt_store *s, const char *client_id, mdt_arena *a, mdt_cred_rec **out,
                        size_t *n, mdt_err *err);
    mdt_rc (*cred_last_used)(mdt_store *s, mdt_arena *a, mdt_client_last_use **out, size_t *n,
                             mdt_err *err);
    mdt_rc (*cred_expire_others)(mdt_store *s, const char *client_id, const char *type,
                                 const char *keep_id, int64_t expires_at, mdt_err *err);
    mdt_rc (*cred_touch)(mdt_store *s, const char *id, int64_t now, mdt_err *err);
    mdt_rc (*cred_delete)(mdt_store *s, const char *client_id, const char *id, mdt_err *err);

    mdt_rc (*scope_insert)(mdt_store *s, const mdt_scope_rec *sc, mdt_err *err);
    mdt_rc (*scope_get)(mdt_store *s, const char *name, mdt_arena *a, mdt_scope_rec *out,
                        mdt_err *err);
    mdt_rc (*scope_list)(mdt_store *s, mdt_arena *a, mdt_scope_rec **out, size_t *n,
                         mdt_err *err);

    mdt_rc (*token_insert)(mdt_store *s, const mdt_token_rec *t, mdt_err *err);
    mdt_rc (*token_get)(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                        mdt_arena *a,
                        mdt_token_rec *out, mdt_err *err);
    mdt_rc (*token_revoke)(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                           int64_t now,
                           mdt_err *err);
    mdt_rc (*jti_revoke)(mdt_store *s, const char *jti, const char *client_id,
                         int64_t expires_at, int64_t now, mdt_err *err);
    mdt_rc (*jti_is_revoked)(mdt_store *s, const char *jti, bool *out, mdt_err *err);
    mdt_rc (*purge_expired)(mdt_store *s, int64_t now, mdt_err *err);

    mdt_rc (*key_insert)(mdt_store *s, const mdt_key_rec *k, mdt_err *err);
    mdt_rc (*key_list)(mdt_store *s, mdt_arena *a, mdt_key_rec **out, size_t *n, mdt_err *err);
    mdt_rc (*key_schedule)(mdt_store *s, const char *kid, int64_t retire_at, int64_t expire_at,
                           mdt_err *err);

    mdt_rc (*user_insert)(mdt_store *s, const mdt_user_rec *u, mdt_err *err);
    mdt_rc (*user_get)(mdt_store *s, const char *username, mdt_arena *a, mdt_user_rec *out,
                       mdt_err *err);
    mdt_rc (*user_list)(mdt_store *s, mdt_arena *a, mdt_user_rec **out, size_t *n, mdt_err *err);
    mdt_rc (*user_update)(mdt_store *s, const mdt_user_rec *u, mdt_err *err);
    mdt_rc (*user_count)(mdt_store *s, int64_t *out, mdt_err *err);
    mdt_rc (*clients_version)(mdt_store *s, int64_t *out, mdt_err *err);

    mdt_rc (*iat_insert)(mdt_store *s, const mdt_iat_rec *t, mdt_err *err);
    mdt_rc (*iat_find)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                       mdt_iat_rec *out, mdt_err *err);
    mdt_rc (*iat_get)(mdt_store *s, const char *id, mdt_arena *a, mdt_iat_rec *out, mdt_err *err);
    mdt_rc (*iat_consume)(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                          mdt_iat_rec *out, mdt_err *err);
    mdt_rc (*request_insert)(mdt_store *s, const mdt_request_rec *r, mdt_err *err);
    mdt_rc (*request_get)(mdt_store *s, const char *id, mdt_arena *a, mdt_request_rec *out,
                          mdt_err *err);
    mdt_rc (*request_list)(mdt_store *s, mdt_arena *a, mdt_request_rec **out, size_t *n,
                           mdt_err *err);
    mdt_rc (*request_decide)(mdt_store *s, const char *id, const char *status,
                             const char *decided_by, const char *note, int64_t now, mdt_arena *a,
                             mdt_request_rec *out, mdt_err *err);
    mdt_rc (*request_insert_notify)(mdt_store *s, const mdt_request_rec *r,
                                    const mdt_outbox_rec *ev, size_t nev, mdt_err *err);
    mdt_rc (*request_vote)(mdt_store *s, const char *id, const char *approver, bool approve,
                           int64_t quorum, const char *note, int64_t now, mdt_arena *a,
                           mdt_request_rec *out, int64_t *allows, mdt_err *err);
    mdt_rc (*vote_list)(mdt_store *s, mdt_arena *a, mdt_vote_rec **out, size_t *n, mdt_err *err);
    mdt_rc (*request_votes)(mdt_store *s, const char *id, mdt_arena *a, mdt_vote_rec **out,
                            size_t *n, mdt_err *err);
    mdt_rc (*request_count_pending)(mdt_store *s, int64_t now, int64_t *out, mdt_err *err);
    mdt_rc (*request_list_pending)(mdt_store *s, int64_t now, mdt_arena *a, mdt_request_rec **out,
                                   size_t *n, mdt_err *err);
    mdt_rc (*request_expire_due)(mdt_store *s, int64_t now, int64_t limit, mdt_arena *a, mdt_request_rec **out,
                                 size_t *n, mdt_err *err);
    mdt_rc (*outbox_claim)(mdt_store *s, int64_t now, int64_t lease_until, int64_t limit,
                           mdt_arena *a, mdt_outbox_rec **out, size_t *n, mdt_err *err);
    mdt_rc (*outbox_delete)(mdt_store *s, const char *id, mdt_err *err);
    mdt_rc (*outbox_retry)(mdt_store *s, const char *id, int64_t next_at, mdt_err *err);
    mdt_rc (*outbox_list)(mdt_store *s, mdt_arena *a, mdt_outbox_rec **out, size_t *n,
                          mdt_err *err);
    mdt_rc (*ciba_insert)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const mdt_ciba_rec *r,
                          mdt_err *err);
    mdt_rc (*ciba_poll)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                        int64_t now, mdt_arena *a, mdt_ciba_rec *out, mdt_err *err);
    mdt_rc (*ciba_get)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                       mdt_arena *a, mdt_ciba_rec *out, mdt_err *err);
    mdt_rc (*ciba_consume)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                           mdt_err *err);
    mdt_rc (*single_use_add)(mdt_store *s, const char *jti, int64_t expires_at, mdt_err *err);
    mdt_rc (*single_use_take)(mdt_store *s, const char *jti, int64_t *uses, mdt_err *err);
    mdt_rc (*entitlement_insert)(mdt_store *s, const mdt_entitlement_rec *e, mdt_err *err);
    mdt_rc (*entitlement_list)(mdt_store *s, const char *client_id, int64_t now, mdt_arena *a,
                               mdt_entitlement_rec **out, size_t *n, mdt_err *err);
    mdt_rc (*entitlement_end)(mdt_store *s, const char *client_id, const char *id, int64_t now,
                              mdt_arena *a, mdt_entitlement_rec *out, mdt_err *err);
    mdt_rc (*rate_hit)(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                       mdt_err *err);
    mdt_rc (*rate_peek)(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                        mdt_err *err);
    mdt_rc (*rate_release)(mdt_store *s, const char *name, int64_t window_start, mdt_err *err);
    mdt_rc (*session_insert)(mdt_store *s, const mdt_session_rec *v, mdt_err *err);
    mdt_rc (*session_get)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_session_rec *out, mdt_err *err);
    mdt_rc (*session_touch)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                            mdt_err *err);
    mdt_rc (*session_revoke)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                             mdt_err *err);
    mdt_rc (*authz_request_insert)(mdt_store *s, const mdt_authz_request_rec *r, mdt_err *err);
    mdt_rc (*authz_request_get)(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                mdt_authz_request_rec *out, mdt_err *err);
    mdt_rc (*authz_request_take)(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                 mdt_authz_request_rec *out, mdt_err *err);
    mdt_rc (*device_insert)(mdt_store *s, const mdt_device_rec *d, mdt_err *err);
    mdt_rc (*device_find_user)(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN], int64_t now,
                               mdt_arena *a, mdt_device_rec *out, mdt_err *err);
    mdt_rc (*device_bind)(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN],
                          const char *request_id, int64_t now, mdt_arena *a,
                          mdt_device_rec *out, mdt_err *err);
    mdt_rc (*device_poll)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                          int64_t now, mdt_arena *a, mdt_device_rec *out, mdt_err *err);
    mdt_rc (*device_get)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                         mdt_arena *a, mdt_device_rec *out, mdt_err *err);
    mdt_rc (*device_consume)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                             const char *client_id, int64_t now, mdt_arena *a,
                             mdt_device_rec *out, mdt_err *err);
    mdt_rc (*code_insert)(mdt_store *s, const mdt_authz_code_rec *c, mdt_err *err);
    mdt_rc (*code_get)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                       mdt_authz_code_rec *out, mdt_err *err);
    mdt_rc (*code_consume)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                           const mdt_code_issue *issue, mdt_arena *a, mdt_authz_code_rec *out,
                           mdt_err *err);
    mdt_rc (*grant_revoke)(mdt_store *s, const char *username, const char *client_id,
                           int64_t now, mdt_err *err);
    mdt_rc (*session_revoke_user)(mdt_store *s, const char *username, int64_t now,
                                  mdt_err *err);
    mdt_rc (*refresh_insert)(mdt_store *s, const mdt_refresh_rec *r, mdt_err *err);
    mdt_rc (*refresh_get)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_refresh_rec *out, mdt_err *err);
    mdt_rc (*refresh_consume)(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                              mdt_arena *a, mdt_refresh_rec *out, mdt_err *err);
    mdt_rc (*refresh_revoke_family)(mdt_store *s, const char *family, int64_t now, mdt_err *err);
    mdt_rc (*consent_get)(mdt_store *s, const char *username, const char *client_id,
                          mdt_arena *a, mdt_consent_rec *out, mdt_err *err);
    mdt_rc (*consent_put)(mdt_store *s, const mdt_consent_rec *c, mdt_err *err);
    mdt_rc (*consent_list)(mdt_store *s, const char *username, mdt_arena *a,
                           mdt_consent_rec **out, size_t *n, mdt_err *err);
    mdt_rc (*consent_delete)(mdt_store *s, const char *username, const char *client_id,
                             mdt_err *err);

    mdt_rc (*usage_flush)(mdt_store *s, const mdt_usage_scope_rec *sc, size_t nsc,
                          const mdt_usage_day_rec *days, size_t ndays, mdt_err *err);
    mdt_rc (*usage_scope_list)(mdt_store *s, mdt_arena *a, mdt_usage_scope_rec **out, size_t *n,
                               mdt_err *err);
    mdt_rc (*usage_day_list)(mdt_store *s, const char *client_id, int64_t since_day,
                             mdt_arena *a, mdt_usage_day_rec **out, size_t *n, mdt_err *err);
    mdt_rc (*refresh_live_count)(mdt_store *s, const char *client_id, int64_t now,
                                 int64_t *count, mdt_err *err);
    mdt_rc (*refresh_revoke_client)(mdt_store *s, const char *client_id, int64_t now,
                                    int64_t *revoked, mdt_err *err);
    mdt_rc (*review_insert)(mdt_store *s, const mdt_review_decision_rec *d, mdt_err *err);
    mdt_rc (*review_list)(mdt_store *s, mdt_arena *a, mdt_review_decision_rec **out, size_t *n,
                          mdt_err *err);
    mdt_rc (*policy_insert)(mdt_store *s, const mdt_policy_rec *p, mdt_err *err);
    mdt_rc (*policy_update)(mdt_store *s, const mdt_policy_rec *p, mdt_err *err);
    mdt_rc (*policy_delete)(mdt_store *s, const char *id, mdt_err *err);
    mdt_rc (*policy_get)(mdt_store *s, const char *id, mdt_arena *a, mdt_policy_rec *out,
                         mdt_err *err);
    mdt_rc (*policy_list)(mdt_store *s, mdt_arena *a, mdt_policy_rec **out, size_t *n,
                          mdt_err *err);
    mdt_rc (*policies_version)(mdt_store *s, int64_t *out, mdt_err *err);

    mdt_rc (*audit_append)(mdt_store *s, mdt_audit_rec *evs, size_t n, mdt_audit_hash_fn hash,
                           mdt_err *err);
    mdt_rc (*audit_each)(mdt_store *s, int64_t after_seq, int64_t since, mdt_audit_each_fn fn,
                         void *ctx, mdt_err *err);
    mdt_rc (*audit_each_client)(mdt_store *s, const char *client_id, int64_t after_seq,
                                int64_t since, mdt_audit_each_fn fn, void *ctx, mdt_err *err);
    mdt_rc (*audit_last_seq)(mdt_store *s, int64_t *out, mdt_err *err);
    mdt_rc (*audit_head)(mdt_store *s, int64_t *seq, uint8_t hash[MDT_HASH_LEN], mdt_err *err);
    mdt_rc (*audit_find_type)(mdt_store *s, const char *type, int64_t *seq, mdt_err *err);
    mdt_rc (*audit_checkpoint_add)(mdt_store *s, const mdt_audit_checkpoint_rec *c, mdt_err *err);
    mdt_rc (*audit_checkpoint_last)(mdt_store *s, mdt_arena *a, mdt_audit_checkpoint_rec *out,
                                    mdt_err *err);
    mdt_rc (*audit_checkpoint_each)(mdt_store *s, mdt_audit_checkpoint_fn fn, void *ctx,
                                    mdt_err *err);
} mdt_store_ops;

struct mdt_store {
    const mdt_store_ops *ops;
    /* The clients counter as this process last saw it (mdt_store_clients_version_recent):
     * seen_at 0 when unknown. */
    pthread_mutex_t seen_mu;
    int64_t clients_seen, clients_seen_at; /* monotonic µs */
    int64_t clients_moved_at;              /* a read begun before this is not kept */
    bool has_audit_key;
    uint8_t audit_key[MDT_HASH_LEN]; /* wiped on close by the backend */
};

/* What this process saw of the clients counter (mdt_store_clients_version_recent):
 * v as read at monotonic time at (taken before the read); moved: a change
 * this process committed, so that the next decision reads the counter. */
void mdt_store__clients_seen(mdt_store *s, int64_t v, int64_t at);
void mdt_store__clients_moved(mdt_store *s);

/* Backends. path/url: the URL without its scheme prefix ("sqlite:"), or the
 * whole URL for PostgreSQL. On success *out is owned by the caller
 * (mdt_store_close). */
mdt_rc mdt_store__sqlite_open(const char *path, mdt_store **out, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_store__pg_open(const char *url, mdt_store **out, mdt_err *err) MDT_WARN_UNUSED;

#endif
