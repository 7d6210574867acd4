/* GET /metrics (see metrics_endpoint.h). */
#include "http/metrics_endpoint.h"

#include "core/ip.h"
#include "core/metrics.h"
#include "store/store.h"

#define METRICS_MAX (4u << 20) /* bytes of one scrape's text */

void mdt_handle_metrics(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_metrics_gauges g = {.approvals_pending = -1, .version = MDT_VERSION};
    const char *allow = env->cfg.metrics_allow;
    mdt_err err;

    if (!allow || !*allow || !mdt_ip_in_cidrs(req->peer_ip, allow)) {
        mdt_fail(&err, MDT_ERR_ACCESS_DENIED, "this client may not read the metrics");
        mdt_resp_error(resp, &err);
        return;
    }
    /* a store that does not answer leaves the gauge out, not the scrape */
    if (mdt_store_request_count_pending(env->store, req->now, &g.approvals_pending, &err) != MDT_OK)
        g.approvals_pending = -1;
    mdt_buf_free(&resp->body);
    mdt_buf_init(&resp->body, METRICS_MAX);
    if (mdt_metrics_render(&resp->body, &g) != MDT_OK) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        return;
    }
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp->no_store = true;
}
