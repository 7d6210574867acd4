/* The portable SQL layer: every typed operation of store.h, written once
 * against the driver interface (driver.h). The SQL text below is the one
 * both engines run, with ?N placeholders; a driver's override table holds
 * the few statements whose text must differ (see sqlite.c and postgres.c).
 *
 * One connection per thread, kept under a pthread key owned by the store and
 * closed when the thread exits (or calls mdt_store_thread_done). Each
 * connection caches its prepared statements: prepared once, reset and
 * unbound after every use, so that a call on the token path allocates
 * nothing.
 *
 * Every transaction that writes starts with Q_BEGIN, which takes the write
 * lock before it reads where the engine has one (SQLite: BEGIN IMMEDIATE).
 * Single-use things are consumed in one conditional UPDATE ... RETURNING, so
 * that two threads or two nodes cannot both win. The audit chain is appended
 * under Q_AUDIT_LOCK (PostgreSQL: a transaction-scoped advisory lock; SQLite
 * needs none: BEGIN IMMEDIATE serialises writers), so that two processes
 * appending at once still make one chain. "now" is always bound from the
 * caller, never read from the database. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "store/driver.h"

#define CLIENT_COLS "client_id,status,metadata,created_at,updated_at,expires_at,tokens_valid_after"
#define CRED_COLS "id,client_id,type,hash,created_at,expires_at,last_used_at,name"
#define POLICY_COLS "id,text,description,created_at,updated_at,created_by"
#define SCOPE_COLS "name,description,sensitivity,created_at"
#define TOKEN_COLS "hash,jti,client_id,kind,claims,issued_at,expires_at,revoked_at,id"
#define KEY_COLS "kid,alg,sealed,created_at,activate_at,retire_at,expire_at"
#define AUDIT_COLS "seq,time,type,body,prev_hash,hash"
#define CKPT_COLS "n,seq,time,head,jws"
#define USER_COLS "username,name,email,roles,status,password_hash,created_at,updated_at"
#define IAT_COLS "id,hash,policy,max_uses,uses,created_at,expires_at,created_by"
#define VOTE_COLS "request_id,approver,decision,note,voted_at"
#define OBX_COLS "id,event_id,url,body,created_at,next_at,attempts,lease_until"
#define REQ_COLS "id,type,status,client_id,subject,scope,resource,binding_message," \
                 "authorization_details,created_at,expires_at,decided_by,decided_at,note," \
                 "metadata_hash,justification,duration"
#define ENT_COLS "id,client_id,scope,resource,request_id,approved_by,created_at,expires_at," \
                 "ended_at"
/* live at ?N: not ended, and not expired */
#define ENT_LIVE(n) "ended_at IS NULL AND (expires_at=0 OR expires_at>?" n ")"
#define SESS_COLS "hash,username,amr,auth_time,created_at,last_seen_at,expires_at,revoked_at"
#define AREQ_COLS "id,client_id,redirect_uri,redirect_given,scope,resource,state,nonce," \
                  "code_challenge,prompt,max_age,login_after,pushed,form_post,created_at," \
                  "expires_at,dpop_jkt"
#define CODE_COLS "hash,client_id,username,redirect_uri,redirect_given,code_challenge,scope," \
                  "resource,nonce,auth_time,amr,sid,created_at,expires_at,used_at,token_jtis," \
                  "tokens_expire_at,access_jti,family,dpop_jkt"
#define CONSENT_COLS "username,client_id,scope,created_at,updated_at"
#define DEV_COLS "hash,user_hash,client_id,scope,resource,request_id,poll_interval,last_poll," \
                 "created_at,expires_at,consumed_at,slow_down"
/* a poll sooner than the interval after the last one */
#define DEV_TOO_SOON "last_poll<>0 AND ?3-last_poll<poll_interval"
#define RT_COLS "hash,family,parent,client_id,subject,scope,resource,auth_time,amr,sid,cnf_x5t," \
    "created_at,expires_at,used_at,revoked_at,access_jti,access_exp,cnf_jkt"

