/* Protected resources (see resources.h). */
#include "iga/internal.h"
#include "iga/resources.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iga/scope.h"

#define METADATA_PATH "/.well-known/oauth-protected-resource"
#define HOST_MAX 256

/* What matching needs of an entry, parsed once at load. */
typedef struct {
    char *scheme;        /* of match */
    char *host;          /* of match, lower case ([IPv6] in brackets) */
    long port;           /* of match */
    char *prefix;        /* of match: its path without a trailing '/' ("" for "/") */
    char *res_host;      /* of the resource identifier (http/https ones; else NULL) */
    long res_port;
    char *res_path;      /* of the resource identifier without a trailing '/' ("" for "/") */
    char *meta_url;      /* its RFC 9728 metadata URL (NULL: not an http(s) identifier) */
    char *scopes_all;    /* every scope named, space-separated */
    size_t nmethods;
    char **methods;      /* borrowed from doc */
    char **scopes;       /* per method, space-separated, owned */
} entry;

struct mdt_resources {
    json_t *doc;          /* the validated array, owned */
    const char **uris;    /* borrowed from doc */
    entry *entries;
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

static void lower(char *s)
{
    for (; s && *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static long default_port(const char *scheme)
{
    return mdt_str_eq(scheme, "https") ? 443 : mdt_str_eq(scheme, "http") ? 80 : 0;
}

/* A path without its trailing '/' ("" for "/"), malloc'd. */
static char *trimmed(const char *path)
{
    size_t n = strlen(path);
    char *out;

    while (n && path[n - 1] == '/')
        n--;
    if ((out = malloc(n + 1))) {
        memcpy(out, path, n);
        out[n] = 0;
    }
    return out;
}

/* scheme, host (lower case), port (explicit or default) and trimmed path
 * of an http(s) URL; false when it is not one. Strings malloc'd. */
static bool url_parts(const char *url, char **scheme, char **host, long *port, char **path)
{
    CURLU *u = curl_url();
    char *sc = NULL, *h = NULL, *p = NULL, *pa = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &sc, 0) == CURLUE_OK &&
              (strcmp(sc, "https") == 0 || strcmp(sc, "http") == 0) &&
              curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PATH, &pa, 0) == CURLUE_OK;

    *scheme = *host = *path = NULL;
    *port = 0;
    if (ok) {
        char *end = NULL;
        *port = strtol(p, &end, 10);
        *scheme = strdup(sc);
        *host = strdup(h);
        *path = trimmed(pa);
        lower(*host);
        ok = *scheme && *host && *path && end && !*end && *port > 0;
    }
    curl_free(sc);
    curl_free(h);
    curl_free(p);
    curl_free(pa);
    curl_url_cleanup(u);
    if (!ok) {
        free(*scheme);
        free(*host);
        free(*path);
        *scheme = *host = *path = NULL;
    }
    return ok;
}

/* Host and port of a Host header's value: "name", "name:port", "[v6]" or
 * "[v6]:port"; host lower-cased into out. False when malformed. */
static bool split_hostport(const char *hp, long dflt, char out[HOST_MAX], long *port)
{
    const char *colon, *end;
    size_t n;

    if (!hp || !*hp)
        return false;
    if (hp[0] == '[') {
        if (!(end = strchr(hp, ']')))
            return false;
        end++;
        colon = *end == ':' ? end : NULL;
        if (*end && !colon)
            return false;
    } else {
        colon = strrchr(hp, ':');
        end = colon ? colon : hp + strlen(hp);
    }
    n = (size_t)(end - hp);
    if (n == 0 || n >= HOST_MAX)
        return false;
    memcpy(out, hp, n);
    out[n] = 0;
    lower(out);
    *port = dflt;
    if (colon) {
        char *stop = NULL;
        if (!colon[1] || strlen(colon + 1) > 5)
            return false;
        for (const char *c = colon + 1; *c; c++)
            if (*c < '0' || *c > '9')
                return false;
        *port = strtol(colon + 1, &stop, 10);
        if (*port <= 0 || *port > 65535)
            return false;
    }
    return true;
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

/* Appends the words of list to *acc (space-separated), skipping those
 * already there; false when out of memory. */
static bool add_words(char **acc, json_t *list)
{
    json_t *x;
    size_t i;

    json_array_foreach(list, i, x) {
        const char *w = json_string_value(x);
        size_t have = strlen(*acc), n = strlen(w);
        char *grown;
        bool dup = false;
        for (const char *p = *acc; *p && !dup;) {
            size_t len = strcspn(p, " ");
            dup = len == n && memcmp(p, w, n) == 0;
            p += len + (p[len] == ' ');
        }
        if (dup)
            continue;
        if (!(grown = realloc(*acc, have + n + 2)))
            return false;
        *acc = grown;
        if (have)
            grown[have++] = ' ';
        memcpy(grown + have, w, n + 1);
    }
    return true;
}

/* The metadata URL of an http(s) identifier (RFC 9728 §3.1). */
static char *metadata_url(const char *uri, const char *path)
{
    const char *auth = strstr(uri, "://");
    size_t alen, plen = strlen(path);
    char *out;

    if (!auth)
        return NULL;
    auth += 3;
    alen = strcspn(auth, "/?#");
    if (!(out = malloc((size_t)(auth - uri) + alen + sizeof(METADATA_PATH) + plen)))
        return NULL;
    memcpy(out, uri, (size_t)(auth - uri) + alen);
    memcpy(out + (auth - uri) + alen, METADATA_PATH, sizeof(METADATA_PATH) - 1);
    memcpy(out + (auth - uri) + alen + sizeof(METADATA_PATH) - 1, path, plen + 1);
    return out;
}

/* Parses entry e (already checked) into *d. */
static bool parse_entry(json_t *e, entry *d)
{
    json_t *scopes = json_object_get(e, "scopes"), *list;
    const char *uri = json_string_value(json_object_get(e, "resource")), *method;
    char *rs = NULL;
    size_t k = 0;

    if (!url_parts(json_string_value(json_object_get(e, "match")), &d->scheme, &d->host, &d->port,
                   &d->prefix) ||
        !(d->scopes_all = calloc(1, 1)))
        return false;
    if (url_parts(uri, &rs, &d->res_host, &d->res_port, &d->res_path) &&
        !(d->meta_url = metadata_url(uri, d->res_path)))
        return false;
    free(rs);
    d->nmethods = json_object_size(scopes);
    if (d->nmethods && (!(d->methods = calloc(d->nmethods, sizeof(char *))) ||
                        !(d->scopes = calloc(d->nmethods, sizeof(char *)))))
        return false;
    json_object_foreach(scopes, method, list) {
        d->methods[k] = (char *)method;
        if (!(d->scopes[k] = calloc(1, 1)) || !add_words(&d->scopes[k], list) ||
            !add_words(&d->scopes_all, list))
            return false;
        k++;
    }
    return true;
}

static void entry_free(entry *d)
{
    free(d->scheme);
    free(d->host);
    free(d->prefix);
    free(d->res_host);
    free(d->res_path);
    free(d->meta_url);
    free(d->scopes_all);
    for (size_t k = 0; d->scopes && k < d->nmethods; k++)
        free(d->scopes[k]);
    free(d->scopes);
    free(d->methods);
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
    if (!r || !(r->uris = calloc(json_array_size(doc) + 1, sizeof(char *))) ||
        !(r->entries = calloc(json_array_size(doc) + 1, sizeof(entry)))) {
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
        if (!parse_entry(e, &r->entries[i])) {
            rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
            goto out;
        }
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
    for (size_t i = 0; r->entries && i < r->n; i++)
        entry_free(&r->entries[i]);
    free(r->entries);
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

/* Whether prefix (trimmed) is path or a parent of it on a segment boundary. */
static bool prefix_of(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);

    return strncmp(prefix, path, n) == 0 && (path[n] == 0 || path[n] == '/');
}

bool mdt_resources_find(const mdt_resources *r, const char *scheme, const char *hostport,
                        const char *path, size_t *idx)
{
    char host[HOST_MAX];
    long port;
    size_t best = 0;
    bool found = false;

    if (!r || !scheme || !path || path[0] != '/' ||
        !split_hostport(hostport, default_port(scheme), host, &port))
        return false;
    for (size_t i = 0; i < r->n; i++) {
        const entry *d = &r->entries[i];
        if (!mdt_str_eq(d->scheme, scheme) || !mdt_str_eq(d->host, host) || d->port != port ||
            !prefix_of(d->prefix, path))
            continue;
        if (!found || strlen(d->prefix) > strlen(r->entries[best].prefix))
            best = i;
        found = true;
    }
    if (found)
        *idx = best;
    return found;
}

const char *mdt_resources_scopes(const mdt_resources *r, size_t i, const char *method)
{
    const entry *d;
    const char *any = "";

    if (!r || i >= r->n || !method)
        return "";
    d = &r->entries[i];
    for (size_t k = 0; k < d->nmethods; k++) {
        if (strcmp(d->methods[k], method) == 0)
            return d->scopes[k];
        if (strcmp(d->methods[k], "*") == 0)
            any = d->scopes[k];
    }
    return any;
}

const char *mdt_resources_scopes_all(const mdt_resources *r, size_t i)
{
    return r && i < r->n ? r->entries[i].scopes_all : "";
}

bool mdt_resources_find_metadata(const mdt_resources *r, const char *hostport, const char *path,
                                 size_t *idx)
{
    size_t only = 0, n_path = 0, plen = path ? strlen(path) : 0;

    while (plen && path[plen - 1] == '/')
        plen--;
    for (size_t i = 0; r && path && i < r->n; i++) {
        const entry *d = &r->entries[i];
        char host[HOST_MAX];
        long port;
        if (!d->meta_url || strlen(d->res_path) != plen || memcmp(d->res_path, path, plen) != 0)
            continue;
        n_path++;
        only = i;
        /* a Host without port names the identifier's own */
        if (hostport && split_hostport(hostport, d->res_port, host, &port) &&
            mdt_str_eq(host, d->res_host) && port == d->res_port) {
            *idx = i;
            return true;
        }
    }
    if (n_path == 1)
        *idx = only;
    return n_path == 1;
}

const char *mdt_resources_metadata_url(const mdt_resources *r, size_t i)
{
    return r && i < r->n ? r->entries[i].meta_url : NULL;
}
