#include "core/mdt.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int status;
} rc_table[MDT_RC_COUNT] = {
    [MDT_OK] = {"ok", 200},
    [MDT_ERR_INVALID_REQUEST] = {"invalid_request", 400},
    [MDT_ERR_INVALID_CLIENT] = {"invalid_client", 401},
    [MDT_ERR_INVALID_GRANT] = {"invalid_grant", 400},
    [MDT_ERR_UNAUTHORIZED_CLIENT] = {"unauthorized_client", 400},
    [MDT_ERR_UNSUPPORTED_GRANT_TYPE] = {"unsupported_grant_type", 400},
    [MDT_ERR_INVALID_SCOPE] = {"invalid_scope", 400},
    [MDT_ERR_INVALID_TARGET] = {"invalid_target", 400},
    [MDT_ERR_UNSUPPORTED_TOKEN_TYPE] = {"unsupported_token_type", 400},
    [MDT_ERR_INVALID_CLIENT_METADATA] = {"invalid_client_metadata", 400},
    [MDT_ERR_INVALID_REDIRECT_URI] = {"invalid_redirect_uri", 400},
    [MDT_ERR_INVALID_SOFTWARE_STATEMENT] = {"invalid_software_statement", 400},
    [MDT_ERR_UNAPPROVED_SOFTWARE_STATEMENT] = {"unapproved_software_statement", 400},
    [MDT_ERR_INVALID_TOKEN] = {"invalid_token", 401},
    [MDT_ERR_ACCESS_DENIED] = {"access_denied", 403},
    [MDT_ERR_NOT_FOUND] = {"not_found", 404},
    [MDT_ERR_CONFLICT] = {"conflict", 409},
    [MDT_ERR_TOO_LARGE] = {"invalid_request", 413},
    [MDT_ERR_UNSUPPORTED_MEDIA] = {"invalid_request", 415},
    [MDT_ERR_METHOD] = {"invalid_request", 405},
    [MDT_ERR_CONFIG] = {"config_error", 500},
    [MDT_ERR_VERIFY] = {"verify_failed", 400},
    [MDT_ERR_AUTHORIZATION_PENDING] = {"authorization_pending", 400},
    [MDT_ERR_SLOW_DOWN] = {"slow_down", 400},
    [MDT_ERR_EXPIRED_TOKEN] = {"expired_token", 400},
    [MDT_ERR_DENIED_BY_USER] = {"access_denied", 400},
    [MDT_ERR_UNKNOWN_USER_ID] = {"unknown_user_id", 400},
    [MDT_ERR_INVALID_BINDING_MESSAGE] = {"invalid_binding_message", 400},
    [MDT_ERR_INVALID_AUTHORIZATION_DETAILS] = {"invalid_authorization_details", 400},
    [MDT_ERR_INVALID_DPOP_PROOF] = {"invalid_dpop_proof", 400},
    [MDT_ERR_USE_DPOP_NONCE] = {"use_dpop_nonce", 400},
    [MDT_ERR_NOMEM] = {"server_error", 500},
    [MDT_ERR_STORE] = {"server_error", 500},
    [MDT_ERR_UNAVAILABLE] = {"temporarily_unavailable", 503},
    [MDT_ERR_CRYPTO] = {"server_error", 500},
    [MDT_ERR_IO] = {"server_error", 500},
    [MDT_ERR_INTERNAL] = {"server_error", 500},
};

const char *mdt_rc_name(mdt_rc rc)
{
    if ((unsigned)rc >= MDT_RC_COUNT)
        return "server_error";
    return rc_table[rc].name;
}

int mdt_rc_http_status(mdt_rc rc)
{
    if ((unsigned)rc >= MDT_RC_COUNT)
        return 500;
    return rc_table[rc].status;
}

mdt_rc mdt_fail(mdt_err *err, mdt_rc rc, const char *msg)
{
    if (err) {
        err->rc = rc;
        err->msg = msg;
        err->detail[0] = '\0';
    }
    return rc;
}

mdt_rc mdt_failf(mdt_err *err, mdt_rc rc, const char *msg, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->rc = rc;
        err->msg = msg;
        va_start(ap, fmt);
        vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
        va_end(ap);
    }
    return rc;
}

mdt_rc mdt_fail_openssl(mdt_err *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";

    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    if (err) {
        err->rc = MDT_ERR_CRYPTO;
        err->msg = "cryptographic operation failed";
        snprintf(err->detail, sizeof(err->detail), "%s: %s", what, e ? buf : "failed");
    }
    return MDT_ERR_CRYPTO;
}

void mdt_err_clear(mdt_err *err)
{
    if (err) {
        err->rc = MDT_OK;
        err->msg = NULL;
        err->detail[0] = '\0';
    }
}

const char *mdt_err_text(const mdt_err *err)
{
    if (!err)
        return "error";
    if (err->detail[0])
        return err->detail;
    if (err->msg)
        return err->msg;
    return mdt_rc_name(err->rc);
}

static mdt_rc effective_rc(const mdt_err *err)
{
    return !err || err->rc == MDT_OK ? MDT_ERR_INTERNAL : err->rc;
}

const char *mdt_err_public_text(const mdt_err *err)
{
    mdt_rc rc = effective_rc(err);

    if (rc == MDT_ERR_UNAVAILABLE)
        return "the service is temporarily unavailable";
    if (mdt_rc_is_server_fault(rc))
        return "internal error";
    return err->msg;
}

const char *mdt_err_audit_text(const mdt_err *err)
{
    if (mdt_rc_is_server_fault(effective_rc(err)))
        return mdt_err_public_text(err);
    return mdt_err_text(err);
}

static const char *fault_kind(mdt_rc rc)
{
    switch (rc) {
    case MDT_ERR_NOMEM:
        return "memory";
    case MDT_ERR_STORE:
        return "store";
    case MDT_ERR_UNAVAILABLE:
        return "unavailable";
    case MDT_ERR_CRYPTO:
        return "crypto";
    case MDT_ERR_IO:
        return "io";
    default:
        return "internal";
    }
}

void mdt_err_fault_text(const mdt_err *err, char *out, size_t n)
{
    mdt_rc rc = effective_rc(err);

    if (!n)
        return;
    out[0] = '\0';
    if (!mdt_rc_is_server_fault(rc))
        return;
    snprintf(out, n, "%s: %s", fault_kind(rc),
             err && (err->detail[0] || err->msg) ? mdt_err_text(err) : "no detail");
}

bool mdt_ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void mdt_wipe(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

bool mdt_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

char *mdt_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}
