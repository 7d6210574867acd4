/* The types of approval request this server knows: one row each, defined
 * beside the service the type belongs to. A new type (an access request, a
 * CIBA or a device approval) is one file with its row (mdt_request_type,
 * internal.h) and one line here; requests.c and its callers stay as they
 * are. */
#include "iga/internal.h"

static const mdt_request_type *const types[] = {
    &mdt_iga__request_registration,
    &mdt_iga__request_device,
    &mdt_iga__request_ciba,
    &mdt_iga__request_access,
};

const mdt_request_types mdt_iga__request_types = {types, MDT_ARRAY_LEN(types)};
