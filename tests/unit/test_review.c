/* Access reviews: the rules of each kind of finding at injected times, the
 * stable ids (src/iga/review.c), and the in-memory usage table that feeds
 * them (src/iga/usage.c): counting, taking a batch, and its bound. */
#include "unit.h"

#include <jansson.h>

#include "app/env.h"
#include "core/arena.h"
#include "iga/review.h"
#include "iga/usage.h"
#include "store/store.h"
#include "test_ctx.h"

#define DAY 86400
#define NOW (20000 * (int64_t)DAY)

static const mdt_review_policy policy = {.unused_after = 90 * DAY, .rotation_after = 90 * DAY,
                                         .grace = 7 * DAY};

/* A healthy active client: owner active, used today, young secret. */
static const mdt_review_grant grants2[] = {
    {.scope = "read", .granted_at = NOW - 400 * DAY},
    {.scope = "write", .granted_at = NOW - 400 * DAY},
};
static mdt_cred_rec creds1[] = {
    {.id = "cred_s", .type = "secret", .created_at = NOW - 10 * DAY, .last_used_at = NOW - 60},
};
static mdt_usage_scope_rec usage2[] = {
    {.client_id = "c1", .scope = "read", .last_used_at = NOW - 60},
    {.client_id = "c1", .scope = "write", .last_used_at = NOW - 60},
};

static mdt_review_facts healthy(void)
{
    return (mdt_review_facts){
        .client_id = "c1", .status = "active", .created_at = NOW - 400 * DAY,
        .owner = "alice", .owner_state = MDT_OWNER_ACTIVE, .risk_tier = "medium",
        .grants = grants2, .ngrants = 2, .creds = creds1, .ncreds = 1,
        .usage = usage2, .nusage = 2, .ever_issued = true,
    };
}

/* The findings of f that hold, kinds as names joined by ' ' (objects in []). */
static const char *holding(mdt_arena *a, const mdt_review_facts *f, int64_t now)
{
    mdt_finding *l = NULL;
    size_t n = 0;
    mdt_err err = {0};
    const char *s = "";

    assert_int_equal(mdt_review_rules(f, &policy, now, a, &l, &n, &err), MDT_OK);
    for (size_t i = 0; i < n; i++)
        if (l[i].holds)
            s = mdt_arena_printf(a, "%s%s%s%s%s%s", s, *s ? " " : "",
                                 mdt_finding_kind_name(l[i].kind), l[i].object[0] ? "[" : "",
                                 l[i].object, l[i].object[0] ? "]" : "");
    return s;
}

/* The end of a certification as the CLI, the pages and the admin API take
 * it: a date, an RFC 3339 time, or a duration from now. */
static void test_until_parse(void **state)
{
    const int64_t now = 1796000000;
    int64_t t = 0;
    (void)state;

    assert_true(mdt_review_until_parse("2027-03-31", now, &t));
    assert_int_equal(t, 1806451200); /* 2027-03-31T00:00:00Z */
    assert_true(mdt_review_until_parse("2027-03-31T12:00:00Z", now, &t));
    assert_int_equal(t, 1806451200 + 12 * 3600);
    assert_true(mdt_review_until_parse("90d", now, &t));
    assert_int_equal(t, now + 90 * 86400);
    assert_true(mdt_review_until_parse("15m", now, &t));
    assert_int_equal(t, now + 900);
    assert_false(mdt_review_until_parse(NULL, now, &t));
    assert_false(mdt_review_until_parse("", now, &t));
    assert_false(mdt_review_until_parse("0s", now, &t));
    assert_false(mdt_review_until_parse("2027-13-45", now, &t));
    assert_false(mdt_review_until_parse("tomorrow", now, &t));
    assert_false(mdt_review_until_parse("2027-03-31x", now, &t));
}

static void test_healthy_client_has_none(void **state)
{
    mdt_arena a;
    mdt_review_facts f = healthy();

    (void)state;
    mdt_arena_init(&a, 8192);
    assert_string_equal(holding(&a, &f, NOW), "");
    mdt_arena_free(&a);
}

