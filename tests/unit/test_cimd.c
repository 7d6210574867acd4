/* Client ID metadata documents: the URL rules of the draft, the domain
 * lists, the cache time from HTTP headers, the document rules (client_id
 * equal to the URL, no secret, size), and the cache with an injected
 * fetcher, an injected "apply" and an injected clock. */
#include "unit.h"

#include <stdio.h>

#include <jansson.h>

#include "oauth/cimd.h"

#define NOW 1800000000LL
#define URL "https://app.example.com/oauth/client.json"

static mdt_arena arena;

static int setup(void **state)
{
    (void)state;
    mdt_arena_init(&arena, 4096);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mdt_arena_free(&arena);
    return 0;
}

/* ---------------------------------------------------------------- URLs */

static void test_url_rules(void **state)
{
    (void)state;
    static const char *const good[] = {
        URL,
        "https://app.example.com/",
        "https://app.example.com:8443/c",
        "https://APP.Example.com/c?v=1",
        "https://192.0.2.1/c",
        "https://a.b-c.example/.well-known/client",
        "https://app.example.com/a/..b/c.",
    };
    static const struct {
        const char *url, *rule;
    } bad[] = {
        {"http://app.example.com/c", "not https"},
        {"HTTPS://app.example.com/c", "not https"},
        {"ftp://app.example.com/c", "not https"},
        {"https://app.example.com", "no path"},
        {"https://app.example.com?x=1", "no path"},
        {"https://app.example.com/c#frag", "fragment"},
        {"https://app.example.com/c#", "fragment"},
        {"https://user:pw@app.example.com/c", "user name or password"},
        {"https://user@app.example.com/c", "user name or password"},
        {"https://app.example.com/a/./c", "dot segment"},
        {"https://app.example.com/a/../c", "dot segment"},
        {"https://app.example.com/a/..", "dot segment"},
        {"https://app.example.com/.", "dot segment"},
        {"https://app.example.com/a/%2e%2E/c", "dot segment"},
        {"https://app.example.com/a/.%2e/c", "dot segment"},
        {"https://app.example.com/a/%2E/c", "dot segment"},
        {"https:///c", "host"},
        {"https://[::1]/c", "host"},
        {"https://app..example.com/c", "host"},
        {"https://app.example.com./c", "host"},
        {"https://app_x.example.com/c", "host"},
        {"https://app.example.com:0/c", "port"},
        {"https://app.example.com:65536/c", "port"},
        {"https://app.example.com:/c", "port"},
        {"https://app.example.com:8a/c", "port"},
        {"https://app.example.com/c d", "ASCII"},
        {"https://app.example.com/c\\d", "ASCII"},
        {"https://app.example.com/\xc3\xa9", "ASCII"},
        {"", "not https"},
    };
    const char *host = NULL;
    mdt_err err = {0};
    char longurl[MDT_FETCH_URL_MAX + 16];

    for (size_t i = 0; i < MDT_ARRAY_LEN(good); i++)
        if (mdt_cimd_url_check(good[i], false, &arena, &host, &err) != MDT_OK)
            fail_msg("%s refused: %s", good[i], err.detail);
    assert_int_equal(mdt_cimd_url_check("https://APP.Example.com:8443/c", false, &arena, &host, &err),
                     MDT_OK);
    assert_string_equal(host, "app.example.com");
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        mdt_rc rc = mdt_cimd_url_check(bad[i].url, false, &arena, &host, &err);
        if (rc != MDT_ERR_INVALID_CLIENT || !strstr(err.detail, bad[i].rule))
            fail_msg("%s: rc %d '%s', want the rule '%s'", bad[i].url, rc, err.detail, bad[i].rule);
        assert_string_equal(err.msg, "client authentication failed");
    }
    memset(longurl, 'a', sizeof(longurl) - 1);
    longurl[sizeof(longurl) - 1] = '\0';
    memcpy(longurl, "https://a.example/", 18);
    assert_int_equal(mdt_cimd_url_check(longurl, false, &arena, NULL, &err), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_cimd_url_check(NULL, false, &arena, NULL, &err), MDT_ERR_INVALID_CLIENT);
    /* http: only with the test switch, only to 127.0.0.0/8 */
    assert_int_equal(mdt_cimd_url_check("http://127.0.0.1:8080/c", false, &arena, NULL, &err),
                     MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_cimd_url_check("http://127.0.0.1:8080/c", true, &arena, &host, &err), MDT_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(mdt_cimd_url_check("http://localhost:8080/c", true, &arena, NULL, &err),
                     MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "127.0.0.0/8"));
    assert_int_equal(mdt_cimd_url_check("http://127.0.0.10/c", true, &arena, NULL, &err), MDT_OK);
    assert_int_equal(mdt_cimd_url_check("http://127.1/c", true, &arena, NULL, &err),
                     MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_cimd_url_check("http://128.0.0.1/c", true, &arena, NULL, &err),
                     MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_cimd_url_check("http://app.example.com/c", true, &arena, NULL, &err),
                     MDT_ERR_INVALID_CLIENT);
}

