/* Software statements (RFC 7591 §2.3): signed JWTs from publishers trusted
 * by [registration] software_statement_issuers (the trusted issuers file of
 * kind MDT_TRUST_SOFTWARE_STATEMENT, oauth/trust.h, loaded when `serve`
 * starts). A verified statement's claims take precedence over the metadata
 * of the registration request, and its issuer vouches for the client. */
#ifndef MDT_OAUTH_SOFTWARE_STATEMENT_H
#define MDT_OAUTH_SOFTWARE_STATEMENT_H

#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"

#define MDT_SOFTWARE_STATEMENT_MAX 8192 /* bytes of a compact statement accepted */

/* Verifies a statement at now: its iss a trusted publisher, its signature
 * with a key of that publisher (asymmetric algorithms only: ES256, RS256,
 * PS256, EdDSA), its exp, nbf and iat when present (MDT_ASSERTION_LEEWAY of
 * clock skew), its size.
 * *claims: the statement's claims as JSON object text (in a) without the
 * JWT-only ones (iss, sub, aud, iat, exp, nbf, jti) and without those a
 * statement may never set (client_id, client_secret, client_secret_expires_at,
 * client_id_issued_at, status, software_statement, registration_*);
 * *issuer: the publisher (in a).
 * Uses env->trust and env->jwks (a publisher's jwks_uri goes through the
 * JWK Set cache).
 * Errors (RFC 7591 §3.2.2), with the reason in err->detail:
 *   MDT_ERR_UNAPPROVED_SOFTWARE_STATEMENT  iss missing from the trusted publishers
 *   MDT_ERR_INVALID_SOFTWARE_STATEMENT     malformed, too large, no iss, bad or
 *                                          symmetric/none signature, unknown key,
 *                                          expired or not yet valid
 *   server faults keep their rc. */
mdt_rc mdt_software_statement_verify(mdt_env *env, const char *jwt, int64_t now, mdt_arena *a,
                                     const char **claims, const char **issuer,
                                     mdt_err *err) MDT_WARN_UNUSED;

#endif
