#include "iga/client.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/url.h"
#include "core/words.h"
#include "jose/jwk.h"
#include "iga/client_internal.h"
#include "iga/credentials.h"
#include "iga/registration.h"
#include "iga/scope.h"
#include "iga/secret.h"
#include "store/store.h"

/* ---------------------------------------------------------------------
 * Metadata validation: one table row per understood field, in output order.
 * --------------------------------------------------------------------- */

typedef struct {
    mdt_env *env;
    mdt_arena *a;
    int64_t expires_at;
} vctx;

typedef struct field field;
/* Validates v; on MDT_OK *out is the normalized value (a new reference), or
 * NULL when the field is valid but has nothing to keep. */
typedef mdt_rc (*check_fn)(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err);

struct field {
    const char *key;
    check_fn check;
    const char *msg;           /* public error message naming the field */
    int64_t min, max;          /* integer bounds, string length, array items */
    const char *const *values; /* allowed values (NULL-terminated) */
    bool (*item)(const char *s); /* array items */
    mdt_rc code;               /* error code (0: invalid_client_metadata) */
    const char *dflt;          /* JSON text of the default, or NULL */
};

static const char *const grant_types[] = {
    "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer", "authorization_code",
    "refresh_token", NULL};
/* "none": a public client (RFC 6749 §2.1), for the authorization code grant with PKCE only */
static const char *const auth_methods[] = {
    "client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth",
    "self_signed_tls_client_auth", "none", NULL};
static const char *const response_types[] = {"code", NULL};
static const char *const signing_algs[] = {"ES256", "RS256", "PS256", "EdDSA", "Ed25519", NULL};
static const char *const kinds[] = {"agent", "service", "web", "native", "cli", NULL};
static const char *const tiers[] = {"low", "medium", "high", NULL};
static const char *const formats[] = {"jwt", "opaque", NULL};

/* Members the server assigns and stores with the metadata (self-registration);
 * never taken from input: validation drops them, updates keep them. */
static const char *const server_members[] = {"origin", "vouched_by", "iat_id", "approved_at",
                                              NULL};

/* Input keys never taken from a client: server-assigned or read-only. */
static const char *const read_only[] = {
    "client_id", "client_secret", "client_id_issued_at", "client_secret_expires_at", "status",
    "registration_access_token", "registration_client_uri", NULL,
};

static bool in_set(const char *s, const char *const *set)
{
    for (; set && *set; set++)
        if (mdt_str_eq(s, *set))
            return true;
    return false;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static bool has_ctl_or_space(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
            return true;
    return false;
}

static mdt_rc bad(const field *f, mdt_err *err)
{
    return mdt_fail(err, f->code ? f->code : MDT_ERR_INVALID_CLIENT_METADATA, f->msg);
}

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* Parses an http(s) URL; *scheme and *host are freed by the caller. */
static bool url_parts(const char *uri, char **scheme, char **host)
{
    *scheme = *host = NULL;
    if (strlen(uri) > MDT_URI_MAX || has_ctl_or_space(uri))
        return false;
    return mdt_url_scheme_host(uri, scheme, host);
}

static bool url_ok(const char *uri, bool redirect)
{
    char *scheme, *host;
    bool ok = false;

    if (url_parts(uri, &scheme, &host)) {
        if (strcasecmp(scheme, "https") == 0)
            ok = true;
        else if (redirect && strcasecmp(scheme, "http") == 0)
            ok = mdt_host_is_loopback(host);
    }
    free(scheme);
    free(host);
    return ok && !(redirect && strchr(uri, '#'));
}

/* RFC 8252 §7.1: a native app's private-use scheme in reverse domain order
 * (com.example.app:/callback): an RFC 3986 scheme that holds a dot and
 * neither starts nor ends with one, then ":/" and the path. */
static bool private_use_ok(const char *uri)
{
    size_t n = strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    if (n < 3 || !isalpha((unsigned char)uri[0]) || uri[n - 1] == '.' || uri[n] != ':' ||
        uri[n + 1] != '/' || !memchr(uri, '.', n))
        return false;
    return strlen(uri) <= MDT_URI_MAX && !has_ctl_or_space(uri) && !strchr(uri, '#');
}

static bool redirect_uri_ok(const char *uri) { return url_ok(uri, true) || private_use_ok(uri); }
static bool grant_supported(const char *g) { return in_set(g, grant_types); }
static bool response_type_supported(const char *t) { return in_set(t, response_types); }
static bool contact_ok(const char *s) { return s[0] && utf8_chars(s) <= 320; }

static mdt_rc check_string(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    (void)c;
    if (!json_is_string(v) || utf8_chars(json_string_value(v)) > (size_t)f->max)
        return bad(f, err);
    *out = json_incref(v);
    return MDT_OK;
}

static mdt_rc check_enum(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    (void)c;
    if (!json_is_string(v) || !in_set(json_string_value(v), f->values))
        return bad(f, err);
    *out = json_incref(v);
    return MDT_OK;
}

static mdt_rc check_int(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    (void)c;
    if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
        return bad(f, err);
    *out = json_incref(v);
    return MDT_OK;
}

static mdt_rc check_https(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    (void)c;
    if (!json_is_string(v) || !url_ok(json_string_value(v), false))
        return bad(f, err);
    *out = json_incref(v);
    return MDT_OK;
}

static mdt_rc check_owner(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s ? strlen(s) : 0;

    (void)c;
    if (n == 0 || n > MDT_CLIENT_OWNER_MAX ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") != n)
        return bad(f, err);
    *out = json_incref(v);
    return MDT_OK;
}

static mdt_rc check_time(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    int64_t t;
    char buf[21];

    if (!json_is_string(v) || mdt_time_parse(json_string_value(v), &t) != MDT_OK || t <= 0)
        return bad(f, err);
    mdt_time_format(t, buf);
    c->expires_at = t;
    *out = json_string(buf);
    return *out ? MDT_OK : nomem(err);
}

static bool array_has(json_t *arr, const char *s)
{
    size_t i;
    json_t *x;

    json_array_foreach(arr, i, x)
        if (strcmp(json_string_value(x), s) == 0)
            return true;
    return false;
}

/* Array of strings each passing f->item, f->min..f->max items; duplicates collapsed. */
static mdt_rc check_array(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    size_t i;
    json_t *x, *res;

    (void)c;
    if (!json_is_array(v) || (int64_t)json_array_size(v) < f->min ||
        (int64_t)json_array_size(v) > f->max)
        return bad(f, err);
    if (!(res = json_array()))
        return nomem(err);
    json_array_foreach(v, i, x) {
        if (!json_is_string(x) || (f->item && !f->item(json_string_value(x)))) {
            json_decref(res);
            return bad(f, err);
        }
        if (!array_has(res, json_string_value(x)) && json_array_append(res, x) != 0) {
            json_decref(res);
            return nomem(err);
        }
    }
    *out = res;
    return MDT_OK;
}

static mdt_rc scope_exists(vctx *c, const char *name, mdt_err *err)
{
    mdt_scope_rec rec;
    mdt_rc rc = mdt_store_scope_get(c->env->store, name, c->a, &rec, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                         "scope names a scope that does not exist",
                         "scope names a scope that does not exist: %.128s", name);
    return rc;
}

/* Appends the next scope token of *p to buf (space-separated, no duplicates). */
static mdt_rc add_scope(const field *f, vctx *c, const char *s, size_t n, mdt_buf *b,
                        mdt_err *err)
{
    char name[MDT_SCOPE_NAME_MAX + 1];
    const char *hit;

    if (!mdt_scope_name_valid(s, n))
        return bad(f, err);
    memcpy(name, s, n);
    name[n] = '\0';
    for (hit = b->data ? strstr(b->data, name) : NULL; hit; hit = strstr(hit + 1, name)) {
        if ((hit == b->data || hit[-1] == ' ') && (hit[n] == ' ' || hit[n] == '\0'))
            return MDT_OK; /* duplicate */
    }
    mdt_rc rc = scope_exists(c, name, err);
    if (rc != MDT_OK)
        return rc;
    if ((b->len && mdt_buf_adds(b, " ") != MDT_OK) || mdt_buf_add(b, s, n) != MDT_OK)
        return nomem(err);
    return MDT_OK;
}

static mdt_rc check_scope(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    if (!json_is_string(v) || json_string_length(v) > MDT_CLIENT_METADATA_MAX)
        return bad(f, err);
    mdt_buf_init(&b, MDT_CLIENT_METADATA_MAX);
    for (mdt_words w = mdt_words_of(json_string_value(v)); rc == MDT_OK && mdt_words_next(&w);)
        rc = add_scope(f, c, w.word, w.len, &b, err);
    if (rc == MDT_OK && b.len) {
        *out = json_string(b.data);
        rc = *out ? MDT_OK : nomem(err);
    }
    mdt_buf_free(&b);
    return rc;
}

static mdt_rc check_bool(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    (void)c;
    if (!json_is_boolean(v))
        return bad(f, err);
    *out = json_incref(v);
    return MDT_OK;
}

/* A JWK Set of public signing keys: 1..MDT_CLIENT_JWKS_MAX keys, each one
 * that mdt_jwk_from_json accepts (no private members), kids unique. */
static mdt_rc check_jwks(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    json_t *keys = json_object_get(v, "keys"), *k;
    const char *kids[MDT_CLIENT_JWKS_MAX];
    size_t i;

    (void)c;
    if (!json_is_object(v) || !json_is_array(keys) || json_array_size(keys) == 0 ||
        json_array_size(keys) > MDT_CLIENT_JWKS_MAX)
        return bad(f, err);
    json_array_foreach(keys, i, k) {
        char *text = json_dumps(k, JSON_COMPACT);
        mdt_jwk *jwk = NULL;
        mdt_err jerr;
        bool ok = text && mdt_jwk_from_json(text, strlen(text), &jwk, &jerr) == MDT_OK;

        free(text);
        kids[i] = ok ? mdt_arena_strdup(c->a, mdt_jwk_kid(jwk)) : NULL;
        mdt_jwk_free(jwk);
        if (!ok)
            return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA, f->msg,
                             "jwks key %zu: %s", i, mdt_err_text(&jerr));
        for (size_t j = 0; j < i; j++)
            if (mdt_str_eq(kids[j], kids[i]))
                return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                                "jwks must not hold two keys with the same kid");
    }
    *out = json_pack("{s:O}", "keys", keys);
    return *out ? MDT_OK : nomem(err);
}

