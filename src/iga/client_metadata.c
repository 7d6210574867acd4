/* Client metadata (RFC 7591 with the Mandate extensions, SPEC §2.4): the
 * table of understood fields and their checks, the rules that involve
 * several fields, the privileged members, and the merge of an update. One
 * validation for the CLI, the admin API and self-registration; the
 * lifecycle (client_lifecycle.c) stores what it returns. */
#include "iga/client.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/url.h"
#include "core/words.h"
#include "iga/internal.h"
#include "iga/registry.h"
#include "iga/scope.h"
#include "jose/jwk.h"
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
    bool (*item)(const char *s); /* array items; enum values when values is NULL */
    mdt_rc code;               /* error code (0: invalid_client_metadata) */
    const char *dflt;          /* JSON text of the default, or NULL */
};

static const char *const kinds[] = {"agent", "service", "web", "native", "cli", NULL};
static const char *const tiers[] = {"low", "medium", "high", NULL};
static const char *const formats[] = {"jwt", "opaque", NULL};
static const char *const ciba_modes[] = {"poll", NULL}; /* CIBA §4: ping and push are not offered */

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
/* Grant types, response types, methods and algorithms: iga/registry.h. */
static bool grant_supported(const char *g) { return mdt_client_grant_type_known(g); }

static bool response_type_supported(const char *t)
{
    size_t n;
    const mdt_grant_def *g = mdt_grants(&n);

    for (size_t i = 0; i < n; i++)
        if (g[i].registrable && mdt_str_eq(g[i].response_type, t))
            return true;
    return false;
}

static bool auth_method_supported(const char *m) { return mdt_client_auth_method_known(m); }

static bool signing_alg_supported(const char *alg)
{
    size_t n;
    const char *const *algs = mdt_auth_signing_algs(&n);

    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(algs[i], alg))
            return true;
    return false;
}

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
    if (!json_is_string(v) || !(f->values ? in_set(json_string_value(v), f->values)
                                          : f->item(json_string_value(v))))
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

/* Whether arr holds one of the space-separated names of list. */
static bool array_has_any(json_t *arr, const char *list)
{
    size_t i;
    json_t *x;

    json_array_foreach(arr, i, x) {
        const char *s = json_string_value(x);
        size_t n = strlen(s);

        for (const char *p = list; *p; p += strspn(p, " ")) {
            size_t k = strcspn(p, " ");
            if (k == n && strncmp(p, s, n) == 0)
                return true;
            p += k;
        }
    }
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
            "urn:ietf:params:oauth:grant-type:token-exchange, "
            "urn:ietf:params:oauth:grant-type:jwt-bearer, authorization_code, refresh_token, "
            "urn:ietf:params:oauth:grant-type:device_code, urn:openid:params:grant-type:ciba)"},
    {.key = "response_types", .check = check_array, .max = 1, .dflt = "[]",
     .item = response_type_supported,
     .msg = "response_types must be [] or [\"code\"] (with the authorization_code grant)"},
    {.key = "token_endpoint_auth_method", .check = check_enum, .item = auth_method_supported,
     .dflt = "\"client_secret_basic\"",
     .msg = "token_endpoint_auth_method must be client_secret_basic, client_secret_post, "
            "private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none"},
    {.key = "token_endpoint_auth_signing_alg", .check = check_enum, .item = signing_alg_supported,
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
    {.key = "dpop_bound_access_tokens", .check = check_bool,
     .msg = "dpop_bound_access_tokens must be true or false"},
    {.key = "workload_identity", .check = check_workload,
     .msg = "workload_identity must be an object with a non-empty issuer and subject"},
    {.key = "backchannel_token_delivery_mode", .check = check_enum, .values = ciba_modes,
     .msg = "backchannel_token_delivery_mode must be poll (ping and push are not supported)"},
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

/* RFC 7591 §2.1, read from the grant registry (iga/registry.h): a grant's
 * response type goes with it (filled in when left out), a grant may need
 * redirect_uris or another grant, and a public client uses only the grants
 * open to public clients. */
static mdt_rc check_grants(json_t *m, const mdt_auth_method_def *method, mdt_err *err)
{
    json_t *grants = json_object_get(m, "grant_types"), *rt = json_object_get(m, "response_types");
    size_t n, i;
    const mdt_grant_def *defs = mdt_grants(&n), *d;
    json_t *x;

    for (i = 0; i < n; i++) {
        bool has = array_has(grants, defs[i].name);
        if (!defs[i].response_type)
            continue;
        if (has && json_array_size(rt) == 0 &&
            json_array_append_new(rt, json_string(defs[i].response_type)) != 0)
            return nomem(err);
        if (has != array_has(rt, defs[i].response_type))
            return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA, defs[i].response_msg);
        if (has && defs[i].needs_redirect_uris &&
            json_array_size(json_object_get(m, "redirect_uris")) == 0)
            return mdt_fail(err, MDT_ERR_INVALID_REDIRECT_URI, defs[i].redirect_msg);
    }
    for (i = 0; i < n; i++)
        if (defs[i].goes_with && array_has(grants, defs[i].name) &&
            !array_has_any(grants, defs[i].goes_with))
            return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA, defs[i].goes_with_msg);
    if (!method || !method->public_client)
        return MDT_OK;
    json_array_foreach(grants, i, x)
        if (!(d = mdt_grant_find(json_string_value(x))) || !d->public_clients)
            return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                            "token_endpoint_auth_method none (a public client) allows only the "
                            "authorization_code and device_code grants (and refresh_token)");
    return MDT_OK;
}

