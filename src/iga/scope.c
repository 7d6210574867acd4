#include "iga/scope.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/url.h"
#include "iga/internal.h"
#include "store/store.h"

static const char *const sensitivities[] = {"none", "consent", "approval"};

bool mdt_scope_name_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > MDT_SCOPE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x21 || c > 0x7e || c == 0x22 || c == 0x5c)
            return false;
    }
    return true;
}

static bool scheme_valid(const char *uri, const char **colon)
{
    const char *p = uri;

    if (!isalpha((unsigned char)*p))
        return false;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    *colon = p;
    return *p == ':' && p[1] != '\0';
}

static bool http_uri_has_host(const char *uri)
{
    char *host = mdt_url_host(uri);

    free(host);
    return host != NULL;
}

bool mdt_resource_uri_valid(const char *uri)
{
    const char *colon;
    size_t len;

    if (!uri)
        return false;
    len = strlen(uri);
    if (len == 0 || len > MDT_URI_MAX || !scheme_valid(uri, &colon))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return false;
    }
    size_t slen = (size_t)(colon - uri);
    if ((slen == 4 && strncasecmp(uri, "http", 4) == 0) ||
        (slen == 5 && strncasecmp(uri, "https", 5) == 0))
        return http_uri_has_host(uri);
    return true;
}

static bool one_of(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(s, set[i]))
            return true;
    return false;
}

static mdt_rc check_scope_args(const char *name, const char *description, const char *sensitivity,
                               const char *const *resources, mdt_err *err)
{
    size_t n = 0;

    if (!name || !mdt_scope_name_valid(name, strlen(name)))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "scope name must be 1..128 characters of %x21 / %x23-5B / %x5D-7E");
    if (description && strlen(description) > MDT_SCOPE_DESCRIPTION_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "scope description must be at most 2000 characters");
    if (!one_of(sensitivity, sensitivities, MDT_ARRAY_LEN(sensitivities)))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "scope sensitivity must be none, consent or approval");
    for (; resources && resources[n]; n++) {
        if (!mdt_resource_uri_valid(resources[n]))
            return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                             "scope resource must be an absolute URI without fragment",
                             "scope resource %.180s is not an absolute URI without fragment",
                             resources[n]);
    }
    if (n > MDT_SCOPE_RESOURCES_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "scope has more than 100 resources");
    return MDT_OK;
}

static mdt_rc scope_audit(mdt_ctx *ctx, const mdt_scope_rec *sc, mdt_err *err)
{
    json_t *o = json_pack("{s:s, s:s}", "scope", sc->name, "sensitivity", sc->sensitivity);
    char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
    mdt_rc rc;

    if (!data)
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    else
        rc = mdt_iga__audit(ctx, "scope.created", NULL, data, err);
    free(data);
    json_decref(o);
    return rc;
}

mdt_rc mdt_scope_create(mdt_env *env, mdt_ctx *ctx, const char *name, const char *description,
                        const char *sensitivity, const char *const *resources, mdt_err *err)
{
    mdt_scope_rec sc = {
        .name = name,
        .description = description ? description : "",
        .sensitivity = sensitivity ? sensitivity : "none",
        .resources = resources,
        .created_at = ctx->now,
    };
    mdt_rc rc = check_scope_args(name, sc.description, sc.sensitivity, resources, err);

    if (rc != MDT_OK)
        return rc;
    rc = mdt_store_scope_insert(env->store, &sc, err);
    if (rc == MDT_ERR_CONFLICT)
        return mdt_failf(err, MDT_ERR_CONFLICT, "scope already exists",
                         "scope %s already exists", name);
    if (rc != MDT_OK)
        return rc;
    return scope_audit(ctx, &sc, err);
}

mdt_rc mdt_scope_ensure_standard(mdt_env *env, mdt_ctx *ctx, int *added, mdt_err *err)
{
    static const struct {
        const char *name, *description, *sensitivity;
    } std[] = {
        {"openid", "Sign you in: tells the application who you are (OpenID Connect)", "none"},
        {"profile", "Your name", "consent"},
        {"email", "Your email address", "consent"},
        {"offline_access", "Keep access while you are away: a refresh token that outlives "
                           "your sign-in", "consent"},
        {MDT_SCOPE_ADMIN, "Administer this server through the admin API (/admin/v1): "
                          "clients, credentials, scopes, users, approvals, keys and the audit log",
         "approval"},
    };
    mdt_rc rc = MDT_OK;

    if (added)
        *added = 0;
    for (size_t i = 0; i < MDT_ARRAY_LEN(std) && rc == MDT_OK; i++) {
        rc = mdt_scope_create(env, ctx, std[i].name, std[i].description, std[i].sensitivity, NULL,
                              err);
        if (rc == MDT_OK && added)
            (*added)++;
        if (rc == MDT_ERR_CONFLICT) {
            mdt_err_clear(err);
            rc = MDT_OK;
        }
    }
    return rc;
}

static json_t *scope_json(const mdt_scope_rec *sc)
{
    json_t *res = json_array();
    json_t *o;

    for (size_t i = 0; res && sc->resources && sc->resources[i]; i++)
        json_array_append_new(res, json_string(sc->resources[i]));
    o = json_pack("{s:s, s:s, s:s, s:o}", "name", sc->name,
                  "description", sc->description ? sc->description : "",
                  "sensitivity", sc->sensitivity ? sc->sensitivity : "none", "resources", res);
    return o;
}

mdt_rc mdt_scope_doc_json(const char *name, const char *description, const char *sensitivity,
                          const char *const *resources, mdt_arena *a, const char **json,
                          mdt_err *err)
{
    mdt_scope_rec sc = {.name = name, .description = description, .sensitivity = sensitivity,
                        .resources = resources};

    return mdt_iga__dump_take(scope_json(&sc), a, json, err);
}

mdt_rc mdt_scope_list_json(mdt_env *env, mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_scope_rec *list = NULL;
    size_t n = 0;
    json_t *arr = NULL;
    mdt_rc rc;

    *json = NULL;
    rc = mdt_store_scope_list(env->store, a, &list, &n, err);
    if (rc != MDT_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = scope_json(&list[i]);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!arr)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    rc = mdt_iga__dump(arr, a, json, err);
    json_decref(arr);
    return rc;
}