static mdt_rc check_jwks_uri(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    const char *uri = json_string_value(v);
    char *scheme = NULL, *host = NULL;
    bool ok = uri && url_parts(uri, &scheme, &host) && !strchr(uri, '#') &&
              (strcasecmp(scheme, "https") == 0 ||
               (c->env->cfg.jwks_uri_allow_http && strcasecmp(scheme, "http") == 0));

    free(scheme);
    free(host);
    if (!ok)
        return bad(f, err);
    *out = json_incref(v);
    return MDT_OK;
}

/* {"issuer": "...", "subject": "..."}: both non-empty strings. Whether the
 * issuer is trusted is decided at authentication, against configuration. */
static mdt_rc check_workload(const field *f, vctx *c, json_t *v, json_t **out, mdt_err *err)
{
    const char *iss = json_string_value(json_object_get(v, "issuer"));
    const char *sub = json_string_value(json_object_get(v, "subject"));

    (void)c;
    if (!json_is_object(v) || json_object_size(v) != 2 || !iss || !sub || !*iss || !*sub ||
        strlen(iss) > MDT_URI_MAX || strlen(sub) > MDT_URI_MAX)
        return bad(f, err);
    *out = json_pack("{s:s, s:s}", "issuer", iss, "subject", sub);
    return *out ? MDT_OK : nomem(err);
}

