/* Backend selection by URL prefix, and dispatch through the vtable. Checks
 * that hold for every backend live here, once. */
#include "store/store_impl.h"

#include <string.h>

#include "core/clock.h"

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

mdt_rc mdt_store_open(const char *url, mdt_store **out, mdt_err *err)
{
    *out = NULL;
    if (!url || !*url)
        return mdt_fail(err, MDT_ERR_CONFIG, "database URL is empty");
    if (has_prefix(url, "sqlite:"))
        return mdt_store__sqlite_open(url + strlen("sqlite:"), out, err);
    /* A PostgreSQL URL may hold a password: errors name it without. */
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://"))
        return mdt_store__pg_open(url, out, err);
    return mdt_failf(err, MDT_ERR_CONFIG, "unsupported database URL",
                     "database URL must start with sqlite: or postgresql://");
}

void mdt_store_close(mdt_store *s)
{
    if (!s)
        return;
    mdt_store_set_audit_key(s, NULL);
    s->ops->close(s);
}

mdt_rc mdt_store_migrate(mdt_store *s, mdt_err *err)
{
    return s->ops->migrate(s, err);
}

mdt_rc mdt_store_schema_version(mdt_store *s, int *out, mdt_err *err)
{
    *out = 0;
    return s->ops->schema_version(s, out, err);
}

mdt_rc mdt_store_ping(mdt_store *s, mdt_err *err)
{
    return s->ops->ping(s, err);
}

mdt_rc mdt_store_background_start(mdt_store *s, mdt_err *err)
{
    return s->ops->background_start ? s->ops->background_start(s, err) : MDT_OK;
}

void mdt_store_thread_done(mdt_store *s)
{
    if (s)
        s->ops->thread_done(s);
}

void mdt_store_read_begin(mdt_store *s)
{
    if (s)
        s->ops->read_begin(s);
}

void mdt_store_read_end(mdt_store *s)
{
    if (s)
        s->ops->read_end(s);
}

int mdt_store_read_reset(mdt_store *s)
{
    return s ? s->ops->read_reset(s) : 0;
}

/* --- clients --- */

mdt_rc mdt_store_client_insert(mdt_store *s, const mdt_client_rec *c, const mdt_cred_rec *creds,
                               size_t ncreds, mdt_err *err)
{
    for (size_t i = 0; i < ncreds; i++) {
        if (creds[i].client_id && !mdt_str_eq(creds[i].client_id, c->client_id))
            return mdt_fail(err, MDT_ERR_INTERNAL, "credential belongs to another client");
    }
    return s->ops->client_insert(s, c, creds, ncreds, err);
}

mdt_rc mdt_store_client_get(mdt_store *s, const char *client_id, mdt_arena *a,
                            mdt_client_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->client_get(s, client_id, a, out, err);
}

mdt_rc mdt_store_client_list(mdt_store *s, mdt_arena *a, mdt_client_rec **out, size_t *n,
                             mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->client_list(s, a, out, n, err);
}

mdt_rc mdt_store_client_update(mdt_store *s, const mdt_client_rec *c, mdt_err *err)
{
    return s->ops->client_update(s, c, err);
}

mdt_rc mdt_store_client_update_creds(mdt_store *s, const mdt_client_rec *c, const mdt_cred_rec *add,
                                     size_t nadd, const char *const *del, size_t ndel, mdt_err *err)
{
    for (size_t i = 0; i < nadd; i++)
        if (!mdt_str_eq(add[i].client_id, c->client_id))
            return mdt_fail(err, MDT_ERR_INTERNAL, "credential of another client");
    return s->ops->client_update_creds(s, c, add, nadd, del, ndel, err);
}

mdt_rc mdt_store_client_delete(mdt_store *s, const char *client_id, int64_t now, mdt_err *err)
{
    return s->ops->client_delete(s, client_id, now, err);
}

mdt_rc mdt_store_client_deleted_at(mdt_store *s, const char *client_id, int64_t *deleted_at,
                                   mdt_err *err)
{
    return s->ops->client_deleted_at(s, client_id, deleted_at, err);
}

/* --- credentials --- */

mdt_rc mdt_store_cred_insert(mdt_store *s, const mdt_cred_rec *c, mdt_err *err)
{
    return s->ops->cred_insert(s, c, err);
}

