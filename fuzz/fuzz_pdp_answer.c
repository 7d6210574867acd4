/* An external PDP's answer (mdt_pdp__parse_answer), read as AuthZEN and as
 * OPA for one to four questions. Oracles: an answer refused leaves no
 * allow in any slot (a failure is never read as a permit), and an answer
 * accepted keeps at most MDT_PDP_MAX_REASONS reasons and errors, each at
 * most MDT_PDP_REASON_MAX bytes. */
#include <string.h>

#include "core/arena.h"
#include "fuzz.h"
#include "policy/pdp_wire.h"

#define FUZZ_TEXT_MAX 8192

static void check(const mdt_pdp_answer *a)
{
    if (a->nreasons > MDT_PDP_MAX_REASONS || a->nerrors > MDT_PDP_MAX_REASONS)
        __builtin_trap();
    for (size_t i = 0; i < a->nreasons; i++)
        if (strlen(a->reasons[i]) > MDT_PDP_REASON_MAX)
            __builtin_trap();
    for (size_t i = 0; i < a->nerrors; i++)
        if (strlen(a->errors[i]) > MDT_PDP_REASON_MAX)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mdt_pdp_mode modes[] = {MDT_PDP_AUTHZEN, MDT_PDP_OPA};
    mdt_pdp_answer out[4];
    mdt_arena a;

    if (size > FUZZ_TEXT_MAX)
        return 0;
    mdt_arena_init(&a, 4 * FUZZ_TEXT_MAX);
    for (size_t m = 0; m < 2; m++)
        for (size_t n = 1; n <= 4; n++) {
            mdt_err err = {0};
            mdt_rc rc;
            memset(out, 0xff, sizeof(out)); /* every slot "allow" before */
            rc = mdt_pdp__parse_answer(modes[m], (const char *)data, size, n, &a, out, &err);
            for (size_t i = 0; i < n; i++) {
                if (rc != MDT_OK && out[i].allow)
                    __builtin_trap();
                if (rc == MDT_OK)
                    check(&out[i]);
            }
            if (rc != MDT_OK && rc != MDT_ERR_UNAVAILABLE && rc != MDT_ERR_NOMEM)
                __builtin_trap();
        }
    mdt_arena_free(&a);
    return 0;
}
