/* Request lookups through the server's transport (msg/transport.h). */
#include "msg/msg.h"
#include "msg/transport.h"

const char *mdt_req_header(mdt_req *req, const char *name)
{
    return req->transport && req->transport->header ? req->transport->header(req, name) : NULL;
}

const char *mdt_req_query(mdt_req *req, const char *name)
{
    return req->transport && req->transport->query ? req->transport->query(req, name) : NULL;
}
