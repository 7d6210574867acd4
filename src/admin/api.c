/* The admin API's table of resources and what every handler shares:
 * answers as JSON (RFC 6749 §5.2 errors), bodies that must be JSON objects
 * (415, 400; 413 is the server's), and pages of lists ({"items", "next"}
 * with ?limit= and an opaque ?cursor=). */
#include "admin/admin.h"

#include <stdlib.h>
#include <string.h>

#include "admin/internal.h"
#include "core/b64.h"
#include "core/clock.h"

/* PATTERN: literal segments, "*" for {id} (which may hold '/', e.g. a
 * client ID metadata document's URL: it takes what the literals around
 * it leave) and a final "*" for a {key_id} segment. More specific rows
 * first: the first row that matches path and method wins. */
static const struct {
    const char *method;
    const char *pattern;
    mdt_admin_fn fn;
} resources[] = {
    {"GET", "clients", mdt_admin__clients_list},
    {"POST", "clients", mdt_admin__clients_create},
    {"POST", "clients/*/suspend", mdt_admin__client_suspend},
    {"POST", "clients/*/resume", mdt_admin__client_resume},
    {"POST", "clients/*/secret", mdt_admin__client_secret},
    {"POST", "clients/*/apikeys", mdt_admin__apikey_create},
    {"DELETE", "clients/*/apikeys/*", mdt_admin__apikey_revoke},
    {"GET", "clients/*/entitlements", mdt_admin__entitlements_list},
    {"DELETE", "clients/*/entitlements/*", mdt_admin__entitlement_revoke},
    {"GET", "clients/*/usage", mdt_admin__usage},
    {"GET", "clients/*", mdt_admin__client_get},
    {"PATCH", "clients/*", mdt_admin__client_patch},
    {"DELETE", "clients/*", mdt_admin__client_delete},
    {"GET", "scopes", mdt_admin__scopes_list},
    {"POST", "scopes", mdt_admin__scopes_create},
    {"GET", "users", mdt_admin__users_list},
    {"POST", "users", mdt_admin__users_create},
    {"GET", "users/*", mdt_admin__user_get},
    {"PATCH", "users/*", mdt_admin__user_patch},
    {"GET", "requests", mdt_admin__requests_list},
    {"POST", "requests/*/approve", mdt_admin__request_approve},
    {"POST", "requests/*/deny", mdt_admin__request_deny},
    {"GET", "reviews", mdt_admin__reviews_list},
    {"POST", "reviews/*/certify", mdt_admin__review_certify},
    {"POST", "reviews/*/revoke", mdt_admin__review_revoke},
    {"GET", "policies", mdt_admin__policies_list},
    {"POST", "policies", mdt_admin__policies_create},
    {"POST", "policies/validate", mdt_admin__policies_validate},
    {"POST", "policies/evaluate", mdt_admin__policies_evaluate},
    {"GET", "policies/*", mdt_admin__policy_get},
    {"PUT", "policies/*", mdt_admin__policy_put},
    {"DELETE", "policies/*", mdt_admin__policy_delete},
    {"GET", "keys", mdt_admin__keys_list},
    {"POST", "keys/rotate", mdt_admin__keys_rotate},
    {"GET", "audit", mdt_admin__audit},
    {"GET", "openapi.json", mdt_admin__openapi},
};

