/* Configuration: one declarative table (keys[]) from which the INI loader,
 * the MANDATE_<SECTION>_<KEY> environment overrides and the Markdown
 * reference (docs/configuration.md) all come. */
#define _GNU_SOURCE
#include "core/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/url.h"

#define NO_MAX INT64_MAX
#define CFG_MSG "invalid configuration"

typedef enum { K_STRING, K_LIST, K_BOOL, K_INT, K_DURATION, K_ENUM } key_kind;

/* A per-value check: NULL when v is fine, else a static reason. */
typedef const char *(*value_check)(const char *v, size_t n);

typedef struct {
    const char *section;
    const char *name;
    key_kind kind;
    size_t off;                  /* target field in mdt_config */
    size_t size;                 /* its size (int or int64_t for K_INT) */
    int64_t min, max;            /* K_INT, K_DURATION */
    const char *const *choices;  /* K_ENUM, NULL-terminated */
    value_check check;           /* K_STRING: whole value; K_LIST: each entry */
    const char *type;            /* K_STRING, K_LIST: name in the reference */
    const char *def;             /* default, parsed like any other value */
    const char *desc;            /* one line of Markdown */
} cfg_key;

static const char *check_url(const char *v, size_t n);
static const char *check_database(const char *v, size_t n);
/* A list entry that is one word: a scope, a grant type, a host name. */
static const char *check_token(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || v[i] == '"' || v[i] == '\\' || (unsigned char)v[i] == 0x7f)
            return "must be one word without quotes or backslashes";
    return NULL;
}

static const char *check_nonempty(const char *v, size_t n);
static const char *check_listen(const char *v, size_t n);
static const char *check_cidr(const char *v, size_t n);
static const char *check_token(const char *v, size_t n);
/* Empty, or a URL as check_url wants it. */
static const char *check_optional_url(const char *v, size_t n)
{
    return n == 0 ? NULL : check_url(v, n);
}

/* Non-empty and one word. */
static const char *check_scope_word(const char *v, size_t n)
{
    return n == 0 ? "must not be empty" : check_token(v, n);
}

#define AT(f) .off = offsetof(mdt_config, f), .size = sizeof(((mdt_config *)0)->f)
#define CHOICES(...) ((const char *const[]){__VA_ARGS__, NULL})

