/* /admin/v1/scopes and /admin/v1/users: what `mandate scope ...` and
 * `mandate user ...` do, through the same services (iga/scope.h,
 * users/users.h). */
#include <stdlib.h>
#include <string.h>

#include "admin/internal.h"
#include "iga/scope.h"
#include "users/users.h"

#define LIST_MAX 100 /* items of an array member (resources, roles) */

/* A member that must be an array of strings (absent: *out NULL), as a
 * NULL-terminated list in the request's arena. */
static bool str_array(mdt_admin_call *c, json_t *body, const char *key, const char ***out,
                      bool *given)
{
    json_t *arr = json_object_get(body, key), *v;
    size_t i;

    *out = NULL;
    *given = arr && !json_is_null(arr);
    if (!*given)
        return true;
    if (!json_is_array(arr) || json_array_size(arr) > LIST_MAX ||
        !(*out = mdt_arena_alloc(c->req->arena, (json_array_size(arr) + 1) * sizeof(char *)))) {
        mdt_admin__fail(c, json_is_array(arr) && json_array_size(arr) <= LIST_MAX
                               ? MDT_ERR_NOMEM : MDT_ERR_INVALID_REQUEST,
                        "resources and roles must be arrays of at most 100 strings");
        return false;
    }
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) {
            mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST,
                            "resources and roles must be arrays of strings");
            return false;
        }
        (*out)[i] = json_string_value(v);
    }
    (*out)[json_array_size(arr)] = NULL;
    return true;
}

void mdt_admin__scopes_list(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_scope_list_json(c->env, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__page(c, json, "name", NULL);
}

void mdt_admin__scopes_create(mdt_admin_call *c)
{
    static const char *const members[] = {"name", "description", "sensitivity", "resources", NULL};
    const char *name = NULL, *desc = NULL, *sens = NULL, **res = NULL;
    const char *json = NULL;
    json_t *body = NULL;
    bool given = false;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body) || !mdt_admin__only(c, body, members) ||
        !mdt_admin__str(c, body, "name", &name) || !mdt_admin__str(c, body, "description", &desc) ||
        !mdt_admin__str(c, body, "sensitivity", &sens) ||
        !str_array(c, body, "resources", &res, &given))
        goto out;
    if (!name) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "name is required");
        goto out;
    }
    if (mdt_scope_create(c->env, &c->req->ctx, name, desc, sens, res, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        goto out;
    }
    if (mdt_scope_doc_json(name, desc, sens, res, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, 201, json);
out:
    json_decref(body);
}

void mdt_admin__users_list(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_user_list_json(c->env, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__page(c, json, "username", NULL);
}

static void user_answer(mdt_admin_call *c, int status, const char *username)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_user_show_json(c->env, username, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, status, json);
}

void mdt_admin__user_get(mdt_admin_call *c)
{
    user_answer(c, 200, c->p1);
}

/* The password member, wiped from the parsed body once used. */
static void wipe_password(json_t *body)
{
    const char *pw = json_string_value(json_object_get(body, "password"));

    if (pw)
        mdt_wipe((char *)pw, strlen(pw));
}

void mdt_admin__users_create(mdt_admin_call *c)
{
    static const char *const members[] = {"username", "name", "email", "roles", "password",
                                          NULL};
    const char *username = NULL, *name = NULL, *email = NULL, *pw = NULL, **roles = NULL;
    json_t *body = NULL;
    bool given = false;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body) || !mdt_admin__only(c, body, members) ||
        !mdt_admin__str(c, body, "username", &username) ||
        !mdt_admin__str(c, body, "name", &name) || !mdt_admin__str(c, body, "email", &email) ||
        !mdt_admin__str(c, body, "password", &pw) || !str_array(c, body, "roles", &roles, &given))
        goto out;
    if (!username || !pw) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "username and password are required");
        goto out;
    }
    if (mdt_user_create(c->env, &c->req->ctx, username, name, email, roles, pw, strlen(pw),
                        &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        user_answer(c, 201, username);
out:
    wipe_password(body);
    json_decref(body);
}

/* name, email, roles (replaced), status (active | disabled), password. */
void mdt_admin__user_patch(mdt_admin_call *c)
{
    static const char *const members[] = {"name", "email", "roles", "status", "password", NULL};
    mdt_user_changes ch = {0};
    const char **roles = NULL;
    json_t *body = NULL;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body) || !mdt_admin__only(c, body, members) ||
        !mdt_admin__str(c, body, "name", &ch.name) || !mdt_admin__str(c, body, "email", &ch.email) ||
        !mdt_admin__str(c, body, "status", &ch.status) ||
        !mdt_admin__str(c, body, "password", &ch.password) ||
        !str_array(c, body, "roles", &roles, &ch.set_roles))
        goto out;
    ch.roles = roles;
    ch.password_len = ch.password ? strlen(ch.password) : 0;
    if (mdt_user_update(c->env, &c->req->ctx, c->p1, &ch, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        user_answer(c, 200, c->p1);
out:
    wipe_password(body);
    json_decref(body);
}
