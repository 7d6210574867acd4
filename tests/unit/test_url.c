/* URL helpers of core: the host of a URL and the two meanings of loopback
 * (RFC 8252 §7.3/§8.3 IP literals; those plus localhost). */
#include "unit.h"

#include "core/url.h"

typedef struct {
    const char *url;
    const char *host; /* NULL: no host */
} host_case;

static void test_host(void **state)
{
    static const host_case cases[] = {
        {"https://app.example/cb", "app.example"},
        {"https://APP.Example.COM:8443/x?y#z", "app.example.com"},
        {"https://user:pw@app.example/cb", "app.example"},
        {"https://127.0.0.1@evil.example/cb", "evil.example"},
        {"https://evil.example@127.0.0.1/cb", "127.0.0.1"},
        {"http://[::1]:8080/cb", "[::1]"},
        {"http://[::1]/cb", "[::1]"},
        {"http://[0:0:0:0:0:0:0:1]/cb", "[::1]"},
        {"http://127.0.0.1:1/cb", "127.0.0.1"},
        {"http://127.1/cb", "127.0.0.1"},         /* numeric forms normalised */
        {"http://0x7f.0.0.1/cb", "127.0.0.1"},
        {"http://2130706433/cb", "127.0.0.1"},
        {"https://app.example./cb", "app.example."}, /* trailing dot kept */
        {"https://app.example", "app.example"},
        {"app.example/cb", NULL},                  /* missing scheme */
        {"//app.example/cb", NULL},
        {"/cb", NULL},
        {"", NULL},
        {"https://", NULL},
        {"https:///cb", "cb"},                    /* the parser reads a third slash away */
        {"https://[::1/cb", NULL},
        {"https://app.example:99999/cb", NULL},
        {"https://app .example/cb", NULL},
        {"https://%31%32%37.0.0.1/cb", "127.0.0.1"}, /* percent-encoded host: decoded */
        {"https://%zz.example/cb", "%zz.example"}, /* not a valid escape: left as is */
        {"https://a%00b.example/cb", NULL},
        {"com.example.app:/callback", NULL},
        {"mailto:a@app.example", NULL},
    };
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++) {
        char *h = mdt_url_host(cases[i].url);
        if (!cases[i].host ? h != NULL : !h || strcmp(h, cases[i].host) != 0)
            fail_msg("%s: got %s, want %s", cases[i].url, h ? h : "(none)",
                     cases[i].host ? cases[i].host : "(none)");
        free(h);
    }
    assert_null(mdt_url_host(NULL));
}

static void test_scheme_host(void **state)
{
    char *scheme, *host;
    (void)state;

    assert_true(mdt_url_scheme_host("HTTPS://App.Example/cb", &scheme, &host));
    assert_string_equal(scheme, "https");
    assert_string_equal(host, "app.example");
    free(scheme);
    free(host);
    assert_false(mdt_url_scheme_host("no-scheme", &scheme, &host));
    assert_null(scheme);
    assert_null(host);
    assert_true(mdt_url_scheme_host("http://x.example", NULL, &host));
    assert_string_equal(host, "x.example");
    free(host);
}

typedef struct {
    const char *host;
    bool ip;   /* mdt_host_is_loopback_ip */
    bool any;  /* mdt_host_is_loopback */
} loop_case;

static void test_loopback(void **state)
{
    static const loop_case cases[] = {
        {"127.0.0.1", true, true},
        {"127.0.0.2", true, true},
        {"127.255.255.255", true, true},
        {"127.5.0.1", true, true},
        {"::1", true, true},
        {"[::1]", true, true},
        {"[0:0:0:0:0:0:0:1]", true, true},
        {"localhost", false, true},   /* a name, not an IP literal (RFC 8252 §8.3) */
        {"LOCALHOST", false, true},
        {"LocalHost", false, true},
        {"[::ffff:127.0.0.1]", false, true},
        {"::ffff:127.9.0.1", false, true},
        {"localhost.", false, false},  /* trailing dot */
        {"127.0.0.1.", false, false},
        {"localhost.example.com", false, false},
        {"127.0.0.1.evil.example", false, false},
        {"127.1", false, false},       /* not dotted decimal: never normalised here */
        {"0x7f.0.0.1", false, false},
        {"0177.0.0.1", false, false},
        {"2130706433", false, false},
        {"127.000.000.001", false, false},
        {"%31%32%37.0.0.1", false, false},
        {"128.0.0.1", false, false},
        {"126.255.255.255", false, false},
        {"0.0.0.0", false, false},
        {"10.0.0.1", false, false},
        {"::", false, false},
        {"[::]", false, false},
        {"::2", false, false},
        {"[::1", false, false},
        {"::1]", false, false},
        {"[]", false, false},
        {"[::ffff:10.0.0.1]", false, false},
        {"127.0.0.1:80", false, false},
        {"[::1]:80", false, false},
        {"user@127.0.0.1", false, false},
        {"", false, false},
    };
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++) {
        if (mdt_host_is_loopback_ip(cases[i].host) != cases[i].ip)
            fail_msg("loopback_ip(%s) != %d", cases[i].host, cases[i].ip);
        if (mdt_host_is_loopback(cases[i].host) != cases[i].any)
            fail_msg("loopback(%s) != %d", cases[i].host, cases[i].any);
    }
    assert_false(mdt_host_is_loopback_ip(NULL));
    assert_false(mdt_host_is_loopback(NULL));
}

static void redacts(const char *url, const char *want)
{
    char out[256];

    mdt_url_redact(url, out, sizeof(out));
    assert_string_equal(out, want);
}

static void test_redact(void **state)
{
    char small[12];
    (void)state;
    /* userinfo password, also with an '@' left unencoded in it */
    redacts("postgresql://mandate:s3cret@db.example/mandate",
            "postgresql://mandate:***@db.example/mandate");
    redacts("postgres://u:p@ss@db/x", "postgres://u:***@db/x");
    redacts("postgresql://:pw@db/x", "postgresql://:***@db/x");
    /* password= in the query, first, middle, last; other parameters kept */
    redacts("postgresql:///mandate?host=/run/pg&password=pw&sslmode=require",
            "postgresql:///mandate?host=/run/pg&password=***&sslmode=require");
    redacts("postgresql://db/x?password=pw", "postgresql://db/x?password=***");
    redacts("postgresql://u:a@db/x?password=b#frag", "postgresql://u:***@db/x?password=***#frag");
    /* nothing to hide: unchanged */
    redacts("postgresql://mandate@db.example:5432/mandate", "postgresql://mandate@db.example:5432/mandate");
    redacts("postgresql://db/x?passwordx=1&mypassword=2", "postgresql://db/x?passwordx=1&mypassword=2");
    redacts("sqlite:var/mandate.db", "sqlite:var/mandate.db");
    redacts("", "");
    /* an '@' or ':' after the authority is not userinfo */
    redacts("postgresql://db/x?user=a:b@c", "postgresql://db/x?user=a:b@c");
    /* sslpassword=, and key=value connection strings */
    redacts("postgresql://h/db?sslpassword=k&x=1", "postgresql://h/db?sslpassword=***&x=1");
    redacts("host=db user=m password=pw dbname=x", "host=db user=m password=*** dbname=x");
    /* truncation keeps the mask, never the secret */
    mdt_url_redact("postgresql://u:secret@h/d", small, sizeof(small));
    assert_string_equal(small, "postgresql:");
    mdt_url_redact(NULL, small, sizeof(small));
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host),
        cmocka_unit_test(test_scheme_host),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
