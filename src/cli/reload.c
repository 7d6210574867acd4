/* SIGHUP: re-reads the configuration file and applies what can change while
 * the server runs ([forward_auth] resources, [pdp], [webhooks] endpoints and
 * timeouts, [log] level). A file that does not load — syntax, an unknown
 * key, a bad value, a resources or webhooks file that does not load — is
 * refused as a whole: the running configuration stays. Other keys that
 * changed are logged as needing a restart and keep their running value.
 * What is replaced is freed once no request or thread can still hold it
 * (app/env.h: mdt_env_retire). */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "app/ctx.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "core/log.h"
#include "iga/resources.h"
#include "iga/webhooks.h"
#include "policy/engine.h"
#include "policy/pdp.h"

/* The keys SIGHUP applies; every other key needs a restart. */
static const struct {
    const char *section;
    const char *key; /* NULL: every key of the section but those listed apart */
} live_keys[] = {
    {"forward_auth", "resources"}, {"pdp", "mode"},          {"pdp", "url"},
    {"pdp", "timeout"},            {"pdp", "cache_ttl"},     {"pdp", "max_concurrent"},
    {"pdp", "on_deny"},            {"pdp", "log_only"},      {"webhooks", "endpoints"},
    {"webhooks", "connect_timeout"}, {"webhooks", "timeout"}, {"log", "level"},
};

static bool is_live(const char *section, const char *key)
{
    for (size_t i = 0; i < MDT_ARRAY_LEN(live_keys); i++)
        if (strcmp(live_keys[i].section, section) == 0 && strcmp(live_keys[i].key, key) == 0)
            return true;
    return false;
}

static bool needs_restart(const char *section, const char *key)
{
    return !is_live(section, key);
}

typedef struct {
    json_t *names; /* "[section] key" of each key noted */
    json_t *where; /* and where the file set it (NULL: the default), for the log */
    bool live;     /* noting the keys SIGHUP applies (else the others) */
} diff_note;

static void note_key(void *ctx, const char *section, const char *key, const char *at)
{
    diff_note *n = ctx;
    char name[128];

    if (is_live(section, key) != n->live)
        return;
    snprintf(name, sizeof(name), "[%s] %s", section, key);
    json_array_append_new(n->names, json_string(name));
    json_array_append_new(n->where, at ? json_string(at) : json_null());
}

/* Once the reload is applied: each key that needs a restart, logged. */
static void log_restart(const diff_note *n)
{
    for (size_t i = 0; i < json_array_size(n->names); i++) {
        const char *at = json_string_value(json_array_get(n->where, i));
        MDT_WARN("SIGHUP: %s changed%s%s: it needs a restart, the running value is kept",
                 json_string_value(json_array_get(n->names, i)), at ? " at " : "", at ? at : "");
    }
}

/* What a reload builds before anything is swapped. */
typedef struct {
    mdt_resources *resources;
    mdt_webhooks *webhooks;
    mdt_pdp *pdp;
    mdt_log_level level;
} live_set;

static void live_set_free(live_set *s)
{
    mdt_resources_free(s->resources);
    mdt_webhooks_free(s->webhooks);
    mdt_pdp_free(s->pdp);
    memset(s, 0, sizeof(*s));
}

static mdt_rc build(const mdt_config *cfg, live_set *s, mdt_err *err)
{
    mdt_rc rc;

    memset(s, 0, sizeof(*s));
    if (mdt_log_level_parse(cfg->log_level, &s->level) != MDT_OK)
        return mdt_failf(err, MDT_ERR_CONFIG, "invalid configuration", "[log] level %s",
                         cfg->log_level);
    if ((rc = mdt_resources_load(cfg->forward_auth_resources, &s->resources, err)) != MDT_OK ||
        (rc = mdt_webhooks_load(cfg->webhooks_endpoints, &s->webhooks, err)) != MDT_OK ||
        (!mdt_str_eq(cfg->pdp_mode, "off") && (rc = mdt_pdp_new(cfg, &s->pdp, err)) != MDT_OK)) {
        live_set_free(s);
        return rc;
    }
    mdt_webhooks_set_timeouts(s->webhooks, cfg->webhooks_connect_timeout, cfg->webhooks_timeout);
    return MDT_OK;
}

