/* Risk signals from the store's rate counters (policy/risk.h). */
#include <stdio.h>
#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "core/log.h"
#include "policy/risk.h"
#include "store/store.h"

#define RISK_ID_MAX 256 /* longest client id counted (a claimed one is anyone's input) */
#define RISK_NAME_MAX (RISK_ID_MAX + 16)

int64_t mdt_risk_window(int64_t now, int64_t width)
{
    int64_t r = now % width;

    return now - (r < 0 ? r + width : r);
}

int64_t mdt_risk_sliding(int64_t cur, int64_t prev, int64_t now, int64_t width)
{
    int64_t elapsed = now - mdt_risk_window(now, width); /* 0 .. width-1 */
    int64_t left = width - elapsed;                     /* of the previous window, still inside */

    return cur + (prev * left + width - 1) / width;
}

int64_t mdt_risk_hour(int64_t now)
{
    return (now - mdt_risk_window(now, 86400)) / 3600;
}

/* "<kind>:<client_id>" for the counts; for an IP address or credential,
 * "<kind>:" and a hash of the client and the value, so that names stay
 * short and the store holds no address in clear. false: client_id unfit. */
static bool risk_name(char out[RISK_NAME_MAX], const char *kind, const char *client_id,
                      const char *value)
{
    uint8_t h[MDT_SHA256_LEN];
    char hex[2 * MDT_SHA256_LEN + 1];
    char buf[2 * RISK_ID_MAX + 2];

    if (!client_id || !*client_id || strlen(client_id) > RISK_ID_MAX)
        return false;
    if (!value) {
        snprintf(out, RISK_NAME_MAX, "%s:%s", kind, client_id);
        return true;
    }
    if (strlen(value) > RISK_ID_MAX)
        return false;
    snprintf(buf, sizeof(buf), "%s\n%s", client_id, value);
    mdt_sha256(buf, strlen(buf), h);
    mdt_hex_encode(h, 16, hex);
    snprintf(out, RISK_NAME_MAX, "%s:%s", kind, hex);
    return true;
}

/* Events of name in (now - width, now], estimated. */
static mdt_rc risk_count(mdt_env *env, const char *name, int64_t now, int64_t width, int64_t *out,
                         mdt_err *err)
{
    int64_t w = mdt_risk_window(now, width), cur = 0, prev = 0;
    mdt_rc rc;

    if ((rc = mdt_store_rate_peek(env->store, name, w, &cur, err)) != MDT_OK ||
        (rc = mdt_store_rate_peek(env->store, name, w - width, &prev, err)) != MDT_OK)
        return rc;
    *out = mdt_risk_sliding(cur, prev, now, width);
    return MDT_OK;
}

/* Whether value was not seen by client_id in this window of memory nor in
 * the one before. */
static mdt_rc risk_new(mdt_env *env, const char *kind, const char *client_id, const char *value,
                       int64_t now, int64_t memory, bool *out, mdt_err *err)
{
    char name[RISK_NAME_MAX];
    int64_t n = 0;
    mdt_rc rc;

    *out = false;
    if (!value || !risk_name(name, kind, client_id, value))
        return MDT_OK;
    if ((rc = risk_count(env, name, now, memory, &n, err)) != MDT_OK)
        return rc;
    *out = n == 0;
    return MDT_OK;
}

mdt_rc mdt_risk_read(mdt_env *env, const char *client_id, const char *ip, const char *cred_id,
                     int64_t now, int64_t memory, mdt_risk *out, mdt_err *err)
{
    char name[RISK_NAME_MAX];
    mdt_rc rc = MDT_OK;

    memset(out, 0, sizeof(*out));
    out->hour = mdt_risk_hour(now);
    if (memory < MDT_RISK_HOUR || memory > MDT_RISK_MEMORY_MAX)
        memory = MDT_RISK_MEMORY_MAX;
    if (risk_name(name, "risk.req1m", client_id, NULL) &&
        (rc = risk_count(env, name, now, MDT_RISK_MINUTE, &out->requests_last_minute, err)) !=
            MDT_OK)
        return rc;
    if (risk_name(name, "risk.req1h", client_id, NULL) &&
        (rc = risk_count(env, name, now, MDT_RISK_HOUR, &out->requests_last_hour, err)) != MDT_OK)
        return rc;
    out->requests_last_minute++; /* this request */
    out->requests_last_hour++;
    if (risk_name(name, "risk.authfail", client_id, NULL) &&
        (rc = risk_count(env, name, now, MDT_RISK_HOUR, &out->auth_failures_last_hour, err)) !=
            MDT_OK)
        return rc;
    if ((rc = risk_new(env, "risk.ip", client_id, ip, now, memory, &out->new_ip, err)) != MDT_OK)
        return rc;
    return risk_new(env, "risk.cred", client_id, cred_id, now, memory, &out->new_credential, err);
}

/* One event of name in the window of width holding now. */
static mdt_rc risk_hit(mdt_env *env, const char *name, int64_t now, int64_t width, mdt_err *err)
{
    int64_t n;

    return mdt_store_rate_hit(env->store, name, mdt_risk_window(now, width), &n, err);
}

mdt_rc mdt_risk_record_request(mdt_env *env, const char *client_id, const char *ip,
                               const char *cred_id, int64_t now, int64_t memory, mdt_err *err)
{
    char name[RISK_NAME_MAX];
    mdt_rc rc = MDT_OK;

    if (memory < MDT_RISK_HOUR || memory > MDT_RISK_MEMORY_MAX)
        memory = MDT_RISK_MEMORY_MAX;
    /* the minute and hour counts are two counters (an hour's window starts
       where a minute's does) */
    if (risk_name(name, "risk.req1m", client_id, NULL) &&
        (rc = risk_hit(env, name, now, MDT_RISK_MINUTE, err)) != MDT_OK)
        return rc;
    if (risk_name(name, "risk.req1h", client_id, NULL) &&
        (rc = risk_hit(env, name, now, MDT_RISK_HOUR, err)) != MDT_OK)
        return rc;
    if (ip && risk_name(name, "risk.ip", client_id, ip) &&
        (rc = risk_hit(env, name, now, memory, err)) != MDT_OK)
        return rc;
    if (cred_id && risk_name(name, "risk.cred", client_id, cred_id))
        rc = risk_hit(env, name, now, memory, err);
    return rc;
}

void mdt_risk_note_auth_failure(mdt_env *env, const char *client_id, int64_t now)
{
    char name[RISK_NAME_MAX];
    mdt_err err = {0};

    if (!mdt_env_pdp(env) || !risk_name(name, "risk.authfail", client_id, NULL))
        return;
    if (risk_hit(env, name, now, MDT_RISK_HOUR, &err) != MDT_OK)
        MDT_WARN("risk signal not recorded: %s", mdt_err_audit_text(&err));
}

mdt_rc mdt_risk_json(const mdt_risk *r, mdt_buf *b)
{
    return mdt_buf_addf(b,
                        "{\"requests_last_minute\":%lld,\"requests_last_hour\":%lld,"
                        "\"auth_failures_last_hour\":%lld,\"hour\":%lld,\"new_ip\":%s,"
                        "\"new_credential\":%s}",
                        (long long)r->requests_last_minute, (long long)r->requests_last_hour,
                        (long long)r->auth_failures_last_hour, (long long)r->hour,
                        r->new_ip ? "true" : "false", r->new_credential ? "true" : "false");
}
