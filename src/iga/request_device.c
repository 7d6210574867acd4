/* Device authorizations (RFC 8628) as approval requests: the person who
 * entered the user code at /device is the request's subject and decides it
 * (routing may ask more approvers). The device learns the outcome by
 * polling /token, which reads the request's status; the hooks here only
 * record that the authorization reached its final status. */
#include "iga/internal.h"
#include "iga/requests.h"

static mdt_rc device_audit(mdt_ctx *ctx, const char *type, const mdt_request_rec *r, mdt_err *err)
{
    json_t *data = json_pack("{s:s, s:s?, s:s?}", "request", r->id, "subject", r->subject,
                             "scope", r->scope);

    return mdt_iga__audit_json(ctx, type, r->client_id, data, err);
}

static mdt_rc device_approved(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r,
                              int64_t for_secs, mdt_err *err)
{
    (void)env;
    (void)for_secs;
    return device_audit(ctx, "device.approved", r, err);
}

static mdt_rc device_denied(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, mdt_err *err)
{
    (void)env;
    return device_audit(ctx, "device.denied", r, err);
}

const mdt_request_type mdt_iga__request_device = {
    .name = MDT_REQUEST_TYPE_DEVICE,
    .subject_may_decide = true,
    .approved = device_approved,
    .denied = device_denied,
};
