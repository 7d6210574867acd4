/* Scopes: named permissions with a description, a sensitivity and the
 * resources (RFC 8707 audiences) they are tied to. Service layer shared by
 * the CLI and, later, the admin API. */
#ifndef MDT_IGA_SCOPE_H
#define MDT_IGA_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"

#define MDT_SCOPE_NAME_MAX 128
#define MDT_SCOPE_DESCRIPTION_MAX 2000
#define MDT_SCOPE_RESOURCES_MAX 100
#define MDT_URI_MAX 2048

/* The scope of the admin API (/admin/v1/...). It exists after `mandate
 * init` with sensitivity approval, and is never obtained through consent or
 * self-registration: a client holds it only when an admin put it in its
 * `scope`, and a token for a person carries it only while that person has
 * role admin (oauth/tokens.h: mdt_token_admin_scope_check). */
#define MDT_SCOPE_ADMIN "mandate:admin"

/* RFC 6749 scope-token: 1..MDT_SCOPE_NAME_MAX of %x21 / %x23-5B / %x5D-7E. */
bool mdt_scope_name_valid(const char *name, size_t len);
/* An absolute URI (RFC 3986 scheme ":" ...) without fragment, whitespace or
 * control characters, at most MDT_URI_MAX bytes; http(s) ones must parse
 * with a host. Used for resource indicators (RFC 8707). */
bool mdt_resource_uri_valid(const char *uri);

/* Creates a scope. description may be NULL (""), sensitivity NULL ("none");
 * resources is NULL-terminated or NULL. MDT_ERR_INVALID_REQUEST naming the
 * bad argument; MDT_ERR_CONFLICT when the name exists. Audits scope.created
 * with the context's actor. */
mdt_rc mdt_scope_create(mdt_env *env, mdt_ctx *ctx, const char *name, const char *description,
                        const char *sensitivity, const char *const *resources,
                        mdt_err *err) MDT_WARN_UNUSED;
/* The OpenID Connect standard scopes (Core §5.4, §11): openid, profile,
 * email and offline_access, and MDT_SCOPE_ADMIN (sensitivity approval),
 * created when missing (audited as any scope); a scope of that name made
 * by an operator is left as it is. *added: how many were created (may be
 * NULL). Run by `mandate init` and at start-up, so that databases from
 * before get them too. */
mdt_rc mdt_scope_ensure_standard(mdt_env *env, mdt_ctx *ctx, int *added,
                                 mdt_err *err) MDT_WARN_UNUSED;
/* The document of one scope, {name, description, sensitivity, resources},
 * as mdt_scope_create took it (the same NULL defaults): what `scope create
 * --json` and the admin API answer. *json lives in a. */
mdt_rc mdt_scope_doc_json(const char *name, const char *description, const char *sensitivity,
                          const char *const *resources, mdt_arena *a, const char **json,
                          mdt_err *err) MDT_WARN_UNUSED;
/* JSON array of {name, description, sensitivity, resources}, ordered as the
 * store lists them; *json lives in a. */
mdt_rc mdt_scope_list_json(mdt_env *env, mdt_arena *a, const char **json,
                           mdt_err *err) MDT_WARN_UNUSED;

#endif