#define MSG_URL(k) k " must be an https URL"
static const field fields[] = {
    {.key = "client_name", .check = check_string, .max = MDT_CLIENT_NAME_MAX,
     .msg = "client_name must be a string of at most 200 characters"},
    {.key = "grant_types", .check = check_array, .min = 1, .max = MDT_CLIENT_LIST_MAX,
     .item = grant_supported, .dflt = "[\"client_credentials\"]",
     .msg = "grant_types must be a non-empty array of supported grant types (client_credentials, "
            "urn:ietf:params:oauth:grant-type:jwt-bearer, authorization_code, refresh_token)"},
    {.key = "response_types", .check = check_array, .max = 1, .dflt = "[]",
     .item = response_type_supported,
     .msg = "response_types must be [] or [\"code\"] (with the authorization_code grant)"},
    {.key = "token_endpoint_auth_method", .check = check_enum, .values = auth_methods,
     .dflt = "\"client_secret_basic\"",
     .msg = "token_endpoint_auth_method must be client_secret_basic, client_secret_post, "
            "private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none"},
    {.key = "token_endpoint_auth_signing_alg", .check = check_enum, .values = signing_algs,
     .msg = "token_endpoint_auth_signing_alg must be ES256, RS256, PS256, EdDSA or Ed25519"},
    {.key = "jwks", .check = check_jwks,
     .msg = "jwks must be a JWK Set of public signing keys (EC P-256, RSA of 2048 bits or more, "
            "Ed25519) with distinct kids"},
    {.key = "jwks_uri", .check = check_jwks_uri,
     .msg = "jwks_uri must be an https URL without fragment"},
    {.key = "tls_client_auth_subject_dn", .check = check_string, .max = 1024,
     .msg = "tls_client_auth_subject_dn must be a string (RFC 4514 DN)"},
    {.key = "tls_client_auth_san_dns", .check = check_string, .max = 255,
     .msg = "tls_client_auth_san_dns must be a string"},
    {.key = "tls_client_auth_san_uri", .check = check_string, .max = MDT_URI_MAX,
     .msg = "tls_client_auth_san_uri must be a string"},
    {.key = "tls_client_auth_san_ip", .check = check_string, .max = 64,
     .msg = "tls_client_auth_san_ip must be a string"},
    {.key = "tls_client_auth_san_email", .check = check_string, .max = 320,
     .msg = "tls_client_auth_san_email must be a string"},
    {.key = "require_pushed_authorization_requests", .check = check_bool,
     .msg = "require_pushed_authorization_requests must be true or false"},
    {.key = "tls_client_certificate_bound_access_tokens", .check = check_bool,
     .msg = "tls_client_certificate_bound_access_tokens must be true or false"},
    {.key = "workload_identity", .check = check_workload,
     .msg = "workload_identity must be an object with a non-empty issuer and subject"},
    {.key = "scope", .check = check_scope,
     .msg = "scope must be a space-separated list of scope names"},
    {.key = "redirect_uris", .check = check_array, .max = MDT_CLIENT_LIST_MAX,
     .item = redirect_uri_ok, .code = MDT_ERR_INVALID_REDIRECT_URI,
     .msg = "redirect_uris must be an array of absolute https URIs (http only on loopback) or "
            "private-use URIs of native apps (com.example.app:/callback), without fragment"},
    {.key = "post_logout_redirect_uris", .check = check_array, .max = MDT_CLIENT_LIST_MAX,
     .item = redirect_uri_ok, .code = MDT_ERR_INVALID_REDIRECT_URI,
     .msg = "post_logout_redirect_uris must be an array of URIs with the rules of "
            "redirect_uris"},
    {.key = "contacts", .check = check_array, .max = MDT_CLIENT_LIST_MAX, .item = contact_ok,
     .msg = "contacts must be an array of non-empty strings"},
    {.key = "software_id", .check = check_string, .max = 255,
     .msg = "software_id must be a string of at most 255 characters"},
    {.key = "software_version", .check = check_string, .max = 255,
     .msg = "software_version must be a string of at most 255 characters"},
    {.key = "client_uri", .check = check_https, .msg = MSG_URL("client_uri")},
    {.key = "logo_uri", .check = check_https, .msg = MSG_URL("logo_uri")},
    {.key = "policy_uri", .check = check_https, .msg = MSG_URL("policy_uri")},
    {.key = "tos_uri", .check = check_https, .msg = MSG_URL("tos_uri")},
    {.key = "description", .check = check_string, .max = MDT_CLIENT_DESCRIPTION_MAX,
     .msg = "description must be a string of at most 2000 characters"},
    {.key = "kind", .check = check_enum, .values = kinds, .dflt = "\"service\"",
     .msg = "kind must be one of agent, service, web, native, cli"},
    {.key = "owner", .check = check_owner,
     .msg = "owner must be a username of 1 to 64 characters from A-Z a-z 0-9 . _ @ -"},
    {.key = "risk_tier", .check = check_enum, .values = tiers, .dflt = "\"medium\"",
     .msg = "risk_tier must be low, medium or high"},
    {.key = "expires_at", .check = check_time,
     .msg = "expires_at must be an RFC 3339 date-time"},
    {.key = "resources", .check = check_array, .max = MDT_CLIENT_LIST_MAX,
     .item = mdt_resource_uri_valid,
     .msg = "resources must be an array of absolute URIs without fragment"},
    /* admin-only (SPEC §2.4): registration refuses it (iga/registration.c) */
    {.key = "introspection_for", .check = check_array, .max = MDT_CLIENT_LIST_MAX,
     .item = mdt_resource_uri_valid,
     .msg = "introspection_for must be an array of absolute resource URIs without fragment"},
    {.key = "max_delegation_depth", .check = check_int, .min = 0, .max = 10, .dflt = "2",
     .msg = "max_delegation_depth must be an integer from 0 to 10"},
    {.key = "access_token_ttl", .check = check_int, .min = 1, .max = 86400,
     .msg = "access_token_ttl must be an integer number of seconds from 1 to 86400"},
    {.key = "access_token_format", .check = check_enum, .values = formats,
     .msg = "access_token_format must be jwt or opaque"},
};

/* ---------------------------------------------------------------------
 * Privileged members (client.h).
 * --------------------------------------------------------------------- */

const mdt_client_privileged mdt_client_privileged_members[] = {
    {.key = "resources", .order = MDT_PRIV_SUBSET},
    {.key = "access_token_ttl", .order = MDT_PRIV_AT_MOST},
    {.key = "max_delegation_depth", .order = MDT_PRIV_AT_MOST},
    {.key = "risk_tier", .order = MDT_PRIV_AT_LEAST, .rank = tiers},
    {.key = "kind", .order = MDT_PRIV_EQUAL},
    {.key = "owner", .order = MDT_PRIV_EQUAL},
    {.key = "workload_identity", .order = MDT_PRIV_ADMIN_ONLY},
    {.key = "introspection_for", .order = MDT_PRIV_ADMIN_ONLY},
};
const size_t mdt_client_nprivileged = MDT_ARRAY_LEN(mdt_client_privileged_members);

static int rank_of(const char *const *rank, const char *v)
{
    for (int i = 0; v && rank && rank[i]; i++)
        if (strcmp(rank[i], v) == 0)
            return i;
    return -1;
}

static bool subset_of(const json_t *asked, const json_t *allowed)
{
    size_t i;
    json_t *x;

    if (!json_is_array(asked))
        return false;
    json_array_foreach(asked, i, x)
        if (!array_has((json_t *)allowed, json_string_value(x)))
            return false;
    return true;
}

bool mdt_client_privilege_within(const mdt_client_privileged *f, const json_t *asked,
                                 const json_t *allowed)
{
    if (!asked || json_is_null(asked))
        return true;
    if (!allowed || json_is_null(allowed))
        return f->order == MDT_PRIV_SUBSET && json_is_array(asked) && json_array_size(asked) == 0;
    switch (f->order) {
    case MDT_PRIV_SUBSET:
        return subset_of(asked, allowed);
    case MDT_PRIV_AT_MOST:
        return json_is_integer(asked) && json_is_integer(allowed) &&
               json_integer_value(asked) <= json_integer_value(allowed);
    case MDT_PRIV_AT_LEAST: {
        int a = rank_of(f->rank, json_string_value(asked));
        return a >= 0 && a >= rank_of(f->rank, json_string_value(allowed));
    }
    case MDT_PRIV_EQUAL:
    case MDT_PRIV_ADMIN_ONLY:
        return json_equal((json_t *)asked, (json_t *)allowed);
    }
    return false;
}

static mdt_rc apply_field(const field *f, vctx *c, json_t *in, json_t *out, mdt_err *err)
{
    json_t *v = json_object_get(in, f->key), *nv = NULL;
    mdt_rc rc;

    if (!v || json_is_null(v)) {
        if (!f->dflt)
            return MDT_OK;
        if (!(nv = json_loads(f->dflt, JSON_DECODE_ANY, NULL)))
            return nomem(err);
    } else if ((rc = f->check(f, c, v, &nv, err)) != MDT_OK) {
        return rc;
    } else if (!nv) {
        return MDT_OK;
    }
    if (json_object_set_new(out, f->key, nv) != 0)
        return nomem(err);
    return MDT_OK;
}

static int count_present(json_t *o, const char *const *keys)
{
    int n = 0;
    for (; *keys; keys++)
        n += json_object_get(o, *keys) != NULL;
    return n;
}

/* RFC 7591 §2.1: response_types consistent with grant_types ("code" with
 * authorization_code, filled in when left out); authorization_code needs
 * redirect_uris; a public client ("none") uses that grant only. */
