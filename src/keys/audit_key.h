/* The audit key file: the HMAC key of the audit chain and the Ed25519 key
 * that signs its checkpoints, kept beside the master key and never in the
 * database, so that who can write the database cannot recompute the chain
 * or forge a checkpoint.
 *
 * File format (mode 0600), two lines:
 *   line 1: the 32-byte chain key, base64url
 *   line 2: the checkpoint key, PKCS#8 DER of an Ed25519 private key, base64url */
#ifndef MDT_KEYS_AUDIT_KEY_H
#define MDT_KEYS_AUDIT_KEY_H

#include "app/ctx.h"
#include "app/env.h"
#include "audit/audit.h"

#define MDT_AUDIT_KEY_FILE_MAX 512

/* The configured path: [keys] audit_key_file, else audit.key in the
 * directory of the master key. */
const char *mdt_audit_key_path(const mdt_config *cfg, char *buf, size_t n);
/* Creates the file (mode 0600) with fresh keys; MDT_ERR_CONFLICT when it exists. */
mdt_rc mdt_audit_key_create(const char *path, const mdt_rng *rng, mdt_err *err) MDT_WARN_UNUSED;
/* Reads it; MDT_ERR_NOT_FOUND when it does not exist, MDT_ERR_CONFIG when
 * it is readable by others or malformed. *out freed with mdt_audit_keys_free. */
mdt_rc mdt_audit_key_load(const char *path, mdt_audit_keys **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_audit_keys_free(mdt_audit_keys *k); /* wipes; NULL-safe */

/* For `mandate init` and `serve`: creates the key file when missing (but
 * never for a log that is already keyed: its key must be restored), loads
 * it into env->audit_keys, keys the store's chain with it, and appends the
 * anchor event when the log has none (carrying an unkeyed chain over), with
 * ctx's actor. The anchor is part of the chain's structure, appended at
 * once by the audit module inside the transaction that checks for it, not
 * an event of the command recorded in ctx. */
mdt_rc mdt_audit_keys_setup(mdt_env *env, const mdt_ctx *ctx, mdt_err *err) MDT_WARN_UNUSED;
/* For every other command: loads the key file when it exists. */
mdt_rc mdt_audit_keys_open(mdt_env *env, mdt_err *err) MDT_WARN_UNUSED;

#endif
