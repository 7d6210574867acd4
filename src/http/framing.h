/* Message framing of a request (RFC 9112 §6): the checks that make sure
 * Mandate and any proxy in front of it agree on where a request's body ends.
 * Pure: fed the request's header fields one by one, then asked for a
 * verdict before any byte of the body is read. */
#ifndef MDT_HTTP_FRAMING_H
#define MDT_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mdt.h"

typedef struct {
    unsigned content_length;    /* Content-Length fields seen */
    unsigned transfer_encoding; /* Transfer-Encoding fields seen */
    bool bad_content_length;    /* a value that is not 1*DIGIT (a list, a sign, spaces) */
    bool bad_transfer_encoding; /* a value other than exactly "chunked" */
    bool bad_name;              /* a field name with white space or control characters */
} mdt_framing;

/* Records one header field (name and value as the server parsed them). */
void mdt_framing_add(mdt_framing *f, const char *name, const char *value);
/* MDT_OK when the framing is unambiguous; else MDT_ERR_INVALID_REQUEST
 * (400) naming the fault: more than one Content-Length (even with equal
 * values), an invalid Content-Length, Transfer-Encoding with Content-Length,
 * more than one Transfer-Encoding, a transfer coding other than "chunked"
 * alone, Transfer-Encoding in an HTTP/1.0 request (http10), or a field name
 * with white space (RFC 9112 §5.1). The connection must then be closed. */
mdt_rc mdt_framing_check(const mdt_framing *f, bool http10, mdt_err *err) MDT_WARN_UNUSED;

#endif
