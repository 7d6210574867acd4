/* Policy decision points (SPEC §3.8): the questions Mandate asks, in the
 * shape of the AuthZEN Authorization API 1.0, and their answers, whoever
 * decides them — the embedded Cedar PDP (policy/engine.h), an external
 * AuthZEN PDP or an OPA data API (configured in [pdp]). */
#ifndef MDT_POLICY_PDP_H
#define MDT_POLICY_PDP_H

#include <stdbool.h>
#include <stddef.h>

#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "msg/msg.h"

/* One AuthZEN evaluation request. Strings are borrowed; *_props and
 * context are JSON object text, or NULL for none. */
typedef struct {
    const char *subject_type, *subject_id, *subject_props;
    const char *action, *action_props;
    const char *resource_type, *resource_id, *resource_props;
    const char *context;
} mdt_pdp_query;

/* Its answer: the decision, and the ids of the policies that determined it
 * and of those whose evaluation erred (AuthZEN context "reasons" and
 * "errors"; an external PDP may give none). Arrays allocated in the
 * caller's arena. */
typedef struct {
    bool allow;
    const char **reasons;
    size_t nreasons;
    const char **errors;
    size_t nerrors;
} mdt_pdp_answer;

/* Decides the n queries with the configured PDP ([pdp] mode): out[i]
 * answers q[i]. An external PDP is asked once for all of them (AuthZEN
 * /access/v1/evaluations, OPA one input with every query), never holding
 * the request's thread: when neither the request's earlier call nor the
 * decision cache answers, the call starts on the fetcher and this returns
 * MDT_ERR_UNAVAILABLE with req->waiter registered (the server asks the
 * request again once the answer is in; the answer is kept with the request
 * so that the second pass gets it). A PDP that does not answer in time or
 * answers something malformed fails closed: MDT_ERR_UNAVAILABLE, waiter
 * not registered, with a clear message. req NULL (the command line):
 * external PDPs are called synchronously. */
mdt_rc mdt_pdp_decide(mdt_env *env, mdt_req *req, mdt_arena *a, const mdt_pdp_query *q, size_t n,
                      mdt_pdp_answer *out, mdt_err *err) MDT_WARN_UNUSED;

/* The configured PDP ([pdp] mode, url, timeout, cache_ttl, max_concurrent),
 * built by serve when mode is not off (env->pdp). An external PDP has a
 * fetcher of its own (one thread), so that its calls are capped by [pdp]
 * max_concurrent, apart from the fetches clients cause. MDT_ERR_CONFIG for
 * a mode it does not know or an external mode without url. */
mdt_rc mdt_pdp_new(const mdt_config *cfg, mdt_pdp **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_pdp_free(mdt_pdp *p); /* NULL-safe */
/* [pdp] log_only and on_deny = drop as they were when p was built (SIGHUP
 * builds a new PDP: a request keeps the settings of the PDP it read). */
bool mdt_pdp_log_only(const mdt_pdp *p);
bool mdt_pdp_drops_denied(const mdt_pdp *p);
/* Ends the calls to an external PDP in progress (their requests are woken
 * and refused), and refuses new ones; the server calls it before it closes
 * connections. NULL-safe, idempotent. */
void mdt_pdp_stop(mdt_pdp *p);

/* A call to an external PDP under way for a request (req->pdp_call): its
 * answer waits there for the request's second pass. The server frees what
 * a request that ended left (NULL-safe); the call's fetch must have
 * ended. */
void mdt_pdp_call_free(struct mdt_pdp_call *c);

#endif
