/* seed: appends audit events to a store's chain for `make bench`'s seeded
 * runs, as the server's writer appends them: the newest token.issued event
 * is the template, each copy gets a fresh jti of the same length, and the
 * store assigns seq and prev_hash and asks for each event's hash inside the
 * transaction (HMAC-SHA256 under the audit key when the log is keyed), so
 * that `mandate audit verify` passes afterwards. Events go in batches of
 * BATCH per transaction; the SQLite checkpointer runs meanwhile, so the
 * write-ahead log stays bounded. Bounded in count.
 * Usage: seed DATABASE_URL AUDIT_KEY_FILE|- EVENTS */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/mdt.h"
#include "keys/audit_key.h"
#include "store/store.h"

#define BATCH 5000
#define EVENTS_MAX 10000000L

static const uint8_t *chain_key;

static void seed_hash(mdt_audit_rec *ev)
{
    mdt_err err = {0};
    mdt_rc rc = chain_key ? mdt_audit_mac(chain_key, ev, ev->hash, &err)
                          : mdt_audit_hash(ev, ev->hash, &err);

    if (rc != MDT_OK) {
        fprintf(stderr, "seed: hash: %s\n", mdt_err_text(&err));
        exit(1);
    }
}

typedef struct {
    mdt_audit_rec rec;
    char *type, *body, *client_id;
} template_ev;

static bool take_template(const mdt_audit_rec *ev, void *ctx)
{
    template_ev *t = ctx;

    if (strcmp(ev->type, "token.issued") != 0)
        return true;
    free(t->type);
    free(t->body);
    free(t->client_id);
    t->rec = *ev;
    t->type = strdup(ev->type);
    t->body = strdup(ev->body);
    t->client_id = ev->client_id ? strdup(ev->client_id) : NULL;
    return true;
}

int main(int argc, char **argv)
{
    mdt_err err = {0};
    mdt_store *s = NULL;
    mdt_audit_keys *keys = NULL;
    template_ev t = {0};
    mdt_audit_rec *recs = NULL;
    char **bodies = NULL;
    uint8_t head[MDT_HASH_LEN];
    int64_t seq = 0;
    long events, done = 0;
    char *jti;
    size_t jti_len = 0, jti_off = 0;
    int status = 1;

    if (argc != 4 || (events = strtol(argv[3], NULL, 10)) < 0 || events > EVENTS_MAX) {
        fprintf(stderr, "usage: seed DATABASE_URL AUDIT_KEY_FILE|- EVENTS (at most %ld)\n",
                EVENTS_MAX);
        return 2;
    }
    if (mdt_store_open(argv[1], &s, &err) != MDT_OK ||
        mdt_store_background_start(s, &err) != MDT_OK)
        goto out;
    if (strcmp(argv[2], "-") != 0) {
        if (mdt_audit_key_load(argv[2], &keys, &err) != MDT_OK)
            goto out;
        chain_key = keys->chain;
        mdt_store_set_audit_key(s, keys->chain);
    }
    if (mdt_store_audit_head(s, &seq, head, &err) != MDT_OK ||
        mdt_store_audit_each(s, seq > 1000 ? seq - 1000 : 0, 0, take_template, &t, &err) != MDT_OK)
        goto out;
    if (!t.body) {
        fprintf(stderr, "seed: no token.issued event to copy: issue a token first\n");
        goto out;
    }
    if ((jti = strstr(t.body, "\"jti\":\""))) {
        jti_off = (size_t)(jti - t.body) + 7;
        jti_len = strcspn(t.body + jti_off, "\"");
    }
    recs = calloc(BATCH, sizeof(*recs));
    bodies = calloc(BATCH, sizeof(*bodies));
    if (!recs || !bodies)
        goto out;
    for (size_t i = 0; i < BATCH; i++)
        if (!(bodies[i] = strdup(t.body)))
            goto out;
    while (done < events) {
        size_t n = (size_t)(events - done < BATCH ? events - done : BATCH);

        for (size_t i = 0; i < n; i++) {
            /* a fresh jti: the event's position in hex, right-aligned */
            char hex[64];
            long id = done + (long)i;

            if (jti_len) {
                int w = snprintf(hex, sizeof(hex), "%0*lx", (int)jti_len, (unsigned long)id);
                memcpy(bodies[i] + jti_off, hex + (size_t)w - jti_len, jti_len);
            }
            recs[i] = (mdt_audit_rec){.time = t.rec.time, .type = t.type, .body = bodies[i],
                                      .client_id = t.client_id};
        }
        if (mdt_store_audit_append(s, recs, n, seed_hash, &err) != MDT_OK)
            goto out;
        done += (long)n;
    }
    printf("%ld\n", done);
    status = 0;
out:
    if (status && mdt_err_text(&err)[0])
        fprintf(stderr, "seed: %s\n", mdt_err_text(&err));
    if (bodies)
        for (size_t i = 0; i < BATCH; i++)
            free(bodies[i]);
    free(bodies);
    free(recs);
    free(t.type);
    free(t.body);
    free(t.client_id);
    mdt_store_close(s);
    mdt_audit_keys_free(keys);
    return status;
}
