/* Usage of clients, for access reviews and the console: the last time each
 * (client, scope) entitlement was used, and the tokens issued to each client
 * per day (with the last use of the day, which gives the client's last use).
 * The last use of each credential is kept apart (credentials' last_used_at,
 * touched at most once a minute by client authentication).
 *
 * Cheap on the token path: mdt_usage_note only updates a small hash table in
 * memory under a mutex (no store access, no allocation for a pair already
 * counted). The server's background thread writes the table in one
 * transaction every [usage] flush_interval and at shutdown
 * (mdt_usage_flush): counters add and last uses take the greater, so that
 * several nodes writing their own batches agree.
 *
 * Bounded: the table holds at most [usage] max_entries entries. When a new
 * entry does not fit, the writer is woken to write the batch at once and
 * that entry is dropped and counted (mdt_usage_dropped; logged at the next
 * write). Nothing older is evicted: a use already counted is never lost. */
#ifndef MDT_IGA_USAGE_H
#define MDT_IGA_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "store/store.h"

typedef struct mdt_usage mdt_usage;

/* A table for at most max_entries entries (>= 1). */
mdt_rc mdt_usage_new(size_t max_entries, mdt_usage **out, mdt_err *err) MDT_WARN_UNUSED;
/* NULL: nothing. Wakes nobody: stop the writer first. */
void mdt_usage_free(mdt_usage *u);

/* Counts one token issued to client_id at now with scopes (space-separated;
 * NULL or "" for none): one more token for the day, and now as the last use
 * of the client that day and of each scope. False when an entry was dropped
 * because the table was full (the writer is woken). Thread-safe. */
bool mdt_usage_add(mdt_usage *u, const char *client_id, const char *scopes, int64_t now);
/* mdt_usage_add on env->usage; nothing when the environment counts no usage
 * (commands other than serve). Called once per issued token. */
void mdt_usage_note(mdt_env *env, const char *client_id, const char *scopes, int64_t now);

/* Takes what was counted since the last take, emptying the table: the
 * records live in a. */
mdt_rc mdt_usage_take(mdt_usage *u, mdt_arena *a, mdt_usage_scope_rec **sc, size_t *nsc,
                      mdt_usage_day_rec **days, size_t *ndays, mdt_err *err) MDT_WARN_UNUSED;
/* Entries counted now; entries dropped since the table was made. */
size_t mdt_usage_size(mdt_usage *u);
uint64_t mdt_usage_dropped(mdt_usage *u);

/* Waits up to secs, until the table is full, or until mdt_usage_wake. */
void mdt_usage_wait(mdt_usage *u, int64_t secs);
void mdt_usage_wake(mdt_usage *u);

/* What the store holds of one client's usage (written batches only), as
 * JSON: {client_id, last_used_at (RFC 3339 or null: the latest day's last
 * use), scopes: [{scope, last_used_at}], daily: [{day: "YYYY-MM-DD", tokens}]
 * for each of the `days` days up to ctx->now (zeros included, oldest
 * first; days 1 to 400)}. For the console's chart and the admin API. */
mdt_rc mdt_usage_client_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, int days,
                             mdt_arena *a, const char **json, mdt_err *err) MDT_WARN_UNUSED;

/* Takes env->usage's batch and writes it in one transaction. A batch that
 * cannot be written is given back to the table where it fits (so a
 * database away for a while loses nothing that fits), and the error
 * returned. */
mdt_rc mdt_usage_flush(mdt_env *env, mdt_err *err) MDT_WARN_UNUSED;

#endif