/* Rules that involve several fields (RFC 7591 §2, RFC 8705 §2.1): what the
 * authentication method requires, from the method registry. */
static mdt_rc check_combination(json_t *m, mdt_err *err)
{
    static const char *const tls_ids[] = {"tls_client_auth_subject_dn", "tls_client_auth_san_dns",
                                          "tls_client_auth_san_uri", "tls_client_auth_san_ip",
                                          "tls_client_auth_san_email", NULL};
    const mdt_auth_method_def *method =
        mdt_auth_method_find(json_string_value(json_object_get(m, "token_endpoint_auth_method")));
    mdt_method_needs needs = method ? method->needs : MDT_METHOD_NEEDS_NOTHING;
    bool keys = json_object_get(m, "jwks") || json_object_get(m, "jwks_uri");
    bool ok = true;

    if (json_object_get(m, "jwks") && json_object_get(m, "jwks_uri"))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "jwks and jwks_uri must not both be present");
    if (needs == MDT_METHOD_NEEDS_KEYS_OR_WORKLOAD)
        ok = keys || json_object_get(m, "workload_identity");
    else if (needs == MDT_METHOD_NEEDS_KEYS)
        ok = keys;
    else if (needs == MDT_METHOD_NEEDS_TLS_SUBJECT)
        ok = count_present(m, tls_ids) == 1;
    if (!ok)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA, method->needs_msg);
    if (needs != MDT_METHOD_NEEDS_TLS_SUBJECT && count_present(m, tls_ids) != 0)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "tls_client_auth_* fields need token_endpoint_auth_method tls_client_auth");
    return check_grants(m, method, err);
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

/* A rule that needs the store, checked on the credentials a create or an
 * update is about to store. */
mdt_rc mdt_iga__metadata_workload_unique(mdt_env *env, const char *client_id,
                                         const mdt_cred_rec *creds, size_t n, mdt_arena *a,
                                         mdt_err *err)
{
    mdt_cred_rec other;
    mdt_rc rc;

    for (size_t i = 0; i < n; i++) {
        if (mdt_cred_type_from_name(creds[i].type) != MDT_CRED_WORKLOAD)
            continue;
        rc = mdt_store_cred_find(env->store, creds[i].type, creds[i].hash, a, &other, err);
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

mdt_rc mdt_iga__metadata_parse(const char *json, size_t len, json_t **out, mdt_err *err)
{
    return parse_input(json, len, out, err);
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

bool mdt_client_grant_type_known(const char *grant_type)
{
    const mdt_grant_def *g = mdt_grant_find(grant_type);
    return g && g->registrable;
}

bool mdt_client_kind_known(const char *kind)
{
    return in_set(kind, kinds);
}

bool mdt_client_auth_method_known(const char *method)
{
    return mdt_auth_method_find(method) != NULL;
}

bool mdt_client_auth_method_is_secret(const char *method)
{
    const mdt_auth_method_def *m = mdt_auth_method_find(method);
    return m && m->secret;
}

/* ---------------------------------------------------------------------
 * Updates: server-assigned members and the merge of an update.
 * --------------------------------------------------------------------- */

bool mdt_iga__metadata_is_secret(const char *metadata)
{
    json_t *m = json_loads(metadata, 0, NULL);
    bool yes = mdt_client_auth_method_is_secret(
        json_string_value(json_object_get(m, "token_endpoint_auth_method")));

    json_decref(m);
    return yes;
}

mdt_rc mdt_iga__metadata_server_members(mdt_arena *a, const char **metadata, const char *stored,
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

mdt_rc mdt_iga__metadata_update(mdt_env *env, const char *stored, json_t *in, bool replace,
                                mdt_arena *a, const char **metadata, int64_t *expires_at,
                                json_t **keys, mdt_err *err)
{
    json_t *m = replace ? json_object() : json_loads(stored, 0, NULL), *norm = NULL;
    mdt_rc rc;

    *keys = NULL;
    if (!json_is_object(m)) {
        json_decref(m);
        return mdt_fail(err, MDT_ERR_STORE, "stored client is corrupt");
    }
    *keys = merge(m, in);
    rc = validate_obj(env, m, a, &norm, expires_at, err);
    if (rc == MDT_OK)
        rc = mdt_iga__dump(norm, a, metadata, err);
    json_decref(m);
    json_decref(norm);
    return rc;
}
