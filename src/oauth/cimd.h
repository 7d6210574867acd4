/* Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document,
 * preferred by the MCP authorization specification): a client_id that is an
 * https URL names its own metadata. */
#ifndef MDT_OAUTH_CIMD_H
#define MDT_OAUTH_CIMD_H

#include <stdbool.h>

#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"

/* True when client_id has the form of a document URL (https://..., or
 * http://127.0.0.1... when [registration] cimd_allow_http_loopback). */
bool mdt_cimd_is_url(const mdt_env *env, const char *client_id);
/* Makes sure the client named by a document URL exists and is current:
 * fetches the document when it is not cached (SSRF-safe, size-capped,
 * cached per its HTTP caching headers within cimd_cache_min/max), checks
 * that its client_id equals the URL and the domain lists, and creates or
 * refreshes the client through mdt_registration_upsert_document. Failures
 * are MDT_ERR_INVALID_CLIENT (the caller answers invalid_client) with the
 * reason in the detail. */
mdt_rc mdt_cimd_resolve(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                        mdt_err *err) MDT_WARN_UNUSED;

#endif
