/* Configuration: an INI file plus MANDATE_<SECTION>_<KEY> environment
 * overrides, described by one declarative table (config.c) from which the
 * loader, the overrides and docs/configuration.md all come. */
#ifndef MDT_CORE_CONFIG_H
#define MDT_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/mdt.h"

struct mdt_config_src; /* private to config.c */

typedef struct {
    /* [server] */
    char *issuer;            /* no trailing slash */
    char *listen;            /* "host:port[,host:port...]" */
    char *tls_cert;          /* file paths; "" = none */
    char *tls_key;
    char *tls_client_ca;
    char *trusted_proxies;   /* comma-separated CIDRs */
    char *outbound_ca_file;  /* PEM bundle of outbound https; "" = the system's */
    int threads;             /* 0 = one per CPU */
    int max_connections_per_source; /* open connections per IPv4 address or IPv6 /64; 0 = no limit */
    int64_t connection_timeout; /* seconds of silence before a first request or in a body */
    int64_t keepalive_timeout;  /* seconds of silence on a kept-alive connection after a response */
    int64_t max_body_bytes;  /* request body limit */
    int64_t shutdown_grace;  /* seconds to finish in-flight requests on SIGTERM */
    /* [storage] */
    char *database;          /* "sqlite:PATH" or "postgresql://..." */
    char *data_dir;          /* where init writes the database and master key */
    int64_t purge_interval;  /* how often serve deletes expired rows */
    /* [keys] */
    char *master_key_file;   /* default: <data_dir>/master.key */
    char *audit_key_file;    /* default: audit.key beside the master key */
    int64_t key_activation_delay; /* seconds between publishing a new key and signing with it */
    int64_t jwks_cache_ttl;  /* Cache-Control max-age of /jwks */
    /* [tokens] */
    int64_t access_token_ttl;
    char *access_token_format; /* "jwt" | "opaque" */
    int64_t refresh_token_ttl;
    char *signing_alg;       /* ES256 | RS256 | PS256 | EdDSA */
    /* [users] */
    int argon2_time_cost;    /* argon2id passes */
    int argon2_memory_kib;   /* argon2id memory per hash, KiB */
    int argon2_parallelism;  /* argon2id lanes (threads) */
    int password_min_length; /* characters (UTF-8 code points) */
    /* [client_auth] */
    int64_t assertion_max_lifetime;    /* longest exp - now (and exp - iat) of a client assertion */
    bool jwks_uri_allow_http;          /* accept http jwks_uri (tests, private networks) */
    bool jwks_uri_allow_private;       /* accept jwks_uri hosts with private or loopback addresses */
    int64_t jwks_uri_timeout;          /* seconds for one fetch */
    int64_t jwks_uri_max_bytes;        /* largest JWK Set accepted */
    int64_t jwks_uri_cache_ttl;        /* keep a fetched JWK Set this long */
    int64_t jwks_uri_refetch_interval; /* at most one fetch per interval on an unknown kid */
    int64_t fetch_max_concurrent;      /* outbound fetches in progress at once, in total */
    int64_t fetch_max_per_host;        /* and per host */
    /* [workload] */
    char *workload_issuers;            /* JSON file of trusted workload identity issuers; "" none */
    /* [jwt_bearer] */
    char *jwt_bearer_issuers;          /* JSON file of trusted assertion issuers and rules; "" none */
    /* [id_jag] */
    char *id_jag_targets;              /* JSON file of authorization servers ID-JAGs may name; "" none */
    /* [token_exchange] */
    char *token_exchange_subject_issuers; /* JSON file of issuers of subject JWTs; "" none */
    char *token_exchange_impersonation;   /* comma-separated client ids allowed to impersonate */
    /* [registration] */
    bool registration_open;            /* POST /register without an initial access token */
    int64_t registration_rate_per_source; /* registrations per source address per minute */
    int64_t registration_rate_per_iat; /* registrations per initial access token per minute */
    char *unverified_scopes;           /* scopes an unverified self-registered client may get */
    char *unverified_grant_types;      /* grant types it may get */
    int64_t unverified_max_lifetime;   /* its expires_at is at most this far ahead */
    char *unverified_resources;        /* resources it may get on its own authority */
    char *unverified_kind;             /* the kind it is given */
    char *unverified_risk_tier;        /* the lowest risk tier it may have */
    int64_t unverified_max_delegation_depth; /* the longest delegation chain it may have */
    char *registration_excess;         /* pending | reduce: when it asks for more */
    int64_t registration_inactive_expiry; /* never authenticated: expires after this */
    char *software_statement_issuers;  /* JSON file of trusted software statement publishers */
    bool cimd;                         /* client ID metadata documents */
    char *cimd_allow_domains;          /* hosts (or .suffixes) allowed; "" = any */
    char *cimd_deny_domains;           /* hosts (or .suffixes) refused */
    bool cimd_allow_http_loopback;     /* tests: http://127.0.0.1 documents */
    int64_t cimd_max_bytes;
    int64_t cimd_cache_min;            /* cache a document at least this long */
    int64_t cimd_cache_max;            /* and at most this long, whatever its headers say */
    /* [forward_auth] */
    char *forward_auth_resources;      /* JSON file of protected resources; "" none */
    char *forward_auth_audit;          /* aggregated | sampled | all */
    int64_t forward_auth_audit_sample; /* sampled: one decision in this many, audited alone */
    int64_t cimd_fetches_per_source;   /* document fetches a source address may cause per minute */
    bool cimd_recreate_deleted;        /* a document may re-create a client an admin deleted */
    /* [api_keys] */
    /* [approvals] */
    char *approvals_routing;           /* JSON file of approval routing rules; "" none */
    int64_t approvals_default_ttl;     /* a request waits at most this long without a rule */
    int64_t approvals_expiry_interval; /* how often the server closes expired requests */
    /* [access_requests] */
    int64_t access_requests_max_duration;     /* longest entitlement asked or approved */
    int64_t access_requests_default_duration; /* when the request names none */
    int64_t access_requests_max_pending;      /* pending access requests per client */
    /* [policy] */
    char *policy_entities;             /* comma-separated entity JSON files; "" none */
    /* [webhooks] */
    char *webhooks_endpoints;          /* JSON file of webhook endpoints; "" none */
    int64_t webhooks_connect_timeout;  /* seconds to connect */
    int64_t webhooks_timeout;          /* seconds for one delivery in all */
    int64_t webhooks_max_concurrent;   /* deliveries in progress at once (delivery threads) */
    int64_t webhooks_retry_initial;    /* first retry after this; doubling, capped */
    int64_t webhooks_retry_max;        /* longest wait between two attempts */
    int64_t webhooks_retry_for;        /* given up this long after the event */
    int64_t api_key_token_ttl;         /* lifetime of tokens exchanged for an API key */
    /* [ciba] */
    int64_t ciba_expiry;               /* a backchannel request waits this long by default */
    int64_t ciba_max_expiry;           /* and at most this long (requested_expiry) */
    int64_t ciba_interval;             /* seconds a client waits between polls */
    bool ciba_single_use_tokens;       /* its access tokens are usable once */
    char *dpop_nonce;                  /* off | token | all: where a DPoP proof needs our nonce */
    int64_t dpop_max_age;              /* a DPoP proof's iat may be this old */
    int64_t dpop_nonce_rotation;       /* a DPoP nonce is current this long */
    /* [web] */
    int64_t session_idle;              /* a web session ends after this long unused */
    int64_t session_max;               /* and at the latest this long after login */
    int64_t login_max_failures;        /* failed logins per username per window */
    int64_t login_max_failures_per_source; /* failed logins per source address per window */
    /* [device] */
    int64_t device_code_ttl;           /* device and user codes live this long */
    int64_t device_interval;           /* seconds between two polls */
    int64_t device_max_wrong_codes;    /* wrong user codes per person per window */
    int64_t device_max_wrong_codes_per_source; /* wrong user codes per source per window */
    int64_t device_rate_per_source;    /* device authorizations per source per minute */
    /* [usage] */
    int64_t usage_flush_interval;      /* how often serve writes the batched usage */
    int64_t usage_max_entries;         /* in-memory usage entries before an early flush */
    /* [review] */
    int64_t review_unused_after;       /* an entitlement unused this long is a finding */
    int64_t review_rotation_after;     /* a secret or API key older than this is a finding */
    int64_t review_grace;              /* a client never authenticated after this is a finding */
    int64_t review_max_certify;        /* a certification lasts at most this long */
    /* [audit] */
    int64_t audit_max_batch;      /* events per group commit */
    int64_t audit_checkpoint_events;   /* a signed checkpoint after this many events */
    int64_t audit_checkpoint_interval; /* or after this many seconds with new events */
    /* [pdp] */
    char *pdp_mode;                    /* off | embedded | authzen | opa */
    char *pdp_url;                     /* the external PDP; "" none */
    int64_t pdp_timeout;               /* seconds an external PDP has to answer */
    int64_t pdp_cache_ttl;             /* seconds a decision is reused; 0 none */
    int64_t pdp_max_concurrent;        /* calls to an external PDP in progress at once */
    /* [authzen] */
    char *authzen_scope;               /* scope the AuthZEN API's callers need */
    /* [pdp] at token issuance (oauth/scope_policy.c), [policy] builtin */
    char *pdp_on_deny;                 /* refuse | drop */
    bool pdp_log_only;                 /* decide and audit, refuse nothing */
    int64_t pdp_risk_memory;           /* how long a client's IP or credential is remembered */
    char *policy_builtin;              /* comma-separated shipped policies (policy/builtin.h) */
    /* [log] */
    char *log_level;         /* debug | info | warn | error */
    bool access_log;
    /* [metrics] */
    char *metrics_allow;     /* comma-separated CIDRs that may scrape /metrics */
    /* Private: where each key was last set ("file:line" or the environment
     * variable), so that mdt_config_validate can name it. Freed by mdt_config_free. */
    struct mdt_config_src *src;
} mdt_config;

