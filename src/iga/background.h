/* The server's background work, off the request threads: one thread
 * closes expired approval requests every [approvals] expiry_interval
 * (mdt_request_expire_due, audited once across nodes) and deletes what has
 * expired for good every [storage] purge_interval (mdt_store_purge_expired:
 * without it the tables of opaque tokens, revoked and used ids, counters
 * and sessions would only grow), and
 * [webhooks] max_concurrent threads deliver the webhook outbox
 * (mdt_webhooks_deliver_one) when webhooks are configured, and one thread
 * writes the usage counted in memory (iga/usage.h: env->usage, made here)
 * every [usage] flush_interval, and a last time when stopped. Started by
 * `mandate serve` after the store and the audit writer, stopped before
 * them: a delivery in progress is cancelled and tried again later. */
#ifndef MDT_IGA_BACKGROUND_H
#define MDT_IGA_BACKGROUND_H

#include "app/env.h"
#include "core/mdt.h"

typedef struct mdt_background mdt_background;

/* Starts the threads; env must outlive them (mdt_background_stop). */
mdt_rc mdt_background_start(mdt_env *env, mdt_background **out, mdt_err *err) MDT_WARN_UNUSED;
/* Stops and joins every thread, then frees bg. NULL: nothing. */
void mdt_background_stop(mdt_background *bg);

#endif
