/* Lists of clients (iga/client_query.h): the pure filter, sort and paging
 * of mdt_client_query_select, and mdt_client_query over a real SQLite store
 * (effective status, last use of credentials). */
#include "unit.h"

#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "app/env.h"
#include "test_ctx.h"
#include "core/arena.h"
#include "iga/client.h"
#include "iga/client_query.h"
#include "store/store.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

static const mdt_client_summary seed[] = {
    {"c1", "Zeta", "agent", "alice", "active", "high", 100, 0, 0},
    {"c2", "alpha", "service", "bob", "suspended", "low", 300, 0, 50},
    {"c3", "", "agent", "", "active", "medium", 200, 0, 70},
    {"c4", "Beta", "web", "alice", "expired", "medium", 200, 150, 0},
    {"c5", "gamma", "agent", "bob", "pending", "low", 50, 0, 60},
};
#define NSEED MDT_ARRAY_LEN(seed)

/* The ids of the page of f over a fresh copy of seed, joined by ','. */
static const char *ids(mdt_arena *a, const mdt_client_filter *f, mdt_client_page *p)
{
    mdt_client_summary *all = mdt_arena_alloc(a, sizeof(seed));
    const char *s = "";
    mdt_err err = {0};

    assert_non_null(all);
    memcpy(all, seed, sizeof(seed));
    assert_int_equal(mdt_client_filter_check(f, &err), MDT_OK);
    assert_int_equal(mdt_client_query_select(f, all, NSEED, a, p, &err), MDT_OK);
    for (size_t i = 0; i < p->n; i++)
        s = mdt_arena_printf(a, "%s%s%s", s, i ? "," : "", p->items[i].client_id);
    return s;
}

static void test_filters(void **state)
{
    mdt_arena a;
    mdt_client_page p;
    (void)state;

    mdt_arena_init(&a, 4096);
    assert_string_equal(ids(&a, &(mdt_client_filter){0}, &p), "c1,c2,c3,c4,c5");
    assert_int_equal(p.total, 5);
    assert_int_equal(p.next, -1);
    assert_string_equal(ids(&a, &(mdt_client_filter){.kind = "agent"}, &p), "c1,c3,c5");
    assert_string_equal(ids(&a, &(mdt_client_filter){.owner = "alice"}, &p), "c1,c4");
    assert_string_equal(ids(&a, &(mdt_client_filter){.owner = MDT_CLIENT_QUERY_OWNER_NONE}, &p),
                        "c3");
    assert_string_equal(ids(&a, &(mdt_client_filter){.status = "active"}, &p), "c1,c3");
    assert_string_equal(ids(&a, &(mdt_client_filter){.tier = "low"}, &p), "c2,c5");
    /* filters combine, and "" means any */
    assert_string_equal(ids(&a, &(mdt_client_filter){.kind = "agent", .tier = "low", .owner = ""},
                            &p),
                        "c5");
    assert_string_equal(ids(&a, &(mdt_client_filter){.kind = "cli"}, &p), "");
    assert_int_equal(p.total, 0);
    assert_null(p.items);
    mdt_arena_free(&a);
}

static void test_sort(void **state)
{
    mdt_arena a;
    mdt_client_page p;
    (void)state;

    mdt_arena_init(&a, 4096);
    /* names case-insensitively, a client without a name by its id */
    assert_string_equal(ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_NAME}, &p),
                        "c2,c4,c3,c5,c1");
    assert_string_equal(ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_NAME, .desc = true},
                            &p),
                        "c1,c5,c3,c4,c2");
    /* ties by client_id ascending, in both orders */
    assert_string_equal(ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_CREATED}, &p),
                        "c5,c1,c3,c4,c2");
    assert_string_equal(
        ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_CREATED, .desc = true}, &p),
        "c2,c3,c4,c1,c5");
    /* tiers by rank, not alphabetically */
    assert_string_equal(ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_TIER}, &p),
                        "c2,c5,c3,c4,c1");
    assert_string_equal(ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_OWNER}, &p),
                        "c3,c1,c4,c2,c5");
    assert_string_equal(ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_STATUS}, &p),
                        "c1,c3,c4,c5,c2");
    assert_string_equal(ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_KIND}, &p),
                        "c1,c3,c5,c2,c4");
    assert_string_equal(
        ids(&a, &(mdt_client_filter){.sort = MDT_CLIENT_SORT_LAST_USED, .desc = true}, &p),
        "c3,c5,c2,c1,c4");
    /* sorting after filtering */
    assert_string_equal(
        ids(&a, &(mdt_client_filter){.kind = "agent", .sort = MDT_CLIENT_SORT_CREATED}, &p),
        "c5,c1,c3");
    mdt_arena_free(&a);
}

