/* Human users: validation, password changes, status, listing and login
 * checks, over the store's typed user operations. */
#include "users/users.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/words.h"

#define BAD MDT_ERR_INVALID_REQUEST

/* Known roles, in the order they are stored. */
static const char *const known_roles[] = {"admin", "approver", "auditor"};

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* ---------------------------------------------------------------- checks */

bool mdt_username_valid(const char *username, size_t len)
{
    if (!username || len == 0 || len > MDT_USERNAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)username[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '_' && c != '@' && c != '-')
            return false;
    }
    return true;
}

/* Length of the UTF-8 sequence at s[0..n) (1..4), or 0 when it is not
 * well-formed (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
               : (s[0] & 0xf0) == 0xe0 ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* Well-formed UTF-8 without control characters, at most max bytes. */
static bool text_valid(const char *s, size_t max)
{
    size_t n = strlen(s), k;

    if (n > max)
        return false;
    for (size_t i = 0; i < n; i += k) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || !(k = utf8_seq((const unsigned char *)s + i, n - i)))
            return false;
    }
    return true;
}

/* Empty, or local@domain: one @, both parts non-empty, printable ASCII or
 * UTF-8 without spaces. */
static bool email_valid(const char *e)
{
    const char *at = strchr(e, '@');

    if (!*e)
        return true;
    if (!text_valid(e, MDT_EMAIL_MAX) || !at || at == e || !at[1] || strchr(at + 1, '@'))
        return false;
    return strpbrk(e, " \t") == NULL;
}

