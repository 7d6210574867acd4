/* The request context: who acts, when, and for which request, passed
 * explicitly to handlers and to the services they call; and the audit
 * events those services caused, collected here and appended in one place
 * before the answer leaves (the server, when the response is finished; a
 * command, before it prints). A service never appends an event itself.
 *
 * Memory: events and their strings are copied into the context's arena and
 * live as long as it. Threads: one context per request, used by one thread. */
#ifndef MDT_APP_CTX_H
#define MDT_APP_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/env.h"
#include "audit/audit.h"
#include "core/arena.h"
#include "core/mdt.h"

#define MDT_CTX_EVENTS_MAX 64 /* events one request or command may cause */

/* The audit events a request or command caused, in order. */
typedef struct {
    mdt_arena *arena;    /* borrowed: holds the events and their strings */
    mdt_audit_event *ev; /* arena */
    size_t n, cap;
} mdt_ctx_events;

typedef struct mdt_ctx {
    const char *actor;      /* who acts: a client_id, a username, "cli", "server",
                               "registration"; NULL: "system" */
    int64_t now;            /* read once from the injected clock */
    const char *request_id; /* NULL outside a request */
    const char *client_ip;  /* the client's address (mdt_req.peer_ip); NULL outside a request */
    mdt_ctx_events *events; /* borrowed: where this request's events go */
} mdt_ctx;

/* An empty list whose events live in a. */
void mdt_ctx_events_init(mdt_ctx_events *e, mdt_arena *a);
/* A context for actor at now, recording into events; borrows events and
 * the strings given. */
void mdt_ctx_init(mdt_ctx *ctx, mdt_ctx_events *events, const char *actor, int64_t now,
                  const char *request_id, const char *client_ip);
/* The actor for an event: ctx->actor, or "system" when none. */
const char *mdt_ctx_actor(const mdt_ctx *ctx);
/* The same request (time, request id, address, the one list of events)
 * with another actor: a service that acts on its own authority
 * (registration) or for someone else (an approval applied for whoever
 * decided it) records its events under that name. */
mdt_ctx mdt_ctx_as(const mdt_ctx *ctx, const char *actor);
/* Records one event that the request caused, copied (strings too) into the
 * context's arena, as given. MDT_ERR_NOMEM, or MDT_ERR_INTERNAL past
 * MDT_CTX_EVENTS_MAX; MDT_ERR_INVALID_REQUEST without a type. */
mdt_rc mdt_ctx_audit(mdt_ctx *ctx, const mdt_audit_event *ev, mdt_err *err) MDT_WARN_UNUSED;
/* Same, for the event that states the request's outcome: its request_id
 * and ip are the context's when the event leaves them NULL. */
mdt_rc mdt_ctx_audit_outcome(mdt_ctx *ctx, const mdt_audit_event *ev, mdt_err *err) MDT_WARN_UNUSED;
/* Forgets the events recorded (a run of a request that is dropped). */
void mdt_ctx_drop_events(mdt_ctx *ctx);
/* Appends every recorded event in order and waits until they are durable
 * (through the writer thread when it runs, else in the calling thread), then
 * forgets them. Stops at the first failure. The commands' way; the server
 * has its own, which does not hold a thread (http/server.c). */
mdt_rc mdt_ctx_commit(mdt_env *env, mdt_ctx *ctx, mdt_err *err) MDT_WARN_UNUSED;

#endif
