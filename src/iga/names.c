#include "iga/names.h"

#include <stddef.h>

#include "core/mdt.h"

/* One table per enum, indexed by the value; index 0 (UNKNOWN) has no name. */
static const char *const client_statuses[] = {
    [MDT_CLIENT_ACTIVE] = "active",       [MDT_CLIENT_PENDING] = "pending",
    [MDT_CLIENT_SUSPENDED] = "suspended", [MDT_CLIENT_EXPIRED] = "expired",
};
static const char *const client_kinds[] = {
    [MDT_CLIENT_KIND_AGENT] = "agent", [MDT_CLIENT_KIND_SERVICE] = "service",
    [MDT_CLIENT_KIND_WEB] = "web",     [MDT_CLIENT_KIND_NATIVE] = "native",
    [MDT_CLIENT_KIND_CLI] = "cli",
};
static const char *const cred_types[] = {
    [MDT_CRED_SECRET] = "secret",           [MDT_CRED_API_KEY] = "api_key",
    [MDT_CRED_JWK] = "jwk",                 [MDT_CRED_CERTIFICATE] = "certificate",
    [MDT_CRED_WORKLOAD] = "workload",       [MDT_CRED_REGISTRATION] = "registration",
};
static const char *const request_states[] = {
    [MDT_REQUEST_PENDING] = "pending", [MDT_REQUEST_APPROVED] = "approved",
    [MDT_REQUEST_DENIED] = "denied",   [MDT_REQUEST_EXPIRED] = "expired",
};

static const char *name_of(const char *const *names, size_t n, int v)
{
    return v > 0 && (size_t)v < n ? names[v] : NULL;
}

static int value_of(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 1; s && i < n; i++)
        if (mdt_str_eq(names[i], s))
            return (int)i;
    return 0;
}

#define NAMES(type, prefix, table)                                                                \
    const char *prefix##_name(type v)                                                             \
    {                                                                                             \
        return name_of(table, MDT_ARRAY_LEN(table), (int)v);                                      \
    }                                                                                             \
    type prefix##_from_name(const char *s)                                                        \
    {                                                                                             \
        return (type)value_of(table, MDT_ARRAY_LEN(table), s);                                    \
    }

NAMES(mdt_client_status, mdt_client_status, client_statuses)
NAMES(mdt_client_kind, mdt_client_kind, client_kinds)
NAMES(mdt_cred_type, mdt_cred_type, cred_types)
NAMES(mdt_request_state, mdt_request_state, request_states)