mdt_rc mdt_store_cred_last_used(mdt_store *s, mdt_arena *a, mdt_client_last_use **out, size_t *n,
                                mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->cred_last_used(s, a, out, n, err);
}

mdt_rc mdt_store_cred_list(mdt_store *s, const char *client_id, mdt_arena *a, mdt_cred_rec **out,
                           size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->cred_list(s, client_id, a, out, n, err);
}

mdt_rc mdt_store_cred_expire_others(mdt_store *s, const char *client_id, const char *type,
                                    const char *keep_id, int64_t expires_at, mdt_err *err)
{
    return s->ops->cred_expire_others(s, client_id, type, keep_id, expires_at, err);
}

mdt_rc mdt_store_cred_get(mdt_store *s, const char *id, mdt_arena *a, mdt_cred_rec *out,
                          mdt_err *err)
{
    return s->ops->cred_get(s, id, a, out, err);
}

mdt_rc mdt_store_cred_find(mdt_store *s, const char *type, const uint8_t hash[MDT_HASH_LEN],
                           mdt_arena *a, mdt_cred_rec *out, mdt_err *err)
{
    return s->ops->cred_find(s, type, hash, a, out, err);
}

mdt_rc mdt_store_jti_use(mdt_store *s, const char *issuer, const char *jti, int64_t expires_at,
                         int64_t now, mdt_err *err)
{
    if (!issuer || !jti || !*jti)
        return mdt_fail(err, MDT_ERR_INTERNAL, "jti_use needs an issuer and a jti");
    return s->ops->jti_use(s, issuer, jti, expires_at, now, err);
}

mdt_rc mdt_store_jti_use_pending(mdt_store *s, mdt_jti_use_rec *u, int64_t now, mdt_err *err)
{
    mdt_jti_use_rec p = *u;

    if (!p.jti)
        return MDT_OK;
    *u = (mdt_jti_use_rec){0};
    return mdt_store_jti_use(s, p.issuer, p.jti, p.expires_at, now, err);
}

mdt_rc mdt_store_cred_touch(mdt_store *s, const char *id, int64_t now, mdt_err *err)
{
    return s->ops->cred_touch(s, id, now, err);
}

mdt_rc mdt_store_cred_delete(mdt_store *s, const char *client_id, const char *id, mdt_err *err)
{
    return s->ops->cred_delete(s, client_id, id, err);
}

/* --- scopes --- */

mdt_rc mdt_store_scope_insert(mdt_store *s, const mdt_scope_rec *sc, mdt_err *err)
{
    return s->ops->scope_insert(s, sc, err);
}

mdt_rc mdt_store_scope_get(mdt_store *s, const char *name, mdt_arena *a, mdt_scope_rec *out,
                           mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->scope_get(s, name, a, out, err);
}

mdt_rc mdt_store_scope_list(mdt_store *s, mdt_arena *a, mdt_scope_rec **out, size_t *n,
                            mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->scope_list(s, a, out, n, err);
}

/* --- tokens --- */

mdt_rc mdt_store_token_insert(mdt_store *s, const mdt_token_rec *t, mdt_err *err)
{
    return s->ops->token_insert(s, t, err);
}

mdt_rc mdt_store_token_get(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                           mdt_arena *a, mdt_token_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->token_get(s, id, hash, a, out, err);
}

mdt_rc mdt_store_token_revoke(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                              int64_t now, mdt_err *err)
{
    if (now <= 0) /* 0 would read as "not revoked" */
        return mdt_fail(err, MDT_ERR_INTERNAL, "token revocation without a time");
    return s->ops->token_revoke(s, id, hash, now, err);
}

mdt_rc mdt_store_jti_revoke(mdt_store *s, const char *jti, const char *client_id,
                            int64_t expires_at, int64_t now, mdt_err *err)
{
    return s->ops->jti_revoke(s, jti, client_id, expires_at, now, err);
}

mdt_rc mdt_store_jti_is_revoked(mdt_store *s, const char *jti, bool *out, mdt_err *err)
{
    *out = false;
    return s->ops->jti_is_revoked(s, jti, out, err);
}

mdt_rc mdt_store_purge_expired(mdt_store *s, int64_t now, mdt_err *err)
{
    return s->ops->purge_expired(s, now, err);
}

/* --- signing keys --- */

