/* Credentials derived from client metadata, and what authentication code
 * needs of credential rows.
 *
 * A client's metadata implies credentials (SPEC §1), kept as rows beside
 * the generated ones (secrets, API keys) so that each has an id, times and
 * can be retired on its own (mdt_client_credential_expire):
 *
 *   type         from                          name                      hash
 *   jwk          each key of `jwks`            its kid (default: the     RFC 7638 thumbprint
 *                                              base64url thumbprint)
 *   jwk          `jwks_uri`                    the URI                   SHA-256(URI)
 *   certificate  tls_client_auth_subject_dn,   "subject_dn=<value>",     SHA-256(name)
 *                _san_dns, _san_uri, _san_ip,  "san_dns=<value>", ...
 *                _san_email
 *   workload     workload_identity             issuer " " subject        SHA-256(issuer "\n" subject)
 *
 * The rows are written in the transaction that writes the metadata (create
 * and update; the derivation and the plan of changes are internal to
 * src/iga/, internal.h); a row whose (type, name, hash) stays registered keeps its id,
 * created_at, expires_at and last_used_at. Removing the metadata removes the
 * row. Authentication code finds a row with mdt_client_cred_find (or, for a
 * workload identity, mdt_store_cred_find by mdt_cred_workload_hash) and must
 * refuse it unless mdt_cred_live.
 *
 * Memory: everything returned lives in the caller's arena. */
#ifndef MDT_IGA_CREDENTIALS_H
#define MDT_IGA_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "store/store.h"

#define MDT_CLIENT_JWKS_MAX 10 /* keys in a registered jwks */

/* True when c has not expired at now (expires_at 0 or later than now).
 * Type-agnostic: the caller checks the type. Every check of a credential
 * (secret, API key, registered key, certificate binding, workload identity)
 * must refuse a credential for which this is false. */
bool mdt_cred_live(const mdt_cred_rec *c, int64_t now);

/* SHA-256 of issuer "\n" subject: the hash of a workload credential.
 * MDT_ERR_NOMEM only. */
mdt_rc mdt_cred_workload_hash(const char *issuer, const char *subject, uint8_t out[MDT_HASH_LEN],
                              mdt_err *err) MDT_WARN_UNUSED;
/* SHA-256 of a name ("subject_dn=CN=agent,O=Example", a jwks_uri). */
void mdt_cred_name_hash(const char *name, uint8_t out[MDT_HASH_LEN]);

#endif
