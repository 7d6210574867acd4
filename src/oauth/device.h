/* The device authorization grant (RFC 8628): POST /device_authorization
 * answers a device_code (256 random bits, stored as its SHA-256) and a user
 * code (8 characters of BCDFGHJKLMNPQRSTVWXZ shown as XXXX-XXXX, §6.1;
 * stored as the SHA-256 of its normalised form); a person signed in at
 * /device (web/device.c) enters the user code, which creates an approval
 * request of type "device" whose subject is that person, and allows or
 * denies it; the device polls /token (grant_device_code.c), which reads the
 * request's status.
 *
 * Memory: everything returned lives in the request's arena. */
#ifndef MDT_OAUTH_DEVICE_H
#define MDT_OAUTH_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "app/env.h"
#include "core/clock.h"
#include "core/hash.h"
#include "core/mdt.h"
#include "iga/client.h"
#include "msg/msg.h"
#include "store/store.h"

#define MDT_DEVICE_USER_CODE_ALPHABET "BCDFGHJKLMNPQRSTVWXZ" /* no vowels, no look-alikes */
#define MDT_DEVICE_USER_CODE_CHARS 8  /* 20^8: about 34.6 bits */
#define MDT_DEVICE_USER_CODE_LEN 9    /* as shown: XXXX-XXXX */
#define MDT_DEVICE_USER_CODE_INPUT_MAX 64 /* bytes of a typed user code */
#define MDT_DEVICE_CODE_BYTES 32      /* 256 random bits of a device_code */
#define MDT_DEVICE_CODE_MAX 128       /* bytes of a presented device_code */
#define MDT_DEVICE_SLOW_DOWN_STEP 5   /* seconds added to the interval by slow_down (§3.5) */

/* A new user code, as shown ("XXXX-XXXX", NUL-terminated), drawn without
 * bias from the alphabet. */
mdt_rc mdt_device_user_code_new(const mdt_rng *rng,
                                char out[MDT_DEVICE_USER_CODE_LEN + 1]) MDT_WARN_UNUSED;
/* The user code as typed, normalised (§6.1): letters upper-cased, dashes
 * and spaces dropped; true when what remains is 8 characters of the
 * alphabet (out then holds them, NUL-terminated). Pure. */
bool mdt_device_user_code_normalize(const char *typed, char out[MDT_DEVICE_USER_CODE_CHARS + 1]);

/* POST /device_authorization (RFC 8628 §3.1, §3.2). */
void mdt_handle_device_authorization(mdt_env *env, mdt_req *req, mdt_resp *resp);

/* What the /device page shows of an authorization. */
typedef struct {
    mdt_client client;      /* who asks */
    const char *scope;      /* what for, space-separated; "" when none */
    const char *resource;   /* RFC 8707; NULL when none */
    int64_t expires_at;     /* the code's end */
    const char *request_id; /* the approval request, once the code was entered */
    const char *status;     /* its status (requests.h), once the code was entered */
} mdt_device_view;

/* The authorization of a user code as typed, not entered yet. NOT_FOUND
 * for a malformed, unknown, expired or already entered code; a client no
 * longer usable is NOT_FOUND too. */
mdt_rc mdt_device_find(mdt_env *env, mdt_req *req, const char *user_code, mdt_device_view *out,
                       mdt_err *err) MDT_WARN_UNUSED;
/* username enters user_code: an approval request of type device, subject
 * username, is created for what the device asked and bound to the code in
 * one statement (a code is entered once: a second entry is NOT_FOUND).
 * Audited: request.created. */
mdt_rc mdt_device_enter(mdt_env *env, mdt_req *req, const char *user_code, const char *username,
                        mdt_device_view *out, mdt_err *err) MDT_WARN_UNUSED;
/* The device request request_id that asks username (NOT_FOUND for another
 * type, another person or an unknown id). */
mdt_rc mdt_device_request(mdt_env *env, mdt_req *req, const char *request_id, const char *username,
                          mdt_device_view *out, mdt_err *err) MDT_WARN_UNUSED;
/* username allows or denies the device request request_id, through the
 * one decision path of approval requests (iga/requests.h); out->status
 * is the request's status afterwards: pending while routing waits for more
 * approvers. */
mdt_rc mdt_device_decide(mdt_env *env, mdt_req *req, const char *request_id, const char *username,
                         bool allow, mdt_device_view *out, mdt_err *err) MDT_WARN_UNUSED;

#endif