static const cfg_key keys[] = {
    {"server", "issuer", K_STRING, AT(issuer), .check = check_url, .type = "URL",
     .def = "http://127.0.0.1:8080",
     .desc = "Issuer identifier and base URL of every endpoint: https unless the host is "
             "loopback (127.0.0.0/8, ::1, localhost); no trailing slash, query or fragment."},
    {"server", "listen", K_LIST, AT(listen), .check = check_listen, .type = "list of host:port",
     .def = "127.0.0.1:8080",
     .desc = "Addresses to listen on, separated by commas; IPv6 as `[::1]:8080`."},
    {"server", "tls_cert", K_STRING, AT(tls_cert), .type = "path", .def = "",
     .desc = "PEM certificate chain; when set (with `tls_key`), the listener speaks TLS."},
    {"server", "tls_key", K_STRING, AT(tls_key), .type = "path", .def = "",
     .desc = "PEM private key of `tls_cert`."},
    {"server", "tls_client_ca", K_STRING, AT(tls_client_ca), .type = "path", .def = "",
     .desc = "PEM bundle of the CAs `tls_client_auth` client certificates must chain to; when "
             "set with `tls_cert`, the listener asks for client certificates (without requiring "
             "them). Behind a proxy (`trusted_proxies`) it also checks forwarded certificates."},
    {"server", "trusted_proxies", K_LIST, AT(trusted_proxies), .check = check_cidr,
     .type = "list of CIDRs", .def = "",
     .desc = "Networks (IPv4 or IPv6 CIDRs, or addresses) whose forwarded headers are believed: "
             "`X-Forwarded-For` (the client address is its rightmost entry that is not itself in "
             "this list; it is what rate limits, login throttling, logs and audit records see) "
             "and `X-Client-Cert`. From any other peer they are ignored. Empty: none."},
    {"server", "outbound_ca_file", K_STRING, AT(outbound_ca_file), .type = "path", .def = "",
     .desc = "PEM bundle of the certificate authorities trusted by every outbound https "
             "connection (client ID metadata documents, `jwks_uri`, webhooks, external PDPs), "
             "in place of the system's store; an internal CA, or a test CA. A file that cannot "
             "be read or holds no certificate stops the start-up. Empty: the system's store."},
    {"server", "max_connections_per_source", K_INT, AT(max_connections_per_source), .min = 0,
     .max = 1000000, .def = "256",
     .desc = "Connections one source (an IPv4 address, or an IPv6 /64) may hold open at once; "
             "more are closed as soon as they are accepted. Addresses in `trusted_proxies` are "
             "exempt. 0: no limit."},
    {"server", "connection_timeout", K_DURATION, AT(connection_timeout), .min = 1, .max = 3600,
     .def = "10s",
     .desc = "A new connection that sends nothing for this long before its first request is "
             "complete, or a request whose body stops arriving for this long, is closed."},
    {"server", "keepalive_timeout", K_DURATION, AT(keepalive_timeout), .min = 1, .max = 3600,
     .def = "30s",
     .desc = "A kept-alive connection that sends nothing for this long after a response (while "
             "it waits for, or sends the headers of, its next request) is closed."},
    {"server", "threads", K_INT, AT(threads), .min = 0, .max = 256, .def = "0",
     .desc = "Worker threads; 0 = one per CPU."},
    {"server", "max_body_bytes", K_INT, AT(max_body_bytes), .min = 1024, .max = 16777216,
     .def = "65536", .desc = "Largest request body accepted, in bytes."},
    {"server", "shutdown_grace", K_DURATION, AT(shutdown_grace), .min = 0, .max = NO_MAX,
     .def = "10s", .desc = "Time given to in-flight requests to finish after SIGTERM."},
    {"storage", "database", K_STRING, AT(database), .check = check_database,
     .type = "database URL", .def = "sqlite:var/mandate.db",
     .desc = "`sqlite:PATH` (the embedded default, one node), or a libpq URL "
             "`postgresql://user@host:port/dbname?sslmode=verify-full` (or `postgres://`) for "
             "any number of nodes sharing one database. A password may be given in the URL, "
             "best through `MANDATE_STORAGE_DATABASE`, `~/.pgpass` or `PGPASSWORD`; it is "
             "never shown in messages or logs."},
    {"storage", "data_dir", K_STRING, AT(data_dir), .check = check_nonempty, .type = "path",
     .def = "var", .desc = "Directory where `mandate init` writes the database and the master key."},
    {"storage", "purge_interval", K_DURATION, AT(purge_interval), .min = 1, .max = 86400,
     .def = "5m",
     .desc = "How often `serve` deletes what has expired for good: opaque tokens, revoked and "
             "used token ids, rate counters, sessions, authorization requests and codes, refresh "
             "tokens and device codes past their expiry (each kept as long as a check needs it)."},
    {"keys", "master_key_file", K_STRING, AT(master_key_file), .type = "path", .def = "",
     .desc = "Master key that encrypts the signing keys at rest; empty: "
             "`<data_dir>/master.key`."},
    {"keys", "audit_key_file", K_STRING, AT(audit_key_file), .type = "path", .def = "",
     .desc = "Keys of the audit log (the HMAC key of the event chain and the Ed25519 key that "
             "signs its checkpoints), created by `mandate init`; empty: `audit.key` in the "
             "directory of the master key. Keep and back it up with the master key, never in "
             "the database."},
    {"keys", "key_activation_delay", K_DURATION, AT(key_activation_delay), .min = 0,
     .max = NO_MAX, .def = "0",
     .desc = "Time between publishing a new signing key in `/jwks` and signing with it."},
    {"keys", "jwks_cache_ttl", K_DURATION, AT(jwks_cache_ttl), .min = 0, .max = NO_MAX,
     .def = "5m", .desc = "`Cache-Control: max-age` of `/jwks`."},
    {"tokens", "access_token_ttl", K_DURATION, AT(access_token_ttl), .min = 1, .max = 86400,
     .def = "10m", .desc = "Lifetime of access tokens."},
    {"tokens", "access_token_format", K_ENUM, AT(access_token_format),
     .choices = CHOICES("jwt", "opaque"), .def = "jwt",
     .desc = "`jwt`: RFC 9068 JWT access tokens; `opaque`: random strings checked by "
             "introspection."},
    {"tokens", "refresh_token_ttl", K_DURATION, AT(refresh_token_ttl), .min = 0, .max = NO_MAX,
     .def = "30d", .desc = "Lifetime of refresh tokens."},
    {"tokens", "signing_alg", K_ENUM, AT(signing_alg),
     .choices = CHOICES("ES256", "RS256", "PS256", "EdDSA"), .def = "ES256",
     .desc = "JWS algorithm of the signing keys."},
    {"users", "argon2_time_cost", K_INT, AT(argon2_time_cost), .min = 1, .max = 10, .def = "3",
     .desc = "argon2id passes over memory when hashing a user's password."},
    {"users", "argon2_memory_kib", K_INT, AT(argon2_memory_kib), .min = 8192, .max = 1048576,
     .def = "65536", .desc = "argon2id memory per password hash, in KiB (each concurrent login "
                             "uses this much)."},
    {"users", "argon2_parallelism", K_INT, AT(argon2_parallelism), .min = 1, .max = 8, .def = "1",
     .desc = "argon2id lanes (threads) per password hash."},
    {"users", "password_min_length", K_INT, AT(password_min_length), .min = 8, .max = 128,
     .def = "12", .desc = "Shortest password accepted, in characters (at most 1024 bytes)."},
    {"client_auth", "assertion_max_lifetime", K_DURATION, AT(assertion_max_lifetime), .min = 10,
     .max = 86400, .def = "5m",
     .desc = "Longest lifetime of a `private_key_jwt` client assertion: its `exp` may be at most "
             "this far ahead."},
    {"client_auth", "jwks_uri_allow_http", K_BOOL, AT(jwks_uri_allow_http), .def = "false",
     .desc = "Accept `http` `jwks_uri` values (otherwise `https` only)."},
    {"client_auth", "jwks_uri_allow_private", K_BOOL, AT(jwks_uri_allow_private), .def = "false",
     .desc = "Fetch `jwks_uri` (of clients and of trusted issuers) from hosts whose addresses are "
             "private, loopback, link-local or otherwise not public (checked on the address "
             "connected to, after DNS)."},
    {"client_auth", "jwks_uri_timeout", K_DURATION, AT(jwks_uri_timeout), .min = 1, .max = 60,
     .def = "5s", .desc = "Time allowed for one fetch of a client's `jwks_uri`."},
    {"client_auth", "jwks_uri_max_bytes", K_INT, AT(jwks_uri_max_bytes), .min = 1024,
     .max = 1048576, .def = "65536", .desc = "Largest JWK Set accepted from a `jwks_uri`."},
    {"client_auth", "jwks_uri_cache_ttl", K_DURATION, AT(jwks_uri_cache_ttl), .min = 0,
     .max = 86400, .def = "5m", .desc = "How long a fetched JWK Set is used before it is fetched again."},
    {"client_auth", "jwks_uri_refetch_interval", K_DURATION, AT(jwks_uri_refetch_interval),
     .min = 0, .max = 3600, .def = "30s",
     .desc = "At most one fetch of a `jwks_uri` in this interval when an assertion names an "
             "unknown `kid`; a failed fetch is also remembered (and answered at once) this long."},
    {"client_auth", "fetch_max_concurrent", K_INT, AT(fetch_max_concurrent), .min = 1,
     .max = 1024, .def = "32",
     .desc = "Outbound fetches (`jwks_uri`, client ID metadata documents) in progress at once; "
             "a request that needs one more is refused at once (`invalid_client`)."},
    {"client_auth", "fetch_max_per_host", K_INT, AT(fetch_max_per_host), .min = 1, .max = 1024,
     .def = "4", .desc = "Outbound fetches in progress at once to one host."},
    {"workload", "issuers", K_STRING, AT(workload_issuers), .type = "path", .def = "",
     .desc = "JSON file of trusted workload identity issuers (SPIFFE, Kubernetes): "
             "`[{\"issuer\", \"jwks_file\" or \"jwks_uri\", \"audience\"}]`, read when `serve` "
             "starts (see docs/api.md); empty: none."},
    {"jwt_bearer", "issuers", K_STRING, AT(jwt_bearer_issuers), .type = "path", .def = "",
     .desc = "JSON file of issuers trusted for the JWT bearer grant (RFC 7523 §2.1) and the claim "
             "rules that map their assertions to subjects and scopes, read when `serve` starts "
             "(see docs/api.md); empty: none."},
    {"id_jag", "targets", K_STRING, AT(id_jag_targets), .type = "path", .def = "",
     .desc = "JSON file of the authorization servers this server issues Identity Assertion JWT "
             "Authorization Grants (ID-JAG) for, by token exchange: `[{\"issuer\", \"clients\": "
             "{\"our client_id\": \"their client_id\"}, \"scopes\", \"resources\", \"ttl\"}]`, read "
             "when `serve` starts (see docs/guides/id-jag.md); empty: none."},
    {"token_exchange", "subject_issuers", K_STRING, AT(token_exchange_subject_issuers),
     .type = "path", .def = "",
     .desc = "JSON file of issuers whose JWTs a client may exchange as subject tokens for "
             "delegation (`subject_token_type=urn:ietf:params:oauth:token-type:jwt`), in the "
             "format of `[jwt_bearer] issuers` (claim rules map them to the person and the most "
             "scope), read when `serve` starts (see docs/api.md); empty: none."},
    {"token_exchange", "impersonation", K_LIST, AT(token_exchange_impersonation),
     .type = "list of client ids", .def = "",
     .desc = "Clients allowed to impersonate: their token exchanges that ask for it "
             "(`impersonation=true`) give a token for the person without an `act` claim. "
             "Empty: nobody; every exchange then records the acting client in `act`."},
    {"registration", "open", K_BOOL, AT(registration_open), .def = "false",
     .desc = "Accept `POST /register` without an initial access token (open dynamic registration, "
             "e.g. for MCP clients)."},
    {"registration", "rate_per_source", K_INT, AT(registration_rate_per_source), .min = 1,
     .max = 1000000, .def = "10",
     .desc = "Registrations accepted per source address per minute; more are answered 429."},
    {"registration", "rate_per_iat", K_INT, AT(registration_rate_per_iat), .min = 1,
     .max = 1000000, .def = "60",
     .desc = "Registrations accepted per initial access token per minute; more are answered 429."},
    {"registration", "unverified_scopes", K_LIST, AT(unverified_scopes), .type = "list of scopes", .check = check_token,
     .def = "", .desc = "Scopes a self-registered client that nobody vouched for may get without "
                        "approval, on its own authority (comma-separated). In flows where a "
                        "person consents it may ask for any scope not of sensitivity `approval`."},
    {"registration", "unverified_grant_types", K_LIST, AT(unverified_grant_types), .check = check_token,
     .type = "list of grant types", .def = "authorization_code,refresh_token",
     .desc = "Grant types such a client may register without approval. By default the flows where "
             "a person signs in and consents (what MCP clients register); `client_credentials` "
             "(a client acting on its own authority) needs approval."},
    {"registration", "unverified_resources", K_LIST, AT(unverified_resources), .check = check_token,
     .type = "list of resource URIs", .def = "",
     .desc = "Resources (`resources` metadata) such a client may register without approval; in "
             "flows where a person consents it may also ask for any resource of `[forward_auth] "
             "resources`."},
    {"registration", "unverified_kind", K_ENUM, AT(unverified_kind),
     .choices = CHOICES("agent", "service", "web", "native", "cli"), .def = "agent",
     .desc = "The `kind` such a client is given; asking for another makes it pending."},
    {"registration", "unverified_risk_tier", K_ENUM, AT(unverified_risk_tier),
     .choices = CHOICES("low", "medium", "high"), .def = "high",
     .desc = "The `risk_tier` such a client is given; asking for a lower one makes it pending."},
    {"registration", "unverified_max_delegation_depth", K_INT, AT(unverified_max_delegation_depth),
     .min = 0, .max = 10, .def = "1",
     .desc = "The `max_delegation_depth` such a client is given; asking for more makes it pending."},
    {"registration", "unverified_max_lifetime", K_DURATION, AT(unverified_max_lifetime), .min = 60,
     .max = NO_MAX, .def = "90d",
     .desc = "Such a client expires at most this long after it registered."},
    {"registration", "excess", K_ENUM, AT(registration_excess),
     .choices = CHOICES("pending", "reduce"), .def = "pending",
     .desc = "When a self-registered client asks for more than it may get, or for a scope of "
             "sensitivity `approval`: `pending` creates it pending approval; `reduce` creates it "
             "with what it may get."},
    {"registration", "inactive_expiry", K_DURATION, AT(registration_inactive_expiry), .min = 1,
     .max = NO_MAX, .def = "7d",
     .desc = "A self-registered client that never authenticated expires this long after it "
             "registered (or after its registration was approved)."},
    {"registration", "software_statement_issuers", K_STRING, AT(software_statement_issuers),
     .type = "path", .def = "",
     .desc = "JSON file of trusted software statement publishers: `[{\"issuer\", \"jwks_file\" or "
             "\"jwks_uri\"}]`; empty: software statements are refused."},
    {"registration", "client_id_metadata_documents", K_BOOL, AT(cimd), .def = "true",
     .desc = "Resolve a `client_id` that is an https URL as a client ID metadata document."},
    {"registration", "cimd_allow_domains", K_LIST, AT(cimd_allow_domains), .check = check_token,
     .type = "list of hosts", .def = "",
     .desc = "Hosts whose documents are accepted (`example.com`, or `.example.com` for its "
             "subdomains); empty: any host not denied."},
    {"registration", "cimd_deny_domains", K_LIST, AT(cimd_deny_domains), .check = check_token,
     .type = "list of hosts", .def = "", .desc = "Hosts whose documents are refused."},
    {"registration", "cimd_allow_http_loopback", K_BOOL, AT(cimd_allow_http_loopback),
     .def = "false", .desc = "Accept `http://127.0.0.1` (any address of 127.0.0.0/8) document URLs (for tests only)."},
    {"registration", "cimd_max_bytes", K_INT, AT(cimd_max_bytes), .min = 512, .max = 65536,
     .def = "5120", .desc = "Largest client ID metadata document accepted."},
    {"registration", "cimd_cache_min", K_DURATION, AT(cimd_cache_min), .min = 0, .max = 86400,
     .def = "60s", .desc = "A document is kept at least this long, whatever its caching headers say."},
    {"registration", "cimd_cache_max", K_DURATION, AT(cimd_cache_max), .min = 0, .max = NO_MAX,
     .def = "1d", .desc = "A document is kept at most this long."},
    {"forward_auth", "resources", K_STRING, AT(forward_auth_resources), .type = "path", .def = "",
     .desc = "JSON file of the resources protected through `/forward-auth`: `[{\"resource\", "
             "\"resource_name\", \"match\", \"scopes\"}]` (see docs/api.md), read when `serve` "
             "starts. Any client may ask for them in flows where a person consents; empty: none."},
    {"forward_auth", "audit", K_ENUM, AT(forward_auth_audit),
     .choices = CHOICES("aggregated", "sampled", "all"), .def = "aggregated",
     .desc = "How `/forward-auth` decisions are audited: `aggregated` (one "
             "`forward_auth.decisions` event per node and minute with traffic, counting decisions "
             "per resource and outcome), `sampled` (that, and one decision in `audit_sample` "
             "audited alone) or `all` (that, and every decision audited alone: each answer then "
             "waits for its event to be durable). Refusals that signal an attack (bad signature, "
             "replayed or wrong proof, wrong binding) are audited alone in every mode, at most "
             "60 a minute per node."},
    {"forward_auth", "audit_sample", K_INT, AT(forward_auth_audit_sample), .min = 1,
     .max = 1000000, .def = "1000",
     .desc = "With `audit = sampled`: one decision in this many is audited alone "
             "(`forward_auth.decision`)."},
    {"policy", "builtin", K_LIST, AT(policy_builtin), .check = check_token,
     .type = "list of names", .def = "baseline",
     .desc = "Shipped policies (`policies/*.cedar`, ids `mandate.<name>`) the embedded PDP "
             "uses besides the stored ones: `baseline`, `high-tier-shared-secret`, "
             "`business-hours`, `request-burst`; empty: none."},
    {"policy", "entities", K_LIST, AT(policy_entities), .type = "list of paths", .def = "",
     .desc = "Entity files of the embedded PDP, separated by commas: Cedar entity JSON "
             "(`[{\"uid\", \"attrs\", \"parents\"}]`) beside Mandate's own clients, users, "
             "scopes and resources (see docs/policies.md), read when `serve` starts and by "
             "`mandate policy eval`; a file that cannot be read or parsed stops the start, named. "
             "Empty: none."},
    {"registration", "cimd_fetches_per_source", K_INT, AT(cimd_fetches_per_source), .min = 1,
     .max = 1000000, .def = "30",
     .desc = "Document fetches that one source address may cause per minute (requests that "
             "name a document URL not in the cache); beyond, `invalid_client` until the minute ends."},
    {"registration", "cimd_recreate_deleted", K_BOOL, AT(cimd_recreate_deleted), .def = "false",
     .desc = "Whether a client ID metadata document may create again a client that an admin "
             "deleted (its earlier tokens stay inactive either way)."},
    {"approvals", "routing", K_STRING, AT(approvals_routing), .type = "path", .def = "",
     .desc = "JSON file of approval routing rules (who must approve which requests, and how long "
             "they may wait; see docs/guides/human-in-the-loop-routing.md), read when `serve` "
             "starts and by `mandate request`; a bad rule stops the start. Empty: the defaults "
             "(registrations: an approver or an admin, never the owner a registration names; "
             "access requests: an approver, an admin or the client's owner; CIBA and device "
             "approvals: the person asked, alone)."},
    {"approvals", "default_ttl", K_DURATION, AT(approvals_default_ttl), .min = 60, .max = NO_MAX,
     .def = "7d",
     .desc = "A request no rule gives an `expires_in` expires (as denied) this long after it was "
             "made, unless its flow asks for less."},
    {"approvals", "expiry_interval", K_DURATION, AT(approvals_expiry_interval), .min = 1,
     .max = 3600, .def = "10s",
     .desc = "How often the server closes the requests that expired (audited `request.expired`, "
             "once across nodes)."},
    {"access_requests", "max_duration", K_DURATION, AT(access_requests_max_duration), .min = 1,
     .max = 366 * 86400, .def = "30d",
     .desc = "Longest entitlement an access request (`POST /access-requests`) may ask for, and "
             "the cap of every approval (`--for` included); a longer `duration` is refused "
             "(`invalid_request`)."},
    {"access_requests", "default_duration", K_DURATION, AT(access_requests_default_duration),
     .min = 1, .max = 366 * 86400, .def = "8h",
     .desc = "How long an approved access request's entitlement lasts when the client gave no "
             "`duration` (at most `max_duration`)."},
    {"access_requests", "max_pending", K_INT, AT(access_requests_max_pending), .min = 1,
     .max = 1000, .def = "10",
     .desc = "Pending access requests one client may have at once; more are refused (429)."},
    {"usage", "flush_interval", K_DURATION, AT(usage_flush_interval), .min = 1, .max = 3600,
     .def = "60s",
     .desc = "How often the server writes what it counted of client usage (last use per client "
             "and scope, tokens per client per day) to the database, in one transaction; also "
             "at shutdown."},
    {"usage", "max_entries", K_INT, AT(usage_max_entries), .min = 16, .max = 1000000,
     .def = "10000",
     .desc = "Entries (client and scope, client and day) counted in memory between two writes. "
             "When the table is full the writer is woken to write the batch at once; a use that "
             "finds it still full is dropped, and the drops are counted in the log."},
    {"review", "unused_after", K_DURATION, AT(review_unused_after), .min = 60,
     .max = NO_MAX, .def = "90d",
     .desc = "An entitlement (a scope of a client) not used this long, counted from the later of "
             "its grant and its last use, is an access review finding (`unused_entitlement`); "
             "clients younger than this are not reported."},
    {"review", "rotation_after", K_DURATION, AT(review_rotation_after), .min = 60,
     .max = NO_MAX, .def = "90d",
     .desc = "A live client secret or API key older than this is an access review finding "
             "(`old_credential`)."},
    {"review", "grace", K_DURATION, AT(review_grace), .min = 1, .max = NO_MAX, .def = "7d",
     .desc = "A client created longer ago than this whose credentials were never used is an "
             "access review finding (`never_authenticated`)."},
    {"review", "max_certify", K_DURATION, AT(review_max_certify), .min = 1, .max = NO_MAX,
     .def = "365d",
     .desc = "Longest a certification keeps an access review finding quiet (`mandate review "
             "certify --until`)."},
    {"webhooks", "endpoints", K_STRING, AT(webhooks_endpoints), .type = "path", .def = "",
     .desc = "JSON file of the webhooks notified of each new pending approval request: "
             "`[{\"url\", \"secret_file\"}]` (see docs/guides/human-in-the-loop-routing.md), "
             "read when `serve` starts; empty: none."},
    {"webhooks", "connect_timeout", K_DURATION, AT(webhooks_connect_timeout), .min = 1,
     .max = 60, .def = "5s", .desc = "Time to connect to a webhook."},
    {"webhooks", "timeout", K_DURATION, AT(webhooks_timeout), .min = 1, .max = 300, .def = "10s",
     .desc = "Time for one delivery in all (connect, send, answer); longer counts as a failure."},
    {"webhooks", "max_concurrent", K_INT, AT(webhooks_max_concurrent), .min = 1, .max = 64,
     .def = "4", .desc = "Deliveries in progress at once (each node)."},
    {"webhooks", "retry_initial", K_DURATION, AT(webhooks_retry_initial), .min = 1, .max = 3600,
     .def = "10s",
     .desc = "A failed delivery is tried again after this, then after twice as long each time."},
    {"webhooks", "retry_max", K_DURATION, AT(webhooks_retry_max), .min = 1, .max = 86400,
     .def = "1h", .desc = "Longest wait between two attempts of one delivery."},
    {"webhooks", "retry_for", K_DURATION, AT(webhooks_retry_for), .min = 1, .max = 30 * 86400,
     .def = "1d",
     .desc = "A delivery still failing this long after its event is dropped (audited "
             "`webhook.dropped`)."},
    {"api_keys", "token_ttl", K_DURATION, AT(api_key_token_ttl), .min = 1, .max = 86400,
     .def = "5m", .desc = "Lifetime of the access token exchanged for an API key."},
    {"ciba", "expiry", K_DURATION, AT(ciba_expiry), .min = 10, .max = 86400, .def = "5m",
     .desc = "How long a CIBA backchannel authentication request (`/bc-authorize`) waits for the "
             "person's decision when the client gives no `requested_expiry`."},
    {"ciba", "max_expiry", K_DURATION, AT(ciba_max_expiry), .min = 10, .max = 86400 * 7,
     .def = "1h", .desc = "Longest `requested_expiry` a client may ask for at `/bc-authorize`; "
                          "more is refused (`invalid_request`)."},
    {"ciba", "interval", K_DURATION, AT(ciba_interval), .min = 1, .max = 600, .def = "5s",
     .desc = "Seconds a CIBA client must wait between two polls of `/token`; a faster poll is "
             "answered `slow_down`."},
    {"ciba", "single_use_tokens", K_BOOL, AT(ciba_single_use_tokens), .def = "false",
     .desc = "Access tokens issued by the CIBA grant are usable once: the first introspection "
             "(or other use at this server) finds them active, every later one inactive, on "
             "every node."},
    {"dpop", "nonce", K_ENUM, AT(dpop_nonce), .choices = CHOICES("off", "token", "all"),
     .def = "off",
     .desc = "Where a DPoP proof (RFC 9449) must carry a nonce of this server (§8, §9): `off` "
             "nowhere (a proof that carries one is still checked), `token` at `/token` and "
             "`/par`, `all` also at the APIs that take access tokens (`/userinfo`, "
             "`/forward-auth`). A proof without one is answered `use_dpop_nonce` with a "
             "`DPoP-Nonce` header; nonces are valid at every node sharing the master key."},
    {"dpop", "max_age", K_DURATION, AT(dpop_max_age), .min = 5, .max = 3600, .def = "60s",
     .desc = "Oldest `iat` of a DPoP proof accepted (30 seconds of clock skew are allowed "
             "into the future); its `jti` is remembered, on every node, this long."},
    {"dpop", "nonce_rotation", K_DURATION, AT(dpop_nonce_rotation), .min = 30, .max = 3600,
     .def = "5m",
     .desc = "A new DPoP nonce every this long; the previous one stays accepted for as long "
             "again."},
    {"web", "session_idle", K_DURATION, AT(session_idle), .min = 60, .max = 86400 * 30,
     .def = "30m", .desc = "A person's web session ends after this long without a request."},
    {"web", "session_max", K_DURATION, AT(session_max), .min = 60, .max = 86400 * 90,
     .def = "12h", .desc = "A person's web session ends at the latest this long after login, "
                           "used or not."},
    {"web", "login_max_failures", K_INT, AT(login_max_failures), .min = 1, .max = 1000000,
     .def = "5", .desc = "Failed logins accepted per username in 15 minutes; further attempts "
                         "are refused (429) until the window ends."},
    {"web", "login_max_failures_per_source", K_INT, AT(login_max_failures_per_source), .min = 1,
     .max = 1000000, .def = "20",
     .desc = "Failed logins accepted per source address in 15 minutes (all usernames); further "
             "attempts are refused (429) until the window ends."},
    {"device", "code_ttl", K_DURATION, AT(device_code_ttl), .min = 1, .max = 86400, .def = "10m",
     .desc = "How long a device code and its user code (RFC 8628) may be used: the person "
             "must enter and approve the code within this time (`expires_in`)."},
    {"device", "interval", K_DURATION, AT(device_interval), .min = 1, .max = 300, .def = "5s",
     .desc = "Seconds a device must wait between two polls of `/token` (`interval`); a poll "
             "sooner gets `slow_down` and adds 5 seconds to the code's interval."},
    {"device", "max_wrong_codes", K_INT, AT(device_max_wrong_codes), .min = 1, .max = 1000000,
     .def = "5", .desc = "Wrong user codes a person may enter at `/device` in 15 minutes; "
                         "further entries are refused (429) until the window ends."},
    {"device", "max_wrong_codes_per_source", K_INT, AT(device_max_wrong_codes_per_source),
     .min = 1, .max = 1000000, .def = "20",
     .desc = "Wrong user codes accepted per source address in 15 minutes (all people); further "
             "entries are refused (429) until the window ends."},
    {"device", "rate_per_source", K_INT, AT(device_rate_per_source), .min = 1, .max = 1000000,
     .def = "30", .desc = "Device authorization requests accepted per source address per "
                          "minute; more are answered 429."},
    {"audit", "max_batch", K_INT, AT(audit_max_batch), .min = 1, .max = 10000, .def = "256",
     .desc = "Most audit events written in one group commit."},
    {"audit", "checkpoint_events", K_INT, AT(audit_checkpoint_events), .min = 1,
     .max = 100000000, .def = "1000",
     .desc = "The server writes a signed checkpoint of the audit chain after this many events "
             "(and at shutdown)."},
    {"audit", "checkpoint_interval", K_DURATION, AT(audit_checkpoint_interval), .min = 1,
     .max = 86400, .def = "5m",
     .desc = "... or when this long has passed since the last checkpoint and events were "
             "written since."},
    {"pdp", "mode", K_ENUM, AT(pdp_mode), .choices = CHOICES("off", "embedded", "authzen", "opa"),
     .def = "off",
     .desc = "Who decides at token issuance: `off` (no one: entitlements alone), `embedded` (the "
             "server's Cedar policies), `authzen` (the AuthZEN Authorization API 1.0 PDP at `url`) "
             "or `opa` (an Open Policy Agent data API at `url`). An external PDP that does not "
             "answer in time, or answers something malformed, refuses (fails closed)."},
    {"pdp", "url", K_STRING, AT(pdp_url), .check = check_optional_url, .type = "URL", .def = "",
     .desc = "With `mode = authzen`: the PDP's base URL (Mandate POSTs to "
             "`<url>/access/v1/evaluations`); with `mode = opa`: the data API document to POST "
             "to, e.g. `http://127.0.0.1:8181/v1/data/mandate/token`. http and private addresses "
             "are allowed (the URL is yours, not a client's); redirects are not followed."},
    {"pdp", "timeout", K_DURATION, AT(pdp_timeout), .min = 1, .max = 60, .def = "2s",
     .desc = "Time an external PDP has to answer (connect, send, answer); later, the decision "
             "fails closed (503 `temporarily_unavailable` at the token endpoint)."},
    {"pdp", "cache_ttl", K_DURATION, AT(pdp_cache_ttl), .min = 0, .max = 3600, .def = "30s",
     .desc = "How long a decision is kept and reused for the same question (subject, action, "
             "resource and context alike); `0`: not cached. At most 4096 decisions are kept."},
    {"pdp", "max_concurrent", K_INT, AT(pdp_max_concurrent), .min = 1, .max = 1024, .def = "64",
     .desc = "Calls to an external PDP in progress at once (each node; a token request makes at "
             "most one); one more is refused at once (503, fail closed). Apart from the caps of "
             "`[client_auth] fetch_max_concurrent`, which are for fetches that clients cause."},
    {"pdp", "on_deny", K_ENUM, AT(pdp_on_deny), .choices = CHOICES("refuse", "drop"),
     .def = "refuse",
     .desc = "At token issuance, what a scope the PDP denies does: `refuse` fails the request "
             "with `invalid_scope` naming the scope; `drop` leaves the scope out of the token "
             "(nothing left: refused)."},
    {"pdp", "log_only", K_BOOL, AT(pdp_log_only), .def = "false",
     .desc = "At token issuance the PDP's decisions are made and audited (`\"log_only\": true` "
             "in the token events) but nothing is refused nor dropped: to try a policy before "
             "it applies."},
    {"pdp", "risk_memory", K_DURATION, AT(pdp_risk_memory), .min = 3600, .max = 43200,
     .def = "12h",
     .desc = "How long an IP address or credential seen by a client is remembered: the risk "
             "signals `new_ip` and `new_credential` are true when it was not used by the "
             "client in the current nor in the previous period of this length."},
    {"authzen", "scope", K_STRING, AT(authzen_scope), .check = check_scope_word, .type = "scope",
     .def = "mandate:pdp",
     .desc = "The scope an access token must carry to call the AuthZEN API of the embedded PDP "
             "(`/access/v1/evaluation`, `/access/v1/evaluations`)."},
    {"log", "level", K_ENUM, AT(log_level), .choices = CHOICES("debug", "info", "warn", "error"),
     .def = "info", .desc = "Least severe level written to the log."},
    {"log", "access_log", K_BOOL, AT(access_log), .def = "true",
     .desc = "One JSON line per HTTP request."},
    {"metrics", "allow", K_LIST, AT(metrics_allow), .check = check_cidr, .type = "list of CIDRs",
     .def = "127.0.0.0/8, ::1/128",
     .desc = "Clients that may scrape `/metrics` (the client address, as `trusted_proxies` "
             "resolves it); anyone else gets 403. Empty: nobody. The metrics show the traffic's "
             "shape (endpoints, rates, refusals), so keep this to the scrapers."},
};

