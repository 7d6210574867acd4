/* The web layer's pure logic: HTML escaping and templates, return_to
 * validation, CSRF tokens, cookies, session liveness, login throttling
 * windows and the console's text helpers and wide layout. */
#include "unit.h"

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "store/store.h"
#include "web/console.h"
#include "web/csrf.h"
#include "web/render.h"
#include "web/session.h"
#include "web/web.h"

static const char *escaped(mdt_buf *b, const char *s)
{
    mdt_buf_reset(b);
    assert_int_equal(mdt_html_escape(b, s), MDT_OK);
    return b->data ? b->data : "";
}

static void test_escape(void **state)
{
    mdt_buf b;

    (void)state;
    mdt_buf_init(&b, 4096);
    assert_string_equal(escaped(&b, "&"), "&amp;");
    assert_string_equal(escaped(&b, "<"), "&lt;");
    assert_string_equal(escaped(&b, ">"), "&gt;");
    assert_string_equal(escaped(&b, "\""), "&quot;");
    assert_string_equal(escaped(&b, "'"), "&#39;");
    assert_string_equal(escaped(&b, "plain text"), "plain text");
    assert_string_equal(escaped(&b, "<script>alert('x')</script><img src=x onerror=\"y\">&amp;"),
                        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x "
                        "onerror=&quot;y&quot;&gt;&amp;amp;");
    assert_string_equal(escaped(&b, ""), "");
    assert_string_equal(escaped(&b, NULL), "");
    mdt_buf_free(&b);
}

static void test_render(void **state)
{
    mdt_arena a;
    const char *out;
    mdt_err err;
    mdt_kv vars[] = {{"name", "\"><script>x</script>"}, {"raw", "<b>ok</b>"}, {"none", NULL}};

    (void)state;
    mdt_arena_init(&a, 4096);
    /* attribute context: the value cannot close the quote */
    assert_int_equal(mdt_web_render_str(&a, "<input value=\"{{name}}\">{{!raw}}{{none}}|", vars, 3,
                                        &out, &err),
                     MDT_OK);
    assert_string_equal(out, "<input value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">"
                             "<b>ok</b>|");
    /* single-quoted attributes too */
    mdt_kv q[] = {{"v", "' onmouseover='x"}};
    assert_int_equal(mdt_web_render_str(&a, "<a title='{{v}}'>", q, 1, &out, &err), MDT_OK);
    assert_string_equal(out, "<a title='&#39; onmouseover=&#39;x'>");
    /* values are not templates */
    mdt_kv inner[] = {{"v", "{{v}}"}};
    assert_int_equal(mdt_web_render_str(&a, "{{v}}", inner, 1, &out, &err), MDT_OK);
    assert_string_equal(out, "{{v}}");
    assert_int_equal(mdt_web_render_str(&a, "{{missing}}", vars, 3, &out, &err), MDT_ERR_INTERNAL);
    assert_int_equal(mdt_web_render_str(&a, "{{name", vars, 3, &out, &err), MDT_ERR_INTERNAL);
    mdt_arena_free(&a);
}

static void test_page_headers(void **state)
{
    mdt_resp r = {0};
    bool csp = false, xfo = false, ref = false;

    (void)state;
    mdt_buf_init(&r.body, MDT_WEB_PAGE_MAX);
    mdt_web_message_page(&r, 200, "T<i>", "m&m");
    assert_int_equal(r.status, 200);
    assert_true(r.no_store);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(r.body.data, "<title>T&lt;i&gt; - Mandate</title>"));
    assert_non_null(strstr(r.body.data, "<p>m&amp;m</p>"));
    assert_non_null(strstr(r.body.data, "href=\"/static/mandate.css\""));
    for (size_t i = 0; i < r.nheaders; i++) {
        if (strcmp(r.headers[i].name, "Content-Security-Policy") == 0)
            csp = strcmp(r.headers[i].value,
                         "default-src 'none'; style-src 'self'; img-src 'self'; form-action "
                         "'self'; frame-ancestors 'none'; base-uri 'none'") == 0;
        xfo |= strcmp(r.headers[i].name, "X-Frame-Options") == 0 &&
               strcmp(r.headers[i].value, "DENY") == 0;
        ref |= strcmp(r.headers[i].name, "Referrer-Policy") == 0 &&
               strcmp(r.headers[i].value, "no-referrer") == 0;
    }
    assert_true(csp && xfo && ref);
    mdt_buf_free(&r.body);
}

