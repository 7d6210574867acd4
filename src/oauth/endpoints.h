/* HTTP handlers of the OAuth endpoints: parse, authenticate, call the
 * protocol or service function, render. */
#ifndef MDT_OAUTH_ENDPOINTS_H
#define MDT_OAUTH_ENDPOINTS_H

#include "msg/msg.h"

void mdt_handle_token(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* OpenID Connect UserInfo (userinfo.c), GET and POST. */
void mdt_handle_userinfo(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /bc-authorize: CIBA backchannel authentication (bc_authorize.c). */
void mdt_handle_bc_authorize(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /access-requests, GET /access-requests/{id} (access_requests.c). */
void mdt_handle_access_request(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_access_request_get(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_introspect(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_revoke(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_jwks(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_discovery(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_healthz(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_readyz(mdt_env *env, mdt_req *req, mdt_resp *resp);
/* POST /register (RFC 7591); GET, PUT, DELETE /register/{client_id} (RFC 7592). */
void mdt_handle_register(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_register_client(mdt_env *env, mdt_req *req, mdt_resp *resp);

#endif