#define NKEYS MDT_ARRAY_LEN(keys)

/* Where each key was last set ("file:line" or an environment variable). */
struct mdt_config_src {
    char *at[NKEYS];
};

/* ---- values ---------------------------------------------------------------------------- */

static bool parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!(isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1]))))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* Parses 1..digits decimal digits in s[0..n) into *out, at most max. */
static bool parse_small(const char *s, size_t n, int max, int *out)
{
    int v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool copy_slice(char *dst, size_t dn, const char *s, size_t n)
{
    if (n >= dn)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool valid_hostname(const char *h)
{
    unsigned char b[4];

    if (!*h)
        return false;
    if (strspn(h, "0123456789.") == strlen(h))
        return inet_pton(AF_INET, h, b) == 1;
    for (const char *p = h; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    }
    return true;
}

/* Checks "host[:port]" in s[0..n) and copies the host (brackets removed) to host. */
static const char *split_hostport(const char *s, size_t n, char *host, size_t hn, bool need_port)
{
    const char *hend = s + n, *port = NULL;
    unsigned char b[16];
    int pv;

    if (n && s[0] == '[') {
        hend = memchr(s, ']', n);
        if (!hend || !copy_slice(host, hn, s + 1, (size_t)(hend - s - 1)))
            return "bad [IPv6] address";
        if (hend + 1 < s + n && hend[1] != ':')
            return "unexpected text after ]";
        port = hend + 1 < s + n ? hend + 2 : NULL;
        if (inet_pton(AF_INET6, host, b) != 1)
            return "bad IPv6 address";
    } else {
        const char *colon = memrchr(s, ':', n);
        if (colon && memchr(s, ':', (size_t)(colon - s)))
            return "IPv6 addresses must be written in brackets, as [::1]:8080";
        port = colon ? colon + 1 : NULL;
        if (!copy_slice(host, hn, s, (size_t)((colon ? colon : hend) - s)) || !valid_hostname(host))
            return "bad host";
    }
    if (!port)
        return need_port ? "missing :port" : NULL;
    if (!parse_small(port, (size_t)(s + n - port), 65535, &pv) || pv < 1)
        return "port must be 1-65535";
    return NULL;
}

/* host (brackets removed) of an http(s) URL without query, fragment or trailing slash. */
static const char *url_host(const char *u, char *host, size_t hn)
{
    const char *a, *end;

    if (strncmp(u, "https://", 8) == 0)
        a = u + 8;
    else if (strncmp(u, "http://", 7) == 0)
        a = u + 7;
    else
        return "must be an https:// (or loopback http://) URL";
    for (const char *p = u; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "must not contain spaces or control characters";
        if (*p == '?' || *p == '#')
            return "must not have a query or fragment";
    }
    if (u[strlen(u) - 1] == '/')
        return "must not end with a slash";
    end = a + strcspn(a, "/");
    if (memchr(a, '@', (size_t)(end - a)))
        return "must not contain user information";
    return split_hostport(a, (size_t)(end - a), host, hn, false);
}

static const char *check_url(const char *v, size_t n)
{
    char host[256];
    (void)n;
    return url_host(v, host, sizeof(host));
}

static const char *check_database(const char *v, size_t n)
{
    (void)n;
    if (strncmp(v, "sqlite:", 7) == 0)
        return v[7] ? NULL : "sqlite: needs a path";
    if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0)
        return NULL;
    return "must start with sqlite:, postgresql:// or postgres://";
}

static const char *check_nonempty(const char *v, size_t n)
{
    (void)v;
    return n ? NULL : "must not be empty";
}

static const char *check_listen(const char *v, size_t n)
{
    char host[256];
    return split_hostport(v, n, host, sizeof(host), true);
}

static const char *check_cidr(const char *v, size_t n)
{
    const char *slash = memchr(v, '/', n);
    size_t alen = slash ? (size_t)(slash - v) : n;
    unsigned char b[16];
    char addr[64];
    int bits, prefix;

    if (!copy_slice(addr, sizeof(addr), v, alen))
        return "not an IP address";
    bits = strchr(addr, ':') ? 128 : 32;
    if (inet_pton(bits == 128 ? AF_INET6 : AF_INET, addr, b) != 1)
        return "not an IP address";
    prefix = bits;
    if (slash && !parse_small(slash + 1, (size_t)(v + n - slash - 1), bits, &prefix))
        return "bad prefix length";
    for (int i = prefix; i < bits; i++) {
        if (b[i / 8] & (0x80 >> (i % 8)))
            return "address has bits set past the prefix length";
    }
    return NULL;
}

/* ---- setting one key ------------------------------------------------------------------- */

static mdt_rc set_string(char **field, const cfg_key *k, const char *v, char *why, size_t wn)
{
    const char *bad = k->check ? k->check(v, strlen(v)) : NULL;
    char *copy;

    if (bad) {
        snprintf(why, wn, "%s", bad);
        return MDT_ERR_CONFIG;
    }
    if (!(copy = strdup(v)))
        return MDT_ERR_NOMEM;
    free(*field);
    *field = copy;
    return MDT_OK;
}

/* Checks each comma-separated entry and stores them without surrounding blanks. */
static mdt_rc set_list(char **field, const cfg_key *k, const char *v, char *why, size_t wn)
{
    char *out = malloc(strlen(v) + 1), *o = out;
    const char *p = *v ? v : NULL;

    if (!out)
        return MDT_ERR_NOMEM;
    *o = '\0';
    if (!p && k->check == check_listen) {
        snprintf(why, wn, "must not be empty");
        free(out);
        return MDT_ERR_CONFIG;
    }
    while (p) {
        const char *comma = strchr(p, ',');
        const char *e = comma ? comma : p + strlen(p);
        const char *bad;
        while (p < e && isspace((unsigned char)*p))
            p++;
        while (e > p && isspace((unsigned char)e[-1]))
            e--;
        if ((bad = e <= p ? "empty entry" : k->check ? k->check(p, (size_t)(e - p)) : NULL)) {
            snprintf(why, wn, "\"%.*s\": %s", (int)(e - p > 64 ? 64 : e - p), p, bad);
            free(out);
            return MDT_ERR_CONFIG;
        }
        if (o != out)
            *o++ = ',';
        memcpy(o, p, (size_t)(e - p));
        o += e - p;
        *o = '\0';
        p = comma ? comma + 1 : NULL;
    }
    free(*field);
    *field = out;
    return MDT_OK;
}

static void fmt_duration(int64_t s, char *out, size_t n)
{
    if (s && s % 86400 == 0)
        snprintf(out, n, "%lldd", (long long)(s / 86400));
    else if (s && s % 3600 == 0)
        snprintf(out, n, "%lldh", (long long)(s / 3600));
    else if (s && s % 60 == 0)
        snprintf(out, n, "%lldm", (long long)(s / 60));
    else
        snprintf(out, n, "%llds", (long long)s);
}

static mdt_rc set_number(void *field, const cfg_key *k, const char *v, char *why, size_t wn)
{
    int64_t x;
    char lo[24], hi[24];

    if (k->kind == K_INT) {
        if (!parse_int64(v, &x) || x < k->min || x > k->max) {
            snprintf(why, wn, "must be an integer from %lld to %lld", (long long)k->min,
                     (long long)k->max);
            return MDT_ERR_CONFIG;
        }
    } else if (mdt_duration_parse(v, &x) != MDT_OK) {
        snprintf(why, wn, "not a duration (like 90s, 15m, 8h, 30d; bare digits are seconds)");
        return MDT_ERR_CONFIG;
    } else if (x < k->min || x > k->max) {
        fmt_duration(k->min, lo, sizeof(lo));
        fmt_duration(k->max, hi, sizeof(hi));
        snprintf(why, wn, "must be from %s to %s", lo, hi);
        return MDT_ERR_CONFIG;
    }
    if (k->size == sizeof(int)) {
        int i = (int)x;
        memcpy(field, &i, sizeof(i));
    } else {
        memcpy(field, &x, sizeof(x));
    }
    return MDT_OK;
}

static mdt_rc set_bool(bool *field, const char *v, char *why, size_t wn)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < MDT_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *field = strcasecmp(v, yes[i]) == 0;
            return MDT_OK;
        }
    }
    snprintf(why, wn, "must be true or false (also yes/no, on/off, 1/0)");
    return MDT_ERR_CONFIG;
}

