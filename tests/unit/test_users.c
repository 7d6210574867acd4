/* Human users and passwords (src/users/) against a real SQLite store in a
 * mkdtemp directory, with a test clock, the system RNG and cheap argon2
 * parameters. */
#include "unit.h"

#include <argon2.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "app/env.h"
#include "test_ctx.h"
#include "core/arena.h"
#include "store/store.h"
#include "users/password.h"
#include "users/users.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */
#define PW "correct horse battery"

typedef test_env fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    test_env_open(f, "mdt_users", T0, "test");
    f->env.cfg.argon2_time_cost = 1;
    f->env.cfg.argon2_memory_kib = 8192;
    f->env.cfg.argon2_parallelism = 1;
    f->env.cfg.password_min_length = 12;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;

    test_env_close(f);
    free(f);
    return 0;
}

/* --- helpers --- */

static mdt_rc create(fx *f, const char *username, const char *const *roles, const char *pw)
{
    return test_ctx_done(&f->tc,
                         mdt_user_create(&f->env, test_ctx_now(&f->tc), username, "Alice Liddell",
                                         "alice@example.com", roles, pw, strlen(pw), &f->err));
}

static mdt_rc login(fx *f, const char *username, const char *pw)
{
    return mdt_user_authenticate(&f->env, username, pw, strlen(pw), NULL, NULL, &f->err);
}

static mdt_user_rec get(fx *f, const char *username)
{
    mdt_user_rec u;

    assert_int_equal(mdt_store_user_get(f->env.store, username, &f->a, &u, &f->err), MDT_OK);
    return u;
}

static int64_t audit_seq(fx *f)
{
    int64_t seq = -1;

    assert_int_equal(mdt_store_audit_last_seq(f->env.store, &seq, &f->err), MDT_OK);
    return seq;
}

typedef struct {
    int64_t after;
    char types[256];
    bool leaked; /* an event body held the password or its hash */
    const char *secret1, *secret2;
} audit_scan;

static bool scan_event(const mdt_audit_rec *ev, void *ctx)
{
    audit_scan *s = ctx;
    size_t n = strlen(s->types);

    snprintf(s->types + n, sizeof(s->types) - n, "%s%s", n ? "," : "", ev->type);
    if (strstr(ev->body, s->secret1) || (s->secret2 && strstr(ev->body, s->secret2)) ||
        strstr(ev->body, "argon2"))
        s->leaked = true;
    return true;
}

/* --- passwords --- */

static void test_password_hash_verify(void **state)
{
    fx *f = *state;
    mdt_argon2_params p = mdt_password_params(&f->env.cfg);
    char *h1 = NULL, *h2 = NULL;

    assert_int_equal(p.t_cost, 1);
    assert_int_equal(p.m_cost_kib, 8192);
    assert_int_equal(mdt_password_hash(&p, &f->env.rng, PW, strlen(PW), &h1, &f->err), MDT_OK);
    assert_int_equal(mdt_password_hash(&p, &f->env.rng, PW, strlen(PW), &h2, &f->err), MDT_OK);
    assert_non_null(h1);
    assert_non_null(h2);
    assert_int_equal(strncmp(h1, "$argon2id$v=19$m=8192,t=1,p=1$", 30), 0);
    assert_string_not_equal(h1, h2); /* random salt */
    assert_int_equal(mdt_password_verify(h1, PW, strlen(PW), &f->err), MDT_OK);
    assert_int_equal(mdt_password_verify(h2, PW, strlen(PW), &f->err), MDT_OK);
    assert_int_equal(mdt_password_verify(h1, PW "x", strlen(PW) + 1, &f->err),
                     MDT_ERR_ACCESS_DENIED);
    assert_int_equal(mdt_password_verify(h1, PW, strlen(PW) - 1, &f->err), MDT_ERR_ACCESS_DENIED);
    assert_int_equal(mdt_password_verify(h1, "", 0, &f->err), MDT_ERR_ACCESS_DENIED);
    /* malformed or not argon2id: denied, never accepted */
    assert_int_equal(mdt_password_verify("$argon2i$v=19$m=8192,t=1,p=1$AAAA$AAAA", PW, strlen(PW),
                                         &f->err), MDT_ERR_ACCESS_DENIED);
    assert_int_equal(mdt_password_verify("$argon2id$garbage", PW, strlen(PW), &f->err),
                     MDT_ERR_ACCESS_DENIED);
    assert_int_equal(mdt_password_verify(NULL, PW, strlen(PW), &f->err), MDT_ERR_ACCESS_DENIED);
    free(h1);
    free(h2);
}