static mdt_rc check_code_flow(json_t *m, const char *method, mdt_err *err)
{
    json_t *grants = json_object_get(m, "grant_types"), *rt = json_object_get(m, "response_types");
    bool code = array_has(grants, "authorization_code");

    if (code && json_array_size(rt) == 0 && json_array_append_new(rt, json_string("code")) != 0)
        return nomem(err);
    if (code != array_has(rt, "code"))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "response_types [\"code\"] goes with the authorization_code grant");
    if (code && json_array_size(json_object_get(m, "redirect_uris")) == 0)
        return mdt_fail(err, MDT_ERR_INVALID_REDIRECT_URI,
                        "the authorization_code grant needs redirect_uris");
    if (array_has(grants, "refresh_token") && !code)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "the refresh_token grant goes with the authorization_code grant");
    if (mdt_str_eq(method, "none") &&
        (!code || json_array_size(grants) != (size_t)(1 + array_has(grants, "refresh_token"))))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "token_endpoint_auth_method none (a public client) allows only the "
                        "authorization_code grant (and refresh_token)");
    return MDT_OK;
}

/* Rules that involve several fields (RFC 7591 §2, RFC 8705 §2.1). */
static mdt_rc check_combination(json_t *m, mdt_err *err)
{
    static const char *const tls_ids[] = {"tls_client_auth_subject_dn", "tls_client_auth_san_dns",
                                          "tls_client_auth_san_uri", "tls_client_auth_san_ip",
                                          "tls_client_auth_san_email", NULL};
    const char *method = json_string_value(json_object_get(m, "token_endpoint_auth_method"));
    bool keys = json_object_get(m, "jwks") || json_object_get(m, "jwks_uri");

    if (json_object_get(m, "jwks") && json_object_get(m, "jwks_uri"))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "jwks and jwks_uri must not both be present");
    if (mdt_str_eq(method, "private_key_jwt") && !keys && !json_object_get(m, "workload_identity"))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "private_key_jwt needs jwks, jwks_uri or workload_identity");
    if (mdt_str_eq(method, "self_signed_tls_client_auth") && !keys)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "self_signed_tls_client_auth needs jwks or jwks_uri");
    if (mdt_str_eq(method, "tls_client_auth") && count_present(m, tls_ids) != 1)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "tls_client_auth needs exactly one of tls_client_auth_subject_dn, "
                        "tls_client_auth_san_dns, _san_uri, _san_ip, _san_email");
    if (!mdt_str_eq(method, "tls_client_auth") && count_present(m, tls_ids) != 0)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "tls_client_auth_* fields need token_endpoint_auth_method tls_client_auth");
    return check_code_flow(m, method, err);
}

/* Validates the object in; *norm: the normalized metadata (new reference). */
static mdt_rc validate_obj(mdt_env *env, json_t *in, mdt_arena *a, json_t **norm,
                           int64_t *expires_at, mdt_err *err)
{
    vctx c = {.env = env, .a = a};
    json_t *out = json_object();
    mdt_rc rc = out ? MDT_OK : nomem(err);

    *norm = NULL;
    for (size_t i = 0; rc == MDT_OK && i < MDT_ARRAY_LEN(fields); i++)
        rc = apply_field(&fields[i], &c, in, out, err);
    if (rc == MDT_OK)
        rc = check_combination(out, err);
    if (rc != MDT_OK) {
        json_decref(out);
        return rc;
    }
    *norm = out;
    *expires_at = c.expires_at;
    return MDT_OK;
}

/* Parses metadata text: size cap, valid JSON, an object at the top. */
static mdt_rc parse_input(const char *json, size_t len, json_t **out, mdt_err *err)
{
    json_error_t je;

    *out = NULL;
    if (len > MDT_CLIENT_METADATA_MAX)
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "client metadata is larger than 64 KiB");
    *out = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA, "client metadata is not valid JSON",
                         "client metadata is not valid JSON: %s at line %d column %d", je.text,
                         je.line, je.column);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "client metadata must be a JSON object");
    }
    return MDT_OK;
}

mdt_rc mdt_client_metadata_validate(mdt_env *env, const char *json, size_t len, mdt_arena *a,
                                    const char **metadata, int64_t *expires_at, mdt_err *err)
{
    json_t *in = NULL, *norm = NULL;
    mdt_rc rc;

    *metadata = NULL;
    *expires_at = 0;
    if ((rc = parse_input(json, len, &in, err)) != MDT_OK)
        return rc;
    rc = validate_obj(env, in, a, &norm, expires_at, err);
    if (rc == MDT_OK)
        rc = mdt_iga__dump(norm, a, metadata, err);
    json_decref(in);
    json_decref(norm);
    return rc;
}