static mdt_rc set_enum(char **field, const cfg_key *k, const char *v, char *why, size_t wn)
{
    size_t used;

    for (const char *const *c = k->choices; *c; c++) {
        if (strcmp(v, *c) == 0)
            return set_string(field, k, v, why, wn);
    }
    used = (size_t)snprintf(why, wn, "must be one of");
    for (const char *const *c = k->choices; *c && used < wn; c++)
        used += (size_t)snprintf(why + used, wn - used, "%s %s", c == k->choices ? "" : ",", *c);
    return MDT_ERR_CONFIG;
}

static mdt_rc apply(mdt_config *cfg, const cfg_key *k, const char *v, char *why, size_t wn)
{
    void *field = (char *)cfg + k->off;

    switch (k->kind) {
    case K_STRING: return set_string(field, k, v, why, wn);
    case K_LIST: return set_list(field, k, v, why, wn);
    case K_BOOL: return set_bool(field, v, why, wn);
    case K_ENUM: return set_enum(field, k, v, why, wn);
    default: return set_number(field, k, v, why, wn);
    }
}

static const cfg_key *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

static bool section_known(const char *section, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strlen(keys[i].section) == n && strncmp(keys[i].section, section, n) == 0)
            return true;
    }
    return false;
}

/* "file:line: ", "file: " or "" */
static void position(char *out, size_t n, const char *file, int line)
{
    if (file && line > 0)
        snprintf(out, n, "%s:%d: ", file, line);
    else if (file)
        snprintf(out, n, "%s: ", file);
    else
        out[0] = '\0';
}

