/* Opening and closing the environment: the one place that builds it from
 * every module (store, key ring, audit writer and keys). It lives at the top
 * of the layers, since it needs all of them; app/env.h only describes it. */
#include <string.h>
#include <unistd.h>

#include "app/env.h"
#include "audit/audit.h"
#include "cli/cli.h"
#include "core/log.h"
#include "keys/audit_key.h"
#include "keys/keyring.h"
#include "store/store.h"

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
