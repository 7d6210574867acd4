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
