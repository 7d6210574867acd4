#include "store/migrations.h"

#include <string.h>

#include "core/buf.h"

/* Times are BIGINT seconds since the epoch, 0 = none. Text is TEXT. */
static const char m1_initial[] =
    "CREATE TABLE clients ("
    " client_id TEXT PRIMARY KEY,"
    " status TEXT NOT NULL,"
    " metadata TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL DEFAULT 0,"
    " tokens_valid_after BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE TABLE credentials ("
    " id TEXT PRIMARY KEY,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " type TEXT NOT NULL,"
    " hash {BLOB} NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL DEFAULT 0,"
    " last_used_at BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX credentials_client ON credentials(client_id, created_at);\n"
    "CREATE TABLE scopes ("
    " name TEXT PRIMARY KEY,"
    " description TEXT,"
    " sensitivity TEXT NOT NULL,"
    " created_at BIGINT NOT NULL);\n"
    "CREATE TABLE scope_resources ("
    " scope TEXT NOT NULL REFERENCES scopes(name) ON DELETE CASCADE,"
    " pos INTEGER NOT NULL,"
    " resource TEXT NOT NULL,"
    " PRIMARY KEY (scope, pos));\n"
    "CREATE TABLE tokens ("
    " hash {BLOB} PRIMARY KEY,"
    " jti TEXT NOT NULL,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL,"
    " claims TEXT NOT NULL,"
    " issued_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " revoked_at BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX tokens_client ON tokens(client_id);\n"
    "CREATE INDEX tokens_jti ON tokens(jti);\n"
    "CREATE INDEX tokens_expires ON tokens(expires_at);\n"
    "CREATE TABLE revoked_jtis ("
    " jti TEXT PRIMARY KEY,"
    " client_id TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " revoked_at BIGINT NOT NULL);\n"
    "CREATE INDEX revoked_jtis_expires ON revoked_jtis(expires_at);\n"
    "CREATE TABLE signing_keys ("
    " kid TEXT PRIMARY KEY,"
    " alg TEXT NOT NULL,"
    " sealed {BLOB} NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " activate_at BIGINT NOT NULL,"
    " retire_at BIGINT NOT NULL DEFAULT 0,"
    " expire_at BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE TABLE audit_events ("
    " seq {SEQ_PK},"
    " time BIGINT NOT NULL,"
    " type TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " prev_hash {BLOB} NOT NULL,"
    " hash {BLOB} NOT NULL);\n"
    "CREATE INDEX audit_events_time ON audit_events(time);\n";

/* Human users. roles: space-separated ("admin approver"); password_hash: the
 * argon2id encoded string. Usernames are unique regardless of ASCII case, so
 * that "Admin" cannot stand beside "admin"; lookups stay exact. */
static const char m2_users[] =
    "CREATE TABLE users ("
    " username TEXT PRIMARY KEY,"
    " name TEXT NOT NULL DEFAULT '',"
    " email TEXT NOT NULL DEFAULT '',"
    " roles TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL,"
    " password_hash TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL);\n"
    "CREATE UNIQUE INDEX users_username_lower ON users (LOWER(username));\n";

/* Counters that writers increment in the same transaction as the change
 * they count. "clients" counts every change of a client or of its
 * credentials (not last_used_at), so that a node can tell with one read
 * whether the clients it has cached are current. */
static const char m3_counters[] =
    "CREATE TABLE store_counters ("
    " name TEXT PRIMARY KEY,"
    " value BIGINT NOT NULL);\n"
    "INSERT INTO store_counters (name, value) VALUES ('clients', 0);\n";

/* Credentials name what they are (kid, DN, issuer and subject) and can be
 * found by type and hash (workload identities); single-use identifiers of
 * client assertions are remembered until they expire. */
static const char m4_credentials[] =
    "ALTER TABLE credentials ADD COLUMN name TEXT NOT NULL DEFAULT '';\n"
    "CREATE INDEX credentials_type_hash ON credentials(type, hash);\n"
    "CREATE TABLE used_jtis ("
    " issuer TEXT NOT NULL,"
    " jti TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " PRIMARY KEY (issuer, jti));\n"
    "CREATE INDEX used_jtis_expires ON used_jtis(expires_at);\n";