mdt_rc mdt_store_key_insert(mdt_store *s, const mdt_key_rec *k, mdt_err *err)
{
    if (!k->sealed || k->sealed_len == 0)
        return mdt_fail(err, MDT_ERR_INTERNAL, "signing key without sealed material");
    return s->ops->key_insert(s, k, err);
}

mdt_rc mdt_store_key_list(mdt_store *s, mdt_arena *a, mdt_key_rec **out, size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->key_list(s, a, out, n, err);
}

mdt_rc mdt_store_key_schedule(mdt_store *s, const char *kid, int64_t retire_at, int64_t expire_at,
                              mdt_err *err)
{
    return s->ops->key_schedule(s, kid, retire_at, expire_at, err);
}

/* --- users --- */

/* Fields every backend needs set: the columns are NOT NULL. */
static bool user_complete(const mdt_user_rec *u)
{
    return u->username && u->username[0] && u->name && u->email && u->roles && u->status &&
           u->password_hash && u->password_hash[0];
}

mdt_rc mdt_store_user_insert(mdt_store *s, const mdt_user_rec *u, mdt_err *err)
{
    if (!user_complete(u))
        return mdt_fail(err, MDT_ERR_INTERNAL, "user record incomplete");
    return s->ops->user_insert(s, u, err);
}

mdt_rc mdt_store_user_get(mdt_store *s, const char *username, mdt_arena *a, mdt_user_rec *out,
                          mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->user_get(s, username, a, out, err);
}

mdt_rc mdt_store_user_list(mdt_store *s, mdt_arena *a, mdt_user_rec **out, size_t *n,
                           mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->user_list(s, a, out, n, err);
}

mdt_rc mdt_store_user_update(mdt_store *s, const mdt_user_rec *u, mdt_err *err)
{
    if (!user_complete(u))
        return mdt_fail(err, MDT_ERR_INTERNAL, "user record incomplete");
    return s->ops->user_update(s, u, err);
}

mdt_rc mdt_store_clients_version(mdt_store *s, int64_t *out, mdt_err *err)
{
    *out = 0;
    return s->ops->clients_version(s, out, err);
}

mdt_rc mdt_store_clients_version_recent(mdt_store *s, int64_t max_age_us, int64_t *out,
                                        mdt_err *err)
{
    int64_t now = mdt_time_mono_us();
    bool recent;

    pthread_mutex_lock(&s->seen_mu);
    recent = s->clients_seen_at && now - s->clients_seen_at <= max_age_us;
    *out = s->clients_seen;
    pthread_mutex_unlock(&s->seen_mu);
    return recent ? MDT_OK : mdt_store_clients_version(s, out, err);
}

void mdt_store__clients_seen(mdt_store *s, int64_t v, int64_t at)
{
    pthread_mutex_lock(&s->seen_mu);
    /* an older read never replaces a newer one, nor one begun before a
     * change this process made */
    if (at >= s->clients_seen_at && at > s->clients_moved_at) {
        s->clients_seen = v;
        s->clients_seen_at = at;
    }
    pthread_mutex_unlock(&s->seen_mu);
}

void mdt_store__clients_moved(mdt_store *s)
{
    pthread_mutex_lock(&s->seen_mu);
    s->clients_seen_at = 0;
    s->clients_moved_at = mdt_time_mono_us();
    pthread_mutex_unlock(&s->seen_mu);
}

mdt_rc mdt_store_user_count(mdt_store *s, int64_t *out, mdt_err *err)
{
    *out = 0;
    return s->ops->user_count(s, out, err);
}

/* --- initial access tokens --- */

mdt_rc mdt_store_iat_insert(mdt_store *s, const mdt_iat_rec *t, mdt_err *err)
{
    if (!t->id || !t->id[0] || t->max_uses < 1)
        return mdt_fail(err, MDT_ERR_INTERNAL, "initial access token record incomplete");
    return s->ops->iat_insert(s, t, err);
}

mdt_rc mdt_store_iat_find(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_iat_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->iat_find(s, hash, a, out, err);
}

mdt_rc mdt_store_iat_get(mdt_store *s, const char *id, mdt_arena *a, mdt_iat_rec *out,
                         mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->iat_get(s, id, a, out, err);
}

mdt_rc mdt_store_iat_consume(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                             mdt_iat_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->iat_consume(s, id, now, a, out, err);
}

/* --- CIBA requests, single-use tokens --- */

