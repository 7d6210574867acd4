/* Decisions counted per node and minute, so that a hot path audits one
 * event a minute rather than one per request: counts per key (e.g. a
 * resource) and outcome, in fixed slots updated with atomics (no lock).
 * The first count of a new minute records the previous minute's counts as
 * one audit event in that request's context. */
#ifndef MDT_PEP_TALLY_H
#define MDT_PEP_TALLY_H

#include <stdatomic.h>
#include <stddef.h>

#include "msg/msg.h"

#define MDT_TALLY_SLOTS 64    /* distinct keys counted; more fall into "(other)" */
#define MDT_TALLY_KEY_MAX 256 /* bytes of a key, NUL included; longer keys are "(other)" */
#define MDT_TALLY_OUTCOMES 4

typedef struct {
    atomic_int state; /* 0 free, 1 being claimed, 2 in use */
    char key[MDT_TALLY_KEY_MAX];
    atomic_llong counts[MDT_TALLY_OUTCOMES];
} mdt_tally_slot;

/* Static storage, zero-initialised but for its names:
 *   static mdt_tally t = {.event = "x.decisions", .actor = "x",
 *                         .outcomes = {"allow", "deny"}, .key_name = "resource"}; */
typedef struct {
    const char *event;                          /* the audit event's type */
    const char *actor;
    const char *key_name;                       /* member naming the key in the event; NULL:
                                                   one count per outcome, no keys */
    const char *outcomes[MDT_TALLY_OUTCOMES];   /* names of the outcomes counted (NULL: unused) */
    atomic_llong minute;                        /* the minute counted (seconds / 60) */
    mdt_tally_slot slots[MDT_TALLY_SLOTS + 1];  /* the last one: "(other)" */
} mdt_tally;

/* Counts one decision of outcome (an index into t->outcomes) for key at
 * req->now; on the first count of a new minute, records the previous
 * minute's counts in req's context as {"minute", "counts": [{key_name:
 * key, outcome: n, ...}, ...]}, the keys without traffic left out. */
void mdt_tally_count(mdt_tally *t, mdt_req *req, const char *key, size_t outcome);
/* The same, n at once. Without key_name (key NULL) the event's data is
 * {"minute", outcome: n, ...}, the outcomes in their order. */
void mdt_tally_add(mdt_tally *t, mdt_req *req, const char *key, size_t outcome, long long n);

#endif