static void test_pages(void **state)
{
    mdt_arena a;
    mdt_client_page p;
    (void)state;

    mdt_arena_init(&a, 4096);
    assert_string_equal(ids(&a, &(mdt_client_filter){.limit = 2}, &p), "c1,c2");
    assert_int_equal(p.next, 2);
    assert_int_equal(p.total, 5);
    assert_string_equal(ids(&a, &(mdt_client_filter){.limit = 2, .offset = 2}, &p), "c3,c4");
    assert_int_equal(p.next, 4);
    assert_string_equal(ids(&a, &(mdt_client_filter){.limit = 2, .offset = 4}, &p), "c5");
    assert_int_equal(p.next, -1);
    /* a page that ends exactly at the end has no next */
    assert_string_equal(ids(&a, &(mdt_client_filter){.limit = 5}, &p), "c1,c2,c3,c4,c5");
    assert_int_equal(p.next, -1);
    assert_string_equal(ids(&a, &(mdt_client_filter){.limit = 4, .offset = 1}, &p),
                        "c2,c3,c4,c5");
    assert_int_equal(p.next, -1);
    /* past the end: an empty page, still with the total */
    assert_string_equal(ids(&a, &(mdt_client_filter){.limit = 2, .offset = 5}, &p), "");
    assert_int_equal(p.next, -1);
    assert_int_equal(p.total, 5);
    assert_string_equal(ids(&a, &(mdt_client_filter){.offset = 99}, &p), "");
    /* paging applies to the filtered, sorted list */
    assert_string_equal(ids(&a,
                            &(mdt_client_filter){.kind = "agent", .sort = MDT_CLIENT_SORT_NAME,
                                                 .limit = 2, .offset = 1},
                            &p),
                        "c5,c1");
    assert_int_equal(p.total, 3);
    assert_int_equal(p.next, -1);
    mdt_arena_free(&a);
}

