/* A per-thread cache of parsed clients for the token path. An entry is
 * served only while the store's clients counter (moved in the same
 * transaction as every change of a client or its credentials, by any process
 * or node) still has the value it was read at: one indexed read replaces
 * reading the client, its credentials and parsing its metadata. Entries are
 * copied into the caller's arena, so a request never holds a pointer into the
 * cache. Threads own their caches, so nothing here takes a lock. */
#include <stdlib.h>
#include <string.h>

#include "core/thread_local.h"
#include "iga/client.h"
#include "iga/internal.h"

#define SLOTS 64
#define MAX_ID 128
#define CHECKS_MAX 8

/* The premises recorded between mdt_client_checks_begin and _end. */
static _Thread_local struct {
    bool on;
    size_t n;
    mdt_client_check k[CHECKS_MAX];
    char ids[CHECKS_MAX][MAX_ID];
} tl_checks;

typedef struct {
    char id[MAX_ID];
    const mdt_store *store; /* a process may hold several stores (tests do) */
    int64_t version;
    bool used;
    mdt_arena arena; /* owns client */
    mdt_client client;
} slot;

static void *cache_make(void)
{
    slot *slots = calloc(SLOTS, sizeof(*slots));

    for (size_t i = 0; slots && i < SLOTS; i++)
        mdt_arena_init(&slots[i].arena, 2048);
    return slots;
}

static void cache_free(void *p)
{
    slot *slots = p;
    for (size_t i = 0; i < SLOTS; i++)
        mdt_arena_free(&slots[i].arena);
    free(slots);
}

static mdt_thread_local caches = MDT_THREAD_LOCAL(cache_make, cache_free);

static slot *slot_for(const char *id, bool create)
{
    slot *slots = create ? mdt_thread_local_get(&caches) : mdt_thread_local_peek(&caches);
    uint32_t h = 2166136261u;

    if (!slots)
        return NULL;
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &slots[h % SLOTS];
}

static const char **copy_list(mdt_arena *a, const char **src, size_t n, bool *ok)
{
    const char **out;

    if (!n)
        return NULL;
    if (!(out = mdt_arena_alloc(a, n * sizeof(*out)))) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = mdt_arena_strdup(a, src[i])))
            *ok = false;
    return out;
}

static const char *dup(mdt_arena *a, const char *s, bool *ok)
{
    const char *d = mdt_arena_strdup(a, s);
    if (s && !d)
        *ok = false;
    return d;
}

static bool copy_creds(mdt_arena *a, const mdt_client *src, mdt_client *dst)
{
    mdt_cred_rec *creds;
    bool ok = true;

    if (!src->ncreds)
        return true;
    if (!(creds = mdt_arena_alloc(a, src->ncreds * sizeof(*creds))))
        return false;
    for (size_t i = 0; i < src->ncreds; i++) {
        creds[i] = src->creds[i];
        creds[i].id = dup(a, src->creds[i].id, &ok);
        creds[i].client_id = dup(a, src->creds[i].client_id, &ok);
        creds[i].type = dup(a, src->creds[i].type, &ok);
        creds[i].name = dup(a, src->creds[i].name, &ok);
    }
    dst->creds = creds;
    return ok;
}

static bool copy_ents(mdt_arena *a, const mdt_client *src, mdt_client *dst)
{
    mdt_entitlement_rec *ents;
    bool ok = true;

    dst->ents = NULL;
    if (!src->nents)
        return true;
    if (!(ents = mdt_arena_alloc(a, src->nents * sizeof(*ents))))
        return false;
    for (size_t i = 0; i < src->nents; i++) {
        ents[i] = src->ents[i];
        ents[i].id = dup(a, src->ents[i].id, &ok);
        ents[i].client_id = dup(a, src->ents[i].client_id, &ok);
        ents[i].scope = dup(a, src->ents[i].scope, &ok);
        ents[i].resource = dup(a, src->ents[i].resource, &ok);
        ents[i].request_id = dup(a, src->ents[i].request_id, &ok);
        ents[i].approved_by = dup(a, src->ents[i].approved_by, &ok);
    }
    dst->ents = ents;
    return ok;
}