mdt_rc mdt_store_ciba_insert(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const mdt_ciba_rec *r,
                             mdt_err *err)
{
    if (!r->request_id || !r->client_id || r->interval < 1 || !r->expires_at)
        return mdt_fail(err, MDT_ERR_INTERNAL, "CIBA request record incomplete");
    return s->ops->ciba_insert(s, hash, r, err);
}

mdt_rc mdt_store_ciba_poll(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                           int64_t now, mdt_arena *a, mdt_ciba_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->ciba_poll(s, hash, client_id, now, a, out, err);
}

mdt_rc mdt_store_ciba_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                          mdt_arena *a, mdt_ciba_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!client_id)
        return mdt_fail(err, MDT_ERR_INTERNAL, "CIBA lookup without a client");
    return s->ops->ciba_get(s, hash, client_id, a, out, err);
}

mdt_rc mdt_store_ciba_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                              mdt_err *err)
{
    return s->ops->ciba_consume(s, hash, now, err);
}

mdt_rc mdt_store_single_use_add(mdt_store *s, const char *jti, int64_t expires_at, mdt_err *err)
{
    if (!jti || !*jti)
        return mdt_fail(err, MDT_ERR_INTERNAL, "single-use token without jti");
    return s->ops->single_use_add(s, jti, expires_at, err);
}

mdt_rc mdt_store_single_use_take(mdt_store *s, const char *jti, int64_t *uses, mdt_err *err)
{
    *uses = 0;
    if (!jti || !*jti)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "not a single-use token");
    return s->ops->single_use_take(s, jti, uses, err);
}

/* --- dynamic entitlements --- */

mdt_rc mdt_store_entitlement_insert(mdt_store *s, const mdt_entitlement_rec *e, mdt_err *err)
{
    if (!e->id || !e->client_id || !e->scope || !*e->scope || !e->approved_by || !e->created_at)
        return mdt_fail(err, MDT_ERR_INTERNAL, "entitlement record incomplete");
    return s->ops->entitlement_insert(s, e, err);
}

mdt_rc mdt_store_entitlement_list(mdt_store *s, const char *client_id, int64_t now, mdt_arena *a,
                                  mdt_entitlement_rec **out, size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->entitlement_list(s, client_id, now, a, out, n, err);
}

mdt_rc mdt_store_entitlement_end(mdt_store *s, const char *client_id, const char *id, int64_t now,
                                 mdt_arena *a, mdt_entitlement_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->entitlement_end(s, client_id, id, now, a, out, err);
}

/* --- approval requests --- */

mdt_rc mdt_store_request_insert(mdt_store *s, const mdt_request_rec *r, mdt_err *err)
{
    if (!r->id || !r->type || !r->status)
        return mdt_fail(err, MDT_ERR_INTERNAL, "request record incomplete");
    return s->ops->request_insert(s, r, err);
}

mdt_rc mdt_store_request_get(mdt_store *s, const char *id, mdt_arena *a, mdt_request_rec *out,
                             mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->request_get(s, id, a, out, err);
}

mdt_rc mdt_store_request_list(mdt_store *s, mdt_arena *a, mdt_request_rec **out, size_t *n,
                              mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->request_list(s, a, out, n, err);
}

mdt_rc mdt_store_request_decide(mdt_store *s, const char *id, const char *status,
                                const char *decided_by, const char *note, int64_t now,
                                mdt_arena *a, mdt_request_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!mdt_str_eq(status, "approved") && !mdt_str_eq(status, "denied"))
        return mdt_fail(err, MDT_ERR_INTERNAL, "a decision is approved or denied");
    if (now <= 0) /* 0 would read as "not decided" */
        return mdt_fail(err, MDT_ERR_INTERNAL, "decision without a time");
    return s->ops->request_decide(s, id, status, decided_by, note, now, a, out, err);
}

mdt_rc mdt_store_request_insert_notify(mdt_store *s, const mdt_request_rec *r,
                                       const mdt_outbox_rec *ev, size_t nev, mdt_err *err)
{
    return s->ops->request_insert_notify(s, r, ev, nev, err);
}