static const char *const q_sql[Q_COUNT] = {
    /* taken by the driver's override (SQLite: BEGIN IMMEDIATE) */
    [Q_BEGIN] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_PING] = "SELECT 1",
    /* a client created again under the id of a deleted one: the deleted one's tokens stay
       inactive (tokens_valid_after past its deletion) */
    [Q_CLIENT_INSERT] = "INSERT INTO clients (" CLIENT_COLS ") VALUES (?1,?2,?3,?4,?5,?6,"
                        "MAX(?7, COALESCE((SELECT deleted_at+1 FROM client_tombstones"
                        " WHERE client_id=?1), 0)))",
    [Q_CLIENT_GET] = "SELECT " CLIENT_COLS ",version FROM clients WHERE client_id=?1",
    [Q_CLIENT_LIST] = "SELECT " CLIENT_COLS ",version FROM clients ORDER BY client_id",
    [Q_CLIENT_UPDATE] = "UPDATE clients SET status=?2,metadata=?3,updated_at=?4,expires_at=?5,"
                        "tokens_valid_after=?6 WHERE client_id=?1",
    [Q_CLIENT_DELETE] = "DELETE FROM clients WHERE client_id=?1",
    [Q_CRED_INSERT] = "INSERT INTO credentials (" CRED_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    [Q_CRED_GET] = "SELECT " CRED_COLS " FROM credentials WHERE id=?1",
    [Q_CRED_FIND] = "SELECT " CRED_COLS " FROM credentials WHERE type=?1 AND hash=?2 "
                    "ORDER BY created_at,id LIMIT 1",
    [Q_JTI_USE] = "INSERT INTO used_jtis (issuer,jti,expires_at) VALUES (?1,?2,?3) "
                  "ON CONFLICT (issuer,jti) DO UPDATE SET expires_at=excluded.expires_at "
                  "WHERE used_jtis.expires_at<=?4",
    [Q_PURGE_USED_JTIS] = "DELETE FROM used_jtis WHERE expires_at<=?1",
    [Q_CRED_LIST] = "SELECT " CRED_COLS " FROM credentials WHERE client_id=?1 "
                    "ORDER BY created_at,id",
    [Q_CRED_LAST_USED] = "SELECT client_id,MAX(last_used_at) FROM credentials "
                         "WHERE last_used_at>0 GROUP BY client_id ORDER BY client_id",
    [Q_CRED_EXPIRE_OTHERS] = "UPDATE credentials SET expires_at=?4 WHERE client_id=?1 AND type=?2"
                             " AND (?3 IS NULL OR id<>?3) AND (expires_at=0 OR expires_at>?4)",
    [Q_CRED_TOUCH] = "UPDATE credentials SET last_used_at=?2 WHERE id=?1",
    [Q_CRED_DELETE] = "DELETE FROM credentials WHERE client_id=?1 AND id=?2",
    [Q_SCOPE_INSERT] = "INSERT INTO scopes (" SCOPE_COLS ") VALUES (?1,?2,?3,?4)",
    [Q_SCOPE_RES_INSERT] = "INSERT INTO scope_resources (scope,pos,resource) VALUES (?1,?2,?3)",
    [Q_SCOPE_GET] = "SELECT " SCOPE_COLS " FROM scopes WHERE name=?1",
    [Q_SCOPE_RES] = "SELECT resource FROM scope_resources WHERE scope=?1 ORDER BY pos",
    [Q_SCOPE_LIST] = "SELECT " SCOPE_COLS " FROM scopes ORDER BY name",
    [Q_TOKEN_INSERT] = "INSERT INTO tokens (" TOKEN_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    /* rows without id: tokens issued before ids (m23), by tokens_hash */
    [Q_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE id IS NULL AND hash=?1",
    [Q_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at=?2 WHERE id IS NULL AND hash=?1 AND "
                       "revoked_at=0",
    [Q_TOKEN_EXISTS] = "SELECT 1 FROM tokens WHERE id IS NULL AND hash=?1",
    [Q_TOKEN_GET_ID] = "SELECT " TOKEN_COLS " FROM tokens WHERE id=?1",
    [Q_TOKEN_REVOKE_ID] = "UPDATE tokens SET revoked_at=?3 WHERE id=?1 AND hash=?2 AND "
                          "revoked_at=0",
    [Q_TOKEN_EXISTS_ID] = "SELECT 1 FROM tokens WHERE id=?1 AND hash=?2",
    [Q_JTI_REVOKE] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                     "VALUES (?1,?2,?3,?4) ON CONFLICT (jti) DO NOTHING",
    [Q_JTI_GET] = "SELECT 1 FROM revoked_jtis WHERE jti=?1",
    [Q_PURGE_TOKENS] = "DELETE FROM tokens WHERE expires_at<>0 AND expires_at<=?1",
    [Q_PURGE_JTIS] = "DELETE FROM revoked_jtis WHERE expires_at<=?1",
    [Q_KEY_INSERT] = "INSERT INTO signing_keys (" KEY_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7)",
    [Q_KEY_LIST] = "SELECT " KEY_COLS " FROM signing_keys ORDER BY activate_at,created_at,kid",
    [Q_KEY_SCHEDULE] = "UPDATE signing_keys SET retire_at=?2,expire_at=?3 WHERE kid=?1",
    [Q_USER_INSERT] = "INSERT INTO users (" USER_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    [Q_USER_GET] = "SELECT " USER_COLS " FROM users WHERE username=?1",
    [Q_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY username",
    [Q_USER_UPDATE] = "UPDATE users SET name=?2,email=?3,roles=?4,status=?5,password_hash=?6,"
                      "updated_at=?7 WHERE username=?1",
    [Q_USER_COUNT] = "SELECT COUNT(*) FROM users",
    [Q_CLIENTS_BUMP] = "UPDATE store_counters SET value=value+1 WHERE name='clients'",
    [Q_CLIENTS_VERSION] = "SELECT value FROM store_counters WHERE name='clients'",
    [Q_CLIENT_VERSION_BUMP] = "UPDATE clients SET version=version+1 WHERE client_id=?1",
    [Q_CLIENT_VERSION_OF] = "SELECT version FROM clients WHERE client_id=?1",
    [Q_AUDIT_LAST] = "SELECT seq,hash FROM audit_events ORDER BY seq DESC LIMIT 1",
    /* Q_AUDIT_LOCK: none here; a driver whose BEGIN does not serialise writers overrides it */
    [Q_AUDIT_EACH] = "SELECT " AUDIT_COLS " FROM audit_events "
                     "WHERE seq>?1 AND (?2=0 OR time>=?2) ORDER BY seq",
    [Q_AUDIT_EACH_CLIENT] = "SELECT " AUDIT_COLS " FROM audit_events "
                            "WHERE client_id=?3 AND seq>?1 AND (?2=0 OR time>=?2) ORDER BY seq",
    [Q_AUDIT_INSERT] = "INSERT INTO audit_events (" AUDIT_COLS ",client_id) "
                       "VALUES (?1,?2,?3,?4,?5,?6,?7)",
    [Q_AUDIT_FIND_TYPE] = "SELECT seq FROM audit_events WHERE type=?1 ORDER BY seq LIMIT 1",
    /* Only the next checkpoint: n = last n + 1 (or 1 on none), seq beyond the last. */
    [Q_CKPT_ADD] = "INSERT INTO audit_checkpoints (" CKPT_COLS ") SELECT ?1,?2,?3,?4,?5 "
                   "WHERE COALESCE((SELECT MAX(n) FROM audit_checkpoints),0)=?1-1 "
                   "AND COALESCE((SELECT MAX(seq) FROM audit_checkpoints),0)<?2",
    [Q_CKPT_EACH] = "SELECT " CKPT_COLS " FROM audit_checkpoints ORDER BY n",
    [Q_CKPT_LAST] = "SELECT " CKPT_COLS " FROM audit_checkpoints ORDER BY n DESC LIMIT 1",
    [Q_IAT_INSERT] = "INSERT INTO initial_access_tokens (" IAT_COLS ") "
                     "VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    [Q_IAT_FIND] = "SELECT " IAT_COLS " FROM initial_access_tokens WHERE hash=?1",
    [Q_IAT_GET] = "SELECT " IAT_COLS " FROM initial_access_tokens WHERE id=?1",
    [Q_IAT_CONSUME] = "UPDATE initial_access_tokens SET uses=uses+1 WHERE id=?1 AND "
                      "uses<max_uses AND (expires_at=0 OR expires_at>?2) RETURNING " IAT_COLS,
    [Q_REQ_INSERT] = "INSERT INTO approval_requests (" REQ_COLS ") "
                     "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
    [Q_REQ_GET] = "SELECT " REQ_COLS " FROM approval_requests WHERE id=?1",
    [Q_REQ_LIST] = "SELECT " REQ_COLS " FROM approval_requests ORDER BY created_at,id",
    [Q_REQ_DECIDE] = "UPDATE approval_requests SET status=?2,decided_by=?3,decided_at=?4,note=?5 "
                     "WHERE id=?1 AND status='pending' AND (expires_at=0 OR expires_at>?4) "
                     "RETURNING " REQ_COLS,
    /* takes the row lock of a pending request (PostgreSQL: until the end of
       the transaction; SQLite's BEGIN IMMEDIATE already serialises writers) */
    [Q_REQ_LOCK] = "UPDATE approval_requests SET status=status WHERE id=?1 AND status='pending' "
                   "AND (expires_at=0 OR expires_at>?2)",
    [Q_VOTE_INSERT] = "INSERT INTO approval_votes (" VOTE_COLS ") VALUES (?1,?2,?3,?4,?5) "
                      "ON CONFLICT (request_id,approver) DO NOTHING",
    [Q_VOTE_ALLOWS] = "SELECT COUNT(*) FROM approval_votes WHERE request_id=?1 AND decision='allow'",
    [Q_VOTE_LIST] = "SELECT " VOTE_COLS " FROM approval_votes ORDER BY request_id,voted_at,approver",
    [Q_VOTE_LIST_FOR] = "SELECT " VOTE_COLS " FROM approval_votes WHERE request_id=?1 "
                        "ORDER BY voted_at,approver",
    [Q_REQ_LIST_PENDING] = "SELECT " REQ_COLS " FROM approval_requests WHERE status='pending' "
                           "AND (expires_at=0 OR expires_at>?1) ORDER BY created_at,id",
    [Q_REQ_COUNT_PENDING] = "SELECT COUNT(*) FROM approval_requests WHERE status='pending' "
                            "AND (expires_at=0 OR expires_at>?1)",
    [Q_REQ_EXPIRE_DUE] = "UPDATE approval_requests SET status='expired',decided_at=?1 "
                         "WHERE status='pending' AND expires_at<>0 AND expires_at<=?1 "
                         "AND id IN (SELECT id FROM approval_requests WHERE status='pending' "
                         "AND expires_at<>0 AND expires_at<=?1 ORDER BY expires_at,id LIMIT ?2) "
                         "RETURNING " REQ_COLS,
    [Q_OBX_INSERT] = "INSERT INTO webhook_outbox (" OBX_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
    /* the outer conditions are checked again on the row a concurrent claim
       may have changed, so that two nodes never both claim one delivery */
    [Q_OBX_CLAIM] = "UPDATE webhook_outbox SET lease_until=?2,attempts=attempts+1 "
                    "WHERE next_at<=?1 AND lease_until<=?1 AND id IN (SELECT id FROM "
                    "webhook_outbox WHERE next_at<=?1 AND lease_until<=?1 "
                    "ORDER BY next_at,id LIMIT ?3) RETURNING " OBX_COLS,
    [Q_OBX_DELETE] = "DELETE FROM webhook_outbox WHERE id=?1",
    [Q_OBX_RETRY] = "UPDATE webhook_outbox SET next_at=?2,lease_until=0 WHERE id=?1",
    [Q_OBX_LIST] = "SELECT " OBX_COLS " FROM webhook_outbox ORDER BY created_at,id",
    [Q_CIBA_INSERT] = "INSERT INTO ciba_requests (hash,request_id,client_id,poll_interval,"
                      "last_poll,prev_poll,expires_at,consumed_at) VALUES (?1,?2,?3,?4,0,0,?5,0)",
    /* SET reads the row as it was: prev_poll gets the poll before this one */
    [Q_CIBA_POLL] = "UPDATE ciba_requests SET prev_poll=last_poll,last_poll=?3 "
                    "WHERE hash=?1 AND client_id=?2 "
                    "RETURNING request_id,client_id,poll_interval,prev_poll,expires_at,consumed_at",
    [Q_CIBA_CONSUME] = "UPDATE ciba_requests SET consumed_at=?2 WHERE hash=?1 AND consumed_at=0 "
                       "RETURNING request_id",
    [Q_PURGE_CIBA] = "DELETE FROM ciba_requests WHERE expires_at<?1-86400",
    [Q_CIBA_GET] = "SELECT request_id,client_id,poll_interval,last_poll,expires_at,consumed_at "
                   "FROM ciba_requests WHERE hash=?1 AND client_id=?2",
    [Q_ONCE_INSERT] = "INSERT INTO single_use_tokens (jti,uses,expires_at) VALUES (?1,0,?2)",
    [Q_ONCE_USE] = "UPDATE single_use_tokens SET uses=uses+1 WHERE jti=?1 RETURNING uses",
    [Q_PURGE_ONCE] = "DELETE FROM single_use_tokens WHERE expires_at<=?1",
    [Q_ENT_INSERT] = "INSERT INTO entitlements (" ENT_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,NULL)",
    [Q_ENT_LIST] = "SELECT " ENT_COLS " FROM entitlements WHERE client_id=?1 AND " ENT_LIVE("2")
                   " ORDER BY created_at,id",
    [Q_ENT_END] = "UPDATE entitlements SET ended_at=?3 WHERE id=?1 AND client_id=?2 AND "
                  ENT_LIVE("3") " RETURNING " ENT_COLS,
    /* kept MDT_ENTITLEMENT_KEEP (30 days) after they ended or expired, for audit */
    [Q_PURGE_ENTS] = "DELETE FROM entitlements WHERE (ended_at IS NOT NULL AND ended_at<?1-2592000) "
                     "OR (expires_at<>0 AND expires_at<?1-2592000)",
    [Q_RATE_HIT] = "INSERT INTO rate_counters (name,window_start,count) VALUES (?1,?2,1) "
                   "ON CONFLICT (name,window_start) DO UPDATE SET count=rate_counters.count+1 "
                   "RETURNING count",
    [Q_PURGE_RATES] = "DELETE FROM rate_counters WHERE window_start<?1-86400",
    [Q_RATE_PEEK] = "SELECT count FROM rate_counters WHERE name=?1 AND window_start=?2",
    [Q_SESS_INSERT] = "INSERT INTO web_sessions (" SESS_COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,0)",
    [Q_SESS_GET] = "SELECT " SESS_COLS " FROM web_sessions WHERE hash=?1",
    [Q_SESS_TOUCH] = "UPDATE web_sessions SET last_seen_at=?2 WHERE hash=?1 AND revoked_at=0",
    [Q_SESS_REVOKE] = "UPDATE web_sessions SET revoked_at=?2 WHERE hash=?1 AND revoked_at=0",
    [Q_PURGE_SESSIONS] = "DELETE FROM web_sessions WHERE expires_at<?1-86400",
    [Q_AREQ_INSERT] = "INSERT INTO authz_requests (" AREQ_COLS ") "
                      "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
    [Q_AREQ_GET] = "SELECT " AREQ_COLS " FROM authz_requests WHERE id=?1 AND expires_at>?2",
    [Q_AREQ_TAKE] = "DELETE FROM authz_requests WHERE id=?1 AND expires_at>?2 RETURNING " AREQ_COLS,
    [Q_PURGE_AREQS] = "DELETE FROM authz_requests WHERE expires_at<=?1",
    [Q_CODE_INSERT] = "INSERT INTO authz_codes (" CODE_COLS ") "
                      "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,0,'',0,'','',?15)",
    [Q_CODE_CONSUME] = "UPDATE authz_codes SET used_at=?2,access_jti=?3,family=?4,"
                       "tokens_expire_at=?5 WHERE hash=?1 AND used_at=0 AND expires_at>?2 "
                       "RETURNING " CODE_COLS,
    [Q_CODE_GET] = "SELECT " CODE_COLS " FROM authz_codes WHERE hash=?1",
    /* a used code is kept while its tokens live, so that a replay still revokes them */
    [Q_PURGE_CODES] = "DELETE FROM authz_codes WHERE expires_at<?1-86400 AND tokens_expire_at<?1",
    [Q_CONSENT_GET] = "SELECT " CONSENT_COLS " FROM consents WHERE username=?1 AND client_id=?2",
    [Q_CONSENT_PUT] = "INSERT INTO consents (" CONSENT_COLS ") VALUES (?1,?2,?3,?4,?5) "
                      "ON CONFLICT (username,client_id) DO UPDATE SET scope=excluded.scope,"
                      "updated_at=excluded.updated_at",
    [Q_CONSENT_LIST] = "SELECT " CONSENT_COLS " FROM consents WHERE username=?1 ORDER BY client_id",
    [Q_CONSENT_DELETE] = "DELETE FROM consents WHERE username=?1 AND client_id=?2",
    /* not into a revoked family: a reuse detected during this rotation wins */
    [Q_RT_INSERT] = "INSERT INTO refresh_tokens (" RT_COLS ") SELECT ?1,?2,?3,?4,?5,?6,?7,?8,?9,"
                    "?10,?11,?12,?13,0,0,?14,?15,?16 WHERE NOT EXISTS (SELECT 1 FROM "
                    "refresh_tokens WHERE family=?2 AND revoked_at<>0)",
    [Q_RT_GET] = "SELECT " RT_COLS " FROM refresh_tokens WHERE hash=?1",
    [Q_RT_CONSUME] = "UPDATE refresh_tokens SET used_at=?2 WHERE hash=?1 AND used_at=0 AND "
                     "revoked_at=0 AND expires_at>?2 RETURNING " RT_COLS,
    [Q_RT_REVOKE] = "UPDATE refresh_tokens SET revoked_at=?2 WHERE family=?1 AND revoked_at=0",
    [Q_RT_REVOKE_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                         "SELECT access_jti,client_id,access_exp,?2 FROM refresh_tokens "
                         "WHERE family=?1 AND access_jti<>'' AND access_exp>?2 "
                         "ON CONFLICT (jti) DO NOTHING",
    /* kept while the access tokens issued with them live */
    [Q_PURGE_RTS] = "DELETE FROM refresh_tokens WHERE expires_at<?1-86400 AND access_exp<?1",
    [Q_RATE_RELEASE] = "UPDATE rate_counters SET count=count-1 WHERE name=?1 AND window_start=?2 "
                       "AND count>0",
    [Q_SESS_REVOKE_USER] = "UPDATE web_sessions SET revoked_at=?2 WHERE username=?1 AND "
                           "revoked_at=0",
    /* a grant: what username allowed client_id (?2 NULL: every client), ended at ?3 */
    [Q_GRANT_CONSENT] = "DELETE FROM consents WHERE username=?1 AND (?2 IS NULL OR client_id=?2)",
    [Q_GRANT_CODES_EXPIRE] = "UPDATE authz_codes SET expires_at=?3 WHERE username=?1 AND "
                             "(?2 IS NULL OR client_id=?2) AND used_at=0 AND expires_at>?3",
    [Q_GRANT_CODE_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                          "SELECT access_jti,client_id,tokens_expire_at,?3 FROM authz_codes "
                          "WHERE username=?1 AND (?2 IS NULL OR client_id=?2) AND "
                          "access_jti<>'' AND tokens_expire_at>?3 ON CONFLICT (jti) DO NOTHING",
    [Q_GRANT_CODE_FAMILIES] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                              "SELECT family,client_id,tokens_expire_at,?3 FROM authz_codes "
                              "WHERE username=?1 AND (?2 IS NULL OR client_id=?2) AND "
                              "family<>'' AND tokens_expire_at>?3 ON CONFLICT (jti) DO NOTHING",
    [Q_GRANT_RT_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                        "SELECT access_jti,client_id,access_exp,?3 FROM refresh_tokens "
                        "WHERE subject=?1 AND (?2 IS NULL OR client_id=?2) AND access_jti<>'' "
                        "AND access_exp>?3 ON CONFLICT (jti) DO NOTHING",
    [Q_GRANT_RT_REVOKE] = "UPDATE refresh_tokens SET revoked_at=?3 WHERE subject=?1 AND "
                          "(?2 IS NULL OR client_id=?2) AND revoked_at=0",
    [Q_CLIENT_TOMBSTONE] = "INSERT INTO client_tombstones (client_id, deleted_at)"
                           " SELECT client_id, ?2 FROM clients WHERE client_id=?1"
                           " ON CONFLICT (client_id) DO UPDATE SET deleted_at=excluded.deleted_at",
    [Q_CLIENT_DELETED_AT] = "SELECT deleted_at FROM client_tombstones WHERE client_id=?1",
    /* Q_RT_FAMILY_LOCK: none here; a driver whose writers do not exclude each other
       overrides it to order a family's rotation and its revocation */
    [Q_DEV_INSERT] = "INSERT INTO device_codes (" DEV_COLS ") "
                     "VALUES (?1,?2,?3,?4,?5,NULL,?6,0,?7,?8,0,0)",
    [Q_DEV_FIND_USER] = "SELECT " DEV_COLS " FROM device_codes WHERE user_hash=?1 AND "
                        "request_id IS NULL AND consumed_at=0 AND expires_at>?2",
    [Q_DEV_BIND] = "UPDATE device_codes SET request_id=?2 WHERE user_hash=?1 AND "
                   "request_id IS NULL AND consumed_at=0 AND expires_at>?3 RETURNING " DEV_COLS,
    [Q_DEV_POLL] = "UPDATE device_codes SET "
                   "slow_down=CASE WHEN " DEV_TOO_SOON " THEN 1 ELSE 0 END,"
                   "poll_interval=CASE WHEN " DEV_TOO_SOON " AND poll_interval<300 "
                   "THEN poll_interval+5 ELSE poll_interval END,"
                   "last_poll=?3 WHERE hash=?1 AND client_id=?2 RETURNING " DEV_COLS,
    [Q_DEV_CONSUME] = "UPDATE device_codes SET consumed_at=?3 WHERE hash=?1 AND client_id=?2 AND "
                      "consumed_at=0 AND expires_at>?3 RETURNING " DEV_COLS,
    [Q_PURGE_DEVICE] = "DELETE FROM device_codes WHERE expires_at<?1-86400",
    [Q_DEV_GET] = "SELECT " DEV_COLS " FROM device_codes WHERE hash=?1 AND client_id=?2",
    /* usage batches: counters add, last use takes the greater (several nodes agree) */
    [Q_USAGE_SCOPE_UPSERT] = "INSERT INTO usage_scopes (client_id,scope,last_used_at) "
                             "VALUES (?1,?2,?3) ON CONFLICT (client_id,scope) DO UPDATE SET "
                             "last_used_at=MAX(usage_scopes.last_used_at,excluded.last_used_at)",
    [Q_USAGE_DAY_UPSERT] = "INSERT INTO usage_daily (client_id,day,tokens,last_used_at) "
                           "VALUES (?1,?2,?3,?4) ON CONFLICT (client_id,day) DO UPDATE SET "
                           "tokens=usage_daily.tokens+excluded.tokens,"
                           "last_used_at=MAX(usage_daily.last_used_at,excluded.last_used_at)",
    [Q_USAGE_SCOPE_LIST] = "SELECT client_id,scope,last_used_at FROM usage_scopes "
                           "ORDER BY client_id,scope",
    [Q_USAGE_DAY_LIST] = "SELECT client_id,day,tokens,last_used_at FROM usage_daily "
                         "WHERE (?1 IS NULL OR client_id=?1) AND day>=?2 ORDER BY client_id,day",
    /* ?1: now; kept 400 days */
    [Q_PURGE_USAGE] = "DELETE FROM usage_daily WHERE day<?1/86400-400",
    [Q_RT_LIVE_COUNT] = "SELECT COUNT(*) FROM refresh_tokens WHERE client_id=?1 AND "
                        "revoked_at=0 AND used_at=0 AND expires_at>?2",
    [Q_RT_CLIENT_JTIS] = "INSERT INTO revoked_jtis (jti,client_id,expires_at,revoked_at) "
                         "SELECT access_jti,client_id,access_exp,?2 FROM refresh_tokens "
                         "WHERE client_id=?1 AND revoked_at=0 AND access_jti<>'' AND "
                         "access_exp>?2 ON CONFLICT (jti) DO NOTHING",
    [Q_RT_REVOKE_CLIENT] = "UPDATE refresh_tokens SET revoked_at=?2 WHERE client_id=?1 AND "
                           "revoked_at=0",
    [Q_REVIEW_INSERT] = "INSERT INTO review_decisions (id,finding_id,kind,client_id,decision,"
                        "note,until_at,decided_by,decided_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [Q_REVIEW_LIST] = "SELECT id,finding_id,kind,client_id,decision,note,until_at,decided_by,"
                      "decided_at FROM review_decisions ORDER BY decided_at,id",
    [Q_POLICY_INSERT] = "INSERT INTO policies (" POLICY_COLS ") VALUES (?1,?2,?3,?4,?5,?6)",
    [Q_POLICY_UPDATE] = "UPDATE policies SET text=?2,description=?3,updated_at=?4 WHERE id=?1",
    [Q_POLICY_GET] = "SELECT " POLICY_COLS " FROM policies WHERE id=?1",
    [Q_POLICY_LIST] = "SELECT " POLICY_COLS " FROM policies ORDER BY id",
    [Q_POLICY_DELETE] = "DELETE FROM policies WHERE id=?1",
    [Q_POLICIES_BUMP] = "UPDATE store_counters SET value=value+1 WHERE name='policies'",
    [Q_POLICIES_VERSION] = "SELECT value FROM store_counters WHERE name='policies'",
    [Q_MIGRATIONS_CREATE] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            "version INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    /* Q_MIGRATIONS_EXISTS: the engine's catalogue, in each driver's table */
    [Q_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version),0) FROM schema_migrations",
    [Q_MIGRATION_RECORD] = "INSERT INTO schema_migrations (version,name) VALUES (?1,?2)",
};

typedef struct sql_store sql_store;

typedef struct sconn {
    mdt_db_conn *db;
    const mdt_db_driver *drv;
    mdt_db_stmt *st[Q_COUNT];
    sql_store *owner;
    struct sconn *prev, *next; /* in owner->conns */
    bool clients_moved; /* the open transaction moved the clients counter */
    /* the read scope (mdt_store_read_begin) of this thread */
    bool scopes;          /* the driver has read scopes (Q_READ_BEGIN, readonly) */
    int read_depth;       /* scopes open, nested ones counted */
    bool read_open;       /* the scope's read transaction is open */
    bool read_split;      /* a write ended it: the scope's later reads run alone */
    bool clients_known;   /* clients_version read in this read transaction */
    int64_t clients_version;
} sconn;

struct sql_store {
    mdt_store base; /* first */
    const mdt_db_driver *drv;
    void *ctx; /* the driver's */
    pthread_key_t key;
    pthread_mutex_t mu; /* guards conns */
    sconn *conns;
};

static const mdt_store_ops sql_ops;

static sql_store *S(mdt_store *s) { return (sql_store *)s; }

const char *mdt_store__sql_text(const mdt_db_driver *drv, int id)
{
    if (id < 0 || id >= Q_COUNT)
        return NULL;
    if (drv->override && drv->override[id])
        return drv->override[id];
    return q_sql[id];
}

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* Binders return 0 when bound; callers OR them together. */
static inline int bind_int(mdt_db_stmt *st, int i, int64_t v)
{
    return st->drv->bind_int64(st, i, v);
}

static inline int bind_text(mdt_db_stmt *st, int i, const char *s)
{
    return st->drv->bind_text(st, i, s);
}

static inline int bind_blob(mdt_db_stmt *st, int i, const void *p, size_t n)
{
    return st->drv->bind_blob(st, i, p, n);
}

static inline int bind_null(mdt_db_stmt *st, int i)
{
    return st->drv->bind_null(st, i);
}

static inline int64_t col_int(mdt_db_stmt *st, int i)
{
    return st->drv->col_int64(st, i);
}

static inline int64_t changes(sconn *c)
{
    return c->drv->changes(c->db);
}

/* ------------------------------------------------------------ connections */

static void conn_close(sconn *c)
{
    if (!c)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        if (c->st[i])
            c->drv->finalize(c->st[i]);
    if (c->db)
        c->drv->disconnect(c->db);
    free(c);
}

static void conn_unlink(sconn *c)
{
    sql_store *s = c->owner;

    pthread_mutex_lock(&s->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->mu);
}

/* The pthread key's destructor: the thread exits with its connection. */
static void conn_destroy(void *p)
{
    sconn *c = p;

    conn_unlink(c);
    conn_close(c);
}

/* This thread's connection, opened on first use. */
static mdt_rc conn_get(sql_store *s, sconn **out, mdt_err *err)
{
    sconn *c = pthread_getspecific(s->key);
    mdt_rc rc;

    if (c) {
        *out = c;
        return MDT_OK;
    }
    if (!(c = calloc(1, sizeof(*c))))
        return nomem(err);
    c->owner = s;
    c->drv = s->drv;
    c->scopes = s->drv->readonly && mdt_store__sql_text(s->drv, Q_READ_BEGIN);
    if ((rc = s->drv->connect(s->ctx, &c->db, err)) != MDT_OK) {
        free(c);
        return rc;
    }
    if (pthread_setspecific(s->key, c) != 0) {
        conn_close(c);
        return nomem(err);
    }
    pthread_mutex_lock(&s->mu);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    return MDT_OK;
}

/* ------------------------------------------------------------- statements */

static mdt_rc scope_enter(sconn *c, enum mdt_q q, mdt_db_stmt *st, mdt_err *err);

static mdt_rc stmt(sconn *c, enum mdt_q q, mdt_db_stmt **out, mdt_err *err)
{
    if (!c->st[q]) {
        const char *sql = mdt_store__sql_text(c->drv, q);
        mdt_rc rc;

        if (!sql)
            return mdt_failf(err, MDT_ERR_INTERNAL, "database error",
                             "statement %d has no SQL for %s", (int)q, c->drv->name);
        if ((rc = c->drv->prepare(c->db, (int)q, sql, &c->st[q], err)) != MDT_OK)
            return rc;
    }
    if (c->drv->busy(c->st[q])) /* re-entered from a callback on this thread */
        return mdt_fail(err, MDT_ERR_INTERNAL, "store statement already in use");
    if (c->read_depth > 0) {
        mdt_rc rc = scope_enter(c, q, c->st[q], err);
        if (rc != MDT_OK)
            return rc;
    }
    *out = c->st[q];
    return MDT_OK;
}

/* This thread's connection and its cached statement q. */
static mdt_rc prep(mdt_store *s, enum mdt_q q, sconn **c, mdt_db_stmt **st, mdt_err *err)
{
    mdt_rc rc = conn_get(S(s), c, err);

    return rc != MDT_OK ? rc : stmt(*c, q, st, err);
}

static void done(mdt_db_stmt *st)
{
    st->drv->reset(st);
}

/* Steps a statement that returns no row (or whose rows are not read), then
 * resets it. */
static mdt_rc run(sconn *c, mdt_db_stmt *st, int bound, const char *what, mdt_err *err)
{
    mdt_rc rc;
    bool row;

    if (bound != 0)
        rc = c->drv->fail(c->db, what, err);
    else
        rc = c->drv->step(st, &row, what, err);
    done(st);
    return rc;
}

/* Steps to the first row (MDT_OK) or reports MDT_ERR_NOT_FOUND with
 * notfound. Leaves the statement for the caller to read and reset. */
static mdt_rc first_row(sconn *c, mdt_db_stmt *st, int bound, const char *what,
                        const char *notfound, mdt_err *err)
{
    bool row = false;
    mdt_rc rc;

    if (bound != 0)
        return c->drv->fail(c->db, what, err);
    if ((rc = c->drv->step(st, &row, what, err)) != MDT_OK)
        return rc;
    return row ? MDT_OK : mdt_fail(err, MDT_ERR_NOT_FOUND, notfound);
}

/* Runs a cached statement without parameters (BEGIN, COMMIT, ...). */
static mdt_rc run_q(sconn *c, enum mdt_q q, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, q, &st, err);

    return rc != MDT_OK ? rc : run(c, st, 0, mdt_store__sql_text(c->drv, q), err);
}

