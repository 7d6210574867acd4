/* Audit checkpoints: an exported checkpoint file as given to
 * `mandate audit verify --checkpoint FILE`, and a checkpoint payload as
 * signed by the log's own key (so that the payload reader is reached). */
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "core/buf.h"
#include "fuzz.h"
#include "jose/jws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mdt_jwk *key;
    char *s = malloc(size + 1);
    mdt_audit__cp cp;
    mdt_buf jws;
    mdt_err err;

    if (!key && mdt_jwk_generate(MDT_ALG_EDDSA, &key, &err) != MDT_OK)
        abort();
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (mdt_audit__cp_open_export(key, s, &cp, &err) == MDT_OK) /* a forgery */
        __builtin_trap();
    mdt_buf_init(&jws, 1 << 16);
    if (mdt_jws_sign(key, MDT_AUDIT_CHECKPOINT_TYP, s, size, &jws, &err) == MDT_OK &&
        mdt_buf_add(&jws, "", 1) == MDT_OK &&
        mdt_audit__cp_open(key, jws.data, &cp, &err) == MDT_OK && (cp.n < 1 || cp.seq < 1))
        __builtin_trap();
    mdt_buf_free(&jws);
    free(s);
    return 0;
}