static void test_ownerless(void **state)
{
    mdt_arena a;
    mdt_review_facts f = healthy();
    mdt_finding *l = NULL;
    size_t n = 0;
    mdt_err err = {0};

    (void)state;
    mdt_arena_init(&a, 8192);
    f.owner = NULL;
    f.owner_state = MDT_OWNER_ABSENT;
    assert_string_equal(holding(&a, &f, NOW), "ownerless");
    f.owner = "ghost";
    f.owner_state = MDT_OWNER_UNKNOWN;
    assert_string_equal(holding(&a, &f, NOW), "ownerless");
    f.owner_state = MDT_OWNER_DISABLED;
    f.owner_disabled_at = NOW - 5;
    assert_int_equal(mdt_review_rules(&f, &policy, NOW, &a, &l, &n, &err), MDT_OK);
    assert_int_equal(l[0].kind, MDT_FINDING_OWNERLESS);
    assert_true(l[0].holds);
    assert_int_equal(l[0].since, NOW - 5);
    assert_string_equal(l[0].detail, "owner ghost is disabled");
    /* a suspended client: its remedy is in force already */
    f.status = "suspended";
    assert_string_equal(holding(&a, &f, NOW), "");
    mdt_arena_free(&a);
}

static void test_unused_entitlement(void **state)
{
    mdt_arena a;
    mdt_review_facts f = healthy();
    mdt_usage_scope_rec u[] = {{.client_id = "c1", .scope = "read", .last_used_at = NOW - 91 * DAY}};
    mdt_finding *l = NULL;
    size_t n = 0;
    mdt_err err = {0};

    (void)state;
    mdt_arena_init(&a, 8192);
    f.usage = u;
    f.nusage = 1;
    /* read last used 91 days ago; write never (granted 400 days ago) */
    assert_string_equal(holding(&a, &f, NOW), "unused_entitlement[read] unused_entitlement[write]");
    assert_int_equal(mdt_review_rules(&f, &policy, NOW, &a, &l, &n, &err), MDT_OK);
    assert_int_equal(l[1].since, NOW - DAY);                 /* 91 - 90 days ago */
    assert_int_equal(l[2].since, NOW - 310 * DAY);           /* created + 90 days */
    /* a day earlier, read was still in use */
    assert_string_equal(holding(&a, &f, NOW - 2 * DAY), "unused_entitlement[write]");
    /* a dynamic entitlement counts from its approval, and is named by its id */
    mdt_review_grant g[] = {
        {.scope = "write", .granted_at = NOW - 10 * DAY, .entitlement_id = "ent_1"},
        {.scope = "read", .granted_at = NOW - 400 * DAY},
    };
    f.grants = g;
    f.ngrants = 2;
    assert_string_equal(holding(&a, &f, NOW), "unused_entitlement[read]");
    assert_string_equal(holding(&a, &f, NOW + 81 * DAY),
                        "unused_entitlement[ent_1] unused_entitlement[read] "
                        "old_credential[cred_s]"); /* the secret is 91 days old by then */
    /* a client younger than unused_after is not reported */
    f.created_at = NOW - 89 * DAY;
    assert_string_equal(holding(&a, &f, NOW), "");
    mdt_arena_free(&a);
}

static void test_credentials(void **state)
{
    mdt_arena a;
    mdt_review_facts f = healthy();
    mdt_cred_rec c[] = {
        {.id = "cred_old", .type = "secret", .created_at = NOW - 100 * DAY, .last_used_at = NOW},
        {.id = "cred_gone", .type = "api_key", .created_at = NOW - 200 * DAY, .expires_at = NOW - 1},
        {.id = "cred_jwk", .type = "jwk", .created_at = NOW - 300 * DAY},
    };

    (void)state;
    mdt_arena_init(&a, 8192);
    f.creds = c;
    f.ncreds = 3;
    assert_string_equal(holding(&a, &f, NOW), "old_credential[cred_old]");
    /* 11 days earlier: cred_old was 89 days old, and cred_gone still live */
    assert_string_equal(holding(&a, &f, NOW - 11 * DAY), "old_credential[cred_gone]");
    f.risk_tier = "high";
    assert_string_equal(holding(&a, &f, NOW), "old_credential[cred_old] symmetric_on_high_tier");
    c[0].expires_at = NOW; /* expired at now: nothing symmetric is live */
    assert_string_equal(holding(&a, &f, NOW), "");
    mdt_arena_free(&a);
}

