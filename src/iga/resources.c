/* Protected resources (see resources.h). */
#include "iga/internal.h"
#include "iga/resources.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iga/scope.h"

struct mdt_resources {
    json_t *doc;          /* the validated array, owned */
    const char **uris;    /* borrowed from doc */
    size_t n;
};

static mdt_rc bad(mdt_err *err, const char *path, size_t i, const char *why)
{
    return mdt_failf(err, MDT_ERR_CONFIG, "invalid [forward_auth] resources file",
                     "%.200s: entry %zu: %s", path, i, why);
}

static bool is_word(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

/* "scheme://host:port/path-prefix": http or https, a host, an explicit
 * port, a path, no query or fragment. */
static bool match_ok(const char *m)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *frag = NULL;
    bool ok = u && m && curl_url_set(u, CURLUPART_URL, m, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_NO_QUERY &&
              curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_NO_FRAGMENT;

    ok = ok && (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0) && path[0] == '/';
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return ok;
}

static const char *check_scopes(json_t *scopes)
{
    const char *method;
    json_t *list, *x;
    size_t i;

    if (!json_is_object(scopes))
        return "scopes must be an object of methods to arrays of scope names";
    json_object_foreach(scopes, method, list) {
        if (!is_word(method) || strlen(method) > 32 || !json_is_array(list))
            return "scopes must be an object of methods to arrays of scope names";
        json_array_foreach(list, i, x)
            if (!is_word(json_string_value(x)) || strlen(json_string_value(x)) > 128)
                return "scopes lists scope names (one word each)";
    }
    return NULL;
}

/* Why entry e is not valid; NULL when it is. */
static const char *check_entry(json_t *e)
{
    static const char *const members[] = {"resource", "resource_name", "match", "scopes"};
    const char *key, *res = json_string_value(json_object_get(e, "resource"));
    json_t *v;

    if (!json_is_object(e))
        return "an entry must be an object";
    json_object_foreach(e, key, v) {
        bool known = false;
        for (size_t i = 0; i < MDT_ARRAY_LEN(members); i++)
            known |= strcmp(key, members[i]) == 0;
        if (!known)
            return "unknown member (resource, resource_name, match, scopes)";
    }
    if (!res || !mdt_resource_uri_valid(res))
        return "resource must be an absolute URI without fragment";
    if ((v = json_object_get(e, "resource_name")) &&
        (!json_is_string(v) || strlen(json_string_value(v)) > 200))
        return "resource_name must be a string of at most 200 characters";
    if (!match_ok(json_string_value(json_object_get(e, "match"))))
        return "match must be scheme://host:port/path-prefix";
    if ((v = json_object_get(e, "scopes")))
        return check_scopes(v);
    return NULL;
}

mdt_rc mdt_resources_load(const char *path, mdt_resources **out, mdt_err *err)
{
    mdt_resources *r = NULL;
    json_t *doc = NULL, *e;
    const char *why;
    size_t i;
    mdt_rc rc;

    *out = NULL;
    if (!path || !*path)
        return MDT_OK;
    if ((rc = mdt_iga__read_config_array(path, "[forward_auth] resources", MDT_RESOURCES_FILE_MAX,
                                         MDT_RESOURCES_MAX, "resources", &doc, err)) !=
        MDT_OK)
        return rc;
    r = calloc(1, sizeof(*r));
    if (!r || !(r->uris = calloc(json_array_size(doc) + 1, sizeof(char *)))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    r->doc = doc;
    doc = NULL;
    json_array_foreach(r->doc, i, e) {
        if ((why = check_entry(e))) {
            rc = bad(err, path, i, why);
            goto out;
        }
        r->uris[i] = json_string_value(json_object_get(e, "resource"));
        if (mdt_resources_has(r, r->uris[i])) {
            rc = bad(err, path, i, "duplicate resource");
            goto out;
        }
        r->n = i + 1;
    }
    *out = r;
    r = NULL;
    rc = MDT_OK;
out:
    json_decref(doc);
    mdt_resources_free(r);
    return rc;
}

void mdt_resources_free(mdt_resources *r)
{
    if (!r)
        return;
    free(r->uris);
    json_decref(r->doc);
    free(r);
}

bool mdt_resources_has(const mdt_resources *r, const char *uri)
{
    for (size_t i = 0; r && uri && i < r->n; i++)
        if (strcmp(r->uris[i], uri) == 0)
            return true;
    return false;
}

size_t mdt_resources_count(const mdt_resources *r)
{
    return r ? r->n : 0;
}

const char *mdt_resources_uri(const mdt_resources *r, size_t i)
{
    return r && i < r->n ? r->uris[i] : NULL;
}

const char *mdt_resources_name(const mdt_resources *r, size_t i)
{
    if (!r || i >= r->n)
        return NULL;
    return json_string_value(json_object_get(json_array_get(r->doc, i), "resource_name"));
}
