/* mandate init, mandate serve [--dev], mandate config-reference. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "audit/audit.h"
#include "core/log.h"
#include "core/url.h"
#include "http/server.h"
#include "iga/background.h"
#include "iga/resources.h"
#include "iga/routing.h"
#include "iga/scope.h"
#include "iga/webhooks.h"
#include "keys/audit_key.h"
#include "keys/keyring.h"
#include "oauth/cimd.h"
#include "oauth/jwks_cache.h"
#include "oauth/trust.h"
#include "policy/engine.h"
#include "policy/pdp.h"
#include "store/store.h"
#include "users/users.h"

/* The directory that holds a sqlite database, so init can create it. */
static mdt_rc database_dir(const char *url, char *out, size_t n)
{
    const char *path, *slash;

    if (strncmp(url, "sqlite:", 7) != 0)
        return MDT_ERR_NOT_FOUND;
    path = url + 7;
    slash = strrchr(path, '/');
    if (!slash || slash == path || (size_t)(slash - path) >= n)
        return MDT_ERR_NOT_FOUND;
    memcpy(out, path, (size_t)(slash - path));
    out[slash - path] = '\0';
    return MDT_OK;
}

/* The standard scopes and the first signing key, as actor; their audit
 * events appended before the command goes on. */
static mdt_rc ensure_defaults(mdt_env *env, const char *actor, bool first_key, mdt_err *err)
{
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    mdt_cli_ctx(env, actor, &ctx, &events, &a);
    if ((rc = mdt_audit_keys_setup(env, &ctx, err)) == MDT_OK &&
        (rc = mdt_scope_ensure_standard(env, &ctx, NULL, err)) == MDT_OK && first_key)
        rc = mdt_keys_ensure_first(env, &ctx, err);
    rc = mdt_cli_commit(env, &ctx, rc, err);
    mdt_arena_free(&a);
    return rc;
}

/* Creates what init creates; idempotent. env has the configuration only. */
static mdt_rc do_init(mdt_env *env, mdt_err *err)
{
    char dir[4096], path[4096];
    mdt_rc rc;

    if ((rc = mdt_mkdirs(env->cfg.data_dir, err)) != MDT_OK)
        return rc;
    if (database_dir(env->cfg.database, dir, sizeof(dir)) == MDT_OK &&
        (rc = mdt_mkdirs(dir, err)) != MDT_OK)
        return rc;
    if (!env->store && (rc = mdt_store_open(env->cfg.database, &env->store, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_store_migrate(env->store, err)) != MDT_OK ||
        (rc = mdt_master_key_ensure(mdt_master_key_path(&env->cfg, path, sizeof(path)), &env->rng,
                                    err)) != MDT_OK)
        return rc;
    return ensure_defaults(env, "cli", true, err);
}

int mdt_cli_init(mdt_env *env, int argc, char **argv)
{
    static const mdt_cli_opt opts[] = {{"--json", false}};
    mdt_cli_args args = {0};
    mdt_err err = {0};
    int version = 0;
    char buf[4096], db[1024];
    const char *path;

    if (mdt_cli_parse(argc, argv, 1, opts, MDT_ARRAY_LEN(opts), &args) || args.npos)
        return args.npos ? mdt_cli_fail("init takes no arguments") : 1;
    if (do_init(env, &err) != MDT_OK || mdt_store_schema_version(env->store, &version, &err) != MDT_OK)
        return mdt_cli_fail_err("init", &err);
    path = mdt_master_key_path(&env->cfg, buf, sizeof(buf));
    mdt_url_redact(env->cfg.database, db, sizeof(db)); /* a PostgreSQL URL may hold a password */
    if (mdt_cli_has(&args, 0)) {
        json_t *o = json_pack("{s:s, s:i, s:s}", "database", db, "schema_version", version,
                              "master_key_file", path);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        int code = text ? mdt_cli_print_json(text) : mdt_cli_fail("init: out of memory");
        free(text);
        json_decref(o);
        return code;
    }
    printf("initialised %s (schema version %d), master key %s\n", db, version, path);
    return 0;
}

/* Blocks the signals the main thread waits for, before any thread starts,
 * so that every thread inherits the mask. */
void mdt_cli_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void wait_for_stop(mdt_env *env)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    for (;;) {
        /* while replaced configuration waits for its last readers, look
         * again every 100 ms */
        if (env->retired) {
            struct timespec tick = {0, 100 * 1000 * 1000};
            sig = sigtimedwait(&set, NULL, &tick);
            mdt_env_reclaim(env);
            if (sig < 0)
                continue;
        } else if (sigwait(&set, &sig) != 0) {
            continue;
        }
        if (sig != SIGHUP)
            break;
        mdt_err err;
        MDT_INFO("SIGHUP: reloading signing keys and the configuration");
        if (mdt_keyring_reload(env->keys, &err) != MDT_OK)
            MDT_WARN("cannot reload signing keys: %s", mdt_err_text(&err));
        mdt_cli_reload(env);
        mdt_env_reclaim(env);
    }
    MDT_INFO("signal %d: shutting down", sig);
}