static mdt_rc get_client(mdt_env *env, const char *client_id, mdt_arena *a, mdt_client_rec *rec,
                         mdt_err *err)
{
    mdt_rc rc = mdt_store_client_get(env->store, client_id, a, rec, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown client", "unknown client %.64s", client_id);
    return rc;
}

/* ---------------------------------------------------------------------
 * The typed client of the token endpoint.
 * --------------------------------------------------------------------- */

static const char *effective_status(const char *status, int64_t expires_at, int64_t now)
{
    if (expires_at && expires_at <= now &&
        (mdt_str_eq(status, "active") || mdt_str_eq(status, "suspended")))
        return "expired";
    return status;
}

/* Copies the string member key of m into a (NULL when absent). False on NOMEM. */
static bool get_str(mdt_arena *a, json_t *m, const char *key, const char **out)
{
    const char *s = json_string_value(json_object_get(m, key));

    *out = s ? mdt_arena_strdup(a, s) : NULL;
    return !s || *out;
}

/* A member as compact JSON text in the arena; NULL when absent. */
static bool get_json(mdt_arena *a, json_t *m, const char *key, const char **out)
{
    json_t *v = json_object_get(m, key);
    char *text;

    *out = NULL;
    if (!v)
        return true;
    if (!(text = json_dumps(v, JSON_COMPACT)))
        return false;
    *out = mdt_arena_strdup(a, text);
    free(text);
    return *out != NULL;
}

static bool get_list(mdt_arena *a, json_t *m, const char *key, const char ***out, size_t *n)
{
    json_t *arr = json_object_get(m, key), *x;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return true;
    if (!(*out = mdt_arena_alloc(a, json_array_size(arr) * sizeof(char *))))
        return false;
    json_array_foreach(arr, i, x) {
        if (json_is_string(x) && !((*out)[(*n)++] = mdt_arena_strdup(a, json_string_value(x))))
            return false;
    }
    return true;
}

static bool client_from_json(mdt_arena *a, json_t *m, mdt_client *c)
{
    const char *scope = json_string_value(json_object_get(m, "scope"));
    bool ok = get_str(a, m, "client_name", &c->name) && get_str(a, m, "kind", &c->kind) &&
              get_str(a, m, "owner", &c->owner) && get_str(a, m, "risk_tier", &c->tier) &&
              get_str(a, m, "token_endpoint_auth_method", &c->auth_method) &&
              get_str(a, m, "software_id", &c->software_id) &&
              get_str(a, m, "software_version", &c->software_version) &&
              get_str(a, m, "access_token_format", &c->access_token_format);

    ok = ok && get_list(a, m, "resources", &c->resources, &c->nresources) &&
         get_list(a, m, "introspection_for", &c->introspection_for, &c->nintrospection_for) &&
         get_list(a, m, "grant_types", &c->grant_types, &c->ngrant_types) &&
         get_list(a, m, "redirect_uris", &c->redirect_uris, &c->nredirect_uris) &&
         get_list(a, m, "post_logout_redirect_uris", &c->post_logout_redirect_uris,
                  &c->npost_logout_redirect_uris) &&
         (c->scopes = mdt_words_split(a, scope, &c->nscopes)) != NULL;
    ok = ok && get_str(a, m, "jwks_uri", &c->jwks_uri) &&
         get_str(a, m, "token_endpoint_auth_signing_alg", &c->auth_signing_alg) &&
         get_str(a, m, "tls_client_auth_subject_dn", &c->tls_subject_dn) &&
         get_str(a, m, "tls_client_auth_san_dns", &c->tls_san_dns) &&
         get_str(a, m, "tls_client_auth_san_uri", &c->tls_san_uri) &&
         get_str(a, m, "tls_client_auth_san_ip", &c->tls_san_ip) &&
         get_str(a, m, "tls_client_auth_san_email", &c->tls_san_email) &&
         get_json(a, m, "jwks", &c->jwks);
    if (ok && json_is_object(json_object_get(m, "workload_identity"))) {
        json_t *w = json_object_get(m, "workload_identity");
        ok = get_str(a, w, "issuer", &c->workload_issuer) &&
             get_str(a, w, "subject", &c->workload_subject);
    }
    ok = ok && get_str(a, m, "origin", &c->origin) && get_str(a, m, "vouched_by", &c->vouched_by) &&
         get_str(a, m, "iat_id", &c->iat_id);
    if (json_is_string(json_object_get(m, "approved_at")) &&
        mdt_time_parse(json_string_value(json_object_get(m, "approved_at")), &c->approved_at) !=
            MDT_OK)
        c->approved_at = 0;
    c->cert_bound_tokens =
        json_is_true(json_object_get(m, "tls_client_certificate_bound_access_tokens"));
    c->require_par = json_is_true(json_object_get(m, "require_pushed_authorization_requests"));
    c->access_token_ttl = json_integer_value(json_object_get(m, "access_token_ttl"));
    c->max_delegation_depth = json_is_integer(json_object_get(m, "max_delegation_depth"))
                                  ? json_integer_value(json_object_get(m, "max_delegation_depth"))
                                  : 2;
    return ok;
}

mdt_rc mdt_iga__client_read(mdt_env *env, const char *client_id, mdt_arena *a, mdt_client *out,
                            mdt_err *err)
{
    mdt_client_rec rec;
    mdt_cred_rec *creds = NULL;
    json_t *m;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = get_client(env, client_id, a, &rec, err)) != MDT_OK ||
        (rc = mdt_store_cred_list(env->store, client_id, a, &creds, &out->ncreds, err)) != MDT_OK)
        return rc;
    m = json_loads(rec.metadata, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return mdt_failf(err, MDT_ERR_STORE, "stored client is corrupt",
                         "metadata of client %.64s is not a JSON object", client_id);
    }
    rc = client_from_json(a, m, out) ? MDT_OK : nomem(err);
    json_decref(m);
    out->client_id = rec.client_id;
    out->status = rec.status; /* as stored: mdt_client_load derives "expired" */
    out->expires_at = rec.expires_at;
    out->created_at = rec.created_at;
    out->tokens_valid_after = rec.tokens_valid_after;
    out->metadata = rec.metadata;
    out->creds = creds;
    return rc;
}

const char *mdt_iga__effective_status(const char *status, int64_t expires_at, int64_t now)
{
    return effective_status(status, expires_at, now);
}

/* The earlier of expires_at and the inactivity deadline of a self-registered
 * client (0 when neither applies). */
static int64_t expiry_of(const mdt_env *env, int64_t expires_at, const char *origin,
                         int64_t created_at, int64_t approved_at, const mdt_cred_rec *creds,
                         size_t n)
{
    int64_t idle = mdt_registration_inactive_deadline(origin, created_at, approved_at, creds, n,
                                                      env->cfg.registration_inactive_expiry);

    return idle && (!expires_at || idle < expires_at) ? idle : expires_at;
}

const char *mdt_iga__client_status(const mdt_env *env, const mdt_client *c, int64_t now)
{
    return effective_status(c->status, expiry_of(env, c->expires_at, c->origin, c->created_at,
                                                 c->approved_at, c->creds, c->ncreds),
                            now);
}

bool mdt_client_grant_type_known(const char *grant_type)
{
    return in_set(grant_type, grant_types);
}

bool mdt_client_kind_known(const char *kind)
{
    return in_set(kind, kinds);
}

bool mdt_client_auth_method_known(const char *method)
{
    return in_set(method, auth_methods);
}

bool mdt_client_auth_method_is_secret(const char *method)
{
    return mdt_str_eq(method, "client_secret_basic") || mdt_str_eq(method, "client_secret_post");
}

bool mdt_client_usable(const mdt_client *c, int64_t now)
{
    return mdt_str_eq(c->status, "active") && (c->expires_at == 0 || c->expires_at > now);
}

static bool list_has(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(list[i], s))
            return true;
    return false;
}

bool mdt_client_has_scope(const mdt_client *c, const char *scope)
{
    return scope && list_has(c->scopes, c->nscopes, scope);
}

bool mdt_client_has_resource(const mdt_client *c, const char *uri)
{
    return uri && list_has(c->resources, c->nresources, uri);
}

bool mdt_client_introspects_for(const mdt_client *c, const char *uri)
{
    return uri && list_has(c->introspection_for, c->nintrospection_for, uri);
}

bool mdt_client_has_grant(const mdt_client *c, const char *grant_type)
{
    return grant_type && list_has(c->grant_types, c->ngrant_types, grant_type);
}

static bool secret_live(const mdt_cred_rec *cr, int64_t now)
{
    return mdt_str_eq(cr->type, "secret") && mdt_cred_live(cr, now);
}

mdt_rc mdt_client_verify_secret(mdt_env *env, const mdt_client *c, const char *secret, size_t len,
                                int64_t now, mdt_arena *a, const char **cred_id, mdt_err *err)
{
    const mdt_cred_rec *creds = c->creds, *hit = NULL;
    uint8_t h[MDT_SECRET_HASH_LEN];
    size_t n = c->ncreds;

    (void)a;
    if (cred_id)
        *cred_id = NULL;
    mdt_secret_hash(secret, len, h);
    for (size_t i = 0; i < n; i++) {   /* no early exit: every live secret is compared */
        bool eq = mdt_ct_eq(h, sizeof(h), creds[i].hash, sizeof(creds[i].hash));
        if (eq && secret_live(&creds[i], now) && !hit)
            hit = &creds[i];
    }
    mdt_wipe(h, sizeof(h));
    if (!hit)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT, "client authentication failed");
    mdt_client_cred_used(env, c, hit, now);
    if (cred_id)
        *cred_id = hit->id;
    return MDT_OK;
}

/* ---------------------------------------------------------------------
 * JSON documents of clients.
 * --------------------------------------------------------------------- */

/* The effective status of a stored client with metadata m. creds: its
 * credentials, or NULL to read them when the inactivity rule needs them (a
 * failed read leaves that rule out). */