/* Runs q when the driver has SQL for it; nothing otherwise. */
static mdt_rc run_q_if(sconn *c, enum mdt_q q, mdt_err *err)
{
    return mdt_store__sql_text(c->drv, q) ? run_q(c, q, err) : MDT_OK;
}

static mdt_rc tx_begin(sconn *c, mdt_err *err)
{
    return run_q(c, Q_BEGIN, err);
}

/* Commits when rc is MDT_OK, else (or when the commit fails) rolls back.
 * Returns the final result. */
static mdt_rc tx_end(sconn *c, mdt_rc rc, mdt_err *err)
{
    if (rc == MDT_OK)
        rc = run_q(c, Q_COMMIT, err);
    if (rc == MDT_OK && c->clients_moved)
        mdt_store__clients_moved(&c->owner->base);
    c->clients_moved = false;
    if (rc != MDT_OK && c->drv->in_tx(c->db)) {
        if (run_q(c, Q_ROLLBACK, NULL) != MDT_OK)
            c->drv->exec(c->db, "ROLLBACK", "rollback", NULL);
    }
    return rc;
}

/* ------------------------------------------------------------ read scopes */

/* Commits the scope's read transaction, if open (a read-only transaction:
 * nothing is lost when it rolls back instead; and one the engine already
 * rolled back after an error has nothing left to end). */
static mdt_rc scope_commit(sconn *c, mdt_err *err)
{
    mdt_rc rc = MDT_OK;

    if (c->read_open) {
        c->read_open = false;
        if (c->drv->in_tx(c->db))
            rc = tx_end(c, MDT_OK, err);
    }
    c->clients_known = false;
    return rc;
}

/* Called for every statement about to run inside a read scope. A read
 * joins the scope's transaction, opened by the scope's first read. Anything
 * that writes (a write transaction's BEGIN, a single write statement) first
 * ends the scope: on SQLite a write cannot start from a read snapshot that
 * another connection's commit has made stale (SQLITE_BUSY_SNAPSHOT, without
 * waiting), and a write transaction must begin with the write lock. The
 * write then runs as it does outside a scope, and so do the scope's later
 * reads. */
static mdt_rc scope_enter(sconn *c, enum mdt_q q, mdt_db_stmt *st, mdt_err *err)
{
    bool reads;
    mdt_rc rc;

    if (!c->scopes || q == Q_READ_BEGIN || q == Q_COMMIT || q == Q_ROLLBACK)
        return MDT_OK;
    reads = q != Q_BEGIN && c->drv->readonly(st);
    if (!reads) {
        c->read_split = true;
        return scope_commit(c, err);
    }
    if (c->read_open || c->read_split || c->drv->in_tx(c->db))
        return MDT_OK;
    if ((rc = run_q(c, Q_READ_BEGIN, err)) != MDT_OK)
        return rc;
    c->read_open = true;
    return MDT_OK;
}

static void sql_read_begin(mdt_store *base)
{
    sconn *c;

    if (conn_get(S(base), &c, NULL) == MDT_OK)
        c->read_depth++;
}

/* Ends every level of the scope: the thread's reads run alone again. */
static int scope_close(sconn *c)
{
    int depth = c->read_depth;
    mdt_err err = {0};

    c->read_depth = 0;
    c->read_split = false;
    if (scope_commit(c, &err) != MDT_OK)
        MDT_WARN("end of a read scope: %s", mdt_err_text(&err));
    return depth;
}

static void sql_read_end(mdt_store *base)
{
    sconn *c = pthread_getspecific(S(base)->key);

    if (!c || c->read_depth == 0)
        return;
    if (c->read_depth > 1)
        c->read_depth--;
    else
        scope_close(c);
}

static int sql_read_reset(mdt_store *base)
{
    sconn *c = pthread_getspecific(S(base)->key);

    return c && c->read_depth > 0 ? scope_close(c) : 0;
}

/* ------------------------------------------------------------ row reading */

typedef struct {
    mdt_arena *a;
    bool oom;
} rd;

/* Copies a text column into the arena; NULL column gives NULL. */
static const char *rd_text(rd *r, mdt_db_stmt *st, int i)
{
    size_t n = 0;
    const char *t = st->drv->col_text(st, i, &n);
    char *p;

    if (!t)
        return NULL;
    p = mdt_arena_strndup(r->a, t, n);
    if (!p)
        r->oom = true;
    return p;
}

static void rd_hash(mdt_db_stmt *st, int i, uint8_t out[MDT_HASH_LEN])
{
    size_t n = 0;
    const void *p = st->drv->col_blob(st, i, &n);

    memset(out, 0, MDT_HASH_LEN);
    if (p && n > 0)
        memcpy(out, p, n < MDT_HASH_LEN ? n : MDT_HASH_LEN);
}

typedef mdt_rc (*row_fn)(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err);

static mdt_rc rd_end(const rd *r, mdt_err *err)
{
    return r->oom ? nomem(err) : MDT_OK;
}

static mdt_rc row_client(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_client_rec *v = dst;
    rd r = {a, false};

    v->client_id = rd_text(&r, st, 0);
    v->status = rd_text(&r, st, 1);
    v->metadata = rd_text(&r, st, 2);
    v->created_at = col_int(st, 3);
    v->updated_at = col_int(st, 4);
    v->expires_at = col_int(st, 5);
    v->tokens_valid_after = col_int(st, 6);
    v->version = col_int(st, 7);
    return rd_end(&r, err);
}

static mdt_rc row_cred(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_cred_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    v->client_id = rd_text(&r, st, 1);
    v->type = rd_text(&r, st, 2);
    rd_hash(st, 3, v->hash);
    v->created_at = col_int(st, 4);
    v->expires_at = col_int(st, 5);
    v->last_used_at = col_int(st, 6);
    v->name = rd_text(&r, st, 7);
    return rd_end(&r, err);
}

static mdt_rc row_scope(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_scope_rec *v = dst;
    rd r = {a, false};

    v->name = rd_text(&r, st, 0);
    v->description = rd_text(&r, st, 1);
    v->sensitivity = rd_text(&r, st, 2);
    v->created_at = col_int(st, 3);
    v->resources = NULL;
    return rd_end(&r, err);
}

static mdt_rc row_token(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_token_rec *v = dst;
    rd r = {a, false};
    size_t n = 0;

    rd_hash(st, 0, v->hash);
    v->jti = rd_text(&r, st, 1);
    v->client_id = rd_text(&r, st, 2);
    v->kind = rd_text(&r, st, 3);
    v->claims = rd_text(&r, st, 4);
    v->issued_at = col_int(st, 5);
    v->expires_at = col_int(st, 6);
    v->revoked_at = col_int(st, 7);
    if ((v->has_id = !st->drv->col_null(st, 8))) {
        const void *p = st->drv->col_blob(st, 8, &n);
        memset(v->id, 0, sizeof(v->id));
        if (p && n == sizeof(v->id))
            memcpy(v->id, p, n);
    }
    return rd_end(&r, err);
}

static mdt_rc row_key(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_key_rec *v = dst;
    rd r = {a, false};
    size_t n = 0;
    const void *blob = st->drv->col_blob(st, 2, &n);
    uint8_t *sealed = mdt_arena_alloc(a, n + 1);

    if (!sealed)
        return nomem(err);
    if (blob && n)
        memcpy(sealed, blob, n);
    v->kid = rd_text(&r, st, 0);
    v->alg = rd_text(&r, st, 1);
    v->sealed = sealed;
    v->sealed_len = n;
    v->created_at = col_int(st, 3);
    v->activate_at = col_int(st, 4);
    v->retire_at = col_int(st, 5);
    v->expire_at = col_int(st, 6);
    return rd_end(&r, err);
}

static mdt_rc row_user(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_user_rec *v = dst;
    rd r = {a, false};

    v->username = rd_text(&r, st, 0);
    v->name = rd_text(&r, st, 1);
    v->email = rd_text(&r, st, 2);
    v->roles = rd_text(&r, st, 3);
    v->status = rd_text(&r, st, 4);
    v->password_hash = rd_text(&r, st, 5);
    v->created_at = col_int(st, 6);
    v->updated_at = col_int(st, 7);
    return rd_end(&r, err);
}

static mdt_rc row_iat(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_iat_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    rd_hash(st, 1, v->hash);
    v->policy = rd_text(&r, st, 2);
    v->max_uses = col_int(st, 3);
    v->uses = col_int(st, 4);
    v->created_at = col_int(st, 5);
    v->expires_at = col_int(st, 6);
    v->created_by = rd_text(&r, st, 7);
    return rd_end(&r, err);
}

static mdt_rc row_session(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_session_rec *v = dst;
    rd r = {a, false};

    rd_hash(st, 0, v->hash);
    v->username = rd_text(&r, st, 1);
    v->amr = rd_text(&r, st, 2);
    v->auth_time = col_int(st, 3);
    v->created_at = col_int(st, 4);
    v->last_seen_at = col_int(st, 5);
    v->expires_at = col_int(st, 6);
    v->revoked_at = col_int(st, 7);
    return rd_end(&r, err);
}

static mdt_rc row_request(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_request_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    v->type = rd_text(&r, st, 1);
    v->status = rd_text(&r, st, 2);
    v->client_id = rd_text(&r, st, 3);
    v->subject = rd_text(&r, st, 4);
    v->scope = rd_text(&r, st, 5);
    v->resource = rd_text(&r, st, 6);
    v->binding_message = rd_text(&r, st, 7);
    v->authorization_details = rd_text(&r, st, 8);
    v->created_at = col_int(st, 9);
    v->expires_at = col_int(st, 10);
    v->decided_by = rd_text(&r, st, 11);
    v->decided_at = col_int(st, 12);
    v->note = rd_text(&r, st, 13);
    v->metadata_hash = rd_text(&r, st, 14);
    v->justification = rd_text(&r, st, 15);
    v->duration = col_int(st, 16);
    return rd_end(&r, err);
}

/* Reads every row of st into a new arena array of elements of size size.
 * Resets st. On failure *out is NULL and *n 0. */
static mdt_rc collect(sconn *c, mdt_db_stmt *st, int bound, mdt_arena *a, size_t size,
                      row_fn fn, void **out, size_t *n, const char *what, mdt_err *err)
{
    mdt_rc rc = MDT_OK;
    size_t cap = 0;
    bool row = false;

    *out = NULL;
    *n = 0;
    if (bound != 0)
        rc = c->drv->fail(c->db, what, err);
    else
        rc = c->drv->step(st, &row, what, err);
    while (rc == MDT_OK && row) {
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            void *p = mdt_arena_alloc(a, ncap * size);
            if (!p) {
                rc = nomem(err);
                break;
            }
            if (*n)
                memcpy(p, *out, *n * size);
            *out = p;
            cap = ncap;
        }
        if ((rc = fn(st, a, (char *)*out + *n * size, err)) == MDT_OK) {
            (*n)++;
            rc = c->drv->step(st, &row, what, err);
        }
    }
    done(st);
    if (rc != MDT_OK) {
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* Steps to the single row a lookup returns and reads it with fn; resets the
 * statement. MDT_ERR_NOT_FOUND with notfound when there is none. */
static mdt_rc one_row(sconn *c, mdt_db_stmt *st, int bound, row_fn fn, mdt_arena *a, void *out,
                      const char *what, const char *notfound, mdt_err *err)
{
    mdt_rc rc = first_row(c, st, bound, what, notfound, err);

    if (rc == MDT_OK)
        rc = fn(st, a, out, err);
    done(st);
    return rc;
}

/* A cached lookup by one text key that returns one row, read with fn. */
static mdt_rc get_by_text(mdt_store *s, enum mdt_q q, const char *key, row_fn fn, mdt_arena *a,
                          void *out, const char *what, const char *notfound, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, q, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_text(st, 1, key), fn, a, out, what, notfound, err);
}

/* A cached query without parameters whose rows (of size bytes) are read with fn. */
static mdt_rc list_all(mdt_store *s, enum mdt_q q, row_fn fn, mdt_arena *a, size_t size, void **out,
                       size_t *n, const char *what, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, q, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return collect(c, st, 0, a, size, fn, out, n, what, err);
}

/* --------------------------------------------------------------- lifecycle */

static void sql_close(mdt_store *base)
{
    sql_store *s = S(base);

    pthread_setspecific(s->key, NULL);
    pthread_mutex_lock(&s->mu);
    while (s->conns) {
        sconn *c = s->conns;
        s->conns = c->next;
        conn_close(c);
    }
    pthread_mutex_unlock(&s->mu);
    if (s->drv->ctx_free)
        s->drv->ctx_free(s->ctx); /* stops the background work first */
    pthread_key_delete(s->key);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->base.seen_mu);
    free(s);
}

mdt_rc mdt_store__sql_open(const mdt_db_driver *drv, void *ctx, mdt_store **out, mdt_err *err)
{
    sql_store *s = calloc(1, sizeof(*s));
    sconn *c;
    mdt_rc rc;

    *out = NULL;
    if (!s) {
        drv->ctx_free(ctx);
        return nomem(err);
    }
    s->base.ops = &sql_ops;
    s->drv = drv;
    s->ctx = ctx;
    if (pthread_key_create(&s->key, conn_destroy) != 0) {
        drv->ctx_free(ctx);
        free(s);
        return mdt_fail(err, MDT_ERR_INTERNAL, "pthread_key_create failed");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->base.seen_mu, NULL);
    if ((rc = conn_get(s, &c, err)) != MDT_OK) { /* fail now, not on first request */
        sql_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return MDT_OK;
}

mdt_rc mdt_store__sql_conn(mdt_store *s, const mdt_db_driver **drv, mdt_db_conn **db,
                           mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc == MDT_OK && c->read_depth > 0) { /* the caller runs its own transactions */
        c->read_split = true;
        rc = scope_commit(c, err);
    }
    *drv = S(s)->drv;
    *db = rc == MDT_OK ? c->db : NULL;
    return rc;
}

static mdt_rc sql_background_start(mdt_store *base, mdt_err *err)
{
    sql_store *s = S(base);

    return s->drv->background_start ? s->drv->background_start(s->ctx, err) : MDT_OK;
}

static void sql_thread_done(mdt_store *base)
{
    sql_store *s = S(base);
    sconn *c = pthread_getspecific(s->key);

    if (!c)
        return;
    pthread_setspecific(s->key, NULL);
    conn_unlink(c);
    conn_close(c);
}

