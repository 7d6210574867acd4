/* Internal to src/iga/: the uncached client read and the per-thread cache. */
#ifndef MDT_IGA_CLIENT_INTERNAL_H
#define MDT_IGA_CLIENT_INTERNAL_H

#include "iga/client.h"

/* Reads a client and its credentials from the store, status as stored. */
mdt_rc mdt_iga__client_read(mdt_env *env, const char *client_id, mdt_arena *a, mdt_client *out,
                            mdt_err *err) MDT_WARN_UNUSED;
const char *mdt_iga__effective_status(const char *status, int64_t expires_at, int64_t now);
/* The status of c (as stored) at now: also "expired" past expires_at or, for
 * a self-registered client, past its inactivity deadline. */
const char *mdt_iga__client_status(const mdt_env *env, const mdt_client *c, int64_t now);
/* Records in this thread's cache that a credential was just used. */
void mdt_iga__cache_touched(const char *client_id, const char *cred_id, int64_t now);

#endif
