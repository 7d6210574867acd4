/* Software statements (see software_statement.h). The statement is parsed
 * as an RFC 7523 assertion (same size bound, same JWS parser), but its
 * rules are RFC 7591's: no audience, subject or jti are required, and exp
 * is optional (a publisher may issue long-lived statements). */
#include "oauth/software_statement.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oauth/assertion.h"
#include "oauth/jwks_cache.h"
#include "oauth/trust.h"

#define MSG_INVALID "invalid software statement"
#define MSG_UNAPPROVED "software statement from an untrusted publisher"

/* Members a statement never sets or that only describe the JWT itself. */
static const char *const dropped[] = {
    "iss", "sub", "aud", "iat", "exp", "nbf", "jti",
    "client_id", "client_secret", "client_secret_expires_at", "client_id_issued_at", "status",
    "software_statement", "registration_access_token", "registration_client_uri",
};

static bool is_dropped(const char *k)
{
    if (strncmp(k, "registration_", 13) == 0)
        return true;
    for (size_t i = 0; i < MDT_ARRAY_LEN(dropped); i++)
        if (strcmp(k, dropped[i]) == 0)
            return true;
    return false;
}

static mdt_rc invalid(mdt_err *err, const char *why, const char *more)
{
    return mdt_failf(err, MDT_ERR_INVALID_SOFTWARE_STATEMENT, MSG_INVALID, "software statement: %s%s",
                     why, more ? more : "");
}

/* exp, nbf and iat, each only when present, with the assertions' leeway. */
static mdt_rc check_times(const mdt_assertion *s, int64_t now, mdt_err *err)
{
    const int64_t skew = MDT_ASSERTION_LEEWAY;

    if (s->exp && s->exp <= now - skew)
        return invalid(err, "expired", NULL);
    if (s->nbf && s->nbf > now + skew)
        return invalid(err, "not valid before nbf", NULL);
    if (s->iat && s->iat > now + skew)
        return invalid(err, "iat in the future", NULL);
    return MDT_OK;
}

/* The header's alg: asymmetric only, never "none" nor HMAC. */
static mdt_rc check_alg(const mdt_assertion *s, mdt_err *err)
{
    const char *alg = mdt_jws_alg(s->jws);
    mdt_alg parsed;

    if (mdt_alg_parse(alg, &parsed) != MDT_OK)
        return mdt_failf(err, MDT_ERR_INVALID_SOFTWARE_STATEMENT, MSG_INVALID,
                         "software statement: alg '%.32s' refused: asymmetric only", alg);
    return MDT_OK;
}

static mdt_rc check_signature(mdt_env *env, const mdt_assertion *s, const mdt_trusted_issuer *ti,
                              int64_t now, mdt_err *err)
{
    mdt_key_source src = {.uri = ti->jwks_uri, .fixed = ti->keys};
    uint8_t thumb[32];
    mdt_err verr = {0};
    mdt_rc rc = mdt_jwks_verify(env->jwks, s, &src, now, thumb, &verr);

    if (rc == MDT_OK)
        return MDT_OK;
    if (rc != MDT_ERR_VERIFY) {
        if (err)
            *err = verr;
        return rc;
    }
    return invalid(err, mdt_err_text(&verr), NULL);
}

/* The claims that become metadata, as JSON text in a. */
static mdt_rc kept_claims(const mdt_assertion *s, mdt_arena *a, const char **out, mdt_err *err)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    char *text = NULL;

    if (!o)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_object_foreach(s->claims, k, v) {
        if (!is_dropped(k) && json_object_set(o, k, v) != 0) {
            json_decref(o);
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        }
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *out = text ? mdt_arena_strdup(a, text) : NULL;
    free(text);
    return *out ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

static mdt_rc verify_parsed(mdt_env *env, const mdt_assertion *s, int64_t now, mdt_arena *a,
                            const char **claims, const char **issuer, mdt_err *err)
{
    const mdt_trusted_issuer *ti;
    mdt_rc rc;

    if (!s->iss || !*s->iss)
        return invalid(err, "iss missing", NULL);
    if (!(ti = mdt_trust_find(env->trust, MDT_TRUST_SOFTWARE_STATEMENT, s->iss)))
        return mdt_failf(err, MDT_ERR_UNAPPROVED_SOFTWARE_STATEMENT, MSG_UNAPPROVED,
                         "software statement from '%.100s', not a trusted publisher", s->iss);
    if ((rc = check_alg(s, err)) != MDT_OK || (rc = check_signature(env, s, ti, now, err)) != MDT_OK ||
        (rc = check_times(s, now, err)) != MDT_OK)
        return rc;
    if (!(*issuer = mdt_arena_strdup(a, ti->issuer)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return kept_claims(s, a, claims, err);
}

mdt_rc mdt_software_statement_verify(mdt_env *env, const char *jwt, int64_t now, mdt_arena *a,
                                     const char **claims, const char **issuer, mdt_err *err)
{
    mdt_assertion s;
    mdt_err perr = {0};
    size_t len = jwt ? strlen(jwt) : 0;
    mdt_rc rc;

    *claims = *issuer = NULL;
    if (!jwt || !*jwt)
        return invalid(err, "empty", NULL);
    if (len > MDT_SOFTWARE_STATEMENT_MAX)
        return mdt_failf(err, MDT_ERR_INVALID_SOFTWARE_STATEMENT, MSG_INVALID,
                         "software statement longer than %d bytes", MDT_SOFTWARE_STATEMENT_MAX);
    if (mdt_assertion_parse(jwt, len, &s, &perr) != MDT_OK)
        return invalid(err, "malformed: ", mdt_err_text(&perr));
    rc = verify_parsed(env, &s, now, a, claims, issuer, err);
    mdt_assertion_clear(&s);
    if (rc != MDT_OK)
        *claims = *issuer = NULL;
    return rc;
}