/* Deep copy of a client into a. */
static bool client_copy(mdt_arena *a, const mdt_client *src, mdt_client *dst)
{
    bool ok = true;

    *dst = *src;
    dst->client_id = dup(a, src->client_id, &ok);
    dst->status = dup(a, src->status, &ok);
    dst->name = dup(a, src->name, &ok);
    dst->creds = NULL;
    dst->kind = dup(a, src->kind, &ok);
    dst->owner = dup(a, src->owner, &ok);
    dst->tier = dup(a, src->tier, &ok);
    dst->auth_method = dup(a, src->auth_method, &ok);
    dst->software_id = dup(a, src->software_id, &ok);
    dst->software_version = dup(a, src->software_version, &ok);
    dst->access_token_format = dup(a, src->access_token_format, &ok);
    dst->metadata = dup(a, src->metadata, &ok);
    dst->jwks = dup(a, src->jwks, &ok);
    dst->jwks_uri = dup(a, src->jwks_uri, &ok);
    dst->auth_signing_alg = dup(a, src->auth_signing_alg, &ok);
    dst->tls_subject_dn = dup(a, src->tls_subject_dn, &ok);
    dst->tls_san_dns = dup(a, src->tls_san_dns, &ok);
    dst->tls_san_uri = dup(a, src->tls_san_uri, &ok);
    dst->tls_san_ip = dup(a, src->tls_san_ip, &ok);
    dst->tls_san_email = dup(a, src->tls_san_email, &ok);
    dst->workload_issuer = dup(a, src->workload_issuer, &ok);
    dst->workload_subject = dup(a, src->workload_subject, &ok);
    dst->origin = dup(a, src->origin, &ok);
    dst->vouched_by = dup(a, src->vouched_by, &ok);
    dst->iat_id = dup(a, src->iat_id, &ok);
    dst->scopes = copy_list(a, src->scopes, src->nscopes, &ok);
    dst->resources = copy_list(a, src->resources, src->nresources, &ok);
    dst->introspection_for = copy_list(a, src->introspection_for, src->nintrospection_for, &ok);
    dst->grant_types = copy_list(a, src->grant_types, src->ngrant_types, &ok);
    dst->redirect_uris = copy_list(a, src->redirect_uris, src->nredirect_uris, &ok);
    dst->post_logout_redirect_uris =
        copy_list(a, src->post_logout_redirect_uris, src->npost_logout_redirect_uris, &ok);
    return ok && copy_creds(a, src, dst) && copy_ents(a, src, dst);
}

/* c (cached: static entitlements, and in ents every dynamic one live when
 * it was read) as the request at now sees it: the dynamic ones still live
 * at now merged in, so that one stops working the second it expires. */
static mdt_rc serve(mdt_env *env, const mdt_client *c, int64_t now, mdt_arena *a,
                    mdt_client *out, mdt_err *err)
{
    if (!client_copy(a, c, out))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    out->status = mdt_iga__client_status(env, c, now);
    return mdt_iga__entitlements_merge(a, out, now, err);
}

/* Reads client_id with its dynamic entitlements live at now (unmerged). */
static mdt_rc read_client(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                          mdt_client *out, mdt_err *err)
{
    mdt_entitlement_rec *ents = NULL;
    mdt_rc rc = mdt_iga__client_read(env, client_id, a, out, err);

    if (rc == MDT_OK &&
        (rc = mdt_store_entitlement_list(env->store, client_id, now, a, &ents, &out->nents,
                                         err)) == MDT_OK)
        out->ents = ents;
    return rc;
}

/* Whether a cached entry may say a self-registered client never
 * authenticated while it did: last_used_at is recorded in the store and in
 * the cache of the thread that saw the use only (a touch does not move the
 * clients counter), so an inactivity expiry seen in a cache is confirmed
 * from the store before it is believed. */
