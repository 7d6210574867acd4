/* The AuthZEN Authorization API 1.0 of the embedded PDP (SPEC §3.8):
 * POST /access/v1/evaluation, POST /access/v1/evaluations and the PDP
 * metadata at GET /.well-known/authzen-configuration. */
#ifndef MDT_PEP_AUTHZEN_H
#define MDT_PEP_AUTHZEN_H

#include "msg/msg.h"

#define MDT_AUTHZEN_MAX_EVALUATIONS 100     /* items of one evaluations request */
#define MDT_AUTHZEN_MAX_BODY (64 * 1024)    /* bytes of a request body */
#define MDT_AUTHZEN_REQUEST_ID_MAX 128      /* bytes of an X-Request-ID echoed */

void mdt_handle_authzen_evaluation(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_authzen_evaluations(mdt_env *env, mdt_req *req, mdt_resp *resp);
void mdt_handle_authzen_metadata(mdt_env *env, mdt_req *req, mdt_resp *resp);

#endif