static void test_never_authenticated(void **state)
{
    mdt_arena a;
    mdt_review_facts f = healthy();
    mdt_cred_rec c[] = {
        {.id = "cred_s", .type = "secret", .created_at = NOW - 8 * DAY},
        {.id = "cred_rat", .type = "registration", .created_at = NOW - 8 * DAY, .last_used_at = NOW},
    };

    (void)state;
    mdt_arena_init(&a, 8192);
    f.created_at = NOW - 8 * DAY;
    f.creds = c;
    f.ncreds = 2;
    f.ever_issued = false;
    f.usage = NULL;
    f.nusage = 0;
    /* using the registration access token is not authenticating */
    assert_string_equal(holding(&a, &f, NOW), "never_authenticated");
    assert_string_equal(holding(&a, &f, NOW - 2 * DAY), ""); /* within the grace */
    f.ever_issued = true; /* a public client that got tokens */
    assert_string_equal(holding(&a, &f, NOW), "");
    f.ever_issued = false;
    c[0].last_used_at = NOW - DAY;
    assert_string_equal(holding(&a, &f, NOW), "");
    mdt_arena_free(&a);
}

static void test_expired_with_refresh_tokens(void **state)
{
    mdt_arena a;
    mdt_review_facts f = healthy();

    (void)state;
    mdt_arena_init(&a, 8192);
    f.status = "expired";
    f.expires_at = NOW - DAY;
    f.owner_state = MDT_OWNER_DISABLED;
    assert_string_equal(holding(&a, &f, NOW), ""); /* none live */
    f.live_refresh = 2;
    assert_string_equal(holding(&a, &f, NOW), "expired_with_refresh_tokens");
    mdt_arena_free(&a);
}

static void test_ids_are_stable_and_distinct(void **state)
{
    char a[MDT_FINDING_ID_LEN + 1], b[MDT_FINDING_ID_LEN + 1], c[MDT_FINDING_ID_LEN + 1];

    (void)state;
    mdt_finding_id(MDT_FINDING_UNUSED_ENTITLEMENT, "c1", "read", a);
    mdt_finding_id(MDT_FINDING_UNUSED_ENTITLEMENT, "c1", "read", b);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), MDT_FINDING_ID_LEN);
    assert_memory_equal(a, "fnd_", 4);
    mdt_finding_id(MDT_FINDING_UNUSED_ENTITLEMENT, "c1", "write", c);
    assert_string_not_equal(a, c);
    mdt_finding_id(MDT_FINDING_UNUSED_ENTITLEMENT, "c1\nread", "", c); /* no ambiguity by joining */
    assert_string_not_equal(a, c);
    mdt_finding_id(MDT_FINDING_OLD_CREDENTIAL, "c1", "read", c);
    assert_string_not_equal(a, c);
    assert_null(mdt_finding_kind_name(MDT_FINDING_KIND_COUNT));
}

/* ------------------------------------------------------------ usage table */

static void test_usage_table(void **state)
{
    mdt_usage *u = NULL;
    mdt_err err = {0};
    mdt_arena a;
    mdt_usage_scope_rec *sc = NULL;
    mdt_usage_day_rec *d = NULL;
    size_t nsc = 0, nd = 0;

    (void)state;
    mdt_arena_init(&a, 8192);
    assert_int_equal(mdt_usage_new(100, &u, &err), MDT_OK);
    for (int i = 0; i < 1000; i++)
        assert_true(mdt_usage_add(u, "c1", i % 2 ? "read  write" : "read", NOW + i));
    assert_true(mdt_usage_add(u, "c2", NULL, NOW + DAY)); /* next day, no scope */
    assert_int_equal(mdt_usage_size(u), 4); /* c1 day, c1 read, c1 write, c2 day */
    assert_int_equal(mdt_usage_take(u, &a, &sc, &nsc, &d, &nd, &err), MDT_OK);
    assert_int_equal(nsc, 2);
    assert_int_equal(nd, 2);
    assert_int_equal(mdt_usage_size(u), 0);
    for (size_t i = 0; i < nsc; i++) {
        assert_string_equal(sc[i].client_id, "c1");
        assert_int_equal(sc[i].last_used_at, strcmp(sc[i].scope, "read") == 0 ? NOW + 999
                                                                              : NOW + 999);
    }
    for (size_t i = 0; i < nd; i++) {
        if (strcmp(d[i].client_id, "c1") == 0) {
            assert_int_equal(d[i].tokens, 1000);
            assert_int_equal(d[i].day, NOW / DAY);
            assert_int_equal(d[i].last_used_at, NOW + 999);
        } else {
            assert_int_equal(d[i].tokens, 1);
            assert_int_equal(d[i].day, NOW / DAY + 1);
        }
    }
    assert_int_equal(mdt_usage_take(u, &a, &sc, &nsc, &d, &nd, &err), MDT_OK);
    assert_int_equal(nsc + nd, 0);
    assert_int_equal(mdt_usage_dropped(u), 0);
    mdt_usage_free(u);
    mdt_arena_free(&a);
}