static mdt_rc record_origin(mdt_config *cfg, const cfg_key *k, const char *file, int line)
{
    char at[200];
    char **slot;

    if (!cfg->src && !(cfg->src = calloc(1, sizeof(*cfg->src))))
        return MDT_ERR_NOMEM;
    slot = &cfg->src->at[k - keys];
    free(*slot);
    *slot = NULL;
    if (!file)
        return MDT_OK;
    position(at, sizeof(at), file, line);
    at[strlen(at) - 2] = '\0'; /* drop ": " */
    return (*slot = strdup(at)) ? MDT_OK : MDT_ERR_NOMEM;
}

mdt_rc mdt_config_set(mdt_config *cfg, const char *section, const char *key, const char *value,
                      const char *file, int line, mdt_err *err)
{
    const cfg_key *k = find_key(section, key);
    char pos[200], why[160] = "", *v = NULL;
    const char *e;
    mdt_rc rc;

    position(pos, sizeof(pos), file, line);
    if (!k)
        return mdt_failf(err, MDT_ERR_CONFIG, CFG_MSG, "%s[%s] %s: unknown %s", pos, section, key,
                         section_known(section, strlen(section)) ? "key" : "section");
    while (isspace((unsigned char)*value))
        value++;
    e = value + strlen(value);
    while (e > value && isspace((unsigned char)e[-1]))
        e--;
    if (!(v = strndup(value, (size_t)(e - value))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    rc = apply(cfg, k, v, why, sizeof(why));
    if (rc == MDT_OK)
        rc = record_origin(cfg, k, file, line);
    free(v);
    if (rc == MDT_ERR_NOMEM)
        return mdt_fail(err, rc, "out of memory");
    if (rc != MDT_OK)
        return mdt_failf(err, rc, CFG_MSG, "%s[%s] %s: %s", pos, section, key, why);
    return MDT_OK;
}

/* ---- defaults, file, environment -------------------------------------------------------- */

mdt_rc mdt_config_defaults(mdt_config *cfg, mdt_err *err)
{
    mdt_rc rc = MDT_OK;

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS && rc == MDT_OK; i++)
        rc = mdt_config_set(cfg, keys[i].section, keys[i].name, keys[i].def, NULL, 0, err);
    if (rc != MDT_OK)
        mdt_config_free(cfg);
    return rc;
}

typedef struct {
    mdt_config *cfg;
    FILE *f;
    const char *path;
    char *line;
    size_t cap;
    int lineno;
    int seen[NKEYS]; /* line where each key was set */
    mdt_rc rc;
    mdt_err *err;
} load_ctx;

static void load_fail(load_ctx *c, const char *what)
{
    if (c->rc == MDT_OK)
        c->rc = mdt_failf(c->err, MDT_ERR_CONFIG, CFG_MSG, "%s:%d: %s", c->path, c->lineno, what);
}

/* The inih reader: one physical line per call, so lineno is the line inih
 * is parsing. Leading blanks are stripped, which keeps inih from taking an
 * indented line for the continuation of the previous value. */
static char *read_line(char *str, int num, void *stream)
{
    load_ctx *c = stream;
    const char *p;
    char what[160];

    if (getline(&c->line, &c->cap, c->f) < 0)
        return NULL;
    c->lineno++;
    p = c->line + strspn(c->line, " \t");
    if (strlen(p) >= (size_t)num) {
        snprintf(what, sizeof(what), "line longer than %d characters (use the environment "
                 "variable for long values)", num - 2);
        load_fail(c, what);
        p = "\n";
    } else if (p[0] == '[' && strchr(p, ']') && !section_known(p + 1, strcspn(p + 1, "]"))) {
        snprintf(what, sizeof(what), "[%.*s]: unknown section", (int)strcspn(p + 1, "]"), p + 1);
        load_fail(c, what);
    }
    memcpy(str, p, strlen(p) + 1);
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *c = user;
    const cfg_key *k = find_key(section, name);
    char what[160];

    if (c->rc != MDT_OK)
        return 0;
    if (!*section) {
        snprintf(what, sizeof(what), "%s: key outside of any [section]", name);
        load_fail(c, what);
        return 0;
    }
    if (k && c->seen[k - keys]) {
        snprintf(what, sizeof(what), "[%s] %s: duplicated key (first set on line %d)", section,
                 name, c->seen[k - keys]);
        load_fail(c, what);
        return 0;
    }
    c->rc = mdt_config_set(c->cfg, section, name, value, c->path, c->lineno, c->err);
    if (k)
        c->seen[k - keys] = c->lineno;
    return c->rc == MDT_OK;
}

static mdt_rc load_file(mdt_config *cfg, const char *path, mdt_err *err)
{
    load_ctx c = {.cfg = cfg, .path = path, .err = err};
    int r;

    if (!(c.f = fopen(path, "r")))
        return mdt_failf(err, MDT_ERR_CONFIG, CFG_MSG, "%s: %s", path, strerror(errno));
    r = ini_parse_stream(read_line, &c, on_key, &c);
    if (c.rc == MDT_OK && ferror(c.f))
        c.rc = mdt_failf(err, MDT_ERR_IO, CFG_MSG, "%s: read error", path);
    else if (c.rc == MDT_OK && r == -2)
        c.rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    else if (c.rc == MDT_OK && r != 0)
        c.rc = mdt_failf(err, MDT_ERR_CONFIG, CFG_MSG,
                         "%s:%d: syntax error (expected [section] or key = value)", path, r);
    fclose(c.f);
    free(c.line);
    return c.rc;
}

static void env_name(const cfg_key *k, char *out, size_t n)
{
    snprintf(out, n, "MANDATE_%s_%s", k->section, k->name);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

static mdt_rc load_env(mdt_config *cfg, mdt_err *err)
{
    char name[96];
    const char *v;
    mdt_rc rc;

    for (size_t i = 0; i < NKEYS; i++) {
        env_name(&keys[i], name, sizeof(name));
        if (!(v = getenv(name)))
            continue;
        rc = mdt_config_set(cfg, keys[i].section, keys[i].name, v, name, 0, err);
        if (rc != MDT_OK)
            return rc;
    }
    return MDT_OK;
}

/* master_key_file defaults to <data_dir>/master.key once data_dir is known. */
static mdt_rc resolve_paths(mdt_config *cfg, mdt_err *err)
{
    size_t n = strlen(cfg->data_dir);
    char *p;

    if (cfg->master_key_file[0])
        return MDT_OK;
    if (asprintf(&p, "%.*s/master.key", (int)(n && cfg->data_dir[n - 1] == '/' ? n - 1 : n),
                 cfg->data_dir) < 0)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    free(cfg->master_key_file);
    cfg->master_key_file = p;
    return MDT_OK;
}

mdt_rc mdt_config_load(mdt_config *cfg, const char *path, mdt_err *err)
{
    mdt_rc rc = mdt_config_defaults(cfg, err);

    if (rc != MDT_OK)
        return rc;
    if (path)
        rc = load_file(cfg, path, err);
    if (rc == MDT_OK)
        rc = load_env(cfg, err);
    if (rc == MDT_OK)
        rc = resolve_paths(cfg, err);
    if (rc == MDT_OK)
        rc = mdt_config_validate(cfg, err);
    if (rc != MDT_OK)
        mdt_config_free(cfg);
    return rc;
}

/* ---- cross-key checks ----------------------------------------------------------------- */

static mdt_rc key_fail(const mdt_config *cfg, const char *section, const char *name,
                       const char *why, mdt_err *err)
{
    const cfg_key *k = find_key(section, name);
    const char *at = cfg->src && k ? cfg->src->at[k - keys] : NULL;

    return mdt_failf(err, MDT_ERR_CONFIG, CFG_MSG, "%s%s[%s] %s: %s", at ? at : "",
                     at ? ": " : "", section, name, why);
}

static bool is_set(const char *s)
{
    return s && *s;
}

#define CA_FILE_MAX (16 * 1024 * 1024) /* bytes of a CA bundle read at start-up */

/* NULL when path is a readable regular file holding at least one PEM
 * certificate (as curl will read it for every outbound https connection),
 * else why not. */
static const char *ca_file_problem(const char *path)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    char chunk[4096 + sizeof(begin)];
    size_t keep = 0, n, total = 0;
    const char *why = "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
    struct stat st;
    FILE *f;

    if (stat(path, &st) != 0)
        return errno == ENOENT ? "file not found" : "file cannot be read";
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if (st.st_size > CA_FILE_MAX)
        return "larger than 16 MiB";
    if (!(f = fopen(path, "r")))
        return "file cannot be read";
    while (total < CA_FILE_MAX && (n = fread(chunk + keep, 1, sizeof(chunk) - 1 - keep, f)) > 0) {
        total += n;
        chunk[keep + n] = '\0';
        if (strstr(chunk, begin)) {
            why = NULL;
            break;
        }
        n += keep; /* keep the tail: the marker may straddle two reads */
        keep = n < sizeof(begin) - 1 ? n : sizeof(begin) - 1;
        memmove(chunk, chunk + n - keep, keep);
    }
    if (ferror(f))
        why = "file cannot be read";
    fclose(f);
    return why;
}

mdt_rc mdt_config_validate(const mdt_config *cfg, mdt_err *err)
{
    char host[256];
    const char *bad = NULL;

    if (!cfg->issuer || (bad = url_host(cfg->issuer, host, sizeof(host))))
        return key_fail(cfg, "server", "issuer", cfg->issuer ? bad : "not set", err);
    if (strncmp(cfg->issuer, "https://", 8) != 0 && !mdt_host_is_loopback(host))
        return key_fail(cfg, "server", "issuer",
                        "must be https unless the host is loopback (127.0.0.0/8, ::1, localhost)",
                        err);
    if (is_set(cfg->tls_cert) && !is_set(cfg->tls_key))
        return key_fail(cfg, "server", "tls_cert", "set without tls_key", err);
    if (is_set(cfg->tls_key) && !is_set(cfg->tls_cert))
        return key_fail(cfg, "server", "tls_key", "set without tls_cert", err);
    if (is_set(cfg->tls_client_ca) && !is_set(cfg->tls_cert) && !is_set(cfg->trusted_proxies))
        return key_fail(cfg, "server", "tls_client_ca",
                        "needs tls_cert and tls_key, or trusted_proxies", err);
    if (is_set(cfg->outbound_ca_file) && (bad = ca_file_problem(cfg->outbound_ca_file)))
        return key_fail(cfg, "server", "outbound_ca_file", bad, err);
    if (cfg->pdp_mode && (strcmp(cfg->pdp_mode, "authzen") == 0 ||
                          strcmp(cfg->pdp_mode, "opa") == 0) && !is_set(cfg->pdp_url))
        return key_fail(cfg, "pdp", "url", "must be set when mode is authzen or opa", err);
    for (size_t i = 0; i < NKEYS; i++) {
        char *const *s = (char *const *)((const char *)cfg + keys[i].off);
        bool str = keys[i].kind == K_STRING || keys[i].kind == K_LIST || keys[i].kind == K_ENUM;
        if (str && !*s)
            return key_fail(cfg, keys[i].section, keys[i].name, "not set", err);
    }
    return MDT_OK;
}

/* Whether key k has the same value in a and b. */
static bool same_value(const cfg_key *k, const mdt_config *a, const mdt_config *b)
{
    const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;

    switch (k->kind) {
    case K_STRING:
    case K_LIST:
    case K_ENUM: {
        const char *sa = *(char *const *)(const void *)pa, *sb = *(char *const *)(const void *)pb;
        return (!sa && !sb) || (sa && sb && strcmp(sa, sb) == 0);
    }
    default:
        return memcmp(pa, pb, k->size) == 0;
    }
}

size_t mdt_config_diff(const mdt_config *a, const mdt_config *b, mdt_config_diff_fn fn,
                       void *ctx)
{
    size_t n = 0;

    for (size_t i = 0; i < NKEYS; i++) {
        if (same_value(&keys[i], a, b))
            continue;
        n++;
        if (fn)
            fn(ctx, keys[i].section, keys[i].name, b->src ? b->src->at[i] : NULL);
    }
    return n;
}

mdt_rc mdt_config_keep(mdt_config *next, const mdt_config *running,
                       bool (*keep)(const char *section, const char *key), mdt_err *err)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &keys[i];
        char *dst = (char *)next + k->off;
        const char *src = (const char *)running + k->off;
        if (!keep(k->section, k->name) || same_value(k, running, next))
            continue;
        if (k->kind == K_STRING || k->kind == K_LIST || k->kind == K_ENUM) {
            const char *v = *(char *const *)(const void *)src;
            char *copy = v ? strdup(v) : NULL;
            if (v && !copy)
                return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
            free(*(char **)(void *)dst);
            *(char **)(void *)dst = copy;
        } else {
            memcpy(dst, src, k->size);
        }
    }
    return MDT_OK;
}