/* Self-registration (SPEC §3.3): initial access tokens (found by the hash of
 * the token; each registration consumes one use in one UPDATE), approval
 * requests (registration now; access requests, CIBA and device flows
 * later), and fixed-window rate counters shared by every node. */
static const char m5_registration[] =
    "CREATE TABLE initial_access_tokens ("
    " id TEXT PRIMARY KEY,"
    " hash {BLOB} NOT NULL UNIQUE,"
    " policy TEXT NOT NULL DEFAULT '',"
    " max_uses BIGINT NOT NULL,"
    " uses BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL DEFAULT 0,"
    " created_by TEXT NOT NULL DEFAULT '');\n"
    "CREATE TABLE approval_requests ("
    " id TEXT PRIMARY KEY,"
    " type TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " client_id TEXT,"
    " subject TEXT,"
    " scope TEXT,"
    " resource TEXT,"
    " binding_message TEXT,"
    " authorization_details TEXT,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL DEFAULT 0,"
    " decided_by TEXT,"
    " decided_at BIGINT NOT NULL DEFAULT 0,"
    " note TEXT);\n"
    "CREATE INDEX approval_requests_created ON approval_requests(created_at, id);\n"
    "CREATE INDEX approval_requests_client ON approval_requests(client_id);\n"
    "CREATE TABLE rate_counters ("
    " name TEXT NOT NULL,"
    " window_start BIGINT NOT NULL,"
    " count BIGINT NOT NULL,"
    " PRIMARY KEY (name, window_start));\n"
    "CREATE INDEX rate_counters_window ON rate_counters(window_start);\n";

static const char m6_web_sessions[] =
    "CREATE TABLE web_sessions ("
    " hash {BLOB} PRIMARY KEY,"
    " username TEXT NOT NULL,"
    " amr TEXT NOT NULL,"
    " auth_time BIGINT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " last_seen_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " revoked_at BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX web_sessions_username ON web_sessions(username);\n"
    "CREATE INDEX web_sessions_expires ON web_sessions(expires_at);\n";

/* People delegate (SPEC §3.4): pending authorization requests (PAR, and
 * resuming after login and consent), authorization codes (found by the
 * hash of the code; consumed in one UPDATE; the tokens issued from a code
 * are recorded so that a second use revokes them), and remembered
 * consents per user and client. params: JSON object text of the request. */
static const char m7_authorization[] =
    "CREATE TABLE authz_requests ("
    " id TEXT PRIMARY KEY,"
    " client_id TEXT NOT NULL,"
    " params TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL);\n"
    "CREATE INDEX authz_requests_expires ON authz_requests(expires_at);\n"
    "CREATE TABLE authz_codes ("
    " hash {BLOB} PRIMARY KEY,"
    " client_id TEXT NOT NULL,"
    " username TEXT NOT NULL,"
    " params TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " used_at BIGINT NOT NULL DEFAULT 0,"
    " token_jtis TEXT NOT NULL DEFAULT '',"
    " tokens_expire_at BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX authz_codes_expires ON authz_codes(expires_at);\n"
    "CREATE TABLE consents ("
    " username TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (username, client_id));\n";

/* Refresh tokens (SPEC §3.4), found by the SHA-256 of the token value.
 * Every rotation of one grant shares a family; a row is consumed in one
 * UPDATE (used_at); access_jti is the access token issued with the row, so
 * that revoking the family revokes its access tokens too. */
static const char m8_refresh_tokens[] =
    "CREATE TABLE refresh_tokens ("
    " hash {BLOB} PRIMARY KEY,"
    " family TEXT NOT NULL,"
    " parent {BLOB},"
    " client_id TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " resource TEXT NOT NULL DEFAULT '',"
    " auth_time BIGINT NOT NULL DEFAULT 0,"
    " amr TEXT NOT NULL DEFAULT '',"
    " sid TEXT NOT NULL DEFAULT '',"
    " cnf_x5t TEXT NOT NULL DEFAULT '',"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " used_at BIGINT NOT NULL DEFAULT 0,"
    " revoked_at BIGINT NOT NULL DEFAULT 0,"
    " access_jti TEXT NOT NULL DEFAULT '',"
    " access_exp BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX refresh_tokens_family ON refresh_tokens(family);\n"
    "CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);\n";

