/* core/metrics: per-thread counters summed at scrape, and the text
 * exposition format (cumulative buckets, _sum, _count, merged reasons). */
#include "unit.h"

#include <pthread.h>

#include "core/metrics.h"

static const char *const endpoints[] = {"unmatched", "/token", "/jwks"};

/* The value of the sample line that starts with prefix (then a space), or -1. */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);

    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static char *scrape(void)
{
    mdt_metrics_gauges g = {.approvals_pending = 3, .version = "9.9.9"};
    mdt_buf b;

    mdt_buf_init(&b, 1 << 22);
    assert_int_equal(mdt_metrics_render(&b, &g), MDT_OK);
    assert_int_equal(mdt_buf_add(&b, "", 1), MDT_OK);
    return mdt_buf_take(&b);
}

#define THREADS 8
#define PER_THREAD 5000

static void *count_some(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        mdt_metrics_token_issued(MDT_MG_CLIENT_CREDENTIALS);
        mdt_metrics_http(1, 200, 0.003);
    }
    return NULL;
}

/* Threads count into blocks of their own; the scrape sums them, also after
 * the threads have ended; threads started later take idle blocks over. */
static void test_threads_summed(void **state)
{
    pthread_t t[THREADS];
    char *before, *after;
    const char *issued = "mandate_tokens_issued_total{grant=\"client_credentials\"}";
    const char *count = "mandate_http_request_duration_seconds_count{endpoint=\"/token\"}";
    double base_issued, base_count;
    (void)state;

    mdt_metrics_set_endpoints(endpoints, MDT_ARRAY_LEN(endpoints));
    before = scrape();
    base_issued = sample(before, issued);
    base_count = sample(before, count) < 0 ? 0 : sample(before, count);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < THREADS; i++)
            assert_int_equal(pthread_create(&t[i], NULL, count_some, NULL), 0);
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
    }
    after = scrape();
    assert_true(sample(after, issued) - base_issued == 2.0 * THREADS * PER_THREAD);
    assert_true(sample(after, count) - base_count == 2.0 * THREADS * PER_THREAD);
    assert_true(sample(after,
                       "mandate_http_requests_total{endpoint=\"/token\",status=\"200\"}") >=
                2.0 * THREADS * PER_THREAD);
    free(before);
    free(after);
}