static void test_is_url(void **state)
{
    (void)state;
    mdt_env env = {0};

    assert_true(mdt_cimd_is_url(&env, URL));
    assert_false(mdt_cimd_is_url(&env, "http://127.0.0.1/c"));
    assert_false(mdt_cimd_is_url(&env, "client-1"));
    assert_false(mdt_cimd_is_url(&env, NULL));
    env.cfg.cimd_allow_http_loopback = true;
    assert_true(mdt_cimd_is_url(&env, "http://127.0.0.1/c"));
}

/* ---------------------------------------------------------------- domains */

static void test_domain_lists(void **state)
{
    (void)state;
    mdt_config cfg = {0};
    mdt_err err = {0};

    assert_true(mdt_cimd_host_listed("app.example.com", "other.org,app.example.com"));
    assert_true(mdt_cimd_host_listed("APP.example.COM", "app.example.com"));
    assert_false(mdt_cimd_host_listed("evilapp.example.com", "app.example.com"));
    assert_false(mdt_cimd_host_listed("app.example.com.evil.org", "app.example.com"));
    assert_true(mdt_cimd_host_listed("a.example.com", ".example.com"));
    assert_true(mdt_cimd_host_listed("x.y.example.com", "foo.org,.example.com"));
    assert_false(mdt_cimd_host_listed("example.com", ".example.com"));
    assert_false(mdt_cimd_host_listed("badexample.com", ".example.com"));
    assert_false(mdt_cimd_host_listed("app.example.com", ""));
    assert_false(mdt_cimd_host_listed("app.example.com", NULL));
    assert_false(mdt_cimd_host_listed("app.example.com", ",,"));

    cfg.cimd_allow_domains = (char *)"";
    cfg.cimd_deny_domains = (char *)"";
    assert_int_equal(mdt_cimd_host_allowed(&cfg, "app.example.com", &err), MDT_OK);
    cfg.cimd_deny_domains = (char *)".evil.org,bad.example.com";
    assert_int_equal(mdt_cimd_host_allowed(&cfg, "x.evil.org", &err), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "cimd_deny_domains"));
    assert_int_equal(mdt_cimd_host_allowed(&cfg, "bad.example.com", &err), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_cimd_host_allowed(&cfg, "good.example.com", &err), MDT_OK);
    cfg.cimd_allow_domains = (char *)".example.com";
    assert_int_equal(mdt_cimd_host_allowed(&cfg, "good.example.com", &err), MDT_OK);
    assert_int_equal(mdt_cimd_host_allowed(&cfg, "good.example.org", &err), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "not in cimd_allow_domains"));
    /* deny wins over allow */
    assert_int_equal(mdt_cimd_host_allowed(&cfg, "bad.example.com", &err), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "cimd_deny_domains"));
}

/* ---------------------------------------------------------------- cache time */

static int64_t ttl_of(const char *cc, const char *expires, const char *date, const char *age)
{
    mdt_fetch_headers h;

    memset(&h, 0, sizeof(h));
    snprintf(h.cache_control, sizeof(h.cache_control), "%s", cc ? cc : "");
    snprintf(h.expires, sizeof(h.expires), "%s", expires ? expires : "");
    snprintf(h.date, sizeof(h.date), "%s", date ? date : "");
    snprintf(h.age, sizeof(h.age), "%s", age ? age : "");
    return mdt_cimd_cache_ttl(&h, NOW, 60, 86400);
}

