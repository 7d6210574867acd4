/* Mandate: result codes, errors and the small helpers every module uses. */
#ifndef MDT_CORE_MDT_H
#define MDT_CORE_MDT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MDT_WARN_UNUSED __attribute__((warn_unused_result))
#define MDT_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* One result type. Client faults map to OAuth error codes through one table
 * (core/error.c); server faults (NOMEM and below) become 500 or 503. */
typedef enum {
    MDT_OK = 0,
    MDT_ERR_INVALID_REQUEST,
    MDT_ERR_INVALID_CLIENT,
    MDT_ERR_INVALID_GRANT,
    MDT_ERR_UNAUTHORIZED_CLIENT,
    MDT_ERR_UNSUPPORTED_GRANT_TYPE,
    MDT_ERR_INVALID_SCOPE,
    MDT_ERR_INVALID_TARGET,
    MDT_ERR_UNSUPPORTED_TOKEN_TYPE,
    MDT_ERR_INVALID_CLIENT_METADATA,
    MDT_ERR_INVALID_REDIRECT_URI,
    MDT_ERR_INVALID_SOFTWARE_STATEMENT,    /* RFC 7591 §3.2.2 */
    MDT_ERR_UNAPPROVED_SOFTWARE_STATEMENT, /* RFC 7591 §3.2.2 */
    MDT_ERR_INVALID_TOKEN,
    MDT_ERR_ACCESS_DENIED,
    MDT_ERR_NOT_FOUND,
    MDT_ERR_CONFLICT,
    MDT_ERR_TOO_LARGE,
    MDT_ERR_UNSUPPORTED_MEDIA,
    MDT_ERR_METHOD,
    MDT_ERR_CONFIG,
    MDT_ERR_VERIFY,   /* a signature, hash or chain did not verify */
    /* polling a decision (CIBA Core §11, RFC 8628 §3.5) and asking for one
     * (CIBA Core §13, RFC 9396 §5) */
    MDT_ERR_AUTHORIZATION_PENDING,
    MDT_ERR_SLOW_DOWN,
    MDT_ERR_EXPIRED_TOKEN,
    MDT_ERR_DENIED_BY_USER, /* access_denied at the token endpoint: 400, not 403 */
    MDT_ERR_UNKNOWN_USER_ID,
    MDT_ERR_INVALID_BINDING_MESSAGE,
    MDT_ERR_INVALID_AUTHORIZATION_DETAILS,
    MDT_ERR_INVALID_DPOP_PROOF, /* RFC 9449 §5, §7.1: 400 at /token, 401 at resource servers */
    MDT_ERR_USE_DPOP_NONCE,     /* RFC 9449 §8, §9: the proof must carry the server's nonce */
    /* server faults */
    MDT_ERR_NOMEM,
    MDT_ERR_STORE,
    MDT_ERR_UNAVAILABLE,
    MDT_ERR_CRYPTO,
    MDT_ERR_IO,
    MDT_ERR_INTERNAL,
    MDT_RC_COUNT
} mdt_rc;

/* msg: static, public text, safe to become error_description.
 * detail: private text for logs and the command line; never holds a secret. */
typedef struct {
    mdt_rc rc;
    const char *msg;
    char detail[240];
} mdt_err;

/* Fill err (may be NULL) and return rc. */
mdt_rc mdt_fail(mdt_err *err, mdt_rc rc, const char *msg);
mdt_rc mdt_failf(mdt_err *err, mdt_rc rc, const char *msg, const char *fmt, ...) MDT_PRINTF(4, 5);
/* Append the OpenSSL error queue to err->detail and return MDT_ERR_CRYPTO. */
mdt_rc mdt_fail_openssl(mdt_err *err, const char *what);
void mdt_err_clear(mdt_err *err);
/* err->detail when set, else err->msg, else the rc's name. */
const char *mdt_err_text(const mdt_err *err);
/* What a client may be shown of err, and what an audit event records: for a
 * client fault err->msg (mdt_err_audit_text: the detail when set); for a
 * server fault (or MDT_OK, taken as an internal fault) a fixed public
 * message, never the detail. mdt_err_public_text may return NULL. */
const char *mdt_err_public_text(const mdt_err *err);
const char *mdt_err_audit_text(const mdt_err *err);
/* For a server fault, "kind: detail" (e.g. "store: token insert: database
 * is locked") into out, for the logs; "" for a client fault. */
void mdt_err_fault_text(const mdt_err *err, char *out, size_t n);

const char *mdt_rc_name(mdt_rc rc);   /* "invalid_client", "server_error", ... */
int mdt_rc_http_status(mdt_rc rc);    /* 400, 401, 404, 413, 415, 500, 503 ... */
static inline bool mdt_rc_is_server_fault(mdt_rc rc) { return rc >= MDT_ERR_NOMEM; }

/* Constant-time comparison of equal-length byte strings; false when lengths differ. */
bool mdt_ct_eq(const void *a, size_t alen, const void *b, size_t blen);
/* Wipe memory the compiler may not elide. */
void mdt_wipe(void *p, size_t n);

/* Strings */
bool mdt_str_eq(const char *a, const char *b); /* NULL-safe */
char *mdt_strdup(const char *s);                /* NULL-safe; NULL on NOMEM */

#define MDT_VERSION "0.1.0"
#define MDT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
