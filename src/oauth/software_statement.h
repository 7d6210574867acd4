/* Software statements (RFC 7591 §2.3): signed JWTs from publishers trusted
 * by [registration] software_statement_issuers. */
#ifndef MDT_OAUTH_SOFTWARE_STATEMENT_H
#define MDT_OAUTH_SOFTWARE_STATEMENT_H

#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"

/* Verifies a statement: a publisher we trust (iss), its signature, its
 * times. *claims: the statement's claims as JSON object text (arena), minus
 * the JWT-only ones (iss, iat, exp, nbf, jti); *issuer: the publisher.
 * MDT_ERR_INVALID_CLIENT_METADATA with the RFC 7591 code
 * "invalid_software_statement" or "unapproved_software_statement" in the
 * public message's first word. */
mdt_rc mdt_software_statement_verify(mdt_env *env, const char *jwt, int64_t now, mdt_arena *a,
                                     const char **claims, const char **issuer,
                                     mdt_err *err) MDT_WARN_UNUSED;

#endif
