/* IP addresses against lists of CIDRs: who is a trusted proxy, who is
 * exempt from connection limits. */
#ifndef MDT_CORE_IP_H
#define MDT_CORE_IP_H

#include <stdbool.h>

#define MDT_CIDRS_MAX 64 /* CIDRs of one list looked at (e.g. [server] trusted_proxies) */

/* Whether ip (text, IPv4 or IPv6; IPv4-mapped IPv6 counts as IPv4) is in one
 * of the comma-separated CIDRs (plain addresses are /32 or /128). The list
 * is parsed once and kept (a documented cache, keyed by its text). */
bool mdt_ip_in_cidrs(const char *ip, const char *cidrs);

#endif