/* A cached statement without parameters that returns one integer. */
static mdt_rc q_int(sconn *c, enum mdt_q q, int64_t *out, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, q, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, 0, mdt_store__sql_text(c->drv, q), "no row", err);
    if (rc == MDT_OK)
        *out = col_int(st, 0);
    done(st);
    return rc;
}

static mdt_rc version_in_tx(sconn *c, int *out, mdt_err *err)
{
    int64_t v = 0;
    mdt_rc rc = q_int(c, Q_SCHEMA_VERSION, &v, err);

    *out = (int)v;
    return rc;
}

static mdt_rc record_version(sconn *c, const mdt_migration *m, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_MIGRATION_RECORD, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_int(st, 1, m->version) | bind_text(st, 2, m->name),
               "schema_migrations", err);
}

/* Applies m unless a concurrent migrator (or an earlier run) already did. */
static mdt_rc apply_one(sconn *c, const mdt_migration *m, mdt_err *err)
{
    char *sql = NULL;
    int cur = 0;
    mdt_rc rc = tx_begin(c, err);

    if (rc != MDT_OK)
        return rc;
    if ((rc = run_q_if(c, Q_AUDIT_LOCK, err)) != MDT_OK) /* one migrator at a time */
        goto out;
    if ((rc = version_in_tx(c, &cur, err)) != MDT_OK || cur >= m->version)
        goto out;
    if (!(sql = mdt_store__migration_render(m, c->drv->dialect))) {
        rc = nomem(err);
        goto out;
    }
    if ((rc = c->drv->exec(c->db, sql, m->name, err)) == MDT_OK)
        rc = record_version(c, m, err);
out:
    free(sql);
    return tx_end(c, rc, err);
}

static mdt_rc sql_migrate(mdt_store *s, mdt_err *err)
{
    sconn *c;
    int cur = 0;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    /* under the lock, so that two nodes starting at once create it once */
    rc = run_q_if(c, Q_AUDIT_LOCK, err);
    if (rc == MDT_OK)
        rc = c->drv->exec(c->db, mdt_store__sql_text(c->drv, Q_MIGRATIONS_CREATE),
                          "schema_migrations", err);
    if ((rc = tx_end(c, rc, err)) == MDT_OK)
        rc = version_in_tx(c, &cur, err);
    if (rc == MDT_OK && cur > mdt_store__schema_latest())
        rc = mdt_failf(err, MDT_ERR_CONFIG, "database schema is newer than this program",
                       "schema version %d, this program knows up to %d", cur,
                       mdt_store__schema_latest());
    for (size_t i = 0; i < mdt_store__migration_count && rc == MDT_OK; i++)
        rc = apply_one(c, &mdt_store__migrations[i], err);
    return rc;
}

/* The version statement is prepared only once its table exists. */
static mdt_rc sql_schema_version(mdt_store *s, int *out, mdt_err *err)
{
    sconn *c;
    int64_t exists = 0;
    mdt_rc rc = conn_get(S(s), &c, err);

    *out = 0;
    if (rc == MDT_OK)
        rc = q_int(c, Q_MIGRATIONS_EXISTS, &exists, err);
    if (rc == MDT_OK && exists)
        rc = version_in_tx(c, out, err);
    return rc;
}

static mdt_rc sql_ping(mdt_store *s, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_PING, &c, &st, err);

    return rc != MDT_OK ? rc : run(c, st, 0, "ping", err);
}

/* ----------------------------------------------------------------- clients */

static int bind_cred(mdt_db_stmt *st, const mdt_cred_rec *v, const char *client_id)
{
    return bind_text(st, 1, v->id) | bind_text(st, 2, client_id) | bind_text(st, 3, v->type) |
           bind_blob(st, 4, v->hash, MDT_HASH_LEN) | bind_int(st, 5, v->created_at) |
           bind_int(st, 6, v->expires_at) | bind_int(st, 7, v->last_used_at) |
           bind_text(st, 8, v->name ? v->name : "");
}

static mdt_rc cred_insert(sconn *c, const mdt_cred_rec *v, const char *client_id, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_CRED_INSERT, &st, err);

    return rc != MDT_OK ? rc : run(c, st, bind_cred(st, v, client_id), "cred_insert", err);
}

/* Counts a change of a client, its credentials or its entitlements, inside
 * its transaction: the clients counter and the client's own version. */
static mdt_rc bump(sconn *c, const char *client_id, mdt_rc rc, mdt_err *err)
{
    mdt_db_stmt *st = NULL;

    if (rc == MDT_OK && (rc = run_q(c, Q_CLIENTS_BUMP, err)) == MDT_OK &&
        (rc = stmt(c, Q_CLIENT_VERSION_BUMP, &st, err)) == MDT_OK)
        rc = run(c, st, bind_text(st, 1, client_id), "client_version_bump", err);
    if (rc == MDT_OK)
        c->clients_moved = true;
    return rc;
}

static mdt_rc client_insert_tx(sconn *c, const mdt_client_rec *v, const mdt_cred_rec *creds,
                               size_t ncreds, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_CLIENT_INSERT, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->client_id) | bind_text(st, 2, v->status) |
        bind_text(st, 3, v->metadata) | bind_int(st, 4, v->created_at) |
        bind_int(st, 5, v->updated_at) | bind_int(st, 6, v->expires_at) |
        bind_int(st, 7, v->tokens_valid_after);
    rc = run(c, st, b, "client_insert", err);
    for (size_t i = 0; i < ncreds && rc == MDT_OK; i++)
        rc = cred_insert(c, &creds[i], v->client_id, err);
    return bump(c, v->client_id, rc, err);
}

static mdt_rc op_client_insert(mdt_store *s, const mdt_client_rec *v, const mdt_cred_rec *creds,
                               size_t ncreds, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    return tx_end(c, client_insert_tx(c, v, creds, ncreds, err), err);
}

static mdt_rc op_client_get(mdt_store *s, const char *id, mdt_arena *a, mdt_client_rec *out,
                            mdt_err *err)
{
    return get_by_text(s, Q_CLIENT_GET, id, row_client, a, out, "client_get", "client not found", err);
}

static mdt_rc op_client_list(mdt_store *s, mdt_arena *a, mdt_client_rec **out, size_t *n,
                             mdt_err *err)
{
    return list_all(s, Q_CLIENT_LIST, row_client, a, sizeof(**out), (void **)out, n, "client_list", err);
}

/* Runs a write statement; MDT_ERR_NOT_FOUND with notfound when it changed
 * no row. */
static mdt_rc run_changed(sconn *c, mdt_db_stmt *st, int bound, const char *what,
                          const char *notfound, mdt_err *err)
{
    mdt_rc rc = run(c, st, bound, what, err);

    if (rc == MDT_OK && changes(c) == 0)
        rc = mdt_fail(err, MDT_ERR_NOT_FOUND, notfound);
    return rc;
}

static mdt_rc op_client_update(mdt_store *s, const mdt_client_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CLIENT_UPDATE, &c, &st, err);
    int b;

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->client_id) | bind_text(st, 2, v->status) |
        bind_text(st, 3, v->metadata) | bind_int(st, 4, v->updated_at) |
        bind_int(st, 5, v->expires_at) |
        bind_int(st, 6, v->tokens_valid_after);
    rc = run_changed(c, st, b, "client_update", "client not found", err);
    return tx_end(c, bump(c, v->client_id, rc, err), err);
}

static mdt_rc update_creds_tx(sconn *c, const mdt_client_rec *v, const mdt_cred_rec *add,
                              size_t nadd, const char *const *del, size_t ndel, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_CLIENT_UPDATE, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->client_id) | bind_text(st, 2, v->status) |
        bind_text(st, 3, v->metadata) | bind_int(st, 4, v->updated_at) |
        bind_int(st, 5, v->expires_at) |
        bind_int(st, 6, v->tokens_valid_after);
    rc = run_changed(c, st, b, "client_update", "client not found", err);
    for (size_t i = 0; i < ndel && rc == MDT_OK; i++) {
        if ((rc = stmt(c, Q_CRED_DELETE, &st, err)) == MDT_OK)
            rc = run(c, st, bind_text(st, 1, v->client_id) | bind_text(st, 2, del[i]),
                     "cred_delete", err);
    }
    for (size_t i = 0; i < nadd && rc == MDT_OK; i++)
        rc = cred_insert(c, &add[i], v->client_id, err);
    return bump(c, v->client_id, rc, err);
}

static mdt_rc op_client_update_creds(mdt_store *s, const mdt_client_rec *v,
                                     const mdt_cred_rec *add, size_t nadd,
                                     const char *const *del, size_t ndel, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    return tx_end(c, update_creds_tx(c, v, add, nadd, del, ndel, err), err);
}

/* Credentials and opaque tokens go with it (ON DELETE CASCADE). */
static mdt_rc op_client_delete(mdt_store *s, const char *id, int64_t now, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st, *ts = NULL;
    mdt_rc rc = prep(s, Q_CLIENT_DELETE, &c, &st, err);

    if (rc != MDT_OK || (rc = stmt(c, Q_CLIENT_TOMBSTONE, &ts, err)) != MDT_OK ||
        (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = run(c, ts, bind_text(ts, 1, id) | bind_int(ts, 2, now), "client_tombstone", err);
    if (rc == MDT_OK)
        rc = run_changed(c, st, bind_text(st, 1, id), "client_delete", "client not found", err);
    return tx_end(c, bump(c, id, rc, err), err);
}

/* The integer of q's first row for the text key; *out 0 when there is none. */
static mdt_rc int_by_text(mdt_store *s, enum mdt_q q, const char *key, const char *what,
                          int64_t *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, q, &c, &st, err);

    *out = 0;
    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_text(st, 1, key), what, "none", err);
    if (rc == MDT_OK)
        *out = col_int(st, 0);
    done(st);
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        rc = MDT_OK;
    }
    return rc;
}

static mdt_rc op_client_deleted_at(mdt_store *s, const char *id, int64_t *deleted_at, mdt_err *err)
{
    return int_by_text(s, Q_CLIENT_DELETED_AT, id, "client_deleted_at", deleted_at, err);
}

/* ------------------------------------------------------------- credentials */

static mdt_rc op_cred_insert(mdt_store *s, const mdt_cred_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    return tx_end(c, bump(c, v->client_id, cred_insert(c, v, v->client_id, err), err), err);
}

static mdt_rc op_cred_list(mdt_store *s, const char *client_id, mdt_arena *a, mdt_cred_rec **out,
                           size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CRED_LIST, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return collect(c, st, bind_text(st, 1, client_id), a, sizeof(**out), row_cred, (void **)out,
                   n, "cred_list", err);
}

static mdt_rc row_last_use(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_client_last_use *v = dst;
    rd r = {a, false};

    v->client_id = rd_text(&r, st, 0);
    v->last_used_at = col_int(st, 1);
    return rd_end(&r, err);
}

static mdt_rc op_cred_last_used(mdt_store *s, mdt_arena *a, mdt_client_last_use **out, size_t *n,
                                mdt_err *err)
{
    return list_all(s, Q_CRED_LAST_USED, row_last_use, a, sizeof(**out), (void **)out, n,
                    "cred_last_used", err);
}

static mdt_rc op_cred_expire_others(mdt_store *s, const char *client_id, const char *type,
                                    const char *keep_id, int64_t expires_at, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CRED_EXPIRE_OTHERS, &c, &st, err);
    int b;

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    b = bind_text(st, 1, client_id) | bind_text(st, 2, type) | bind_text(st, 3, keep_id) |
        bind_int(st, 4, expires_at);
    rc = run(c, st, b, "cred_expire_others", err);
    return tx_end(c, bump(c, client_id, rc, err), err);
}

static mdt_rc op_cred_get(mdt_store *s, const char *id, mdt_arena *a, mdt_cred_rec *out,
                          mdt_err *err)
{
    return get_by_text(s, Q_CRED_GET, id, row_cred, a, out, "cred_get", "credential not found",
                       err);
}

static mdt_rc op_cred_find(mdt_store *s, const char *type, const uint8_t hash[MDT_HASH_LEN],
                           mdt_arena *a, mdt_cred_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CRED_FIND, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_text(st, 1, type) | bind_blob(st, 2, hash, MDT_HASH_LEN), row_cred,
                   a, out, "cred_find", "credential not found", err);
}

static mdt_rc op_cred_touch(mdt_store *s, const char *id, int64_t now, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CRED_TOUCH, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run_changed(c, st, bind_text(st, 1, id) | bind_int(st, 2, now),
                       "cred_touch", "credential not found", err);
}

static mdt_rc op_cred_delete(mdt_store *s, const char *client_id, const char *id, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CRED_DELETE, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = run_changed(c, st, bind_text(st, 1, client_id) | bind_text(st, 2, id), "cred_delete",
                     "credential not found", err);
    return tx_end(c, bump(c, client_id, rc, err), err);
}

/* ------------------------------------------------------------------ scopes */

static mdt_rc scope_insert_tx(sconn *c, const mdt_scope_rec *v, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_SCOPE_INSERT, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->name) | bind_text(st, 2, v->description) |
        bind_text(st, 3, v->sensitivity) | bind_int(st, 4, v->created_at);
    rc = run(c, st, b, "scope_insert", err);
    for (int i = 0; rc == MDT_OK && v->resources && v->resources[i]; i++) {
        if ((rc = stmt(c, Q_SCOPE_RES_INSERT, &st, err)) != MDT_OK)
            break;
        b = bind_text(st, 1, v->name) | bind_int(st, 2, i) |
            bind_text(st, 3, v->resources[i]);
        rc = run(c, st, b, "scope_insert", err);
    }
    return rc;
}

static mdt_rc op_scope_insert(mdt_store *s, const mdt_scope_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    return tx_end(c, scope_insert_tx(c, v, err), err);
}

static mdt_rc row_resource(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    rd r = {a, false};

    *(const char **)dst = rd_text(&r, st, 0);
    return rd_end(&r, err);
}

/* The scope's resources as a NULL-terminated arena array; NULL when none. */
static mdt_rc load_resources(sconn *c, mdt_scope_rec *v, mdt_arena *a, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    const char **res;
    size_t n;
    mdt_rc rc = stmt(c, Q_SCOPE_RES, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = collect(c, st, bind_text(st, 1, v->name), a, sizeof(*res), row_resource,
                 (void **)&res, &n, "scope_resources", err);
    if (rc != MDT_OK || n == 0)
        return rc;
    v->resources = mdt_arena_alloc(a, (n + 1) * sizeof(*res)); /* zeroed: terminated */
    if (!v->resources)
        return nomem(err);
    memcpy((void *)v->resources, res, n * sizeof(*res));
    return MDT_OK;
}

static mdt_rc op_scope_get(mdt_store *s, const char *name, mdt_arena *a, mdt_scope_rec *out,
                           mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_SCOPE_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = one_row(c, st, bind_text(st, 1, name), row_scope, a, out, "scope_get", "scope not found",
                 err);
    return rc == MDT_OK ? load_resources(c, out, a, err) : rc;
}

static mdt_rc op_scope_list(mdt_store *s, mdt_arena *a, mdt_scope_rec **out, size_t *n,
                            mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_SCOPE_LIST, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = collect(c, st, 0, a, sizeof(**out), row_scope, (void **)out, n, "scope_list",
                 err);
    for (size_t i = 0; rc == MDT_OK && i < *n; i++)
        rc = load_resources(c, &(*out)[i], a, err);
    if (rc != MDT_OK) {
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ tokens */

static mdt_rc token_insert(sconn *c, const mdt_token_rec *v, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_TOKEN_INSERT, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_blob(st, 1, v->hash, MDT_HASH_LEN) | bind_text(st, 2, v->jti) |
        bind_text(st, 3, v->client_id) | bind_text(st, 4, v->kind) | bind_text(st, 5, v->claims) |
        bind_int(st, 6, v->issued_at) | bind_int(st, 7, v->expires_at) |
        bind_int(st, 8, v->revoked_at) |
        (v->has_id ? bind_blob(st, 9, v->id, sizeof(v->id)) : bind_null(st, 9));
    return run(c, st, b, "token_insert", err);
}

static mdt_rc op_token_insert(mdt_store *s, const mdt_token_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    return rc != MDT_OK ? rc : token_insert(c, v, err);
}

static mdt_rc op_token_get(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                           mdt_arena *a, mdt_token_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, id ? Q_TOKEN_GET_ID : Q_TOKEN_GET, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = id ? bind_blob(st, 1, id, MDT_TOKEN_ID_LEN) : bind_blob(st, 1, hash, MDT_HASH_LEN);
    return one_row(c, st, b, row_token, a, out, "token_get", "token not found", err);
}

/* One conditional UPDATE; only when it changed nothing do we look whether
 * the token exists at all (already revoked is not an error). */
static mdt_rc op_token_revoke(mdt_store *s, const uint8_t *id, const uint8_t hash[MDT_HASH_LEN],
                              int64_t now, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, id ? Q_TOKEN_REVOKE_ID : Q_TOKEN_REVOKE, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = id ? bind_blob(st, 1, id, MDT_TOKEN_ID_LEN) | bind_blob(st, 2, hash, MDT_HASH_LEN) |
                 bind_int(st, 3, now)
           : bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_int(st, 2, now);
    rc = run(c, st, b, "token_revoke", err);
    if (rc != MDT_OK || changes(c) > 0)
        return rc;
    if ((rc = stmt(c, id ? Q_TOKEN_EXISTS_ID : Q_TOKEN_EXISTS, &st, err)) != MDT_OK)
        return rc;
    b = id ? bind_blob(st, 1, id, MDT_TOKEN_ID_LEN) | bind_blob(st, 2, hash, MDT_HASH_LEN)
           : bind_blob(st, 1, hash, MDT_HASH_LEN);
    rc = first_row(c, st, b, "token_revoke", "token not found", err);
    done(st);
    return rc;
}

static mdt_rc op_jti_revoke(mdt_store *s, const char *jti, const char *client_id,
                            int64_t expires_at, int64_t now, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_JTI_REVOKE, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, jti) | bind_text(st, 2, client_id) |
        bind_int(st, 3, expires_at) | bind_int(st, 4, now);
    return run(c, st, b, "jti_revoke", err);
}

/* Inserted, or an expired entry renewed: one row changed. A live entry: none. */
static mdt_rc jti_use(sconn *c, const char *issuer, const char *jti, int64_t expires_at,
                      int64_t now, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_JTI_USE, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = run(c, st,
             bind_text(st, 1, issuer) | bind_text(st, 2, jti) | bind_int(st, 3, expires_at) |
                 bind_int(st, 4, now),
             "jti_use", err);
    if (rc == MDT_OK && changes(c) == 0)
        rc = mdt_fail(err, MDT_ERR_CONFLICT, "identifier already used");
    return rc;
}

static mdt_rc op_jti_use(mdt_store *s, const char *issuer, const char *jti, int64_t expires_at,
                         int64_t now, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    return rc != MDT_OK ? rc : jti_use(c, issuer, jti, expires_at, now, err);
}

static mdt_rc op_jti_is_revoked(mdt_store *s, const char *jti, bool *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_JTI_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_text(st, 1, jti), "jti_is_revoked", "not revoked", err);
    done(st);
    *out = rc == MDT_OK;
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        rc = MDT_OK;
    }
    return rc;
}

