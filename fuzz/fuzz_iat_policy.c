/* Initial access token policies (mdt_iat_policy_parse), as given to
 * `mandate iat create --policy` and the admin API. An accepted policy is
 * then applied (mdt_registration_decide) to a fixed registration request.
 * Oracles: the normalized text parses again to itself; a list is returned
 * exactly when its has_ flag is set; the decision never grants a grant
 * type or owner outside the policy. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "iga/iat.h"
#include "iga/registration.h"

#define NOW 1800000000LL

static bool listed(const char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

static void decide(const mdt_reg_policy *p, mdt_arena *a)
{
    static const char *const grants[] = {"client_credentials",
                                         "urn:ietf:params:oauth:grant-type:jwt-bearer"};
    static const char *const scopes[] = {"read", "write"};
    const mdt_reg_ask ask = {.grant_types = grants, .ngrant_types = 2, .scopes = scopes,
                             .nscopes = 2, .kind = "agent", .owner = "alice"};
    const mdt_reg_rules rules = {.unverified_scopes = "read", .unverified_grant_types =
                                 "client_credentials", .max_lifetime = 86400, .reduce = true,
                                 .policy = p, .since = NOW};
    mdt_reg_decision d;
    mdt_err err;

    if (mdt_registration_decide(&rules, &ask, a, &d, &err) != MDT_OK)
        return;
    for (size_t i = 0; p->has_grant_types && i < d.ngrant_types; i++)
        if (!listed(p->grant_types, p->ngrant_types, d.grant_types[i]))
            __builtin_trap(); /* a grant type outside the policy */
    if (p->owner && (!d.owner || strcmp(d.owner, p->owner) != 0))
        __builtin_trap(); /* the policy's owner is forced */
}

static void check(const mdt_reg_policy *p, const char *norm, mdt_arena *a)
{
    mdt_reg_policy again;
    const char *norm2 = NULL;
    mdt_err err;

    if ((!p->has_grant_types && p->ngrant_types) || (!p->has_scopes && p->nscopes) ||
        (!p->has_kinds && p->nkinds) || (p->has_grant_types && !p->ngrant_types) ||
        (p->has_kinds && !p->nkinds))
        __builtin_trap();
    if (mdt_iat_policy_parse(norm, a, &again, &norm2, &err) != MDT_OK || strcmp(norm, norm2) != 0 ||
        again.nscopes != p->nscopes || again.ngrant_types != p->ngrant_types ||
        again.nkinds != p->nkinds || !again.owner != !p->owner)
        __builtin_trap(); /* normalization is idempotent */
    decide(p, a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_reg_policy p;
    const char *norm = NULL;
    mdt_arena a;
    mdt_err err;
    char *s = malloc(size + 1);

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    mdt_arena_init(&a, 4096);
    if (mdt_iat_policy_parse(s, &a, &p, &norm, &err) == MDT_OK)
        check(&p, norm, &a);
    else if (err.rc != MDT_ERR_INVALID_REQUEST && err.rc != MDT_ERR_NOMEM)
        __builtin_trap();
    mdt_arena_free(&a);
    free(s);
    return 0;
}
