#include "policy/policies.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "policy/builtin.h"
#include "policy/engine.h"

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

bool mdt_policy_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > MDT_POLICY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static mdt_rc check_text(const char *text, size_t len, mdt_err *err)
{
    if (!text || len == 0)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy text is empty");
    if (len > MDT_CEDAR_TEXT_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy text is longer than 1 MiB");
    if (memchr(text, '\0', len))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy text holds a NUL byte");
    return MDT_OK;
}

static mdt_rc check_id(const char *id, mdt_err *err)
{
    if (!mdt_policy_id_valid(id))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "policy id must be 1..128 characters of A-Z a-z 0-9 . _ : -");
    return MDT_OK;
}

mdt_rc mdt_policy_validate(const char *text, size_t len, const char *id, mdt_arena *a,
                           const char ***ids, size_t *n, mdt_err *err)
{
    mdt_cedar_set *s = NULL;
    mdt_rc rc;

    *ids = NULL;
    *n = 0;
    if ((rc = check_text(text, len, err)) != MDT_OK ||
        (rc = mdt_cedar_set_new(&s, err)) != MDT_OK ||
        (rc = mdt_cedar_set_add(s, text, len, id, err)) != MDT_OK)
        goto out;
    *n = mdt_cedar_set_count(s);
    if (*n && !(*ids = mdt_arena_alloc(a, *n * sizeof(**ids)))) {
        rc = nomem(err);
        goto out;
    }
    for (size_t i = 0; i < *n; i++) {
        if (!((*ids)[i] = mdt_arena_strdup(a, mdt_cedar_set_id(s, i)))) {
            rc = nomem(err);
            goto out;
        }
    }
out:
    if (rc != MDT_OK) {
        *ids = NULL;
        *n = 0;
    }
    mdt_cedar_set_free(s);
    return rc;
}

mdt_rc mdt_policy_set_build(const mdt_config *cfg, const mdt_policy_rec *recs, size_t n,
                            mdt_cedar_set **out, mdt_err *err)
{
    mdt_cedar_set *s = NULL;
    mdt_rc rc = mdt_cedar_set_new(&s, err);

    *out = NULL;
    for (size_t i = 0; rc == MDT_OK && i < n; i++)
        rc = mdt_cedar_set_add(s, recs[i].text, strlen(recs[i].text), recs[i].id, err);
    if (rc == MDT_OK) /* the shipped policies [policy] builtin enables */
        rc = mdt_policy_builtin_add(cfg, s, err);
    if (rc != MDT_OK) {
        mdt_cedar_set_free(s);
        return rc;
    }
    *out = s;
    return MDT_OK;
}

/* {"id", "sha256"} of a stored text, for its audit event. */
static mdt_rc policy_audit(mdt_ctx *ctx, const char *type, const char *id, const char *text,
                           mdt_err *err)
{
    uint8_t h[MDT_SHA256_LEN];
    char hex[2 * MDT_SHA256_LEN + 1];
    json_t *o;
    char *data = NULL;
    mdt_rc rc;

    mdt_sha256(text, strlen(text), h);
    mdt_hex_encode(h, sizeof(h), hex);
    o = json_pack("{s:s, s:s}", "id", id, "sha256", hex);
    if (!o || !(data = json_dumps(o, JSON_COMPACT))) {
        rc = nomem(err);
    } else {
        mdt_audit_event ev = {.type = type, .actor = mdt_ctx_actor(ctx), .decision = "allow",
                              .data = data};
        rc = mdt_ctx_audit(ctx, &ev, err);
    }
    free(data);
    json_decref(o);
    return rc;
}

/* Whether the stored texts with p in place of the one of its id (or beside
 * them) still form one valid set. */
static mdt_rc check_whole_set(mdt_env *env, const mdt_policy_rec *p, mdt_arena *a, mdt_err *err)
{
    mdt_policy_rec *recs = NULL, *all;
    mdt_cedar_set *s = NULL;
    size_t n = 0, m = 0;
    mdt_rc rc = mdt_store_policy_list(env->store, a, &recs, &n, err);

    if (rc != MDT_OK)
        return rc;
    if (!(all = mdt_arena_alloc(a, (n + 1) * sizeof(*all))))
        return nomem(err);
    for (size_t i = 0; i < n; i++)
        if (!mdt_str_eq(recs[i].id, p->id))
            all[m++] = recs[i];
    all[m++] = *p;
    rc = mdt_policy_set_build(&env->cfg, all, m, &s, err);
    mdt_cedar_set_free(s);
    return rc;
}

static mdt_rc check_add_args(const char *id, const char *text, size_t len,
                             const char *description, mdt_err *err)
{
    mdt_rc rc = check_id(id, err);

    if (rc != MDT_OK)
        return rc;
    if (description && strlen(description) > MDT_POLICY_DESCRIPTION_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "policy description must be at most 2000 characters");
    return check_text(text, len, err);
}

