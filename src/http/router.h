/* The route table: method and path to handler. */
#ifndef MDT_HTTP_ROUTER_H
#define MDT_HTTP_ROUTER_H

#include "msg/msg.h"

typedef enum { MDT_ROUTE_FOUND, MDT_ROUTE_NOT_FOUND, MDT_ROUTE_BAD_METHOD } mdt_route_result;

typedef struct {
    mdt_handler_fn fn;
    const char *allow;         /* on MDT_ROUTE_BAD_METHOD: the methods the path accepts */
    const char *refusal_event; /* audit event type of refusals the server itself answers
                                  (413 ...) on this path; NULL = not audited */
    unsigned endpoint;         /* its metrics label: an index of mdt_route_endpoints */
} mdt_route_match;

/* The labels of mandate_http_requests_total: route patterns (a prefix
 * route ends in '*'), [0] for requests no route matched. */
const char *const *mdt_route_endpoints(size_t *n);

mdt_route_result mdt_route(const char *method, const char *path, mdt_route_match *out);

#endif
