#define _GNU_SOURCE
#include "app/env.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/log.h"
#include "keys/audit_key.h"
#include "keys/keyring.h"
#include "store/store.h"

mdt_rc mdt_mkdirs(const char *path, mdt_err *err)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return mdt_fail(err, MDT_ERR_CONFIG, "bad directory path");
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return mdt_failf(err, MDT_ERR_IO, "cannot create directory", "cannot create %s: %s",
                             buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return mdt_failf(err, MDT_ERR_IO, "cannot create directory", "cannot create %s: %s", buf,
                         strerror(errno));
    return MDT_OK;
}

const char *mdt_env_config_source(const mdt_env *env)
{
    return env->config_file ? env->config_file : "built-in defaults (no ./mandate.conf here)";
}

static mdt_rc open_store(mdt_env *env, mdt_err *err)
{
    int version = 0;
    mdt_rc rc = mdt_store_open(env->cfg.database, &env->store, err);

    if (rc == MDT_OK && (rc = mdt_store_schema_version(env->store, &version, err)) == MDT_OK &&
        version == 0)
        rc = mdt_fail(err, MDT_ERR_CONFIG, "the database is not initialised");
    return rc;
}

mdt_rc mdt_env_open(mdt_env *env, const char *config_path, unsigned flags, mdt_err *err)
{
    mdt_log_level level;
    mdt_rc rc;

    memset(env, 0, sizeof(*env));
    env->clock = mdt_clock_system;
    env->rng = mdt_rng_system;
    env->actor = "cli";
    if (config_path && !*config_path)
        config_path = NULL; /* explicitly none: built-in defaults */
    else if (!config_path && access("mandate.conf", F_OK) == 0)
        config_path = "mandate.conf";
    env->config_file = config_path;
    if ((rc = mdt_config_load(&env->cfg, config_path, err)) != MDT_OK ||
        (rc = mdt_config_validate(&env->cfg, err)) != MDT_OK)
        return rc;
    env->config_valid = true;
    if (mdt_log_level_parse(env->cfg.log_level, &level) == MDT_OK)
        mdt_log_set_level(level);
    if ((flags & MDT_ENV_STORE) &&
        ((rc = open_store(env, err)) != MDT_OK || (rc = mdt_audit_keys_open(env, err)) != MDT_OK))
        return rc;
    if ((flags & MDT_ENV_KEYS) && (rc = mdt_keyring_open(env, &env->keys, err)) != MDT_OK)
        return rc;
    if ((flags & MDT_ENV_AUDIT) &&
        (rc = mdt_audit_start(env->store, &env->clock, (size_t)env->cfg.audit_max_batch,
                              &env->audit, err)) != MDT_OK)
        return rc;
    if (env->audit && env->audit_keys)
        mdt_audit_set_checkpoints(env->audit, env->audit_keys->signer,
                                  env->cfg.audit_checkpoint_events,
                                  env->cfg.audit_checkpoint_interval);
    return MDT_OK;
}

mdt_rc mdt_env_audit(mdt_env *env, const void *ev, mdt_err *err)
{
    if (env->audit)
        return mdt_audit_record(env->audit, ev, err);
    return mdt_audit_append_now(env->store, &env->clock, ev, err);
}

void mdt_env_close(mdt_env *env)
{
    mdt_audit_stop(env->audit);
    env->audit = NULL;
    mdt_audit_keys_free(env->audit_keys);
    env->audit_keys = NULL;
    mdt_keyring_free(env->keys);
    env->keys = NULL;
    mdt_store_close(env->store);
    env->store = NULL;
    mdt_config_free(&env->cfg);
}