static const char *rec_status(mdt_env *env, const mdt_client_rec *rec, json_t *m,
                              const mdt_cred_rec *creds, size_t n, int64_t now)
{
    const char *origin = json_string_value(json_object_get(m, "origin"));
    const char *approved = json_string_value(json_object_get(m, "approved_at"));
    int64_t at = 0, expiry;
    mdt_cred_rec *list = NULL;
    mdt_arena a;

    if (!origin)
        return effective_status(rec->status, rec->expires_at, now);
    if (approved && mdt_time_parse(approved, &at) != MDT_OK)
        at = 0;
    mdt_arena_init(&a, 2048);
    if (!creds && mdt_store_cred_list(env->store, rec->client_id, &a, &list, &n, NULL) != MDT_OK)
        origin = NULL;
    expiry = expiry_of(env, rec->expires_at, origin, rec->created_at, at, creds ? creds : list, n);
    mdt_arena_free(&a);
    return effective_status(rec->status, expiry, now);
}

/* {client_id, [client_secret, client_secret_expires_at,] client_id_issued_at,
 *  ...metadata, status}. creds as for rec_status. */
static json_t *client_doc(mdt_env *env, const mdt_client_rec *rec, const mdt_cred_rec *creds,
                          size_t ncreds, const char *secret, int64_t now)
{
    json_t *m = json_loads(rec->metadata, 0, NULL);
    json_t *o = json_pack("{s:s}", "client_id", rec->client_id);
    bool ok = o && json_is_object(m);

    if (ok && secret)
        ok = json_object_set_new(o, "client_secret", json_string(secret)) == 0 &&
             json_object_set_new(o, "client_secret_expires_at", json_integer(0)) == 0;
    ok = ok && json_object_set_new(o, "client_id_issued_at", json_integer(rec->created_at)) == 0 &&
         json_object_update(o, m) == 0 &&
         json_object_set_new(o, "status", json_string(rec_status(env, rec, m, creds, ncreds,
                                                                 now))) == 0;
    json_decref(m);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *cred_doc(const mdt_cred_rec *cr)
{
    return mdt_iga__cred_json(cr);
}

static mdt_rc dump_doc(json_t *doc, mdt_arena *a, const char **out, mdt_err *err)
{
    mdt_rc rc;

    if (!doc)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    rc = mdt_iga__dump(doc, a, out, err);
    json_decref(doc);
    return rc;
}

static mdt_rc audit_client(mdt_env *env, const char *type, const char *client_id, json_t *data,
                           mdt_err *err)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    mdt_rc rc;

    if (data && !text)
        rc = nomem(err);
    else
        rc = mdt_iga__audit(env, type, client_id, text, err);
    free(text);
    json_decref(data);
    return rc;
}

/* ---------------------------------------------------------------------
 * Service operations.
 * --------------------------------------------------------------------- */

/* A new secret credential for client_id: *secret is the plain value (the
 * caller wipes it), cr gets its hash. */
static mdt_rc new_secret_cred(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                              mdt_cred_rec *cr, char secret[MDT_SECRET_LEN + 1], mdt_err *err)
{
    mdt_rc rc;

    memset(cr, 0, sizeof(*cr));
    if ((rc = mdt_iga__cred_id(&env->rng, a, &cr->id, err)) != MDT_OK ||
        (rc = mdt_secret_generate(&env->rng, secret, err)) != MDT_OK)
        return rc;
    mdt_secret_hash(secret, MDT_SECRET_LEN, cr->hash);
    cr->client_id = client_id;
    cr->type = "secret";
    cr->created_at = now;
    return MDT_OK;
}

/* Whether normalized metadata registers a secret authentication method. */
static bool meta_is_secret(const char *metadata)
{
    json_t *m = json_loads(metadata, 0, NULL);
    bool yes = mdt_client_auth_method_is_secret(
        json_string_value(json_object_get(m, "token_endpoint_auth_method")));

    json_decref(m);
    return yes;
}

static json_t *created_data(const char *metadata)
{
    json_t *m = json_loads(metadata, 0, NULL);
    json_t *d = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "client_name",
                          json_object_get(m, "client_name"), "kind", json_object_get(m, "kind"),
                          "owner", json_object_get(m, "owner"), "scope",
                          json_object_get(m, "scope"), "token_endpoint_auth_method",
                          json_object_get(m, "token_endpoint_auth_method"));
    json_decref(m);
    return d;
}

/* The credentials of a new client: its derived ones, and a secret (in
 * secret, which the caller wipes) when its method is a secret one. */
static mdt_rc initial_creds(mdt_env *env, const mdt_client_rec *rec, mdt_arena *a,
                            mdt_cred_plan *plan, char secret[MDT_SECRET_LEN + 1], mdt_err *err)
{
    mdt_cred_rec *want = NULL;
    size_t nwant = 0;
    mdt_rc rc;

    if ((rc = mdt_creds_derive(rec->metadata, a, &want, &nwant, err)) != MDT_OK ||
        (rc = mdt_creds_plan(&env->rng, rec->client_id, NULL, 0, want, nwant, rec->created_at, a,
                             plan, err)) != MDT_OK)
        return rc;
    if (!meta_is_secret(rec->metadata))
        return MDT_OK;
    return new_secret_cred(env, rec->client_id, rec->created_at, a, &plan->add[plan->nadd++],
                           secret, err);
}

/* Sets the server-assigned members over the metadata text *metadata: those
 * of stored (the metadata before an update; NULL), then those of
 * server_meta (JSON object text; NULL; a null member removes it). */
static mdt_rc set_members(mdt_arena *a, const char **metadata, const char *stored,
                          const char *server_meta, mdt_err *err)
{
    json_t *m = json_loads(*metadata, 0, NULL);
    json_t *old = stored ? json_loads(stored, 0, NULL) : NULL;
    json_t *set = server_meta ? json_loads(server_meta, 0, NULL) : NULL;
    mdt_rc rc = json_is_object(m) && (!server_meta || json_is_object(set))
                    ? MDT_OK
                    : mdt_fail(err, MDT_ERR_INTERNAL, "server-assigned members are not an object");

    for (const char *const *k = server_members; *k && rc == MDT_OK; k++) {
        json_t *v = json_object_get(set, *k);
        if (!v)
            v = json_object_get(old, *k);
        if (v && !json_is_null(v) && json_object_set(m, *k, v) != 0)
            rc = nomem(err);
    }
    if (rc == MDT_OK && (server_meta || stored))
        rc = mdt_iga__dump(m, a, metadata, err);
    json_decref(m);
    json_decref(old);
    json_decref(set);
    return rc;
}

/* Audit data with the members of extra (JSON object text; NULL) added. */
static json_t *with_extra(json_t *data, const char *extra)
{
    json_t *x = extra ? json_loads(extra, 0, NULL) : NULL;

    if (data && json_is_object(x))
        json_object_update(data, x);
    json_decref(x);
    return data;
}

/* plan->add followed by extra[], in a. */
static mdt_rc join_creds(mdt_arena *a, const mdt_cred_plan *plan, const mdt_cred_rec *extra,
                         size_t nextra, mdt_cred_rec **out, size_t *n, mdt_err *err)
{
    *n = plan->nadd + nextra;
    *out = mdt_arena_alloc(a, (*n ? *n : 1) * sizeof(**out));
    if (!*out)
        return nomem(err);
    if (plan->nadd)
        memcpy(*out, plan->add, plan->nadd * sizeof(**out));
    if (nextra)
        memcpy(*out + plan->nadd, extra, nextra * sizeof(**out));
    return MDT_OK;
}

static const mdt_client_spec no_spec;

