/* The client's address of a request: the TCP peer, or, when the peer is in
 * [server] trusted_proxies, what the proxies in front wrote in
 * X-Forwarded-For. This is the address rate limits, login throttling, the
 * access log and audit records see (mdt_req.peer_ip). */
#ifndef MDT_HTTP_CLIENT_ADDR_H
#define MDT_HTTP_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define MDT_IP_TEXT_MAX 46          /* INET6_ADDRSTRLEN */
#define MDT_FORWARDED_FOR_HEADER "X-Forwarded-For"
#define MDT_FORWARDED_MAX_HOPS 32   /* X-Forwarded-For entries looked at, from the right */

/* Writes into out the client address, in canonical text (IPv4-mapped IPv6
 * as IPv4), for a connection from peer carrying the X-Forwarded-For values
 * xff (several fields joined with commas; NULL or "" when absent):
 * - a peer not in trusted (comma-separated CIDRs) is the client, whatever it
 *   sent: its X-Forwarded-For is ignored;
 * - from a trusted peer, the entries are read from the right (each proxy
 *   appends the address it received the request from), skipping addresses
 *   that are themselves trusted proxies; the first untrusted one is the
 *   client. Entries to its left were written by the client and mean nothing;
 * - an entry that is not an address (`unknown`, garbage) ends the walk: the
 *   client is then the last trusted hop reached (the proxy that wrote it),
 *   as is the leftmost entry when every entry is a trusted proxy, and when
 *   MDT_FORWARDED_MAX_HOPS entries were all trusted.
 * Entries may carry a port (`192.0.2.1:1234`, `[2001:db8::1]:443`).
 * Returns false (out = "") only when peer itself is not an address. */
bool mdt_client_addr(const char *peer, const char *xff, const char *trusted,
                     char out[MDT_IP_TEXT_MAX]);

#endif
