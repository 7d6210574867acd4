/* RFC 8693 token exchange: one grant_type, dispatched on
 * subject_token_type through a table. Each row binds the handlers of a
 * subject type whose description (does the subject token authenticate the
 * client, must the client have registered the grant) is its row in
 * iga/registry.h; token.c reads both before anything runs. Adding a
 * subject type is one row here, one there, and its file. */
#include "oauth/grants.h"
#include "oauth/id_jag.h"

typedef struct {
    const char *type;                /* subject_token_type */
    mdt_client_authn_fn authenticate; /* when its registry row authenticates */
    mdt_grant_fn exchange;
} subject_handler;

static const subject_handler subjects[] = {
    {MDT_TOKEN_TYPE_API_KEY, mdt_client_auth_api_key, mdt_exchange_api_key}, /* grant_api_key.c */
    {MDT_TOKEN_TYPE_ACCESS_TOKEN, NULL, mdt_exchange_delegation}, /* grant_delegation.c */
    {MDT_TOKEN_TYPE_JWT, NULL, mdt_exchange_delegation_jwt},
    {MDT_TOKEN_TYPE_ID_TOKEN, NULL, mdt_exchange_id_jag}, /* id_jag.c: for an ID-JAG only */
};

static const subject_handler *handler_of(const char *type)
{
    for (size_t i = 0; type && i < MDT_ARRAY_LEN(subjects); i++)
        if (mdt_str_eq(subjects[i].type, type))
            return &subjects[i];
    return NULL;
}

mdt_client_authn_fn mdt_token_exchange_authenticator(const mdt_subject_type_def *st)
{
    const subject_handler *h = st && st->authenticates ? handler_of(st->name) : NULL;
    return h ? h->authenticate : NULL;
}

bool mdt_token_exchange_handles(const mdt_subject_type_def *st)
{
    const subject_handler *h = st ? handler_of(st->name) : NULL;
    return h && h->exchange && (!st->authenticates || h->authenticate);
}

mdt_rc mdt_grant_token_exchange(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                mdt_grant_result *out, mdt_err *err)
{
    const char *type = mdt_req_form(req, "subject_token_type");
    const subject_handler *h = handler_of(type);

    if (mdt_str_eq(mdt_req_form(req, "requested_token_type"), MDT_TOKEN_TYPE_ID_JAG))
        return mdt_exchange_id_jag(env, req, who, out, err);
    if (!h) /* mdt_grant_decide refused it already */
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        type ? "unsupported subject_token_type" : "subject_token_type is required");
    return h->exchange(env, req, who, out, err);
}
