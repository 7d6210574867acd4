/* The route table: method and path to handler. */
#ifndef MDT_HTTP_ROUTER_H
#define MDT_HTTP_ROUTER_H

#include "http/http.h"

typedef enum { MDT_ROUTE_FOUND, MDT_ROUTE_NOT_FOUND, MDT_ROUTE_BAD_METHOD } mdt_route_result;

/* On MDT_ROUTE_BAD_METHOD, *allow lists the methods the path accepts. */
mdt_route_result mdt_route(const char *method, const char *path, mdt_handler_fn *fn,
                           const char **allow);

#endif