static void test_cache_ttl(void **state)
{
    (void)state;
    /* NOW = 1800000000 = Fri, 15 Jan 2027 08:00:00 GMT */
    assert_int_equal(mdt_fetch_http_date("Fri, 15 Jan 2027 08:00:00 GMT"), NOW);
    assert_int_equal(mdt_fetch_http_date("nonsense"), -1);
    assert_int_equal(mdt_fetch_http_date(""), -1);

    assert_int_equal(ttl_of(NULL, NULL, NULL, NULL), 60);           /* nothing: the minimum */
    assert_int_equal(ttl_of("max-age=600", NULL, NULL, NULL), 600);
    assert_int_equal(ttl_of("public, max-age=600", NULL, NULL, "100"), 500);
    assert_int_equal(ttl_of("Max-Age=\"900\"", NULL, NULL, NULL), 900);
    assert_int_equal(ttl_of("max-age=10", NULL, NULL, NULL), 60);   /* clamped up */
    assert_int_equal(ttl_of("max-age=9999999", NULL, NULL, NULL), 86400); /* clamped down */
    assert_int_equal(ttl_of("max-age=99999999999999999999999", NULL, NULL, NULL), 86400);
    assert_int_equal(ttl_of("no-store, max-age=600", NULL, NULL, NULL), 60);
    assert_int_equal(ttl_of("max-age=600, no-cache", NULL, NULL, NULL), 60);
    assert_int_equal(ttl_of("max-age=600, private", NULL, NULL, NULL), 600);
    assert_int_equal(ttl_of("s-maxage=600", NULL, NULL, NULL), 60);  /* not max-age */
    assert_int_equal(ttl_of("max-age=abc", "Fri, 15 Jan 2027 09:00:00 GMT", NULL, NULL), 60);
    /* Expires, against Date when given, else now; Age counts */
    assert_int_equal(ttl_of(NULL, "Fri, 15 Jan 2027 09:00:00 GMT", NULL, NULL), 3600);
    assert_int_equal(ttl_of(NULL, "Fri, 15 Jan 2027 09:00:00 GMT", "Fri, 15 Jan 2027 08:30:00 GMT",
                            NULL), 1800);
    assert_int_equal(ttl_of(NULL, "Fri, 15 Jan 2027 09:00:00 GMT", NULL, "600"), 3000);
    assert_int_equal(ttl_of(NULL, "0", NULL, NULL), 60);            /* invalid: in the past */
    assert_int_equal(ttl_of(NULL, "Fri, 15 Jan 2027 07:00:00 GMT", NULL, NULL), 60);
    /* max-age wins over Expires */
    assert_int_equal(ttl_of("max-age=120", "Fri, 15 Jan 2027 09:00:00 GMT", NULL, NULL), 120);
    /* min wins over a smaller max */
    {
        mdt_fetch_headers h;
        memset(&h, 0, sizeof(h));
        snprintf(h.cache_control, sizeof(h.cache_control), "max-age=600");
        assert_int_equal(mdt_cimd_cache_ttl(&h, NOW, 300, 100), 300);
        assert_int_equal(mdt_cimd_cache_ttl(&h, NOW, 0, 86400), 600);
    }
}

/* ---------------------------------------------------------------- documents */

static mdt_rc check_doc(const char *doc, const char **meta, mdt_err *err)
{
    return mdt_cimd_document_check(URL, doc, strlen(doc), 5120, &arena, meta, err);
}