static void free_resources(void *p) { mdt_resources_free(p); }
static void free_webhooks(void *p) { mdt_webhooks_free(p); }
static void free_pdp(void *p) { mdt_pdp_free(p); }
static void free_config(void *p)
{
    mdt_config_free(p);
    free(p);
}

/* Retires old, just swapped out; when it cannot be retired (memory), it
 * is kept forever rather than freed under a reader. */
static void retire(mdt_env *env, void *old, void (*free_fn)(void *))
{
    mdt_err err = {0};

    if (mdt_env_retire(env, old, free_fn, &err) != MDT_OK)
        MDT_ERROR("SIGHUP: the replaced configuration stays in memory: %s", mdt_err_text(&err));
}

static void audit_reload(mdt_env *env, json_t *changed, json_t *restart)
{
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    mdt_err err = {0};
    json_t *data = json_pack("{s:s, s:O, s:O}", "file", env->config_file, "changed", changed,
                             "needs_restart", restart);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    mdt_audit_event ev = {.type = "config.reloaded", .actor = "server", .decision = "allow",
                          .data = text};
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    mdt_cli_ctx(env, "server", &ctx, &events, &a);
    rc = text ? mdt_ctx_audit(&ctx, &ev, &err) : mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
    rc = mdt_cli_commit(env, &ctx, rc, &err);
    if (rc != MDT_OK)
        MDT_ERROR("SIGHUP: the reload is applied but could not be audited: %s", mdt_err_text(&err));
    mdt_arena_free(&a);
    free(text);
    json_decref(data);
}

void mdt_cli_reload(mdt_env *env)
{
    mdt_config *next = calloc(1, sizeof(*next));
    const mdt_config *live = env->live_cfg ? env->live_cfg : &env->cfg;
    diff_note changed = {json_array(), json_array(), true},
              restart = {json_array(), json_array(), false};
    live_set s = {0};
    mdt_err err = {0};
    char *names = NULL;
    mdt_rc rc;

    if (!env->config_file) {
        MDT_WARN("SIGHUP: the server runs on the built-in defaults: no file to re-read");
        goto out;
    }
    if (!next || !changed.names || !restart.names || !changed.where || !restart.where) {
        MDT_ERROR("SIGHUP: out of memory: the running configuration is kept");
        goto out;
    }
    rc = mdt_config_load(next, env->config_file, &err);
    if (rc == MDT_OK) {
        mdt_config_diff(&env->cfg, next, note_key, &restart);
        /* the keys that need a restart keep their running value, also in
         * what is built now (the PDP's outbound CA file, for one) */
        rc = mdt_config_keep(next, &env->cfg, needs_restart, &err);
    }
    if (rc == MDT_OK)
        rc = build(next, &s, &err);
    if (rc != MDT_OK) {
        MDT_ERROR("SIGHUP: %s refused, the running configuration is kept: %s", env->config_file,
                  mdt_err_text(&err));
        goto out;
    }
    log_restart(&restart);
    mdt_config_diff(live, next, note_key, &changed);
    retire(env, __atomic_exchange_n(&env->resources, s.resources, __ATOMIC_SEQ_CST),
           free_resources);
    retire(env, __atomic_exchange_n(&env->webhooks, s.webhooks, __ATOMIC_SEQ_CST),
           free_webhooks);
    retire(env, __atomic_exchange_n(&env->pdp, s.pdp, __ATOMIC_SEQ_CST), free_pdp);
    mdt_log_set_level(s.level);
    mdt_policy_engine_refresh_data(env->policy); /* its entities include the resources */
    if (env->live_cfg) /* read by this thread only */
        free_config(env->live_cfg);
    env->live_cfg = next;
    next = NULL;
    names = json_dumps(changed.names, JSON_COMPACT);
    MDT_INFO("SIGHUP: %s reloaded (the resources and webhooks files re-read); changed: %s",
             env->config_file, names ? names : "?");
    audit_reload(env, changed.names, restart.names);
out:
    free(names);
    json_decref(changed.names);
    json_decref(restart.names);
    json_decref(changed.where);
    json_decref(restart.where);
    if (next)
        free_config(next);
}