/* Signed checkpoints of the audit chain (see src/audit/checkpoint.c): n
 * numbers them 1, 2, 3, ...; the primary key makes a second writer's
 * checkpoint with the same number fail instead of forking the sequence. */
static const char m9_audit_checkpoints[] =
    "CREATE TABLE audit_checkpoints ("
    " n BIGINT PRIMARY KEY,"
    " seq BIGINT NOT NULL,"
    " time BIGINT NOT NULL,"
    " head {BLOB} NOT NULL,"
    " jws TEXT NOT NULL);\n";

/* What a code issues is recorded when the code is used (access_jti,
 * family), so that a replay racing the first redemption revokes it, and a
 * person's grant to a client (codes, refresh tokens) is found by person and
 * client when the consent is revoked or the person disabled. */
static const char m10_grant_revocation[] =
    "ALTER TABLE authz_codes ADD COLUMN access_jti TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_codes ADD COLUMN family TEXT NOT NULL DEFAULT '';\n"
    "CREATE INDEX authz_codes_grant ON authz_codes(username, client_id);\n"
    "CREATE INDEX refresh_tokens_grant ON refresh_tokens(subject, client_id);\n";

/* What an approval approves: the hash of the metadata that was shown. */
static const char m11_request_metadata[] =
    "ALTER TABLE approval_requests ADD COLUMN metadata_hash TEXT;\n";

static const char m12_client_tombstones[] =
    "CREATE TABLE client_tombstones ("
    " client_id TEXT PRIMARY KEY,"
    " deleted_at BIGINT NOT NULL);\n";

/* Indexes nothing reads, dropped to cut what every token writes: each
 * opaque token touched a random page of tokens_jti (tokens are found by the
 * hash of their value; revoked jtis have their own table), and every audit
 * commit a page of audit_events_time (events are read in seq order). */
static const char m13_write_less[] =
    "DROP INDEX IF EXISTS tokens_jti;\n"
    "DROP INDEX IF EXISTS audit_events_time;\n";

/* Authorization requests and codes as typed columns instead of JSON
 * text: each member of params becomes a column (text members that were
 * absent stay NULL), existing rows are converted, and params goes. */
static const char m14_typed_authorization[] =
    "ALTER TABLE authz_requests ADD COLUMN redirect_uri TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_requests ADD COLUMN redirect_given BIGINT NOT NULL DEFAULT 0;\n"
    "ALTER TABLE authz_requests ADD COLUMN scope TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_requests ADD COLUMN resource TEXT;\n"
    "ALTER TABLE authz_requests ADD COLUMN state TEXT;\n"
    "ALTER TABLE authz_requests ADD COLUMN nonce TEXT;\n"
    "ALTER TABLE authz_requests ADD COLUMN code_challenge TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_requests ADD COLUMN prompt TEXT;\n"
    "ALTER TABLE authz_requests ADD COLUMN max_age BIGINT NOT NULL DEFAULT -1;\n"
    "ALTER TABLE authz_requests ADD COLUMN login_after BIGINT NOT NULL DEFAULT 0;\n"
    "ALTER TABLE authz_requests ADD COLUMN pushed BIGINT NOT NULL DEFAULT 0;\n"
    "ALTER TABLE authz_requests ADD COLUMN form_post BIGINT NOT NULL DEFAULT 0;\n"
    "UPDATE authz_requests SET"
    " redirect_uri=COALESCE({JSON_TEXT:params.redirect_uri},''),"
    " redirect_given={JSON_BOOL:params.redirect_given},"
    " scope=COALESCE({JSON_TEXT:params.scope},''),"
    " resource={JSON_TEXT:params.resource},"
    " state={JSON_TEXT:params.state},"
    " nonce={JSON_TEXT:params.nonce},"
    " code_challenge=COALESCE({JSON_TEXT:params.code_challenge},''),"
    " prompt={JSON_TEXT:params.prompt},"
    " max_age=COALESCE({JSON_INT:params.max_age},-1),"
    " login_after=COALESCE({JSON_INT:params.login_after},0),"
    " pushed={JSON_BOOL:params.pushed},"
    " form_post={JSON_BOOL:params.form_post};\n"
    "ALTER TABLE authz_requests DROP COLUMN params;\n"
    "ALTER TABLE authz_codes ADD COLUMN redirect_uri TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_codes ADD COLUMN redirect_given BIGINT NOT NULL DEFAULT 0;\n"
    "ALTER TABLE authz_codes ADD COLUMN code_challenge TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_codes ADD COLUMN scope TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_codes ADD COLUMN resource TEXT;\n"
    "ALTER TABLE authz_codes ADD COLUMN nonce TEXT;\n"
    "ALTER TABLE authz_codes ADD COLUMN auth_time BIGINT NOT NULL DEFAULT 0;\n"
    "ALTER TABLE authz_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_codes ADD COLUMN sid TEXT;\n"
    "UPDATE authz_codes SET"
    " redirect_uri=COALESCE({JSON_TEXT:params.redirect_uri},''),"
    " redirect_given={JSON_BOOL:params.redirect_given},"
    " code_challenge=COALESCE({JSON_TEXT:params.code_challenge},''),"
    " scope=COALESCE({JSON_TEXT:params.scope},''),"
    " resource={JSON_TEXT:params.resource},"
    " nonce={JSON_TEXT:params.nonce},"
    " auth_time=COALESCE({JSON_INT:params.auth_time},0),"
    " amr=COALESCE({JSON_TEXT:params.amr},''),"
    " sid={JSON_TEXT:params.sid};\n"
    "ALTER TABLE authz_codes DROP COLUMN params;\n";

