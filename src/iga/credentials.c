#include "iga/credentials.h"

#include <jansson.h>
#include <string.h>

#include "core/clock.h"
#include "core/hash.h"
#include "iga/internal.h"
#include "iga/secret.h"
#include "jose/jwk.h"

/* The RFC 8705 binding fields and the name prefix of each. */
static const struct {
    const char *field, *prefix;
} bindings[] = {
    {"tls_client_auth_subject_dn", "subject_dn="}, {"tls_client_auth_san_dns", "san_dns="},
    {"tls_client_auth_san_uri", "san_uri="},       {"tls_client_auth_san_ip", "san_ip="},
    {"tls_client_auth_san_email", "san_email="},
};

static mdt_rc nomem(mdt_err *err)
{
    return mdt_iga__nomem(err);
}

/* ---------------------------------------------------------------------
 * Liveness.
 * --------------------------------------------------------------------- */

bool mdt_cred_live(const mdt_cred_rec *c, int64_t now)
{
    return c && (c->expires_at == 0 || c->expires_at > now);
}

bool mdt_iga__secret_live(const mdt_cred_rec *cr, int64_t now)
{
    return mdt_cred_type_from_name(cr->type) == MDT_CRED_SECRET && mdt_cred_live(cr, now);
}

/* ---------------------------------------------------------------------
 * Derivation from metadata.
 * --------------------------------------------------------------------- */

void mdt_cred_name_hash(const char *name, uint8_t out[MDT_HASH_LEN])
{
    mdt_sha256(name, strlen(name), out);
}

mdt_rc mdt_cred_workload_hash(const char *issuer, const char *subject,
                              uint8_t out[MDT_HASH_LEN], mdt_err *err)
{
    mdt_buf b;

    mdt_buf_init(&b, 0);
    if (mdt_buf_adds(&b, issuer) != MDT_OK || mdt_buf_add(&b, "\n", 1) != MDT_OK ||
        mdt_buf_adds(&b, subject) != MDT_OK) {
        mdt_buf_free(&b);
        return nomem(err);
    }
    mdt_sha256(b.data, b.len, out);
    mdt_buf_free(&b);
    return MDT_OK;
}

typedef struct {
    mdt_arena *a;
    mdt_cred_rec *rows;
    size_t n;
} derived;

static mdt_cred_rec *next_row(derived *d, const char *type)
{
    mdt_cred_rec *r;

    if (d->n >= MDT_CRED_DERIVED_MAX)
        return NULL;
    r = &d->rows[d->n++];
    memset(r, 0, sizeof(*r));
    r->type = type;
    return r;
}

static mdt_rc derive_key(derived *d, json_t *key, mdt_err *err)
{
    char *text = json_dumps(key, JSON_COMPACT);
    mdt_jwk *jwk = NULL;
    mdt_cred_rec *r = next_row(d, mdt_cred_type_name(MDT_CRED_JWK));
    mdt_rc rc;

    if (!text || !r) {
        free(text);
        return text ? mdt_fail(err, MDT_ERR_INTERNAL, "too many derived credentials") : nomem(err);
    }
    rc = mdt_jwk_from_json(text, strlen(text), &jwk, err);
    free(text);
    if (rc == MDT_OK && (rc = mdt_jwk_thumbprint(jwk, r->hash, err)) == MDT_OK &&
        !(r->name = mdt_arena_strdup(d->a, mdt_jwk_kid(jwk))))
        rc = nomem(err);
    mdt_jwk_free(jwk);
    return rc;
}

/* A row named by name, hashed by mdt_cred_name_hash. */
static mdt_rc derive_named(derived *d, const char *type, const char *name, mdt_err *err)
{
    mdt_cred_rec *r = next_row(d, type);

    if (!r)
        return mdt_fail(err, MDT_ERR_INTERNAL, "too many derived credentials");
    if (!name || !(r->name = mdt_arena_strdup(d->a, name)))
        return nomem(err);
    mdt_cred_name_hash(r->name, r->hash);
    return MDT_OK;
}

static mdt_rc derive_workload(derived *d, json_t *w, mdt_err *err)
{
    const char *iss = json_string_value(json_object_get(w, "issuer"));
    const char *sub = json_string_value(json_object_get(w, "subject"));
    mdt_cred_rec *r;

    if (!iss || !sub)
        return mdt_fail(err, MDT_ERR_STORE, "stored workload_identity is corrupt");
    if (!(r = next_row(d, mdt_cred_type_name(MDT_CRED_WORKLOAD))))
        return mdt_fail(err, MDT_ERR_INTERNAL, "too many derived credentials");
    if (!(r->name = mdt_arena_printf(d->a, "%s %s", iss, sub)))
        return nomem(err);
    return mdt_cred_workload_hash(iss, sub, r->hash, err);
}

