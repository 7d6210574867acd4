/* Protected resources ([forward_auth] resources, SPEC §2.2): the resources
 * an operator protects through /forward-auth, from a JSON file read when
 * `serve` starts:
 *   [{"resource": "https://mcp.example.com",        (RFC 8707 audience; unique)
 *     "resource_name": "Example MCP server",        (optional)
 *     "match": "https://mcp.example.com:443/mcp",   (scheme://host:port/path-prefix)
 *     "scopes": {"GET": ["read"], "POST": ["write"], "*": ["read"]}}]  (optional)
 * Unknown members, duplicate resources, a missing or malformed resource or
 * match, and methods or scope names that are not words are errors naming
 * the file and the entry. Any client may ask for these resources in a flow
 * where a person consents (oauth/scope_check.h); /forward-auth enforces
 * them (pep/forward_auth.h) and serves their RFC 9728 metadata.
 *
 * Memory: an mdt_resources owns everything reachable from it and is
 * immutable once loaded, so any number of threads may read it. */
#ifndef MDT_IGA_RESOURCES_H
#define MDT_IGA_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mdt.h"

#define MDT_RESOURCES_FILE_MAX (256 * 1024) /* bytes of the file */
#define MDT_RESOURCES_MAX 256               /* resources in it */

typedef struct mdt_resources mdt_resources;

/* Loads path ("" or NULL: *out is NULL, no resources). On error nothing is
 * returned and err names the file and what is wrong. */
mdt_rc mdt_resources_load(const char *path, mdt_resources **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_resources_free(mdt_resources *r);

/* Whether uri is the resource of an entry (exact match). r may be NULL. */
bool mdt_resources_has(const mdt_resources *r, const char *uri);
size_t mdt_resources_count(const mdt_resources *r);
/* The i-th resource URI, borrowed. */
const char *mdt_resources_uri(const mdt_resources *r, size_t i);
/* The i-th entry's resource_name, borrowed; NULL when it has none. */
const char *mdt_resources_name(const mdt_resources *r, size_t i);

/* Matching a forwarded request (scheme, host, path) to an entry:
 * the entries whose match has that scheme, host (compared without case)
 * and port (hostport's explicit port, else 80 for http and 443 for
 * https), and whose path prefix is path or a parent of it on a segment
 * boundary ("/mcp" matches "/mcp" and "/mcp/x", not "/mcpx"; "/" matches
 * every path); of those, the one with the longest prefix. hostport is a
 * Host header's value (name or [IPv6], optional :port); path starts with
 * '/' and has no query. True with *idx set when one matches. */
bool mdt_resources_find(const mdt_resources *r, const char *scheme, const char *hostport,
                        const char *path, size_t *idx);
/* The scopes the i-th entry requires for method: its list for that exact
 * method, else its "*" list, else none; space-separated, borrowed ("" for
 * none). */
const char *mdt_resources_scopes(const mdt_resources *r, size_t i, const char *method);
/* Every scope the i-th entry names, space-separated without duplicates,
 * in the order of the file; borrowed ("" for none). */
const char *mdt_resources_scopes_all(const mdt_resources *r, size_t i);
/* The RFC 9728 metadata of the entry asked for at
 * /.well-known/oauth-protected-resource<path> (path "" for the resource
 * without path): the entry whose resource identifier has that path and
 * whose host and port are hostport's (hostport NULL: not compared); else,
 * when exactly one entry's identifier has that path, that one. True with
 * *idx set when found. */
bool mdt_resources_find_metadata(const mdt_resources *r, const char *hostport, const char *path,
                                 size_t *idx);
/* The URL of the i-th entry's RFC 9728 metadata (§3.1: the well-known
 * suffix inserted between the identifier's authority and its path),
 * borrowed. */
const char *mdt_resources_metadata_url(const mdt_resources *r, size_t i);

#endif