/* serve --dev, first start: when there is no user at all, creates "admin"
 * (roles admin and approver) with a random password shown once on stderr,
 * never in a log line. Another process winning the race is no error. */
static mdt_rc dev_admin(mdt_env *env, mdt_err *err)
{
    static const char *const roles[] = {"admin", "approver", NULL};
    char pw[40]; /* base64url of 24 bytes: 32 characters */
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    int64_t n = 0;
    mdt_rc rc = mdt_store_user_count(env->store, &n, err);

    if (rc != MDT_OK || n > 0)
        return rc;
    if ((rc = mdt_random_b64url(&env->rng, 24, pw)) != MDT_OK)
        return mdt_fail(err, rc, "random generator failed");
    mdt_arena_init(&a, 4096);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    rc = mdt_user_create(env, &ctx, "admin", NULL, NULL, roles, pw, strlen(pw), err);
    rc = mdt_cli_commit(env, &ctx, rc, err);
    mdt_arena_free(&a);
    if (rc == MDT_OK)
        fprintf(stderr, "mandate: created user admin with password %s (shown once)\n", pw);
    else if (rc == MDT_ERR_CONFLICT)
        rc = MDT_OK;
    mdt_wipe(pw, sizeof(pw));
    return rc;
}

/* The trusted issuers files (a bad one stops the start), the JWK Set
 * cache of client assertions and the client ID metadata document cache. */
static mdt_rc start_assertions(mdt_env *env, mdt_err *err)
{
    mdt_jwks_cache_opts o = mdt_jwks_cache_opts_from(&env->cfg);
    mdt_cimd_cache_opts co = mdt_cimd_cache_opts_from(&env->cfg);
    mdt_rc rc = mdt_trust_load(&env->cfg, &env->trust, err);

    if (rc == MDT_OK)
        rc = mdt_resources_load(env->cfg.forward_auth_resources, &env->resources, err);
    if (rc == MDT_OK)
        rc = mdt_routing_load(env->cfg.approvals_routing, &env->routing, err);
    if (rc == MDT_OK)
        rc = mdt_webhooks_load(env->cfg.webhooks_endpoints, &env->webhooks, err);
    mdt_webhooks_set_timeouts(env->webhooks, env->cfg.webhooks_connect_timeout,
                              env->cfg.webhooks_timeout);
    if (rc == MDT_OK)
        rc = mdt_fetcher_start((int)env->cfg.fetch_max_concurrent,
                               (int)env->cfg.fetch_max_per_host, &env->fetcher, err);
    o.fetcher = co.fetcher = env->fetcher;
    if (rc == MDT_OK && !mdt_str_eq(env->cfg.pdp_mode, "off"))
        rc = mdt_pdp_new(&env->cfg, &env->pdp, err); /* [pdp]: decisions at token issuance */
    if (rc == MDT_OK)
        rc = mdt_jwks_cache_new(&o, &env->jwks, err);
    return rc != MDT_OK ? rc : mdt_cimd_cache_new(&co, &env->cimd, err);
}

/* After the server: the fetcher ends what is in progress (its callbacks
 * update the caches), then the caches go. */