static void test_check(void **state)
{
    mdt_err err = {0};
    (void)state;

    assert_int_equal(mdt_client_filter_check(&(mdt_client_filter){.kind = "robot"}, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_string_equal(err.msg, "kind must be agent, service, web, native or cli");
    assert_int_equal(mdt_client_filter_check(&(mdt_client_filter){.status = "gone"}, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_client_filter_check(&(mdt_client_filter){.tier = "extreme"}, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_client_filter_check(&(mdt_client_filter){.sort = MDT_CLIENT_SORT_UNKNOWN},
                                             &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_client_filter_check(&(mdt_client_filter){.limit = 201}, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_client_filter_check(&(mdt_client_filter){.limit = 200}, &err), MDT_OK);
    char owner[80];
    memset(owner, 'o', sizeof(owner) - 1);
    owner[sizeof(owner) - 1] = '\0';
    assert_int_equal(mdt_client_filter_check(&(mdt_client_filter){.owner = owner}, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_client_sort_from_name(NULL), MDT_CLIENT_SORT_ID);
    assert_int_equal(mdt_client_sort_from_name(""), MDT_CLIENT_SORT_ID);
    assert_int_equal(mdt_client_sort_from_name("tier"), MDT_CLIENT_SORT_TIER);
    assert_int_equal(mdt_client_sort_from_name("last_used"), MDT_CLIENT_SORT_LAST_USED);
    assert_int_equal(mdt_client_sort_from_name("name; drop"), MDT_CLIENT_SORT_UNKNOWN);
    for (int s = MDT_CLIENT_SORT_ID; s < MDT_CLIENT_SORT_UNKNOWN; s++)
        assert_int_equal(mdt_client_sort_from_name(mdt_client_sort_name((mdt_client_sort)s)), s);
    assert_null(mdt_client_sort_name(MDT_CLIENT_SORT_UNKNOWN));
}

/* Over the store: the summary of each client, its effective status and the
 * last use of its credentials. */
static void test_query_store(void **state)
{
    test_env *f = calloc(1, sizeof(*f));
    const char *metas[] = {
        "{\"client_name\":\"Old <b>\",\"kind\":\"agent\",\"owner\":\"alice\",\"risk_tier\":\"high\"}",
        "{\"client_name\":\"Later\",\"kind\":\"service\",\"expires_at\":\"2026-01-01T00:01:00Z\"}",
    };
    const char *cid[2], *resp;
    mdt_client_page p;
    mdt_cred_rec *creds;
    size_t n;
    (void)state;

    assert_non_null(f);
    test_env_open(f, "mdt_client_query", T0, "test");
    {
        mdt_user_rec u = {.username = "alice", .name = "", .email = "", .roles = "",
                          .status = "active", .password_hash = "x", .created_at = T0,
                          .updated_at = T0};
        assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK); /* the owner */
    }
    for (int i = 0; i < 2; i++) {
        f->clk.t = T0 + i;
        assert_int_equal(test_ctx_done(&f->tc, mdt_client_create(&f->env, test_ctx_now(&f->tc),
                                                                 metas[i], strlen(metas[i]), &f->a,
                                                                 &resp, &f->err)),
                         MDT_OK);
        json_t *r = json_loads(resp, 0, NULL);
        cid[i] = mdt_arena_strdup(&f->a, json_string_value(json_object_get(r, "client_id")));
        json_decref(r);
    }
    assert_int_equal(mdt_store_cred_list(f->env.store, cid[0], &f->a, &creds, &n, &f->err), MDT_OK);
    assert_true(n >= 1);
    assert_int_equal(mdt_store_cred_touch(f->env.store, creds[0].id, T0 + 30, &f->err), MDT_OK);

    f->clk.t = T0 + 120; /* the second has expired */
    assert_int_equal(mdt_client_query(&f->env, test_ctx_now(&f->tc),
                                      &(mdt_client_filter){.sort = MDT_CLIENT_SORT_CREATED}, &f->a,
                                      &p, &f->err),
                     MDT_OK);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[0].client_id, cid[0]);
    assert_string_equal(p.items[0].name, "Old <b>");
    assert_string_equal(p.items[0].kind, "agent");
    assert_string_equal(p.items[0].owner, "alice");
    assert_string_equal(p.items[0].tier, "high");
    assert_string_equal(p.items[0].status, "active");
    assert_int_equal(p.items[0].created_at, T0);
    assert_int_equal(p.items[0].last_used_at, T0 + 30);
    assert_string_equal(p.items[1].status, "expired");
    assert_string_equal(p.items[1].owner, "");
    assert_string_equal(p.items[1].tier, "medium"); /* the default */
    assert_int_equal(p.items[1].last_used_at, 0);

    assert_int_equal(mdt_client_query(&f->env, test_ctx_now(&f->tc),
                                      &(mdt_client_filter){.status = "expired"}, &f->a, &p, &f->err),
                     MDT_OK);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].client_id, cid[1]);
    assert_int_equal(mdt_client_query(&f->env, test_ctx_now(&f->tc),
                                      &(mdt_client_filter){.kind = "bot"}, &f->a, &p, &f->err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(p.n, 0);
    test_env_close(f);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters),    cmocka_unit_test(test_sort),
        cmocka_unit_test(test_pages),      cmocka_unit_test(test_check),
        cmocka_unit_test(test_query_store),
    };
    return cmocka_run_group_tests_name("client_query", tests, NULL, NULL);
}
