/* CIBA, poll mode (OpenID Connect Client-Initiated Backchannel
 * Authentication Core 1.0): a client asks for a person's approval of an
 * exact action; the person decides in /approvals (or with `mandate request
 * approve|deny`), as an approval request of type "ciba" whose subject is
 * that person; the client polls with the auth_req_id it was given.
 *
 * The auth_req_id is a random secret handed to the client once; the store
 * keeps its SHA-256, the approval request it waits on, the client that may
 * poll it and its polls. Tokens are issued once: the redemption is one
 * store statement.
 *
 * Memory: everything returned lives in the caller's arena. */
#ifndef MDT_IGA_CIBA_H
#define MDT_IGA_CIBA_H

#include <stdint.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/mdt.h"
#include "store/store.h"

#define MDT_CIBA_REQUEST_TYPE "ciba"
#define MDT_CIBA_ID_BYTES 32 /* random bytes of an auth_req_id */

/* What a client asks, validated by the protocol layer. */
typedef struct {
    const char *client_id;
    const char *subject;               /* the username the request asks */
    const char *scope;                 /* space-separated, granted to the client */
    const char *binding_message;       /* NULL when none */
    const char *authorization_details; /* JSON array text (validated); NULL when none */
    int64_t expires_in;                /* seconds the request waits */
} mdt_ciba_ask;

/* Creates the approval request and the CIBA record: *auth_req_id (the
 * secret the client polls with) and *interval. MDT_ERR_UNKNOWN_USER_ID when
 * the subject is no active user. Audited: request.created. */
mdt_rc mdt_ciba_start(mdt_env *env, mdt_ctx *ctx, const mdt_ciba_ask *ask, mdt_arena *a,
                      const char **auth_req_id, int64_t *interval, mdt_err *err) MDT_WARN_UNUSED;

/* A poll by client_id at ctx->now: MDT_OK with the approved request in
 * *out, redeemed by this call (tokens are then issued from it);
 * MDT_ERR_AUTHORIZATION_PENDING, MDT_ERR_SLOW_DOWN (polled again before the
 * interval passed), MDT_ERR_EXPIRED_TOKEN, MDT_ERR_DENIED_BY_USER, or
 * MDT_ERR_INVALID_GRANT (unknown, another client's, or already redeemed). */
mdt_rc mdt_ciba_poll(mdt_env *env, mdt_ctx *ctx, const char *auth_req_id, const char *client_id,
                     mdt_arena *a, mdt_request_rec *out, mdt_err *err) MDT_WARN_UNUSED;
/* The approved request a poll by client_id at now would redeem, read
 * without recording a poll nor redeeming (for a decision made before
 * anything is written): MDT_OK with it in *out; MDT_ERR_NOT_FOUND when a
 * poll now would answer anything else. */
mdt_rc mdt_ciba_peek(mdt_env *env, const char *auth_req_id, const char *client_id, int64_t now,
                     mdt_arena *a, mdt_request_rec *out, mdt_err *err) MDT_WARN_UNUSED;

#endif
