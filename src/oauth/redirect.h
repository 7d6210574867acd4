/* Redirect URIs of the authorization endpoint (RFC 6749 §3.1.2, RFC 9700
 * §4.1.3): exact string matching against the registered URIs, with the one
 * exception of RFC 8252 §7.3 for native clients (any port on a loopback IP
 * literal), and building the redirect that carries the response. Pure
 * functions; returned strings live in the caller's arena. */
#ifndef MDT_OAUTH_REDIRECT_H
#define MDT_OAUTH_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/mdt.h"
#include "msg/msg.h"

#define MDT_REDIRECT_MAX 8192 /* bytes of a built redirect URL */

/* Whether presented equals registered exactly (byte for byte), or, when
 * loopback_any_port, both are http URLs on the same loopback IP literal
 * (127.0.0.0/8 or [::1], RFC 8252 §7.3; not localhost, §8.3) that differ
 * only in the port. */
bool mdt_redirect_uri_match(const char *registered, const char *presented,
                            bool loopback_any_port);

/* The redirect URI of an authorization request: presented when it matches
 * one of registered[n]; the only registered one when presented is NULL and
 * n == 1. MDT_ERR_INVALID_REDIRECT_URI otherwise (never redirect then). */
mdt_rc mdt_redirect_select(const char *const *registered, size_t n, const char *presented,
                           bool loopback_any_port, const char **out, mdt_err *err) MDT_WARN_UNUSED;

/* redirect_uri with params[n] appended to its query (after "?" or "&"),
 * names and values percent-encoded; params with a NULL value are left out.
 * NULL on allocation failure or when longer than MDT_REDIRECT_MAX. */
const char *mdt_redirect_build(mdt_arena *a, const char *redirect_uri, const mdt_kv *params,
                               size_t n);

/* s percent-encoded (everything but the unreserved set), in a. */
const char *mdt_url_encode(mdt_arena *a, const char *s);

#endif
