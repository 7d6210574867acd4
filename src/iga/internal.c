/* Helpers shared by the files of the service layer (internal.h). */
#include "iga/internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/audit.h"
#include "core/clock.h"

mdt_rc mdt_iga__nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

mdt_rc mdt_iga__audit(mdt_ctx *ctx, const char *type, const char *client_id, const char *data,
                      mdt_err *err)
{
    mdt_audit_event ev = {
        .type = type,
        .actor = mdt_ctx_actor(ctx),
        .client_id = client_id,
        .decision = "allow",
        .data = data,
    };

    return mdt_ctx_audit(ctx, &ev, err);
}

mdt_rc mdt_iga__audit_json(mdt_ctx *ctx, const char *type, const char *client_id, json_t *data,
                           mdt_err *err)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    mdt_rc rc;

    if (data && !text)
        rc = mdt_iga__nomem(err);
    else
        rc = mdt_iga__audit(ctx, type, client_id, text, err);
    free(text);
    json_decref(data);
    return rc;
}

void *mdt_iga__time_json(int64_t t)
{
    char buf[21];

    if (!t)
        return json_null();
    mdt_time_format(t, buf);
    return json_string(buf);
}

mdt_rc mdt_iga__dump(const void *json_value, mdt_arena *a, const char **out, mdt_err *err)
{
    char *s = json_dumps((const json_t *)json_value, JSON_COMPACT | JSON_ENCODE_ANY);

    *out = NULL;
    if (!s)
        return mdt_iga__nomem(err);
    *out = mdt_arena_strdup(a, s);
    mdt_wipe(s, strlen(s));
    free(s);
    if (!*out)
        return mdt_iga__nomem(err);
    return MDT_OK;
}

mdt_rc mdt_iga__dump_take(json_t *doc, mdt_arena *a, const char **out, mdt_err *err)
{
    mdt_rc rc;

    *out = NULL;
    if (!doc)
        return mdt_iga__nomem(err);
    rc = mdt_iga__dump(doc, a, out, err);
    json_decref(doc);
    return rc;
}

mdt_rc mdt_iga__client_get(mdt_env *env, const char *client_id, mdt_arena *a, mdt_client_rec *out,
                           mdt_err *err)
{
    mdt_rc rc = mdt_store_client_get(env->store, client_id, a, out, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown client", "unknown client %.64s", client_id);
    return rc;
}

mdt_rc mdt_iga__read_config_array(const char *path, const char *what, long max_bytes,
                                  size_t max_items, const char *noun, json_t **out, mdt_err *err)
{
    struct stat st;
    json_error_t je;

    *out = NULL;
    if (stat(path, &st) != 0)
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot read a configuration file",
                         "cannot read the %s file %.200s", what, path);
    if (st.st_size > max_bytes)
        return mdt_failf(err, MDT_ERR_CONFIG, "invalid configuration file",
                         "invalid %s file %.200s: larger than %ld bytes", what, path, max_bytes);
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (json_is_array(*out) && json_array_size(*out) <= max_items)
        return MDT_OK;
    json_decref(*out);
    *out = NULL;
    return mdt_failf(err, MDT_ERR_CONFIG, "invalid configuration file",
                     "invalid %s file %.200s: must be a JSON array of at most %zu %s "
                     "(line %d: %.100s)",
                     what, path, max_items, noun, je.line, je.text);
}