static mdt_rc purge_one(sconn *c, enum mdt_q q, int64_t now, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, q, &st, err);

    return rc != MDT_OK ? rc : run(c, st, bind_int(st, 1, now), "purge_expired", err);
}

static mdt_rc op_purge_expired(mdt_store *s, int64_t now, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_TOKENS, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_JTIS, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_USED_JTIS, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_RATES, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_SESSIONS, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_AREQS, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_CODES, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_RTS, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_DEVICE, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_CIBA, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_ONCE, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_ENTS, now, err);
    if (rc == MDT_OK)
        rc = purge_one(c, Q_PURGE_USAGE, now, err);
    return rc;
}

/* ------------------------------------------------------------ signing keys */

static mdt_rc op_key_insert(mdt_store *s, const mdt_key_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_KEY_INSERT, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->kid) | bind_text(st, 2, v->alg) |
        bind_blob(st, 3, v->sealed, v->sealed_len) | bind_int(st, 4, v->created_at) |
        bind_int(st, 5, v->activate_at) | bind_int(st, 6, v->retire_at) |
        bind_int(st, 7, v->expire_at);
    return run(c, st, b, "key_insert", err);
}

static mdt_rc op_key_list(mdt_store *s, mdt_arena *a, mdt_key_rec **out, size_t *n, mdt_err *err)
{
    return list_all(s, Q_KEY_LIST, row_key, a, sizeof(**out), (void **)out, n, "key_list", err);
}

static mdt_rc op_key_schedule(mdt_store *s, const char *kid, int64_t retire_at, int64_t expire_at,
                              mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_KEY_SCHEDULE, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, kid) | bind_int(st, 2, retire_at) |
        bind_int(st, 3, expire_at);
    return run_changed(c, st, b, "key_schedule", "signing key not found", err);
}

/* ------------------------------------------------------------------- users */

static mdt_rc op_user_insert(mdt_store *s, const mdt_user_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_USER_INSERT, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->username) | bind_text(st, 2, v->name) | bind_text(st, 3, v->email) |
        bind_text(st, 4, v->roles) | bind_text(st, 5, v->status) |
        bind_text(st, 6, v->password_hash) | bind_int(st, 7, v->created_at) |
        bind_int(st, 8, v->updated_at);
    return run(c, st, b, "user_insert", err);
}

static mdt_rc op_user_get(mdt_store *s, const char *username, mdt_arena *a, mdt_user_rec *out,
                          mdt_err *err)
{
    return get_by_text(s, Q_USER_GET, username, row_user, a, out, "user_get", "user not found", err);
}

static mdt_rc op_user_list(mdt_store *s, mdt_arena *a, mdt_user_rec **out, size_t *n,
                           mdt_err *err)
{
    return list_all(s, Q_USER_LIST, row_user, a, sizeof(**out), (void **)out, n, "user_list", err);
}

static mdt_rc op_user_update(mdt_store *s, const mdt_user_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_USER_UPDATE, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->username) | bind_text(st, 2, v->name) | bind_text(st, 3, v->email) |
        bind_text(st, 4, v->roles) | bind_text(st, 5, v->status) |
        bind_text(st, 6, v->password_hash) | bind_int(st, 7, v->updated_at);
    return run_changed(c, st, b, "user_update", "user not found", err);
}

/* A query without parameters that returns one integer. */
static mdt_rc one_int(mdt_store *s, enum mdt_q q, int64_t *out, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    return rc != MDT_OK ? rc : q_int(c, q, out, err);
}

static mdt_rc op_user_count(mdt_store *s, int64_t *out, mdt_err *err)
{
    return one_int(s, Q_USER_COUNT, out, err);
}

/* Read once per read scope: the counter cannot move inside one snapshot
 * (and a write by this thread ends the snapshot first). */
static mdt_rc op_clients_version(mdt_store *s, int64_t *out, mdt_err *err)
{
    sconn *c;
    int64_t at;
    bool alone;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK)
        return rc;
    if (c->read_open && c->clients_known && c->drv->in_tx(c->db)) {
        *out = c->clients_version;
        return MDT_OK;
    }
    at = mdt_time_mono_us();
    /* a read of its own sees what is committed now: what the process saw
     * (mdt_store_clients_version_recent); not one inside a scope's older
     * snapshot, nor one inside a write that may have moved it uncommitted */
    alone = !c->drv->in_tx(c->db);
    if ((rc = q_int(c, Q_CLIENTS_VERSION, out, err)) == MDT_OK && c->read_open) {
        c->clients_version = *out;
        c->clients_known = true;
    }
    if (rc == MDT_OK && alone && !c->read_open)
        mdt_store__clients_seen(s, *out, at);
    return rc;
}

/* -------------------------------------------------- initial access tokens */

static mdt_rc op_iat_insert(mdt_store *s, const mdt_iat_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_IAT_INSERT, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->id) | bind_blob(st, 2, v->hash, MDT_HASH_LEN) |
        bind_text(st, 3, v->policy ? v->policy : "") | bind_int(st, 4, v->max_uses) |
        bind_int(st, 5, v->uses) | bind_int(st, 6, v->created_at) |
        bind_int(st, 7, v->expires_at) |
        bind_text(st, 8, v->created_by ? v->created_by : "");
    return run(c, st, b, "iat_insert", err);
}

static mdt_rc op_iat_find(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_iat_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_IAT_FIND, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN), row_iat, a, out, "iat_find",
                   "initial access token not found", err);
}

static mdt_rc op_iat_get(mdt_store *s, const char *id, mdt_arena *a, mdt_iat_rec *out,
                         mdt_err *err)
{
    return get_by_text(s, Q_IAT_GET, id, row_iat, a, out, "iat_get", "initial access token not found", err);
}

/* One UPDATE ... RETURNING, in a write transaction of its own: the row it
 * returns is the one it changed. */
static mdt_rc op_iat_consume(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                             mdt_iat_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_IAT_CONSUME, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = one_row(c, st, bind_text(st, 1, id) | bind_int(st, 2, now),
                 row_iat, a, out, "iat_consume", "initial access token unknown, used up or expired",
                 err);
    return tx_end(c, rc, err);
}

/* ------------------------------------------------------- approval requests */

static mdt_rc op_request_insert(mdt_store *s, const mdt_request_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_REQ_INSERT, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->id) | bind_text(st, 2, v->type) | bind_text(st, 3, v->status) |
        bind_text(st, 4, v->client_id) | bind_text(st, 5, v->subject) |
        bind_text(st, 6, v->scope) | bind_text(st, 7, v->resource) |
        bind_text(st, 8, v->binding_message) | bind_text(st, 9, v->authorization_details) |
        bind_int(st, 10, v->created_at) | bind_int(st, 11, v->expires_at) |
        bind_text(st, 12, v->decided_by) | bind_int(st, 13, v->decided_at) |
        bind_text(st, 14, v->note) | bind_text(st, 15, v->metadata_hash) |
        bind_text(st, 16, v->justification) |
        (v->duration ? bind_int(st, 17, v->duration) : bind_null(st, 17));
    return run(c, st, b, "request_insert", err);
}

static mdt_rc op_request_get(mdt_store *s, const char *id, mdt_arena *a, mdt_request_rec *out,
                             mdt_err *err)
{
    return get_by_text(s, Q_REQ_GET, id, row_request, a, out, "request_get", "request not found", err);
}

static mdt_rc op_request_list(mdt_store *s, mdt_arena *a, mdt_request_rec **out, size_t *n,
                              mdt_err *err)
{
    return list_all(s, Q_REQ_LIST, row_request, a, sizeof(**out), (void **)out, n, "request_list", err);
}

static mdt_rc op_request_decide(mdt_store *s, const char *id, const char *status,
                                const char *decided_by, const char *note, int64_t now,
                                mdt_arena *a, mdt_request_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_REQ_DECIDE, &c, &st, err);
    int b;

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    b = bind_text(st, 1, id) | bind_text(st, 2, status) | bind_text(st, 3, decided_by) |
        bind_int(st, 4, now) | bind_text(st, 5, note);
    rc = one_row(c, st, b, row_request, a, out, "request_decide",
                 "no pending request with this id", err);
    return tx_end(c, rc, err);
}

static int bind_outbox(mdt_db_stmt *st, const mdt_outbox_rec *v)
{
    return bind_text(st, 1, v->id) | bind_text(st, 2, v->event_id) | bind_text(st, 3, v->url) |
           bind_text(st, 4, v->body) | bind_int(st, 5, v->created_at) |
           bind_int(st, 6, v->next_at) | bind_int(st, 7, v->attempts) |
           bind_int(st, 8, v->lease_until);
}

static mdt_rc op_request_insert_notify(mdt_store *s, const mdt_request_rec *r,
                                       const mdt_outbox_rec *ev, size_t nev, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_OBX_INSERT, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = op_request_insert(s, r, err);
    for (size_t i = 0; rc == MDT_OK && i < nev; i++)
        rc = run(c, st, bind_outbox(st, &ev[i]), "outbox_insert", err);
    return tx_end(c, rc, err);
}

static mdt_rc row_vote(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_vote_rec *v = dst;
    rd r = {a, false};

    v->request_id = rd_text(&r, st, 0);
    v->approver = rd_text(&r, st, 1);
    v->decision = rd_text(&r, st, 2);
    v->note = rd_text(&r, st, 3);
    v->voted_at = col_int(st, 4);
    return rd_end(&r, err);
}

/* Inside the vote's transaction, after the lock: the vote, then the count. */
static mdt_rc vote_in_tx(sconn *c, const char *id, const char *approver, bool approve,
                         const char *note, int64_t now, int64_t *allows, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_VOTE_INSERT, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = run(c, st, bind_text(st, 1, id) | bind_text(st, 2, approver) |
                        bind_text(st, 3, approve ? "allow" : "deny") | bind_text(st, 4, note) |
                        bind_int(st, 5, now),
             "vote_insert", err);
    if (rc == MDT_OK && changes(c) == 0)
        return mdt_fail(err, MDT_ERR_CONFLICT, "this approver has voted on the request already");
    if (rc != MDT_OK || (rc = stmt(c, Q_VOTE_ALLOWS, &st, err)) != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_text(st, 1, id), "vote_count", "no count", err);
    if (rc == MDT_OK)
        *allows = col_int(st, 0);
    done(st);
    return rc;
}

static mdt_rc op_request_vote(mdt_store *s, const char *id, const char *approver, bool approve,
                              int64_t quorum, const char *note, int64_t now, mdt_arena *a,
                              mdt_request_rec *out, int64_t *allows, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_REQ_LOCK, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = run(c, st, bind_text(st, 1, id) | bind_int(st, 2, now), "request_lock", err);
    if (rc == MDT_OK && changes(c) == 0)
        rc = mdt_fail(err, MDT_ERR_NOT_FOUND, "no pending request with this id");
    if (rc == MDT_OK)
        rc = vote_in_tx(c, id, approver, approve, note, now, allows, err);
    if (rc == MDT_OK && (!approve || *allows >= quorum)) {
        if ((rc = stmt(c, Q_REQ_DECIDE, &st, err)) == MDT_OK)
            rc = one_row(c, st, bind_text(st, 1, id) |
                                    bind_text(st, 2, approve ? "approved" : "denied") |
                                    bind_text(st, 3, approver) | bind_int(st, 4, now) |
                                    bind_text(st, 5, note),
                         row_request, a, out, "request_decide", "no pending request with this id",
                         err);
    } else if (rc == MDT_OK && (rc = stmt(c, Q_REQ_GET, &st, err)) == MDT_OK) {
        rc = one_row(c, st, bind_text(st, 1, id), row_request, a, out, "request_get",
                     "request not found", err);
    }
    return tx_end(c, rc, err);
}

static mdt_rc op_vote_list(mdt_store *s, mdt_arena *a, mdt_vote_rec **out, size_t *n,
                           mdt_err *err)
{
    return list_all(s, Q_VOTE_LIST, row_vote, a, sizeof(**out), (void **)out, n, "vote_list", err);
}

static mdt_rc op_request_votes(mdt_store *s, const char *id, mdt_arena *a, mdt_vote_rec **out,
                                size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_VOTE_LIST_FOR, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return collect(c, st, bind_text(st, 1, id), a, sizeof(**out), row_vote, (void **)out, n,
                   "request_votes", err);
}

static mdt_rc op_request_count_pending(mdt_store *s, int64_t now, int64_t *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_REQ_COUNT_PENDING, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_int(st, 1, now), "request_count_pending", "no row", err);
    if (rc == MDT_OK)
        *out = col_int(st, 0);
    done(st);
    return rc;
}

static mdt_rc op_request_list_pending(mdt_store *s, int64_t now, mdt_arena *a,
                                      mdt_request_rec **out, size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_REQ_LIST_PENDING, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return collect(c, st, bind_int(st, 1, now), a, sizeof(**out), row_request, (void **)out, n,
                   "request_list_pending", err);
}

static mdt_rc op_request_expire_due(mdt_store *s, int64_t now, int64_t limit, mdt_arena *a,
                                    mdt_request_rec **out, size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_REQ_EXPIRE_DUE, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = collect(c, st, bind_int(st, 1, now) | bind_int(st, 2, limit), a, sizeof(**out),
                 row_request, (void **)out, n, "request_expire_due", err);
    return tx_end(c, rc, err);
}

/* ----------------------------------------------------------- webhook outbox */

static mdt_rc row_outbox(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_outbox_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    v->event_id = rd_text(&r, st, 1);
    v->url = rd_text(&r, st, 2);
    v->body = rd_text(&r, st, 3);
    v->created_at = col_int(st, 4);
    v->next_at = col_int(st, 5);
    v->attempts = col_int(st, 6);
    v->lease_until = col_int(st, 7);
    return rd_end(&r, err);
}

static mdt_rc op_outbox_claim(mdt_store *s, int64_t now, int64_t lease_until, int64_t limit,
                              mdt_arena *a, mdt_outbox_rec **out, size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_OBX_CLAIM, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = collect(c, st, bind_int(st, 1, now) | bind_int(st, 2, lease_until) |
                            bind_int(st, 3, limit),
                 a, sizeof(**out), row_outbox, (void **)out, n, "outbox_claim", err);
    return tx_end(c, rc, err);
}

static mdt_rc op_outbox_delete(mdt_store *s, const char *id, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_OBX_DELETE, &c, &st, err);

    return rc != MDT_OK ? rc : run(c, st, bind_text(st, 1, id), "outbox_delete", err);
}

static mdt_rc op_outbox_retry(mdt_store *s, const char *id, int64_t next_at, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_OBX_RETRY, &c, &st, err);

    return rc != MDT_OK ? rc
                        : run(c, st, bind_text(st, 1, id) | bind_int(st, 2, next_at),
                              "outbox_retry", err);
}

