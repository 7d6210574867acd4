#include "oauth/pkce.h"

#include <string.h>

#include "core/b64.h"
#include "core/hash.h"

static bool unreserved(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

bool mdt_pkce_verifier_valid(const char *v)
{
    size_t n = v ? strnlen(v, MDT_PKCE_VERIFIER_MAX + 1) : 0;

    if (n < MDT_PKCE_VERIFIER_MIN || n > MDT_PKCE_VERIFIER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!unreserved(v[i]))
            return false;
    return true;
}

static bool b64url_char(char c)
{
    return unreserved(c) && c != '.' && c != '~';
}

mdt_rc mdt_pkce_request_check(const char *challenge, const char *method, mdt_err *err)
{
    if (!challenge || !*challenge)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "code_challenge is required (PKCE S256)");
    if (!method || !*method)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "code_challenge_method is required and must be S256");
    if (strcmp(method, "S256") != 0)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "code_challenge_method must be S256 (plain is not supported)");
    if (strnlen(challenge, MDT_PKCE_CHALLENGE_LEN + 1) != MDT_PKCE_CHALLENGE_LEN)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "code_challenge must be 43 characters");
    for (size_t i = 0; i < MDT_PKCE_CHALLENGE_LEN; i++)
        if (!b64url_char(challenge[i]))
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "code_challenge must be base64url");
    return MDT_OK;
}

void mdt_pkce_s256(const char *verifier, char out[MDT_PKCE_CHALLENGE_LEN + 1])
{
    uint8_t h[32];

    mdt_sha256(verifier, strlen(verifier), h);
    mdt_b64url_encode(h, sizeof(h), out);
    out[MDT_PKCE_CHALLENGE_LEN] = '\0';
}

bool mdt_pkce_verify(const char *verifier, const char *challenge)
{
    char c[MDT_PKCE_CHALLENGE_LEN + 1];

    if (!mdt_pkce_verifier_valid(verifier) || !challenge ||
        strlen(challenge) != MDT_PKCE_CHALLENGE_LEN)
        return false;
    mdt_pkce_s256(verifier, c);
    return mdt_ct_eq(c, MDT_PKCE_CHALLENGE_LEN, challenge, MDT_PKCE_CHALLENGE_LEN);
}
