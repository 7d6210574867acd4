/* Human users: username, argon2id password, name, email, roles (admin,
 * approver) and status (active, disabled). The one service layer used by
 * the command line, the admin API and the login page. Every change is
 * audited (user.created, user.password_changed, user.disabled) with
 * the request context's actor (recorded in the context and appended
 * before the answer); no event ever holds a password or a hash. */
#ifndef MDT_USERS_USERS_H
#define MDT_USERS_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "store/store.h"
#include "users/password.h"

#define MDT_USERNAME_MAX 64
#define MDT_USER_NAME_MAX 200 /* bytes of the display name */
#define MDT_EMAIL_MAX 254
#define MDT_USER_ROLES_MAX 16 /* role arguments accepted in one call */

/* 1..MDT_USERNAME_MAX characters of [A-Za-z0-9._@-]. */
bool mdt_username_valid(const char *username, size_t len);

/* Creates an active user. name and email may be NULL (""); roles is
 * NULL-terminated or NULL, each "admin", "approver" or "auditor" (repeats collapse).
 * The password must have at least cfg.password_min_length characters and
 * at most MDT_PASSWORD_MAX bytes. MDT_ERR_INVALID_REQUEST naming the bad
 * argument; MDT_ERR_CONFLICT when the username exists (in any ASCII case).
 * Borrows password; the caller wipes it. */
mdt_rc mdt_user_create(mdt_env *env, mdt_ctx *ctx, const char *username, const char *name,
                       const char *email, const char *const *roles, const char *password,
                       size_t len, mdt_err *err) MDT_WARN_UNUSED;
/* Sets a new password (same rules as create). MDT_ERR_NOT_FOUND. */
mdt_rc mdt_user_passwd(mdt_env *env, mdt_ctx *ctx, const char *username, const char *password,
                       size_t len, mdt_err *err) MDT_WARN_UNUSED;
/* Sets status "disabled", ends the person's sessions and revokes what
 * every client was issued for them (codes, access tokens, refresh token
 * families, consents); their remaining tokens are inactive because of the
 * status. Each client the person owns gets a client.owner_disabled event
 * in ctx (access reviews report it as ownerless from now on). Already
 * disabled is MDT_OK (the revocations run again, the events are not
 * audited again). MDT_ERR_NOT_FOUND. */
mdt_rc mdt_user_disable(mdt_env *env, mdt_ctx *ctx, const char *username,
                        mdt_err *err) MDT_WARN_UNUSED;

/* What an update changes (NULL members: unchanged). */
typedef struct {
    const char *name;
    const char *email;
    const char *const *roles;  /* NULL-terminated, as for create; with set_roles */
    bool set_roles;            /* roles replaces every role (an empty list: none) */
    const char *status;        /* "active" or "disabled" */
    const char *password;      /* a new password (rules of create); borrowed, the caller wipes */
    size_t password_len;
} mdt_user_changes;

/* Applies ch to the user after checking all of it (bad input changes
 * nothing: MDT_ERR_INVALID_REQUEST naming the member). name, email and
 * roles are audited as user.updated (data: the roles), a new password as
 * user.password_changed, "active" for a disabled user as user.enabled, and
 * "disabled" goes through mdt_user_disable (sessions ended, grants
 * revoked). MDT_ERR_NOT_FOUND for an unknown user. */
mdt_rc mdt_user_update(mdt_env *env, mdt_ctx *ctx, const char *username, const mdt_user_changes *ch,
                       mdt_err *err) MDT_WARN_UNUSED;

/* JSON array of {username, name, email, roles: [...], status, created_at
 * (RFC 3339)}, ordered by username; *json lives in a. */
mdt_rc mdt_user_list_json(mdt_env *env, mdt_arena *a, const char **json,
                          mdt_err *err) MDT_WARN_UNUSED;
/* One user as the objects of mdt_user_list_json; *json lives in a. */
mdt_rc mdt_user_show_json(mdt_env *env, const char *username, mdt_arena *a, const char **json,
                          mdt_err *err) MDT_WARN_UNUSED;

/* Checks a login. MDT_OK when the user exists, is active and the password
 * matches; then, when a and out are not NULL, *out is the user (fields in
 * a; a and out may both be NULL).
 * Otherwise MDT_ERR_ACCESS_DENIED with the same public message whatever the
 * reason (the private detail names it). An unknown user still costs one
 * argon2 verification with the configured parameters, and a disabled user
 * is checked in full, so time does not tell them apart. Server faults
 * (store, memory) keep their own codes. Not audited here: the caller knows
 * the request context. */
mdt_rc mdt_user_authenticate(mdt_env *env, const char *username, const char *password, size_t len,
                             mdt_arena *a, mdt_user_rec *out, mdt_err *err) MDT_WARN_UNUSED;

/* True when roles (space-separated, as stored) holds role. */
bool mdt_user_has_role(const char *roles, const char *role);

#endif
