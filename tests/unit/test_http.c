/* Request parsing (msg/): forms, JSON bodies, Basic credentials; and the
 * HTTP layer's client address, framing and connection limits. */
#include "unit.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>

#include "http/access_log.h"
#include "http/client_addr.h"
#include "http/conn_limit.h"
#include "http/framing.h"
#include "msg/msg.h"

static mdt_rc form(mdt_arena *a, const char *s, mdt_kv **kv, size_t *n)
{
    mdt_err err;
    return mdt_form_parse(s, strlen(s), a, kv, n, &err);
}

static void test_form_ok(void **state)
{
    mdt_arena a;
    mdt_kv *kv;
    size_t n;
    (void)state;

    mdt_arena_init(&a, 1024);
    assert_int_equal(form(&a, "grant_type=client_credentials&scope=a+b%20c&resource=https%3A%2F%2Fx&e=&f",
                          &kv, &n), MDT_OK);
    assert_int_equal(n, 5);
    assert_string_equal(kv[0].name, "grant_type");
    assert_string_equal(kv[0].value, "client_credentials");
    assert_string_equal(kv[1].value, "a b c");
    assert_string_equal(kv[2].value, "https://x");
    assert_string_equal(kv[3].value, "");
    assert_string_equal(kv[4].name, "f");
    assert_string_equal(kv[4].value, "");
    assert_int_equal(form(&a, "", &kv, &n), MDT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(form(&a, "&&a=1&&", &kv, &n), MDT_OK);
    assert_int_equal(n, 1);
    mdt_arena_free(&a);
}

static void append(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    snprintf(dst + n, cap - n, "%s", s);
}

static void test_form_bad(void **state)
{
    static const char *const bad[] = {
        "a=1&a=2",        /* repeated (RFC 6749 §3.1) */
        "a=%zz",          /* bad escape */
        "a=%4",           /* truncated escape */
        "a%=1",
        "a=%00",          /* embedded NUL */
        "%61=1&a=2",      /* repeated after decoding */
    };
    mdt_arena a;
    mdt_kv *kv;
    size_t n;
    char many[MDT_HTTP_MAX_FORM_FIELDS * 8 + 16] = "";
    (void)state;

    mdt_arena_init(&a, 1024);
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++)
        if (form(&a, bad[i], &kv, &n) != MDT_ERR_INVALID_REQUEST)
            fail_msg("accepted %s", bad[i]);
    for (int i = 0; i <= MDT_HTTP_MAX_FORM_FIELDS; i++) {
        char one[16];
        snprintf(one, sizeof(one), "%sk%d=v", i ? "&" : "", i);
        append(many, sizeof(many), one);
    }
    assert_int_equal(form(&a, many, &kv, &n), MDT_ERR_INVALID_REQUEST);
    mdt_arena_free(&a);
}

static mdt_rc parse(const char *s, json_t **j)
{
    mdt_err err;
    return mdt_json_parse_object(s, strlen(s), j, &err);
}

static void test_json(void **state)
{
    json_t *j = NULL;
    char deep[128] = "", ok_depth[128] = "";
    (void)state;

    assert_int_equal(parse("{\"a\":[1,{\"b\":\"[[[{{{\"}]}", &j), MDT_OK);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "a"), 1), "b")), "[[[{{{");
    json_decref(j);
    for (int i = 0; i < MDT_HTTP_MAX_JSON_DEPTH; i++)
        append(ok_depth, sizeof(ok_depth), i ? "[" : "{\"a\":");
    for (int i = 1; i < MDT_HTTP_MAX_JSON_DEPTH; i++)
        append(ok_depth, sizeof(ok_depth), "]");
    append(ok_depth, sizeof(ok_depth), "}");
    assert_int_equal(parse(ok_depth, &j), MDT_OK);
    json_decref(j);
    for (int i = 0; i <= MDT_HTTP_MAX_JSON_DEPTH; i++)
        append(deep, sizeof(deep), i ? "[" : "{\"a\":");
    assert_int_equal(parse(deep, &j), MDT_ERR_INVALID_REQUEST);
    assert_null(j);
    assert_int_equal(parse("[1]", &j), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse("{\"a\":1,\"a\":2}", &j), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse("{\"a\":", &j), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse("", &j), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_json_parse_object("{\"a\":\"\0\"}", 9, &j, NULL), MDT_ERR_INVALID_REQUEST);
}

