/* Trusted assertion issuers from configuration: [workload] issuers (whose
 * tokens authenticate clients with a workload_identity), [jwt_bearer]
 * issuers (whose assertions the JWT bearer grant accepts, mapped to a
 * subject and scopes by claim rules) and [registration]
 * software_statement_issuers (publishers whose software statements vouch
 * for registered metadata). Each is a JSON file read once when
 * `mandate serve` starts; a bad file stops the start with an error naming
 * the file. Restart the server to change them.
 *
 * Workload issuers file:
 *   [{"issuer": "https://kubernetes.default.svc",
 *     "jwks_file": "k8s-jwks.json" | "jwks_uri": "https://...",
 *     "audience": "https://auth.example.com"}]          (default: [server] issuer)
 * JWT bearer issuers file: the same members, plus
 *     "max_lifetime": 3600,                            (seconds, exp - now at most)
 *     "single_use": true,                              (jti required and used once)
 *     "rules": [{"match": {"claim": "value" | true | false, ...},
 *                "subject_claim": "sub", "subject_prefix": "",
 *                "scopes": ["read"]}]
 * Token exchange subject issuers file ([token_exchange] subject_issuers):
 * the format of the JWT bearer issuers file; a JWT of theirs may be the
 * subject token of a delegation (oauth/grant_delegation.c).
 * Software statement publishers file ([registration] software_statement_issuers,
 * RFC 7591 §2.3): only "issuer" and "jwks_file" | "jwks_uri", and
 * "single_instance": true when one client only may register per software_id
 * of this publisher (default false: many instances may register with one
 * statement, as RFC 7591 §2 intends).
 * An issuer of the JWT bearer file with "id_jag": true is an enterprise IdP
 * whose assertions are Identity Assertion JWT Authorization Grants
 * (draft-ietf-oauth-identity-assertion-authz-grant): every assertion of it
 * must have typ oauth-id-jag+jwt and a client_id claim naming the client that
 * presents it, and every ID-JAG must come from such an issuer. For them
 * single_use cannot be false, and max_lifetime defaults to 300 seconds.
 * ID-JAG targets file ([id_jag] targets): the authorization servers this
 * server issues ID-JAGs for, by token exchange:
 *   [{"issuer": "https://as.example.com",               (the audience asked for)
 *     "clients": {"our-client-id": "their-client-id"},  (who may ask, and as whom)
 *     "scopes": ["read"],                                (the most an ID-JAG may carry)
 *     "resources": ["https://api.example.com"],          (resource values it may name)
 *     "ttl": 300}]                                       (seconds, 10 to 3600; default 300)
 * A relative jwks_file is relative to the directory of the issuers file.
 * Unknown members, duplicate issuers and both or neither of jwks_file and
 * jwks_uri are errors.
 *
 * Memory: an mdt_trust owns everything reachable from it; issuers and rules
 * are borrowed from it and immutable, so any number of threads may read them. */
#ifndef MDT_OAUTH_TRUST_H
#define MDT_OAUTH_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/mdt.h"
#include "oauth/assertion.h"

#define MDT_TRUST_FILE_MAX (256 * 1024) /* bytes of an issuers file */
#define MDT_TRUST_ISSUERS_MAX 64        /* issuers in a file */
#define MDT_TRUST_RULES_MAX 64          /* rules of an issuer */
#define MDT_TRUST_MATCH_MAX 16          /* claims a rule matches */
#define MDT_TRUST_SCOPES_MAX 64         /* scopes a rule grants */
#define MDT_WORKLOAD_MAX_AHEAD 86400    /* a workload token's exp at most this far ahead */
#define MDT_JWT_BEARER_LIFETIME_DEFAULT 3600
#define MDT_ID_JAG_LIFETIME_DEFAULT 300 /* an ID-JAG issuer's max_lifetime, and a target's ttl */
#define MDT_ID_JAG_TTL_MAX 3600         /* a target's ttl at most */
#define MDT_ID_JAG_CLIENTS_MAX 256      /* clients of a target */

typedef enum {
    MDT_TRUST_WORKLOAD,
    MDT_TRUST_JWT_BEARER,
    MDT_TRUST_SOFTWARE_STATEMENT,
    MDT_TRUST_TOKEN_EXCHANGE, /* [token_exchange] subject_issuers: jwt_bearer's format */
    MDT_TRUST_KINDS
} mdt_trust_kind;