static void test_password_limits(void **state)
{
    fx *f = *state;
    mdt_argon2_params p = mdt_password_params(&f->env.cfg);
    char big[MDT_PASSWORD_MAX + 2];
    char *h = (char *)"x";

    memset(big, 'a', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(mdt_password_hash(&p, &f->env.rng, big, MDT_PASSWORD_MAX + 1, &h, &f->err),
                     MDT_ERR_INVALID_REQUEST);
    assert_null(h);
    assert_int_equal(mdt_password_hash(&p, &f->env.rng, big, MDT_PASSWORD_MAX, &h, &f->err),
                     MDT_OK);
    assert_int_equal(mdt_password_verify(h, big, MDT_PASSWORD_MAX, &f->err), MDT_OK);
    assert_int_equal(mdt_password_verify(h, big, MDT_PASSWORD_MAX + 1, &f->err),
                     MDT_ERR_ACCESS_DENIED);
    free(h);
}

static void test_password_needs_rehash(void **state)
{
    fx *f = *state;
    mdt_argon2_params p = mdt_password_params(&f->env.cfg), q;
    char *h = NULL;

    assert_int_equal(mdt_password_hash(&p, &f->env.rng, PW, strlen(PW), &h, &f->err), MDT_OK);
    assert_false(mdt_password_needs_rehash(h, &p));
    q = p;
    q.t_cost = 2;
    assert_true(mdt_password_needs_rehash(h, &q));
    q = p;
    q.m_cost_kib = 16384;
    assert_true(mdt_password_needs_rehash(h, &q));
    q = p;
    q.m_cost_kib = 819; /* a prefix of 8192 must not pass */
    assert_true(mdt_password_needs_rehash(h, &q));
    q = p;
    q.parallelism = 2;
    assert_true(mdt_password_needs_rehash(h, &q));
    assert_true(mdt_password_needs_rehash("$argon2i$v=19$m=8192,t=1,p=1$AAAA$AAAA", &p));
    assert_true(mdt_password_needs_rehash("", &p));
    assert_true(mdt_password_needs_rehash(NULL, &p));
    free(h);
}

static void test_password_dummy(void **state)
{
    fx *f = *state;
    mdt_argon2_params p = mdt_password_params(&f->env.cfg);
    char dummy[MDT_PASSWORD_DUMMY_MAX];

    (void)f;
    mdt_password_dummy(&p, dummy);
    assert_false(mdt_password_needs_rehash(dummy, &p)); /* costs what a real one costs */
    /* well-formed: libargon2 runs the whole computation and then mismatches */
    assert_int_equal(argon2id_verify(dummy, PW, strlen(PW)), ARGON2_VERIFY_MISMATCH);
    assert_int_equal(argon2id_verify(dummy, "", 0), ARGON2_VERIFY_MISMATCH);
}

/* --- users --- */

static void test_create_get_list(void **state)
{
    fx *f = *state;
    const char *const both[] = {"approver", "admin", "approver", NULL};
    const char *json;
    mdt_user_rec u;
    json_t *arr, *o;
    int64_t n = -1;

    assert_int_equal(mdt_store_user_count(f->env.store, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(create(f, "zed", NULL, PW), MDT_OK);
    f->clk.t = T0 + 60;
    assert_int_equal(create(f, "alice", both, PW), MDT_OK);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "bob.b@corp-1_x", NULL,
                                              NULL, NULL, PW, strlen(PW), &f->err)),
        MDT_OK);
    assert_int_equal(mdt_store_user_count(f->env.store, &n, &f->err), MDT_OK);
    assert_int_equal(n, 3);

    u = get(f, "alice");
    assert_string_equal(u.username, "alice");
    assert_string_equal(u.name, "Alice Liddell");
    assert_string_equal(u.email, "alice@example.com");
    assert_string_equal(u.roles, "admin approver"); /* canonical, repeats collapsed */
    assert_string_equal(u.status, "active");
    assert_int_equal(u.created_at, T0 + 60);
    assert_int_equal(u.updated_at, T0 + 60);
    assert_int_equal(strncmp(u.password_hash, "$argon2id$", 10), 0);
    assert_true(mdt_user_has_role(u.roles, "admin"));
    assert_true(mdt_user_has_role(u.roles, "approver"));
    assert_false(mdt_user_has_role(u.roles, "adm"));
    u = get(f, "bob.b@corp-1_x");
    assert_string_equal(u.name, "");
    assert_string_equal(u.email, "");
    assert_string_equal(u.roles, "");
    assert_int_equal(mdt_store_user_get(f->env.store, "nobody", &f->a, &u, &f->err),
                     MDT_ERR_NOT_FOUND);

    assert_int_equal(mdt_user_list_json(&f->env, &f->a, &json, &f->err), MDT_OK);
    arr = json_loads(json, 0, NULL);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "username")),
                        "alice");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "username")),
                        "bob.b@corp-1_x");
    o = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(o, "name")), "Alice Liddell");
    assert_string_equal(json_string_value(json_object_get(o, "email")), "alice@example.com");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "active");
    assert_string_equal(json_string_value(json_object_get(o, "created_at")),
                        "2026-01-01T00:01:00Z");
    assert_int_equal(json_array_size(json_object_get(o, "roles")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "roles"), 0)),
                        "admin");
    assert_null(json_object_get(o, "password_hash"));
    assert_null(strstr(json, "argon2"));
    assert_int_equal(json_array_size(json_object_get(json_array_get(arr, 2), "roles")), 0);
    json_decref(arr);
    assert_int_equal(mdt_user_show_json(&f->env, "nobody", &f->a, &json, &f->err),
                     MDT_ERR_NOT_FOUND);
    {
        const char *const all[] = {"auditor", "approver", "admin", "auditor", NULL};
        assert_int_equal(create(f, "carol", all, PW), MDT_OK);
        u = get(f, "carol");
        assert_string_equal(u.roles, "admin approver auditor"); /* canonical */
        assert_true(mdt_user_has_role(u.roles, "auditor"));
    }
}

