/* Webhook notifications ([webhooks] endpoints, SPEC §3.5): each new pending
 * approval request is POSTed as JSON to every configured endpoint, from a
 * persisted outbox (written in the transaction that stores the request, so
 * a restart loses none) by delivery threads, never by the request that
 * created it; at least once, retried with exponential backoff for
 * [webhooks] retry_for, then dropped and audited (webhook.dropped).
 *
 * The endpoints file, read when `serve` starts:
 *   [{"url": "https://hooks.example.com/mandate", "secret_file": "hook.secret"}]
 * (secret_file relative to the endpoints file's directory; the secret is
 * the file's content without trailing white space, 16 to 4096 bytes; it
 * is never logged.)
 *
 * A notification: POST url with
 *   Content-Type: application/json
 *   Mandate-Event-Id: <id>
 *   Mandate-Signature: t=<unix time of the attempt>,v1=<hex HMAC-SHA256(secret, t "." body)>
 * and the body {"id": "evt_...", "type": "request.pending", "time": RFC 3339,
 * "item": <the request as `mandate request list --json` shows it>}. The id
 * is the same on every attempt and endpoint: receivers deduplicate by it.
 * A 2xx answer is a delivery; anything else (a redirect too: it is not
 * followed) is a failure.
 *
 * Memory: an mdt_webhooks owns its endpoints and secrets (wiped on free)
 * and is immutable once loaded, so any number of threads may read it. */
#ifndef MDT_IGA_WEBHOOKS_H
#define MDT_IGA_WEBHOOKS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "app/env.h"
#include "core/mdt.h"
#include "store/store.h"

#define MDT_WEBHOOKS_FILE_MAX (64 * 1024) /* bytes of the endpoints file */
#define MDT_WEBHOOKS_MAX 32               /* endpoints in it */
#define MDT_WEBHOOK_SECRET_MIN 16         /* bytes of a secret */
#define MDT_WEBHOOK_SECRET_MAX 4096
#define MDT_WEBHOOK_SIG_HEX 64            /* hex characters of v1 */

/* Loads path ("" or NULL: *out is NULL, no webhooks). On error nothing is
 * returned and err names the file, the entry and what is wrong (never a
 * secret). */
mdt_rc mdt_webhooks_load(const char *path, mdt_webhooks **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_webhooks_free(mdt_webhooks *w);
/* [webhooks] connect_timeout and timeout (seconds) of w's deliveries; set
 * after mdt_webhooks_load (SIGHUP loads a new set with its own). NULL-safe. */
void mdt_webhooks_set_timeouts(mdt_webhooks *w, int64_t connect_timeout, int64_t timeout);

/* hex (MDT_WEBHOOK_SIG_HEX + 1 bytes): lowercase hex of
 * HMAC-SHA256(secret, decimal t "." body). */
mdt_rc mdt_webhook_sign(const uint8_t *secret, size_t secret_len, int64_t t, const char *body,
                        char hex[MDT_WEBHOOK_SIG_HEX + 1], mdt_err *err) MDT_WARN_UNUSED;

/* Seconds to wait after the attempt-th failed attempt (1-based): initial,
 * doubling each time, at most max. */
int64_t mdt_webhook_backoff(int64_t initial, int64_t max, int64_t attempt);

/* Claims one due delivery of the outbox and makes its attempt (blocking up
 * to [webhooks] timeout; cancel ends it early): deleted when delivered,
 * released for a later retry when not, dropped (audited webhook.dropped)
 * when it has failed for [webhooks] retry_for or its endpoint is no longer
 * configured. *did: whether there was one. */
mdt_rc mdt_webhooks_deliver_one(mdt_env *env, const atomic_bool *cancel, bool *did,
                                mdt_err *err) MDT_WARN_UNUSED;

#endif