mdt_rc mdt_policy_add(mdt_env *env, mdt_ctx *ctx, const char *id, const char *text, size_t len,
                      const char *description, bool replace, bool *replaced, mdt_err *err)
{
    mdt_arena a;
    const char **ids;
    size_t n;
    mdt_policy_rec p = {.id = id, .description = description, .created_at = ctx->now,
                        .updated_at = ctx->now, .created_by = mdt_ctx_actor(ctx)};
    bool was = false;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    if (replaced)
        *replaced = false;
    if ((rc = check_add_args(id, text, len, description, err)) != MDT_OK ||
        (rc = mdt_policy_validate(text, len, id, &a, &ids, &n, err)) != MDT_OK)
        goto out;
    if (!(p.text = mdt_arena_strndup(&a, text, len))) {
        rc = nomem(err);
        goto out;
    }
    if ((rc = check_whole_set(env, &p, &a, err)) != MDT_OK)
        goto out;
    if (replace) {
        rc = mdt_store_policy_update(env->store, &p, err);
        was = rc == MDT_OK;
        if (rc == MDT_ERR_NOT_FOUND)
            rc = mdt_store_policy_insert(env->store, &p, err);
    } else {
        rc = mdt_store_policy_insert(env->store, &p, err);
        if (rc == MDT_ERR_CONFLICT)
            rc = mdt_failf(err, MDT_ERR_CONFLICT, "policy already exists",
                           "policy %s already exists (--replace replaces it)", id);
    }
    if (rc != MDT_OK)
        goto out;
    if (replaced)
        *replaced = was;
    mdt_policy_engine_reload(env->policy);
    rc = policy_audit(ctx, was ? "policy.replaced" : "policy.added", id, p.text, err);
out:
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_policy_remove(mdt_env *env, mdt_ctx *ctx, const char *id, mdt_err *err)
{
    mdt_arena a;
    mdt_policy_rec p;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    if ((rc = mdt_policy_get(env, id, &a, &p, err)) != MDT_OK)
        goto out;
    rc = mdt_store_policy_delete(env->store, id, err);
    if (rc == MDT_ERR_NOT_FOUND)
        rc = mdt_failf(err, MDT_ERR_NOT_FOUND, "policy not found", "no policy %s", id);
    if (rc == MDT_OK) {
        mdt_policy_engine_reload(env->policy);
        rc = policy_audit(ctx, "policy.removed", id, p.text, err);
    }
out:
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_policy_get(mdt_env *env, const char *id, mdt_arena *a, mdt_policy_rec *out,
                      mdt_err *err)
{
    mdt_rc rc;

    if (!mdt_policy_id_valid(id)) {
        memset(out, 0, sizeof(*out));
        return mdt_failf(err, MDT_ERR_NOT_FOUND, "policy not found", "no policy %.140s",
                         id ? id : "");
    }
    rc = mdt_store_policy_get(env->store, id, a, out, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_NOT_FOUND, "policy not found", "no policy %s", id);
    return rc;
}

static json_t *time_json(int64_t t)
{
    char buf[21];

    mdt_time_format(t, buf);
    return json_string(buf);
}

/* The document of p as a jansson object (new reference), or NULL. */
static json_t *policy_doc(const mdt_policy_rec *p, bool with_text, mdt_arena *a, mdt_err *err)
{
    uint8_t h[MDT_SHA256_LEN];
    char hex[2 * MDT_SHA256_LEN + 1];
    const char **ids = NULL;
    size_t n = 0;
    json_t *o, *arr;
    mdt_err perr = {0};

    mdt_sha256(p->text, strlen(p->text), h);
    mdt_hex_encode(h, sizeof(h), hex);
    /* a stored text parses (it did when stored); should the language ever
       refuse an old one, it is listed without policy ids rather than hidden */
    if (mdt_policy_validate(p->text, strlen(p->text), p->id, a, &ids, &n, &perr) != MDT_OK)
        n = 0;
    o = json_pack("{s:s, s:s?, s:o, s:o, s:s, s:s, s:[]}", "id", p->id, "description",
                  p->description, "created_at", time_json(p->created_at), "updated_at",
                  time_json(p->updated_at), "created_by", p->created_by ? p->created_by : "",
                  "sha256", hex, "policies");
    arr = o ? json_object_get(o, "policies") : NULL;
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_string(ids[i])) != 0)
            arr = NULL;
    if (o && arr && with_text && json_object_set_new(o, "text", json_string(p->text)) != 0)
        arr = NULL;
    if (!o || !arr) {
        json_decref(o);
        nomem(err);
        return NULL;
    }
    return o;
}

static mdt_rc dump(json_t *v, mdt_arena *a, const char **json, mdt_err *err)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

    *json = s ? mdt_arena_strdup(a, s) : NULL;
    free(s);
    json_decref(v);
    return *json ? MDT_OK : nomem(err);
}

mdt_rc mdt_policy_doc_json(const mdt_policy_rec *p, bool with_text, mdt_arena *a,
                           const char **json, mdt_err *err)
{
    json_t *o = policy_doc(p, with_text, a, err);

    *json = NULL;
    return o ? dump(o, a, json, err) : MDT_ERR_NOMEM;
}

mdt_rc mdt_policy_list_json(mdt_env *env, mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_policy_rec *recs = NULL;
    size_t n = 0;
    json_t *arr;
    mdt_rc rc = mdt_store_policy_list(env->store, a, &recs, &n, err);

    *json = NULL;
    if (rc != MDT_OK)
        return rc;
    if (!(arr = json_array()))
        return nomem(err);
    for (size_t i = 0; i < n; i++) {
        json_t *o = policy_doc(&recs[i], false, a, err);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return nomem(err);
        }
    }
    return dump(arr, a, json, err);
}

mdt_rc mdt_policy_read_file(const char *path, size_t max, char **out, size_t *len, mdt_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (!f)
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot read a file", "%s: %s", path,
                         strerror(errno));
    for (;;) {
        if (n == cap) {
            char *nb;
            cap = cap ? cap * 2 : 65536;
            if (cap > max + 1)
                cap = max + 1;
            if (n == cap || !(nb = realloc(buf, cap + 1))) {
                fclose(f);
                free(buf);
                return n == cap ? mdt_failf(err, MDT_ERR_CONFIG, "file too large",
                                            "%s: larger than %zu bytes", path, max)
                                : nomem(err);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot read a file", "%s: read error", path);
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return MDT_OK;
}
