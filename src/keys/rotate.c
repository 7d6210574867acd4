/* Key creation and rotation, as `mandate init` and `mandate keys` use them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/env.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "keys/keyring.h"
#include "store/store.h"

/* Generates a key of the configured algorithm, seals it and stores it. */
static mdt_rc create_key(mdt_env *env, int64_t now, int64_t activate_at, mdt_arena *a,
                         const char **kid_out, mdt_err *err)
{
    char path[4096];
    uint8_t master[MDT_MASTER_KEY_LEN];
    mdt_jwk *jwk = NULL;
    uint8_t *der = NULL, *sealed = NULL;
    size_t derlen = 0, sealedlen = 0;
    mdt_alg alg;
    mdt_key_rec rec = {0};
    mdt_rc rc;

    if ((rc = mdt_alg_parse(env->cfg.signing_alg, &alg)) != MDT_OK)
        return mdt_fail(err, MDT_ERR_CONFIG, "unsupported signing_alg");
    if ((rc = mdt_master_key_load(mdt_master_key_path(&env->cfg, path, sizeof(path)), master,
                                  err)) != MDT_OK)
        return rc;
    if ((rc = mdt_jwk_generate(alg, &jwk, err)) != MDT_OK ||
        (rc = mdt_jwk_export_private(jwk, &der, &derlen, err)) != MDT_OK)
        goto out;
    rec.kid = mdt_arena_strdup(a, mdt_jwk_kid(jwk));
    if (!rec.kid) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = mdt_seal(master, (const uint8_t *)rec.kid, strlen(rec.kid), der, derlen, &sealed,
                       &sealedlen, err)) != MDT_OK)
        goto out;
    rec.alg = mdt_alg_name(alg);
    rec.sealed = sealed;
    rec.sealed_len = sealedlen;
    rec.created_at = now;
    rec.activate_at = activate_at;
    if ((rc = mdt_store_key_insert(env->store, &rec, err)) != MDT_OK)
        goto out;
    *kid_out = rec.kid;
out:
    mdt_wipe(master, sizeof(master));
    if (der) {
        mdt_wipe(der, derlen);
        free(der);
    }
    free(sealed);
    mdt_jwk_free(jwk);
    return rc;
}

static mdt_rc audit_key(mdt_env *env, mdt_ctx *ctx, const char *kid, int64_t activate_at,
                        mdt_arena *a, mdt_err *err)
{
    char t[21];
    mdt_time_format(activate_at, t);
    mdt_audit_event ev = {
        .type = "key.rotated",
        .actor = ctx->actor ? ctx->actor : "cli",
        .decision = "allow",
        .data = mdt_arena_printf(a, "{\"kid\":\"%s\",\"alg\":\"%s\",\"activate_at\":\"%s\"}", kid,
                                 env->cfg.signing_alg, t),
    };
    return mdt_ctx_audit(ctx, &ev, err);
}

mdt_rc mdt_keys_ensure_first(mdt_env *env, mdt_ctx *ctx, mdt_err *err)
{
    mdt_arena a;
    mdt_key_rec *recs = NULL;
    size_t n = 0;
    const char *kid = NULL;
    int64_t now = ctx->now;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    rc = mdt_store_key_list(env->store, &a, &recs, &n, err);
    if (rc == MDT_OK && n == 0 && (rc = create_key(env, now, now, &a, &kid, err)) == MDT_OK)
        rc = audit_key(env, ctx, kid, now, &a, err);
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_keys_rotate(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, const char **new_kid,
                       int64_t *activate_at, mdt_err *err)
{
    mdt_key_rec *recs = NULL;
    size_t n = 0;
    int64_t now = ctx->now;
    int64_t start = now + env->cfg.key_activation_delay;
    mdt_rc rc;

    if ((rc = mdt_store_key_list(env->store, a, &recs, &n, err)) != MDT_OK ||
        (rc = create_key(env, now, start, a, new_kid, err)) != MDT_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (recs[i].retire_at != 0 && recs[i].retire_at <= start)
            continue;
        rc = mdt_store_key_schedule(env->store, recs[i].kid, start, start + MDT_MAX_TOKEN_TTL, err);
        if (rc != MDT_OK)
            return rc;
    }
    *activate_at = start;
    return audit_key(env, ctx, *new_kid, start, a, err);
}

static const char *key_status(const mdt_key_rec *k, int64_t now)
{
    if (k->activate_at > now)
        return "next";
    if (k->expire_at && k->expire_at <= now)
        return "expired";
    if (k->retire_at && k->retire_at <= now)
        return "retiring";
    return "active";
}

static const char *time_or_null(mdt_arena *a, int64_t t)
{
    char buf[21];
    if (!t)
        return "null";
    mdt_time_format(t, buf);
    return mdt_arena_printf(a, "\"%s\"", buf);
}

mdt_rc mdt_keys_list_json(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_key_rec *recs = NULL;
    size_t n = 0;
    int64_t now = ctx->now;
    mdt_buf b;
    mdt_rc rc;

    if ((rc = mdt_store_key_list(env->store, a, &recs, &n, err)) != MDT_OK)
        return rc;
    mdt_buf_init(&b, 1 << 20);
    rc = mdt_buf_adds(&b, "[");
    for (size_t i = 0; i < n && rc == MDT_OK; i++)
        rc = mdt_buf_addf(&b,
                          "%s{\"kid\":\"%s\",\"alg\":\"%s\",\"status\":\"%s\",\"created_at\":%s,"
                          "\"activate_at\":%s,\"retire_at\":%s,\"expire_at\":%s}",
                          i ? "," : "", recs[i].kid, recs[i].alg, key_status(&recs[i], now),
                          time_or_null(a, recs[i].created_at), time_or_null(a, recs[i].activate_at),
                          time_or_null(a, recs[i].retire_at), time_or_null(a, recs[i].expire_at));
    if (rc == MDT_OK)
        rc = mdt_buf_adds(&b, "]");
    if (rc == MDT_OK && !(*json = mdt_arena_strdup(a, b.data)))
        rc = MDT_ERR_NOMEM;
    mdt_buf_free(&b);
    if (rc != MDT_OK)
        return mdt_fail(err, rc, "out of memory");
    return MDT_OK;
}