static void test_duplicate(void **state)
{
    fx *f = *state;
    int64_t seq;

    assert_int_equal(create(f, "alice", NULL, PW), MDT_OK);
    seq = audit_seq(f);
    assert_int_equal(create(f, "alice", NULL, PW "2"), MDT_ERR_CONFLICT);
    assert_int_equal(create(f, "ALICE", NULL, PW), MDT_ERR_CONFLICT); /* case-insensitive */
    assert_int_equal(audit_seq(f), seq);                               /* nothing audited */
    assert_int_equal(login(f, "alice", PW), MDT_OK); /* first password kept */
}

static void test_validation(void **state)
{
    fx *f = *state;
    const char *const bad_role[] = {"admin", "root", NULL};
    const char *const empty_role[] = {"", NULL};
    char long_name[MDT_USERNAME_MAX + 2];
    char long_display[MDT_USER_NAME_MAX + 2];
    int64_t n = -1;

    memset(long_name, 'a', sizeof(long_name));
    long_name[sizeof(long_name) - 1] = '\0';
    memset(long_display, 'n', sizeof(long_display));
    long_display[sizeof(long_display) - 1] = '\0';
#define BADREQ(call) assert_int_equal((call), MDT_ERR_INVALID_REQUEST)
    BADREQ(create(f, "", NULL, PW));
    BADREQ(create(f, NULL, NULL, PW));
    BADREQ(create(f, "al ice", NULL, PW));
    BADREQ(create(f, "al/ice", NULL, PW));
    BADREQ(create(f, "al\"ice", NULL, PW));
    BADREQ(create(f, "älice", NULL, PW));
    BADREQ(create(f, long_name, NULL, PW));
    long_name[MDT_USERNAME_MAX] = '\0';
    assert_true(mdt_username_valid(long_name, MDT_USERNAME_MAX));
    BADREQ(create(f, "alice", bad_role, PW));
    assert_string_equal(f->err.msg, "role must be admin, approver or auditor");
    BADREQ(create(f, "alice", empty_role, PW));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", NULL,
                                                 "alice", NULL, PW, strlen(PW), &f->err)));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", NULL,
                                                 "a@b@c", NULL, PW, strlen(PW), &f->err)));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", NULL,
                                                 "al ice@x", NULL, PW, strlen(PW), &f->err)));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", NULL, "@x",
                                                 NULL, PW, strlen(PW), &f->err)));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", NULL, "a@",
                                                 NULL, PW, strlen(PW), &f->err)));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", NULL,
                                                 "a@x\n", NULL, PW, strlen(PW), &f->err)));
    assert_string_equal(f->err.msg, "email must contain one @ and no spaces");
    BADREQ(
        test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", long_display,
                                              NULL, NULL, PW, strlen(PW), &f->err)));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice", "A\tB",
                                                 NULL, NULL, PW, strlen(PW), &f->err)));
    BADREQ(test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "alice",
                                                 "bad \xc3\x28 utf8", NULL, NULL, PW, strlen(PW),
                                                 &f->err)));
    BADREQ(create(f, "alice", NULL, "short pw 11"));  /* 11 characters */
    assert_string_equal(f->err.msg, "password too short");
    BADREQ(create(f, "alice", NULL, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9")); /* 11 chars, 22 bytes */
    BADREQ(create(f, "alice", NULL, ""));
    assert_int_equal(mdt_store_user_count(f->env.store, &n, &f->err), MDT_OK);
    assert_int_equal(n, 0); /* nothing stored */
    assert_int_equal(create(f, "alice", NULL, "exactly 12 c"), MDT_OK);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_user_create(&f->env, test_ctx_now(&f->tc), "bob", "Zoë Ünal",
                                              "zoë@exämple.com", NULL,
                                              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                              "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                              24, &f->err)),
        MDT_OK);
#undef BADREQ
}

static void test_authenticate(void **state)
{
    fx *f = *state;
    const char *const roles[] = {"approver", NULL};
    mdt_user_rec u;

    assert_int_equal(create(f, "alice", roles, PW), MDT_OK);
    assert_int_equal(mdt_user_authenticate(&f->env, "alice", PW, strlen(PW), &f->a, &u, &f->err),
                     MDT_OK);
    assert_string_equal(u.username, "alice");
    assert_string_equal(u.roles, "approver");
    assert_int_equal(login(f, "alice", "wrong password!"), MDT_ERR_ACCESS_DENIED);
    assert_string_equal(f->err.msg, "invalid username or password");
    assert_int_equal(login(f, "Alice", PW), MDT_ERR_ACCESS_DENIED); /* exact lookup */
    assert_int_equal(login(f, "mallory", PW), MDT_ERR_ACCESS_DENIED);
    assert_string_equal(f->err.msg, "invalid username or password"); /* same public text */
    assert_non_null(strstr(f->err.detail, "unknown user"));
    assert_int_equal(mdt_user_authenticate(&f->env, NULL, PW, strlen(PW), NULL, NULL, &f->err),
                     MDT_ERR_ACCESS_DENIED);
}

static void test_disable(void **state)
{
    fx *f = *state;
    audit_scan scan = {.secret1 = PW};
    mdt_user_rec u;
    int64_t seq;

    mdt_session_rec sess = {.username = "alice", .amr = "pwd", .auth_time = T0, .created_at = T0,
                            .last_seen_at = T0, .expires_at = T0 + 3600}, back;
    mdt_consent_rec consent = {.username = "alice", .client_id = "app", .scope = "read",
                               .created_at = T0, .updated_at = T0};

    assert_int_equal(create(f, "alice", NULL, PW), MDT_OK);
    memset(sess.hash, 0x5a, sizeof(sess.hash));
    assert_int_equal(mdt_store_session_insert(f->env.store, &sess, &f->err), MDT_OK);
    assert_int_equal(mdt_store_consent_put(f->env.store, &consent, &f->err), MDT_OK);
    f->clk.t = T0 + 100;
    seq = audit_seq(f);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_user_disable(&f->env, test_ctx_now(&f->tc), "alice", &f->err)),
        MDT_OK);
    /* the sessions end and what clients were allowed goes */
    assert_int_equal(mdt_store_session_get(f->env.store, sess.hash, &f->a, &back, &f->err), MDT_OK);
    assert_int_equal(back.revoked_at, T0 + 100);
    assert_int_equal(mdt_store_consent_get(f->env.store, "alice", "app", &f->a, &consent, &f->err),
                     MDT_ERR_NOT_FOUND);
    u = get(f, "alice");
    assert_string_equal(u.status, "disabled");
    assert_int_equal(u.updated_at, T0 + 100);
    assert_int_equal(u.created_at, T0);
    assert_int_equal(audit_seq(f), seq + 1);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_user_disable(&f->env, test_ctx_now(&f->tc), "alice", &f->err)),
        MDT_OK); /* idempotent */
    assert_int_equal(audit_seq(f), seq + 1);
    /* the right password no longer logs in, with the same public text */
    assert_int_equal(mdt_user_authenticate(&f->env, "alice", PW, strlen(PW), &f->a, &u, &f->err),
                     MDT_ERR_ACCESS_DENIED);
    assert_string_equal(f->err.msg, "invalid username or password");
    assert_non_null(strstr(f->err.detail, "disabled"));
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_user_disable(&f->env, test_ctx_now(&f->tc), "nobody", &f->err)),
        MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_store_audit_each(f->env.store, 0, 0, scan_event, &scan, &f->err), MDT_OK);
    assert_string_equal(scan.types, "user.created,user.disabled");
    assert_false(scan.leaked);
}

