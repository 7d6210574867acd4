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
} mdt_route_match;

mdt_route_result mdt_route(const char *method, const char *path, mdt_route_match *out);

#endif
