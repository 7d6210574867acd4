/* Connections per source address: a table of open connections counted by
 * source (an IPv4 address, or the /64 of an IPv6 address, where one host
 * usually holds a whole prefix), so that one host cannot hold every
 * connection the server has. Thread-safe (one mutex); the server asks
 * mdt_conn_limit_admit when it accepts a connection and reports each
 * connection it opened and closed. */
#ifndef MDT_HTTP_CONN_LIMIT_H
#define MDT_HTTP_CONN_LIMIT_H

#include <stdbool.h>
#include <sys/socket.h>

#include "core/mdt.h"

typedef struct mdt_conn_limit mdt_conn_limit;

/* max_per_source: connections one source may hold at once (0: no limit).
 * exempt: comma-separated CIDRs whose connections are counted but never
 * refused (trusted proxies); borrowed, must outlive the table. */
mdt_rc mdt_conn_limit_new(unsigned max_per_source, const char *exempt, mdt_conn_limit **out,
                          mdt_err *err) MDT_WARN_UNUSED;
void mdt_conn_limit_free(mdt_conn_limit *l); /* NULL ok */

/* Whether a new connection from sa may be accepted: its source holds fewer
 * than max_per_source open connections, or it is exempt, or sa is not an
 * IP address. Counts nothing: several threads admitting at once may
 * overshoot the limit by at most their number (the count moves when the
 * connection is reported opened, so that a connection admitted but never
 * opened leaves no trace). */
bool mdt_conn_limit_admit(mdt_conn_limit *l, const struct sockaddr *sa);
/* A connection from sa was opened: true when it was counted (report its
 * closing then, and only then). */
bool mdt_conn_limit_opened(mdt_conn_limit *l, const struct sockaddr *sa);
/* A counted connection from sa was closed. */
void mdt_conn_limit_closed(mdt_conn_limit *l, const struct sockaddr *sa);
/* Open connections of sa's source (tests, metrics). */
unsigned mdt_conn_limit_count(mdt_conn_limit *l, const struct sockaddr *sa);

#endif
