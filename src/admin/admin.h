/* The admin REST API, /admin/v1/... (SPEC §2.3): everything the command
 * line does, over HTTP, through the same services (iga/, users/, keys/,
 * audit/). Authorised by an access token of this server with scope
 * mandate:admin (admin/auth.c); described by docs/openapi.json, which the
 * binary embeds and serves at /admin/v1/openapi.json. */
#ifndef MDT_ADMIN_ADMIN_H
#define MDT_ADMIN_ADMIN_H

#include "app/env.h"
#include "msg/msg.h"

#define MDT_ADMIN_PREFIX "/admin/v1/"

/* Every method and path under MDT_ADMIN_PREFIX: authorises the caller,
 * then dispatches on the resource table (admin/api.c); unknown paths are
 * 404 and other methods 405 with Allow, as JSON. */
void mdt_handle_admin(mdt_env *env, mdt_req *req, mdt_resp *resp);

#endif