/* Device authorizations (RFC 8628): found by the hash of the device_code
 * (polls) or of the user code (the /device page); the approval request is
 * bound once the user code is entered. Kept a day past expiry, so that a
 * late poll is told expired_token. */
static const char m15_device_codes[] =
    "CREATE TABLE device_codes ("
    " hash {BLOB} PRIMARY KEY,"
    " user_hash {BLOB} NOT NULL UNIQUE,"
    " client_id TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " resource TEXT,"
    " request_id TEXT,"
    " poll_interval BIGINT NOT NULL,"
    " last_poll BIGINT NOT NULL DEFAULT 0,"
    " slow_down BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " consumed_at BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX device_codes_expires ON device_codes(expires_at);\n";
/* Approval routing and notifications: the votes of a request that needs a
 * quorum (one per approver), and the outbox of webhook notifications, one
 * row per event and endpoint, written with what it notifies and claimed by
 * a delivery thread with a lease (lease_until) so that one node delivers
 * each attempt. */
static const char m16_votes_outbox[] =
    "CREATE TABLE approval_votes ("
    " request_id TEXT NOT NULL REFERENCES approval_requests(id) ON DELETE CASCADE,"
    " approver TEXT NOT NULL,"
    " decision TEXT NOT NULL,"
    " note TEXT,"
    " voted_at BIGINT NOT NULL,"
    " PRIMARY KEY (request_id, approver));\n"
    "CREATE TABLE webhook_outbox ("
    " id TEXT PRIMARY KEY,"
    " event_id TEXT NOT NULL,"
    " url TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " next_at BIGINT NOT NULL,"
    " attempts BIGINT NOT NULL DEFAULT 0,"
    " lease_until BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX webhook_outbox_due ON webhook_outbox(next_at);\n"
    "CREATE INDEX approval_requests_pending ON approval_requests(status, expires_at);\n";
/* CIBA (OpenID CIBA Core 1.0, poll mode): one row per backchannel
 * authentication request, found by the SHA-256 of its auth_req_id and
 * naming its approval request; the client's polls (last_poll, and the one
 * before it, prev_poll, for slow_down) and its single redemption
 * (consumed_at). single_use_tokens: the jti of each access token that may
 * be used once, and how often it was. */
