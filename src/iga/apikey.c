#include "iga/apikey.h"

#include <jansson.h>
#include <string.h>

#include "core/clock.h"
#include "iga/credentials.h"
#include "iga/internal.h"
#include "iga/secret.h"

#define KEY_ID_PREFIX "cred_"
#define KEY_ID_LEN (5 + 16) /* "cred_" + base64url of MDT_CRED_ID_BYTES */
#define AUTH_FAILED "client authentication failed"

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static bool b64url_chars(const char *s, size_t n)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i]))
            return false;
    return true;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* The last '.' in s[0..n), or NULL. */
static const char *last_dot(const char *s, size_t n)
{
    while (n > 0)
        if (s[--n] == '.')
            return s + n;
    return NULL;
}

static mdt_rc malformed(mdt_err *err, const char *why)
{
    return mdt_failf(err, MDT_ERR_INVALID_CLIENT, AUTH_FAILED, "malformed API key: %s", why);
}

mdt_rc mdt_apikey_parse(const char *key, mdt_arena *a, const char **client_id, const char **key_id,
                        mdt_err *err)
{
    size_t plen = strlen(MDT_APIKEY_PREFIX), n = key ? strnlen(key, MDT_APIKEY_MAX + 1) : 0;
    const char *d2, *d1, *cid;

    *client_id = *key_id = NULL;
    if (n == 0 || n > MDT_APIKEY_MAX || strncmp(key, MDT_APIKEY_PREFIX, plen) != 0)
        return malformed(err, "no mdk_ prefix or bad length");
    cid = key + plen;
    if (!(d2 = last_dot(cid, n - plen)) || strlen(d2 + 1) != MDT_SECRET_LEN ||
        !b64url_chars(d2 + 1, MDT_SECRET_LEN))
        return malformed(err, "bad secret part");
    if (!(d1 = last_dot(cid, (size_t)(d2 - cid))) || d2 - d1 - 1 != KEY_ID_LEN ||
        strncmp(d1 + 1, KEY_ID_PREFIX, strlen(KEY_ID_PREFIX)) != 0 ||
        !b64url_chars(d1 + 1, KEY_ID_LEN))
        return malformed(err, "bad key id part");
    if (d1 == cid || d1 - cid > MDT_APIKEY_CLIENT_ID_MAX || !printable(cid, (size_t)(d1 - cid)))
        return malformed(err, "bad client id part");
    *client_id = mdt_arena_strndup(a, cid, (size_t)(d1 - cid));
    *key_id = mdt_arena_strndup(a, d1 + 1, KEY_ID_LEN);
    return *client_id && *key_id ? MDT_OK : nomem(err);
}

static const mdt_cred_rec *find_key(const mdt_client *c, const char *key_id)
{
    for (size_t i = 0; i < c->ncreds; i++)
        if (mdt_str_eq(c->creds[i].id, key_id) &&
            mdt_cred_type_from_name(c->creds[i].type) == MDT_CRED_API_KEY)
            return &c->creds[i];
    return NULL;
}

/* The checks of a key against the client it names. */
static mdt_rc check_key(const mdt_client *c, const mdt_cred_rec *cr, const char *key,
                        int64_t now, mdt_err *err)
{
    if (!cr)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, AUTH_FAILED, "unknown API key");
    if (!mdt_secret_matches(key, strlen(key), cr->hash))
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, AUTH_FAILED, "wrong API key %s", cr->id);
    if (!mdt_cred_live(cr, now))
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, AUTH_FAILED,
                         "API key %s expired or revoked", cr->id);
    if (!mdt_client_usable(c, now)) {
        bool active = mdt_client_status_from_name(c->status) == MDT_CLIENT_ACTIVE;
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, AUTH_FAILED, "client is %s",
                         active ? "expired" : c->status);
    }
    return MDT_OK;
}

mdt_rc mdt_apikey_verify(mdt_env *env, const char *key, int64_t now, mdt_arena *a, mdt_client *out,
                         const char **cred_id, const char **claimed_id, mdt_err *err)
{
    const char *client_id, *key_id;
    const mdt_cred_rec *cr;
    mdt_rc rc;

    *cred_id = NULL;
    if (claimed_id)
        *claimed_id = NULL;
    if ((rc = mdt_apikey_parse(key, a, &client_id, &key_id, err)) != MDT_OK)
        return rc;
    if (claimed_id)
        *claimed_id = client_id;
    rc = mdt_client_load(env, client_id, now, a, out, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, AUTH_FAILED, "API key of an unknown client");
    if (rc != MDT_OK)
        return rc;
    cr = find_key(out, key_id);
    if ((rc = check_key(out, cr, key, now, err)) != MDT_OK)
        return rc;
    mdt_client_cred_used(env, out, cr, now);
    *cred_id = cr->id;
    return MDT_OK;
}

