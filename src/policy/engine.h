/* The embedded PDP (SPEC §3.8): the server's Cedar policies (kept in the
 * store, so that every node decides alike) over entities from Mandate's own
 * data — clients, users, scopes, resources — and the entity JSON files of
 * [policy] entities. */
#ifndef MDT_POLICY_ENGINE_H
#define MDT_POLICY_ENGINE_H

#include "policy/cedar/cedar.h"
#include "policy/pdp.h"

typedef struct mdt_policy_engine mdt_policy_engine;

/* Loads the policies from the store and the entity files; a change of the
 * stored policies on any node is picked up within a second. */
mdt_rc mdt_policy_engine_start(mdt_env *env, mdt_policy_engine **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_policy_engine_free(mdt_policy_engine *e); /* NULL-safe */
/* Picks up at once a change of the stored policies this process made (the
 * service calls it after each change, so that the node that made it decides
 * with it from its next request); others see it within a second. NULL-safe;
 * a failure is logged and leaves the previous set in force. */
void mdt_policy_engine_reload(mdt_policy_engine *e);
/* The same when the data behind the entities may have changed (SIGHUP
 * replaced the [forward_auth] resources): rebuilt when it did. NULL-safe. */
void mdt_policy_engine_refresh_data(mdt_policy_engine *e);

/* Decides q with the server's policies and entities (env->policy): the
 * principal is q's subject as the entity subject_type::"subject_id" (for
 * Mandate's types, Mandate's entity with its attributes; subject_props, when
 * set, become its attributes), the action Action::"action", the resource
 * likewise, the context q's context. */
mdt_rc mdt_policy_eval(mdt_env *env, mdt_arena *a, const mdt_pdp_query *q, mdt_pdp_answer *out,
                       mdt_err *err) MDT_WARN_UNUSED;
/* The same with a given policy set and entity stores (policy eval
 * --policies FILE --entities FILE). The answer (its arrays and the ids in
 * them) lives in a, whatever becomes of the set. */
mdt_rc mdt_policy_eval_with(const mdt_cedar_set *s, const mdt_cedar_entities *const *stores,
                            size_t nstores, mdt_arena *a, const mdt_pdp_query *q,
                            mdt_pdp_answer *out, mdt_err *err) MDT_WARN_UNUSED;

/* mdt_policy_eval with the policy set s in place of the server's, over the
 * server's entities (policy eval --policies FILE). */
mdt_rc mdt_policy_eval_set(mdt_env *env, const mdt_cedar_set *s, mdt_arena *a,
                           const mdt_pdp_query *q, mdt_pdp_answer *out,
                           mdt_err *err) MDT_WARN_UNUSED;

/* AuthZEN 1.0 on the wire. An evaluation request {"subject": {"type", "id",
 * "properties"?}, "action": {"name", "properties"?}, "resource": {"type",
 * "id", "properties"?}, "context"?} as a query (strings in a);
 * MDT_ERR_INVALID_REQUEST naming what is missing or of the wrong type. */
mdt_rc mdt_policy_query_json(const char *json, size_t len, mdt_arena *a, mdt_pdp_query *q,
                             mdt_err *err) MDT_WARN_UNUSED;
/* An answer as the AuthZEN response {"decision": bool, "context":
 * {"reasons": [ids], "errors": [ids]}}; *json lives in a. */
mdt_rc mdt_policy_answer_json(const mdt_pdp_answer *ans, mdt_arena *a, const char **json,
                              mdt_err *err) MDT_WARN_UNUSED;

#endif