static void stop_assertions(mdt_env *env)
{
    mdt_policy_engine_free(env->policy); /* its reload thread reads env->resources */
    env->policy = NULL;
    mdt_env_reclaim_all(env); /* what SIGHUP replaced: no reader is left */
    if (env->live_cfg) {
        mdt_config_free(env->live_cfg);
        free(env->live_cfg);
        env->live_cfg = NULL;
    }
    mdt_fetcher_free(env->fetcher);
    env->fetcher = NULL;
    mdt_pdp_free(env->pdp);
    env->pdp = NULL;
    mdt_cimd_cache_free(env->cimd);
    env->cimd = NULL;
    mdt_jwks_cache_free(env->jwks);
    env->jwks = NULL;
    mdt_trust_free(env->trust);
    env->trust = NULL;
    mdt_resources_free(env->resources);
    env->resources = NULL;
    mdt_routing_free(env->routing);
    env->routing = NULL;
    mdt_webhooks_free(env->webhooks);
    env->webhooks = NULL;
}

int mdt_cli_serve(mdt_env *env, int argc, char **argv)
{
    static const mdt_cli_opt opts[] = {{"--dev", false}};
    mdt_cli_args args = {0};
    mdt_server *srv = NULL;
    mdt_background *bg = NULL;
    mdt_err err = {0};

    if (mdt_cli_parse(argc, argv, 1, opts, MDT_ARRAY_LEN(opts), &args) || args.npos)
        return args.npos ? mdt_cli_fail("serve takes no arguments") : 1;
    if (mdt_cli_has(&args, 0) && do_init(env, &err) != MDT_OK)
        return mdt_cli_fail_err("init", &err);
    if (mdt_cli_has(&args, 0) && dev_admin(env, &err) != MDT_OK)
        return mdt_cli_fail_err("creating the admin user", &err);
    if (!env->store && mdt_store_open(env->cfg.database, &env->store, &err) != MDT_OK)
        return mdt_cli_fail_err("storage", &err);
    if (mdt_store_migrate(env->store, &err) != MDT_OK ||
        mdt_store_background_start(env->store, &err) != MDT_OK)
        return mdt_cli_fail_err("storage", &err);
    if (mdt_keyring_open(env, &env->keys, &err) != MDT_OK)
        return mdt_cli_fail_err("keys", &err);
    if (ensure_defaults(env, "server", false, &err) != MDT_OK)
        return mdt_cli_fail_err("audit key and standard scopes", &err);
    if (mdt_audit_start(env->store, &env->clock, (size_t)env->cfg.audit_max_batch, &env->audit,
                        &err) != MDT_OK)
        return mdt_cli_fail_err("audit", &err);
    mdt_audit_set_checkpoints(env->audit, env->audit_keys->signer, env->cfg.audit_checkpoint_events,
                              env->cfg.audit_checkpoint_interval);
    if (start_assertions(env, &err) != MDT_OK) {
        stop_assertions(env);
        return mdt_cli_fail_err("configuration files", &err);
    }
    if (mdt_policy_engine_start(env, &env->policy, &err) != MDT_OK) {
        stop_assertions(env);
        return mdt_cli_fail_err("policies", &err);
    }
    if (mdt_background_start(env, &bg, &err) != MDT_OK) {
        stop_assertions(env);
        return mdt_cli_fail_err("background threads", &err);
    }
    if (mdt_server_start(env, &srv, &err) != MDT_OK) {
        mdt_background_stop(bg);
        stop_assertions(env);
        return mdt_cli_fail_err("serve", &err);
    }
    MDT_INFO("listening on %s, issuer %s", env->cfg.listen, env->cfg.issuer);
    if (mdt_cli_has(&args, 0))
        fprintf(stderr,
                "mandate: development server on %s (issuer %s), data in %s, configuration: %s\n",
                env->cfg.listen, env->cfg.issuer, env->cfg.data_dir, mdt_env_config_source(env));
    wait_for_stop(env);
    mdt_server_stop(srv);
    mdt_background_stop(bg);
    stop_assertions(env);
    return 0;
}

int mdt_cli_config_reference(mdt_env *env, int argc, char **argv)
{
    (void)env;
    (void)argv;
    if (argc > 1)
        return mdt_cli_fail("config-reference takes no arguments");
    return mdt_config_write_reference(stdout) == 0 ? 0 : 1;
}