/* Fills cfg with the built-in defaults. */
mdt_rc mdt_config_defaults(mdt_config *cfg, mdt_err *err) MDT_WARN_UNUSED;
/* Defaults, then path (may be NULL: no file), then the environment; then an
 * empty master_key_file becomes <data_dir>/master.key and mdt_config_validate
 * runs. On failure cfg is freed (left zeroed).
 * Errors name the file, line and key: "mandate.conf:12: [server] listen: ..." */
mdt_rc mdt_config_load(mdt_config *cfg, const char *path, mdt_err *err) MDT_WARN_UNUSED;
/* Set one key as the file would; file/line used in error messages. */
mdt_rc mdt_config_set(mdt_config *cfg, const char *section, const char *key, const char *value,
                      const char *file, int line, mdt_err *err) MDT_WARN_UNUSED;
/* Cross-key checks (issuer https unless loopback, tls_cert with tls_key...). */
mdt_rc mdt_config_validate(const mdt_config *cfg, mdt_err *err) MDT_WARN_UNUSED;
void mdt_config_free(mdt_config *cfg);
/* Calls fn for every key whose value differs between a and b (at: where b
 * set it, "file:line" or the environment variable; NULL: the default).
 * Returns how many differ. */
typedef void (*mdt_config_diff_fn)(void *ctx, const char *section, const char *key,
                                   const char *at);
size_t mdt_config_diff(const mdt_config *a, const mdt_config *b, mdt_config_diff_fn fn,
                       void *ctx);
/* Gives next the running value of every key for which keep(section, key)
 * holds (SIGHUP: the keys that need a restart keep their running value). */
mdt_rc mdt_config_keep(mdt_config *next, const mdt_config *running,
                       bool (*keep)(const char *section, const char *key),
                       mdt_err *err) MDT_WARN_UNUSED;
/* Writes the Markdown reference of every key (docs/configuration.md). */
int mdt_config_write_reference(FILE *out);

#endif