static bool idle_expired(mdt_env *env, const mdt_client *c, int64_t now)
{
    return c->origin &&
           mdt_client_status_from_name(mdt_iga__client_status(env, c, now)) == MDT_CLIENT_EXPIRED &&
           mdt_client_status_from_name(mdt_iga__effective_status(c->status, c->expires_at, now)) !=
               MDT_CLIENT_EXPIRED;
}

void mdt_client_checks_begin(void)
{
    tl_checks.on = true;
    tl_checks.n = 0;
}

bool mdt_client_checks_active(void) { return tl_checks.on; }

const mdt_client_check *mdt_client_checks_end(mdt_arena *a, size_t *n)
{
    mdt_client_check *out = NULL;

    *n = 0;
    if (tl_checks.on && tl_checks.n &&
        (out = mdt_arena_alloc(a, tl_checks.n * sizeof(*out)))) {
        for (size_t i = 0; i < tl_checks.n; i++) {
            out[i] = tl_checks.k[i];
            if (!(out[i].client_id = mdt_arena_strdup(a, tl_checks.ids[i])))
                return NULL;
        }
        *n = tl_checks.n;
    }
    tl_checks.on = false;
    tl_checks.n = 0;
    return out;
}

/* Records that the decision under way used client c as of the clients
 * counter's value clients. A client loaded again replaces what was noted of
 * it: the decision goes on from the later load (a request that changed the
 * client itself, as a client ID metadata document's refetch does, loads it
 * again after the change). */
static void note_premise(const mdt_client *c, int64_t clients)
{
    size_t i = 0;

    while (i < tl_checks.n && strcmp(tl_checks.ids[i], c->client_id) != 0)
        i++;
    if (i == tl_checks.n) {
        memcpy(tl_checks.ids[i], c->client_id, strlen(c->client_id) + 1);
        tl_checks.n++;
    }
    tl_checks.k[i] = (mdt_client_check){
        .client_id = tl_checks.ids[i], .version = c->version, .clients = clients};
}

mdt_rc mdt_client_load(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                       mdt_client *out, mdt_err *err)
{
    /* recorded premises are checked at commit: the counter may be recent */
    bool premised = tl_checks.on && tl_checks.n < CHECKS_MAX;
    int64_t version;
    slot *s;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!client_id || strlen(client_id) >= MAX_ID ||
        (premised ? mdt_store_clients_version_recent(env->store, MDT_CLIENT_RECENT_US, &version,
                                                      err)
                  : mdt_store_clients_version(env->store, &version, err)) != MDT_OK ||
        !(s = slot_for(client_id, true))) {
        /* uncacheable: read through */
        if ((rc = read_client(env, client_id, now, a, out, err)) != MDT_OK)
            return rc;
        out->status = mdt_iga__client_status(env, out, now);
        return mdt_iga__entitlements_merge(a, out, now, err);
    }
    if (!(s->used && s->version == version && s->store == env->store &&
          strcmp(s->id, client_id) == 0 && !idle_expired(env, &s->client, now))) {
        s->used = false;
        mdt_arena_reset(&s->arena);
        if ((rc = read_client(env, client_id, now, &s->arena, &s->client, err)) != MDT_OK)
            return rc;
        memcpy(s->id, client_id, strlen(client_id) + 1);
        s->version = version;
        s->store = env->store;
        s->used = true;
    }
    if (premised)
        note_premise(&s->client, version);
    return serve(env, &s->client, now, a, out, err);
}

void mdt_iga__cache_touched(const char *client_id, const char *cred_id, int64_t now)
{
    slot *s = slot_for(client_id, false);

    if (!s || !s->used || strcmp(s->id, client_id) != 0)
        return;
    for (size_t i = 0; i < s->client.ncreds; i++)
        if (mdt_str_eq(s->client.creds[i].id, cred_id))
            ((mdt_cred_rec *)s->client.creds)[i].last_used_at = now;
}