/* Buckets are cumulative and end with +Inf = _count; _sum in seconds. */
static void test_histogram_format(void **state)
{
    char *text;
    (void)state;

    mdt_metrics_set_endpoints(endpoints, MDT_ARRAY_LEN(endpoints));
    mdt_metrics_http(2, 200, 0.0004); /* first bucket */
    mdt_metrics_http(2, 200, 0.02);   /* le 0.025 */
    mdt_metrics_http(2, 200, 60);     /* +Inf only */
    text = scrape();
    assert_true(sample(text, "mandate_http_request_duration_seconds_bucket{endpoint=\"/jwks\",le=\"0.0005\"}") == 1);
    assert_true(sample(text, "mandate_http_request_duration_seconds_bucket{endpoint=\"/jwks\",le=\"0.01\"}") == 1);
    assert_true(sample(text, "mandate_http_request_duration_seconds_bucket{endpoint=\"/jwks\",le=\"0.025\"}") == 2);
    assert_true(sample(text, "mandate_http_request_duration_seconds_bucket{endpoint=\"/jwks\",le=\"10\"}") == 2);
    assert_true(sample(text, "mandate_http_request_duration_seconds_bucket{endpoint=\"/jwks\",le=\"+Inf\"}") == 3);
    assert_true(sample(text, "mandate_http_request_duration_seconds_count{endpoint=\"/jwks\"}") == 3);
    {
        double sum = sample(text, "mandate_http_request_duration_seconds_sum{endpoint=\"/jwks\"}");
        assert_true(sum > 60.0203 && sum < 60.0205);
    }
    assert_non_null(strstr(text, "# TYPE mandate_http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(text, "# TYPE mandate_tokens_refused_total counter\n"));
    assert_true(sample(text, "mandate_approvals_pending") == 3);
    assert_true(sample(text, "mandate_build_info{version=\"9.9.9\"}") == 1);
    /* an endpoint never asked has no series */
    assert_null(strstr(text, "endpoint=\"unmatched\""));
    free(text);
}

/* Labels: grant types outside the list are "other"; rc values that share an
 * OAuth error code are one series; unusual statuses are "other". */
static void test_labels(void **state)
{
    char *text;
    (void)state;

    mdt_metrics_set_endpoints(endpoints, MDT_ARRAY_LEN(endpoints));
    assert_int_equal(mdt_metrics_grant_of("refresh_token"), MDT_MG_REFRESH_TOKEN);
    assert_int_equal(mdt_metrics_grant_of("urn:x:made-up"), MDT_MG_OTHER);
    assert_int_equal(mdt_metrics_grant_of(NULL), MDT_MG_OTHER);
    mdt_metrics_token_refused(MDT_MG_OTHER, MDT_ERR_INVALID_REQUEST);
    mdt_metrics_token_refused(MDT_MG_OTHER, MDT_ERR_TOO_LARGE); /* also invalid_request */
    mdt_metrics_token_refused(MDT_MG_OTHER, MDT_ERR_NOMEM);
    mdt_metrics_token_refused(MDT_MG_OTHER, MDT_ERR_STORE); /* also server_error */
    mdt_metrics_http(0, 418, 0.001);
    mdt_metrics_http(99999, 200, 0.001); /* out of range: ignored */
    mdt_metrics_forward_auth(MDT_MF_FORBIDDEN);
    mdt_metrics_token_read(true);
    mdt_metrics_token_read(true);
    mdt_metrics_token_read(false);
    mdt_metrics_fetch(MDT_MK_JWKS, MDT_MO_TIMEOUT);
    mdt_metrics_pdp(MDT_MP_OPA, 0.2);
    mdt_metrics_audit_commit(0.001, 7);
    text = scrape();
    assert_true(sample(text, "mandate_tokens_refused_total{grant=\"other\",reason=\"invalid_request\"}") == 2);
    assert_true(sample(text, "mandate_tokens_refused_total{grant=\"other\",reason=\"server_error\"}") == 2);
    assert_true(sample(text, "mandate_http_requests_total{endpoint=\"unmatched\",status=\"other\"}") == 1);
    assert_true(sample(text, "mandate_forward_auth_decisions_total{decision=\"forbidden\"}") == 1);
    assert_true(sample(text, "mandate_token_reads_total{signature=\"cached\"}") == 2);
    assert_true(sample(text, "mandate_token_reads_total{signature=\"verified\"}") == 1);
    assert_true(sample(text, "mandate_outbound_fetches_total{kind=\"jwks\",outcome=\"timeout\"}") == 1);
    assert_true(sample(text, "mandate_pdp_duration_seconds_bucket{mode=\"opa\",le=\"0.25\"}") == 1);
    assert_true(sample(text, "mandate_pdp_duration_seconds_bucket{mode=\"opa\",le=\"0.1\"}") == 0);
    assert_true(sample(text, "mandate_audit_batch_size_bucket{le=\"4\"}") == 0);
    assert_true(sample(text, "mandate_audit_batch_size_bucket{le=\"8\"}") == 1);
    assert_true(sample(text, "mandate_audit_batch_size_sum") == 7);
    assert_true(sample(text, "mandate_audit_batch_size_count") == 1);
    /* one series per label set: no two lines with the same labels */
    {
        const char *first = strstr(text, "reason=\"invalid_request\"");
        assert_non_null(first);
        assert_null(strstr(first + 1, "grant=\"other\",reason=\"invalid_request\""));
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_summed),
        cmocka_unit_test(test_histogram_format),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