/* Header fields as "name", "value" pairs, NULL-terminated; the check's verdict. */
static mdt_rc framing(bool http10, const char *const *fields)
{
    mdt_framing f = {0};
    mdt_err err;

    for (size_t i = 0; fields[i]; i += 2)
        mdt_framing_add(&f, fields[i], fields[i + 1]);
    return mdt_framing_check(&f, http10, &err);
}

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_framing(void **state)
{
    (void)state;
    /* unambiguous */
    assert_int_equal(framing(false, FIELDS("Host", "x")), MDT_OK);
    assert_int_equal(framing(false, FIELDS("Content-Length", "12")), MDT_OK);
    assert_int_equal(framing(false, FIELDS("content-length", "007")), MDT_OK);
    assert_int_equal(framing(false, FIELDS("Transfer-Encoding", "chunked")), MDT_OK);
    assert_int_equal(framing(false, FIELDS("transfer-encoding", "Chunked")), MDT_OK);
    assert_int_equal(framing(true, FIELDS("Content-Length", "3")), MDT_OK);
    /* repeated or invalid Content-Length */
    assert_int_equal(framing(false, FIELDS("Content-Length", "5", "Content-Length", "40")),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Content-Length", "5", "content-length", "5")),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Content-Length", "5, 5")), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Content-Length", "+5")), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Content-Length", "")), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Content-Length", "5 6")), MDT_ERR_INVALID_REQUEST);
    /* Transfer-Encoding beside Content-Length, repeated, or not chunked alone */
    assert_int_equal(framing(false, FIELDS("Transfer-Encoding", "chunked", "Content-Length", "0")),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Transfer-Encoding", "chunked", "Transfer-Encoding",
                                           "chunked")),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Transfer-Encoding", "gzip, chunked")),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Transfer-Encoding", "chunked, gzip")),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("Transfer-Encoding", "identity")),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(true, FIELDS("Transfer-Encoding", "chunked")), MDT_ERR_INVALID_REQUEST);
    /* field names with white space (RFC 9112 §5.1) */
    assert_int_equal(framing(false, FIELDS("Content-Length ", "5")), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS(" Host", "x")), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(framing(false, FIELDS("", "x")), MDT_ERR_INVALID_REQUEST);
}

static const char *client(const char *peer, const char *xff, const char *trusted)
{
    static char out[MDT_IP_TEXT_MAX];
    return mdt_client_addr(peer, xff, trusted, out) ? out : NULL;
}