/* ---------------------------------------------------------------------
 * mandate client apikey create | revoke
 * --------------------------------------------------------------------- */

static mdt_rc audit_key(mdt_ctx *ctx, const char *type, const mdt_cred_rec *cr, mdt_err *err)
{
    json_t *d = json_pack("{s:s, s:o}", "credential_id", cr->id, "expires_at",
                          mdt_iga__time_json(cr->expires_at));
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    mdt_rc rc;

    json_decref(d);
    if (!text)
        return nomem(err);
    rc = mdt_iga__audit(ctx, type, cr->client_id, text, err);
    free(text);
    return rc;
}

/* A new key for client_id: *key is the full key (in a; the caller wipes
 * it), cr its credential. */
static mdt_rc new_key(mdt_env *env, const char *client_id, int64_t now, int64_t expires_in,
                      mdt_arena *a, mdt_cred_rec *cr, char **key, mdt_err *err)
{
    char secret[MDT_SECRET_LEN + 1] = "";
    mdt_rc rc;

    memset(cr, 0, sizeof(*cr));
    *key = NULL;
    if ((rc = mdt_iga__cred_id(&env->rng, a, &cr->id, err)) != MDT_OK ||
        (rc = mdt_secret_generate(&env->rng, secret, err)) != MDT_OK)
        return rc;
    *key = mdt_arena_printf(a, MDT_APIKEY_PREFIX "%s.%s.%s", client_id, cr->id, secret);
    mdt_wipe(secret, sizeof(secret));
    if (!*key)
        return nomem(err);
    mdt_secret_hash(*key, strlen(*key), cr->hash);
    cr->client_id = client_id;
    cr->type = mdt_cred_type_name(MDT_CRED_API_KEY);
    cr->name = "";
    cr->created_at = now;
    cr->expires_at = expires_in ? now + expires_in : 0;
    return MDT_OK;
}

static mdt_rc created_doc(const mdt_cred_rec *cr, const char *key, mdt_arena *a, const char **out,
                          mdt_err *err)
{
    json_t *doc = json_pack("{s:s, s:s, s:o}", "key_id", cr->id, "api_key", key, "expires_at",
                            mdt_iga__time_json(cr->expires_at));
    mdt_rc rc;

    if (!doc)
        return nomem(err);
    rc = mdt_iga__dump(doc, a, out, err);
    json_decref(doc);
    return rc;
}

mdt_rc mdt_apikey_create(mdt_env *env, mdt_ctx *ctx, const char *client_id, int64_t expires_in,
                         mdt_arena *a, const char **response_json, mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_client_rec rec;
    mdt_cred_rec cr;
    char *key = NULL;
    mdt_rc rc;

    *response_json = NULL;
    if (expires_in < 0 || expires_in > INT64_MAX / 2)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "expires must be a positive duration");
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)) != MDT_OK)
        return rc;
    if (strlen(rec.client_id) > MDT_APIKEY_CLIENT_ID_MAX ||
        !printable(rec.client_id, strlen(rec.client_id)))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "this client_id cannot be named in an API key");
    if ((rc = new_key(env, rec.client_id, now, expires_in, a, &cr, &key, err)) != MDT_OK ||
        (rc = mdt_store_cred_insert(env->store, &cr, err)) != MDT_OK ||
        (rc = audit_key(ctx, "client.apikey_created", &cr, err)) != MDT_OK)
        goto out;
    rc = created_doc(&cr, key, a, response_json, err);
out:
    if (key)
        mdt_wipe(key, strlen(key));
    return rc;
}

mdt_rc mdt_apikey_revoke(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *key_id,
                         mdt_arena *a, const char **response_json, mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_client_rec rec;
    mdt_cred_rec cr;
    json_t *doc;
    mdt_rc rc;

    *response_json = NULL;
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)) != MDT_OK)
        return rc;
    rc = mdt_iga__cred_of(env, rec.client_id, key_id, a, &cr, err);
    if (rc == MDT_OK && mdt_cred_type_from_name(cr.type) != MDT_CRED_API_KEY)
        rc = MDT_ERR_NOT_FOUND;
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown API key", "client %.64s has no API key %.64s",
                         rec.client_id, key_id);
    if (rc != MDT_OK || (rc = mdt_iga__cred_expire(env, &rec, &cr, now, now, err)) != MDT_OK ||
        (rc = audit_key(ctx, "client.apikey_revoked", &cr, err)) != MDT_OK)
        return rc;
    doc = json_pack("{s:s, s:s, s:o}", "client_id", rec.client_id, "key_id", cr.id, "expires_at",
                    mdt_iga__time_json(cr.expires_at));
    if (!doc)
        return nomem(err);
    rc = mdt_iga__dump(doc, a, response_json, err);
    json_decref(doc);
    return rc;
}
