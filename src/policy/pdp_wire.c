/* The pure parts of external PDPs (policy/pdp_wire.h). */
#include "policy/pdp_wire.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int mdt_pdp__mode_parse(const char *s)
{
    static const char *const names[] = {"off", "embedded", "authzen", "opa"};

    for (size_t i = 0; s && i < MDT_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

/* ------------------------------------------------------------- requests */

/* Sets obj[name] to the JSON object text s (when not NULL). */
static bool set_object_text(json_t *obj, const char *name, const char *s, mdt_err *err)
{
    json_t *v;

    if (!s)
        return true;
    v = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        mdt_failf(err, MDT_ERR_INVALID_REQUEST, "a property set is not a JSON object",
                  "%s is not a JSON object", name);
        return false;
    }
    return json_object_set_new(obj, name, v) == 0;
}

/* {"type", "id", "properties"?} or {"name", "properties"?}. */
static json_t *entity(const char *k1, const char *v1, const char *k2, const char *v2,
                      const char *props, mdt_err *err)
{
    json_t *o = json_object();

    if (!o || json_object_set_new(o, k1, json_string(v1 ? v1 : "")) != 0 ||
        (k2 && json_object_set_new(o, k2, json_string(v2 ? v2 : "")) != 0)) {
        json_decref(o);
        mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!set_object_text(o, "properties", props, err)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *mdt_pdp__query_json(const mdt_pdp_query *q, mdt_err *err)
{
    json_t *o = json_object(), *s, *ac, *r;

    if (!o) {
        mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    s = entity("type", q->subject_type, "id", q->subject_id, q->subject_props, err);
    ac = s ? entity("name", q->action, NULL, NULL, q->action_props, err) : NULL;
    r = ac ? entity("type", q->resource_type, "id", q->resource_id, q->resource_props, err)
           : NULL;
    if (!r || json_object_set_new(o, "subject", s) != 0 ||
        json_object_set_new(o, "action", ac) != 0 || json_object_set_new(o, "resource", r) != 0) {
        if (!r) {
            json_decref(s);
            json_decref(ac);
        }
        json_decref(o);
        if (r)
            mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (!set_object_text(o, "context", q->context, err)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

mdt_rc mdt_pdp__query_key(const mdt_pdp_query *q, uint8_t key[MDT_SHA256_LEN], mdt_err *err)
{
    json_t *o = mdt_pdp__query_json(q, err);
    char *s;

    if (!o)
        return err ? err->rc : MDT_ERR_INVALID_REQUEST;
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!s)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_sha256(s, strlen(s), key);
    free(s);
    return MDT_OK;
}

mdt_rc mdt_pdp__request_body(mdt_pdp_mode mode, const mdt_pdp_query *q, size_t n, char **out,
                             mdt_err *err)
{
    json_t *root = json_object(), *list = json_array(), *holder;
    mdt_rc rc = MDT_ERR_NOMEM;

    *out = NULL;
    if (!root || !list)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        json_t *e = mdt_pdp__query_json(&q[i], err);
        if (!e) {
            rc = err ? err->rc : MDT_ERR_INVALID_REQUEST;
            goto out;
        }
        if (json_array_append_new(list, e) != 0)
            goto nomem;
    }
    if (mode == MDT_PDP_OPA) {
        if (!(holder = json_object()) || json_object_set_new(root, "input", holder) != 0)
            goto nomem;
    } else {
        holder = root;
        if (json_object_set_new(root, "options",
                                json_pack("{s:s}", "evaluations_semantic", "execute_all")) != 0)
            goto nomem;
    }
    if (json_object_set(holder, "evaluations", list) != 0 ||
        !(*out = json_dumps(root, JSON_COMPACT)))
        goto nomem;
    rc = MDT_OK;
    goto out;
nomem:
    rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
out:
    json_decref(list);
    json_decref(root);
    return rc;
}

/* -------------------------------------------------------------- answers */

/* The strings of a JSON array (others skipped), at most
 * MDT_PDP_MAX_REASONS, each cut at MDT_PDP_REASON_MAX bytes; plus one more
 * string. */
static mdt_rc strings(const json_t *arr, const char *extra, mdt_arena *a, const char ***out,
                      size_t *n, mdt_err *err)
{
    size_t cap = (json_is_array(arr) ? json_array_size(arr) : 0) + (extra ? 1 : 0);
    size_t i;
    json_t *v;

    *out = NULL;
    *n = 0;
    if (cap > MDT_PDP_MAX_REASONS)
        cap = MDT_PDP_MAX_REASONS;
    if (!cap)
        return MDT_OK;
    if (!(*out = mdt_arena_alloc(a, cap * sizeof(**out))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (extra && *n < cap && !((*out)[(*n)++] = mdt_arena_strndup(a, extra, MDT_PDP_REASON_MAX)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_array_foreach(arr, i, v) {
        if (*n >= cap)
            break;
        if (!json_is_string(v))
            continue;
        if (!((*out)[(*n)++] = mdt_arena_strndup(a, json_string_value(v), MDT_PDP_REASON_MAX)))
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    return MDT_OK;
}

/* {"decision": bool, "context"?: {...}} (AuthZEN), or the same with
 * "reasons" at the top (OPA), or a bare boolean (OPA). */
static mdt_rc one_answer(const json_t *v, bool opa, size_t i, mdt_arena *a, mdt_pdp_answer *out,
                         mdt_err *err)
{
    const json_t *d = json_is_object(v) ? json_object_get(v, "decision") : NULL;
    const json_t *ctx = json_is_object(v) ? json_object_get(v, "context") : NULL;
    const json_t *reasons, *errors;
    const char *reason;
    mdt_rc rc;

    if (opa && json_is_boolean(v)) {
        out->allow = json_is_true(v);
        return MDT_OK;
    }
    if (!json_is_boolean(d))
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "malformed answer",
                         "answer %zu has no boolean decision", i);
    if (opa)
        ctx = v;
    else if (ctx && !json_is_object(ctx))
        return mdt_failf(err, MDT_ERR_UNAVAILABLE, "malformed answer",
                         "answer %zu has a context that is not an object", i);
    reasons = ctx ? json_object_get(ctx, "reasons") : NULL;
    errors = ctx ? json_object_get(ctx, "errors") : NULL;
    reason = ctx ? json_string_value(json_object_get(ctx, "reason")) : NULL;
    if ((rc = strings(reasons, reason, a, &out->reasons, &out->nreasons, err)) != MDT_OK ||
        (rc = strings(errors, NULL, a, &out->errors, &out->nerrors, err)) != MDT_OK)
        return rc;
    out->allow = json_is_true(d);
    return MDT_OK;
}

mdt_rc mdt_pdp__parse_answer(mdt_pdp_mode mode, const char *body, size_t len, size_t n,
                             mdt_arena *a, mdt_pdp_answer *out, mdt_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *list;
    bool opa = mode == MDT_PDP_OPA;
    mdt_rc rc = MDT_OK;

    memset(out, 0, n * sizeof(*out));
    if (!json_is_object(root)) {
        rc = mdt_fail(err, MDT_ERR_UNAVAILABLE, "malformed answer: not a JSON object");
        goto out;
    }
    list = json_object_get(root, opa ? "result" : "evaluations");
    if (!json_is_array(list) || json_array_size(list) != n) {
        rc = mdt_failf(err, MDT_ERR_UNAVAILABLE, "malformed answer",
                       "malformed answer: \"%s\" is not an array of %zu decisions",
                       opa ? "result" : "evaluations", n);
        goto out;
    }
    for (size_t i = 0; i < n && rc == MDT_OK; i++)
        rc = one_answer(json_array_get(list, i), opa, i, a, &out[i], err);
out:
    if (rc != MDT_OK)
        memset(out, 0, n * sizeof(*out)); /* nothing half-read is an allow */
    json_decref(root);
    return rc;
}

/* ---------------------------------------------------------------- cache */

typedef struct {
    uint8_t key[MDT_SHA256_LEN];
    int64_t expires; /* 0: empty */
    bool allow;
    char **reasons, **errors;
    size_t nreasons, nerrors;
} slot;

struct mdt_pdp_cache {
    pthread_mutex_t mu;
    slot slots[MDT_PDP_CACHE_SLOTS];
};

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static void slot_clear(slot *s)
{
    strv_free(s->reasons, s->nreasons);
    strv_free(s->errors, s->nerrors);
    memset(s, 0, sizeof(*s));
}

mdt_rc mdt_pdp__cache_new(mdt_pdp_cache **out, mdt_err *err)
{
    mdt_pdp_cache *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return MDT_OK;
}

void mdt_pdp__cache_free(mdt_pdp_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < MDT_PDP_CACHE_SLOTS; i++)
        slot_clear(&c->slots[i]);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static slot *slot_of(mdt_pdp_cache *c, const uint8_t key[MDT_SHA256_LEN])
{
    size_t h = ((size_t)key[0] << 8 | key[1]) % MDT_PDP_CACHE_SLOTS;
    return &c->slots[h];
}

static const char **strv_copy_to(mdt_arena *a, char **v, size_t n)
{
    const char **o = n ? mdt_arena_alloc(a, n * sizeof(*o)) : NULL;

    for (size_t i = 0; o && i < n; i++)
        if (!(o[i] = mdt_arena_strdup(a, v[i])))
            return NULL;
    return o;
}

bool mdt_pdp__cache_get(mdt_pdp_cache *c, const uint8_t key[MDT_SHA256_LEN], int64_t now,
                        mdt_arena *a, mdt_pdp_answer *out)
{
    bool hit = false;
    slot *s;

    pthread_mutex_lock(&c->mu);
    s = slot_of(c, key);
    if (s->expires > now && memcmp(s->key, key, MDT_SHA256_LEN) == 0) {
        out->reasons = strv_copy_to(a, s->reasons, s->nreasons);
        out->errors = strv_copy_to(a, s->errors, s->nerrors);
        hit = (out->reasons || !s->nreasons) && (out->errors || !s->nerrors);
        out->nreasons = out->reasons ? s->nreasons : 0;
        out->nerrors = out->errors ? s->nerrors : 0;
        out->allow = hit && s->allow;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

static char **strv_dup(const char **v, size_t n, bool *ok)
{
    char **o = n ? calloc(n, sizeof(*o)) : NULL;

    *ok = !n || o;
    for (size_t i = 0; o && i < n; i++)
        *ok = *ok && (o[i] = mdt_strdup(v[i]));
    return o;
}

void mdt_pdp__cache_put(mdt_pdp_cache *c, const uint8_t key[MDT_SHA256_LEN], int64_t expires,
                        const mdt_pdp_answer *ans)
{
    slot fresh = {.expires = expires, .allow = ans->allow};
    bool ok1, ok2;
    slot *s;

    memcpy(fresh.key, key, MDT_SHA256_LEN);
    fresh.reasons = strv_dup(ans->reasons, ans->nreasons, &ok1);
    fresh.nreasons = fresh.reasons ? ans->nreasons : 0;
    fresh.errors = strv_dup(ans->errors, ans->nerrors, &ok2);
    fresh.nerrors = fresh.errors ? ans->nerrors : 0;
    if (!ok1 || !ok2) { /* not cached: asked again next time */
        slot_clear(&fresh);
        return;
    }
    pthread_mutex_lock(&c->mu);
    s = slot_of(c, key);
    slot_clear(s);
    *s = fresh;
    pthread_mutex_unlock(&c->mu);
}