/* Disabling a person flags each client they own (client.owner_disabled,
 * one per client, in the same context), and only those; once. */
static void test_disable_flags_owned_clients(void **state)
{
    fx *f = *state;
    audit_scan scan = {.secret1 = PW};
    const char *const ids[] = {"app-a", "app-b", "app-c", "app-d"};
    const char *const metas[] = {"{\"owner\":\"alice\"}", "{\"owner\":\"bob\"}", "{}",
                                 "{\"owner\":\"alice\",\"client_name\":\"d\"}"};

    assert_int_equal(create(f, "alice", NULL, PW), MDT_OK);
    for (size_t i = 0; i < 4; i++) {
        mdt_client_rec c = {.client_id = ids[i], .status = "active", .metadata = metas[i],
                            .created_at = T0, .updated_at = T0};
        assert_int_equal(mdt_store_client_insert(f->env.store, &c, NULL, 0, &f->err), MDT_OK);
    }
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_user_disable(&f->env, test_ctx_now(&f->tc), "alice", &f->err)),
        MDT_OK);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_user_disable(&f->env, test_ctx_now(&f->tc), "alice", &f->err)),
        MDT_OK);
    assert_int_equal(mdt_store_audit_each(f->env.store, 0, 0, scan_event, &scan, &f->err), MDT_OK);
    assert_string_equal(scan.types,
                        "user.created,user.disabled,client.owner_disabled,client.owner_disabled");
}