void mdt_config_free(mdt_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        char **s = (char **)((char *)cfg + keys[i].off);
        if (keys[i].kind == K_STRING || keys[i].kind == K_LIST || keys[i].kind == K_ENUM)
            free(*s);
        if (cfg->src)
            free(cfg->src->at[i]);
    }
    free(cfg->src);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- reference ------------------------------------------------------------------------ */

static void type_text(const cfg_key *k, char *out, size_t n)
{
    char lo[24], hi[24];
    size_t used;

    switch (k->kind) {
    case K_BOOL: snprintf(out, n, "boolean"); break;
    case K_INT:
        snprintf(out, n, "integer, %lld to %lld", (long long)k->min, (long long)k->max);
        break;
    case K_DURATION:
        fmt_duration(k->min, lo, sizeof(lo));
        fmt_duration(k->max, hi, sizeof(hi));
        if (k->max == NO_MAX)
            snprintf(out, n, "duration");
        else
            snprintf(out, n, "duration, %s to %s", lo, hi);
        break;
    case K_ENUM:
        used = (size_t)snprintf(out, n, "one of");
        for (const char *const *c = k->choices; *c && used < n; c++)
            used += (size_t)snprintf(out + used, n - used, "%s `%s`", c == k->choices ? "" : ",",
                                     *c);
        break;
    default: snprintf(out, n, "%s", k->type); break;
    }
}