static mdt_rc op_outbox_list(mdt_store *s, mdt_arena *a, mdt_outbox_rec **out, size_t *n,
                             mdt_err *err)
{
    return list_all(s, Q_OBX_LIST, row_outbox, a, sizeof(**out), (void **)out, n, "outbox_list",
                    err);
}

/* ------------------------------------------------ CIBA, single-use tokens */

static mdt_rc op_ciba_insert(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const mdt_ciba_rec *v,
                             mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CIBA_INSERT, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_text(st, 2, v->request_id) |
        bind_text(st, 3, v->client_id) | bind_int(st, 4, v->interval) |
        bind_int(st, 5, v->expires_at);
    return run(c, st, b, "ciba_insert", err);
}

/* ---------------------------------------------------- dynamic entitlements */

static mdt_rc row_entitlement(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_entitlement_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    v->client_id = rd_text(&r, st, 1);
    v->scope = rd_text(&r, st, 2);
    v->resource = rd_text(&r, st, 3);
    v->request_id = rd_text(&r, st, 4);
    v->approved_by = rd_text(&r, st, 5);
    v->created_at = col_int(st, 6);
    v->expires_at = col_int(st, 7);
    v->ended_at = col_int(st, 8);
    return rd_end(&r, err);
}

static mdt_rc op_entitlement_insert(mdt_store *s, const mdt_entitlement_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_ENT_INSERT, &c, &st, err);
    int b;

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    b = bind_text(st, 1, v->id) | bind_text(st, 2, v->client_id) | bind_text(st, 3, v->scope) |
        bind_text(st, 4, v->resource) | bind_text(st, 5, v->request_id) |
        bind_text(st, 6, v->approved_by) | bind_int(st, 7, v->created_at) |
        bind_int(st, 8, v->expires_at);
    rc = run(c, st, b, "entitlement_insert", err);
    return tx_end(c, bump(c, v->client_id, rc, err), err);
}

static mdt_rc op_entitlement_list(mdt_store *s, const char *client_id, int64_t now, mdt_arena *a,
                                  mdt_entitlement_rec **out, size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_ENT_LIST, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return collect(c, st, bind_text(st, 1, client_id) | bind_int(st, 2, now), a, sizeof(**out),
                   row_entitlement, (void **)out, n, "entitlement_list", err);
}

static mdt_rc op_entitlement_end(mdt_store *s, const char *client_id, const char *id, int64_t now,
                                 mdt_arena *a, mdt_entitlement_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_ENT_END, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = one_row(c, st, bind_text(st, 1, id) | bind_text(st, 2, client_id) | bind_int(st, 3, now),
                 row_entitlement, a, out, "entitlement_end", "no live entitlement with this id",
                 err);
    return tx_end(c, bump(c, client_id, rc, err), err);
}

static mdt_rc row_ciba(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_ciba_rec *v = dst;
    rd r = {a, false};

    v->request_id = rd_text(&r, st, 0);
    v->client_id = rd_text(&r, st, 1);
    v->interval = col_int(st, 2);
    v->last_poll = col_int(st, 3);
    v->expires_at = col_int(st, 4);
    v->consumed_at = col_int(st, 5);
    return rd_end(&r, err);
}

/* One UPDATE ... RETURNING in a write transaction of its own. */
static mdt_rc op_ciba_poll(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                           int64_t now, mdt_arena *a, mdt_ciba_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CIBA_POLL, &c, &st, err);
    int b;

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    b = bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_text(st, 2, client_id) | bind_int(st, 3, now);
    rc = one_row(c, st, b, row_ciba, a, out, "ciba_poll", "unknown auth_req_id", err);
    return tx_end(c, rc, err);
}

/* Read-only: the request as op_ciba_poll returns it, last_poll the last
 * poll, without recording one. */
static mdt_rc op_ciba_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                          mdt_arena *a, mdt_ciba_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CIBA_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_text(st, 2, client_id),
                   row_ciba, a, out, "ciba_get", "unknown auth_req_id", err);
}

static mdt_rc op_ciba_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                              mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CIBA_CONSUME, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_int(st, 2, now),
                   "ciba_consume", "auth_req_id unknown or already redeemed", err);
    done(st);
    return tx_end(c, rc, err);
}

static mdt_rc op_single_use_add(mdt_store *s, const char *jti, int64_t expires_at, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_ONCE_INSERT, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, jti) | bind_int(st, 2, expires_at), "single_use_add", err);
}

static mdt_rc op_single_use_take(mdt_store *s, const char *jti, int64_t *uses, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_ONCE_USE, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_text(st, 1, jti), "single_use_take", "not a single-use token", err);
    if (rc == MDT_OK)
        *uses = col_int(st, 0);
    done(st);
    return tx_end(c, rc, err);
}

/* ------------------------------------------------------------- rate limits */

static mdt_rc op_rate_hit(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                          mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_RATE_HIT, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_text(st, 1, name) | bind_int(st, 2, window_start),
                   "rate_hit", "no count", err);
    if (rc == MDT_OK)
        *count = col_int(st, 0);
    done(st);
    return tx_end(c, rc, err);
}

static mdt_rc op_rate_release(mdt_store *s, const char *name, int64_t window_start,
                              mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_RATE_RELEASE, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, name) | bind_int(st, 2, window_start),
               "rate_release", err);
}

static mdt_rc op_rate_peek(mdt_store *s, const char *name, int64_t window_start, int64_t *count,
                           mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_RATE_PEEK, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_text(st, 1, name) | bind_int(st, 2, window_start),
                   "rate_peek", "no count", err);
    if (rc == MDT_OK)
        *count = col_int(st, 0);
    done(st);
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        *count = 0;
        rc = MDT_OK;
    }
    return rc;
}

/* ------------------------------------------------------------ web sessions */

static mdt_rc op_session_insert(mdt_store *s, const mdt_session_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_SESS_INSERT, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_blob(st, 1, v->hash, MDT_HASH_LEN) | bind_text(st, 2, v->username) |
        bind_text(st, 3, v->amr) | bind_int(st, 4, v->auth_time) |
        bind_int(st, 5, v->created_at) | bind_int(st, 6, v->last_seen_at) |
        bind_int(st, 7, v->expires_at);
    return run(c, st, b, "session_insert", err);
}

static mdt_rc op_session_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                             mdt_session_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_SESS_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN), row_session, a, out,
                   "session_get", "session not found", err);
}

static mdt_rc op_session_touch(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                               mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_SESS_TOUCH, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run_changed(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_int(st, 2, now),
                       "session_touch", "session not found or revoked", err);
}

static mdt_rc op_session_revoke_user(mdt_store *s, const char *username, int64_t now,
                                     mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_SESS_REVOKE_USER, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, username) | bind_int(st, 2, now),
               "session_revoke_user", err);
}

static mdt_rc op_session_revoke(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                                mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_SESS_REVOKE, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_int(st, 2, now),
               "session_revoke", err);
}

/* ------------------------------------- authorization requests, codes, consents */

static mdt_rc row_areq(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_authz_request_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    v->client_id = rd_text(&r, st, 1);
    v->redirect_uri = rd_text(&r, st, 2);
    v->redirect_given = col_int(st, 3) != 0;
    v->scope = rd_text(&r, st, 4);
    v->resource = rd_text(&r, st, 5);
    v->state = rd_text(&r, st, 6);
    v->nonce = rd_text(&r, st, 7);
    v->code_challenge = rd_text(&r, st, 8);
    v->prompt = rd_text(&r, st, 9);
    v->max_age = col_int(st, 10);
    v->login_after = col_int(st, 11);
    v->pushed = col_int(st, 12) != 0;
    v->form_post = col_int(st, 13) != 0;
    v->created_at = col_int(st, 14);
    v->expires_at = col_int(st, 15);
    v->dpop_jkt = rd_text(&r, st, 16);
    return rd_end(&r, err);
}

static mdt_rc row_code(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_authz_code_rec *v = dst;
    rd r = {a, false};

    rd_hash(st, 0, v->hash);
    v->client_id = rd_text(&r, st, 1);
    v->username = rd_text(&r, st, 2);
    v->redirect_uri = rd_text(&r, st, 3);
    v->redirect_given = col_int(st, 4) != 0;
    v->code_challenge = rd_text(&r, st, 5);
    v->scope = rd_text(&r, st, 6);
    v->resource = rd_text(&r, st, 7);
    v->nonce = rd_text(&r, st, 8);
    v->auth_time = col_int(st, 9);
    v->amr = rd_text(&r, st, 10);
    v->sid = rd_text(&r, st, 11);
    v->created_at = col_int(st, 12);
    v->expires_at = col_int(st, 13);
    v->used_at = col_int(st, 14);
    v->token_jtis = rd_text(&r, st, 15);
    v->tokens_expire_at = col_int(st, 16);
    v->access_jti = rd_text(&r, st, 17);
    v->family = rd_text(&r, st, 18);
    v->dpop_jkt = rd_text(&r, st, 19);
    return rd_end(&r, err);
}

static mdt_rc row_consent(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_consent_rec *v = dst;
    rd r = {a, false};

    v->username = rd_text(&r, st, 0);
    v->client_id = rd_text(&r, st, 1);
    v->scope = rd_text(&r, st, 2);
    v->created_at = col_int(st, 3);
    v->updated_at = col_int(st, 4);
    return rd_end(&r, err);
}

static mdt_rc op_authz_request_insert(mdt_store *s, const mdt_authz_request_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_AREQ_INSERT, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, v->id) | bind_text(st, 2, v->client_id) |
                          bind_text(st, 3, v->redirect_uri ? v->redirect_uri : "") |
                          bind_int(st, 4, v->redirect_given) |
                          bind_text(st, 5, v->scope ? v->scope : "") |
                          bind_text(st, 6, v->resource) | bind_text(st, 7, v->state) |
                          bind_text(st, 8, v->nonce) |
                          bind_text(st, 9, v->code_challenge ? v->code_challenge : "") |
                          bind_text(st, 10, v->prompt) | bind_int(st, 11, v->max_age) |
                          bind_int(st, 12, v->login_after) | bind_int(st, 13, v->pushed) |
                          bind_int(st, 14, v->form_post) | bind_int(st, 15, v->created_at) |
                          bind_int(st, 16, v->expires_at) | bind_text(st, 17, v->dpop_jkt),
               "authz_request_insert", err);
}

static mdt_rc op_authz_request_get(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                   mdt_authz_request_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_AREQ_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_text(st, 1, id) | bind_int(st, 2, now), row_areq, a, out,
                   "authz_request_get", "authorization request not found or expired", err);
}

static mdt_rc op_authz_request_take(mdt_store *s, const char *id, int64_t now, mdt_arena *a,
                                    mdt_authz_request_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_AREQ_TAKE, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_text(st, 1, id) | bind_int(st, 2, now), row_areq, a, out,
                   "authz_request_take", "authorization request not found, expired or used", err);
}

static mdt_rc op_code_insert(mdt_store *s, const mdt_authz_code_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CODE_INSERT, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_blob(st, 1, v->hash, MDT_HASH_LEN) | bind_text(st, 2, v->client_id) |
                          bind_text(st, 3, v->username) |
                          bind_text(st, 4, v->redirect_uri ? v->redirect_uri : "") |
                          bind_int(st, 5, v->redirect_given) |
                          bind_text(st, 6, v->code_challenge ? v->code_challenge : "") |
                          bind_text(st, 7, v->scope ? v->scope : "") |
                          bind_text(st, 8, v->resource) | bind_text(st, 9, v->nonce) |
                          bind_int(st, 10, v->auth_time) | bind_text(st, 11, v->amr ? v->amr : "") |
                          bind_text(st, 12, v->sid) | bind_int(st, 13, v->created_at) |
                          bind_int(st, 14, v->expires_at) | bind_text(st, 15, v->dpop_jkt),
               "code_insert", err);
}

/* ------------------------------------------------- device authorizations */

static mdt_rc row_device(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_device_rec *v = dst;
    rd r = {a, false};

    rd_hash(st, 0, v->hash);
    rd_hash(st, 1, v->user_hash);
    v->client_id = rd_text(&r, st, 2);
    v->scope = rd_text(&r, st, 3);
    v->resource = rd_text(&r, st, 4);
    v->request_id = rd_text(&r, st, 5);
    v->interval = col_int(st, 6);
    v->last_poll = col_int(st, 7);
    v->created_at = col_int(st, 8);
    v->expires_at = col_int(st, 9);
    v->consumed_at = col_int(st, 10);
    v->slow_down = col_int(st, 11) != 0;
    return rd_end(&r, err);
}

static mdt_rc op_device_insert(mdt_store *s, const mdt_device_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_DEV_INSERT, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_blob(st, 1, v->hash, MDT_HASH_LEN) |
                          bind_blob(st, 2, v->user_hash, MDT_HASH_LEN) |
                          bind_text(st, 3, v->client_id) | bind_text(st, 4, v->scope ? v->scope : "") |
                          bind_text(st, 5, v->resource) | bind_int(st, 6, v->interval) |
                          bind_int(st, 7, v->created_at) | bind_int(st, 8, v->expires_at),
               "device_insert", err);
}

static mdt_rc op_device_find_user(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN], int64_t now,
                                  mdt_arena *a, mdt_device_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_DEV_FIND_USER, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_blob(st, 1, user_hash, MDT_HASH_LEN) | bind_int(st, 2, now),
                   row_device, a, out, "device_find_user",
                   "user code unknown, expired or already entered", err);
}

/* The single-use UPDATEs of a device authorization: one statement
 * returning the row it changed, in a write transaction of its own. */
static mdt_rc device_update(mdt_store *s, enum mdt_q q, const uint8_t key[MDT_HASH_LEN],
                            const char *text, int64_t now, mdt_arena *a, mdt_device_rec *out,
                            const char *what, const char *notfound, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, q, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = one_row(c, st, bind_blob(st, 1, key, MDT_HASH_LEN) | bind_text(st, 2, text) |
                            bind_int(st, 3, now),
                 row_device, a, out, what, notfound, err);
    {
        /* a refusal changed nothing: commit, and answer the refusal */
        mdt_rc fin = tx_end(c, rc == MDT_ERR_NOT_FOUND ? MDT_OK : rc, err);

        return fin != MDT_OK ? fin : rc;
    }
}

static mdt_rc op_device_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                            const char *client_id, mdt_arena *a, mdt_device_rec *out,
                            mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_DEV_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_text(st, 2, client_id),
                   row_device, a, out, "device_get", "device code unknown", err);
}

static mdt_rc op_device_bind(mdt_store *s, const uint8_t user_hash[MDT_HASH_LEN],
                             const char *request_id, int64_t now, mdt_arena *a,
                             mdt_device_rec *out, mdt_err *err)
{
    return device_update(s, Q_DEV_BIND, user_hash, request_id, now, a, out, "device_bind",
                         "user code unknown, expired or already entered", err);
}

static mdt_rc op_device_poll(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], const char *client_id,
                             int64_t now, mdt_arena *a, mdt_device_rec *out, mdt_err *err)
{
    return device_update(s, Q_DEV_POLL, hash, client_id, now, a, out, "device_poll",
                         "device code unknown", err);
}

static mdt_rc op_device_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN],
                                const char *client_id, int64_t now, mdt_arena *a,
                                mdt_device_rec *out, mdt_err *err)
{
    return device_update(s, Q_DEV_CONSUME, hash, client_id, now, a, out, "device_consume",
                         "device code unknown, expired or redeemed", err);
}

static mdt_rc op_code_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                          mdt_authz_code_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CODE_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN), row_code, a, out, "code_get",
                   "authorization code unknown", err);
}

/* One UPDATE ... RETURNING in a write transaction; when it changes nothing,
 * the row (if any) says whether the code was used before. */
static mdt_rc op_code_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                              const mdt_code_issue *issue, mdt_arena *a, mdt_authz_code_rec *out,
                              mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL, *get = NULL;
    mdt_rc rc = prep(s, Q_CODE_CONSUME, &c, &st, err);

    if (rc != MDT_OK || (rc = stmt(c, Q_CODE_GET, &get, err)) != MDT_OK ||
        (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_int(st, 2, now) |
                            bind_text(st, 3, issue->access_jti) | bind_text(st, 4, issue->family) |
                            bind_int(st, 5, issue->expires_at),
                 row_code, a, out, "code_consume", "authorization code unknown or expired", err);
    if (rc == MDT_ERR_NOT_FOUND) {
        rc = one_row(c, get, bind_blob(get, 1, hash, MDT_HASH_LEN), row_code, a, out, "code_get",
                     "authorization code unknown or expired", err);
        if (rc == MDT_OK)
            rc = out->used_at ? mdt_fail(err, MDT_ERR_CONFLICT, "authorization code used before")
                              : mdt_fail(err, MDT_ERR_NOT_FOUND, "authorization code expired");
    }
    {
        /* a refusal changed nothing: commit, and answer the refusal */
        bool refusal = rc == MDT_ERR_CONFLICT || rc == MDT_ERR_NOT_FOUND;
        mdt_rc fin = tx_end(c, refusal ? MDT_OK : rc, err);

        return fin != MDT_OK ? fin : rc;
    }
}

