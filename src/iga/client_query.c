/* Lists of clients: filter, sort and page (client_query.h). */
#include "iga/client_query.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "iga/client.h"
#include "iga/internal.h"
#include "iga/names.h"
#include "store/store.h"

static const char *const sort_names[] = {
    [MDT_CLIENT_SORT_ID] = "client_id",     [MDT_CLIENT_SORT_NAME] = "name",
    [MDT_CLIENT_SORT_CREATED] = "created",  [MDT_CLIENT_SORT_KIND] = "kind",
    [MDT_CLIENT_SORT_OWNER] = "owner",      [MDT_CLIENT_SORT_STATUS] = "status",
    [MDT_CLIENT_SORT_TIER] = "tier",        [MDT_CLIENT_SORT_LAST_USED] = "last_used",
};

static const char *const tiers[] = {"low", "medium", "high"};

mdt_client_sort mdt_client_sort_from_name(const char *s)
{
    if (!s || !*s)
        return MDT_CLIENT_SORT_ID;
    for (size_t i = 0; i < MDT_ARRAY_LEN(sort_names); i++)
        if (mdt_str_eq(s, sort_names[i]))
            return (mdt_client_sort)i;
    return MDT_CLIENT_SORT_UNKNOWN;
}

const char *mdt_client_sort_name(mdt_client_sort sort)
{
    return (size_t)sort < MDT_ARRAY_LEN(sort_names) ? sort_names[sort] : NULL;
}

/* 1 (low) .. 3 (high); 0 for anything else. */
static int tier_rank(const char *tier)
{
    for (size_t i = 0; i < MDT_ARRAY_LEN(tiers); i++)
        if (mdt_str_eq(tier, tiers[i]))
            return (int)i + 1;
    return 0;
}

static bool set(const char *s)
{
    return s && *s;
}

mdt_rc mdt_client_filter_check(const mdt_client_filter *f, mdt_err *err)
{
    const mdt_rc bad = MDT_ERR_INVALID_REQUEST;

    if (set(f->kind) && mdt_client_kind_from_name(f->kind) == MDT_CLIENT_KIND_UNKNOWN)
        return mdt_fail(err, bad, "kind must be agent, service, web, native or cli");
    if (set(f->status) && mdt_client_status_from_name(f->status) == MDT_CLIENT_STATUS_UNKNOWN)
        return mdt_fail(err, bad, "status must be active, pending, suspended or expired");
    if (set(f->tier) && !tier_rank(f->tier))
        return mdt_fail(err, bad, "tier must be low, medium or high");
    if (set(f->owner) && strlen(f->owner) > MDT_CLIENT_OWNER_MAX)
        return mdt_fail(err, bad, "owner is too long");
    if ((size_t)f->sort >= MDT_ARRAY_LEN(sort_names))
        return mdt_fail(err, bad,
                        "sort must be client_id, name, created, kind, owner, status, tier or "
                        "last_used");
    if (f->limit > MDT_CLIENT_QUERY_LIMIT_MAX)
        return mdt_fail(err, bad, "limit must be at most 200");
    return MDT_OK;
}

bool mdt_client_filter_match(const mdt_client_filter *f, const mdt_client_summary *c)
{
    if (set(f->kind) && !mdt_str_eq(f->kind, c->kind))
        return false;
    if (set(f->status) && !mdt_str_eq(f->status, c->status))
        return false;
    if (set(f->tier) && !mdt_str_eq(f->tier, c->tier))
        return false;
    if (set(f->owner))
        return mdt_str_eq(f->owner, MDT_CLIENT_QUERY_OWNER_NONE) ? !set(c->owner)
                                                                  : mdt_str_eq(f->owner, c->owner);
    return true;
}

static int cmp_int(int64_t x, int64_t y)
{
    return (x > y) - (x < y);
}

static int cmp_str(const char *x, const char *y)
{
    return strcmp(x ? x : "", y ? y : "");
}

/* x against y by the column alone (0 on a tie). */
static int cmp_column(mdt_client_sort sort, const mdt_client_summary *x,
                      const mdt_client_summary *y)
{
    switch (sort) {
    case MDT_CLIENT_SORT_NAME:
        return strcasecmp(set(x->name) ? x->name : x->client_id,
                          set(y->name) ? y->name : y->client_id);
    case MDT_CLIENT_SORT_CREATED: return cmp_int(x->created_at, y->created_at);
    case MDT_CLIENT_SORT_KIND: return cmp_str(x->kind, y->kind);
    case MDT_CLIENT_SORT_OWNER: return cmp_str(x->owner, y->owner);
    case MDT_CLIENT_SORT_STATUS: return cmp_str(x->status, y->status);
    case MDT_CLIENT_SORT_TIER: return tier_rank(x->tier) - tier_rank(y->tier);
    case MDT_CLIENT_SORT_LAST_USED: return cmp_int(x->last_used_at, y->last_used_at);
    default: return 0;
    }
}

