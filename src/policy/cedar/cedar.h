/* The Cedar policy language, the subset of SPEC §3.8, with Cedar's
 * semantics and errors: policies are parsed once into a policy set and
 * evaluated many times against entities and a request.
 *
 * Decisions (as Cedar's authorizer): a policy is satisfied when its scope
 * matches and every condition holds; a policy whose evaluation errs is
 * skipped and reported. Any satisfied forbid: deny, the satisfied forbids
 * determine it. Else any satisfied permit: allow, the satisfied permits
 * determine it. Else deny with no determining policy.
 *
 * Threads: a policy set and an entity store are immutable once built and
 * may be evaluated from any number of threads at once. */
#ifndef MDT_POLICY_CEDAR_H
#define MDT_POLICY_CEDAR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/mdt.h"

#define MDT_CEDAR_TEXT_MAX (1u << 20)   /* longest policy text parsed at once */
#define MDT_CEDAR_ENTITIES_MAX (64u << 20) /* longest entity JSON loaded at once */

typedef struct mdt_cedar_set mdt_cedar_set;           /* parsed policies */
typedef struct mdt_cedar_entities mdt_cedar_entities; /* entities by type and id */
typedef struct mdt_cedar_record mdt_cedar_record;     /* a Cedar record value */

/* An entity reference Type::"id" (Type may be namespaced: A::B). */
typedef struct {
    const char *type;
    const char *id;
} mdt_cedar_uid;

/* --- policy sets --- */
mdt_rc mdt_cedar_set_new(mdt_cedar_set **out, mdt_err *err) MDT_WARN_UNUSED;
/* Parses text (one or more policies) and appends its policies to s. A
 * policy's id is its @id("...") annotation when it has one; else, when id
 * is set, id for a text of one policy and id.N (N from 0) for each policy
 * of a longer one; else "policyN", N its index in s, as Cedar names the
 * policies of a policy set text. Parse errors are MDT_ERR_INVALID_REQUEST
 * whose public message names the line and column ("line 3, column 14:
 * expected ')'"); on any error s is unchanged. A duplicate id is an
 * error. */
mdt_rc mdt_cedar_set_add(mdt_cedar_set *s, const char *text, size_t len, const char *id,
                         mdt_err *err) MDT_WARN_UNUSED;
size_t mdt_cedar_set_count(const mdt_cedar_set *s);
const char *mdt_cedar_set_id(const mdt_cedar_set *s, size_t i);
/* "permit" or "forbid". */
const char *mdt_cedar_set_effect(const mdt_cedar_set *s, size_t i);
void mdt_cedar_set_free(mdt_cedar_set *s); /* NULL-safe */

/* --- entities ---
 * Cedar's entity JSON format: an array of {"uid": {"type", "id"}, "attrs":
 * {...}, "parents": [{"type", "id"}, ...]}; attribute values are strings,
 * longs, booleans, arrays (sets), objects (records) and entity references
 * {"__entity": {"type", "id"}}. Bad input is MDT_ERR_INVALID_REQUEST naming
 * the entity and attribute; a duplicate uid is an error. */
mdt_rc mdt_cedar_entities_new(mdt_cedar_entities **out, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_cedar_entities_add_json(mdt_cedar_entities *e, const char *json, size_t len,
                                   mdt_err *err) MDT_WARN_UNUSED;
size_t mdt_cedar_entities_count(const mdt_cedar_entities *e);
void mdt_cedar_entities_free(mdt_cedar_entities *e); /* NULL-safe */

/* A record from JSON text of an object in the same value format (a
 * request's context), allocated in a. */
mdt_rc mdt_cedar_record_json(mdt_arena *a, const char *json, size_t len,
                             const mdt_cedar_record **out, mdt_err *err) MDT_WARN_UNUSED;

/* --- evaluation --- */
typedef struct {
    mdt_cedar_uid principal, action, resource;
    const mdt_cedar_record *context; /* NULL: the empty record */
} mdt_cedar_request;

typedef struct {
    bool allow;
    const char **reasons; /* ids of the determining policies, in set order */
    size_t nreasons;
    const char **errors;  /* ids of the policies whose evaluation erred, in set order */
    size_t nerrors;
} mdt_cedar_decision;

/* Evaluates r against s. Entities are looked up in stores[0], then
 * stores[1], ... (the first that has the uid wins; a request may put its
 * own entities first); an entity in none of them has no attributes and no
 * parents, as in Cedar. The decision's arrays are allocated in a. Fails
 * only for lack of memory. */
mdt_rc mdt_cedar_eval(const mdt_cedar_set *s, const mdt_cedar_entities *const *stores,
                      size_t nstores, const mdt_cedar_request *r, mdt_arena *a,
                      mdt_cedar_decision *out, mdt_err *err) MDT_WARN_UNUSED;

#endif