static mdt_rc derive_obj(derived *d, json_t *m, mdt_err *err)
{
    json_t *keys = json_object_get(json_object_get(m, "jwks"), "keys"), *k, *v;
    const char *uri = json_string_value(json_object_get(m, "jwks_uri"));
    size_t i;
    mdt_rc rc = MDT_OK;

    json_array_foreach(keys, i, k) {
        if ((rc = derive_key(d, k, err)) != MDT_OK)
            return rc;
    }
    if (uri && (rc = derive_named(d, mdt_cred_type_name(MDT_CRED_JWK), uri, err)) != MDT_OK)
        return rc;
    for (i = 0; i < MDT_ARRAY_LEN(bindings); i++) {
        const char *val = json_string_value(json_object_get(m, bindings[i].field));
        if (val && (rc = derive_named(d, mdt_cred_type_name(MDT_CRED_CERTIFICATE),
                                      mdt_arena_printf(d->a, "%s%s", bindings[i].prefix, val),
                                      err)) != MDT_OK)
            return rc;
    }
    if ((v = json_object_get(m, "workload_identity")) && json_is_object(v))
        rc = derive_workload(d, v, err);
    return rc;
}

mdt_rc mdt_creds_derive(const char *metadata, mdt_arena *a, mdt_cred_rec **out, size_t *n,
                        mdt_err *err)
{
    derived d = {.a = a};
    json_t *m = json_loads(metadata, 0, NULL);
    mdt_rc rc;

    *out = NULL;
    *n = 0;
    if (!json_is_object(m)) {
        json_decref(m);
        return mdt_fail(err, MDT_ERR_STORE, "client metadata is not a JSON object");
    }
    if (!(d.rows = mdt_arena_alloc(a, MDT_CRED_DERIVED_MAX * sizeof(*d.rows))))
        rc = nomem(err);
    else
        rc = derive_obj(&d, m, err);
    json_decref(m);
    if (rc != MDT_OK)
        return rc;
    *out = d.rows;
    *n = d.n;
    return MDT_OK;
}

static bool is_derived(const char *type)
{
    switch (mdt_cred_type_from_name(type)) {
    case MDT_CRED_JWK:
    case MDT_CRED_CERTIFICATE:
    case MDT_CRED_WORKLOAD:
        return true;
    case MDT_CRED_TYPE_UNKNOWN:
    case MDT_CRED_SECRET:
    case MDT_CRED_API_KEY:
    case MDT_CRED_REGISTRATION:
        break;
    }
    return false;
}

static bool same_row(const mdt_cred_rec *x, const mdt_cred_rec *y)
{
    return mdt_str_eq(x->type, y->type) && mdt_str_eq(x->name, y->name) &&
           memcmp(x->hash, y->hash, MDT_HASH_LEN) == 0;
}

/* Index of the row of set[] that matches r, or n. */
static size_t find_row(const mdt_cred_rec *set, size_t n, const mdt_cred_rec *r)
{
    size_t i = 0;

    while (i < n && !(is_derived(set[i].type) && same_row(&set[i], r)))
        i++;
    return i;
}

mdt_rc mdt_creds_plan(const mdt_rng *rng, const char *client_id, const mdt_cred_rec *have,
                      size_t nhave, const mdt_cred_rec *want, size_t nwant, int64_t now,
                      mdt_arena *a, mdt_cred_plan *out, mdt_err *err)
{
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    out->cap_add = nwant + nhave + 1;
    out->cap_del = nhave ? nhave : 1;
    out->add = mdt_arena_alloc(a, out->cap_add * sizeof(*out->add));
    out->del = mdt_arena_alloc(a, out->cap_del * sizeof(*out->del));
    if (!out->add || !out->del)
        return nomem(err);
    for (size_t i = 0; i < nhave; i++)
        if (is_derived(have[i].type) && find_row(want, nwant, &have[i]) == nwant)
            out->del[out->ndel++] = have[i].id;
    for (size_t i = 0; i < nwant; i++) {
        mdt_cred_rec *r;
        if (find_row(have, nhave, &want[i]) < nhave || find_row(want, i, &want[i]) < i)
            continue; /* kept, or the same key listed twice */
        r = &out->add[out->nadd++];
        *r = want[i];
        r->client_id = client_id;
        r->created_at = now;
        if ((rc = mdt_iga__cred_id(rng, a, &r->id, err)) != MDT_OK)
            return rc;
    }
    return MDT_OK;
}