static bool ends_with(const char *s, size_t n, const char *suffix, size_t m)
{
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool mdt_admin__match(const char *pattern, const char *path, mdt_arena *a, const char **p1,
                      const char **p2)
{
    const char *star = strchr(pattern, '*'), *rest, *seg;
    size_t pre, n, lit;

    *p1 = *p2 = NULL;
    if (!star)
        return strcmp(pattern, path) == 0;
    pre = (size_t)(star - pattern);
    if (strncmp(pattern, path, pre) != 0)
        return false;
    path += pre;
    rest = star + 1;
    n = strlen(path);
    lit = strlen(rest);
    if (lit && rest[lit - 1] == '*') { /* a last segment for {key_id} */
        if (!(seg = strrchr(path, '/')) || !seg[1])
            return false;
        *p2 = mdt_arena_strdup(a, seg + 1);
        n = (size_t)(seg + 1 - path);
        lit--;
    }
    if (n <= lit || !ends_with(path, n, rest, lit))
        return false;
    *p1 = mdt_arena_strndup(a, path, n - lit);
    return *p1 != NULL;
}

void mdt_admin__error(mdt_admin_call *c, const mdt_err *err)
{
    mdt_resp_error(c->resp, err);
}

void mdt_admin__fail(mdt_admin_call *c, mdt_rc rc, const char *msg)
{
    mdt_err err;

    mdt_fail(&err, rc, msg);
    mdt_resp_error(c->resp, &err);
}

void mdt_admin__json(mdt_admin_call *c, int status, const char *json)
{
    mdt_resp_json(c->resp, status, json, strlen(json));
}

static void not_found(mdt_resp *resp)
{
    mdt_err err;

    mdt_fail(&err, MDT_ERR_NOT_FOUND, "no such resource in the admin API (see /admin/v1/openapi.json)");
    mdt_resp_error(resp, &err);
}

/* The methods of every row whose pattern matches path, for Allow. */
static const char *allowed(const char *path, mdt_arena *a)
{
    const char *out = "", *p1, *p2;

    for (size_t i = 0; out && i < MDT_ARRAY_LEN(resources); i++)
        if (mdt_admin__match(resources[i].pattern, path, a, &p1, &p2) &&
            !strstr(out, resources[i].method))
            out = mdt_arena_printf(a, "%s%s%s", out, *out ? ", " : "", resources[i].method);
    return out;
}

void mdt_handle_admin(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *path = req->path + strlen(MDT_ADMIN_PREFIX);
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method, *allow;
    mdt_admin_caller caller = {0};
    mdt_admin_call c = {.env = env, .req = req, .resp = resp, .caller = &caller};
    mdt_err err;

    if (!mdt_admin__authorize(env, req, resp, &caller))
        return;
    req->ctx.actor = caller.actor; /* every change is audited as theirs */
    for (size_t i = 0; i < MDT_ARRAY_LEN(resources); i++) {
        if (strcmp(resources[i].method, method) == 0 &&
            mdt_admin__match(resources[i].pattern, path, req->arena, &c.p1, &c.p2)) {
            resources[i].fn(&c);
            return;
        }
    }
    allow = allowed(path, req->arena);
    if (!allow || !*allow) {
        not_found(resp);
        return;
    }
    mdt_resp_header(resp, "Allow", allow);
    mdt_fail(&err, MDT_ERR_METHOD, "method not allowed on this resource");
    mdt_resp_error(resp, &err);
}

/* ------------------------------------------------------------ bodies */

bool mdt_admin__body(mdt_admin_call *c, bool optional, json_t **out)
{
    mdt_err err = {0};

    *out = NULL;
    if (optional && c->req->body_len == 0) {
        if (!(*out = json_object())) {
            mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
            return false;
        }
        return true;
    }
    if (mdt_req_parse_json(c->req, out, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        return false;
    }
    return true;
}

/* 400 invalid_request with a description naming the member (in the
 * request's arena: the answer is written at once). */
static void bad_member(mdt_admin_call *c, const char *before, const char *key, const char *after)
{
    mdt_err err;

    mdt_fail(&err, MDT_ERR_INVALID_REQUEST,
             mdt_arena_printf(c->req->arena, "%s%.64s%s", before, key, after));
    if (!err.msg)
        err.msg = "a member is invalid";
    mdt_admin__error(c, &err);
}

bool mdt_admin__str(mdt_admin_call *c, json_t *body, const char *key, const char **out)
{
    json_t *v = json_object_get(body, key);

    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        bad_member(c, "", key, " must be a string");
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool mdt_admin__duration(mdt_admin_call *c, json_t *body, const char *key, int64_t *out)
{
    json_t *v = json_object_get(body, key);

    *out = 0;
    if (!v || json_is_null(v))
        return true;
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_string(v) && mdt_duration_parse(json_string_value(v), out) == MDT_OK && *out >= 0)
        return true;
    bad_member(c, "", key, " must be a duration such as \"90s\", \"15m\", \"8h\", \"30d\" or seconds");
    return false;
}

bool mdt_admin__only(mdt_admin_call *c, json_t *body, const char *const *keys)
{
    const char *key;
    json_t *v;

    json_object_foreach(body, key, v) {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], key) != 0)
            i++;
        if (!keys[i]) {
            bad_member(c, "unknown member: ", key, "");
            return false;
        }
    }
    (void)v;
    return true;
}

/* ------------------------------------------------------------ pages */

