/* Access reviews: the rules (a pure function of one client's facts), the
 * facts read from the store, and the decisions (see review.h). */
#include "iga/review.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/hash.h"
#include "iga/client.h"
#include "iga/entitlements.h"
#include "iga/internal.h"
#include "iga/names.h"
#include "iga/secret.h"
#include "users/users.h"

#define DETAIL_MAX 300

static const char *const kind_names[MDT_FINDING_KIND_COUNT] = {
    [MDT_FINDING_OWNERLESS] = "ownerless",
    [MDT_FINDING_UNUSED_ENTITLEMENT] = "unused_entitlement",
    [MDT_FINDING_OLD_CREDENTIAL] = "old_credential",
    [MDT_FINDING_SYMMETRIC_ON_HIGH_TIER] = "symmetric_on_high_tier",
    [MDT_FINDING_NEVER_AUTHENTICATED] = "never_authenticated",
    [MDT_FINDING_EXPIRED_WITH_REFRESH_TOKENS] = "expired_with_refresh_tokens",
};

const char *mdt_finding_kind_name(mdt_finding_kind k)
{
    return (unsigned)k < MDT_FINDING_KIND_COUNT ? kind_names[k] : NULL;
}

void mdt_finding_id(mdt_finding_kind kind, const char *client_id, const char *object,
                    char id[MDT_FINDING_ID_LEN + 1])
{
    const char *parts[] = {mdt_finding_kind_name(kind), "\n", client_id, "\n", object};
    uint8_t h[MDT_SHA256_LEN];
    size_t len = 0, n;
    char *buf;

    for (size_t i = 0; i < MDT_ARRAY_LEN(parts); i++)
        len += strlen(parts[i] ? parts[i] : "");
    buf = malloc(len + 1);
    if (!buf) { /* cannot happen in practice; an id that matches nothing */
        memset(id, 0, MDT_FINDING_ID_LEN + 1);
        return;
    }
    len = 0;
    for (size_t i = 0; i < MDT_ARRAY_LEN(parts); i++) {
        size_t k = strlen(parts[i] ? parts[i] : "");
        memcpy(buf + len, parts[i] ? parts[i] : "", k);
        len += k;
    }
    mdt_sha256(buf, len, h);
    free(buf);
    memcpy(id, "fnd_", 4);
    n = mdt_b64url_encode(h, sizeof(h), id + 4);
    id[4 + n] = '\0';
}

/* ------------------------------------------------------------------ rules */

typedef struct {
    const mdt_review_facts *f;
    int64_t now;
    mdt_arena *a;
    mdt_finding *out;
    size_t n, cap;
    bool oom;
} acc;