/* ---------------------------------------------------------------------
 * Shared by the service operations of src/iga/.
 * --------------------------------------------------------------------- */

mdt_rc mdt_iga__cred_id(const mdt_rng *rng, mdt_arena *a, const char **out, mdt_err *err)
{
    return mdt_random_id(rng, "cred_", MDT_CRED_ID_BYTES, a, out, err);
}

mdt_rc mdt_iga__cred_of(mdt_env *env, const char *client_id, const char *cred_id, mdt_arena *a,
                        mdt_cred_rec *out, mdt_err *err)
{
    mdt_rc rc = mdt_store_cred_get(env->store, cred_id, a, out, err);

    if (rc == MDT_OK && !mdt_str_eq(out->client_id, client_id))
        rc = MDT_ERR_NOT_FOUND;
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown credential", "client %.64s has no credential %.64s",
                         client_id, cred_id);
    return rc;
}

mdt_rc mdt_iga__cred_expire(mdt_env *env, mdt_client_rec *rec, mdt_cred_rec *cr, int64_t at,
                            int64_t now, mdt_err *err)
{
    const char *del[1] = {cr->id};

    if (cr->expires_at && cr->expires_at <= at)
        return MDT_OK; /* already expires earlier: never extended here */
    cr->expires_at = at;
    rec->updated_at = now;
    /* one transaction: the row is deleted and inserted again with the new
     * expiry, keeping its id, hash, name and times */
    return mdt_store_client_update_creds(env->store, rec, cr, 1, del, 1, err);
}

void *mdt_iga__cred_json(const mdt_cred_rec *cr)
{
    json_t *o = json_pack("{s:s, s:s}", "id", cr->id, "type", cr->type);

    if (o && cr->name && cr->name[0] &&
        json_object_set_new(o, "name", json_string(cr->name)) != 0) {
        json_decref(o);
        return NULL;
    }
    if (o && (json_object_set_new(o, "created_at", mdt_iga__time_json(cr->created_at)) != 0 ||
              json_object_set_new(o, "expires_at", mdt_iga__time_json(cr->expires_at)) != 0 ||
              json_object_set_new(o, "last_used_at", mdt_iga__time_json(cr->last_used_at)) != 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---------------------------------------------------------------------
 * mandate client credential expire
 * --------------------------------------------------------------------- */

static json_t *expired_doc(const char *client_id, const mdt_cred_rec *cr)
{
    json_t *o = json_pack("{s:s}", "client_id", client_id), *c = mdt_iga__cred_json(cr);

    if (!o || !c || json_object_update(o, c) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(c);
    return o;
}

static mdt_rc audit_expired(mdt_ctx *ctx, const mdt_cred_rec *cr, int64_t in, mdt_err *err)
{
    char at[21];
    json_t *d;
    char *text;
    mdt_rc rc;

    mdt_time_format(cr->expires_at, at);
    d = json_pack("{s:s, s:s, s:s, s:I}", "credential_id", cr->id, "type", cr->type,
                  "expires_at", at, "in", (json_int_t)in);
    text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (!text)
        return nomem(err);
    rc = mdt_iga__audit(ctx, "client.credential_expired", cr->client_id, text, err);
    free(text);
    return rc;
}

mdt_rc mdt_client_credential_expire(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                                    const char *cred_id, int64_t in, mdt_arena *a,
                                    const char **response_json, mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_client_rec rec;
    mdt_cred_rec cr;
    json_t *doc;
    mdt_rc rc;

    *response_json = NULL;
    if (in < 0 || in > INT64_MAX / 2)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the delay must be a non-negative duration");
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)) != MDT_OK ||
        (rc = mdt_iga__cred_of(env, rec.client_id, cred_id, a, &cr, err)) != MDT_OK ||
        (rc = mdt_iga__cred_expire(env, &rec, &cr, now + in, now, err)) != MDT_OK ||
        (rc = audit_expired(ctx, &cr, in, err)) != MDT_OK)
        return rc;
    doc = expired_doc(rec.client_id, &cr);
    if (!doc)
        return nomem(err);
    rc = mdt_iga__dump(doc, a, response_json, err);
    json_decref(doc);
    return rc;
}
