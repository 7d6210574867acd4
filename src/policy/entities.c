#include "policy/entities.h"

#include <string.h>

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* {"uid": {"type", "id"}, "attrs": attrs, "parents": parents}, appended;
 * takes attrs and parents. */
static mdt_rc append(json_t *arr, const char *type, const char *id, json_t *attrs,
                     json_t *parents, mdt_err *err)
{
    json_t *e = NULL;

    if (attrs && parents)
        e = json_pack("{s:{s:s, s:s}, s:o, s:o}", "uid", "type", type, "id", id, "attrs", attrs,
                      "parents", parents);
    else {
        json_decref(attrs);
        json_decref(parents);
    }
    if (!e || json_array_append_new(arr, e) != 0)
        return nomem(err);
    return MDT_OK;
}

static json_t *entity_ref(const char *type, const char *id)
{
    return json_pack("{s:{s:s, s:s}}", "__entity", "type", type, "id", id);
}

static const char *client_origin(const mdt_client *c)
{
    if (!c->origin)
        return "admin";
    if (strcmp(c->origin, "cimd") == 0)
        return "cimd";
    return "registration";
}

mdt_rc mdt_policy_client_entity(const mdt_client *c, json_t *arr, mdt_err *err)
{
    json_t *attrs = json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "kind", c->kind ? c->kind : "",
                              "risk_tier", c->tier ? c->tier : "", "status",
                              c->status ? c->status : "", "token_endpoint_auth_method",
                              c->auth_method ? c->auth_method : "", "verified",
                              !mdt_client_unvouched(c), "origin", client_origin(c));
    bool ok = attrs != NULL;

    if (ok && c->owner && *c->owner)
        ok = json_object_set_new(attrs, "owner", entity_ref("User", c->owner)) == 0;
    if (ok && c->software_id && *c->software_id)
        ok = json_object_set_new(attrs, "software_id", json_string(c->software_id)) == 0;
    if (!ok) {
        json_decref(attrs);
        return nomem(err);
    }
    return append(arr, "Client", c->client_id, attrs, json_array(), err);
}

mdt_rc mdt_policy_user_entity(const mdt_user_rec *u, json_t *arr, mdt_err *err)
{
    json_t *roles = json_array(), *parents = json_array();
    const char *p = u->roles ? u->roles : "";
    bool ok = roles && parents;

    while (ok && *p) {
        size_t n = strcspn(p, " ");
        if (n > 0) {
            char role[64];
            if (n >= sizeof(role))
                n = sizeof(role) - 1;
            memcpy(role, p, n);
            role[n] = '\0';
            ok = json_array_append_new(roles, json_string(role)) == 0 &&
                 json_array_append_new(parents,
                                       json_pack("{s:s, s:s}", "type", "Role", "id", role)) == 0;
        }
        p += n;
        p += strspn(p, " ");
    }
    json_t *attrs = ok ? json_pack("{s:O, s:s}", "roles", roles, "status",
                                   u->status ? u->status : "")
                       : NULL;
    json_decref(roles);
    if (!attrs) {
        json_decref(parents);
        return nomem(err);
    }
    return append(arr, "User", u->username, attrs, parents, err);
}

static mdt_rc add_resource(json_t *arr, json_t *seen, const char *uri, const char *name,
                           mdt_err *err)
{
    json_t *attrs;

    if (json_object_get(seen, uri))
        return MDT_OK;
    if (json_object_set_new(seen, uri, json_true()) != 0 || !(attrs = json_object()))
        return nomem(err);
    if (name && json_object_set_new(attrs, "name", json_string(name)) != 0) {
        json_decref(attrs);
        return nomem(err);
    }
    return append(arr, "Resource", uri, attrs, json_array(), err);
}

mdt_rc mdt_policy_scope_entities(const mdt_scope_rec *sc, size_t n, const mdt_resources *r,
                                 json_t *arr, mdt_err *err)
{
    json_t *seen = json_object();
    mdt_rc rc = seen ? MDT_OK : nomem(err);

    /* the resources file first: its entries carry names */
    for (size_t i = 0; rc == MDT_OK && i < mdt_resources_count(r); i++)
        rc = add_resource(arr, seen, mdt_resources_uri(r, i), mdt_resources_name(r, i), err);
    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        json_t *attrs = json_pack("{s:s, s:s}", "sensitivity",
                                  sc[i].sensitivity ? sc[i].sensitivity : "", "description",
                                  sc[i].description ? sc[i].description : "");
        rc = attrs ? append(arr, "Scope", sc[i].name, attrs, json_array(), err) : nomem(err);
        for (size_t j = 0; rc == MDT_OK && sc[i].resources && sc[i].resources[j]; j++)
            rc = add_resource(arr, seen, sc[i].resources[j], NULL, err);
    }
    json_decref(seen);
    return rc;
}
