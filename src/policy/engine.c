/* The embedded PDP: the compiled policy set and Mandate's entities, kept as
 * an immutable snapshot that readers take a reference to for the length of
 * one evaluation. A thread checks the store's policies counter once a
 * second (and the scopes every ten) and, when it moved, builds a new
 * snapshot off the request path and swaps it in; the old one is freed by
 * its last reader. No lock is held while a policy is evaluated: the mutex
 * only guards taking a reference and the swap. */
#include "policy/engine.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "iga/client.h"
#include "policy/entities.h"
#include "policy/policies.h"
#include "store/store.h"

#define ENTITY_FILES_MAX 32
#define QUERY_UIDS_MAX 4 /* subject, resource, context.user, the client's owner */
#define SCOPE_CHECK_EVERY 10 /* seconds between two checks of the scopes */

typedef struct snap {
    atomic_int refs;
    mdt_cedar_set *set;
    mdt_cedar_entities *data; /* scopes and resources */
    int64_t version;          /* of the stored policies it was built from */
    char *data_json;          /* what data was built from, to notice a change */
} snap;

struct mdt_policy_engine {
    mdt_env *env;
    mdt_cedar_entities *files[ENTITY_FILES_MAX]; /* [policy] entities, in order */
    size_t nfiles;
    pthread_mutex_t mu; /* guards cur (taking a reference, the swap) and stop */
    pthread_mutex_t refresh_mu; /* one refresh at a time: swaps never go back */
    pthread_cond_t cv;
    snap *cur;
    bool stop, running;
    int64_t failed_version; /* a version whose set did not build (logged once) */
    pthread_t th;
};

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* ------------------------------------------------------------ snapshots */

static void snap_free(snap *s)
{
    if (!s)
        return;
    mdt_cedar_set_free(s->set);
    mdt_cedar_entities_free(s->data);
    free(s->data_json);
    free(s);
}

static void snap_release(snap *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        snap_free(s);
}

static snap *snap_acquire(mdt_policy_engine *e)
{
    snap *s;

    pthread_mutex_lock(&e->mu);
    s = e->cur;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&e->mu);
    return s;
}

static void snap_swap(mdt_policy_engine *e, snap *s)
{
    snap *old;

    pthread_mutex_lock(&e->mu);
    old = e->cur;
    e->cur = s;
    pthread_mutex_unlock(&e->mu);
    snap_release(old);
}

/* The entity JSON of the scopes and resources, as text (malloc'd). */
static mdt_rc data_json(mdt_env *env, char **out, mdt_err *err)
{
    mdt_arena a;
    mdt_scope_rec *sc = NULL;
    size_t n = 0;
    json_t *arr = json_array();
    mdt_rc rc = arr ? MDT_OK : nomem(err);
    unsigned slot = mdt_env_read_begin(env); /* the resources SIGHUP may replace */

    *out = NULL;
    mdt_arena_init(&a, 8192);
    if (rc == MDT_OK)
        rc = mdt_store_scope_list(env->store, &a, &sc, &n, err);
    if (rc == MDT_OK)
        rc = mdt_policy_scope_entities(sc, n, mdt_env_resources(env), arr, err);
    if (rc == MDT_OK && !(*out = json_dumps(arr, JSON_COMPACT)))
        rc = nomem(err);
    json_decref(arr);
    mdt_arena_free(&a);
    mdt_env_read_end(env, slot);
    return rc;
}

/* A snapshot of the stored policies (at version) and of the data whose
 * entity JSON is djson (taken). */
