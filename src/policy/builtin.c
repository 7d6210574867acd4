/* The shipped policies (policy/builtin.h). Each policies/NAME.cedar is
 * embedded by scripts/embed.sh as mdt_policy_text_NAME (dashes as
 * underscores); a new one is its file and one row below. */
#include <stdio.h>
#include <string.h>

#include "policy/builtin.h"

#define BUILTIN_NAME_MAX 64

#define TEXT(ident) extern const char mdt_policy_text_##ident[];
TEXT(baseline)
TEXT(business_hours)
TEXT(high_tier_shared_secret)
TEXT(request_burst)
#undef TEXT

#define ROW(name, ident) {name, mdt_policy_text_##ident}
static const mdt_policy_builtin builtins[] = {
    ROW("baseline", baseline),
    ROW("business-hours", business_hours),
    ROW("high-tier-shared-secret", high_tier_shared_secret),
    ROW("request-burst", request_burst),
};
#undef ROW

const mdt_policy_builtin *mdt_policy_builtins(size_t *n)
{
    *n = MDT_ARRAY_LEN(builtins);
    return builtins;
}

const mdt_policy_builtin *mdt_policy_builtin_find(const char *name, size_t len)
{
    size_t n;
    const mdt_policy_builtin *b = mdt_policy_builtins(&n);

    for (size_t i = 0; i < n; i++)
        if (strlen(b[i].name) == len && memcmp(b[i].name, name, len) == 0)
            return &b[i];
    return NULL;
}

mdt_rc mdt_policy_builtin_add(const mdt_config *cfg, mdt_cedar_set *s, mdt_err *err)
{
    const char *p = cfg->policy_builtin;
    mdt_rc rc = MDT_OK;

    while (p && *p && rc == MDT_OK) {
        const mdt_policy_builtin *b;
        char id[BUILTIN_NAME_MAX + 16];
        size_t n;

        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ",");
        while (n && p[n - 1] == ' ')
            n--;
        if (!n)
            break;
        if (!(b = mdt_policy_builtin_find(p, n)))
            return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                             "[policy] builtin names an unknown shipped policy",
                             "[policy] builtin: no shipped policy %.*s (there are baseline, "
                             "business-hours, high-tier-shared-secret, request-burst)",
                             (int)(n > BUILTIN_NAME_MAX ? BUILTIN_NAME_MAX : n), p);
        snprintf(id, sizeof(id), "mandate.%s", b->name);
        rc = mdt_cedar_set_add(s, b->text, strlen(b->text), id, err);
        p += strcspn(p, ",");
    }
    return rc;
}
