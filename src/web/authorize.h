/* The pages of the authorization endpoint: who signed in, as the protocol
 * sees it, and the rendering of every outcome oauth/authorize.c decides
 * (redirects, the form_post page, error pages, sign-in and consent). */
#ifndef MDT_WEB_AUTHORIZE_H
#define MDT_WEB_AUTHORIZE_H

#include "app/env.h"
#include "core/mdt.h"
#include "msg/msg.h"
#include "oauth/authorize.h"
#include "web/session.h"

/* The request's live session s and the person it signed in, u (strings in
 * the request's arena). MDT_ERR_NOT_FOUND when nobody is signed in; store
 * faults keep their codes. */
mdt_rc mdt_web_signed_in(mdt_env *env, mdt_req *req, mdt_web_session *s, mdt_authz_user *u,
                         mdt_err *err) MDT_WARN_UNUSED;

/* Renders o into resp (and its audit event, which the response then waits
 * for), then wipes the code o carries. A response that cannot be rendered
 * (too large for a redirect) becomes an error page. */
void mdt_web_authz_render(mdt_req *req, mdt_resp *resp, mdt_authz_outcome *o);

#endif