/* A workload identity authenticates one client only: none of the workload
 * credentials about to be stored may belong to another client. */
static mdt_rc workload_unique(mdt_env *env, const char *client_id, const mdt_cred_rec *creds,
                              size_t n, mdt_arena *a, mdt_err *err)
{
    mdt_cred_rec other;
    mdt_rc rc;

    for (size_t i = 0; i < n; i++) {
        if (!mdt_str_eq(creds[i].type, "workload"))
            continue;
        rc = mdt_store_cred_find(env->store, "workload", creds[i].hash, a, &other, err);
        if (rc == MDT_ERR_NOT_FOUND) {
            mdt_err_clear(err);
            continue;
        }
        if (rc != MDT_OK)
            return rc;
        if (!mdt_str_eq(other.client_id, client_id))
            return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                             "workload_identity is already bound to another client",
                             "workload_identity of %.64s", other.client_id);
    }
    return MDT_OK;
}

mdt_rc mdt_client_create_with(mdt_env *env, const char *json, size_t len,
                              const mdt_client_spec *spec, mdt_arena *a,
                              const char **response_json, mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    mdt_client_rec rec = {.status = "active", .created_at = now, .updated_at = now};
    mdt_cred_plan plan;
    mdt_cred_rec *creds = NULL;
    size_t ncreds = 0;
    char secret[MDT_SECRET_LEN + 1] = "";
    mdt_rc rc;

    *response_json = NULL;
    spec = spec ? spec : &no_spec;
    rec.status = spec->status ? spec->status : "active";
    rec.client_id = spec->client_id;
    rc = mdt_client_metadata_validate(env, json, len, a, &rec.metadata, &rec.expires_at, err);
    if (rc != MDT_OK)
        return rc;
    if ((!rec.client_id &&
         (rc = mdt_random_id(&env->rng, "mdt_", MDT_CLIENT_ID_BYTES, a, &rec.client_id, err))) ||
        (rc = set_members(a, &rec.metadata, NULL, spec->server_meta, err)) ||
        (rc = initial_creds(env, &rec, a, &plan, secret, err)) ||
        (rc = join_creds(a, &plan, spec->extra, spec->nextra, &creds, &ncreds, err)) ||
        (rc = workload_unique(env, rec.client_id, creds, ncreds, a, err)) ||
        (rc = mdt_store_client_insert(env->store, &rec, creds, ncreds, err)))
        goto out;
    if ((rc = audit_client(env, spec->event ? spec->event : "client.created", rec.client_id,
                           with_extra(created_data(rec.metadata), spec->event_data), err)))
        goto out;
    rc = dump_doc(client_doc(env, &rec, creds, ncreds, secret[0] ? secret : NULL, now), a,
                  response_json, err);
out:
    mdt_wipe(secret, sizeof(secret));
    return rc;
}

mdt_rc mdt_client_create(mdt_env *env, const char *json, size_t len, mdt_arena *a,
                         const char **response_json, mdt_err *err)
{
    return mdt_client_create_with(env, json, len, NULL, a, response_json, err);
}

/* Merges the input object into the stored metadata object m. */
static json_t *merge(json_t *m, json_t *in)
{
    const char *key;
    json_t *v, *keys = json_array();

    json_object_foreach(in, key, v) {
        if (in_set(key, read_only))
            continue;
        if (json_is_null(v))
            json_object_del(m, key);
        else if (json_object_set(m, key, v) != 0)
            break;
        json_array_append_new(keys, json_string(key));
    }
    return keys;
}

/* The metadata after an update: in merged into the stored metadata, or in
 * alone when replace; validated as on create. */
static mdt_rc update_meta(mdt_env *env, mdt_client_rec *rec, json_t *in, bool replace,
                          mdt_arena *a, json_t **keys, mdt_err *err)
{
    json_t *m = replace ? json_object() : json_loads(rec->metadata, 0, NULL), *norm = NULL;
    mdt_rc rc;

    *keys = NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        return mdt_fail(err, MDT_ERR_STORE, "stored client is corrupt");
    }
    *keys = merge(m, in);
    rc = validate_obj(env, m, a, &norm, &rec->expires_at, err);
    if (rc == MDT_OK)
        rc = mdt_iga__dump(norm, a, &rec->metadata, err);
    json_decref(m);
    json_decref(norm);
    return rc;
}

/* The method left the secret ones: every live secret expires now (the row
 * is rewritten in the same transaction, keeping its id and times). */
static void expire_secrets(const mdt_cred_rec *have, size_t nhave, int64_t now,
                           mdt_cred_plan *plan)
{
    for (size_t i = 0; i < nhave; i++) {
        if (!secret_live(&have[i], now))
            continue;
        plan->del[plan->ndel++] = have[i].id;
        plan->add[plan->nadd] = have[i];
        plan->add[plan->nadd++].expires_at = now;
    }
}

static bool any_live_secret(const mdt_cred_rec *have, size_t nhave, int64_t now)
{
    for (size_t i = 0; i < nhave; i++)
        if (secret_live(&have[i], now))
            return true;
    return false;
}

/* The credential changes of an update: derived rows follow the metadata;
 * secrets follow a change of method (see mdt_client_update). */
static mdt_rc plan_update(mdt_env *env, const mdt_client_rec *rec, bool was_secret, int64_t now,
                          mdt_arena *a, mdt_cred_plan *plan, char secret[MDT_SECRET_LEN + 1],
                          mdt_err *err)
{
    mdt_cred_rec *have = NULL, *want = NULL;
    size_t nhave = 0, nwant = 0;
    bool is_secret = meta_is_secret(rec->metadata);
    mdt_rc rc;

    if ((rc = mdt_store_cred_list(env->store, rec->client_id, a, &have, &nhave, err)) ||
        (rc = mdt_creds_derive(rec->metadata, a, &want, &nwant, err)) ||
        (rc = mdt_creds_plan(&env->rng, rec->client_id, have, nhave, want, nwant, now, a, plan,
                             err)))
        return rc;
    if (was_secret && !is_secret)
        expire_secrets(have, nhave, now, plan);
    else if (!was_secret && is_secret && !any_live_secret(have, nhave, now))
        return new_secret_cred(env, rec->client_id, now, a, &plan->add[plan->nadd++], secret, err);
    return MDT_OK;
}

/* {fields, credentials_added, credentials_removed}: ids only. */
static json_t *updated_data(json_t *keys, const mdt_cred_plan *plan)
{
    json_t *added = json_array(), *removed = json_array();

    for (size_t i = 0; added && i < plan->nadd; i++)
        json_array_append_new(added, json_string(plan->add[i].id));
    for (size_t i = 0; removed && i < plan->ndel; i++)
        json_array_append_new(removed, json_string(plan->del[i]));
    return json_pack("{s:O, s:o*, s:o*}", "fields", keys, "credentials_added", added,
                     "credentials_removed", removed);
}