/* Characters: bytes that do not continue a UTF-8 sequence. */
static size_t char_count(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static mdt_rc check_password(const mdt_env *env, const char *pw, size_t len, mdt_err *err)
{
    size_t min = env->cfg.password_min_length > 0 ? (size_t)env->cfg.password_min_length : 1;

    if (!pw || len > MDT_PASSWORD_MAX)
        return mdt_fail(err, BAD, "password must be at most 1024 bytes");
    if (char_count(pw, len) < min)
        return mdt_failf(err, BAD, "password too short",
                         "password too short: at least %zu characters", min);
    return MDT_OK;
}

/* Joins roles in canonical order into out (room for "admin approver auditor"). */
static mdt_rc roles_join(const char *const *roles, char out[32], mdt_err *err)
{
    bool has[MDT_ARRAY_LEN(known_roles)] = {false};
    size_t i = 0, used = 0;

    for (; roles && roles[i]; i++) {
        size_t k = 0;
        while (k < MDT_ARRAY_LEN(known_roles) && !mdt_str_eq(roles[i], known_roles[k]))
            k++;
        if (k == MDT_ARRAY_LEN(known_roles))
            return mdt_failf(err, BAD, "role must be admin, approver or auditor",
                             "unknown role '%.64s': roles are admin, approver and auditor", roles[i]);
        has[k] = true;
    }
    if (i > MDT_USER_ROLES_MAX)
        return mdt_fail(err, BAD, "too many roles");
    out[0] = '\0';
    for (size_t k = 0; k < MDT_ARRAY_LEN(known_roles); k++) {
        if (has[k])
            used += (size_t)snprintf(out + used, 32 - used, "%s%s", used ? " " : "",
                                     known_roles[k]);
    }
    return MDT_OK;
}

static mdt_rc check_user(const char *username, const char *name, const char *email,
                         mdt_err *err)
{
    if (!username || !mdt_username_valid(username, strlen(username)))
        return mdt_fail(err, BAD, "username must be 1..64 characters of A-Z a-z 0-9 . _ @ -");
    if (!text_valid(name, MDT_USER_NAME_MAX))
        return mdt_fail(err, BAD, "name must be at most 200 bytes of UTF-8 text without "
                                  "control characters");
    if (!email_valid(email))
        return mdt_fail(err, BAD, "email must contain one @ and no spaces");
    return MDT_OK;
}

bool mdt_user_has_role(const char *roles, const char *role)
{
    return role && *role && mdt_words_has(roles, role);
}

/* ------------------------------------------------------------------ audit */

/* data: {"roles": [...]} when roles is not NULL, else none. */
static mdt_rc user_audit(mdt_ctx *ctx, const char *type, const char *username, const char *roles,
                         mdt_err *err)
{
    mdt_audit_event ev = {
        .type = type,
        .actor = mdt_ctx_actor(ctx),
        .subject = username,
        .decision = "allow",
    };
    json_t *arr = json_array(), *o = NULL;
    char *data = NULL;
    mdt_rc rc;

    for (size_t k = 0; arr && roles && k < MDT_ARRAY_LEN(known_roles); k++)
        if (mdt_user_has_role(roles, known_roles[k]))
            json_array_append_new(arr, json_string(known_roles[k]));
    if (roles && arr && (o = json_pack("{s:O}", "roles", arr)))
        data = json_dumps(o, JSON_COMPACT);
    if (!arr || (roles && !data)) {
        rc = nomem(err);
    } else {
        ev.data = data;
        rc = mdt_ctx_audit(ctx, &ev, err);
    }
    free(data);
    json_decref(o);
    json_decref(arr);
    return rc;
}

/* ---------------------------------------------------------------- changes */

mdt_rc mdt_user_create(mdt_env *env, mdt_ctx *ctx, const char *username, const char *name,
                       const char *email, const char *const *roles, const char *password,
                       size_t len, mdt_err *err)
{
    char joined[32];
    mdt_argon2_params p = mdt_password_params(&env->cfg);
    mdt_user_rec u = {.username = username, .name = name ? name : "",
                      .email = email ? email : "", .roles = joined, .status = "active"};
    char *hash = NULL;
    mdt_rc rc;

    if ((rc = check_user(username, u.name, u.email, err)) != MDT_OK ||
        (rc = roles_join(roles, joined, err)) != MDT_OK ||
        (rc = check_password(env, password, len, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_password_hash(&p, &env->rng, password, len, &hash, err)) != MDT_OK)
        return rc;
    u.password_hash = hash;
    u.created_at = u.updated_at = ctx->now;
    rc = mdt_store_user_insert(env->store, &u, err);
    if (rc == MDT_ERR_CONFLICT)
        rc = mdt_failf(err, MDT_ERR_CONFLICT, "user already exists", "user %s already exists",
                       username);
    if (rc == MDT_OK)
        rc = user_audit(ctx, "user.created", username, joined, err);
    free(hash);
    return rc;
}

static mdt_rc user_load(mdt_env *env, const char *username, mdt_arena *a, mdt_user_rec *u,
                        mdt_err *err)
{
    mdt_rc rc = mdt_store_user_get(env->store, username ? username : "", a, u, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_NOT_FOUND, "user not found", "user %.64s not found",
                         username ? username : "");
    return rc;
}

mdt_rc mdt_user_passwd(mdt_env *env, mdt_ctx *ctx, const char *username, const char *password,
                       size_t len, mdt_err *err)
{
    mdt_argon2_params p = mdt_password_params(&env->cfg);
    mdt_arena a;
    mdt_user_rec u;
    char *hash = NULL;
    mdt_rc rc;

    if ((rc = check_password(env, password, len, err)) != MDT_OK)
        return rc;
    mdt_arena_init(&a, 2048);
    if ((rc = user_load(env, username, &a, &u, err)) != MDT_OK ||
        (rc = mdt_password_hash(&p, &env->rng, password, len, &hash, err)) != MDT_OK)
        goto out;
    u.password_hash = hash;
    u.updated_at = ctx->now;
    if ((rc = mdt_store_user_update(env->store, &u, err)) == MDT_OK)
        rc = user_audit(ctx, "user.password_changed", u.username, NULL, err);
out:
    free(hash);
    mdt_arena_free(&a);
    return rc;
}

/* One client.owner_disabled event for each client whose owner is username,
 * in ctx: the clients an access review now reports as ownerless. */
static mdt_rc flag_owned_clients(mdt_env *env, mdt_ctx *ctx, const char *username, mdt_err *err)
{
    mdt_arena a;
    mdt_client_rec *cs = NULL;
    size_t n = 0;
    mdt_rc rc;

    mdt_arena_init(&a, 16384);
    rc = mdt_store_client_list(env->store, &a, &cs, &n, err);
    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        json_t *m = json_loads(cs[i].metadata, 0, NULL);
        const char *owner = json_string_value(json_object_get(m, "owner"));
        if (owner && strcmp(owner, username) == 0) {
            mdt_audit_event ev = {
                .type = "client.owner_disabled",
                .actor = mdt_ctx_actor(ctx),
                .client_id = cs[i].client_id,
                .subject = username,
                .decision = "allow",
                .reason = "owner disabled",
            };
            rc = mdt_ctx_audit(ctx, &ev, err);
        }
        json_decref(m);
    }
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_user_disable(mdt_env *env, mdt_ctx *ctx, const char *username, mdt_err *err)
{
    mdt_arena a;
    mdt_user_rec u;
    mdt_rc rc;

    int64_t now = ctx->now;
    bool was_active;

    mdt_arena_init(&a, 2048);
    if ((rc = user_load(env, username, &a, &u, err)) != MDT_OK)
        goto out;
    was_active = !mdt_str_eq(u.status, "disabled");
    u.status = "disabled";
    u.updated_at = now;
    /* the status first (it alone makes every token of the person inactive),
     * then what can be ended for good; a failure there is repaired by
     * disabling again */
    if (was_active && ((rc = mdt_store_user_update(env->store, &u, err)) != MDT_OK ||
                       (rc = user_audit(ctx, "user.disabled", u.username, NULL, err)) != MDT_OK ||
                       (rc = flag_owned_clients(env, ctx, u.username, err)) != MDT_OK))
        goto out;
    if ((rc = mdt_store_session_revoke_user(env->store, u.username, now, err)) == MDT_OK)
        rc = mdt_store_grant_revoke(env->store, u.username, NULL, now, err);
out:
    mdt_arena_free(&a);
    return rc;
}

static mdt_rc check_changes(mdt_env *env, const mdt_user_changes *ch, char joined[32],
                            mdt_err *err)
{
    mdt_rc rc;

    if (ch->name && !text_valid(ch->name, MDT_USER_NAME_MAX))
        return mdt_fail(err, BAD, "name must be at most 200 bytes of UTF-8 text without "
                                  "control characters");
    if (ch->email && !email_valid(ch->email))
        return mdt_fail(err, BAD, "email must contain one @ and no spaces");
    if (ch->set_roles && (rc = roles_join(ch->roles, joined, err)) != MDT_OK)
        return rc;
    if (ch->status && !mdt_str_eq(ch->status, "active") && !mdt_str_eq(ch->status, "disabled"))
        return mdt_fail(err, BAD, "status must be active or disabled");
    if (ch->password && (rc = check_password(env, ch->password, ch->password_len, err)) != MDT_OK)
        return rc;
    return MDT_OK;
}

mdt_rc mdt_user_update(mdt_env *env, mdt_ctx *ctx, const char *username, const mdt_user_changes *ch,
                       mdt_err *err)
{
    char joined[32] = "";
    mdt_arena a;
    mdt_user_rec u;
    bool enable;
    mdt_rc rc;

    if ((rc = check_changes(env, ch, joined, err)) != MDT_OK)
        return rc;
    mdt_arena_init(&a, 2048);
    if ((rc = user_load(env, username, &a, &u, err)) != MDT_OK)
        goto out;
    enable = mdt_str_eq(ch->status, "active") && !mdt_str_eq(u.status, "active");
    if (ch->name || ch->email || ch->set_roles || enable) {
        u.name = ch->name ? ch->name : u.name;
        u.email = ch->email ? ch->email : u.email;
        u.roles = ch->set_roles ? joined : u.roles;
        u.status = enable ? "active" : u.status;
        u.updated_at = ctx->now;
        if ((rc = mdt_store_user_update(env->store, &u, err)) != MDT_OK ||
            ((ch->name || ch->email || ch->set_roles) &&
             (rc = user_audit(ctx, "user.updated", u.username, u.roles, err)) != MDT_OK) ||
            (enable && (rc = user_audit(ctx, "user.enabled", u.username, NULL, err)) != MDT_OK))
            goto out;
    }
    if (ch->password &&
        (rc = mdt_user_passwd(env, ctx, u.username, ch->password, ch->password_len, err)) != MDT_OK)
        goto out;
    if (mdt_str_eq(ch->status, "disabled"))
        rc = mdt_user_disable(env, ctx, u.username, err);
out:
    mdt_arena_free(&a);
    return rc;
}

/* ------------------------------------------------------------------ login */

mdt_rc mdt_user_authenticate(mdt_env *env, const char *username, const char *password, size_t len,
                             mdt_arena *a, mdt_user_rec *out, mdt_err *err)
{
    static const char denied[] = "invalid username or password";
    mdt_argon2_params p = mdt_password_params(&env->cfg);
    char dummy[MDT_PASSWORD_DUMMY_MAX];
    mdt_arena local;
    mdt_user_rec u;
    mdt_rc rc, vrc;

    mdt_arena_init(&local, 2048);
    rc = mdt_store_user_get(env->store, username ? username : "", a ? a : &local, &u, err);
    if (rc != MDT_OK && rc != MDT_ERR_NOT_FOUND)
        goto out;
    if (rc == MDT_ERR_NOT_FOUND)
        mdt_password_dummy(&p, dummy);
    vrc = mdt_password_verify(rc == MDT_OK ? u.password_hash : dummy, password, len, err);
    if (vrc == MDT_ERR_NOMEM) {
        rc = vrc;
    } else if (rc == MDT_ERR_NOT_FOUND) {
        rc = mdt_failf(err, MDT_ERR_ACCESS_DENIED, denied, "unknown user %.64s",
                       username ? username : "");
    } else if (vrc != MDT_OK) {
        rc = mdt_failf(err, MDT_ERR_ACCESS_DENIED, denied, "wrong password for %.64s", username);
    } else if (!mdt_str_eq(u.status, "active")) {
        rc = mdt_failf(err, MDT_ERR_ACCESS_DENIED, denied, "user %.64s is %.16s", username,
                       u.status);
    } else if (out && a) {
        *out = u;
    }
out:
    mdt_arena_free(&local);
    return rc;
}

/* ------------------------------------------------------------------- JSON */

static json_t *roles_json(const char *roles)
{
    json_t *arr = json_array();

    for (size_t k = 0; arr && k < MDT_ARRAY_LEN(known_roles); k++)
        if (mdt_user_has_role(roles, known_roles[k]))
            json_array_append_new(arr, json_string(known_roles[k]));
    return arr;
}

static json_t *user_json(const mdt_user_rec *u)
{
    char created[21];

    mdt_time_format(u->created_at, created);
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s}", "username", u->username, "name",
                     u->name ? u->name : "", "email", u->email ? u->email : "", "roles",
                     roles_json(u->roles), "status", u->status ? u->status : "", "created_at",
                     created);
}

static mdt_rc dump(json_t *v, mdt_arena *a, const char **json, mdt_err *err)
{
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

    *json = s ? mdt_arena_strdup(a, s) : NULL;
    free(s);
    json_decref(v);
    return *json ? MDT_OK : nomem(err);
}

mdt_rc mdt_user_list_json(mdt_env *env, mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_user_rec *list = NULL;
    size_t n = 0;
    json_t *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_store_user_list(env->store, a, &list, &n, err)) != MDT_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = user_json(&list[i]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return dump(arr, a, json, err);
}

mdt_rc mdt_user_show_json(mdt_env *env, const char *username, mdt_arena *a, const char **json,
                          mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc;

    *json = NULL;
    if ((rc = user_load(env, username, a, &u, err)) != MDT_OK)
        return rc;
    return dump(user_json(&u), a, json, err);
}