static mdt_rc snap_build(mdt_env *env, int64_t version, char *djson, snap **out, mdt_err *err)
{
    mdt_arena a;
    mdt_policy_rec *recs = NULL;
    size_t n = 0;
    snap *s = calloc(1, sizeof(*s));
    mdt_rc rc = s ? MDT_OK : nomem(err);

    *out = NULL;
    mdt_arena_init(&a, 16384);
    if (!s) {
        free(djson);
        goto out;
    }
    atomic_init(&s->refs, 1);
    s->version = version;
    s->data_json = djson;
    if ((rc = mdt_store_policy_list(env->store, &a, &recs, &n, err)) != MDT_OK ||
        (rc = mdt_policy_set_build(&env->cfg, recs, n, &s->set, err)) != MDT_OK ||
        (rc = mdt_cedar_entities_new(&s->data, err)) != MDT_OK ||
        (rc = mdt_cedar_entities_add_json(s->data, djson, strlen(djson), err)) != MDT_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    snap_free(s);
    mdt_arena_free(&a);
    return rc;
}

/* Builds a new snapshot when the policies or (check_data) the scopes have
 * changed since cur. */
static mdt_rc refresh_locked(mdt_policy_engine *e, bool check_data, mdt_err *err)
{
    mdt_env *env = e->env;
    snap *cur = snap_acquire(e), *s = NULL;
    char *djson = NULL;
    int64_t v = 0;
    mdt_rc rc = mdt_store_policies_version(env->store, &v, err);

    if (rc != MDT_OK)
        goto out;
    if (cur && !check_data && (v == cur->version || v == e->failed_version))
        goto out; /* nothing new (a set that failed waits for the next change) */
    if ((rc = data_json(env, &djson, err)) != MDT_OK)
        goto out;
    if (cur && v == cur->version && strcmp(djson, cur->data_json) == 0)
        goto out;
    rc = snap_build(env, v, djson, &s, err);
    djson = NULL;
    if (rc != MDT_OK) {
        e->failed_version = v;
        goto out;
    }
    snap_swap(e, s);
out:
    free(djson);
    snap_release(cur);
    return rc;
}

static mdt_rc refresh(mdt_policy_engine *e, bool check_data, mdt_err *err)
{
    mdt_rc rc;

    pthread_mutex_lock(&e->refresh_mu);
    rc = refresh_locked(e, check_data, err);
    pthread_mutex_unlock(&e->refresh_mu);
    return rc;
}

void mdt_policy_engine_reload(mdt_policy_engine *e)
{
    mdt_err err = {0};

    if (e && refresh(e, false, &err) != MDT_OK)
        MDT_ERROR("policies not reloaded, the previous ones stay in force: %s",
                  mdt_err_text(&err));
}

void mdt_policy_engine_refresh_data(mdt_policy_engine *e)
{
    mdt_err err = {0};

    if (e && refresh(e, true, &err) != MDT_OK)
        MDT_ERROR("policy data not reloaded, the previous data stays in force: %s",
                  mdt_err_text(&err));
}

static void *reload_main(void *p)
{
    mdt_policy_engine *e = p;
    unsigned tick = 0;

    pthread_mutex_lock(&e->mu);
    while (!e->stop) {
        struct timespec until;
        mdt_err err = {0};
        int64_t failed = e->failed_version;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        while (!e->stop && pthread_cond_timedwait(&e->cv, &e->mu, &until) != ETIMEDOUT)
            ;
        if (e->stop)
            break;
        pthread_mutex_unlock(&e->mu);
        if (refresh(e, ++tick % SCOPE_CHECK_EVERY == 0, &err) != MDT_OK &&
            (err.rc != MDT_ERR_INVALID_REQUEST || e->failed_version != failed))
            MDT_ERROR("policies not reloaded, the previous ones stay in force: %s",
                      mdt_err_text(&err));
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    mdt_store_thread_done(e->env->store);
    return NULL;
}

/* ------------------------------------------------------------ start, free */

/* Loads an entity JSON file; errors name it. */
static mdt_rc load_entity_file(const char *path, mdt_cedar_entities **out, mdt_err *err)
{
    char *text = NULL;
    size_t len = 0;
    mdt_rc rc = mdt_policy_read_file(path, MDT_CEDAR_ENTITIES_MAX, &text, &len, err);

    *out = NULL;
    if (rc == MDT_OK && (rc = mdt_cedar_entities_new(out, err)) == MDT_OK &&
        (rc = mdt_cedar_entities_add_json(*out, text, len, err)) != MDT_OK) {
        char why[200];
        snprintf(why, sizeof(why), "%s", mdt_err_text(err));
        rc = mdt_failf(err, MDT_ERR_CONFIG, "bad entity file", "%s: %s", path, why);
    }
    if (rc != MDT_OK) {
        mdt_cedar_entities_free(*out);
        *out = NULL;
    }
    free(text);
    return rc;
}

static mdt_rc load_entity_files(mdt_policy_engine *e, const char *list, mdt_err *err)
{
    const char *p = list ? list : "";

    while (*p) {
        size_t n = strcspn(p, ",");
        char path[4096];
        mdt_rc rc;

        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0) {
            if (n >= sizeof(path))
                return mdt_fail(err, MDT_ERR_CONFIG, "[policy] entities: path too long");
            if (e->nfiles == ENTITY_FILES_MAX)
                return mdt_fail(err, MDT_ERR_CONFIG, "[policy] entities: more than 32 files");
            memcpy(path, p, n);
            path[n] = '\0';
            if ((rc = load_entity_file(path, &e->files[e->nfiles], err)) != MDT_OK)
                return rc;
            e->nfiles++;
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return MDT_OK;
}

mdt_rc mdt_policy_engine_start(mdt_env *env, mdt_policy_engine **out, mdt_err *err)
{
    mdt_policy_engine *e = calloc(1, sizeof(*e));
    mdt_rc rc;

    *out = NULL;
    if (!e)
        return nomem(err);
    e->env = env;
    e->failed_version = -1;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->refresh_mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if ((rc = load_entity_files(e, env->cfg.policy_entities, err)) != MDT_OK)
        goto fail;
    if ((rc = refresh(e, true, err)) == MDT_ERR_INVALID_REQUEST) {
        /* stored texts that no longer form one set (two nodes stored
           clashing ids at once): start without a set, so that decisions
           fail closed and the policies can be fixed; the thread retries
           at each change */
        MDT_ERROR("no policy set in force, decisions of the embedded PDP fail: %s",
                  mdt_err_text(err));
        mdt_err_clear(err);
        rc = MDT_OK;
    }
    if (rc != MDT_OK)
        goto fail;
    if (pthread_create(&e->th, NULL, reload_main, e) != 0) {
        rc = mdt_fail(err, MDT_ERR_INTERNAL, "cannot start the policy reload thread");
        goto fail;
    }
    e->running = true;
    *out = e;
    return MDT_OK;
fail:
    mdt_policy_engine_free(e);
    return rc;
}

void mdt_policy_engine_free(mdt_policy_engine *e)
{
    if (!e)
        return;
    if (e->running) {
        pthread_mutex_lock(&e->mu);
        e->stop = true;
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->th, NULL);
    }
    snap_release(e->cur);
    for (size_t i = 0; i < e->nfiles; i++)
        mdt_cedar_entities_free(e->files[i]);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->refresh_mu);
    free(e);
}

/* ------------------------------------------------------------ evaluation */

static bool uid_has(const mdt_cedar_uid *u, size_t n, const char *type, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(u[i].type, type) == 0 && strcmp(u[i].id, id) == 0)
            return true;
    return false;
}

