/* Pushed authorization requests (RFC 9126): the request_uri parsing of
 * authorize.c and the single-use store operation behind it. */
#include "unit.h"

#include <stdio.h>
#include <unistd.h>

#include "core/arena.h"
#include "oauth/authorize.h"
#include "store/store.h"

static char g_dir[64];

static void test_request_id(void **state)
{
    char long_uri[200];

    (void)state;
    assert_string_equal(mdt_authz_request_id("urn:ietf:params:oauth:request_uri:abc"), "abc");
    assert_null(mdt_authz_request_id(NULL));
    assert_null(mdt_authz_request_id("urn:ietf:params:oauth:request_uri:"));
    assert_null(mdt_authz_request_id("urn:mandate:abc"));
    assert_null(mdt_authz_request_id("https://example.com/request_uri:abc"));
    snprintf(long_uri, sizeof(long_uri), "%s%065d", MDT_AUTHZ_REQUEST_URI_PREFIX, 7);
    assert_null(mdt_authz_request_id(long_uri));
}

/* Who may use /authorize: active, unexpired, registered for the code grant. */
static void test_client_allowed(void **state)
{
    const char *code[] = {"authorization_code", "refresh_token"}, *cc[] = {"client_credentials"};
    mdt_client c = {.status = "active", .grant_types = code, .ngrant_types = 2};

    (void)state;
    assert_true(mdt_authz_client_allowed(&c, 100));
    c.expires_at = 100;
    assert_false(mdt_authz_client_allowed(&c, 100));
    c.expires_at = 0;
    c.status = "pending";
    assert_false(mdt_authz_client_allowed(&c, 100));
    c.status = "suspended";
    assert_false(mdt_authz_client_allowed(&c, 100));
    c.status = "active";
    c.grant_types = cc;
    c.ngrant_types = 1;
    assert_false(mdt_authz_client_allowed(&c, 100));
    c.ngrant_types = 0;
    assert_false(mdt_authz_client_allowed(&c, 100));
}

/* The sign-in rules of a stored request against who signed in:
 * prompt=login (login_after) and max_age. */
static void test_needs_login(void **state)
{
    int64_t now = 1000;
    mdt_authz_params p = {.max_age = -1};
    mdt_authz_user u = {.username = "alice", .auth_time = 900};

    (void)state;
    assert_false(mdt_authz_needs_login(now, &p, &u));
    p.login_after = 950; /* prompt=login at 950: the 900 sign-in is too old */
    assert_true(mdt_authz_needs_login(now, &p, &u));
    u.auth_time = 950;
    assert_false(mdt_authz_needs_login(now, &p, &u));
    p.login_after = 0;
    p.max_age = 60; /* 50 s old */
    assert_false(mdt_authz_needs_login(now, &p, &u));
    now = 1011; /* 61 s old */
    assert_true(mdt_authz_needs_login(now, &p, &u));
    p.login_after = 950; /* a sign-in made for this request satisfies max_age */
    assert_false(mdt_authz_needs_login(now, &p, &u));
}

/* take: once, never after expiry; get still filters expired records. */
static void test_take_once(void **state)
{
    char url[128];
    mdt_store *s = NULL;
    mdt_arena a;
    mdt_err err = {0};
    mdt_authz_request_rec r = {.id = "par1", .client_id = "mdt_c", .redirect_uri = "https://app.example/cb",
                               .code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                               .scope = "read", .max_age = -1, .pushed = true,
                               .created_at = 100, .expires_at = 160},
                          back;

    (void)state;
    mdt_arena_init(&a, 4096);
    snprintf(url, sizeof(url), "sqlite:%s/test.db", g_dir);
    assert_int_equal(mdt_store_open(url, &s, &err), MDT_OK);
    assert_int_equal(mdt_store_migrate(s, &err), MDT_OK);
    assert_int_equal(mdt_store_authz_request_insert(s, &r, &err), MDT_OK);
    assert_int_equal(mdt_store_authz_request_get(s, "par1", 120, &a, &back, &err), MDT_OK);
    assert_int_equal(mdt_store_authz_request_take(s, "par1", 120, &a, &back, &err), MDT_OK);
    assert_string_equal(back.client_id, "mdt_c");
    assert_true(back.pushed);
    assert_string_equal(back.redirect_uri, "https://app.example/cb");
    assert_int_equal(back.expires_at, 160);
    assert_int_equal(mdt_store_authz_request_take(s, "par1", 120, &a, &back, &err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_authz_request_get(s, "par1", 120, &a, &back, &err),
                     MDT_ERR_NOT_FOUND);
    r.id = "par2";
    assert_int_equal(mdt_store_authz_request_insert(s, &r, &err), MDT_OK);
    assert_int_equal(mdt_store_authz_request_take(s, "par2", 160, &a, &back, &err),
                     MDT_ERR_NOT_FOUND); /* expired at 160 */
    assert_int_equal(mdt_store_authz_request_take(s, "", 100, &a, &back, &err),
                     MDT_ERR_NOT_FOUND);
    mdt_store_close(s);
    mdt_arena_free(&a);
}

static void cleanup(void)
{
    static const char *const files[] = {"test.db", "test.db-wal", "test.db-shm"};
    char path[128];

    for (size_t i = 0; i < MDT_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", g_dir, files[i]);
        unlink(path);
    }
    rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_client_allowed),
        cmocka_unit_test(test_needs_login),
        cmocka_unit_test(test_take_once),
    };
    int rc;

    snprintf(g_dir, sizeof(g_dir), "/tmp/mandate-par-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    rc = cmocka_run_group_tests_name("par", tests, NULL, NULL);
    cleanup();
    return rc;
}
