/* URL helpers shared by every layer: the host of a URL, and whether a host
 * is loopback. One definition, so that the issuer check, redirect URI
 * registration and matching, client ID metadata URLs and the fetcher agree.
 *
 * Two meanings of "loopback", each named:
 *   mdt_host_is_loopback_ip - a loopback IP literal as RFC 8252 §7.3/§8.3
 *     means it: an IPv4 address in 127.0.0.0/8 (dotted decimal, four parts)
 *     or the IPv6 address ::1. The name "localhost" is not one (§8.3).
 *   mdt_host_is_loopback - the above, the name "localhost" (any case), or
 *     an IPv4-mapped 127.0.0.0/8 address (::ffff:127.0.0.1). What the
 *     configuration accepts for an http issuer and what registration accepts
 *     for an http redirect URI.
 * Both take a host as mdt_url_host returns it (IPv6 in brackets) or without
 * the brackets. */
#ifndef MDT_CORE_URL_H
#define MDT_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>

/* The host of an absolute URL (a scheme is required), lower-cased, IPv6 in
 * brackets ("[::1]"), without userinfo or port; NULL when the URL does not
 * parse, has no host or memory runs out. Numeric IPv4 forms are normalised
 * by the parser ("127.1" gives "127.0.0.1"). The caller frees with free(). */
char *mdt_url_host(const char *url);
/* Both parts at once: *scheme (may be NULL when not wanted) and *host,
 * lower-cased, freed with free() by the caller; false (both NULL) when
 * mdt_url_host would give NULL. */
bool mdt_url_scheme_host(const char *url, char **scheme, char **host);

bool mdt_host_is_loopback_ip(const char *host);
bool mdt_host_is_loopback(const char *host);

/* url as it may be shown to people and written to logs: the password of
 * its userinfo ("user:PASSWORD@") and the values of its password= and
 * sslpassword= parameters (in a query, or in a key=value connection string)
 * replaced by "***". Written into out (NUL-terminated, truncated to n - 1
 * bytes: the mask is written before what follows a secret, so truncation
 * never shows one); never fails. Anything else is kept as it is. */
void mdt_url_redact(const char *url, char *out, size_t n);

#endif