/* The entity of the query's props, appended when props is set. */
static mdt_rc add_props(json_t *arr, mdt_cedar_uid *seen, size_t *nseen, const char *type,
                        const char *id, const char *props, mdt_err *err)
{
    json_t *attrs, *ent;
    json_error_t jerr;

    if (!props || !type || !id || uid_has(seen, *nseen, type, id))
        return MDT_OK;
    if (!(attrs = json_loads(props, JSON_REJECT_DUPLICATES, &jerr)) || !json_is_object(attrs)) {
        json_decref(attrs);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "properties must be a JSON object");
    }
    ent = json_pack("{s:{s:s, s:s}, s:o, s:[]}", "uid", "type", type, "id", id, "attrs", attrs,
                    "parents");
    if (!ent || json_array_append_new(arr, ent) != 0)
        return nomem(err);
    seen[(*nseen)++] = (mdt_cedar_uid){type, id};
    return MDT_OK;
}

/* A store of the entities of arr (Cedar entity JSON). */
static mdt_rc entities_of(const json_t *arr, mdt_cedar_entities **out, mdt_err *err)
{
    char *text = json_dumps(arr, JSON_COMPACT);
    mdt_rc rc;

    if (!text)
        return nomem(err);
    if ((rc = mdt_cedar_entities_new(out, err)) == MDT_OK &&
        (rc = mdt_cedar_entities_add_json(*out, text, strlen(text), err)) != MDT_OK) {
        mdt_cedar_entities_free(*out);
        *out = NULL;
    }
    free(text);
    return rc;
}

