/* Private to src/audit/: reading signed checkpoints (checkpoint.c) for the
 * verifier (verify.c). */
#ifndef MDT_AUDIT_CHECKPOINT_H
#define MDT_AUDIT_CHECKPOINT_H

#include "audit/audit.h"

/* What a checkpoint signs, and the SHA-256 of its JWS (what the next
 * checkpoint names as prev). */
typedef struct {
    int64_t n, seq, time;
    uint8_t head[MDT_HASH_LEN];
    uint8_t prev[MDT_HASH_LEN];
    uint8_t digest[MDT_HASH_LEN];
} mdt_audit__cp;

/* Verifies a compact JWS with signer (typ MDT_AUDIT_CHECKPOINT_TYP) and
 * reads its payload. MDT_ERR_VERIFY when the signature or the payload is
 * not a checkpoint's. */
mdt_rc mdt_audit__cp_open(const mdt_jwk *signer, const char *jws, mdt_audit__cp *out,
                          mdt_err *err) MDT_WARN_UNUSED;
/* Same, from an exported checkpoint (the JSON of
 * mdt_audit_checkpoint_export: its "jws" member is what counts). */
mdt_rc mdt_audit__cp_open_export(const mdt_jwk *signer, const char *json, mdt_audit__cp *out,
                                 mdt_err *err) MDT_WARN_UNUSED;

#endif
