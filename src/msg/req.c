/* Request lookups through the server's transport (msg/transport.h). */
#include "msg/msg.h"

#include <strings.h>

#include "msg/transport.h"

const char *mdt_req_header(mdt_req *req, const char *name)
{
    return req->transport && req->transport->header ? req->transport->header(req, name) : NULL;
}

const char *mdt_req_bearer(mdt_req *req)
{
    const char *h = mdt_req_header(req, "Authorization");

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

const char *mdt_req_query(mdt_req *req, const char *name)
{
    return req->transport && req->transport->query ? req->transport->query(req, name) : NULL;
}
