/* Decisions counted per node and minute (pep/tally.h). */
#include "pep/tally.h"

#include <string.h>

#include "core/log.h"

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* The slot of key: found, or claimed when free; the "(other)" slot when
 * the table is full, the key too long or another thread is claiming. */
static mdt_tally_slot *slot_of(mdt_tally *t, const char *key)
{
    size_t n = strlen(key), start;

    if (n == 0 || n >= MDT_TALLY_KEY_MAX)
        return &t->slots[MDT_TALLY_SLOTS];
    start = fnv(key) % MDT_TALLY_SLOTS;
    for (size_t i = 0; i < MDT_TALLY_SLOTS; i++) {
        mdt_tally_slot *s = &t->slots[(start + i) % MDT_TALLY_SLOTS];
        int st = atomic_load(&s->state), free_state = 0;
        if (st == 2 && strcmp(s->key, key) == 0)
            return s;
        if (st == 1)
            return &t->slots[MDT_TALLY_SLOTS];
        if (st == 0 && atomic_compare_exchange_strong(&s->state, &free_state, 1)) {
            memcpy(s->key, key, n + 1);
            atomic_store(&s->state, 2);
            return s;
        }
        if (st == 0) /* lost the claim: look at it again */
            i--;
    }
    return &t->slots[MDT_TALLY_SLOTS];
}

/* Moves the counts out of s into b as one element of "counts". */
static mdt_rc flush_slot(mdt_tally *t, mdt_tally_slot *s, const char *key, mdt_buf *b, bool *first)
{
    long long c[MDT_TALLY_OUTCOMES], sum = 0;
    mdt_rc rc;

    for (size_t k = 0; k < MDT_TALLY_OUTCOMES; k++)
        sum += c[k] = atomic_exchange(&s->counts[k], 0);
    if (!sum)
        return MDT_OK;
    if ((rc = mdt_buf_addf(b, "%s{\"%s\":", *first ? "" : ",", t->key_name)) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, key)) != MDT_OK)
        return rc;
    *first = false;
    for (size_t k = 0; k < MDT_TALLY_OUTCOMES; k++)
        if (t->outcomes[k] && (rc = mdt_buf_addf(b, ",\"%s\":%lld", t->outcomes[k], c[k])) != MDT_OK)
            return rc;
    return mdt_buf_adds(b, "}");
}

/* Without keys: the outcomes as members of the data. */
static mdt_rc flush_flat(mdt_tally *t, mdt_buf *b, bool *first)
{
    mdt_tally_slot *s = &t->slots[MDT_TALLY_SLOTS];
    mdt_rc rc = MDT_OK;

    for (size_t k = 0; rc == MDT_OK && k < MDT_TALLY_OUTCOMES; k++) {
        long long c = atomic_exchange(&s->counts[k], 0);
        *first = *first && c == 0;
        if (t->outcomes[k])
            rc = mdt_buf_addf(b, ",\"%s\":%lld", t->outcomes[k], c);
    }
    return rc == MDT_OK ? mdt_buf_adds(b, "}") : rc;
}

static void flush(mdt_tally *t, mdt_req *req, long long minute)
{
    mdt_buf b;
    bool first = true;
    mdt_rc rc;
    mdt_err err = {0};

    mdt_buf_init(&b, 1 << 20);
    if (!t->key_name) {
        rc = mdt_buf_addf(&b, "{\"minute\":%lld", minute * 60);
        if (rc == MDT_OK)
            rc = flush_flat(t, &b, &first);
    } else {
        rc = mdt_buf_addf(&b, "{\"minute\":%lld,\"counts\":[", minute * 60);
        for (size_t i = 0; rc == MDT_OK && i < MDT_TALLY_SLOTS; i++)
            if (atomic_load(&t->slots[i].state) == 2)
                rc = flush_slot(t, &t->slots[i], t->slots[i].key, &b, &first);
        if (rc == MDT_OK)
            rc = flush_slot(t, &t->slots[MDT_TALLY_SLOTS], "(other)", &b, &first);
        if (rc == MDT_OK)
            rc = mdt_buf_adds(&b, "]}");
    }
    if (rc == MDT_OK && !first && minute > 0) {
        mdt_audit_event ev = {.type = t->event, .actor = t->actor,
                              .data = mdt_arena_strdup(req->arena, b.data)};
        if (!ev.data || mdt_ctx_audit(&req->ctx, &ev, &err) != MDT_OK)
            MDT_WARN("%s of a minute not audited: %s", t->event, mdt_err_text(&err));
    }
    mdt_buf_free(&b);
}

void mdt_tally_add(mdt_tally *t, mdt_req *req, const char *key, size_t outcome, long long n)
{
    long long m = req->now / 60, seen = atomic_load(&t->minute);

    if (m != seen && atomic_compare_exchange_strong(&t->minute, &seen, m))
        flush(t, req, seen);
    if (outcome < MDT_TALLY_OUTCOMES && n)
        atomic_fetch_add(&slot_of(t, key && t->key_name ? key : "")->counts[outcome], n);
}

void mdt_tally_count(mdt_tally *t, mdt_req *req, const char *key, size_t outcome)
{
    mdt_tally_add(t, req, key, outcome, 1);
}