static void add(acc *x, mdt_finding_kind kind, const char *object, bool holds, int64_t since,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void add(acc *x, mdt_finding_kind kind, const char *object, bool holds, int64_t since,
                const char *fmt, ...)
{
    char detail[DETAIL_MAX];
    va_list ap;
    mdt_finding *fd;

    if (x->n == x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 8;
        mdt_finding *p = mdt_arena_alloc(x->a, ncap * sizeof(*p));
        if (!p) {
            x->oom = true;
            return;
        }
        if (x->n)
            memcpy(p, x->out, x->n * sizeof(*p));
        x->out = p;
        x->cap = ncap;
    }
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    fd = &x->out[x->n];
    memset(fd, 0, sizeof(*fd));
    fd->kind = kind;
    fd->client_id = x->f->client_id;
    fd->object = object ? object : "";
    fd->holds = holds;
    fd->since = holds ? since : 0;
    fd->detail = mdt_arena_strdup(x->a, detail);
    if (!fd->detail) {
        x->oom = true;
        return;
    }
    mdt_finding_id(kind, fd->client_id, fd->object, fd->id);
    x->n++;
}

static bool is_symmetric(const mdt_cred_rec *c)
{
    mdt_cred_type t = mdt_cred_type_from_name(c->type);
    return t == MDT_CRED_SECRET || t == MDT_CRED_API_KEY;
}

static bool cred_live(const mdt_cred_rec *c, int64_t now)
{
    return c->expires_at == 0 || c->expires_at > now;
}

static void rule_ownerless(acc *x, bool live)
{
    const mdt_review_facts *f = x->f;
    const char *o = f->owner ? f->owner : "";

    switch (f->owner_state) {
    case MDT_OWNER_ACTIVE:
        add(x, MDT_FINDING_OWNERLESS, "", false, 0, "owner %.64s is active", o);
        return;
    case MDT_OWNER_ABSENT:
        add(x, MDT_FINDING_OWNERLESS, "", live, f->created_at, "the client has no owner");
        return;
    case MDT_OWNER_UNKNOWN:
        add(x, MDT_FINDING_OWNERLESS, "", live, f->created_at,
            "owner %.64s is not a user", o);
        return;
    case MDT_OWNER_DISABLED:
        add(x, MDT_FINDING_OWNERLESS, "", live, f->owner_disabled_at,
            "owner %.64s is disabled", o);
        return;
    }
}

/* The last use of scope by the client; 0: never. */
static int64_t last_use(const mdt_review_facts *f, const char *scope)
{
    for (size_t i = 0; i < f->nusage; i++)
        if (strcmp(f->usage[i].scope, scope) == 0)
            return f->usage[i].last_used_at;
    return 0;
}

static void rule_unused(acc *x, const mdt_review_policy *p, bool live)
{
    const mdt_review_facts *f = x->f;
    bool old_enough = f->created_at <= x->now - p->unused_after;

    for (size_t i = 0; i < f->ngrants; i++) {
        const mdt_review_grant *g = &f->grants[i];
        const char *object = g->entitlement_id ? g->entitlement_id : g->scope;
        int64_t used = last_use(f, g->scope);
        int64_t base = used > g->granted_at ? used : g->granted_at;
        bool holds = live && old_enough && base + p->unused_after <= x->now;
        if (used)
            add(x, MDT_FINDING_UNUSED_ENTITLEMENT, object, holds, base + p->unused_after,
                "scope %.100s not used since %lld days", g->scope,
                (long long)((x->now - used) / 86400));
        else
            add(x, MDT_FINDING_UNUSED_ENTITLEMENT, object, holds, base + p->unused_after,
                "scope %.100s never used", g->scope);
    }
}

static void rule_credentials(acc *x, const mdt_review_policy *p, bool live)
{
    const mdt_review_facts *f = x->f;
    bool high = f->risk_tier && strcmp(f->risk_tier, "high") == 0, sym = false;

    for (size_t i = 0; i < f->ncreds; i++) {
        const mdt_cred_rec *c = &f->creds[i];
        bool holds;
        if (!is_symmetric(c))
            continue;
        sym = sym || cred_live(c, x->now);
        holds = live && cred_live(c, x->now) && c->created_at + p->rotation_after <= x->now;
        add(x, MDT_FINDING_OLD_CREDENTIAL, c->id, holds, c->created_at + p->rotation_after,
            "%s %.64s is %lld days old", c->type, c->id,
            (long long)((x->now - c->created_at) / 86400));
    }
    add(x, MDT_FINDING_SYMMETRIC_ON_HIGH_TIER, "", live && high && sym, 0,
        "risk tier high with a live client secret or API key");
}

static void rule_never(acc *x, const mdt_review_policy *p, bool live)
{
    const mdt_review_facts *f = x->f;
    bool used = f->ever_issued;

    for (size_t i = 0; !used && i < f->ncreds; i++)
        if (mdt_cred_type_from_name(f->creds[i].type) != MDT_CRED_REGISTRATION &&
            f->creds[i].last_used_at)
            used = true;
    add(x, MDT_FINDING_NEVER_AUTHENTICATED, "",
        live && !used && f->created_at + p->grace <= x->now, f->created_at + p->grace,
        "never authenticated since it was created");
}

static void rule_expired(acc *x)
{
    const mdt_review_facts *f = x->f;
    bool expired = mdt_client_status_from_name(f->status) == MDT_CLIENT_EXPIRED;

    add(x, MDT_FINDING_EXPIRED_WITH_REFRESH_TOKENS, "", expired && f->live_refresh > 0,
        f->expires_at && f->expires_at <= x->now ? f->expires_at : 0,
        "expired, with %lld usable refresh tokens", (long long)f->live_refresh);
}

mdt_rc mdt_review_rules(const mdt_review_facts *f, const mdt_review_policy *p, int64_t now,
                        mdt_arena *a, mdt_finding **out, size_t *n, mdt_err *err)
{
    acc x = {.f = f, .now = now, .a = a};
    mdt_client_status st = mdt_client_status_from_name(f->status);
    bool live = st == MDT_CLIENT_ACTIVE || st == MDT_CLIENT_PENDING;

    rule_ownerless(&x, live);
    rule_unused(&x, p, live);
    rule_credentials(&x, p, live);
    rule_never(&x, p, live);
    rule_expired(&x);
    *out = x.out;
    *n = x.n;
    return x.oom ? mdt_iga__nomem(err) : MDT_OK;
}

/* ------------------------------------------------------------ the facts */

typedef struct {
    mdt_user_rec *users; size_t nusers;
    mdt_client_rec *clients; size_t nclients;
    mdt_usage_scope_rec *usage; size_t nusage;
    mdt_usage_day_rec *days; size_t ndays;
    mdt_review_decision_rec *decisions; size_t ndecisions;
    mdt_finding *all; size_t nall;        /* every candidate */
    const char **owners;                  /* of all[i]'s client */
} review_state;

static mdt_rc split_scopes(mdt_arena *a, const char *scope, const char ***out, size_t *n,
                           mdt_err *err)
{
    size_t cap = 1;
    const char *p = scope ? scope : "";

    for (const char *q = p; *q; q++)
        cap += *q == ' ';
    *n = 0;
    if (!(*out = mdt_arena_alloc(a, cap * sizeof(**out))))
        return mdt_iga__nomem(err);
    while (*p) {
        size_t len;
        p += strspn(p, " ");
        len = strcspn(p, " ");
        if (len && !((*out)[(*n)++] = mdt_arena_strndup(a, p, len)))
            return mdt_iga__nomem(err);
        p += len;
    }
    return MDT_OK;
}

static void owner_state(const review_state *s, mdt_review_facts *f)
{
    f->owner_state = f->owner ? MDT_OWNER_UNKNOWN : MDT_OWNER_ABSENT;
    for (size_t i = 0; f->owner && i < s->nusers; i++) {
        if (strcmp(s->users[i].username, f->owner) != 0)
            continue;
        f->owner_state = mdt_str_eq(s->users[i].status, "active") ? MDT_OWNER_ACTIVE
                                                                  : MDT_OWNER_DISABLED;
        f->owner_disabled_at = s->users[i].updated_at;
    }
}

/* Usage rows are sorted by client_id here (strcmp: the database's collation
 * may order otherwise) and each client's found by binary search, so that
 * a review reads them once whatever the number of clients. */
static int cmp_scope(const void *x, const void *y)
{
    const mdt_usage_scope_rec *a = x, *b = y;
    int c = strcmp(a->client_id, b->client_id);
    return c ? c : strcmp(a->scope, b->scope);
}

static int cmp_day(const void *x, const void *y)
{
    const mdt_usage_day_rec *a = x, *b = y;
    return strcmp(a->client_id, b->client_id);
}

/* The index of the first row of client_id (n when none comes at or after it). */
static size_t first_scope(const mdt_usage_scope_rec *l, size_t n, const char *client_id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(l[mid].client_id, client_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t first_day(const mdt_usage_day_rec *l, size_t n, const char *client_id)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(l[mid].client_id, client_id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The static entitlements of a client: its scope metadata, granted when it
 * was created (a scope added later by an update counts from then too). */
static mdt_rc static_grants(mdt_arena *a, const char *scope, int64_t created_at,
                            mdt_review_facts *f, mdt_err *err)
{
    const char **scopes = NULL;
    size_t n = 0;
    mdt_review_grant *g;
    mdt_rc rc = split_scopes(a, scope, &scopes, &n, err);

    if (rc != MDT_OK)
        return rc;
    if (!(g = mdt_arena_alloc(a, (n ? n : 1) * sizeof(*g))))
        return mdt_iga__nomem(err);
    for (size_t i = 0; i < n; i++)
        g[i] = (mdt_review_grant){.scope = scopes[i], .granted_at = created_at};
    f->grants = g;
    f->ngrants = n;
    return MDT_OK;
}

/* The dynamic entitlements of a client live at now (approved access
 * requests), after its static ones: each granted when it was approved,
 * named by its id. */
static mdt_rc dynamic_grants(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                             mdt_review_facts *f, mdt_err *err)
{
    mdt_entitlement_rec *e = NULL;
    mdt_review_grant *g;
    size_t n = 0;
    mdt_rc rc = mdt_store_entitlement_list(env->store, client_id, now, a, &e, &n, err);

    if (rc != MDT_OK || !n)
        return rc;
    if (!(g = mdt_arena_alloc(a, (f->ngrants + n) * sizeof(*g))))
        return mdt_iga__nomem(err);
    if (f->ngrants)
        memcpy(g, f->grants, f->ngrants * sizeof(*g));
    for (size_t i = 0; i < n; i++)
        g[f->ngrants + i] = (mdt_review_grant){.scope = e[i].scope, .granted_at = e[i].created_at,
                                               .entitlement_id = e[i].id};
    f->grants = g;
    f->ngrants += n;
    return MDT_OK;
}

/* The facts of client c (its metadata parsed, its credentials read). */
static mdt_rc client_facts(mdt_env *env, const review_state *s, const mdt_client_rec *c,
                           int64_t now, mdt_arena *a, mdt_review_facts *f, mdt_err *err)
{
    json_t *m = json_loads(c->metadata, 0, NULL);
    mdt_cred_rec *creds = NULL;
    mdt_rc rc;

    memset(f, 0, sizeof(*f));
    f->client_id = c->client_id;
    f->status = mdt_iga__effective_status(c->status, c->expires_at, now);
    f->created_at = c->created_at;
    f->expires_at = c->expires_at;
    f->owner = mdt_arena_strdup(a, json_string_value(json_object_get(m, "owner")));
    f->risk_tier = mdt_arena_strdup(a, json_string_value(json_object_get(m, "risk_tier")));
    owner_state(s, f);
    rc = static_grants(a, json_string_value(json_object_get(m, "scope")), c->created_at, f, err);
    json_decref(m);
    if (rc == MDT_OK)
        rc = dynamic_grants(env, c->client_id, now, a, f, err);
    if (rc == MDT_OK)
        rc = mdt_store_cred_list(env->store, c->client_id, a, &creds, &f->ncreds, err);
    f->creds = creds;
    {
        size_t i = first_scope(s->usage, s->nusage, c->client_id);
        f->usage = i < s->nusage ? &s->usage[i] : NULL;
        while (i < s->nusage && strcmp(s->usage[i].client_id, c->client_id) == 0) {
            f->nusage++;
            i++;
        }
        i = first_day(s->days, s->ndays, c->client_id);
        f->ever_issued = i < s->ndays && strcmp(s->days[i].client_id, c->client_id) == 0;
    }
    if (rc == MDT_OK && mdt_client_status_from_name(f->status) == MDT_CLIENT_EXPIRED)
        rc = mdt_store_refresh_live_count(env->store, c->client_id, now, &f->live_refresh, err);
    return rc;
}

static mdt_rc append_all(review_state *s, mdt_arena *a, const mdt_finding *fs, size_t n,
                         const char *owner, size_t *cap, mdt_err *err)
{
    if (s->nall + n > *cap) {
        size_t ncap = (*cap ? *cap * 2 : 32) + n;
        mdt_finding *p = mdt_arena_alloc(a, ncap * sizeof(*p));
        const char **o = mdt_arena_alloc(a, ncap * sizeof(*o));
        if (!p || !o)
            return mdt_iga__nomem(err);
        if (s->nall) {
            memcpy(p, s->all, s->nall * sizeof(*p));
            memcpy(o, s->owners, s->nall * sizeof(*o));
        }
        s->all = p;
        s->owners = o;
        *cap = ncap;
    }
    for (size_t i = 0; i < n; i++) {
        s->all[s->nall] = fs[i];
        s->owners[s->nall++] = owner;
    }
    return MDT_OK;
}

/* Every candidate finding of every client (client_id: only that client;
 * NULL: all). */
static mdt_rc review_load(mdt_env *env, int64_t now, const char *client_id, mdt_arena *a,
                          review_state *s, mdt_err *err)
{
    mdt_review_policy p = {env->cfg.review_unused_after, env->cfg.review_rotation_after,
                           env->cfg.review_grace};
    size_t cap = 0;
    mdt_rc rc;

    memset(s, 0, sizeof(*s));
    if ((rc = mdt_store_user_list(env->store, a, &s->users, &s->nusers, err)) ||
        (rc = mdt_store_client_list(env->store, a, &s->clients, &s->nclients, err)) ||
        (rc = mdt_store_usage_scope_list(env->store, a, &s->usage, &s->nusage, err)) ||
        (rc = mdt_store_usage_day_list(env->store, NULL, 0, a, &s->days, &s->ndays, err)) ||
        (rc = mdt_store_review_list(env->store, a, &s->decisions, &s->ndecisions, err)))
        return rc;
    if (s->nusage)
        qsort(s->usage, s->nusage, sizeof(*s->usage), cmp_scope);
    if (s->ndays)
        qsort(s->days, s->ndays, sizeof(*s->days), cmp_day);
    for (size_t i = 0; i < s->nclients; i++) {
        mdt_review_facts f;
        mdt_finding *fs = NULL;
        size_t n = 0;
        if (client_id && strcmp(client_id, s->clients[i].client_id) != 0)
            continue;
        if ((rc = client_facts(env, s, &s->clients[i], now, a, &f, err)) ||
            (rc = mdt_review_rules(&f, &p, now, a, &fs, &n, err)) ||
            (rc = append_all(s, a, fs, n, f.owner, &cap, err)))
            return rc;
    }
    return MDT_OK;
}

/* Whether finding id is certified (the latest certification lasts beyond now). */
static bool quiet(const review_state *s, const char *id, int64_t now)
{
    int64_t until = 0;

    for (size_t i = 0; i < s->ndecisions; i++)
        if (strcmp(s->decisions[i].finding_id, id) == 0 &&
            strcmp(s->decisions[i].decision, "certify") == 0)
            until = s->decisions[i].until;
    return until > now;
}

static json_t *finding_json(const mdt_finding *f)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", f->id, "kind",
                     mdt_finding_kind_name(f->kind), "client_id", f->client_id, "detail",
                     f->detail, "since", (json_t *)mdt_iga__time_json(f->since));
}

mdt_rc mdt_review_list_json(mdt_env *env, mdt_ctx *ctx, const char *owner, mdt_arena *a,
                            const char **json, mdt_err *err)
{
    review_state s;
    json_t *arr = json_array();
    mdt_rc rc;

    *json = NULL;
    if (!arr)
        return mdt_iga__nomem(err);
    if ((rc = review_load(env, ctx->now, NULL, a, &s, err)) != MDT_OK)
        goto out;
    for (size_t i = 0; i < s.nall; i++) {
        const mdt_finding *f = &s.all[i];
        if (!f->holds || quiet(&s, f->id, ctx->now))
            continue;
        if (owner && (f->kind == MDT_FINDING_OWNERLESS || !s.owners[i] ||
                      strcmp(s.owners[i], owner) != 0))
            continue;
        if (json_array_append_new(arr, finding_json(f)) != 0) {
            rc = mdt_iga__nomem(err);
            goto out;
        }
    }
    rc = mdt_iga__dump(arr, a, json, err);
out:
    json_decref(arr);
    return rc;
}

/* ------------------------------------------------------------ decisions */

/* The finding of id: MDT_ERR_CONFLICT when it does not hold now (or was
 * decided before and its object is gone), MDT_ERR_NOT_FOUND otherwise when
 * no client could have it. *owner: its client's owner. */
static mdt_rc find(const review_state *s, const char *id, const mdt_finding **out,
                   const char **owner, mdt_err *err)
{
    for (size_t i = 0; i < s->nall; i++) {
        if (strcmp(s->all[i].id, id) != 0)
            continue;
        *out = &s->all[i];
        *owner = s->owners[i];
        if (!s->all[i].holds)
            return mdt_failf(err, MDT_ERR_CONFLICT, "the finding no longer holds",
                             "finding %.64s (%s of %.64s) no longer holds", id,
                             mdt_finding_kind_name(s->all[i].kind), s->all[i].client_id);
        return MDT_OK;
    }
    /* decided before, and what it was about is gone (a scope removed, a
     * credential or a client deleted) */
    for (size_t i = 0; i < s->ndecisions; i++)
        if (strcmp(s->decisions[i].finding_id, id) == 0)
            return mdt_failf(err, MDT_ERR_CONFLICT, "the finding no longer holds",
                             "finding %.64s (%s of %.64s) no longer holds", id,
                             s->decisions[i].kind, s->decisions[i].client_id);
    return mdt_failf(err, MDT_ERR_NOT_FOUND, "unknown finding", "unknown finding %.64s", id);
}

/* by may decide f (NULL: the operator may). */
static mdt_rc may_decide(mdt_env *env, const char *by, const mdt_finding *f, const char *owner,
                         mdt_err *err)
{
    mdt_arena a;
    mdt_user_rec u;
    mdt_rc rc;

    if (!by)
        return MDT_OK;
    mdt_arena_init(&a, 1024);
    rc = mdt_store_user_get(env->store, by, &a, &u, err);
    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        rc = mdt_failf(err, MDT_ERR_ACCESS_DENIED, "unknown or disabled user",
                       "user %.64s is unknown or disabled", by);
    else if (rc == MDT_OK && !mdt_user_has_role(u.roles, "admin") &&
             (f->kind == MDT_FINDING_OWNERLESS || !owner || strcmp(owner, by) != 0))
        rc = mdt_failf(err, MDT_ERR_ACCESS_DENIED,
                       "only an admin or the owner of the client may decide this finding",
                       "%.64s may not decide finding %s of client %.64s", by, f->id,
                       f->client_id);
    mdt_arena_free(&a);
    return rc;
}

static mdt_rc record(mdt_env *env, mdt_ctx *ctx, const mdt_finding *f, const char *decision,
                     const char *by, const char *note, int64_t until, mdt_arena *a,
                     mdt_err *err)
{
    mdt_review_decision_rec d = {
        .finding_id = f->id, .kind = mdt_finding_kind_name(f->kind), .client_id = f->client_id,
        .decision = decision, .note = note ? note : "", .until = until,
        .decided_by = by ? by : mdt_ctx_actor(ctx), .decided_at = ctx->now,
    };
    mdt_rc rc = mdt_random_id(&env->rng, "rvd_", 16, a, &d.id, err);

    return rc != MDT_OK ? rc : mdt_store_review_insert(env->store, &d, err);
}

static json_t *decision_json(const mdt_finding *f, const char *decision, const char *note,
                             int64_t until, const char *by, const char *action)
{
    json_t *o = finding_json(f);

    if (o)
        json_object_del(o, "since");
    if (o && json_object_update_new(o, json_pack("{s:s, s:s?, s:o, s:s, s:s?}", "decision",
                                                   decision, "note", note, "until",
                                                   (json_t *)mdt_iga__time_json(until),
                                                   "decided_by", by, "action", action)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Loads the findings of id's client (all of them: the id names no client),
 * finds id and checks by. */
static mdt_rc prepare(mdt_env *env, mdt_ctx *ctx, const char *id, const char *by, mdt_arena *a,
                      review_state *s, const mdt_finding **f, mdt_err *err)
{
    const char *owner = NULL;
    mdt_rc rc;

    if (!id || strncmp(id, "fnd_", 4) != 0 || strlen(id) != MDT_FINDING_ID_LEN)
        return mdt_failf(err, MDT_ERR_NOT_FOUND, "unknown finding", "unknown finding %.64s",
                         id ? id : "");
    if ((rc = review_load(env, ctx->now, NULL, a, s, err)) ||
        (rc = find(s, id, f, &owner, err)))
        return rc;
    return may_decide(env, by, *f, owner, err);
}

mdt_rc mdt_review_certify(mdt_env *env, mdt_ctx *ctx, const char *id, const char *by,
                          const char *note, int64_t until, mdt_arena *a, const char **json,
                          mdt_err *err)
{
    review_state s;
    const mdt_finding *f = NULL;
    mdt_ctx as = mdt_ctx_as(ctx, by ? by : mdt_ctx_actor(ctx));
    const char *who = by ? by : mdt_ctx_actor(ctx);
    mdt_rc rc;

    *json = NULL;
    if (!note || !note[0] || strlen(note) > 1000)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "a certification needs a note (1 to 1000 characters)");
    if (until <= ctx->now || until - ctx->now > env->cfg.review_max_certify)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "until must be in the future and at most [review] max_certify from now");
    if ((rc = prepare(env, ctx, id, by, a, &s, &f, err)) ||
        (rc = record(env, ctx, f, "certify", who, note, until, a, err)) ||
        (rc = mdt_iga__audit_json(&as, "review.certified", f->client_id,
                                  decision_json(f, "certify", note, until, who, NULL), err)))
        return rc;
    return mdt_iga__dump_take(decision_json(f, "certify", note, until, who, NULL), a, json, err);
}

bool mdt_review_until_parse(const char *s, int64_t now, int64_t *out)
{
    char day[32];
    int64_t d;

    if (!s || !*s)
        return false;
    if (strlen(s) == 10 && s[4] == '-' && s[7] == '-' &&
        snprintf(day, sizeof(day), "%sT00:00:00Z", s) > 0 && mdt_time_parse(day, out) == MDT_OK)
        return true;
    if (mdt_time_parse(s, out) == MDT_OK)
        return true;
    if (mdt_duration_parse(s, &d) == MDT_OK && d > 0 && d < INT64_MAX / 2) {
        *out = now + d;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------- remedies */

/* Ends a dynamic entitlement (f->object, "ent_...", granted by an approved
 * access request) through the entitlement service; one that ended since
 * the finding was computed no longer holds. */
static mdt_rc revoke_dynamic_entitlement(mdt_env *env, mdt_ctx *ctx, const mdt_finding *f,
                                         mdt_err *err)
{
    mdt_rc rc = mdt_entitlement_revoke(env, ctx, f->client_id, f->object, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_CONFLICT, "the finding no longer holds",
                         "entitlement %.100s of %.64s has ended", f->object, f->client_id);
    return rc;
}

static mdt_rc remove_scope(mdt_env *env, mdt_ctx *ctx, const mdt_finding *f, mdt_arena *a,
                           mdt_err *err)
{
    mdt_client_rec rec;
    const char **scopes = NULL, *doc;
    size_t n = 0;
    bool found = false;
    json_t *m = NULL, *upd = NULL;
    char *text = NULL;
    mdt_buf b;
    mdt_rc rc;

    if (strncmp(f->object, "ent_", 4) == 0)
        return revoke_dynamic_entitlement(env, ctx, f, err);
    mdt_buf_init(&b, 64 * 1024);
    if ((rc = mdt_iga__client_get(env, f->client_id, a, &rec, err)))
        goto out;
    m = json_loads(rec.metadata, 0, NULL);
    if ((rc = split_scopes(a, json_string_value(json_object_get(m, "scope")), &scopes, &n, err)))
        goto out;
    for (size_t i = 0; i < n && rc == MDT_OK; i++) {
        if (strcmp(scopes[i], f->object) == 0) {
            found = true;
            continue;
        }
        rc = mdt_buf_addf(&b, "%s%s", b.len ? " " : "", scopes[i]);
    }
    if (rc != MDT_OK)
        goto out;
    if (!found) { /* removed meanwhile */
        rc = mdt_failf(err, MDT_ERR_CONFLICT, "the finding no longer holds",
                       "scope %.100s is no longer in the metadata of %.64s", f->object,
                       f->client_id);
        goto out;
    }
    upd = b.len ? json_pack("{s:s}", "scope", b.data) : json_pack("{s:n}", "scope");
    if (!upd || !(text = json_dumps(upd, JSON_COMPACT))) {
        rc = mdt_iga__nomem(err);
        goto out;
    }
    rc = mdt_client_update(env, ctx, f->client_id, text, strlen(text), a, &doc, err);
out:
    free(text);
    json_decref(upd);
    json_decref(m);
    mdt_buf_free(&b);
    return rc;
}

/* Expires now one credential (cred_id) or every live symmetric one (NULL). */
static mdt_rc expire_creds(mdt_env *env, mdt_ctx *ctx, const mdt_finding *f,
                           const char *cred_id, mdt_arena *a, mdt_err *err)
{
    mdt_cred_rec *creds = NULL;
    size_t n = 0;
    const char *doc;
    mdt_rc rc;

    if (cred_id)
        return mdt_client_credential_expire(env, ctx, f->client_id, cred_id, 0, a, &doc, err);
    rc = mdt_store_cred_list(env->store, f->client_id, a, &creds, &n, err);
    for (size_t i = 0; rc == MDT_OK && i < n; i++)
        if (is_symmetric(&creds[i]) && cred_live(&creds[i], ctx->now))
            rc = mdt_client_credential_expire(env, ctx, f->client_id, creds[i].id, 0, a, &doc,
                                              err);
    return rc;
}

static mdt_rc revoke_refresh(mdt_env *env, mdt_ctx *ctx, const mdt_finding *f, mdt_err *err)
{
    int64_t revoked = 0;
    mdt_rc rc = mdt_store_refresh_revoke_client(env->store, f->client_id, ctx->now, &revoked,
                                                err);

    if (rc != MDT_OK)
        return rc;
    return mdt_iga__audit_json(ctx, "client.refresh_tokens_revoked", f->client_id,
                               json_pack("{s:I}", "refresh_tokens", (json_int_t)revoked), err);
}

/* Does what f calls for; *action: what, for people. */
static mdt_rc remedy(mdt_env *env, mdt_ctx *ctx, const mdt_finding *f, mdt_arena *a,
                     const char **action, mdt_err *err)
{
    switch (f->kind) {
    case MDT_FINDING_UNUSED_ENTITLEMENT:
        *action = "scope removed from the client";
        return remove_scope(env, ctx, f, a, err);
    case MDT_FINDING_OLD_CREDENTIAL:
        *action = "credential expired";
        return expire_creds(env, ctx, f, f->object, a, err);
    case MDT_FINDING_SYMMETRIC_ON_HIGH_TIER:
        *action = "client secrets and API keys expired";
        return expire_creds(env, ctx, f, NULL, a, err);
    case MDT_FINDING_OWNERLESS:
    case MDT_FINDING_NEVER_AUTHENTICATED:
        *action = "client suspended";
        return mdt_client_set_status(env, ctx, f->client_id, "suspended", err);
    case MDT_FINDING_EXPIRED_WITH_REFRESH_TOKENS:
        *action = "refresh tokens revoked";
        return revoke_refresh(env, ctx, f, err);
    case MDT_FINDING_KIND_COUNT:
        break;
    }
    return mdt_fail(err, MDT_ERR_INTERNAL, "unknown kind of finding");
}

mdt_rc mdt_review_revoke(mdt_env *env, mdt_ctx *ctx, const char *id, const char *by,
                         const char *note, mdt_arena *a, const char **json, mdt_err *err)
{
    review_state s;
    const mdt_finding *f = NULL;
    const char *who = by ? by : mdt_ctx_actor(ctx), *action = NULL;
    mdt_ctx as = mdt_ctx_as(ctx, who);
    mdt_rc rc;

    *json = NULL;
    if (note && strlen(note) > 1000)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "a note has at most 1000 characters");
    if ((rc = prepare(env, ctx, id, by, a, &s, &f, err)) ||
        (rc = remedy(env, &as, f, a, &action, err)) ||
        (rc = record(env, ctx, f, "revoke", who, note, 0, a, err)) ||
        (rc = mdt_iga__audit_json(&as, "review.revoked", f->client_id,
                                  decision_json(f, "revoke", note, 0, who, action), err)))
        return rc;
    return mdt_iga__dump_take(decision_json(f, "revoke", note, 0, who, action), a, json, err);
}
