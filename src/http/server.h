/* The HTTP server: libmicrohttpd with an internal epoll thread pool. */
#ifndef MDT_HTTP_SERVER_H
#define MDT_HTTP_SERVER_H

#include "app/env.h"
#include "core/mdt.h"

typedef struct mdt_server mdt_server;

/* Starts one daemon per listen address. The env must outlive the server. */
mdt_rc mdt_server_start(mdt_env *env, mdt_server **out, mdt_err *err) MDT_WARN_UNUSED;
/* Stops accepting, lets in-flight requests finish (up to shutdown_grace),
 * then stops. NULL ok. */
void mdt_server_stop(mdt_server *s);

#endif