static void test_client_addr(void **state)
{
    const char *t = "10.0.0.0/8, 2001:db8:ffff::/48";
    (void)state;

    /* an untrusted peer is the client whatever it forwards */
    assert_string_equal(client("192.0.2.7", "198.51.100.1", t), "192.0.2.7");
    assert_string_equal(client("192.0.2.7", "198.51.100.1", ""), "192.0.2.7");
    assert_string_equal(client("192.0.2.7", NULL, NULL), "192.0.2.7");
    assert_string_equal(client("::ffff:192.0.2.7", NULL, t), "192.0.2.7");
    /* a trusted peer without the header is the client */
    assert_string_equal(client("10.0.0.5", NULL, t), "10.0.0.5");
    assert_string_equal(client("10.0.0.5", "", t), "10.0.0.5");
    /* the rightmost untrusted entry; what the client wrote to its left is ignored */
    assert_string_equal(client("10.0.0.5", "198.51.100.1", t), "198.51.100.1");
    assert_string_equal(client("10.0.0.5", "1.1.1.1, 198.51.100.1", t), "198.51.100.1");
    assert_string_equal(client("10.0.0.5", "1.1.1.1,198.51.100.1, 10.1.2.3", t), "198.51.100.1");
    assert_string_equal(client("::ffff:10.0.0.5", "198.51.100.1", t), "198.51.100.1");
    /* several fields joined, ports, brackets, canonical text */
    assert_string_equal(client("10.0.0.5", "198.51.100.1:4711", t), "198.51.100.1");
    assert_string_equal(client("10.0.0.5", "[2001:DB8::0:1]:443", t), "2001:db8::1");
    assert_string_equal(client("10.0.0.5", "2001:db8::1", t), "2001:db8::1");
    assert_string_equal(client("10.0.0.5", "::ffff:198.51.100.1", t), "198.51.100.1");
    assert_string_equal(client("2001:db8:ffff::1", "2001:db8::2, 2001:db8:ffff::9", t), "2001:db8::2");
    /* every entry trusted: the leftmost; garbage: the last trusted hop reached */
    assert_string_equal(client("10.0.0.5", "10.9.9.9, 10.1.1.1", t), "10.9.9.9");
    assert_string_equal(client("10.0.0.5", "unknown", t), "10.0.0.5");
    assert_string_equal(client("10.0.0.5", "198.51.100.1, unknown, 10.1.1.1", t), "10.1.1.1");
    assert_string_equal(client("10.0.0.5", "198.51.100.1, 10.1.1.1, , ", t), "198.51.100.1");
    assert_string_equal(client("10.0.0.5", "[2001:db8::1", t), "10.0.0.5");
    assert_string_equal(client("10.0.0.5", "198.51.100.1/24", t), "10.0.0.5");
    assert_string_equal(client("10.0.0.5", ",", t), "10.0.0.5");
    /* a peer that is not an address */
    assert_null(client("nonsense", NULL, t));
}

static struct sockaddr_storage addr(const char *ip)
{
    struct sockaddr_storage ss = {0};

    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    }
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_conn_limit(void **state)
{
    mdt_conn_limit *l;
    struct sockaddr_storage a = addr("192.0.2.1"), b = addr("192.0.2.2"),
                            mapped = addr("::ffff:192.0.2.1"), v6 = addr("2001:db8:1:2::1"),
                            v6same = addr("2001:db8:1:2:ffff::9"), v6other = addr("2001:db8:1:3::1"),
                            proxy = addr("10.1.2.3");
    (void)state;

    assert_int_equal(mdt_conn_limit_new(2, "10.0.0.0/8", &l, NULL), MDT_OK);
    /* two from a source, then refused; another source is not affected */
    assert_true(mdt_conn_limit_admit(l, SA(a)));
    assert_true(mdt_conn_limit_opened(l, SA(a)));
    assert_true(mdt_conn_limit_opened(l, SA(mapped))); /* the same IPv4 source */
    assert_int_equal(mdt_conn_limit_count(l, SA(a)), 2);
    assert_false(mdt_conn_limit_admit(l, SA(a)));
    assert_false(mdt_conn_limit_admit(l, SA(mapped)));
    assert_true(mdt_conn_limit_admit(l, SA(b)));
    /* closing one frees a slot; closing all forgets the source */
    mdt_conn_limit_closed(l, SA(a));
    assert_true(mdt_conn_limit_admit(l, SA(a)));
    mdt_conn_limit_closed(l, SA(a));
    assert_int_equal(mdt_conn_limit_count(l, SA(a)), 0);
    mdt_conn_limit_closed(l, SA(a)); /* an extra close does not go below zero */
    assert_int_equal(mdt_conn_limit_count(l, SA(a)), 0);
    /* IPv6: one /64 is one source */
    assert_true(mdt_conn_limit_opened(l, SA(v6)));
    assert_true(mdt_conn_limit_opened(l, SA(v6same)));
    assert_false(mdt_conn_limit_admit(l, SA(v6)));
    assert_true(mdt_conn_limit_admit(l, SA(v6other)));
    /* exempt sources are counted but never refused */
    for (int i = 0; i < 5; i++)
        assert_true(mdt_conn_limit_opened(l, SA(proxy)));
    assert_int_equal(mdt_conn_limit_count(l, SA(proxy)), 5);
    assert_true(mdt_conn_limit_admit(l, SA(proxy)));
    mdt_conn_limit_free(l);
    /* 0: no limit */
    assert_int_equal(mdt_conn_limit_new(0, "", &l, NULL), MDT_OK);
    for (int i = 0; i < 5; i++)
        assert_true(mdt_conn_limit_opened(l, SA(a)));
    assert_true(mdt_conn_limit_admit(l, SA(a)));
    mdt_conn_limit_free(l); /* frees the sources still open */
    mdt_conn_limit_free(NULL);
}