static void test_document_rules(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *reason;
    } bad[] = {
        {"{\"client_id\":\"https://app.example.com/oauth/other.json\"}", "differs from its URL"},
        {"{\"client_id\":\"https://app.example.com/oauth/client.json/\"}", "differs from its URL"},
        {"{\"client_id\":\"HTTPS://app.example.com/oauth/client.json\"}", "differs from its URL"},
        {"{\"client_name\":\"x\"}", "without a client_id"},
        {"{\"client_id\":7}", "without a client_id"},
        {"{\"client_id\":\"" URL "\",\"client_secret\":\"s\"}", "client_secret"},
        {"{\"client_id\":\"" URL "\",\"client_secret_expires_at\":0}", "client_secret"},
        {"{\"client_id\":\"" URL "\",\"token_endpoint_auth_method\":\"client_secret_basic\"}",
         "shared-secret"},
        {"{\"client_id\":\"" URL "\",\"token_endpoint_auth_method\":\"client_secret_post\"}",
         "shared-secret"},
        {"{\"client_id\":\"" URL "\",\"token_endpoint_auth_method\":\"client_secret_jwt\"}",
         "shared-secret"},
        {"{\"client_id\":\"" URL "\",\"token_endpoint_auth_method\":1}", "not a string"},
        {"{\"client_id\":\"" URL "\",\"client_id\":\"" URL "\"}", "not a JSON object"},
        {"[\"" URL "\"]", "not a JSON object"},
        {"{\"client_id\":\"" URL "\"", "not a JSON object"},
        {"", "not a JSON object"},
    };
    const char *meta = NULL;
    mdt_err err = {0};
    json_t *m;
    char big[6000];

    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        mdt_rc rc = check_doc(bad[i].doc, &meta, &err);
        if (rc != MDT_ERR_INVALID_CLIENT || !strstr(err.detail, bad[i].reason))
            fail_msg("%s: rc %d '%s', want '%s'", bad[i].doc, rc, err.detail, bad[i].reason);
        assert_null(meta);
    }
    /* a good one: "none" when no method is named */
    assert_int_equal(check_doc("{\"client_id\":\"" URL "\",\"client_name\":\"App\"}", &meta, &err),
                     MDT_OK);
    assert_non_null(m = json_loads(meta, 0, NULL));
    assert_string_equal(json_string_value(json_object_get(m, "client_id")), URL);
    assert_string_equal(json_string_value(json_object_get(m, "token_endpoint_auth_method")), "none");
    json_decref(m);
    assert_int_equal(check_doc("{\"client_id\":\"" URL "\",\"token_endpoint_auth_method\":"
                               "\"private_key_jwt\",\"jwks_uri\":\"https://app.example.com/jwks\"}",
                               &meta, &err), MDT_OK);
    assert_non_null(strstr(meta, "\"private_key_jwt\""));
    /* the size limit */
    snprintf(big, sizeof(big), "{\"client_id\":\"" URL "\",\"client_name\":\"%05100d\"}", 0);
    assert_int_equal(check_doc(big, &meta, &err), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "larger than 5120 bytes"));
    assert_int_equal(mdt_cimd_document_check(URL, big, strlen(big), 8192, &arena, &meta, &err),
                     MDT_OK);
}

/* ---------------------------------------------------------------- cache */

typedef struct {
    int fetches, applies;
    mdt_rc fetch_rc, apply_rc;
    const char *body;
    const char *cache_control;
    char last_url[256];
    bool allow_private;   /* as passed to the last fetch */
} fake;

static mdt_rc fake_fetch(void *ctx, const char *url, const mdt_fetch_opts *o, mdt_buf *out,
                         mdt_fetch_headers *h, mdt_err *err)
{
    fake *f = ctx;
    char body[1024];

    f->fetches++;
    f->allow_private = o->allow_private;
    snprintf(f->last_url, sizeof(f->last_url), "%s", url);
    if (f->fetch_rc != MDT_OK)
        return mdt_failf(err, f->fetch_rc, "fetch failed", "fake failure %d", f->fetches);
    snprintf(h->cache_control, sizeof(h->cache_control), "%s", f->cache_control ? f->cache_control : "");
    if (f->body)
        return mdt_buf_adds(out, f->body);
    snprintf(body, sizeof(body), "{\"client_id\":\"%s\"}", url);
    return mdt_buf_adds(out, body);
}