static void test_console_text(void **state)
{
    mdt_arena a;
    mdt_req req = {.arena = &a, .now = 1767225600};
    mdt_resp r = {0};

    (void)state;
    mdt_arena_init(&a, 1024);
    assert_string_equal(mdt_console_ago(&req, 0), "never");
    assert_string_equal(mdt_console_ago(&req, req.now), "just now");
    assert_string_equal(mdt_console_ago(&req, req.now + 5), "just now"); /* a clock ahead */
    assert_string_equal(mdt_console_ago(&req, req.now - 1), "1 second ago");
    assert_string_equal(mdt_console_ago(&req, req.now - 59), "59 seconds ago");
    assert_string_equal(mdt_console_ago(&req, req.now - 60), "1 minute ago");
    assert_string_equal(mdt_console_ago(&req, req.now - 7199), "1 hour ago");
    assert_string_equal(mdt_console_ago(&req, req.now - 3 * 86400 - 5), "3 days ago");
    assert_string_equal(mdt_console_time(&req, 0), "-");
    assert_string_equal(mdt_console_time(&req, req.now), "2026-01-01T00:00:00Z");
    /* an id that is a URL stays one path segment */
    assert_string_equal(mdt_console_client_path(&req, "https://a.example/c?x=1"),
                        "/console/clients/https%3A%2F%2Fa.example%2Fc%3Fx%3D1");
    assert_string_equal(mdt_console_client_path(&req, "mdt_Ab-_9"), "/console/clients/mdt_Ab-_9");
    /* the wide layout: same headers, another class */
    mdt_buf_init(&r.body, MDT_WEB_PAGE_MAX);
    mdt_web_wide_page(&r, 200, "T", "<p>x</p>");
    assert_non_null(strstr(r.body.data, "<main class=\"card wide\">"));
    assert_true(r.no_store);
    mdt_buf_free(&r.body);
    mdt_arena_free(&a);
}

static void test_return_to(void **state)
{
    static const char *const ok[] = {"/", "/authorize?client_id=a&state=x%20y", "/a/b#frag",
                                     "/consent?x=%2F", "/a//b"};
    static const char *const bad[] = {
        "", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
        "/a\\b", "https://evil.example/", "http:/evil", "javascript:alert(1)",
        "JavaScript:alert(1)", "evil.example", "a/b", "/%2F/evil.example", "/%2f%2fevil",
        "/%5cevil.example", "/%5Cevil", "/a%0d%0aSet-Cookie:x=y", "/a\r\nX: y", "/a b",
        "/%", "/%2", "/%zz", "/caf\xc3\xa9", "/%00", " /a", "/a\t",
    };
    char big[MDT_WEB_RETURN_TO_MAX + 2];

    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(ok); i++)
        assert_true(mdt_web_return_to_valid(ok[i]));
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        if (mdt_web_return_to_valid(bad[i]))
            fail_msg("accepted %s", bad[i]);
    }
    assert_false(mdt_web_return_to_valid(NULL));
    memset(big, 'a', sizeof(big));
    big[0] = '/';
    big[MDT_WEB_RETURN_TO_MAX] = '\0';
    assert_true(mdt_web_return_to_valid(big));
    big[MDT_WEB_RETURN_TO_MAX] = 'a';
    big[MDT_WEB_RETURN_TO_MAX + 1] = '\0';
    assert_false(mdt_web_return_to_valid(big));
}

static void test_csrf(void **state)
{
    const char *sid = "DKNropiN3xfGK8-WAdlma7HAXRgdLBgdtixxM3QfP4c";
    const char *other = "0bOcflVA9kPnwM4TB9kD5bOsfns7YbCtN6zBs_a3Wk8";
    char t[MDT_WEB_CSRF_LEN + 1], t2[MDT_WEB_CSRF_LEN + 1], wrong[MDT_WEB_CSRF_LEN + 1];

    (void)state;
    mdt_web_csrf_token(sid, "logout", t);
    assert_int_equal(strlen(t), MDT_WEB_CSRF_LEN);
    mdt_web_csrf_token(sid, "logout", t2);
    assert_string_equal(t, t2); /* deterministic: any node can check it */
    assert_true(mdt_web_csrf_verify(sid, "logout", t));
    /* wrong: one character changed, truncated, extended */
    memcpy(wrong, t, sizeof(wrong));
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
    assert_false(mdt_web_csrf_verify(sid, "logout", wrong));
    memcpy(wrong, t, sizeof(wrong));
    wrong[MDT_WEB_CSRF_LEN - 1] = '\0';
    assert_false(mdt_web_csrf_verify(sid, "logout", wrong));
    assert_false(mdt_web_csrf_verify(sid, "logout", mdt_web_csrf_verify(sid, "x", t) ? t : "x"));
    /* missing */
    assert_false(mdt_web_csrf_verify(sid, "logout", ""));
    assert_false(mdt_web_csrf_verify(sid, "logout", NULL));
    assert_false(mdt_web_csrf_verify(NULL, "logout", t));
    assert_false(mdt_web_csrf_verify("", "logout", t));
    /* another session, another purpose */
    assert_false(mdt_web_csrf_verify(other, "logout", t));
    assert_false(mdt_web_csrf_verify(sid, "login", t));
    mdt_web_csrf_token(other, "logout", t2);
    assert_string_not_equal(t, t2);
}