mdt_rc mdt_client_update_with(mdt_env *env, const char *client_id, const char *json, size_t len,
                              const mdt_client_spec *spec, mdt_arena *a,
                              const char **response_json, mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    mdt_client_rec rec;
    mdt_cred_plan plan;
    char secret[MDT_SECRET_LEN + 1] = "";
    json_t *in = NULL, *keys = NULL;
    const char *stored;
    bool was_secret;
    mdt_rc rc;

    *response_json = NULL;
    spec = spec ? spec : &no_spec;
    if ((rc = parse_input(json, len, &in, err)) != MDT_OK)
        return rc;
    if ((rc = get_client(env, client_id, a, &rec, err)))
        goto out;
    was_secret = meta_is_secret(rec.metadata);
    stored = rec.metadata;
    if ((rc = update_meta(env, &rec, in, spec->replace, a, &keys, err)) ||
        (rc = set_members(a, &rec.metadata, stored, spec->server_meta, err)) ||
        (rc = plan_update(env, &rec, was_secret, now, a, &plan, secret, err)))
        goto out;
    rec.updated_at = now;
    if (spec->status)
        rec.status = spec->status;
    if ((rc = workload_unique(env, rec.client_id, plan.add, plan.nadd, a, err)) ||
        (rc = mdt_store_client_update_creds(env->store, &rec, plan.add, plan.nadd, plan.del,
                                            plan.ndel, err)))
        goto out;
    rc = audit_client(env, spec->event ? spec->event : "client.updated", rec.client_id,
                      with_extra(updated_data(keys, &plan), spec->event_data), err);
    if (rc == MDT_OK)
        rc = dump_doc(client_doc(env, &rec, NULL, 0, secret[0] ? secret : NULL, now), a,
                      response_json, err);
out:
    mdt_wipe(secret, sizeof(secret));
    json_decref(in);
    json_decref(keys);
    return rc;
}

mdt_rc mdt_client_update(mdt_env *env, const char *client_id, const char *json, size_t len,
                         mdt_arena *a, const char **response_json, mdt_err *err)
{
    return mdt_client_update_with(env, client_id, json, len, NULL, a, response_json, err);
}

static mdt_rc change_status(mdt_client_rec *rec, const char *status, int64_t now,
                            const char **event, mdt_err *err)
{
    *event = NULL;
    if (mdt_str_eq(status, "suspended")) {
        rec->status = "suspended";
        rec->tokens_valid_after = now + 1;
        *event = "client.suspended";
        return MDT_OK;
    }
    if (!mdt_str_eq(status, "active"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "status must be active or suspended");
    if (mdt_str_eq(effective_status(rec->status, rec->expires_at, now), "expired"))
        return mdt_failf(err, MDT_ERR_CONFLICT, "client has expired and cannot be resumed",
                         "client %.64s has expired (expires_at passed) and cannot be resumed",
                         rec->client_id);
    if (mdt_str_eq(rec->status, "active"))
        return MDT_OK; /* nothing to do */
    rec->status = "active";
    *event = "client.resumed";
    return MDT_OK;
}

mdt_rc mdt_client_set_status(mdt_env *env, const char *client_id, const char *status,
                             mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    mdt_arena a;
    mdt_client_rec rec;
    const char *event = NULL;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    if ((rc = get_client(env, client_id, &a, &rec, err)))
        goto out;
    if (mdt_str_eq(status, "active")) {
        /* expired by expires_at or, self-registered, by never authenticating */
        mdt_client c;
        if ((rc = mdt_client_load(env, client_id, &a, &c, err)))
            goto out;
        if (mdt_str_eq(c.status, "expired")) {
            rc = mdt_failf(err, MDT_ERR_CONFLICT, "client has expired and cannot be resumed",
                           "client %.64s has expired and cannot be resumed", client_id);
            goto out;
        }
    }
    if ((rc = change_status(&rec, status, now, &event, err)) || !event)
        goto out;
    rec.updated_at = now;
    if ((rc = mdt_store_client_update(env->store, &rec, err)))
        goto out;
    rc = audit_client(env, event, rec.client_id, NULL, err);
out:
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_client_delete(mdt_env *env, const char *client_id, mdt_err *err)
{
    mdt_rc rc = mdt_store_client_delete(env->store, client_id, mdt_now(&env->clock), err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown client", "unknown client %.64s", client_id);
    if (rc != MDT_OK)
        return rc;
    return audit_client(env, "client.deleted", client_id, NULL, err);
}

static json_t *rotate_doc(const char *client_id, const char *secret)
{
    return json_pack("{s:s, s:s, s:i}", "client_id", client_id, "client_secret", secret,
                     "client_secret_expires_at", 0);
}

mdt_rc mdt_client_rotate_secret(mdt_env *env, const char *client_id, int64_t keep, mdt_arena *a,
                                const char **response_json, mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    mdt_client_rec rec;
    mdt_cred_rec cred;
    char secret[MDT_SECRET_LEN + 1] = "";
    mdt_rc rc;

    *response_json = NULL;
    if (keep < 0 || keep > INT64_MAX / 2)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "keep must be a non-negative duration");
    if ((rc = get_client(env, client_id, a, &rec, err)))
        goto out;
    if (!meta_is_secret(rec.metadata)) {
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                      "the client does not authenticate with a secret (its "
                      "token_endpoint_auth_method is not client_secret_basic or client_secret_post)");
        goto out;
    }
    if ((rc = new_secret_cred(env, rec.client_id, now, a, &cred, secret, err)) ||
        (rc = mdt_store_cred_insert(env->store, &cred, err)) ||
        (rc = mdt_store_cred_expire_others(env->store, rec.client_id, "secret", cred.id,
                                           now + keep, err)))
        goto out;
    rc = audit_client(env, "client.secret_rotated", rec.client_id,
                      json_pack("{s:s, s:I}", "credential_id", cred.id, "keep", (json_int_t)keep),
                      err);
    if (rc == MDT_OK)
        rc = dump_doc(rotate_doc(rec.client_id, secret), a, response_json, err);
out:
    mdt_wipe(secret, sizeof(secret));
    return rc;
}

mdt_rc mdt_client_show_json(mdt_env *env, const char *client_id, mdt_arena *a, const char **json,
                            mdt_err *err)
{
    mdt_client_rec rec;
    mdt_cred_rec *creds = NULL;
    size_t n = 0;
    json_t *doc, *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = get_client(env, client_id, a, &rec, err)) ||
        (rc = mdt_store_cred_list(env->store, client_id, a, &creds, &n, err)))
        return rc;
    doc = client_doc(env, &rec, creds, n, NULL, mdt_now(&env->clock));
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, cred_doc(&creds[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!doc || !arr || json_object_set_new(doc, "credentials", arr) != 0) {
        if (!doc)
            json_decref(arr);
        json_decref(doc);
        doc = NULL;
    }
    return dump_doc(doc, a, json, err);
}

mdt_rc mdt_client_doc_json(mdt_env *env, const char *client_id, mdt_arena *a, const char **json,
                           mdt_err *err)
{
    mdt_client_rec rec;
    mdt_rc rc;

    *json = NULL;
    if ((rc = get_client(env, client_id, a, &rec, err)) != MDT_OK)
        return rc;
    return dump_doc(client_doc(env, &rec, NULL, 0, NULL, mdt_now(&env->clock)), a, json, err);
}

mdt_rc mdt_client_list_json(mdt_env *env, mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_client_rec *list = NULL;
    size_t n = 0;
    int64_t now = mdt_now(&env->clock);
    json_t *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_store_client_list(env->store, a, &list, &n, err)) != MDT_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, client_doc(env, &list[i], NULL, 0, NULL, now)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return dump_doc(arr, a, json, err);
}