static const char m17_ciba[] =
    "CREATE TABLE ciba_requests ("
    " hash {BLOB} PRIMARY KEY,"
    " request_id TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " poll_interval BIGINT NOT NULL,"
    " last_poll BIGINT NOT NULL DEFAULT 0,"
    " prev_poll BIGINT NOT NULL DEFAULT 0,"
    " expires_at BIGINT NOT NULL,"
    " consumed_at BIGINT NOT NULL DEFAULT 0);\n"
    "CREATE INDEX ciba_requests_expires ON ciba_requests(expires_at);\n"
    "CREATE TABLE single_use_tokens ("
    " jti TEXT PRIMARY KEY,"
    " uses BIGINT NOT NULL DEFAULT 0,"
    " expires_at BIGINT NOT NULL);\n"
    "CREATE INDEX single_use_tokens_expires ON single_use_tokens(expires_at);\n";

/* The client an audit event is about, as a column beside the body that
 * holds it (the chain covers the body only), so that a client's history is
 * one index range (`mandate audit export --client`, the admin API) instead
 * of a scan of the whole log. Existing events get it from their body. */
static const char m18_audit_client[] =
    "ALTER TABLE audit_events ADD COLUMN client_id TEXT;\n"
    "UPDATE audit_events SET client_id={JSON_TEXT:body.client_id};\n"
    "CREATE INDEX audit_events_client ON audit_events(client_id, seq);\n";

/* Dynamic entitlements (SPEC §3.6): one row per approved access request,
 * live until expires_at or until ended early (ended_at); kept 30 days
 * after either for the audit trail, then purged. An access request keeps
 * the client's justification and the duration it asked (seconds). */
static const char m19_entitlements[] =
    "CREATE TABLE entitlements ("
    " id TEXT PRIMARY KEY,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " resource TEXT,"
    " request_id TEXT,"
    " approved_by TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " ended_at BIGINT);\n"
    "CREATE INDEX entitlements_client ON entitlements(client_id);\n"
    "ALTER TABLE approval_requests ADD COLUMN justification TEXT;\n"
    "ALTER TABLE approval_requests ADD COLUMN duration BIGINT;\n";

/* Usage counted in memory and written in batches (iga/usage.c): last use
 * per (client, scope), tokens and last use per client per day (days since
 * the epoch); and the decisions of access reviews (iga/review.c). */
static const char m20_usage_reviews[] =
    "CREATE TABLE usage_scopes ("
    " client_id TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " last_used_at BIGINT NOT NULL,"
    " PRIMARY KEY (client_id, scope));\n"
    "CREATE TABLE usage_daily ("
    " client_id TEXT NOT NULL,"
    " day BIGINT NOT NULL,"
    " tokens BIGINT NOT NULL,"
    " last_used_at BIGINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (client_id, day));\n"
    "CREATE TABLE review_decisions ("
    " id TEXT PRIMARY KEY,"
    " finding_id TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " client_id TEXT NOT NULL,"
    " decision TEXT NOT NULL,"
    " note TEXT NOT NULL DEFAULT '',"
    " until_at BIGINT NOT NULL DEFAULT 0,"
    " decided_by TEXT NOT NULL,"
    " decided_at BIGINT NOT NULL);\n"
    "CREATE INDEX review_decisions_finding ON review_decisions(finding_id, decided_at);\n";

/* The embedded PDP's Cedar policies (policy/policies.h), one text per id
 * (a text may hold several policies), and the counter that moves in the
 * same transaction as every change of them, so that each node sees a
 * change with one cheap read. */
static const char m21_policies[] =
    "CREATE TABLE policies ("
    " id TEXT PRIMARY KEY,"
    " text TEXT NOT NULL,"
    " description TEXT,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " created_by TEXT NOT NULL);\n"
    "INSERT INTO store_counters (name, value) VALUES ('policies', 0);\n";

/* RFC 9449: the DPoP key a public client's refresh tokens are bound to
 * (§5), and the one an authorization request named in dpop_jkt, or /par
 * took from its proof, which its code is bound to (§10). */
static const char m22_dpop[] =
    "ALTER TABLE refresh_tokens ADD COLUMN cnf_jkt TEXT NOT NULL DEFAULT '';\n"
    "ALTER TABLE authz_requests ADD COLUMN dpop_jkt TEXT;\n"
    "ALTER TABLE authz_codes ADD COLUMN dpop_jkt TEXT;\n";