/* Bounded: past max entries new pairs are dropped and counted; pairs
 * already counted still count. */
static void test_usage_table_bounded(void **state)
{
    mdt_usage *u = NULL;
    mdt_err err = {0};
    mdt_arena a;
    mdt_usage_scope_rec *sc = NULL;
    mdt_usage_day_rec *d = NULL;
    size_t nsc = 0, nd = 0;
    char cid[32];

    (void)state;
    mdt_arena_init(&a, 8192);
    assert_int_equal(mdt_usage_new(4, &u, &err), MDT_OK);
    assert_true(mdt_usage_add(u, "c1", "a b", NOW));  /* 3 entries */
    assert_true(mdt_usage_add(u, "c2", NULL, NOW));   /* 4 */
    for (int i = 0; i < 50; i++) {
        snprintf(cid, sizeof(cid), "x%d", i);
        assert_false(mdt_usage_add(u, cid, NULL, NOW));
    }
    assert_int_equal(mdt_usage_dropped(u), 50);
    assert_true(mdt_usage_add(u, "c1", "a b", NOW + 1)); /* known pairs still count */
    assert_int_equal(mdt_usage_size(u), 4);
    assert_int_equal(mdt_usage_take(u, &a, &sc, &nsc, &d, &nd, &err), MDT_OK);
    assert_int_equal(nsc, 2);
    assert_int_equal(nd, 2);
    assert_true(mdt_usage_add(u, "x1", NULL, NOW)); /* room again after the take */
    mdt_usage_wake(u);
    mdt_usage_wait(u, 5); /* returns at once: woken */
    mdt_usage_free(u);
    mdt_arena_free(&a);
}

/* The batch written by mdt_usage_flush, read back as one client's usage:
 * last uses per scope, and tokens per day over the asked days, zeros
 * included. */
static void test_usage_flush_and_client_json(void **state)
{
    test_env f;
    const char *json = NULL;
    json_t *doc, *daily;

    (void)state;
    memset(&f, 0, sizeof(f));
    test_env_open(&f, "mdt_review", NOW + 3600, "test");
    assert_int_equal(mdt_usage_new(64, &f.env.usage, &f.err), MDT_OK);
    mdt_usage_note(&f.env, "c1", "read", NOW - DAY + 10);
    mdt_usage_note(&f.env, "c1", "read write", NOW + 60);
    mdt_usage_note(&f.env, "c1", "read", NOW + 120);
    mdt_usage_note(&f.env, "c2", "read", NOW + 120);
    assert_int_equal(mdt_usage_flush(&f.env, &f.err), MDT_OK);
    assert_int_equal(mdt_usage_size(f.env.usage), 0);
    mdt_usage_note(&f.env, "c1", "read", NOW + 180); /* a second batch adds */
    assert_int_equal(mdt_usage_flush(&f.env, &f.err), MDT_OK);
    assert_int_equal(mdt_usage_client_json(&f.env, test_ctx_now(&f.tc), "c1", 3, &f.a, &json,
                                           &f.err),
                     MDT_OK);
    doc = json_loads(json, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "client_id")), "c1");
    assert_int_equal(json_array_size(json_object_get(doc, "scopes")), 2);
    daily = json_object_get(doc, "daily");
    assert_int_equal(json_array_size(daily), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(daily, 0), "tokens")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(daily, 1), "tokens")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(daily, 2), "tokens")), 3);
    assert_non_null(json_string_value(json_object_get(doc, "last_used_at")));
    json_decref(doc);
    assert_int_equal(mdt_usage_client_json(&f.env, test_ctx_now(&f.tc), "c1", 0, &f.a, &json,
                                           &f.err),
                     MDT_ERR_INVALID_REQUEST);
    mdt_usage_free(f.env.usage);
    f.env.usage = NULL;
    mdt_usage_note(&f.env, "c1", "read", NOW); /* no table: nothing, no crash */
    test_env_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_until_parse),
        cmocka_unit_test(test_healthy_client_has_none),
        cmocka_unit_test(test_ownerless),
        cmocka_unit_test(test_unused_entitlement),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_never_authenticated),
        cmocka_unit_test(test_expired_with_refresh_tokens),
        cmocka_unit_test(test_ids_are_stable_and_distinct),
        cmocka_unit_test(test_usage_table),
        cmocka_unit_test(test_usage_table_bounded),
        cmocka_unit_test(test_usage_flush_and_client_json),
    };
    return cmocka_run_group_tests_name("review", tests, NULL, NULL);
}