static void test_passwd(void **state)
{
    fx *f = *state;
    const char *new_pw = "a brand new passphrase";
    audit_scan scan = {.secret1 = PW, .secret2 = new_pw};
    mdt_user_rec before, after;

    assert_int_equal(create(f, "alice", NULL, PW), MDT_OK);
    before = get(f, "alice");
    f->clk.t = T0 + 5;
    assert_int_equal(test_ctx_done(&f->tc, mdt_user_passwd(&f->env, test_ctx_now(&f->tc), "alice",
                                                           "too short", 9, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(test_ctx_done(&f->tc, mdt_user_passwd(&f->env, test_ctx_now(&f->tc), "nobody",
                                                           new_pw, strlen(new_pw), &f->err)),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_user_passwd(&f->env, test_ctx_now(&f->tc), "alice",
                                                           new_pw, strlen(new_pw), &f->err)),
                     MDT_OK);
    after = get(f, "alice");
    assert_string_not_equal(before.password_hash, after.password_hash);
    assert_int_equal(after.updated_at, T0 + 5);
    assert_string_equal(after.name, before.name); /* nothing else changed */
    assert_string_equal(after.status, "active");
    assert_int_equal(login(f, "alice", PW), MDT_ERR_ACCESS_DENIED);
    assert_int_equal(login(f, "alice", new_pw), MDT_OK);
    /* the same password again still gets a fresh salt */
    assert_int_equal(test_ctx_done(&f->tc, mdt_user_passwd(&f->env, test_ctx_now(&f->tc), "alice",
                                                           new_pw, strlen(new_pw), &f->err)),
                     MDT_OK);
    assert_string_not_equal(get(f, "alice").password_hash, after.password_hash);
    assert_int_equal(mdt_store_audit_each(f->env.store, 0, 0, scan_event, &scan, &f->err), MDT_OK);
    assert_string_equal(scan.types, "user.created,user.password_changed,user.password_changed");
    assert_false(scan.leaked);
}

static mdt_rc update(fx *f, const char *username, const mdt_user_changes *ch)
{
    return test_ctx_done(&f->tc,
                         mdt_user_update(&f->env, test_ctx_now(&f->tc), username, ch, &f->err));
}

/* The admin API's change of a person: everything checked before anything is
 * written, each kind of change audited, disabling as mdt_user_disable. */
static void test_update(void **state)
{
    fx *f = *state;
    const char *const admin_only[] = {"admin", NULL}, *const none[] = {NULL};
    const char *const bad_role[] = {"root", NULL};
    const char *new_pw = "another long passphrase";
    audit_scan scan = {.secret1 = PW, .secret2 = new_pw};
    mdt_user_changes ch;
    mdt_user_rec u;

    assert_int_equal(create(f, "alice", NULL, PW), MDT_OK);
    f->clk.t = T0 + 10;
    /* bad input: nothing changes, whatever else was asked */
    ch = (mdt_user_changes){.name = "Alice", .set_roles = true, .roles = bad_role};
    assert_int_equal(update(f, "alice", &ch), MDT_ERR_INVALID_REQUEST);
    ch = (mdt_user_changes){.name = "Alice", .status = "gone"};
    assert_int_equal(update(f, "alice", &ch), MDT_ERR_INVALID_REQUEST);
    ch = (mdt_user_changes){.email = "no-at-sign"};
    assert_int_equal(update(f, "alice", &ch), MDT_ERR_INVALID_REQUEST);
    ch = (mdt_user_changes){.name = "Alice", .password = "short", .password_len = 5};
    assert_int_equal(update(f, "alice", &ch), MDT_ERR_INVALID_REQUEST);
    u = get(f, "alice");
    assert_string_equal(u.name, "Alice Liddell");
    assert_int_equal(u.updated_at, T0);
    ch = (mdt_user_changes){.name = "Bob"};
    assert_int_equal(update(f, "nobody", &ch), MDT_ERR_NOT_FOUND);

    ch = (mdt_user_changes){.name = "Alice L.", .set_roles = true, .roles = admin_only,
                            .password = new_pw, .password_len = strlen(new_pw)};
    assert_int_equal(update(f, "alice", &ch), MDT_OK);
    u = get(f, "alice");
    assert_string_equal(u.name, "Alice L.");
    assert_string_equal(u.email, "alice@example.com");
    assert_string_equal(u.roles, "admin");
    assert_int_equal(login(f, "alice", new_pw), MDT_OK);
    ch = (mdt_user_changes){.set_roles = true, .roles = none, .status = "disabled"};
    assert_int_equal(update(f, "alice", &ch), MDT_OK);
    u = get(f, "alice");
    assert_string_equal(u.roles, "");
    assert_string_equal(u.status, "disabled");
    ch = (mdt_user_changes){.status = "active"};
    assert_int_equal(update(f, "alice", &ch), MDT_OK);
    assert_string_equal(get(f, "alice").status, "active");
    assert_int_equal(update(f, "alice", &ch), MDT_OK); /* already active: nothing to audit */
    assert_int_equal(mdt_store_audit_each(f->env.store, 0, 0, scan_event, &scan, &f->err), MDT_OK);
    assert_string_equal(scan.types, "user.created,user.updated,user.password_changed,user.updated,"
                                    "user.disabled,user.enabled");
    assert_false(scan.leaked);
}

static void test_rehash_after_param_change(void **state)
{
    fx *f = *state;
    mdt_argon2_params p;

    assert_int_equal(create(f, "alice", NULL, PW), MDT_OK);
    p = mdt_password_params(&f->env.cfg);
    assert_false(mdt_password_needs_rehash(get(f, "alice").password_hash, &p));
    f->env.cfg.argon2_time_cost = 2;
    p = mdt_password_params(&f->env.cfg);
    assert_true(mdt_password_needs_rehash(get(f, "alice").password_hash, &p));
    assert_int_equal(login(f, "alice", PW), MDT_OK); /* old hashes keep working */
    assert_int_equal(test_ctx_done(&f->tc, mdt_user_passwd(&f->env, test_ctx_now(&f->tc), "alice",
                                                           PW, strlen(PW), &f->err)),
                     MDT_OK);
    assert_false(mdt_password_needs_rehash(get(f, "alice").password_hash, &p));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_password_hash_verify),
        T(test_password_limits),
        T(test_password_needs_rehash),
        T(test_password_dummy),
        T(test_create_get_list),
        T(test_duplicate),
        T(test_validation),
        T(test_authenticate),
        T(test_disable),
        T(test_disable_flags_owned_clients),
        T(test_passwd),
        T(test_update),
        T(test_rehash_after_param_change),
    };
#undef T

    return cmocka_run_group_tests_name("users", tests, NULL, NULL);
}