/* A store of the entities the query describes itself (its properties);
 * NULL when it describes none. */
static mdt_rc props_store(const mdt_pdp_query *q, mdt_cedar_entities **out, mdt_err *err)
{
    mdt_cedar_uid seen[3];
    size_t nseen = 0;
    json_t *arr = json_array();
    mdt_rc rc = arr ? MDT_OK : nomem(err);

    *out = NULL;
    if (rc == MDT_OK)
        rc = add_props(arr, seen, &nseen, q->subject_type, q->subject_id, q->subject_props, err);
    if (rc == MDT_OK)
        rc = add_props(arr, seen, &nseen, "Action", q->action, q->action_props, err);
    if (rc == MDT_OK)
        rc = add_props(arr, seen, &nseen, q->resource_type, q->resource_id, q->resource_props,
                       err);
    if (rc == MDT_OK && nseen > 0)
        rc = entities_of(arr, out, err);
    json_decref(arr);
    return rc;
}

static mdt_rc check_query(const mdt_pdp_query *q, mdt_err *err)
{
    if (!q->subject_type || !*q->subject_type || !q->subject_id)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "subject type and id are required");
    if (!q->action || !*q->action)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "action name is required");
    if (!q->resource_type || !*q->resource_type || !q->resource_id)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "resource type and id are required");
    return MDT_OK;
}

/* The policy ids of a decision copied into a: they belong to the set,
 * which a reload may free once the evaluation has released it. */
static mdt_rc ids_copy(mdt_arena *a, const char **ids, size_t n, const char ***out, mdt_err *err)
{
    const char **v = n ? mdt_arena_alloc(a, n * sizeof(*v)) : NULL;

    *out = NULL;
    if (n && !v)
        return nomem(err);
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = mdt_arena_strdup(a, ids[i])))
            return nomem(err);
    *out = v;
    return MDT_OK;
}

mdt_rc mdt_policy_eval_with(const mdt_cedar_set *s, const mdt_cedar_entities *const *stores,
                            size_t nstores, mdt_arena *a, const mdt_pdp_query *q,
                            mdt_pdp_answer *out, mdt_err *err)
{
    mdt_cedar_entities *props = NULL;
    const mdt_cedar_entities **all = NULL;
    const mdt_cedar_record *ctx = NULL;
    mdt_cedar_request r;
    mdt_cedar_decision d;
    size_t n = 0;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_query(q, err)) != MDT_OK || (rc = props_store(q, &props, err)) != MDT_OK)
        goto out;
    if (q->context &&
        (rc = mdt_cedar_record_json(a, q->context, strlen(q->context), &ctx, err)) != MDT_OK)
        goto out;
    if (!(all = mdt_arena_alloc(a, (nstores + 1) * sizeof(*all)))) {
        rc = nomem(err);
        goto out;
    }
    if (props)
        all[n++] = props;
    for (size_t i = 0; i < nstores; i++)
        if (stores[i])
            all[n++] = stores[i];
    r = (mdt_cedar_request){.principal = {q->subject_type, q->subject_id},
                            .action = {"Action", q->action},
                            .resource = {q->resource_type, q->resource_id},
                            .context = ctx};
    if ((rc = mdt_cedar_eval(s, all, n, &r, a, &d, err)) != MDT_OK ||
        (rc = ids_copy(a, d.reasons, d.nreasons, &out->reasons, err)) != MDT_OK ||
        (rc = ids_copy(a, d.errors, d.nerrors, &out->errors, err)) != MDT_OK)
        goto out;
    out->allow = d.allow;
    out->nreasons = d.nreasons;
    out->nerrors = d.nerrors;