/* The order of the list: the column in the asked direction, then client_id
 * ascending, so that pages never overlap nor skip an item. */
static int cmp(const mdt_client_filter *f, const mdt_client_summary *x,
               const mdt_client_summary *y)
{
    int c = cmp_column(f->sort, x, y);

    if (f->desc)
        c = -c;
    return c ? c : cmp_str(x->client_id, y->client_id);
}

/* Bottom-up merge sort of v[0..n) with tmp of n items (qsort has no
 * context argument in C17). */
static void sort_items(const mdt_client_filter *f, mdt_client_summary *v, mdt_client_summary *tmp,
                       size_t n)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;

            while (i < mid && j < hi)
                tmp[k++] = cmp(f, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof(*v));
    }
}

mdt_rc mdt_client_query_select(const mdt_client_filter *f, mdt_client_summary *all, size_t n,
                               mdt_arena *a, mdt_client_page *out, mdt_err *err)
{
    size_t kept = 0, limit = f->limit ? f->limit : MDT_CLIENT_QUERY_LIMIT;
    mdt_client_summary *tmp = NULL;

    memset(out, 0, sizeof(*out));
    out->next = -1;
    for (size_t i = 0; i < n; i++) {
        if (mdt_client_filter_match(f, &all[i]))
            all[kept++] = all[i];
    }
    if (kept > 1) {
        if (!(tmp = mdt_arena_alloc(a, kept * sizeof(*tmp))))
            return mdt_iga__nomem(err);
        sort_items(f, all, tmp, kept);
    }
    out->total = kept;
    if (f->offset >= kept)
        return MDT_OK;
    out->items = all + f->offset;
    out->n = kept - f->offset < limit ? kept - f->offset : limit;
    if (f->offset + out->n < kept)
        out->next = (int64_t)(f->offset + out->n);
    return MDT_OK;
}

static const char *member(mdt_arena *a, json_t *m, const char *key)
{
    const char *s = json_string_value(json_object_get(m, key));

    return mdt_arena_strdup(a, s ? s : "");
}

/* The summary of a stored client; false on NOMEM (unreadable metadata
 * leaves the metadata members empty). */
static bool summary_of(mdt_env *env, const mdt_client_rec *rec, int64_t now, mdt_arena *a,
                       mdt_client_summary *out)
{
    json_t *m = json_loads(rec->metadata, 0, NULL);
    const char *status = mdt_iga__rec_status(env, rec, m, NULL, 0, now);

    *out = (mdt_client_summary){
        .client_id = rec->client_id,
        .name = member(a, m, "client_name"),
        .kind = member(a, m, "kind"),
        .owner = member(a, m, "owner"),
        .status = status ? mdt_arena_strdup(a, status) : "",
        .tier = member(a, m, "risk_tier"),
        .created_at = rec->created_at,
        .expires_at = rec->expires_at,
    };
    json_decref(m);
    return out->name && out->kind && out->owner && out->status && out->tier;
}

mdt_rc mdt_client_query(mdt_env *env, mdt_ctx *ctx, const mdt_client_filter *f, mdt_arena *a,
                        mdt_client_page *out, mdt_err *err)
{
    mdt_client_rec *recs = NULL;
    mdt_client_last_use *uses = NULL;
    mdt_client_summary *all = NULL;
    size_t n = 0, nuses = 0, u = 0;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    out->next = -1;
    if ((rc = mdt_client_filter_check(f, err)) != MDT_OK ||
        (rc = mdt_store_client_list(env->store, a, &recs, &n, err)) != MDT_OK ||
        (rc = mdt_store_cred_last_used(env->store, a, &uses, &nuses, err)) != MDT_OK)
        return rc;
    if (n && !(all = mdt_arena_alloc(a, n * sizeof(*all))))
        return mdt_iga__nomem(err);
    for (size_t i = 0; i < n; i++) { /* both lists are ordered by client_id */
        if (!summary_of(env, &recs[i], ctx->now, a, &all[i]))
            return mdt_iga__nomem(err);
        while (u < nuses && strcmp(uses[u].client_id, recs[i].client_id) < 0)
            u++;
        if (u < nuses && mdt_str_eq(uses[u].client_id, recs[i].client_id))
            all[i].last_used_at = uses[u].last_used_at;
    }
    return mdt_client_query_select(f, all, n, a, out, err);
}
