/* The pure parts of the external policy decision points (policy/pdp.c),
 * apart for unit tests: the request bodies Mandate sends, the answers it
 * accepts, the canonical key of a question and the decision cache. */
#ifndef MDT_POLICY_PDP_WIRE_H
#define MDT_POLICY_PDP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/hash.h"
#include "core/mdt.h"
#include "policy/pdp.h"

typedef enum { MDT_PDP_OFF, MDT_PDP_EMBEDDED, MDT_PDP_AUTHZEN, MDT_PDP_OPA } mdt_pdp_mode;

#define MDT_PDP_ANSWER_MAX (1 << 20) /* bytes of an external PDP's answer */
#define MDT_PDP_MAX_REASONS 64       /* reasons (and errors) kept of one decision */
#define MDT_PDP_REASON_MAX 256       /* bytes of one reason or error kept */
#define MDT_PDP_CACHE_SLOTS 4096     /* decisions cached at most */

/* "off", "embedded", "authzen", "opa"; -1 for anything else. */
int mdt_pdp__mode_parse(const char *s);

/* One AuthZEN evaluation object {"subject": {"type", "id", "properties"?},
 * "action": {"name", "properties"?}, "resource": {...}, "context"?} of q
 * (new reference); NULL with MDT_ERR_INVALID_REQUEST when a *_props or
 * context text is not a JSON object. */
json_t *mdt_pdp__query_json(const mdt_pdp_query *q, mdt_err *err);
/* The canonical key of q: SHA-256 of its evaluation object serialised with
 * sorted keys, compactly (the same question, however its JSON was written,
 * has the same key). */
mdt_rc mdt_pdp__query_key(const mdt_pdp_query *q, uint8_t key[MDT_SHA256_LEN], mdt_err *err);
/* The body of one call asking q[0..n) (malloc'ed: the caller frees):
 * AuthZEN {"options": {"evaluations_semantic": "execute_all"},
 * "evaluations": [...]}; OPA {"input": {"evaluations": [...]}}. */
mdt_rc mdt_pdp__request_body(mdt_pdp_mode mode, const mdt_pdp_query *q, size_t n, char **out,
                             mdt_err *err) MDT_WARN_UNUSED;
/* Reads an answer to n questions into out[0..n) (strings in a). AuthZEN:
 * {"evaluations": [{"decision": bool, "context"?: {"reasons"?: [string],
 * "reason"?: string, "errors"?: [string]}}] with n items; OPA: {"result":
 * [bool | {"decision": bool, "reasons"?: [string]}]} with n items. Anything
 * else — not JSON, a missing or short array, a decision that is not a
 * boolean — is MDT_ERR_UNAVAILABLE (the caller fails closed). */
mdt_rc mdt_pdp__parse_answer(mdt_pdp_mode mode, const char *body, size_t len, size_t n,
                             mdt_arena *a, mdt_pdp_answer *out, mdt_err *err) MDT_WARN_UNUSED;

/* Decisions by canonical key, each kept ttl seconds; at most
 * MDT_PDP_CACHE_SLOTS (a new decision takes the slot of its key's hash).
 * Safe from any thread. */
typedef struct mdt_pdp_cache mdt_pdp_cache;
mdt_rc mdt_pdp__cache_new(mdt_pdp_cache **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_pdp__cache_free(mdt_pdp_cache *c); /* NULL-safe */
/* A decision still fresh at now, copied into a; false when none. */
bool mdt_pdp__cache_get(mdt_pdp_cache *c, const uint8_t key[MDT_SHA256_LEN], int64_t now,
                        mdt_arena *a, mdt_pdp_answer *out);
void mdt_pdp__cache_put(mdt_pdp_cache *c, const uint8_t key[MDT_SHA256_LEN], int64_t expires,
                        const mdt_pdp_answer *ans);

#endif