/* Runs the statements of a grant's end in one transaction (see
 * mdt_store_grant_revoke); the token lists go before the refresh tokens are
 * marked, and all before anything else can use the code or the family. */
static mdt_rc op_grant_revoke(mdt_store *s, const char *username, const char *client_id,
                              int64_t now, mdt_err *err)
{
    static const enum mdt_q steps[] = {Q_GRANT_CODES_EXPIRE, Q_GRANT_CODE_JTIS, Q_GRANT_CODE_FAMILIES,
                                   Q_GRANT_RT_JTIS, Q_GRANT_RT_REVOKE, Q_GRANT_CONSENT};
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_GRANT_CONSENT, &c, &st, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    for (size_t i = 0; i < MDT_ARRAY_LEN(steps) && rc == MDT_OK; i++) {
        if ((rc = stmt(c, steps[i], &st, err)) != MDT_OK)
            break;
        rc = run(c, st, bind_text(st, 1, username) |
                            (client_id ? bind_text(st, 2, client_id) : bind_null(st, 2)) |
                            (steps[i] == Q_GRANT_CONSENT ? 0
                                                         : bind_int(st, 3, now)),
                 "grant_revoke", err);
    }
    return tx_end(c, rc, err);
}

/* ---------------------------------------------------------- refresh tokens */

static mdt_rc row_refresh(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_refresh_rec *v = dst;
    rd r = {a, false};

    rd_hash(st, 0, v->hash);
    v->family = rd_text(&r, st, 1);
    rd_hash(st, 2, v->parent);
    v->client_id = rd_text(&r, st, 3);
    v->subject = rd_text(&r, st, 4);
    v->scope = rd_text(&r, st, 5);
    v->resource = rd_text(&r, st, 6);
    v->auth_time = col_int(st, 7);
    v->amr = rd_text(&r, st, 8);
    v->sid = rd_text(&r, st, 9);
    v->cnf_x5t = rd_text(&r, st, 10);
    v->created_at = col_int(st, 11);
    v->expires_at = col_int(st, 12);
    v->used_at = col_int(st, 13);
    v->revoked_at = col_int(st, 14);
    v->access_jti = rd_text(&r, st, 15);
    v->access_exp = col_int(st, 16);
    v->cnf_jkt = rd_text(&r, st, 17);
    return rd_end(&r, err);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* Orders the writes of one family where the engine lets writers run at
 * once (PostgreSQL): a rotation's insert and the family's revocation each
 * hold the family's lock, so that the insert either sees the revocation or
 * is revoked by it. Inside a transaction; nothing where writers already
 * exclude each other (SQLite). */
static mdt_rc family_lock(sconn *c, const char *family, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc;

    if (!mdt_store__sql_text(c->drv, Q_RT_FAMILY_LOCK))
        return MDT_OK;
    if ((rc = stmt(c, Q_RT_FAMILY_LOCK, &st, err)) != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, family), "refresh_family_lock", err);
}

static mdt_rc refresh_insert_one(sconn *c, const mdt_refresh_rec *v, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_RT_INSERT, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_blob(st, 1, v->hash, MDT_HASH_LEN) | bind_text(st, 2, v->family) |
        bind_blob(st, 3, v->parent, MDT_HASH_LEN) | bind_text(st, 4, v->client_id) |
        bind_text(st, 5, v->subject) | bind_text(st, 6, v->scope) |
        bind_text(st, 7, or_empty(v->resource)) | bind_int(st, 8, v->auth_time) |
        bind_text(st, 9, or_empty(v->amr)) | bind_text(st, 10, or_empty(v->sid)) |
        bind_text(st, 11, or_empty(v->cnf_x5t)) | bind_int(st, 12, v->created_at) |
        bind_int(st, 13, v->expires_at) | bind_text(st, 14, or_empty(v->access_jti)) |
        bind_int(st, 15, v->access_exp) | bind_text(st, 16, or_empty(v->cnf_jkt));
    rc = run(c, st, b, "refresh_insert", err);
    if (rc == MDT_OK && changes(c) == 0)
        rc = mdt_fail(err, MDT_ERR_CONFLICT, "refresh token family revoked");
    return rc;
}

/* One statement; in a transaction with the family's lock only where the
 * driver has one (see family_lock). */
static mdt_rc op_refresh_insert(mdt_store *s, const mdt_refresh_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK)
        return rc;
    if (!mdt_store__sql_text(c->drv, Q_RT_FAMILY_LOCK))
        return refresh_insert_one(c, v, err);
    if ((rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = family_lock(c, v->family, err);
    if (rc == MDT_OK)
        rc = refresh_insert_one(c, v, err);
    if (rc == MDT_ERR_CONFLICT) { /* a refusal changed nothing */
        mdt_rc fin = tx_end(c, MDT_OK, err);

        return fin != MDT_OK ? fin
                             : mdt_fail(err, MDT_ERR_CONFLICT, "refresh token family revoked");
    }
    return tx_end(c, rc, err);
}

static mdt_rc op_refresh_get(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], mdt_arena *a,
                             mdt_refresh_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_RT_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN), row_refresh, a, out,
                   "refresh_get", "refresh token unknown", err);
}

/* As op_code_consume: one UPDATE ... RETURNING; when it changes nothing,
 * the row (if any) says whether the token was used before. */
static mdt_rc op_refresh_consume(mdt_store *s, const uint8_t hash[MDT_HASH_LEN], int64_t now,
                                 mdt_arena *a, mdt_refresh_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL, *get = NULL;
    mdt_rc rc = prep(s, Q_RT_CONSUME, &c, &st, err), fin;

    if (rc != MDT_OK || (rc = stmt(c, Q_RT_GET, &get, err)) != MDT_OK ||
        (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = one_row(c, st, bind_blob(st, 1, hash, MDT_HASH_LEN) | bind_int(st, 2, now),
                 row_refresh, a, out, "refresh_consume", "refresh token unknown", err);
    if (rc == MDT_ERR_NOT_FOUND) {
        rc = one_row(c, get, bind_blob(get, 1, hash, MDT_HASH_LEN), row_refresh, a, out,
                     "refresh_get", "refresh token unknown", err);
        if (rc == MDT_OK)
            rc = out->used_at ? mdt_fail(err, MDT_ERR_CONFLICT, "refresh token used before")
                              : mdt_fail(err, MDT_ERR_NOT_FOUND, "refresh token revoked or expired");
    }
    /* a refusal changed nothing: commit, and answer the refusal */
    fin = tx_end(c, rc == MDT_ERR_CONFLICT || rc == MDT_ERR_NOT_FOUND ? MDT_OK : rc, err);
    return fin != MDT_OK ? fin : rc;
}

static mdt_rc op_refresh_revoke_family(mdt_store *s, const char *family, int64_t now,
                                       mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *up = NULL, *jtis = NULL;
    mdt_rc rc = prep(s, Q_RT_REVOKE, &c, &up, err);

    if (rc != MDT_OK || (rc = stmt(c, Q_RT_REVOKE_JTIS, &jtis, err)) != MDT_OK ||
        (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    rc = family_lock(c, family, err);
    if (rc == MDT_OK)
        rc = run(c, up, bind_text(up, 1, family) | bind_int(up, 2, now),
                 "refresh_revoke_family", err);
    if (rc == MDT_OK)
        rc = run(c, jtis, bind_text(jtis, 1, family) | bind_int(jtis, 2, now),
                 "refresh_revoke_family", err);
    return tx_end(c, rc, err);
}

static mdt_rc op_consent_get(mdt_store *s, const char *username, const char *client_id,
                             mdt_arena *a, mdt_consent_rec *out, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CONSENT_GET, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return one_row(c, st, bind_text(st, 1, username) | bind_text(st, 2, client_id), row_consent,
                   a, out, "consent_get", "no consent", err);
}

static mdt_rc op_consent_put(mdt_store *s, const mdt_consent_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CONSENT_PUT, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, v->username) | bind_text(st, 2, v->client_id) |
                          bind_text(st, 3, v->scope) | bind_int(st, 4, v->created_at) |
                          bind_int(st, 5, v->updated_at),
               "consent_put", err);
}

static mdt_rc op_consent_list(mdt_store *s, const char *username, mdt_arena *a,
                              mdt_consent_rec **out, size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CONSENT_LIST, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return collect(c, st, bind_text(st, 1, username), a, sizeof(**out), row_consent,
                   (void **)out, n, "consent_list", err);
}

static mdt_rc op_consent_delete(mdt_store *s, const char *username, const char *client_id,
                                mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CONSENT_DELETE, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, username) | bind_text(st, 2, client_id), "consent_delete",
               err);
}

/* ------------------------------------------------------------------- audit */

/* The last event's seq and hash (0 and zeros when the log is empty). */
static mdt_rc audit_last(sconn *c, int64_t *seq, uint8_t hash[MDT_HASH_LEN], mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_AUDIT_LAST, &st, err);

    *seq = 0;
    memset(hash, 0, MDT_HASH_LEN);
    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, 0, "audit_last", "empty", err);
    if (rc == MDT_OK) {
        *seq = col_int(st, 0);
        rd_hash(st, 1, hash);
    }
    done(st);
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        rc = MDT_OK;
    }
    return rc;
}

static mdt_rc audit_insert(sconn *c, const mdt_audit_rec *ev, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_AUDIT_INSERT, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_int(st, 1, ev->seq) | bind_int(st, 2, ev->time) |
        bind_text(st, 3, ev->type) | bind_text(st, 4, ev->body) |
        bind_blob(st, 5, ev->prev_hash, MDT_HASH_LEN) | bind_blob(st, 6, ev->hash, MDT_HASH_LEN) |
        bind_text(st, 7, ev->client_id);
    return run(c, st, b, "audit_append", err);
}

/* Whether ev's premises still hold, inside the append's transaction: the
 * clients counter as its checks saw it, or else each client's own version
 * (*clients: the counter, read once per append, -1 until then). */
static mdt_rc premises_hold(sconn *c, const mdt_audit_rec *ev, int64_t *clients, bool *hold,
                            mdt_err *err)
{
    mdt_rc rc = MDT_OK;

    *hold = true;
    for (size_t i = 0; i < ev->nchecks && *hold && rc == MDT_OK; i++) {
        const mdt_client_check *k = &ev->checks[i];
        mdt_db_stmt *st = NULL;

        if (*clients < 0 && (rc = q_int(c, Q_CLIENTS_VERSION, clients, err)) != MDT_OK)
            break;
        if (k->clients == *clients)
            continue;
        if ((rc = stmt(c, Q_CLIENT_VERSION_OF, &st, err)) != MDT_OK)
            break;
        rc = first_row(c, st, bind_text(st, 1, k->client_id), "client_version_of", "gone", err);
        if (rc == MDT_OK)
            *hold = col_int(st, 0) == k->version;
        else if (rc == MDT_ERR_NOT_FOUND) {
            *hold = false;
            rc = MDT_OK;
        }
        done(st);
    }
    return rc;
}

/* Records ev's single-use identifiers; *replayed when one is live already
 * (those before it stay recorded: consumed all the same). */
static mdt_rc uses_record(sconn *c, const mdt_audit_rec *ev, bool *replayed, mdt_err *err)
{
    mdt_rc rc = MDT_OK;

    *replayed = false;
    for (size_t i = 0; i < ev->nuses && !*replayed && rc == MDT_OK; i++) {
        const mdt_jti_use_rec *u = &ev->uses[i];

        mdt_err used = {0};

        rc = jti_use(c, u->issuer, u->jti, u->expires_at, ev->time, &used);
        if (rc == MDT_ERR_CONFLICT) {
            *replayed = true;
            rc = MDT_OK;
        } else if (rc != MDT_OK && err) {
            *err = used;
        }
    }
    return rc;
}

static mdt_rc audit_append_tx(sconn *c, mdt_audit_rec *evs, size_t n, mdt_audit_hash_fn hash,
                              int64_t *clients, mdt_err *err)
{
    uint8_t prev[MDT_HASH_LEN];
    int64_t seq;
    bool hold, replayed;
    mdt_rc rc = audit_last(c, &seq, prev, err);

    for (size_t i = 0; i < n && rc == MDT_OK; i++) {
        evs[i].refused = MDT_OK;
        evs[i].replayed = false;
        if ((rc = premises_hold(c, &evs[i], clients, &hold, err)) != MDT_OK ||
            (hold && (rc = uses_record(c, &evs[i], &replayed, err)) != MDT_OK))
            break;
        if (!hold || (replayed && !evs[i].replay_type)) {
            evs[i].refused = MDT_ERR_CONFLICT;
            evs[i].replayed = hold;
            evs[i].seq = 0;
            continue;
        }
        if (replayed) { /* its replacement, in its place */
            evs[i].refused = MDT_ERR_CONFLICT;
            evs[i].replayed = true;
            evs[i].type = evs[i].replay_type;
            evs[i].body = evs[i].replay_body;
            evs[i].token = NULL;
        }
        evs[i].seq = ++seq;
        memcpy(evs[i].prev_hash, prev, MDT_HASH_LEN);
        hash(&evs[i]);
        if (evs[i].token)
            rc = token_insert(c, evs[i].token, err);
        if (rc == MDT_OK)
            rc = audit_insert(c, &evs[i], err);
        memcpy(prev, evs[i].hash, MDT_HASH_LEN);
    }
    return rc;
}

static mdt_rc op_audit_append(mdt_store *s, mdt_audit_rec *evs, size_t n, mdt_audit_hash_fn hash,
                              mdt_err *err)
{
    sconn *c;
    int64_t clients = -1, at = mdt_time_mono_us();
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        goto out;
    rc = run_q_if(c, Q_AUDIT_LOCK, err);
    if (rc == MDT_OK)
        rc = audit_append_tx(c, evs, n, hash, &clients, err);
    rc = tx_end(c, rc, err);
    if (rc == MDT_OK && clients >= 0)
        mdt_store__clients_seen(s, clients, at);
    if (rc == MDT_OK && c->drv->durable)
        rc = c->drv->durable(c->db, err);
out:
    for (size_t i = 0; rc != MDT_OK && i < n; i++)
        evs[i].seq = 0; /* nothing was appended */
    return rc;
}

/* Not a cached statement: fn may call back into the store on this thread.
 * The record's strings are the driver's and live only during the call.
 * client_id: only the events about that client (Q_AUDIT_EACH_CLIENT). */
static mdt_rc audit_each(mdt_store *s, const char *client_id, int64_t after_seq, int64_t since,
                         mdt_audit_each_fn fn, void *ctx, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_audit_rec ev;
    sconn *c;
    bool row = false;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK)
        return rc;
    rc = c->drv->prepare(c->db, -1,
                         mdt_store__sql_text(c->drv, client_id ? Q_AUDIT_EACH_CLIENT : Q_AUDIT_EACH),
                         &st, err);
    if (rc != MDT_OK)
        return rc;
    if (bind_int(st, 1, after_seq) | bind_int(st, 2, since) |
        (client_id ? bind_text(st, 3, client_id) : 0))
        rc = c->drv->fail(c->db, "audit_each", err);
    else
        rc = c->drv->step(st, &row, "audit_each", err);
    while (rc == MDT_OK && row) {
        ev.seq = col_int(st, 0);
        ev.time = col_int(st, 1);
        ev.type = st->drv->col_text(st, 2, NULL);
        ev.body = st->drv->col_text(st, 3, NULL);
        ev.client_id = client_id;
        rd_hash(st, 4, ev.prev_hash);
        rd_hash(st, 5, ev.hash);
        if (!fn(&ev, ctx))
            break;
        rc = c->drv->step(st, &row, "audit_each", err);
    }
    c->drv->finalize(st);
    return rc;
}

static mdt_rc op_audit_each(mdt_store *s, int64_t after_seq, int64_t since, mdt_audit_each_fn fn,
                            void *ctx, mdt_err *err)
{
    return audit_each(s, NULL, after_seq, since, fn, ctx, err);
}

static mdt_rc op_audit_each_client(mdt_store *s, const char *client_id, int64_t after_seq,
                                   int64_t since, mdt_audit_each_fn fn, void *ctx, mdt_err *err)
{
    return audit_each(s, client_id, after_seq, since, fn, ctx, err);
}

static mdt_rc op_audit_last_seq(mdt_store *s, int64_t *out, mdt_err *err)
{
    uint8_t hash[MDT_HASH_LEN];
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    return rc != MDT_OK ? rc : audit_last(c, out, hash, err);
}

static mdt_rc op_audit_head(mdt_store *s, int64_t *seq, uint8_t hash[MDT_HASH_LEN], mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    return rc != MDT_OK ? rc : audit_last(c, seq, hash, err);
}

static mdt_rc op_audit_find_type(mdt_store *s, const char *type, int64_t *seq, mdt_err *err)
{
    return int_by_text(s, Q_AUDIT_FIND_TYPE, type, "audit_find_type", seq, err);
}

