/* Helpers shared by the files of the service layer (internal.h). */
#include "iga/internal.h"

#include <stdlib.h>
#include <string.h>

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
