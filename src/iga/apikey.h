/* API keys (SPEC §2.1, §3.2): long-lived credentials of a client that a
 * legacy caller exchanges at /token for a short-lived access token.
 *
 * A key is  "mdk_" <client_id> "." <key_id> "." <secret>  where key_id is
 * the id of its credential row ("cred_" + 16 base64url characters) and
 * secret 32 random bytes in base64url (43 characters). Neither an id nor a
 * secret can contain '.', so the key is split from the right; the client
 * and the key id it names make the lookup one cached read. Mandate stores
 * only the SHA-256 of the whole key (type "api_key") and compares it in
 * constant time. Any client may hold API keys, whatever its
 * token_endpoint_auth_method. Revoking a key sets its expires_at to now: it
 * stays listed by `client show`, expired.
 *
 * Memory: everything returned lives in the caller's arena; JSON texts that
 * hold a key should be wiped (mdt_wipe) by the caller once shown. */
#ifndef MDT_IGA_APIKEY_H
#define MDT_IGA_APIKEY_H

#include <stddef.h>
#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "iga/client.h"

#define MDT_APIKEY_PREFIX "mdk_"
#define MDT_APIKEY_CLIENT_ID_MAX 128 /* longest client_id a key can name */
#define MDT_APIKEY_MAX 256           /* longest key string considered */

/* Creates a key for the client, expiring expires_in seconds from now (0 =
 * never). Audited as client.apikey_created. *response_json:
 * {"key_id", "api_key", "expires_at"} (RFC 3339 or null); the key is shown
 * only there. MDT_ERR_NOT_FOUND for an unknown client. */
mdt_rc mdt_apikey_create(mdt_env *env, mdt_ctx *ctx, const char *client_id, int64_t expires_in,
                         mdt_arena *a, const char **response_json, mdt_err *err) MDT_WARN_UNUSED;
/* Expires the key now (or keeps an earlier expiry). Audited as
 * client.apikey_revoked. *response_json: {"client_id", "key_id",
 * "expires_at"}. MDT_ERR_NOT_FOUND when the client has no such API key. */
mdt_rc mdt_apikey_revoke(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *key_id,
                         mdt_arena *a, const char **response_json, mdt_err *err) MDT_WARN_UNUSED;

/* Splits a presented key into the client_id and key_id it names (copies in
 * a). MDT_ERR_INVALID_CLIENT ("client authentication failed") when it is
 * not shaped like a key. Nothing is looked up. */
mdt_rc mdt_apikey_parse(const char *key, mdt_arena *a, const char **client_id, const char **key_id,
                        mdt_err *err) MDT_WARN_UNUSED;
/* Authenticates a presented key at now: well formed, naming an existing
 * client that holds an API key credential of that id, the hash matching
 * (constant time), the credential live, the client usable. *out gets the
 * client (mdt_client_load), *cred_id the key id, *claimed_id (may be NULL)
 * the client the key names as soon as it parsed (for the audit log, also on
 * failure). Records the use (mdt_client_cred_used). Every failure is
 * MDT_ERR_INVALID_CLIENT with the same public message and the reason in
 * err->detail; store faults pass through. */
mdt_rc mdt_apikey_verify(mdt_env *env, const char *key, int64_t now, mdt_arena *a, mdt_client *out,
                         const char **cred_id, const char **claimed_id,
                         mdt_err *err) MDT_WARN_UNUSED;

#endif