static mdt_rc op_audit_checkpoint_add(mdt_store *s, const mdt_audit_checkpoint_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CKPT_ADD, &c, &st, err);
    int b;

    if (rc != MDT_OK)
        return rc;
    b = bind_int(st, 1, v->n) | bind_int(st, 2, v->seq) |
        bind_int(st, 3, v->time) | bind_blob(st, 4, v->head, MDT_HASH_LEN) |
        bind_text(st, 5, v->jws);
    rc = run(c, st, b, "audit_checkpoint_add", err);
    if (rc == MDT_OK && changes(c) == 0)
        rc = mdt_fail(err, MDT_ERR_CONFLICT, "another audit checkpoint was written first");
    else if (rc == MDT_ERR_CONFLICT)
        rc = mdt_fail(err, MDT_ERR_CONFLICT, "another audit checkpoint was written first");
    return rc;
}

static void row_checkpoint(mdt_db_stmt *st, mdt_audit_checkpoint_rec *out)
{
    out->n = col_int(st, 0);
    out->seq = col_int(st, 1);
    out->time = col_int(st, 2);
    rd_hash(st, 3, out->head);
    out->jws = st->drv->col_text(st, 4, NULL);
}

static mdt_rc op_audit_checkpoint_last(mdt_store *s, mdt_arena *a, mdt_audit_checkpoint_rec *out,
                                       mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_CKPT_LAST, &c, &st, err);
    rd r = {.a = a};

    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, 0, "audit_checkpoint_last", "no audit checkpoint", err);
    if (rc == MDT_OK) {
        row_checkpoint(st, out);
        out->jws = rd_text(&r, st, 4);
        rc = rd_end(&r, err);
    }
    done(st);
    return rc;
}

/* Not a cached statement: fn may call back into the store on this thread. */
static mdt_rc op_audit_checkpoint_each(mdt_store *s, mdt_audit_checkpoint_fn fn, void *ctx,
                                       mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_audit_checkpoint_rec cp;
    sconn *c;
    bool row = false;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK)
        return rc;
    rc = c->drv->prepare(c->db, -1, mdt_store__sql_text(c->drv, Q_CKPT_EACH), &st, err);
    if (rc != MDT_OK)
        return rc;
    rc = c->drv->step(st, &row, "audit_checkpoint_each", err);
    while (rc == MDT_OK && row) {
        row_checkpoint(st, &cp);
        if (!fn(&cp, ctx))
            break;
        rc = c->drv->step(st, &row, "audit_checkpoint_each", err);
    }
    c->drv->finalize(st);
    return rc;
}

/* ------------------------------------------------------------------ usage */

static mdt_rc usage_flush_tx(sconn *c, const mdt_usage_scope_rec *sc, size_t nsc,
                             const mdt_usage_day_rec *days, size_t ndays, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = MDT_OK;

    for (size_t i = 0; i < nsc && rc == MDT_OK; i++)
        if ((rc = stmt(c, Q_USAGE_SCOPE_UPSERT, &st, err)) == MDT_OK)
            rc = run(c, st, bind_text(st, 1, sc[i].client_id) | bind_text(st, 2, sc[i].scope) |
                                bind_int(st, 3, sc[i].last_used_at),
                     "usage_flush", err);
    for (size_t i = 0; i < ndays && rc == MDT_OK; i++)
        if ((rc = stmt(c, Q_USAGE_DAY_UPSERT, &st, err)) == MDT_OK)
            rc = run(c, st, bind_text(st, 1, days[i].client_id) | bind_int(st, 2, days[i].day) |
                                bind_int(st, 3, days[i].tokens) |
                                bind_int(st, 4, days[i].last_used_at),
                     "usage_flush", err);
    return rc;
}

static mdt_rc op_usage_flush(mdt_store *s, const mdt_usage_scope_rec *sc, size_t nsc,
                             const mdt_usage_day_rec *days, size_t ndays, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    return tx_end(c, usage_flush_tx(c, sc, nsc, days, ndays, err), err);
}

static mdt_rc row_usage_scope(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_usage_scope_rec *v = dst;
    rd r = {a, false};

    v->client_id = rd_text(&r, st, 0);
    v->scope = rd_text(&r, st, 1);
    v->last_used_at = col_int(st, 2);
    return rd_end(&r, err);
}

static mdt_rc row_usage_day(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_usage_day_rec *v = dst;
    rd r = {a, false};

    v->client_id = rd_text(&r, st, 0);
    v->day = col_int(st, 1);
    v->tokens = col_int(st, 2);
    v->last_used_at = col_int(st, 3);
    return rd_end(&r, err);
}

static mdt_rc op_usage_scope_list(mdt_store *s, mdt_arena *a, mdt_usage_scope_rec **out,
                                  size_t *n, mdt_err *err)
{
    return list_all(s, Q_USAGE_SCOPE_LIST, row_usage_scope, a, sizeof(**out), (void **)out, n,
                    "usage_scope_list", err);
}

static mdt_rc op_usage_day_list(mdt_store *s, const char *client_id, int64_t since_day,
                                mdt_arena *a, mdt_usage_day_rec **out, size_t *n, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_USAGE_DAY_LIST, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return collect(c, st,
                   (client_id ? bind_text(st, 1, client_id) : bind_null(st, 1)) |
                       bind_int(st, 2, since_day),
                   a, sizeof(**out), row_usage_day, (void **)out, n, "usage_day_list", err);
}

static mdt_rc op_refresh_live_count(mdt_store *s, const char *client_id, int64_t now,
                                    int64_t *count, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_RT_LIVE_COUNT, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    rc = first_row(c, st, bind_text(st, 1, client_id) | bind_int(st, 2, now),
                   "refresh_live_count", "no count", err);
    if (rc == MDT_OK)
        *count = col_int(st, 0);
    done(st);
    return rc;
}

/* The access tokens first (they are found through the rows not yet revoked). */
static mdt_rc refresh_revoke_client_tx(sconn *c, const char *client_id, int64_t now,
                                       int64_t *revoked, mdt_err *err)
{
    mdt_db_stmt *st = NULL;
    mdt_rc rc = stmt(c, Q_RT_CLIENT_JTIS, &st, err);

    if (rc == MDT_OK)
        rc = run(c, st, bind_text(st, 1, client_id) | bind_int(st, 2, now),
                 "refresh_revoke_client", err);
    if (rc == MDT_OK && (rc = stmt(c, Q_RT_REVOKE_CLIENT, &st, err)) == MDT_OK) {
        rc = run(c, st, bind_text(st, 1, client_id) | bind_int(st, 2, now),
                 "refresh_revoke_client", err);
        if (rc == MDT_OK)
            *revoked = changes(c);
    }
    return rc;
}

static mdt_rc op_refresh_revoke_client(mdt_store *s, const char *client_id, int64_t now,
                                       int64_t *revoked, mdt_err *err)
{
    sconn *c;
    mdt_rc rc = conn_get(S(s), &c, err);

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    return tx_end(c, refresh_revoke_client_tx(c, client_id, now, revoked, err), err);
}

/* -------------------------------------------------- access review decisions */

static mdt_rc op_review_insert(mdt_store *s, const mdt_review_decision_rec *v, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = prep(s, Q_REVIEW_INSERT, &c, &st, err);

    if (rc != MDT_OK)
        return rc;
    return run(c, st, bind_text(st, 1, v->id) | bind_text(st, 2, v->finding_id) |
                          bind_text(st, 3, v->kind) | bind_text(st, 4, v->client_id) |
                          bind_text(st, 5, v->decision) | bind_text(st, 6, v->note ? v->note : "") |
                          bind_int(st, 7, v->until) | bind_text(st, 8, v->decided_by) |
                          bind_int(st, 9, v->decided_at),
               "review_insert", err);
}

static mdt_rc row_review(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_review_decision_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    v->finding_id = rd_text(&r, st, 1);
    v->kind = rd_text(&r, st, 2);
    v->client_id = rd_text(&r, st, 3);
    v->decision = rd_text(&r, st, 4);
    v->note = rd_text(&r, st, 5);
    v->until = col_int(st, 6);
    v->decided_by = rd_text(&r, st, 7);
    v->decided_at = col_int(st, 8);
    return rd_end(&r, err);
}

static mdt_rc op_review_list(mdt_store *s, mdt_arena *a, mdt_review_decision_rec **out,
                             size_t *n, mdt_err *err)
{
    return list_all(s, Q_REVIEW_LIST, row_review, a, sizeof(**out), (void **)out, n,
                    "review_list", err);
}

/* ---------------------------------------------------------------- policies */

/* Runs a policy write and moves the policies counter, in one transaction. */
static mdt_rc policy_write(mdt_store *s, enum mdt_q q, const mdt_policy_rec *v, const char *what,
                           const char *notfound, mdt_err *err)
{
    sconn *c;
    mdt_db_stmt *st = NULL;
    mdt_rc rc = conn_get(S(s), &c, err);
    int b;

    if (rc != MDT_OK || (rc = tx_begin(c, err)) != MDT_OK)
        return rc;
    if ((rc = stmt(c, q, &st, err)) != MDT_OK)
        return tx_end(c, rc, err);
    if (q == Q_POLICY_INSERT)
        b = bind_text(st, 1, v->id) | bind_text(st, 2, v->text) |
            (v->description ? bind_text(st, 3, v->description) : bind_null(st, 3)) |
            bind_int(st, 4, v->created_at) | bind_int(st, 5, v->updated_at) |
            bind_text(st, 6, v->created_by);
    else if (q == Q_POLICY_UPDATE)
        b = bind_text(st, 1, v->id) | bind_text(st, 2, v->text) |
            (v->description ? bind_text(st, 3, v->description) : bind_null(st, 3)) |
            bind_int(st, 4, v->updated_at);
    else
        b = bind_text(st, 1, v->id);
    rc = notfound ? run_changed(c, st, b, what, notfound, err) : run(c, st, b, what, err);
    if (rc == MDT_OK)
        rc = run_q(c, Q_POLICIES_BUMP, err);
    return tx_end(c, rc, err);
}

static mdt_rc op_policy_insert(mdt_store *s, const mdt_policy_rec *v, mdt_err *err)
{
    return policy_write(s, Q_POLICY_INSERT, v, "policy_insert", NULL, err);
}

static mdt_rc op_policy_update(mdt_store *s, const mdt_policy_rec *v, mdt_err *err)
{
    return policy_write(s, Q_POLICY_UPDATE, v, "policy_update", "policy not found", err);
}

static mdt_rc op_policy_delete(mdt_store *s, const char *id, mdt_err *err)
{
    mdt_policy_rec v = {.id = id};

    return policy_write(s, Q_POLICY_DELETE, &v, "policy_delete", "policy not found", err);
}

static mdt_rc row_policy(mdt_db_stmt *st, mdt_arena *a, void *dst, mdt_err *err)
{
    mdt_policy_rec *v = dst;
    rd r = {a, false};

    v->id = rd_text(&r, st, 0);
    v->text = rd_text(&r, st, 1);
    v->description = rd_text(&r, st, 2);
    v->created_at = col_int(st, 3);
    v->updated_at = col_int(st, 4);
    v->created_by = rd_text(&r, st, 5);
    return rd_end(&r, err);
}

static mdt_rc op_policy_get(mdt_store *s, const char *id, mdt_arena *a, mdt_policy_rec *out,
                            mdt_err *err)
{
    return get_by_text(s, Q_POLICY_GET, id, row_policy, a, out, "policy_get", "policy not found",
                       err);
}

static mdt_rc op_policy_list(mdt_store *s, mdt_arena *a, mdt_policy_rec **out, size_t *n,
                             mdt_err *err)
{
    return list_all(s, Q_POLICY_LIST, row_policy, a, sizeof(**out), (void **)out, n,
                    "policy_list", err);
}

static mdt_rc op_policies_version(mdt_store *s, int64_t *out, mdt_err *err)
{
    return one_int(s, Q_POLICIES_VERSION, out, err);
}

static const mdt_store_ops sql_ops = {
    .name = "sql",
    .close = sql_close,
    .migrate = sql_migrate,
    .schema_version = sql_schema_version,
    .ping = sql_ping,
    .thread_done = sql_thread_done,
    .read_begin = sql_read_begin,
    .read_end = sql_read_end,
    .read_reset = sql_read_reset,
    .background_start = sql_background_start,
    .client_insert = op_client_insert,
    .client_get = op_client_get,
    .client_list = op_client_list,
    .client_update = op_client_update,
    .client_delete = op_client_delete,
    .client_deleted_at = op_client_deleted_at,
    .cred_insert = op_cred_insert,
    .cred_list = op_cred_list,
    .cred_last_used = op_cred_last_used,
    .cred_expire_others = op_cred_expire_others,
    .cred_touch = op_cred_touch,
    .cred_get = op_cred_get,
    .cred_find = op_cred_find,
    .client_update_creds = op_client_update_creds,
    .jti_use = op_jti_use,
    .cred_delete = op_cred_delete,
    .scope_insert = op_scope_insert,
    .scope_get = op_scope_get,
    .scope_list = op_scope_list,
    .token_insert = op_token_insert,
    .token_get = op_token_get,
    .token_revoke = op_token_revoke,
    .jti_revoke = op_jti_revoke,
    .jti_is_revoked = op_jti_is_revoked,
    .purge_expired = op_purge_expired,
    .key_insert = op_key_insert,
    .key_list = op_key_list,
    .key_schedule = op_key_schedule,
    .clients_version = op_clients_version,
    .user_insert = op_user_insert,
    .user_get = op_user_get,
    .user_list = op_user_list,
    .user_update = op_user_update,
    .user_count = op_user_count,
    .iat_insert = op_iat_insert,
    .iat_find = op_iat_find,
    .iat_get = op_iat_get,
    .iat_consume = op_iat_consume,
    .request_insert = op_request_insert,
    .request_get = op_request_get,
    .request_list = op_request_list,
    .request_decide = op_request_decide,
    .request_insert_notify = op_request_insert_notify,
    .request_vote = op_request_vote,
    .vote_list = op_vote_list,
    .request_votes = op_request_votes,
    .request_list_pending = op_request_list_pending,
    .request_count_pending = op_request_count_pending,
    .request_expire_due = op_request_expire_due,
    .outbox_claim = op_outbox_claim,
    .outbox_delete = op_outbox_delete,
    .outbox_retry = op_outbox_retry,
    .outbox_list = op_outbox_list,
    .ciba_insert = op_ciba_insert,
    .ciba_poll = op_ciba_poll,
    .ciba_consume = op_ciba_consume,
    .ciba_get = op_ciba_get,
    .single_use_add = op_single_use_add,
    .single_use_take = op_single_use_take,
    .entitlement_insert = op_entitlement_insert,
    .entitlement_list = op_entitlement_list,
    .entitlement_end = op_entitlement_end,
    .rate_hit = op_rate_hit,
    .rate_peek = op_rate_peek,
    .rate_release = op_rate_release,
    .session_insert = op_session_insert,
    .session_get = op_session_get,
    .session_touch = op_session_touch,
    .session_revoke = op_session_revoke,
    .authz_request_insert = op_authz_request_insert,
    .authz_request_get = op_authz_request_get,
    .authz_request_take = op_authz_request_take,
    .device_insert = op_device_insert,
    .device_find_user = op_device_find_user,
    .device_bind = op_device_bind,
    .device_poll = op_device_poll,
    .device_consume = op_device_consume,
    .device_get = op_device_get,
    .code_insert = op_code_insert,
    .code_consume = op_code_consume,
    .code_get = op_code_get,
    .grant_revoke = op_grant_revoke,
    .session_revoke_user = op_session_revoke_user,
    .refresh_insert = op_refresh_insert,
    .refresh_get = op_refresh_get,
    .refresh_consume = op_refresh_consume,
    .refresh_revoke_family = op_refresh_revoke_family,
    .consent_get = op_consent_get,
    .consent_put = op_consent_put,
    .consent_list = op_consent_list,
    .consent_delete = op_consent_delete,
    .usage_flush = op_usage_flush,
    .usage_scope_list = op_usage_scope_list,
    .usage_day_list = op_usage_day_list,
    .refresh_live_count = op_refresh_live_count,
    .refresh_revoke_client = op_refresh_revoke_client,
    .review_insert = op_review_insert,
    .review_list = op_review_list,
    .policy_insert = op_policy_insert,
    .policy_update = op_policy_update,
    .policy_delete = op_policy_delete,
    .policy_get = op_policy_get,
    .policy_list = op_policy_list,
    .policies_version = op_policies_version,
    .audit_append = op_audit_append,
    .audit_each = op_audit_each,
    .audit_each_client = op_audit_each_client,
    .audit_last_seq = op_audit_last_seq,
    .audit_head = op_audit_head,
    .audit_find_type = op_audit_find_type,
    .audit_checkpoint_add = op_audit_checkpoint_add,
    .audit_checkpoint_last = op_audit_checkpoint_last,
    .audit_checkpoint_each = op_audit_checkpoint_each,
};