static void test_cache(void **state)
{
    (void)state;
    fake f = {.cache_control = "max-age=300"};
    mdt_cimd_cache_opts o = {.fetch = {.max_bytes = 5120}, .cache_min = 60, .cache_max = 3600,
                             .retry = 30, .fetch_fn = fake_fetch, .fetch_ctx = &f};
    mdt_cimd_cache *c = NULL;
    test_clock clk = {.t = NOW};
    mdt_cimd_doc doc;
    uint64_t gen;
    mdt_err err = {0};

#define RESOLVE(u) mdt_cimd_cache_resolve(c, (u), test_clock_now(&clk), NULL, &arena, &doc, &err)
    assert_int_equal(mdt_cimd_cache_new(&o, &c, &err), MDT_OK);
    assert_true(mdt_cimd_cache_will_fetch(c, URL, clk.t));
    assert_int_equal(RESOLVE(URL), MDT_OK);
    assert_int_equal(f.fetches, 1);
    assert_false(f.allow_private);
    assert_non_null(strstr(doc.metadata, "\"token_endpoint_auth_method\":\"none\""));
    assert_false(doc.applied);
    gen = doc.generation;
    /* within max-age: no fetch; once applied, said so */
    mdt_cimd_cache_applied(c, URL, gen);
    clk.t += 299;
    assert_false(mdt_cimd_cache_will_fetch(c, URL, clk.t));
    assert_int_equal(RESOLVE(URL), MDT_OK);
    assert_int_equal(f.fetches, 1);
    assert_true(doc.applied);
    /* past it: fetched again; the same document stays applied */
    clk.t += 1;
    assert_true(mdt_cimd_cache_will_fetch(c, URL, clk.t));
    assert_int_equal(RESOLVE(URL), MDT_OK);
    assert_int_equal(f.fetches, 2);
    assert_true(doc.applied);
    assert_int_equal(doc.generation, gen);
    /* a changed document is a new generation, not applied */
    clk.t += 300;
    f.body = "{\"client_id\":\"" URL "\",\"client_name\":\"B\"}";
    assert_int_equal(RESOLVE(URL), MDT_OK);
    assert_false(doc.applied);
    assert_true(doc.generation != gen);
    mdt_cimd_cache_applied(c, URL, gen); /* an older generation applied: no effect */
    assert_int_equal(RESOLVE(URL), MDT_OK);
    assert_false(doc.applied);
    f.body = NULL;
    /* a failed refetch after the cache time: the client cannot authenticate,
     * and the failure is answered at once for the retry interval */
    clk.t += 300;
    f.fetch_rc = MDT_ERR_UNAVAILABLE;
    assert_int_equal(RESOLVE(URL), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "fetch: fake failure 4"));
    clk.t += 29;
    assert_false(mdt_cimd_cache_will_fetch(c, URL, clk.t));
    assert_int_equal(RESOLVE(URL), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "fake failure 4"));
    assert_int_equal(f.fetches, 4);
    f.fetch_rc = MDT_OK;
    clk.t += 1;
    assert_int_equal(RESOLVE(URL), MDT_OK);
    assert_int_equal(f.fetches, 5);
    /* a document refused: remembered */
    f.body = "{\"client_id\":\"https://elsewhere.example/c\"}";
    assert_int_equal(RESOLVE("https://b.example/c"), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "differs from its URL"));
    assert_int_equal(RESOLVE("https://b.example/c"), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(f.fetches, 6);
    f.body = NULL;
    /* no-store: the minimum */
    f.cache_control = "no-store";
    assert_int_equal(RESOLVE("https://e.example/c"), MDT_OK);
    clk.t += 59;
    assert_int_equal(RESOLVE("https://e.example/c"), MDT_OK);
    assert_int_equal(f.fetches, 7);
    clk.t += 1;
    assert_int_equal(RESOLVE("https://e.example/c"), MDT_OK);
    assert_int_equal(f.fetches, 8);
    /* a loopback http URL (let through by the URL rules only with the test
     * switch) is fetched with private addresses allowed */
    assert_int_equal(RESOLVE("http://127.0.0.1:9/c"), MDT_OK);
    assert_true(f.allow_private);
    assert_int_equal(mdt_cimd_cache_fetches(c), 9);
    mdt_cimd_cache_free(c);
    mdt_cimd_cache_free(NULL);
    mdt_arena_reset(&arena);
#undef RESOLVE
}

