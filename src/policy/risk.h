/* Risk signals (SPEC §3.8): what Mandate's own history says about a
 * client's token request, for the context of the decision at token
 * issuance (oauth/scope_policy.c). Drawn from the whole system: the
 * counters are the store's rate counters (mdt_store_rate_hit), shared by
 * every node and purged with them after a day, so they stay bounded.
 *
 * Counts over the last minute and hour are sliding-window estimates from
 * two fixed windows (the current one and the one before it, weighted by how
 * much of it still lies within the last minute or hour): exact within a
 * burst, never more than the true count plus the older window's share.
 * Recorded only while a PDP is on (env->pdp): nothing is counted, and
 * nothing costs, otherwise. */
#ifndef MDT_POLICY_RISK_H
#define MDT_POLICY_RISK_H

#include <stdbool.h>
#include <stdint.h>

#include "app/env.h"
#include "core/buf.h"
#include "core/mdt.h"

#define MDT_RISK_MINUTE 60
#define MDT_RISK_HOUR 3600
#define MDT_RISK_MEMORY_MAX 43200 /* rate windows are purged after a day: two fit in it */

typedef struct {
    int64_t requests_last_minute;    /* this client's token requests, this one included */
    int64_t requests_last_hour;
    int64_t auth_failures_last_hour; /* failed client authentications naming this client */
    int64_t hour;                    /* of now, 0-23 UTC */
    bool new_ip;                     /* not used by this client within the memory */
    bool new_credential;             /* this credential not used within the memory */
} mdt_risk;

/* --- pure window logic --- */
/* Start of the fixed window of width that holds now. */
int64_t mdt_risk_window(int64_t now, int64_t width);
/* The sliding-window estimate of events in (now - width, now]: cur counted
 * in the current fixed window, prev in the one before, prev weighted by the
 * part of its window still inside the last width seconds (rounded up). */
int64_t mdt_risk_sliding(int64_t cur, int64_t prev, int64_t now, int64_t width);
/* The hour of day of now, UTC. */
int64_t mdt_risk_hour(int64_t now);

/* --- reading and recording (the store's rate counters) --- */
/* The signals of a token request of client_id from ip with the credential
 * cred_id (NULL: none, e.g. a public client) at now, this request counted
 * as one more (it is recorded afterwards by mdt_risk_record_request, so that
 * a request asked again reads the same history). memory: how long an IP
 * address or credential is remembered ([pdp] risk_memory). Read-only. */
mdt_rc mdt_risk_read(mdt_env *env, const char *client_id, const char *ip, const char *cred_id,
                     int64_t now, int64_t memory, mdt_risk *out, mdt_err *err) MDT_WARN_UNUSED;
/* Records the token request whose signals were read. */
mdt_rc mdt_risk_record_request(mdt_env *env, const char *client_id, const char *ip,
                               const char *cred_id, int64_t now, int64_t memory,
                               mdt_err *err) MDT_WARN_UNUSED;
/* Records a failed client authentication naming client_id (the claimed
 * id; NULL or overlong: nothing). Only while a PDP is on; a store failure
 * is logged, never turned into the request's answer. */
void mdt_risk_note_auth_failure(mdt_env *env, const char *client_id, int64_t now);

/* The signals as the JSON object of the decision context's "risk". */
mdt_rc mdt_risk_json(const mdt_risk *r, mdt_buf *b) MDT_WARN_UNUSED;

#endif
