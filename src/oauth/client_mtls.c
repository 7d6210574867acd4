/* RFC 8705 mutual-TLS client authentication (§2.1 tls_client_auth, §2.2
 * self_signed_tls_client_auth) and certificate-bound access tokens (§3).
 *
 * The certificate comes from msg/client_cert.h (the TLS connection, or a
 * trusted proxy's X-Client-Cert). The TLS layer accepts any certificate: the
 * decision is made here, per client, at the request's injected time:
 *   tls_client_auth              chain to [server] tls_client_ca (verified
 *                                with OpenSSL, for forwarded certificates
 *                                too) and the registered subject DN or SAN;
 *   self_signed_tls_client_auth  the certificate's key is in the client's
 *                                registered jwks, and its dates are valid.
 * Every failure is the uniform invalid_client with the reason in the detail. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "iga/credentials.h"
#include "jose/x509.h"
#include "msg/client_cert.h"
#include "oauth/client_auth.h"
#include "oauth/jwks_cache.h"

/* The CA bundle of [server] tls_client_ca, read once: a documented cache,
 * read again only if the path differs. Callers take a reference. */
static struct {
    pthread_mutex_t mu;
    char *path;
    mdt_x509_trust *trust;
} ca_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

static mdt_rc client_ca(const char *path, mdt_x509_trust **out, mdt_err *err)
{
    mdt_x509_trust *t = NULL;
    char *p = NULL;
    mdt_rc rc = MDT_OK;

    *out = NULL;
    pthread_mutex_lock(&ca_cache.mu);
    if (!ca_cache.trust || strcmp(ca_cache.path, path) != 0) {
        if (!(p = mdt_strdup(path)))
            rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        else
            rc = mdt_x509_trust_from_file(path, &t, err);
        if (rc == MDT_OK) {
            mdt_x509_trust_free(ca_cache.trust);
            free(ca_cache.path);
            ca_cache.trust = t;
            ca_cache.path = p;
            p = NULL;
        }
        free(p);
    }
    if (rc == MDT_OK)
        *out = mdt_x509_trust_ref(ca_cache.trust);
    pthread_mutex_unlock(&ca_cache.mu);
    if (rc == MDT_ERR_CONFIG) /* the server's fault, not the client's */
        return mdt_failf(err, MDT_ERR_INTERNAL, "server misconfigured", "[server] tls_client_ca: %s",
                         err ? err->detail : "unreadable");
    return rc;
}

/* The certificates of the request, the leaf parsed. MDT_ERR_NOT_FOUND
 * when there is none; any other failure is the uniform invalid_client. */
static mdt_rc presented_leaf(mdt_env *env, mdt_req *req, mdt_der certs[MDT_X509_CHAIN_MAX],
                             size_t *n, mdt_x509 **leaf, mdt_err *err)
{
    mdt_err e = {0};
    mdt_rc rc = mdt_req_client_certs(env, req, certs, n, &e);

    *leaf = NULL;
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_fail(err, rc, "no client certificate presented");
    if (rc == MDT_ERR_INVALID_CLIENT)
        return mdt_client_auth_fail(err, "%s", e.detail);
    if (rc != MDT_OK) {
        if (err)
            *err = e;
        return rc;
    }
    if ((rc = mdt_x509_parse(certs[0].der, certs[0].len, leaf, &e)) == MDT_ERR_NOMEM)
        return mdt_fail(err, rc, "out of memory");
    if (rc != MDT_OK)
        return mdt_client_auth_fail(err, "client certificate: %s", mdt_err_text(&e));
    return MDT_OK;
}

/* The certificate's subject for an audit reason. */
static const char *subject_of(const mdt_x509 *leaf, mdt_arena *a)
{
    const char *s = mdt_x509_subject(leaf, a);
    return s ? s : "?";
}

/* The one registered subject of a tls_client_auth client (metadata
 * validation allows exactly one): a DN (*is_dn) or a SAN of type *san. */
static const char *registered_subject(const mdt_client *c, mdt_san_type *san, bool *is_dn)
{
    *is_dn = false;
    if (c->tls_subject_dn) {
        *is_dn = true;
        return c->tls_subject_dn;
    }
    *san = c->tls_san_dns ? MDT_SAN_DNS : c->tls_san_uri ? MDT_SAN_URI
         : c->tls_san_ip ? MDT_SAN_IP : MDT_SAN_EMAIL;
    return c->tls_san_dns ? c->tls_san_dns : c->tls_san_uri ? c->tls_san_uri
         : c->tls_san_ip ? c->tls_san_ip : c->tls_san_email;
}