mdt_rc mdt_store_request_vote(mdt_store *s, const char *id, const char *approver, bool approve,
                              int64_t quorum, const char *note, int64_t now, mdt_arena *a,
                              mdt_request_rec *out, int64_t *allows, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    *allows = 0;
    if (now <= 0 || quorum < 1 || !approver)
        return mdt_fail(err, MDT_ERR_INTERNAL, "a vote needs a time, a quorum and an approver");
    return s->ops->request_vote(s, id, approver, approve, quorum, note, now, a, out, allows, err);
}

mdt_rc mdt_store_vote_list(mdt_store *s, mdt_arena *a, mdt_vote_rec **out, size_t *n,
                           mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->vote_list(s, a, out, n, err);
}

mdt_rc mdt_store_request_votes(mdt_store *s, const char *id, mdt_arena *a, mdt_vote_rec **out,
                               size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->request_votes(s, id, a, out, n, err);
}

mdt_rc mdt_store_request_count_pending(mdt_store *s, int64_t now, int64_t *out, mdt_err *err)
{
    *out = 0;
    return s->ops->request_count_pending(s, now, out, err);
}

mdt_rc mdt_store_request_list_pending(mdt_store *s, int64_t now, mdt_arena *a,
                                      mdt_request_rec **out, size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->request_list_pending(s, now, a, out, n, err);
}

mdt_rc mdt_store_request_expire_due(mdt_store *s, int64_t now, int64_t limit, mdt_arena *a,
                                    mdt_request_rec **out, size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    if (now <= 0 || limit < 1)
        return mdt_fail(err, MDT_ERR_INTERNAL, "expiry without a time or a limit");
    return s->ops->request_expire_due(s, now, limit, a, out, n, err);
}

/* --- webhook outbox --- */

mdt_rc mdt_store_outbox_claim(mdt_store *s, int64_t now, int64_t lease_until, int64_t limit,
                              mdt_arena *a, mdt_outbox_rec **out, size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    if (lease_until <= now || limit < 1)
        return mdt_fail(err, MDT_ERR_INTERNAL, "a claim needs a lease and a limit");
    return s->ops->outbox_claim(s, now, lease_until, limit, a, out, n, err);
}

mdt_rc mdt_store_outbox_delete(mdt_store *s, const char *id, mdt_err *err)
{
    return s->ops->outbox_delete(s, id, err);
}

mdt_rc mdt_store_outbox_retry(mdt_store *s, const char *id, int64_t next_at, mdt_err *err)
{
    return s->ops->outbox_retry(s, id, next_at, err);
}

mdt_rc mdt_store_outbox_list(mdt_store *s, mdt_arena *a, mdt_outbox_rec **out, size_t *n,
                             mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->outbox_list(s, a, out, n, err);
}

/* --- rate limits --- */

mdt_rc mdt_store_rate_hit(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                          mdt_err *err)
{
    *count = 0;
    if (!name || !name[0])
        return mdt_fail(err, MDT_ERR_INTERNAL, "rate counter without a name");
    return s->ops->rate_hit(s, name, window_start, count, err);
}

mdt_rc mdt_store_rate_peek(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                           mdt_err *err)
{
    *count = 0;
    return s->ops->rate_peek(s, name, window_start, count, err);
}

mdt_rc mdt_store_rate_release(mdt_store *s, const char *name, int64_t window_start,
                              mdt_err *err)
{
    if (!name || !name[0])
        return mdt_fail(err, MDT_ERR_INTERNAL, "rate counter without a name");
    return s->ops->rate_release(s, name, window_start, err);
}

/* --- authorization requests, codes, consents --- */

mdt_rc mdt_store_authz_request_insert(mdt_store *s, const mdt_authz_request_rec *r, mdt_err *err)
{
    if (!r->id || !r->id[0] || !r->client_id || !r->redirect_uri || !r->code_challenge ||
        r->expires_at <= 0)
        return mdt_fail(err, MDT_ERR_INTERNAL, "authorization request record incomplete");
    return s->ops->authz_request_insert(s, r, err);
}

mdt_rc mdt_store_authz_request_get(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                   mdt_authz_request_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!id || !id[0])
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "authorization request not found");
    return s->ops->authz_request_get(s, id, now, a, out, err);
}

mdt_rc mdt_store_authz_request_take(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                    mdt_authz_request_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!id || !id[0])
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "authorization request not found");
    return s->ops->authz_request_take(s, id, now, a, out, err);
}

/* --- device authorizations --- */