/* ?limit: 1..MDT_ADMIN_LIMIT_MAX, default MDT_ADMIN_LIMIT_DEFAULT. */
static bool limit_of(mdt_admin_call *c, size_t *out)
{
    const char *s = mdt_req_query(c->req, "limit");
    size_t n = 0;

    *out = MDT_ADMIN_LIMIT_DEFAULT;
    if (!s)
        return true;
    for (const char *p = s; *p && n <= MDT_ADMIN_LIMIT_MAX; p++)
        n = *p >= '0' && *p <= '9' ? n * 10 + (size_t)(*p - '0') : MDT_ADMIN_LIMIT_MAX + 1;
    if (!*s || n < 1 || n > MDT_ADMIN_LIMIT_MAX) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "limit must be an integer from 1 to 200");
        return false;
    }
    *out = n;
    return true;
}

#define CURSOR_TAG "k1:"

/* ?cursor: the key after which the page starts (NULL: the first page). */
static bool cursor_of(mdt_admin_call *c, const char **after)
{
    const char *s = mdt_req_query(c->req, "cursor");
    uint8_t raw[MDT_ADMIN_CURSOR_MAX];
    size_t n = 0;

    *after = NULL;
    if (!s)
        return true;
    if (strlen(s) > MDT_ADMIN_CURSOR_MAX ||
        mdt_b64url_decode(s, strlen(s), raw, sizeof(raw) - 1, &n) != MDT_OK ||
        n <= strlen(CURSOR_TAG) || memcmp(raw, CURSOR_TAG, strlen(CURSOR_TAG)) != 0 ||
        memchr(raw, '\0', n)) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "cursor is not one this API returned");
        return false;
    }
    *after = mdt_arena_strndup(c->req->arena, (const char *)raw + strlen(CURSOR_TAG),
                               n - strlen(CURSOR_TAG));
    return *after != NULL;
}

static json_t *cursor_for(const char *key)
{
    size_t n = strlen(CURSOR_TAG) + strlen(key);
    char *raw = malloc(n + 1), *enc = malloc(mdt_b64url_len(n) + 1);
    json_t *out = NULL;

    if (raw && enc) {
        memcpy(raw, CURSOR_TAG, strlen(CURSOR_TAG));
        memcpy(raw + strlen(CURSOR_TAG), key, strlen(key));
        mdt_b64url_encode((const uint8_t *)raw, n, enc);
        out = json_string(enc);
    }
    free(raw);
    free(enc);
    return out;
}

static _Thread_local const char *sort_key; /* qsort has no context argument */

static const char *key_of(json_t *item, const char *key)
{
    const char *s = json_string_value(json_object_get(item, key));
    return s ? s : "";
}

static int by_key(const void *x, const void *y)
{
    return strcmp(key_of(*(json_t *const *)x, sort_key), key_of(*(json_t *const *)y, sort_key));
}

/* Sorts arr's items by key: into items (n of them), borrowed from arr. */
static json_t **sorted(json_t *arr, const char *key, size_t *n)
{
    json_t **items = calloc(json_array_size(arr) + 1, sizeof(*items));

    *n = json_array_size(arr);
    if (!items)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        items[i] = json_array_get(arr, i);
    sort_key = key;
    qsort(items, *n, sizeof(*items), by_key);
    sort_key = NULL;
    return items;
}

void mdt_admin__page(mdt_admin_call *c, const char *array_json, const char *key,
                     mdt_admin_keep_fn keep)
{
    json_t *arr = json_loads(array_json, 0, NULL), *page = json_array(), *doc = NULL;
    json_t **items = NULL, *next = json_null();
    const char *after = NULL;
    size_t limit = 0, n = 0, taken = 0;
    char *text = NULL;

    if (!limit_of(c, &limit) || !cursor_of(c, &after))
        goto out;
    if (!arr || !page || !json_is_array(arr) || !(items = sorted(arr, key, &n)))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        if ((after && strcmp(key_of(items[i], key), after) <= 0) || (keep && !keep(c, items[i])))
            continue;
        if (taken == limit) {
            json_decref(next);
            next = cursor_for(key_of(json_array_get(page, taken - 1), key));
            break;
        }
        json_array_append(page, items[i]);
        taken++;
    }
    if (!next || !(doc = json_pack("{s:O, s:O}", "items", page, "next", next)) ||
        !(text = json_dumps(doc, JSON_COMPACT)))
        goto nomem;
    mdt_admin__json(c, 200, text);
    goto out;
nomem:
    mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
out:
    free(text);
    free(items);
    json_decref(doc);
    json_decref(next);
    json_decref(page);
    json_decref(arr);
}