/* Opaque tokens keyed by an id that grows with time, so that each new row
 * appends to the table's indexes instead of dirtying a random leaf of an
 * index on the token's hash. The hash became a column without a key of its
 * own: a table rebuild (SQLite cannot drop a primary key), rows kept as
 * they were, without id. Those tokens, issued before ids, are found by hash
 * through tokens_hash, an index of the rows without id only: new rows never
 * write it, and it empties as the old tokens expire and are purged. */
static const char m23_token_ids[] =
    "CREATE TABLE tokens_by_id ("
    " id {BLOB},"
    " hash {BLOB} NOT NULL,"
    " jti TEXT NOT NULL,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " kind TEXT NOT NULL,"
    " claims TEXT NOT NULL,"
    " issued_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " revoked_at BIGINT NOT NULL DEFAULT 0);\n"
    "INSERT INTO tokens_by_id (hash,jti,client_id,kind,claims,issued_at,expires_at,revoked_at)"
    " SELECT hash,jti,client_id,kind,claims,issued_at,expires_at,revoked_at FROM tokens;\n"
    "DROP TABLE tokens;\n"
    "ALTER TABLE tokens_by_id RENAME TO tokens;\n"
    "CREATE UNIQUE INDEX tokens_id ON tokens(id);\n"
    "CREATE UNIQUE INDEX tokens_hash ON tokens(hash) WHERE id IS NULL;\n"
    "CREATE INDEX tokens_client ON tokens(client_id);\n"
    "CREATE INDEX tokens_expires ON tokens(expires_at);\n";

/* A version of each client, moved with the clients counter by every change
 * of that client, its credentials or its entitlements: a decision made from
 * a cached client names the version it saw, and the audit append that
 * records the decision checks it (mdt_client_check). */
static const char m24_client_versions[] =
    "ALTER TABLE clients ADD COLUMN version BIGINT NOT NULL DEFAULT 0;\n";

const mdt_migration mdt_store__migrations[] = {
    {1, "initial schema", m1_initial},
    {2, "users", m2_users},
    {3, "counters", m3_counters},
    {4, "credential names and replay cache", m4_credentials},
    {5, "registration: initial access tokens, approval requests, rate counters", m5_registration},
    {6, "web sessions", m6_web_sessions},
    {7, "authorization requests, codes and consents", m7_authorization},
    {8, "refresh token families", m8_refresh_tokens},
    {9, "audit checkpoints", m9_audit_checkpoints},
    {10, "what codes issue, and grants found by person and client", m10_grant_revocation},
    {11, "approval requests: hash of the metadata shown", m11_request_metadata},
    {12, "client tombstones", m12_client_tombstones},
    {13, "drop indexes nothing reads", m13_write_less},
    {14, "authorization requests and codes as typed columns", m14_typed_authorization},
    {15, "device authorizations", m15_device_codes},
    {16, "approval votes and the webhook outbox", m16_votes_outbox},
    {17, "CIBA requests and single-use tokens", m17_ciba},
    {18, "audit events found by client", m18_audit_client},
    {19, "dynamic entitlements, access request justification and duration", m19_entitlements},
    {20, "client usage and access review decisions", m20_usage_reviews},
    {21, "policies of the embedded PDP", m21_policies},
    {22, "refresh tokens and authorization codes bound to a DPoP key", m22_dpop},
    {23, "opaque tokens keyed by an id that grows with time", m23_token_ids},
    {24, "a version of each client", m24_client_versions},
};
const size_t mdt_store__migration_count = MDT_ARRAY_LEN(mdt_store__migrations);