/* The client's credential row of this type and hash (iga/credentials.h),
 * if any: one that has expired refuses; a live one is recorded as used;
 * none (a client registered before rows existed) leaves *cred_id NULL. */
static mdt_rc check_cred(mdt_env *env, mdt_req *req, const mdt_client *c, const char *type,
                         const uint8_t hash[MDT_HASH_LEN], const char **cred_id, mdt_err *err)
{
    const mdt_cred_rec *r = mdt_client_cred_find(c, type, hash);

    *cred_id = NULL;
    if (!r)
        return MDT_OK;
    if (!mdt_cred_live(r, req->now))
        return mdt_client_auth_fail(err, "%s credential %s has expired", type, r->id);
    mdt_client_cred_used(env, c, r, req->now);
    *cred_id = r->id;
    return MDT_OK;
}

static mdt_rc match_subject(mdt_env *env, mdt_req *req, const mdt_client *c,
                            const mdt_x509 *leaf, const char **cred_id, mdt_err *err)
{
    static const char *const san_names[] = {"san_dns", "san_uri", "san_ip", "san_email"};
    mdt_san_type san = MDT_SAN_DNS;
    bool is_dn;
    const char *want = registered_subject(c, &san, &is_dn);
    const char *field = is_dn ? "subject_dn" : san_names[san], *name;
    uint8_t hash[MDT_HASH_LEN];
    mdt_err e = {0};
    mdt_rc rc;

    if (!want)
        return mdt_client_auth_fail(err, "no tls_client_auth subject registered");
    rc = is_dn ? mdt_x509_dn_match(leaf, want, &e) : mdt_x509_san_match(leaf, san, want, &e);
    if (rc == MDT_ERR_NOMEM)
        return mdt_fail(err, rc, "out of memory");
    if (rc == MDT_ERR_VERIFY)
        return mdt_client_auth_fail(err, "certificate '%.80s' does not match tls_client_auth_%s "
                                         "'%.60s'",
                                    subject_of(leaf, req->arena), field, want);
    if (rc != MDT_OK)
        return mdt_client_auth_fail(err, "registered tls_client_auth_%s unusable: %s", field,
                                    mdt_err_text(&e));
    if (!(name = mdt_arena_printf(req->arena, "%s=%s", field, want)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_cred_name_hash(name, hash);
    return check_cred(env, req, c, "certificate", hash, cred_id, err);
}

/* §2.1: the chain to tls_client_ca, then the registered subject. */
static mdt_rc by_pki(mdt_env *env, mdt_req *req, const mdt_client *c, const mdt_x509 *leaf,
                     const mdt_der *chain, size_t n, const char **cred_id, mdt_err *err)
{
    mdt_x509_trust *ca = NULL;
    mdt_err e = {0};
    mdt_rc rc;

    if (!env->cfg.tls_client_ca || !env->cfg.tls_client_ca[0])
        return mdt_client_auth_fail(err, "tls_client_auth needs [server] tls_client_ca");
    if ((rc = client_ca(env->cfg.tls_client_ca, &ca, err)) != MDT_OK)
        return rc;
    rc = mdt_x509_verify(ca, leaf, chain, n, req->now, &e);
    mdt_x509_trust_free(ca);
    if (rc == MDT_ERR_VERIFY || rc == MDT_ERR_INVALID_REQUEST)
        return mdt_client_auth_fail(err, "certificate '%.80s' not trusted: %s",
                                    subject_of(leaf, req->arena), mdt_err_text(&e));
    if (rc != MDT_OK) {
        if (err)
            *err = e;
        return rc;
    }
    return match_subject(env, req, c, leaf, cred_id, err);
}

/* Whether the certificate's key is published at the client's jwks_uri; an
 * unknown key makes the cache fetch again (at most once per interval). */
static mdt_rc key_at_uri(mdt_env *env, mdt_req *req, const char *uri, const mdt_x509 *leaf,
                         mdt_err *err)
{
    uint8_t thumb[32];
    mdt_keyset *ks = NULL;
    mdt_err e = {0};
    bool found = false;
    mdt_rc rc;

    if ((rc = mdt_x509_key_thumbprint(leaf, thumb, &e)) != MDT_OK)
        return mdt_client_auth_fail(err, "certificate key: %s", mdt_err_text(&e));
    for (int refresh = 0; refresh < 2 && !found; refresh++) {
        if ((rc = mdt_jwks_cache_get(env->jwks, uri, req->now, refresh, req->waiter, &ks, &e)) != MDT_OK)
            return mdt_client_auth_fail(err, "jwks_uri: %s", mdt_err_text(&e));
        found = mdt_keyset_has_thumbprint(ks, thumb);
        mdt_keyset_unref(ks);
    }
    return found ? MDT_OK
                 : mdt_client_auth_fail(err, "certificate key is not in the client's jwks_uri");
}

/* §2.2: a key registered in jwks (or published at jwks_uri); the
 * certificate's dates; no chain. */
static mdt_rc by_self_signed(mdt_env *env, mdt_req *req, const mdt_client *c,
                             const mdt_x509 *leaf, const char **cred_id, mdt_err *err)
{
    uint8_t thumb[32];
    mdt_err e = {0};
    mdt_rc rc;

    if ((rc = mdt_x509_check_time(leaf, req->now, &e)) != MDT_OK)
        return mdt_client_auth_fail(err, "%s", mdt_err_text(&e));
    if (!c->jwks && c->jwks_uri) {
        if ((rc = key_at_uri(env, req, c->jwks_uri, leaf, err)) != MDT_OK)
            return rc;
        mdt_cred_name_hash(c->jwks_uri, thumb);
        return check_cred(env, req, c, "jwk", thumb, cred_id, err);
    }
    if (!c->jwks)
        return mdt_client_auth_fail(err, "self_signed_tls_client_auth needs a registered jwks");
    rc = mdt_x509_key_in_jwks(leaf, c->jwks, req->arena, NULL, thumb, &e);
    if (rc == MDT_ERR_NOMEM)
        return mdt_fail(err, rc, "out of memory");
    if (rc != MDT_OK)
        return mdt_client_auth_fail(err, "certificate key is not in the client's jwks: %s",
                                    mdt_err_text(&e));
    return check_cred(env, req, c, "jwk", thumb, cred_id, err);
}

static const char *thumbprint(mdt_arena *a, const mdt_der *der)
{
    char *t = mdt_arena_alloc(a, MDT_X5T_LEN + 1);

    if (t)
        mdt_x509_thumbprint(der->der, der->len, t);
    return t;
}

mdt_rc mdt_client_auth_certificate(mdt_env *env, mdt_req *req, const char *client_id,
                                   mdt_client_authn *out, mdt_err *err)
{
    mdt_rc rc;

    if (!client_id || !*client_id)
        return mdt_client_auth_fail(err, "client certificate without client_id");
    rc = mdt_client_load(env, client_id, req->now, req->arena, &out->client, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "unknown client");
    if (rc != MDT_OK)
        return rc;
    return mdt_client_auth_certificate_as(env, req, out, err);
}

mdt_rc mdt_client_auth_certificate_as(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                                      mdt_err *err)
{
    mdt_der certs[MDT_X509_CHAIN_MAX];
    size_t n = 0;
    mdt_x509 *leaf = NULL;
    const char *method = out->client.auth_method;
    mdt_rc rc;

    if (!mdt_auth_method_presented_as(method, MDT_PRESENT_CERTIFICATE))
        return mdt_client_auth_fail(err, "client registered for %s, presented a client certificate",
                                    method);
    rc = presented_leaf(env, req, certs, &n, &leaf, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "no client certificate presented");
    if (rc != MDT_OK)
        return rc;
    if (mdt_str_eq(method, "tls_client_auth"))
        rc = by_pki(env, req, &out->client, leaf, certs + 1, n - 1, &out->cred_id, err);
    else
        rc = by_self_signed(env, req, &out->client, leaf, &out->cred_id, err);
    mdt_x509_free(leaf);
    if (rc != MDT_OK)
        return rc;
    out->method = method;
    if (!(out->cert_thumbprint = thumbprint(req->arena, &certs[0])))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

mdt_rc mdt_client_cert_binding(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               const char **x5t, mdt_err *err)
{
    mdt_der certs[MDT_X509_CHAIN_MAX];
    size_t n = 0;
    mdt_x509 *leaf = NULL;
    mdt_rc rc;

    *x5t = NULL;
    if (!who->client.cert_bound_tokens)
        return MDT_OK;
    if (who->cert_thumbprint) {
        *x5t = who->cert_thumbprint;
        return MDT_OK;
    }
    rc = presented_leaf(env, req, certs, &n, &leaf, err);
    if (rc == MDT_ERR_NOT_FOUND) /* RFC 8705 §3.4: the server's choice; we refuse */
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "certificate-bound access tokens need a client certificate (mutual TLS)");
    if (rc != MDT_OK)
        return rc;
    mdt_x509_free(leaf);
    if (!(*x5t = thumbprint(req->arena, &certs[0])))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}
