/* Signing keys: the master key file, the key ring the server signs and
 * verifies with, and the publish-then-sign-then-retire rotation of SPEC §3.1.
 *
 * A rotation creates key K published at once, signing from
 * now + key_activation_delay; every older key stops signing when K starts
 * and stays published until MDT_MAX_TOKEN_TTL after that, so that every
 * token it signed can still be verified until it expires. */
#ifndef MDT_KEYS_KEYRING_H
#define MDT_KEYS_KEYRING_H

#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/mdt.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "jose/seal.h"

#define MDT_MAX_TOKEN_TTL 86400 /* no token Mandate signs lives longer */

/* Creates the master key file (mode 0600) when it does not exist. */
mdt_rc mdt_master_key_ensure(const char *path, const mdt_rng *rng, mdt_err *err) MDT_WARN_UNUSED;
/* Reads it; refuses a file readable by group or others. out is wiped by the caller. */
mdt_rc mdt_master_key_load(const char *path, uint8_t out[MDT_MASTER_KEY_LEN],
                           mdt_err *err) MDT_WARN_UNUSED;
/* The configured master key path (cfg master_key_file or <data_dir>/master.key). */
const char *mdt_master_key_path(const mdt_config *cfg, char *buf, size_t n);

/* Loads the master key and every key from the store. */
mdt_rc mdt_keyring_open(mdt_env *env, mdt_keyring **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_keyring_free(mdt_keyring *k);
/* Re-reads the store at most once a second (cheap when nothing changed). */
void mdt_keyring_maybe_refresh(mdt_keyring *k, int64_t now);
/* Re-reads the store now (SIGHUP). */
mdt_rc mdt_keyring_reload(mdt_keyring *k, mdt_err *err) MDT_WARN_UNUSED;
/* A 32-byte secret for purpose label (e.g. "dpop-nonce"), derived from the
 * master key (HMAC-SHA256): the same at every node that shares the master
 * key, and of no use to recover it or another label's secret. */
void mdt_keyring_derive(const mdt_keyring *k, const char *label, uint8_t out[MDT_MASTER_KEY_LEN]);
/* Signs payload with the key that signs at now; appends the compact JWS. */
mdt_rc mdt_keyring_sign(mdt_keyring *k, int64_t now, const char *typ, const char *payload,
                        size_t len, mdt_buf *out, mdt_err *err) MDT_WARN_UNUSED;
/* Verifies with the published key named by the JWS kid. MDT_ERR_VERIFY when
 * no such key is published or the signature fails. */
mdt_rc mdt_keyring_verify(mdt_keyring *k, int64_t now, const mdt_jws *jws,
                          mdt_err *err) MDT_WARN_UNUSED;
/* {"keys":[...]} of every key published at now. */
mdt_rc mdt_keyring_jwks(mdt_keyring *k, int64_t now, mdt_buf *out, mdt_err *err) MDT_WARN_UNUSED;
/* True when a key signs at now. */
bool mdt_keyring_ready(mdt_keyring *k, int64_t now);

/* Service operations for `mandate init` and `mandate keys`. */
/* Creates the first signing key when the store has none. */
mdt_rc mdt_keys_ensure_first(mdt_env *env, mdt_ctx *ctx, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_keys_rotate(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, const char **new_kid,
                       int64_t *activate_at, mdt_err *err) MDT_WARN_UNUSED;
/* JSON array of {kid, alg, status, created_at, activate_at, retire_at, expire_at};
 * status: next | active | retiring | expired. */
mdt_rc mdt_keys_list_json(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, const char **json,
                          mdt_err *err) MDT_WARN_UNUSED;

#endif