const mdt_store_table mdt_store__tables[] = {
    {"clients", false},
    {"credentials", false},       /* -> clients */
    {"client_tombstones", false},
    {"scopes", false},
    {"scope_resources", false},   /* -> scopes */
    {"tokens", false},            /* -> clients */
    {"revoked_jtis", false},
    {"used_jtis", false},
    {"signing_keys", false},
    {"users", false},
    {"store_counters", true},     /* m3 inserts ('clients', 0), m21 ('policies', 0) */
    {"initial_access_tokens", false},
    {"approval_requests", false},
    {"approval_votes", false},     /* -> approval_requests */
    {"webhook_outbox", false},
    {"rate_counters", false},
    {"web_sessions", false},
    {"authz_requests", false},
    {"authz_codes", false},
    {"consents", false},
    {"refresh_tokens", false},
    {"device_codes", false},
    {"ciba_requests", false},
    {"single_use_tokens", false},
    {"entitlements", false},       /* -> clients */
    {"usage_scopes", false},
    {"usage_daily", false},
    {"review_decisions", false},
    {"policies", false},
    {"audit_events", false},
    {"audit_checkpoints", false},
};
const size_t mdt_store__table_count = MDT_ARRAY_LEN(mdt_store__tables);

int mdt_store__schema_latest(void)
{
    return mdt_store__migrations[mdt_store__migration_count - 1].version;
}

/* {JSON_...:COL.KEY} at *p (name: "{JSON_TEXT:"), read with j: advances *p
 * past it. COL and KEY are names: letters, digits and '_'. */
static mdt_rc add_json(mdt_buf *b, const char **p, const char *name, const mdt_sql_json *j)
{
    const char *col = *p + strlen(name), *dot, *end;
    mdt_rc rc;

    dot = col + strspn(col, "abcdefghijklmnopqrstuvwxyz0123456789_");
    end = *dot == '.' ? dot + 1 + strspn(dot + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") : dot;
    if (*dot != '.' || *end != '}' || dot == col || end == dot + 1) { /* not one: as is */
        (*p)++;
        return mdt_buf_add(b, "{", 1);
    }
    *p = end + 1;
    if ((rc = mdt_buf_adds(b, j->pre)) != MDT_OK ||
        (rc = mdt_buf_add(b, col, (size_t)(dot - col))) != MDT_OK ||
        (rc = mdt_buf_adds(b, j->mid)) != MDT_OK ||
        (rc = mdt_buf_add(b, dot + 1, (size_t)(end - dot - 1))) != MDT_OK)
        return rc;
    return mdt_buf_adds(b, j->post);
}

/* Appends the replacement of the placeholder at *p and advances *p past it;
 * a '{' that starts no placeholder is copied as is. */
static mdt_rc add_placeholder(mdt_buf *b, const char **p, const mdt_sql_dialect *d)
{
    static const char blob[] = "{BLOB}", seq_pk[] = "{SEQ_PK}";
    static const char jt[] = "{JSON_TEXT:", ji[] = "{JSON_INT:", jb[] = "{JSON_BOOL:";

    if (strncmp(*p, jt, sizeof(jt) - 1) == 0 && d->json_text.pre)
        return add_json(b, p, jt, &d->json_text);
    if (strncmp(*p, ji, sizeof(ji) - 1) == 0 && d->json_int.pre)
        return add_json(b, p, ji, &d->json_int);
    if (strncmp(*p, jb, sizeof(jb) - 1) == 0 && d->json_bool.pre)
        return add_json(b, p, jb, &d->json_bool);

    if (strncmp(*p, blob, sizeof(blob) - 1) == 0) {
        *p += sizeof(blob) - 1;
        return mdt_buf_adds(b, d->blob);
    }
    if (strncmp(*p, seq_pk, sizeof(seq_pk) - 1) == 0) {
        *p += sizeof(seq_pk) - 1;
        return mdt_buf_adds(b, d->seq_pk);
    }
    (*p)++;
    return mdt_buf_add(b, "{", 1);
}

char *mdt_store__migration_render(const mdt_migration *m, const mdt_sql_dialect *d)
{
    mdt_buf b;
    const char *p = m->sql;

    mdt_buf_init(&b, 1 << 20);
    while (*p) {
        const char *brace = strchr(p, '{');
        size_t n = brace ? (size_t)(brace - p) : strlen(p);

        if (mdt_buf_add(&b, p, n) != MDT_OK)
            goto fail;
        p += n;
        if (brace && add_placeholder(&b, &p, d) != MDT_OK)
            goto fail;
    }
    return mdt_buf_take(&b);
fail:
    mdt_buf_free(&b);
    return NULL;
}
