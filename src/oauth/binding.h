/* Sender-constrained access tokens at the endpoints that accept them as
 * Bearer tokens (/userinfo, the admin API): RFC 8705 §3. */
#ifndef MDT_OAUTH_BINDING_H
#define MDT_OAUTH_BINDING_H

#include <jansson.h>

#include "app/env.h"
#include "core/mdt.h"
#include "msg/msg.h"
#include "oauth/tokens.h"

/* A token whose claims have cnf is usable only by the holder of the key it
 * names: cnf x5t#S256 with the client certificate it is bound to, presented
 * on the TLS connection or forwarded by a trusted proxy. MDT_OK when the
 * token is unbound or that certificate was presented; MDT_ERR_INVALID_TOKEN
 * when it was not, when another was, and for any confirmation method this
 * server does not check (any cnf member but x5t#S256). Borrows claims. */
mdt_rc mdt_token_binding_check(mdt_env *env, mdt_req *req, json_t *claims,
                               mdt_err *err) MDT_WARN_UNUSED;

/* A Bearer access token presented to an API of this server, checked the
 * way introspection checks it (mdt_token_inspect: signature, issuer,
 * expiry, revocation, delegation chains, the client's kill switch), with
 * its binding (mdt_token_binding_check) and, for a token usable once, that
 * use recorded (mdt_token_use_once): what /userinfo, the admin API and the
 * AuthZEN API accept. MDT_ERR_INVALID_TOKEN when it is not active; *ti is
 * filled whenever the token was read (mdt_token_info_clear it). */
mdt_rc mdt_bearer_token_check(mdt_env *env, mdt_req *req, const char *tok, mdt_token_info *ti,
                              mdt_err *err) MDT_WARN_UNUSED;

#endif
