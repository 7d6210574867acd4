/* GET /metrics: the Prometheus text exposition (core/metrics.h), to the
 * clients of [metrics] allow only. */
#ifndef MDT_HTTP_METRICS_ENDPOINT_H
#define MDT_HTTP_METRICS_ENDPOINT_H

#include "msg/msg.h"

void mdt_handle_metrics(mdt_env *env, mdt_req *req, mdt_resp *resp);

#endif