static void test_cache_bounded(void **state)
{
    (void)state;
    fake f = {.cache_control = "max-age=300"};
    mdt_cimd_cache_opts o = {.fetch = {.max_bytes = 5120}, .cache_min = 60, .cache_max = 3600,
                             .retry = 30, .fetch_fn = fake_fetch, .fetch_ctx = &f};
    mdt_cimd_cache *c = NULL;
    mdt_cimd_doc doc;
    mdt_err err;
    char url[64];

    assert_int_equal(mdt_cimd_cache_new(&o, &c, &err), MDT_OK);
    assert_int_equal(mdt_cimd_cache_resolve(c, "https://u.example/0", NOW, NULL, &arena, &doc,
                                            &err), MDT_OK);
    for (int i = 1; i <= MDT_CIMD_CACHE_MAX + 10; i++) {
        snprintf(url, sizeof(url), "https://u.example/%d", i);
        assert_int_equal(mdt_cimd_cache_resolve(c, url, NOW, NULL, &arena, &doc, &err), MDT_OK);
    }
    /* the first was evicted (least recently used): fetched again */
    assert_int_equal(mdt_cimd_cache_resolve(c, "https://u.example/0", NOW, NULL, &arena, &doc,
                                            &err), MDT_OK);
    assert_int_equal(f.fetches, MDT_CIMD_CACHE_MAX + 12);
    mdt_cimd_cache_free(c);
    mdt_arena_reset(&arena);
}

/* The candidate a document authenticates as, before anything is stored. */
static void test_candidate(void **state)
{
    (void)state;
    mdt_client c;
    mdt_err err = {0};
    const char *meta = "{\"client_id\":\"" URL "\",\"token_endpoint_auth_method\":"
                       "\"private_key_jwt\",\"token_endpoint_auth_signing_alg\":\"ES256\","
                       "\"jwks\":{\"keys\":[{\"kty\":\"EC\"}]},\"workload_identity\":"
                       "{\"issuer\":\"https://k8s\",\"subject\":\"sa\"},"
                       "\"tls_client_auth_san_dns\":\"a.example\"}";

    assert_int_equal(mdt_cimd_candidate(URL, meta, &arena, &c, &err), MDT_OK);
    assert_string_equal(c.client_id, URL);
    assert_string_equal(c.origin, "cimd");
    assert_string_equal(c.auth_method, "private_key_jwt");
    assert_string_equal(c.auth_signing_alg, "ES256");
    assert_string_equal(c.jwks, "{\"keys\":[{\"kty\":\"EC\"}]}");
    assert_null(c.jwks_uri);
    assert_string_equal(c.workload_issuer, "https://k8s");
    assert_string_equal(c.workload_subject, "sa");
    assert_string_equal(c.tls_san_dns, "a.example");
    assert_int_equal(c.ncreds, 0);
    assert_int_equal(mdt_cimd_candidate(URL, "{\"jwks_uri\":\"https://k/j\"}", &arena, &c, &err),
                     MDT_OK);
    assert_string_equal(c.jwks_uri, "https://k/j");
    assert_null(c.jwks);
    mdt_arena_reset(&arena);
}

/* mdt_cimd_prepare's checks before any fetch. */
static void test_resolve_refusals(void **state)
{
    (void)state;
    mdt_env env = {0};
    mdt_req req = {.arena = &arena, .now = NOW, .peer_ip = "127.0.0.1"};
    mdt_cimd_doc doc;
    mdt_client cand;
    mdt_err err = {0};

    env.cfg.cimd = false;
    assert_int_equal(mdt_cimd_prepare(&env, &req, URL, &doc, &cand, &err), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "disabled"));
    env.cfg.cimd = true;
    env.cfg.cimd_allow_domains = (char *)"";
    env.cfg.cimd_deny_domains = (char *)"app.example.com";
    assert_int_equal(mdt_cimd_prepare(&env, &req, URL, &doc, &cand, &err), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "cimd_deny_domains"));
    assert_int_equal(mdt_cimd_prepare(&env, &req, "https://app.example.com/a/../c", &doc, &cand,
                                      &err), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(err.detail, "dot segment"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_rules),
        cmocka_unit_test(test_is_url),
        cmocka_unit_test(test_domain_lists),
        cmocka_unit_test(test_cache_ttl),
        cmocka_unit_test(test_document_rules),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_bounded),
        cmocka_unit_test(test_candidate),
        cmocka_unit_test(test_resolve_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