/* The public answer built from an error: a server fault's detail stays out
 * of the body and is kept for the access log's fault field. */
static void test_resp_error(void **state)
{
    mdt_resp resp = {0};
    mdt_err err;
    (void)state;

    mdt_buf_init(&resp.body, 4096);
    mdt_failf(&err, MDT_ERR_UNAVAILABLE, "database busy", "token_insert: database is locked");
    mdt_resp_error(&resp, &err);
    assert_int_equal(resp.status, 503);
    assert_string_equal(resp.fault, "unavailable: token_insert: database is locked");
    assert_null(strstr(resp.body.data, "locked"));
    assert_non_null(strstr(resp.body.data, "\"temporarily_unavailable\""));

    mdt_failf(&err, MDT_ERR_CRYPTO, "signing failed", "EVP_DigestSign: bad key");
    mdt_resp_error(&resp, &err);
    assert_int_equal(resp.status, 500);
    assert_string_equal(resp.fault, "crypto: EVP_DigestSign: bad key");
    assert_null(strstr(resp.body.data, "EVP"));
    assert_non_null(strstr(resp.body.data, "\"internal error\""));

    /* a client fault: its message is the description, and no fault */
    mdt_failf(&err, MDT_ERR_INVALID_GRANT, "code expired", "code abc expired");
    mdt_resp_error(&resp, &err);
    assert_int_equal(resp.status, 400);
    assert_string_equal(resp.fault, "");
    assert_non_null(strstr(resp.body.data, "\"code expired\""));
    assert_null(strstr(resp.body.data, "abc"));
    mdt_buf_free(&resp.body);
}

/* Basic credentials (RFC 6749 §2.3.1): base64 of the URL-encoded id and
 * secret; anything else is invalid_client. */
