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
 * on the TLS connection or forwarded by a trusted proxy; cnf jkt (RFC 9449
 * §7) with a DPoP proof of that key for this request (htm its method, htu
 * the issuer followed by its path, ath the hash of the token of its
 * `Authorization: DPoP` header; a nonce when [dpop] nonce = all). MDT_OK
 * when the token is unbound or bound and proven; MDT_ERR_INVALID_TOKEN when
 * the certificate was not presented or another was, when a DPoP-bound token
 * came in a Bearer header (RFC 9449 §7.2), and for any confirmation method
 * this server does not check (any cnf member but x5t#S256 and jkt);
 * MDT_ERR_INVALID_DPOP_PROOF or MDT_ERR_USE_DPOP_NONCE for a missing or
 * refused proof, or one of another key. Borrows claims. */
mdt_rc mdt_token_binding_check(mdt_env *env, mdt_req *req, json_t *claims,
                               mdt_err *err) MDT_WARN_UNUSED;

/* An access token presented to an API of this server (Bearer, or DPoP with
 * its proof: a token with the scheme DPoP must be DPoP-bound), checked the
 * way introspection checks it (mdt_token_inspect_cached: signature and
 * issuer once per thread and token, expiry, revocation, delegation chains,
 * the client's kill switch every time), with
 * its binding (mdt_token_binding_check) and, for a token usable once, that
 * use recorded (mdt_token_use_once): what /userinfo, the admin API and the
 * AuthZEN API accept. MDT_ERR_INVALID_TOKEN when it is not active; *ti is
 * filled whenever the token was read (mdt_token_info_clear it). */
/* The access token of the request's Authorization header, of the scheme
 * Bearer (RFC 6750 §2.1) or DPoP (RFC 9449 §7.1); NULL when none. */
const char *mdt_req_access_token(mdt_req *req);

/* Whether rc, of mdt_bearer_token_check, means 401 (the token is not
 * usable here, or its DPoP proof is not) rather than a server fault. */
bool mdt_token_unusable(mdt_rc rc);

/* The 401 of an API of this server refusing the token (rc as
 * mdt_token_unusable says): a JSON error body and an RFC 6750 §3 / RFC 9449
 * §7.1 challenge: "DPoP" with algs when the request used DPoP (or the
 * error is one of DPoP's), else "Bearer" followed by a DPoP challenge with
 * algs; a DPoP-Nonce header with use_dpop_nonce and wherever [dpop] nonce =
 * all. realm: the realm parameter, or NULL. */
void mdt_token_unauthorized(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_rc rc,
                            const char *realm, const char *desc);

mdt_rc mdt_bearer_token_check(mdt_env *env, mdt_req *req, const char *tok, mdt_token_info *ti,
                              mdt_err *err) MDT_WARN_UNUSED;

#endif