out:
    mdt_cedar_entities_free(props);
    return rc;
}

/* The user an entity reference context.user names, if any. */
static const char *context_user(const char *context, mdt_arena *a)
{
    json_t *c = context ? json_loads(context, 0, NULL) : NULL;
    json_t *ent = json_object_get(json_object_get(c, "user"), "__entity");
    const char *type = json_string_value(json_object_get(ent, "type"));
    const char *id = json_string_value(json_object_get(ent, "id"));
    const char *out = type && id && strcmp(type, "User") == 0 ? mdt_arena_strdup(a, id) : NULL;

    json_decref(c);
    return out;
}

/* Appends Mandate's entity type::id to arr when it is one of Mandate's
 * and exists; *owner: a client's owner. */
static mdt_rc add_mandate_entity(mdt_env *env, mdt_arena *a, const char *type, const char *id,
                                 json_t *arr, const char **owner, mdt_err *err)
{
    mdt_rc rc = MDT_OK;

    if (strcmp(type, "Client") == 0) {
        mdt_client c;
        rc = mdt_client_load(env, id, mdt_now(&env->clock), a, &c, err);
        if (rc == MDT_OK) {
            *owner = c.owner && *c.owner ? c.owner : NULL;
            rc = mdt_policy_client_entity(&c, arr, err);
        }
    } else if (strcmp(type, "User") == 0) {
        mdt_user_rec u;
        rc = mdt_store_user_get(env->store, id, a, &u, err);
        if (rc == MDT_OK)
            rc = mdt_policy_user_entity(&u, arr, err);
    }
    if (rc == MDT_ERR_NOT_FOUND) { /* as in Cedar: an entity without attributes */
        mdt_err_clear(err);
        rc = MDT_OK;
    }
    return rc;
}

/* The Clients and Users the query names, from the store: subject,
 * resource, context.user and a client's owner. NULL when none. */
static mdt_rc query_store(mdt_env *env, mdt_arena *a, const mdt_pdp_query *q,
                          mdt_cedar_entities **out, mdt_err *err)
{
    mdt_cedar_uid want[QUERY_UIDS_MAX];
    size_t nwant = 0;
    json_t *arr = json_array();
    const char *user = context_user(q->context, a);
    mdt_rc rc = arr ? MDT_OK : nomem(err);

    *out = NULL;
    want[nwant++] = (mdt_cedar_uid){q->subject_type, q->subject_id};
    if (!uid_has(want, nwant, q->resource_type, q->resource_id))
        want[nwant++] = (mdt_cedar_uid){q->resource_type, q->resource_id};
    if (user && !uid_has(want, nwant, "User", user))
        want[nwant++] = (mdt_cedar_uid){"User", user};
    for (size_t i = 0; rc == MDT_OK && i < nwant; i++) {
        const char *owner = NULL;
        rc = add_mandate_entity(env, a, want[i].type, want[i].id, arr, &owner, err);
        if (rc == MDT_OK && owner && nwant < QUERY_UIDS_MAX && !uid_has(want, nwant, "User", owner))
            want[nwant++] = (mdt_cedar_uid){"User", owner};
    }
    if (rc == MDT_OK && json_array_size(arr) > 0)
        rc = entities_of(arr, out, err);
    json_decref(arr);
    return rc;
}

/* Evaluates q with set s over the query's Mandate entities, then those of
 * sn (may be NULL) and the entity files. */
static mdt_rc eval_snap(mdt_env *env, const mdt_cedar_set *s, const snap *sn, mdt_arena *a,
                        const mdt_pdp_query *q, mdt_pdp_answer *out, mdt_err *err)
{
    const mdt_cedar_entities *stores[2 + ENTITY_FILES_MAX];
    mdt_cedar_entities *qs = NULL;
    size_t n = 0;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = check_query(q, err)) != MDT_OK || (rc = query_store(env, a, q, &qs, err)) != MDT_OK)
        return rc;
    stores[n++] = qs;
    stores[n++] = sn ? sn->data : NULL;
    for (size_t i = 0; env->policy && i < env->policy->nfiles; i++)
        stores[n++] = env->policy->files[i];
    rc = mdt_policy_eval_with(s, stores, n, a, q, out, err);
    mdt_cedar_entities_free(qs);
    return rc;
}

