/* /forward-auth: the policy enforcement point that reverse proxies ask
 * before they pass a request to a protected API (nginx auth_request,
 * Traefik ForwardAuth, Envoy ext_authz in HTTP mode), and the RFC 9728
 * protected resource metadata of the resources it protects, at
 * /.well-known/oauth-protected-resource[/{path}] (SPEC §3.7).
 *
 * /forward-auth answers only peers in [server] trusted_proxies. It reads
 * the original request from the proxy's headers (X-Forwarded-Method or
 * X-Original-Method, X-Forwarded-Uri or X-Original-URI, X-Forwarded-Host,
 * X-Forwarded-Proto; Envoy's way: the original method and the path after
 * /forward-auth), finds its entry in [forward_auth] resources
 * (iga/resources.h), checks the access token (Authorization: Bearer or
 * DPoP) for that entry's resource, its binding (a DPoP proof, a forwarded
 * client certificate), the scopes the entry requires for the method and,
 * when [pdp] mode is not off, the PDP's decision. 200 carries the identity
 * headers below; 401 and 403 carry an RFC 6750 / RFC 9449
 * WWW-Authenticate challenge with the entry's RFC 9728 metadata URL. */
#ifndef MDT_PEP_FORWARD_AUTH_H
#define MDT_PEP_FORWARD_AUTH_H

#include <jansson.h>
#include <stdbool.h>

#include "core/arena.h"
#include "msg/msg.h"

#define MDT_FWD_SUBJECT "X-Mandate-Subject" /* sub */
#define MDT_FWD_CLIENT "X-Mandate-Client"   /* client_id */
#define MDT_FWD_SCOPE "X-Mandate-Scope"     /* the token's scope, space-separated */
#define MDT_FWD_ACT "X-Mandate-Act"         /* the actors' sub, outermost first, comma-separated */
#define MDT_FWD_URI_MAX 8192                /* bytes of a forwarded URI */

void mdt_handle_forward_auth(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_protected_resource_metadata(mdt_env *env, mdt_req *req, mdt_resp *resp);

/* --- pure parts, shared with the tests --- */

/* Whether a forwarded path may be matched against the resources: it
 * starts with '/', and has no dot segment, no empty segment, no
 * backslash, no control or non-ASCII byte, no malformed escape and no
 * percent-encoded unreserved character, '/', '\\' or NUL (each of which a
 * proxy or backend could read as another path than the one matched). */
bool mdt_fwd_path_ok(const char *path);
/* The X-Mandate-Act value of claims: the sub of each act, outermost first,
 * comma-separated; NULL when there is no act (or one is malformed, or a
 * sub would not fit a header: then *bad is set). */
const char *mdt_fwd_act_header(mdt_arena *a, const json_t *claims, bool *bad);
/* Whether s may be sent as a header value as it is (printable ASCII and
 * spaces, at most 4096 bytes). */
bool mdt_fwd_header_ok(const char *s);
/* A WWW-Authenticate challenge: scheme ("Bearer" or "DPoP"; DPoP adds
 * algs), then error, scope (each when not NULL) and resource_metadata. */
const char *mdt_fwd_challenge(mdt_arena *a, const char *scheme, const char *error,
                              const char *scope, const char *metadata_url);

#endif