static void test_cookies(void **state)
{
    mdt_arena a;
    mdt_config cfg = {0};
    mdt_err err;

    (void)state;
    (void)err;
    mdt_arena_init(&a, 4096);
    assert_string_equal(mdt_web_set_cookie(&a, "mandate_session", "abc", 43200, true),
                        "mandate_session=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax; Secure");
    assert_string_equal(mdt_web_set_cookie(&a, "mandate_session", "", 0, false),
                        "mandate_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    assert_string_equal(mdt_web_set_cookie(&a, "mandate_csrf", "x", -1, false),
                        "mandate_csrf=x; Path=/; HttpOnly; SameSite=Lax");
    cfg.issuer = "http://127.0.0.1:8080";
    assert_false(mdt_web_cookie_secure(&cfg));
    cfg.issuer = "https://auth.example.com";
    assert_true(mdt_web_cookie_secure(&cfg));
    cfg.issuer = "https://127.0.0.1:8443";
    assert_true(mdt_web_cookie_secure(&cfg));

    assert_string_equal(mdt_cookie_find("a=1; mandate_session=xyz; b=2", "mandate_session", &a),
                        "xyz");
    assert_string_equal(mdt_cookie_find("mandate_session=xyz", "mandate_session", &a), "xyz");
    assert_null(mdt_cookie_find("xmandate_session=xyz", "mandate_session", &a));
    assert_null(mdt_cookie_find("mandate_session_old=xyz", "mandate_session", &a));
    assert_null(mdt_cookie_find("a=1", "mandate_session", &a));
    assert_null(mdt_cookie_find(NULL, "mandate_session", &a));
    assert_string_equal(mdt_cookie_find("a=1;mandate_csrf=q", "mandate_csrf", &a), "q");
    mdt_arena_free(&a);
}

static void test_session_live(void **state)
{
    mdt_session_rec r = {.last_seen_at = 1000, .expires_at = 5000};

    (void)state;
    assert_true(mdt_web_session_live(&r, 1000, 1800));
    assert_true(mdt_web_session_live(&r, 2799, 1800));
    assert_false(mdt_web_session_live(&r, 2800, 1800)); /* idle */
    r.last_seen_at = 4900;
    assert_true(mdt_web_session_live(&r, 4999, 1800));
    assert_false(mdt_web_session_live(&r, 5000, 1800)); /* absolute */
    r.revoked_at = 4950;
    assert_false(mdt_web_session_live(&r, 4960, 1800)); /* revoked */
}

static void test_throttle_window(void **state)
{
    test_clock c = {.t = 1800000000};

    (void)state;
    assert_int_equal(mdt_web_login_window(c.t), c.t - c.t % 900);
    assert_int_equal(mdt_web_login_window(c.t + 899 - c.t % 900), mdt_web_login_window(c.t));
    assert_int_equal(mdt_web_login_window(c.t + 900 - c.t % 900), mdt_web_login_window(c.t) + 900);
    c.t = 900 * 2000000;                    /* start of a window: 15 minutes left */
    assert_int_equal(mdt_web_login_retry_minutes(c.t), 15);
    assert_int_equal(mdt_web_login_retry_minutes(c.t + 1), 15); /* 14:59 rounds up */
    assert_int_equal(mdt_web_login_retry_minutes(c.t + 840), 1);
    assert_int_equal(mdt_web_login_retry_minutes(c.t + 899), 1); /* never "0 minutes" */
    assert_false(mdt_web_login_throttled(4, 19, 5, 20));
    assert_true(mdt_web_login_throttled(5, 0, 5, 20));
    assert_true(mdt_web_login_throttled(0, 20, 5, 20));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),       cmocka_unit_test(test_render),
        cmocka_unit_test(test_page_headers), cmocka_unit_test(test_return_to),
        cmocka_unit_test(test_csrf),         cmocka_unit_test(test_cookies),
        cmocka_unit_test(test_session_live), cmocka_unit_test(test_throttle_window),
        cmocka_unit_test(test_console_text),
    };
    return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
