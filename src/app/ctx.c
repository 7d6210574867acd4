/* The request context and its audit events (ctx.h). */
#include "app/ctx.h"

#include <string.h>

void mdt_ctx_events_init(mdt_ctx_events *e, mdt_arena *a)
{
    memset(e, 0, sizeof(*e));
    e->arena = a;
}

void mdt_ctx_init(mdt_ctx *ctx, mdt_ctx_events *events, const char *actor, int64_t now,
                  const char *request_id, const char *client_ip)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->actor = actor;
    ctx->now = now;
    ctx->request_id = request_id;
    ctx->client_ip = client_ip;
    ctx->events = events;
}

const char *mdt_ctx_actor(const mdt_ctx *ctx)
{
    return ctx->actor ? ctx->actor : "system";
}

mdt_ctx mdt_ctx_as(const mdt_ctx *ctx, const char *actor)
{
    mdt_ctx sub = *ctx;

    sub.actor = actor;
    return sub;
}

/* Copies *s into the arena; false when out of memory. */
static bool copy(mdt_arena *a, const char **s)
{
    if (!*s)
        return true;
    *s = mdt_arena_strdup(a, *s);
    return *s != NULL;
}

/* Copies *t (and its strings) into the arena; false when out of memory. */
static bool copy_token(mdt_arena *a, const mdt_token_rec **t)
{
    mdt_token_rec *c;

    if (!*t)
        return true;
    if (!(c = mdt_arena_alloc(a, sizeof(*c))))
        return false;
    *c = **t;
    *t = c;
    return copy(a, &c->jti) && copy(a, &c->client_id) && copy(a, &c->kind) &&
           copy(a, &c->claims);
}

/* Copies the event's own strings into the arena. */
static bool copy_strings(mdt_arena *a, mdt_audit_event *e)
{
    return copy(a, &e->type) && copy(a, &e->actor) && copy(a, &e->client_id) &&
           copy(a, &e->subject) && copy(a, &e->decision) && copy(a, &e->reason) &&
           copy(a, &e->request_id) && copy(a, &e->ip) && copy(a, &e->data);
}

/* Copies the event's premises (and their client ids) into the arena. */
static bool copy_checks(mdt_arena *a, mdt_audit_event *e)
{
    mdt_client_check *k;

    if (!e->nchecks)
        return true;
    if (!(k = mdt_arena_alloc(a, e->nchecks * sizeof(*k))))
        return false;
    for (size_t i = 0; i < e->nchecks; i++) {
        k[i] = e->checks[i];
        if (!copy(a, &k[i].client_id))
            return false;
    }
    e->checks = k;
    return true;
}

/* Copies the event's single-use identifiers and the event to append in its
 * place on a replay (its strings; none of its own nested parts). */
static bool copy_uses(mdt_arena *a, mdt_audit_event *e)
{
    mdt_jti_use_rec *u;
    mdt_audit_event *r;

    if (e->nuses) {
        if (!(u = mdt_arena_alloc(a, e->nuses * sizeof(*u))))
            return false;
        for (size_t i = 0; i < e->nuses; i++) {
            u[i] = e->uses[i];
            if (!copy(a, &u[i].issuer) || !copy(a, &u[i].jti))
                return false;
        }
        e->uses = u;
    }
    if (e->on_replay) {
        if (!(r = mdt_arena_alloc(a, sizeof(*r))))
            return false;
        *r = (mdt_audit_event){.type = e->on_replay->type, .actor = e->on_replay->actor,
                               .client_id = e->on_replay->client_id,
                               .subject = e->on_replay->subject,
                               .decision = e->on_replay->decision,
                               .reason = e->on_replay->reason,
                               .request_id = e->on_replay->request_id,
                               .ip = e->on_replay->ip, .data = e->on_replay->data};
        if (!copy_strings(a, r))
            return false;
        e->on_replay = r;
    }
    return true;
}

static bool grow(mdt_ctx_events *e)
{
    size_t cap = e->cap ? e->cap * 2 : 4;
    mdt_audit_event *ev;

    if (cap > MDT_CTX_EVENTS_MAX)
        cap = MDT_CTX_EVENTS_MAX;
    if (!(ev = mdt_arena_alloc(e->arena, cap * sizeof(*ev))))
        return false;
    if (e->n)
        memcpy(ev, e->ev, e->n * sizeof(*ev));
    e->ev = ev;
    e->cap = cap;
    return true;
}

mdt_rc mdt_ctx_audit(mdt_ctx *ctx, const mdt_audit_event *ev, mdt_err *err)
{
    mdt_ctx_events *l = ctx->events;
    mdt_audit_event e = *ev;

    if (!e.type)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "audit event without a type");
    if (!l)
        return mdt_fail(err, MDT_ERR_INTERNAL, "a context without an event list");
    if (l->n == MDT_CTX_EVENTS_MAX)
        return mdt_failf(err, MDT_ERR_INTERNAL, "internal error",
                         "more than %d audit events in one request", MDT_CTX_EVENTS_MAX);
    if ((l->n == l->cap && !grow(l)) || !copy_token(l->arena, &e.token) ||
        !copy_checks(l->arena, &e) || !copy_uses(l->arena, &e) || !copy_strings(l->arena, &e))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    l->ev[l->n++] = e;
    return MDT_OK;
}

mdt_rc mdt_ctx_audit_outcome(mdt_ctx *ctx, const mdt_audit_event *ev, mdt_err *err)
{
    mdt_audit_event e = *ev;

    if (!e.request_id)
        e.request_id = ctx->request_id;
    if (!e.ip)
        e.ip = ctx->client_ip;
    return mdt_ctx_audit(ctx, &e, err);
}

void mdt_ctx_drop_events(mdt_ctx *ctx)
{
    if (ctx->events)
        ctx->events->n = 0;
}

/* One event, durable on return: through the writer thread when it runs,
 * else in the calling thread. */
static mdt_rc append(mdt_env *env, const mdt_audit_event *ev, mdt_err *err)
{
    if (env->audit)
        return mdt_audit_record(env->audit, ev, err);
    return mdt_audit_append_now(env->store, &env->clock, ev, err);
}

mdt_rc mdt_ctx_commit(mdt_env *env, mdt_ctx *ctx, mdt_err *err)
{
    mdt_ctx_events *l = ctx->events;
    mdt_rc rc = MDT_OK;

    if (!l)
        return MDT_OK;
    for (size_t i = 0; i < l->n && rc == MDT_OK; i++)
        rc = append(env, &l->ev[i], err);
    l->n = 0;
    return rc;
}