mdt_rc mdt_store_device_insert(mdt_store *s, const mdt_device_rec *d, mdt_err *err)
{
    if (!d->client_id || !d->client_id[0] || d->interval <= 0 || d->expires_at <= 0)
        return mdt_fail(err, MDT_ERR_INTERNAL, "device authorization incomplete");
    return s->ops->device_insert(s, d, err);
}

mdt_rc mdt_store_device_find_user(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN],
                                  int64_t now, mdt_arena *a, mdt_device_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->device_find_user(s, user_hash, now, a, out, err);
}

mdt_rc mdt_store_device_bind(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN],
                             const char *request_id, int64_t now, mdt_arena *a,
                             mdt_device_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!request_id || !request_id[0])
        return mdt_fail(err, MDT_ERR_INTERNAL, "no request to bind");
    return s->ops->device_bind(s, user_hash, request_id, now, a, out, err);
}

mdt_rc mdt_store_device_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                            mdt_arena *a, mdt_device_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!client_id)
        return mdt_fail(err, MDT_ERR_INTERNAL, "device lookup without a client");
    return s->ops->device_get(s, hash, client_id, a, out, err);
}

mdt_rc mdt_store_device_poll(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                             const char *client_id, int64_t now, mdt_arena *a,
                             mdt_device_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!client_id || now <= 0)
        return mdt_fail(err, MDT_ERR_INTERNAL, "poll without a client or a time");
    return s->ops->device_poll(s, hash, client_id, now, a, out, err);
}

mdt_rc mdt_store_device_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                                const char *client_id, int64_t now, mdt_arena *a,
                                mdt_device_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!client_id || now <= 0) /* 0 would read as "not redeemed" */
        return mdt_fail(err, MDT_ERR_INTERNAL, "redemption without a client or a time");
    return s->ops->device_consume(s, hash, client_id, now, a, out, err);
}

mdt_rc mdt_store_code_insert(mdt_store *s, const mdt_authz_code_rec *c, mdt_err *err)
{
    if (!c->client_id || !c->username || !c->redirect_uri || !c->code_challenge ||
        c->expires_at <= 0)
        return mdt_fail(err, MDT_ERR_INTERNAL, "authorization code record incomplete");
    return s->ops->code_insert(s, c, err);
}

mdt_rc mdt_store_code_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_authz_code_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->code_get(s, hash, a, out, err);
}

mdt_rc mdt_store_code_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                              const mdt_code_issue *issue, mdt_arena *a, mdt_authz_code_rec *out,
                              mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!issue || !issue->access_jti || !issue->access_jti[0] || !issue->family)
        return mdt_fail(err, MDT_ERR_INTERNAL, "what the code issues is not named");
    return s->ops->code_consume(s, hash, now, issue, a, out, err);
}

mdt_rc mdt_store_grant_revoke(mdt_store *s, const char *username, const char *client_id,
                              int64_t now, mdt_err *err)
{
    if (!username || !username[0] || (client_id && !client_id[0]))
        return mdt_fail(err, MDT_ERR_INTERNAL, "grant to revoke not named");
    return s->ops->grant_revoke(s, username, client_id, now, err);
}

mdt_rc mdt_store_session_revoke_user(mdt_store *s, const char *username, int64_t now,
                                     mdt_err *err)
{
    if (!username || !username[0])
        return mdt_fail(err, MDT_ERR_INTERNAL, "sessions of nobody");
    return s->ops->session_revoke_user(s, username, now, err);
}

mdt_rc mdt_store_refresh_insert(mdt_store *s, const mdt_refresh_rec *r, mdt_err *err)
{
    if (!r->family || !r->client_id || !r->subject || !r->scope)
        return mdt_fail(err, MDT_ERR_INTERNAL, "refresh token record incomplete");
    return s->ops->refresh_insert(s, r, err);
}

mdt_rc mdt_store_refresh_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                             mdt_refresh_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->refresh_get(s, hash, a, out, err);
}

mdt_rc mdt_store_refresh_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                                 mdt_arena *a, mdt_refresh_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->refresh_consume(s, hash, now, a, out, err);
}

mdt_rc mdt_store_refresh_revoke_family(mdt_store *s, const char *family, int64_t now,
                                       mdt_err *err)
{
    if (!family || !*family)
        return mdt_fail(err, MDT_ERR_INTERNAL, "refresh token family missing");
    return s->ops->refresh_revoke_family(s, family, now, err);
}