static const char intro[] =
    "# Configuration reference\n"
    "\n"
    "<!-- Generated by `mandate config-reference` from the table in src/core/config.c; "
    "do not edit. -->\n"
    "\n"
    "Mandate reads an INI file given with `--config FILE` (default: `./mandate.conf` when "
    "present, else the built-in defaults). Lines starting with `;` or `#` are comments, and a "
    "`;` after a space or tab starts a comment at the end of a line. Every key can be overridden by the "
    "environment variable `MANDATE_<SECTION>_<KEY>` in upper case (for example "
    "`MANDATE_SERVER_LISTEN`); the environment is applied after the file. An unknown section "
    "or key, a bad value or a key set twice in the file stops the start-up with an error that "
    "names the file, line and key (or the environment variable). Durations are written like "
    "`90s`, `15m`, `8h`, `30d`; bare digits are seconds. Booleans are `true`/`false`, "
    "`yes`/`no`, `on`/`off` or `1`/`0`. Lists are separated by commas. A line of the file "
    "holds at most about 200 characters: give longer values through the environment.\n";

int mdt_config_write_reference(FILE *out)
{
    const char *section = "";
    char type[160], env[96];

    fputs(intro, out);
    for (size_t i = 0; i < NKEYS; i++) {
        const cfg_key *k = &keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(out, "\n## [%s]\n\n", section);
            fputs("| key | type | default | description | environment variable |\n", out);
            fputs("|---|---|---|---|---|\n", out);
        }
        type_text(k, type, sizeof(type));
        env_name(k, env, sizeof(env));
        fprintf(out, "| `%s` | %s | %s%s%s | %s | `%s` |\n", k->name, type, *k->def ? "`" : "",
                *k->def ? k->def : "*(empty)*", *k->def ? "`" : "", k->desc, env);
    }
    return ferror(out) ? -1 : 0;
}