typedef struct {
    const char *claim;
    json_t *value;                  /* a string or a boolean */
} mdt_trust_match;

typedef struct {
    const mdt_trust_match *match;   /* every one must equal the claim of that name */
    size_t nmatch;
    const char *subject_claim;      /* default "sub" */
    const char *subject_prefix;     /* default "" */
    const char *const *scopes;      /* the most a token from this rule may carry */
    size_t nscopes;
} mdt_trust_rule;

typedef struct {
    const char *issuer;
    const char *audience;           /* expected in aud */
    const char *jwks_uri;           /* NULL when the keys came from jwks_file */
    mdt_keyset *keys;               /* from jwks_file; NULL with jwks_uri */
    int64_t max_lifetime;           /* exp at most now + this */
    bool single_use;                /* jti required and used once (jwt_bearer) */
    bool single_instance;           /* software statement publisher: one client per software_id */
    bool id_jag;                    /* jwt_bearer: an IdP whose assertions are ID-JAGs */
    const mdt_trust_rule *rules;    /* jwt_bearer */
    size_t nrules;
} mdt_trusted_issuer;

/* An authorization server this server issues ID-JAGs for. */
typedef struct {
    const char *ours;               /* a client_id of this server */
    const char *theirs;             /* the same client's client_id at the target */
} mdt_id_jag_client;

typedef struct {
    const char *issuer;             /* the target's issuer: the ID-JAG's aud */
    const mdt_id_jag_client *clients;
    size_t nclients;
    const char *const *scopes;      /* the most an ID-JAG for it may carry */
    size_t nscopes;
    const char *const *resources;   /* the resource values an ID-JAG may name */
    size_t nresources;
    int64_t ttl;                    /* seconds an ID-JAG for it lives */
} mdt_id_jag_target;

typedef struct mdt_trust mdt_trust;

mdt_rc mdt_trust_new(mdt_trust **out, mdt_err *err) MDT_WARN_UNUSED;
/* Reads cfg->workload_issuers, cfg->jwt_bearer_issuers,
 * cfg->software_statement_issuers and cfg->id_jag_targets (any may be "").
 * Errors start with the file name: "trust.json: issuer 2: jwks_uri must be
 * https". */
mdt_rc mdt_trust_load(const mdt_config *cfg, mdt_trust **out, mdt_err *err) MDT_WARN_UNUSED;
/* Parses the text of one issuers file into t. path names the file in errors
 * and anchors relative jwks_file paths; cfg gives the default audience and
 * whether http jwks_uri are allowed. On failure t is unchanged. */
mdt_rc mdt_trust_add(mdt_trust *t, mdt_trust_kind kind, const char *text, size_t len,
                     const char *path, const mdt_config *cfg, mdt_err *err) MDT_WARN_UNUSED;
/* Parses the text of an ID-JAG targets file into t, as mdt_trust_add does
 * (path names the file in errors); on failure t is unchanged. */
mdt_rc mdt_trust_add_targets(mdt_trust *t, const char *text, size_t len, const char *path,
                             mdt_err *err) MDT_WARN_UNUSED;
void mdt_trust_free(mdt_trust *t); /* NULL-safe */

/* The ID-JAG target whose issuer is exactly iss; NULL when none (or t NULL). */
const mdt_id_jag_target *mdt_trust_target_find(const mdt_trust *t, const char *iss);
/* The client_id at tg of our client client_id; NULL when tg does not list it. */
const char *mdt_id_jag_target_client(const mdt_id_jag_target *tg, const char *client_id);

/* The trusted issuer of that kind named iss; NULL when none (or t NULL). */
const mdt_trusted_issuer *mdt_trust_find(const mdt_trust *t, mdt_trust_kind kind, const char *iss);

/* The first rule of ti whose match members all equal the claims (strings to
 * strings, booleans to booleans). *subject = subject_prefix + the string
 * claim subject_claim, in a. No rule matches -> MDT_ERR_NOT_FOUND; the rule's
 * subject claim missing or not a non-empty string -> MDT_ERR_VERIFY. */
mdt_rc mdt_trust_match_rule(const mdt_trusted_issuer *ti, json_t *claims, mdt_arena *a,
                            const mdt_trust_rule **rule, const char **subject,
                            mdt_err *err) MDT_WARN_UNUSED;

#endif