mdt_rc mdt_store_consent_get(mdt_store *s, const char *username, const char *client_id,
                             mdt_arena *a, mdt_consent_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->consent_get(s, username, client_id, a, out, err);
}

mdt_rc mdt_store_consent_put(mdt_store *s, const mdt_consent_rec *c, mdt_err *err)
{
    if (!c->username || !c->client_id || !c->scope)
        return mdt_fail(err, MDT_ERR_INTERNAL, "consent record incomplete");
    return s->ops->consent_put(s, c, err);
}

mdt_rc mdt_store_consent_list(mdt_store *s, const char *username, mdt_arena *a,
                              mdt_consent_rec **out, size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->consent_list(s, username, a, out, n, err);
}

mdt_rc mdt_store_consent_delete(mdt_store *s, const char *username, const char *client_id,
                                mdt_err *err)
{
    return s->ops->consent_delete(s, username, client_id, err);
}

/* --- web sessions --- */

mdt_rc mdt_store_session_insert(mdt_store *s, const mdt_session_rec *v, mdt_err *err)
{
    if (!v->username || !v->username[0] || !v->amr || v->expires_at <= 0)
        return mdt_fail(err, MDT_ERR_INTERNAL, "session record incomplete");
    return s->ops->session_insert(s, v, err);
}

mdt_rc mdt_store_session_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                             mdt_session_rec *out, mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->session_get(s, hash, a, out, err);
}

mdt_rc mdt_store_session_touch(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                               mdt_err *err)
{
    return s->ops->session_touch(s, hash, now, err);
}

mdt_rc mdt_store_session_revoke(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                                mdt_err *err)
{
    return s->ops->session_revoke(s, hash, now, err);
}

/* --- audit --- */

mdt_rc mdt_store_audit_append(mdt_store *s, mdt_audit_rec *evs, size_t n, mdt_audit_hash_fn hash,
                              mdt_err *err)
{
    if (n == 0)
        return MDT_OK;
    if (!hash)
        return mdt_fail(err, MDT_ERR_INTERNAL, "audit append without a hash function");
    return s->ops->audit_append(s, evs, n, hash, err);
}

mdt_rc mdt_store_audit_each(mdt_store *s, int64_t after_seq, int64_t since, mdt_audit_each_fn fn,
                            void *ctx, mdt_err *err)
{
    return s->ops->audit_each(s, after_seq, since, fn, ctx, err);
}

mdt_rc mdt_store_audit_each_client(mdt_store *s, const char *client_id, int64_t after_seq,
                                   int64_t since, mdt_audit_each_fn fn, void *ctx, mdt_err *err)
{
    return s->ops->audit_each_client(s, client_id, after_seq, since, fn, ctx, err);
}

mdt_rc mdt_store_audit_head(mdt_store *s, int64_t *seq, uint8_t hash[MDT_HASH_LEN], mdt_err *err)
{
    *seq = 0;
    memset(hash, 0, MDT_HASH_LEN);
    return s->ops->audit_head(s, seq, hash, err);
}

mdt_rc mdt_store_audit_find_type(mdt_store *s, const char *type, int64_t *seq, mdt_err *err)
{
    *seq = 0;
    return s->ops->audit_find_type(s, type, seq, err);
}

mdt_rc mdt_store_audit_checkpoint_add(mdt_store *s, const mdt_audit_checkpoint_rec *c, mdt_err *err)
{
    if (c->n < 1 || c->seq < 1 || !c->jws)
        return mdt_fail(err, MDT_ERR_INTERNAL, "malformed audit checkpoint");
    return s->ops->audit_checkpoint_add(s, c, err);
}

mdt_rc mdt_store_audit_checkpoint_last(mdt_store *s, mdt_arena *a, mdt_audit_checkpoint_rec *out,
                                       mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->audit_checkpoint_last(s, a, out, err);
}

mdt_rc mdt_store_audit_checkpoint_each(mdt_store *s, mdt_audit_checkpoint_fn fn, void *ctx,
                                       mdt_err *err)
{
    return s->ops->audit_checkpoint_each(s, fn, ctx, err);
}

void mdt_store_set_audit_key(mdt_store *s, const uint8_t key[MDT_HASH_LEN])
{
    s->has_audit_key = key != NULL;
    if (key)
        memcpy(s->audit_key, key, MDT_HASH_LEN);
    else
        mdt_wipe(s->audit_key, MDT_HASH_LEN);
}

