/* PKCE (RFC 7636), S256 only: "plain" is refused (RFC 9700 §2.1.1).
 * Pure functions; nothing is allocated. */
#ifndef MDT_OAUTH_PKCE_H
#define MDT_OAUTH_PKCE_H

#include <stdbool.h>

#include "core/mdt.h"

#define MDT_PKCE_VERIFIER_MIN 43  /* RFC 7636 §4.1 */
#define MDT_PKCE_VERIFIER_MAX 128
#define MDT_PKCE_CHALLENGE_LEN 43 /* base64url of a SHA-256, without padding */

/* Whether v is 43 to 128 characters of the unreserved set [A-Za-z0-9-._~]. */
bool mdt_pkce_verifier_valid(const char *v);
/* Checks the authorization request's code_challenge and
 * code_challenge_method: both required, method "S256", challenge 43
 * base64url characters. MDT_ERR_INVALID_REQUEST with a public message. */
mdt_rc mdt_pkce_request_check(const char *challenge, const char *method,
                              mdt_err *err) MDT_WARN_UNUSED;
/* BASE64URL(SHA256(ASCII(verifier))) into out. */
void mdt_pkce_s256(const char *verifier, char out[MDT_PKCE_CHALLENGE_LEN + 1]);
/* Whether verifier is valid and its S256 equals challenge (constant time). */
bool mdt_pkce_verify(const char *verifier, const char *challenge);

#endif
