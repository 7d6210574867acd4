/* RFC 9396 authorization_details: what a client asks to be allowed to do,
 * as a JSON array of objects each with a string "type". Mandate shows it to
 * the person who decides and puts what was approved, unchanged, into the
 * token; it does not interpret the types. */
#ifndef MDT_OAUTH_AUTHORIZATION_DETAILS_H
#define MDT_OAUTH_AUTHORIZATION_DETAILS_H

#include "core/arena.h"
#include "core/mdt.h"

#define MDT_AUTHZ_DETAILS_MAX_BYTES 8192 /* of the parameter */
#define MDT_AUTHZ_DETAILS_MAX_ITEMS 16   /* objects in the array */
#define MDT_AUTHZ_DETAILS_MAX_DEPTH 6    /* nesting, the array being 1 */
#define MDT_AUTHZ_DETAILS_TYPE_MAX 256   /* bytes of a type */

/* Checks text (NUL-terminated) and returns it unchanged in *out (in a),
 * so that the token carries the very text that was shown: a non-empty array of at most MDT_AUTHZ_DETAILS_MAX_ITEMS objects,
 * each with a non-empty string "type", no duplicate member names, nesting
 * and size within the limits above. MDT_ERR_INVALID_AUTHORIZATION_DETAILS
 * otherwise. Pure. */
mdt_rc mdt_authorization_details_check(const char *text, mdt_arena *a, const char **out,
                                       mdt_err *err) MDT_WARN_UNUSED;

#endif