static void test_basic(void **state)
{
    mdt_arena a;
    mdt_err err = {0};
    const char *id, *secret;

    (void)state;
    mdt_arena_init(&a, 4096);
    /* "my%20app:s%3Acret" */
    assert_int_equal(mdt_basic_parse(&a, "Basic bXklMjBhcHA6cyUzQWNyZXQ=", &id, &secret, &err),
                     MDT_OK);
    assert_string_equal(id, "my app");
    assert_string_equal(secret, "s:cret");
    assert_int_equal(mdt_basic_parse(&a, "basic  YTpi", &id, &secret, &err), MDT_OK);
    assert_string_equal(id, "a");
    assert_string_equal(secret, "b");
    assert_int_equal(mdt_basic_parse(&a, NULL, &id, &secret, &err), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_basic_parse(&a, "Bearer YTpi", &id, &secret, &err), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_basic_parse(&a, "Basic ", &id, &secret, &err), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_basic_parse(&a, "Basic !!!!", &id, &secret, &err), MDT_ERR_INVALID_CLIENT);
    /* "ab" (no colon), ":b" (empty id), "a:%zz" (bad escape) */
    assert_int_equal(mdt_basic_parse(&a, "Basic YWI=", &id, &secret, &err), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_basic_parse(&a, "Basic OmI=", &id, &secret, &err), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(mdt_basic_parse(&a, "Basic YToleno=", &id, &secret, &err),
                     MDT_ERR_INVALID_CLIENT);
    mdt_arena_free(&a);
}

/* A request without a server behind it answers no lookup. */
static void test_no_transport(void **state)
{
    mdt_arena a;
    mdt_req req = {.arena = &a};

    (void)state;
    mdt_arena_init(&a, 1024);
    assert_null(mdt_req_header(&req, "Cookie"));
    assert_null(mdt_req_query(&req, "client_id"));
    assert_null(mdt_req_cookie(&req, "mandate_session"));
    mdt_arena_free(&a);
}

/* The access log line: fields in order, JSON escaping of what the client
 * chose, peer only when it differs from ip, the time of the current second. */
static void test_access_log(void **state)
{
    mdt_buf b;
    mdt_time_text t = {0};
    mdt_access_entry e = {
        .request_id = "abcdefgh000001",
        .ip = "192.0.2.7",
        .peer = "192.0.2.7",
        .method = "POST",
        .path = "/token",
        .status = 200,
        .t0 = 1767322800.25,
        .now = 1767322800.2515,
    };
    char big[5000];
    (void)state;

    mdt_buf_init(&b, 4096);
    assert_int_equal(mdt_access_log_format(&b, &t, &e), MDT_OK);
    assert_string_equal(b.data, "{\"time\":\"2026-01-02T03:00:00Z\",\"level\":\"info\",\"type\":\"access\","
                                "\"request_id\":\"abcdefgh000001\",\"ip\":\"192.0.2.7\",\"method\":\"POST\","
                                "\"path\":\"/token\",\"status\":200,\"ms\":1.500}\n");
    /* the next second: the time follows, the buffer is reused */
    e.peer = "10.0.0.1";
    e.path = "/a\"b\\c\n\x01";
    e.method = NULL;
    e.client_id = "cli\"ent";
    e.fault = "store: disk full";
    e.status = 503;
    e.t0 = 1767322800.9;
    e.now = 1767322801.0;
    assert_int_equal(mdt_access_log_format(&b, &t, &e), MDT_OK);
    assert_string_equal(b.data, "{\"time\":\"2026-01-02T03:00:01Z\",\"level\":\"info\",\"type\":\"access\","
                                "\"request_id\":\"abcdefgh000001\",\"ip\":\"192.0.2.7\",\"method\":\"\","
                                "\"path\":\"/a\\\"b\\\\c\\u000a\\u0001\",\"status\":503,\"ms\":100.000,"
                                "\"peer\":\"10.0.0.1\",\"client_id\":\"cli\\\"ent\","
                                "\"fault\":\"store: disk full\"}\n");
    /* the cached second is reused within it and replaced across a boundary */
    assert_string_equal(mdt_time_text_get(&t, 1767322801), "2026-01-02T03:00:01Z");
    assert_string_equal(mdt_time_text_get(&t, 1767322859), "2026-01-02T03:00:59Z");
    assert_string_equal(mdt_time_text_get(&t, 1767322860), "2026-01-02T03:01:00Z");
    assert_string_equal(mdt_time_text_get(&t, 1767322799), "2026-01-02T02:59:59Z");
    /* an empty fault and a NULL client_id are left out; the duration as "%.3f" writes it */
    e.fault = "";
    e.client_id = NULL;
    e.peer = e.ip;
    e.path = "/";
    for (int i = 0; i < 2000; i++) {
        char want[64], tail[96];
        e.t0 = 1767322800.0;
        e.now = e.t0 + (double)i * 0.0123457 + (double)(i % 7) * 1.37;
        snprintf(want, sizeof(want), "%.3f", (e.now - e.t0) * 1000.0);
        snprintf(tail, sizeof(tail), ",\"status\":503,\"ms\":%s}\n", want);
        assert_int_equal(mdt_access_log_format(&b, &t, &e), MDT_OK);
        assert_non_null(strstr(b.data, tail));
    }
    e.now = e.t0 - 0.002; /* the real clock stepped back */
    assert_int_equal(mdt_access_log_format(&b, &t, &e), MDT_OK);
    assert_non_null(strstr(b.data, "\"ms\":-2.000}"));
    /* a line past the cap is not written at all; the buffer serves the next one */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    e.path = big;
    assert_int_equal(mdt_access_log_format(&b, &t, &e), MDT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 0);
    e.path = "/x";
    assert_int_equal(mdt_access_log_format(&b, &t, &e), MDT_OK);
    assert_non_null(strstr(b.data, "\"path\":\"/x\""));
    mdt_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_ok),
        cmocka_unit_test(test_form_bad),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_client_addr),
        cmocka_unit_test(test_conn_limit),
        cmocka_unit_test(test_resp_error),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_no_transport),
        cmocka_unit_test(test_access_log),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