const uint8_t *mdt_store_audit_key(const mdt_store *s)
{
    return s->has_audit_key ? s->audit_key : NULL;
}

mdt_rc mdt_store_audit_last_seq(mdt_store *s, int64_t *out, mdt_err *err)
{
    *out = 0;
    return s->ops->audit_last_seq(s, out, err);
}

/* --- usage, access review decisions --- */

mdt_rc mdt_store_usage_flush(mdt_store *s, const mdt_usage_scope_rec *sc, size_t nsc,
                             const mdt_usage_day_rec *days, size_t ndays, mdt_err *err)
{
    if (nsc == 0 && ndays == 0)
        return MDT_OK;
    for (size_t i = 0; i < nsc; i++)
        if (!sc[i].client_id || !sc[i].scope)
            return mdt_fail(err, MDT_ERR_INTERNAL, "usage record incomplete");
    for (size_t i = 0; i < ndays; i++)
        if (!days[i].client_id)
            return mdt_fail(err, MDT_ERR_INTERNAL, "usage record incomplete");
    return s->ops->usage_flush(s, sc, nsc, days, ndays, err);
}

mdt_rc mdt_store_usage_scope_list(mdt_store *s, mdt_arena *a, mdt_usage_scope_rec **out,
                                  size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->usage_scope_list(s, a, out, n, err);
}

mdt_rc mdt_store_usage_day_list(mdt_store *s, const char *client_id, int64_t since_day,
                                mdt_arena *a, mdt_usage_day_rec **out, size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->usage_day_list(s, client_id, since_day, a, out, n, err);
}

mdt_rc mdt_store_refresh_live_count(mdt_store *s, const char *client_id, int64_t now,
                                    int64_t *count, mdt_err *err)
{
    *count = 0;
    return s->ops->refresh_live_count(s, client_id, now, count, err);
}

mdt_rc mdt_store_refresh_revoke_client(mdt_store *s, const char *client_id, int64_t now,
                                       int64_t *revoked, mdt_err *err)
{
    *revoked = 0;
    return s->ops->refresh_revoke_client(s, client_id, now, revoked, err);
}

mdt_rc mdt_store_review_insert(mdt_store *s, const mdt_review_decision_rec *d, mdt_err *err)
{
    if (!d->id || !d->finding_id || !d->kind || !d->client_id || !d->decision ||
        !d->decided_by)
        return mdt_fail(err, MDT_ERR_INTERNAL, "review decision incomplete");
    return s->ops->review_insert(s, d, err);
}

mdt_rc mdt_store_review_list(mdt_store *s, mdt_arena *a, mdt_review_decision_rec **out,
                             size_t *n, mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->review_list(s, a, out, n, err);
}

/* --- policies --- */

static bool policy_complete(const mdt_policy_rec *p)
{
    return p->id && p->text && p->created_by;
}

mdt_rc mdt_store_policy_insert(mdt_store *s, const mdt_policy_rec *p, mdt_err *err)
{
    if (!policy_complete(p))
        return mdt_fail(err, MDT_ERR_INTERNAL, "policy incomplete");
    return s->ops->policy_insert(s, p, err);
}

mdt_rc mdt_store_policy_update(mdt_store *s, const mdt_policy_rec *p, mdt_err *err)
{
    if (!p->id || !p->text)
        return mdt_fail(err, MDT_ERR_INTERNAL, "policy incomplete");
    return s->ops->policy_update(s, p, err);
}

mdt_rc mdt_store_policy_delete(mdt_store *s, const char *id, mdt_err *err)
{
    return s->ops->policy_delete(s, id, err);
}

mdt_rc mdt_store_policy_get(mdt_store *s, const char *id, mdt_arena *a, mdt_policy_rec *out,
                            mdt_err *err)
{
    memset(out, 0, sizeof(*out));
    return s->ops->policy_get(s, id, a, out, err);
}

mdt_rc mdt_store_policy_list(mdt_store *s, mdt_arena *a, mdt_policy_rec **out, size_t *n,
                             mdt_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->policy_list(s, a, out, n, err);
}

mdt_rc mdt_store_policies_version(mdt_store *s, int64_t *out, mdt_err *err)
{
    *out = 0;
    return s->ops->policies_version(s, out, err);
}
