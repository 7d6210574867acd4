/* The policies of the embedded PDP (SPEC §3.8), kept in the store so that
 * every node decides alike: texts of Cedar policies under an id, added,
 * replaced, listed and removed through this service by the CLI and the
 * admin API alike. A text may hold several policies; their ids are those of
 * cedar.h (ID for a text of one, ID.N for several, an @id annotation wins).
 * The stored texts together with the shipped policies enabled by [policy]
 * builtin must always form one valid policy set: a change that would break
 * it (a duplicate policy id) is refused and nothing is stored.
 *
 * Audit: policy.added, policy.replaced and policy.removed, with the id and
 * the SHA-256 of the text (hex), recorded in the request context. */
#ifndef MDT_POLICY_POLICIES_H
#define MDT_POLICY_POLICIES_H

#include <stdbool.h>
#include <stddef.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "policy/cedar/cedar.h"
#include "store/store.h"

#define MDT_POLICY_ID_MAX 128
#define MDT_POLICY_DESCRIPTION_MAX 2000

/* [A-Za-z0-9._:-]{1,128} */
bool mdt_policy_id_valid(const char *id);

/* Parses text as it would be stored under id (NULL: Cedar's own names
 * policy0, policy1, ...), without storing it. *ids (allocated in a): the
 * ids of its policies, in order. Parse errors are MDT_ERR_INVALID_REQUEST
 * naming the line and column, as mdt_cedar_set_add gives them. */
mdt_rc mdt_policy_validate(const char *text, size_t len, const char *id, mdt_arena *a,
                           const char ***ids, size_t *n, mdt_err *err) MDT_WARN_UNUSED;

/* Stores text (len bytes, NUL-free, at most MDT_CEDAR_TEXT_MAX) under id,
 * with description (NULL: none). replace false: MDT_ERR_CONFLICT when id
 * exists; true: replaces it (or adds it when it does not exist). *replaced
 * (may be NULL): whether one was replaced. MDT_ERR_INVALID_REQUEST for a bad
 * id, description or text, or when the stored set would hold a duplicate
 * policy id. */
mdt_rc mdt_policy_add(mdt_env *env, mdt_ctx *ctx, const char *id, const char *text, size_t len,
                      const char *description, bool replace, bool *replaced,
                      mdt_err *err) MDT_WARN_UNUSED;
/* MDT_ERR_NOT_FOUND when there is no such id. */
mdt_rc mdt_policy_remove(mdt_env *env, mdt_ctx *ctx, const char *id, mdt_err *err) MDT_WARN_UNUSED;
/* MDT_ERR_NOT_FOUND when there is no such id. */
mdt_rc mdt_policy_get(mdt_env *env, const char *id, mdt_arena *a, mdt_policy_rec *out,
                      mdt_err *err) MDT_WARN_UNUSED;

/* The document of one stored text: {id, description, created_at,
 * updated_at, created_by, sha256, policies: [ids]} and, with_text, "text".
 * *json lives in a. */
mdt_rc mdt_policy_doc_json(const mdt_policy_rec *p, bool with_text, mdt_arena *a,
                           const char **json, mdt_err *err) MDT_WARN_UNUSED;
/* JSON array of the documents (without text) of every stored text, by id. */
mdt_rc mdt_policy_list_json(mdt_env *env, mdt_arena *a, const char **json,
                            mdt_err *err) MDT_WARN_UNUSED;

/* The policy set the embedded PDP decides with: the n stored texts and the
 * shipped policies [policy] builtin enables. *out is the caller's
 * (mdt_cedar_set_free). */
mdt_rc mdt_policy_set_build(const mdt_config *cfg, const mdt_policy_rec *recs, size_t n,
                            mdt_cedar_set **out, mdt_err *err) MDT_WARN_UNUSED;

/* Reads the file at path (at most max bytes) into *out (malloc'd, NUL
 * terminated; the caller frees it). MDT_ERR_CONFIG naming the file when it
 * cannot be read or is larger. */
mdt_rc mdt_policy_read_file(const char *path, size_t max, char **out, size_t *len,
                            mdt_err *err) MDT_WARN_UNUSED;

#endif
