/* DPoP proofs (RFC 9449 §4.3) and their htu normalisation: the first byte
 * picks the input (even: a DPoP header value, checked against an
 * expectation no proof can meet, so that every check up to htu runs and
 * nothing reaches the store; odd: a URL, normalised twice, which must give
 * the same result). */
#include <string.h>

#include "fuzz.h"
#include "oauth/dpop.h"

static int proof(const char *s, size_t n)
{
    static mdt_env env = {.cfg = {.dpop_max_age = 60, .dpop_nonce_rotation = 300}};
    const mdt_dpop_expect exp = {.htm = "POST", .htu = NULL, .access_token = "token"};
    char buf[MDT_DPOP_PROOF_MAX + 1];
    mdt_dpop_proof out;
    mdt_err err;

    if (n > MDT_DPOP_PROOF_MAX)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    env.clock = mdt_clock_system;
    if (mdt_dpop_check(&env, buf, &exp, &out, &err) == MDT_OK || out.jkt[0])
        __builtin_trap(); /* without an htu to match nothing passes, and nothing is left */
    if (err.rc != MDT_ERR_INVALID_DPOP_PROOF && !mdt_rc_is_server_fault(err.rc))
        __builtin_trap(); /* every fault of a proof is invalid_dpop_proof */
    return 0;
}

static int htu(const char *s, size_t n)
{
    char in[4096], once[4096], twice[4096];

    if (n >= sizeof(in))
        return 0;
    memcpy(in, s, n);
    in[n] = '\0';
    if (mdt_dpop_htu_normalise(in, once, sizeof(once)) &&
        (!mdt_dpop_htu_normalise(once, twice, sizeof(twice)) || strcmp(once, twice) != 0))
        __builtin_trap(); /* normalising is idempotent */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0)
        return proof((const char *)data + 1, size - 1);
    return htu((const char *)data + 1, size - 1);
}