mdt_rc mdt_policy_eval_set(mdt_env *env, const mdt_cedar_set *s, mdt_arena *a,
                           const mdt_pdp_query *q, mdt_pdp_answer *out, mdt_err *err)
{
    snap *sn = env->policy ? snap_acquire(env->policy) : NULL;
    mdt_rc rc = eval_snap(env, s, sn, a, q, out, err);

    snap_release(sn);
    return rc;
}

mdt_rc mdt_policy_eval(mdt_env *env, mdt_arena *a, const mdt_pdp_query *q, mdt_pdp_answer *out,
                       mdt_err *err)
{
    snap *sn = env->policy ? snap_acquire(env->policy) : NULL;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!sn)
        return mdt_fail(err, MDT_ERR_UNAVAILABLE,
                        env->policy ? "the embedded PDP has no valid policy set"
                                    : "the embedded PDP is not loaded");
    rc = eval_snap(env, sn->set, sn, a, q, out, err);
    snap_release(sn);
    return rc;
}

/* ------------------------------------------------------------ AuthZEN JSON */

/* obj[key] as a string copied into a; NULL when absent or not a string. */
static const char *str_member(json_t *obj, const char *key, mdt_arena *a)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? mdt_arena_strdup(a, s) : NULL;
}

/* obj[key], an object, as JSON text in a; NULL when absent, null or empty.
 * *bad when present but not an object. */
static const char *obj_member(json_t *obj, const char *key, mdt_arena *a, bool *bad)
{
    json_t *v = json_object_get(obj, key);
    char *s;
    const char *out;

    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_object(v)) {
        *bad = true;
        return NULL;
    }
    if (json_object_size(v) == 0 || !(s = json_dumps(v, JSON_COMPACT)))
        return NULL;
    out = mdt_arena_strdup(a, s);
    free(s);
    return out;
}

mdt_rc mdt_policy_query_json(const char *json, size_t len, mdt_arena *a, mdt_pdp_query *q,
                             mdt_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *sub = json_object_get(doc, "subject"), *act = json_object_get(doc, "action");
    json_t *res = json_object_get(doc, "resource");
    bool bad = false;
    mdt_rc rc = MDT_OK;

    memset(q, 0, sizeof(*q));
    if (!doc || !json_is_object(doc)) {
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the request must be a JSON object");
        goto out;
    }
    if (!json_is_object(sub) || !json_is_object(act) || !json_is_object(res)) {
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                      "subject, action and resource must be JSON objects");
        goto out;
    }
    q->subject_type = str_member(sub, "type", a);
    q->subject_id = str_member(sub, "id", a);
    q->subject_props = obj_member(sub, "properties", a, &bad);
    q->action = str_member(act, "name", a);
    q->action_props = obj_member(act, "properties", a, &bad);
    q->resource_type = str_member(res, "type", a);
    q->resource_id = str_member(res, "id", a);
    q->resource_props = obj_member(res, "properties", a, &bad);
    q->context = obj_member(doc, "context", a, &bad);
    if (bad)
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "properties and context must be JSON objects");
    else
        rc = check_query(q, err);
out:
    json_decref(doc);
    return rc;
}

static json_t *id_array(const char *const *ids, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, json_string(ids[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

mdt_rc mdt_policy_answer_json(const mdt_pdp_answer *ans, mdt_arena *a, const char **json,
                              mdt_err *err)
{
    json_t *reasons = id_array(ans->reasons, ans->nreasons);
    json_t *errors = id_array(ans->errors, ans->nerrors);
    json_t *o = reasons && errors ? json_pack("{s:b, s:{s:o, s:o}}", "decision", ans->allow,
                                              "context", "reasons", reasons, "errors", errors)
                                  : NULL;
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    if (!o) {
        json_decref(reasons);
        json_decref(errors);
    }
    *json = s ? mdt_arena_strdup(a, s) : NULL;
    free(s);
    json_decref(o);
    return *json ? MDT_OK : nomem(err);
}
