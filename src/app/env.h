/* The environment: one struct built in main holding configuration, clock,
 * RNG, store, key ring and audit log, passed down instead of globals. */
#ifndef MDT_APP_ENV_H
#define MDT_APP_ENV_H

#include <stdbool.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/mdt.h"

typedef struct mdt_store mdt_store;
typedef struct mdt_keyring mdt_keyring;
typedef struct mdt_audit mdt_audit;
typedef struct mdt_audit_keys mdt_audit_keys;
typedef struct mdt_trust mdt_trust;
typedef struct mdt_jwks_cache mdt_jwks_cache;
typedef struct mdt_cimd_cache mdt_cimd_cache;
typedef struct mdt_resources mdt_resources;
typedef struct mdt_fetcher mdt_fetcher;
typedef struct mdt_routing mdt_routing;
typedef struct mdt_webhooks mdt_webhooks;
typedef struct mdt_usage mdt_usage;
typedef struct mdt_policy_engine mdt_policy_engine;
typedef struct mdt_pdp mdt_pdp;

/* Objects replaced by SIGHUP, freed once no reader can hold them. */
typedef struct mdt_env_retired {
    void *obj;
    void (*free_fn)(void *obj);
    unsigned epoch; /* the epoch when it was replaced */
    struct mdt_env_retired *next;
} mdt_env_retired;

typedef struct mdt_env {
    mdt_config cfg;
    const char *config_file; /* the file cfg was read from; NULL: built-in defaults only */
    bool config_valid;       /* cfg loaded and validated (what failed after it is elsewhere) */
    mdt_clock clock;
    mdt_rng rng;
    mdt_store *store;
    mdt_keyring *keys;   /* NULL in commands that do not sign */
    mdt_audit *audit;    /* group-commit writer; NULL in the CLI (which appends directly) */
    mdt_audit_keys *
        audit_keys; /* keys of the audit chain and checkpoints (keys/audit_key.h); NULL: none yet */
    mdt_trust *trust;    /* trusted assertion issuers (oauth/trust.h); NULL: none. Set by serve */
    mdt_jwks_cache *jwks; /* JWK Sets of jwks_uri and jwks (oauth/jwks_cache.h); set by serve */
    mdt_cimd_cache *cimd; /* client ID metadata documents (oauth/cimd.h); set by serve */
    mdt_resources *resources; /* [forward_auth] resources (iga/resources.h); NULL: none. Set by serve */
    mdt_fetcher *fetcher; /* outbound fetches off the request threads (net/fetch.h); set by serve */
    mdt_routing *routing; /* [approvals] routing (iga/routing.h); NULL: the defaults */
    mdt_webhooks *webhooks; /* [webhooks] endpoints (iga/webhooks.h); NULL: none. Set by serve */
    mdt_usage *usage;     /* usage counted in memory (iga/usage.h); NULL: not counted. Set by serve */
    mdt_policy_engine *policy; /* the embedded PDP (policy/engine.h); NULL: not loaded */
    mdt_pdp *pdp;  /* the configured PDP for token issuance (policy/pdp.h); NULL: off */
    /* Readers of resources, pdp and webhooks while SIGHUP may replace them
     * (mdt_env_read_begin): the epoch and the readers counted in each of
     * its two parities; what was replaced waits in retired. */
    unsigned epoch;
    long readers[2];
    bool draining;           /* the reloader waits for readers[drain_slot] to reach 0 */
    unsigned drain_slot;
    mdt_env_retired *retired;
    mdt_config *live_cfg;    /* the configuration last applied by SIGHUP; NULL: cfg */
} mdt_env;

typedef enum {
    MDT_ENV_STORE = 1,      /* open the store */
    MDT_ENV_KEYS = 2,       /* load the master key and the key ring */
    MDT_ENV_AUDIT = 4,      /* start the audit writer thread */
} mdt_env_flags;

/* What SIGHUP may replace while the server runs ([forward_auth] resources,
 * [pdp], [webhooks]) is read through these, once per use: what one returns
 * stays valid until the request that asked has ended. */
const mdt_resources *mdt_env_resources(const mdt_env *env);
mdt_pdp *mdt_env_pdp(const mdt_env *env);
mdt_webhooks *mdt_env_webhooks(const mdt_env *env);

/* A reader (a request from its first byte to its end, a background thread
 * around one unit of work) brackets its use of the three above: what it
 * read between begin and end is not freed before end. Returns the slot to
 * hand to end. Cheap: one atomic add on begin and one on end. */
unsigned mdt_env_read_begin(mdt_env *env);
void mdt_env_read_end(mdt_env *env, unsigned slot);
/* The reloader (one thread only): obj, just replaced (its pointer in env
 * swapped), is freed with free_fn once every reader that began before the
 * swap has ended. mdt_env_reclaim moves that on without blocking: true
 * when nothing is left waiting. mdt_env_reclaim_all frees everything
 * retired: only when no reader is left (the server and its threads have
 * stopped). */
mdt_rc mdt_env_retire(mdt_env *env, void *obj, void (*free_fn)(void *obj),
                      mdt_err *err) MDT_WARN_UNUSED;
bool mdt_env_reclaim(mdt_env *env);
void mdt_env_reclaim_all(mdt_env *env);

/* Opening and closing an environment: mdt_env_open and mdt_env_close
 * (cli/cli.h), which need every module below. */
/* "FILE" or "built-in defaults (no ./mandate.conf here)": where the
 * configuration came from, for messages that help people find it. */
const char *mdt_env_config_source(const mdt_env *env);

/* Audit events are recorded in a request's context and appended by
 * mdt_ctx_commit (app/ctx.h) or the server, never directly. */
/* mkdir -p */
mdt_rc mdt_mkdirs(const char *path, mdt_err *err) MDT_WARN_UNUSED;

#endif
