/* Per-thread counter blocks summed at scrape (see metrics.h). */
#define _GNU_SOURCE
#include "core/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/thread_local.h"

/* Durations: upper bounds in seconds (Prometheus's usual ladder, from 0.5 ms). */
static const double lat_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NLAT MDT_ARRAY_LEN(lat_le)
/* Audit batch sizes: events per group commit. */
static const double batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define NBATCH MDT_ARRAY_LEN(batch_le)

/* The status codes counted by name; anything else is counted as "other". */
static const int statuses[] = {200, 201, 204, 301, 302, 303, 304, 307, 400, 401, 403, 404, 405,
                               406, 409, 410, 413, 415, 422, 429, 500, 501, 502, 503, 504};
#define NSTATUS (MDT_ARRAY_LEN(statuses) + 1)

static const char *const grant_names[MDT_MG_COUNT] = {
    [MDT_MG_AUTHORIZATION_CODE] = "authorization_code",
    [MDT_MG_CLIENT_CREDENTIALS] = "client_credentials",
    [MDT_MG_REFRESH_TOKEN] = "refresh_token",
    [MDT_MG_TOKEN_EXCHANGE] = "urn:ietf:params:oauth:grant-type:token-exchange",
    [MDT_MG_JWT_BEARER] = "urn:ietf:params:oauth:grant-type:jwt-bearer",
    [MDT_MG_DEVICE_CODE] = "urn:ietf:params:oauth:grant-type:device_code",
    [MDT_MG_CIBA] = "urn:openid:params:grant-type:ciba",
    [MDT_MG_OTHER] = "other",
};
static const char *const fwd_names[MDT_MF_COUNT] = {"allow", "unauthorized", "forbidden", "error"};
static const char *const pdp_names[MDT_MP_COUNT] = {"embedded", "authzen", "opa"};
static const char *const kind_names[MDT_MK_COUNT] = {"other", "jwks", "metadata", "webhook",
                                                     "pdp"};
static const char *const outcome_names[MDT_MO_COUNT] = {"ok",        "http_error", "timeout",
                                                        "refused",   "too_large",  "failed"};

typedef struct {
    uint64_t n[NLAT + 1]; /* per bucket, not cumulative; the last is +Inf */
    uint64_t sum_ns;
} lat_hist;

typedef struct {
    uint64_t n[NBATCH + 1];
    uint64_t sum;
} batch_hist;

typedef struct block {
    struct block *next;
    bool in_use; /* owned by a live thread (atomic) */
    uint64_t http[MDT_METRICS_MAX_ENDPOINTS][NSTATUS];
    lat_hist http_lat[MDT_METRICS_MAX_ENDPOINTS];
    uint64_t issued[MDT_MG_COUNT];
    uint64_t refused[MDT_MG_COUNT][MDT_RC_COUNT];
    uint64_t fwd[MDT_MF_COUNT];
    uint64_t token_reads[2]; /* [cached] */
    lat_hist pdp[MDT_MP_COUNT];
    lat_hist audit_lat;
    batch_hist audit_batch;
    uint64_t fetches[MDT_MK_COUNT][MDT_MO_COUNT];
} block;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static block *blocks;
static _Thread_local block *mine;
static const char *const *endpoint_names;
static size_t nendpoints;

/* ---- counting ------------------------------------------------------------------------- */

/* Only the owner writes a block: a load and a store, never a shared RMW. */
#define ADD(field, v) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (v), \
                                       __ATOMIC_RELAXED)
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static void release_block(void *p)
{
    block *b = p;
    __atomic_store_n(&b->in_use, false, __ATOMIC_RELEASE);
}

/* An idle block taken over, else a new one; NULL when memory ran out. */
static void *take_block(void)
{
    block *b;

    pthread_mutex_lock(&mu);
    for (b = blocks; b; b = b->next) {
        bool idle = false;
        if (__atomic_compare_exchange_n(&b->in_use, &idle, true, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            break;
    }
    if (!b && (b = calloc(1, sizeof(*b)))) {
        b->in_use = true;
        b->next = blocks;
        blocks = b;
    }
    pthread_mutex_unlock(&mu);
    return b;
}

/* A thread's block, released (not freed) when the thread ends. */
static mdt_thread_local owned = MDT_THREAD_LOCAL(take_block, release_block);

/* The calling thread's block. NULL when memory ran out (the count is lost,
 * nothing else). */
static block *my_block(void)
{
    return mine ? mine : (mine = mdt_thread_local_get(&owned));
}

static void lat_add(lat_hist *h, double seconds)
{
    size_t i = 0;

    if (seconds < 0)
        seconds = 0;
    while (i < NLAT && seconds > lat_le[i])
        i++;
    ADD(h->n[i], 1);
    ADD(h->sum_ns, (uint64_t)(seconds * 1e9));
}

void mdt_metrics_set_endpoints(const char *const *names, size_t n)
{
    endpoint_names = names;
    nendpoints = n < MDT_METRICS_MAX_ENDPOINTS ? n : MDT_METRICS_MAX_ENDPOINTS;
}

mdt_metric_grant mdt_metrics_grant_of(const char *grant_type)
{
    for (int g = 0; grant_type && g < MDT_MG_OTHER; g++)
        if (strcmp(grant_type, grant_names[g]) == 0)
            return (mdt_metric_grant)g;
    return MDT_MG_OTHER;
}

static size_t status_index(int status)
{
    size_t i = 0;

    while (i < MDT_ARRAY_LEN(statuses) && statuses[i] != status)
        i++;
    return i;
}

void mdt_metrics_http(unsigned endpoint, int status, double seconds)
{
    block *b = my_block();

    if (!b || endpoint >= MDT_METRICS_MAX_ENDPOINTS)
        return;
    ADD(b->http[endpoint][status_index(status)], 1);
    lat_add(&b->http_lat[endpoint], seconds);
}

void mdt_metrics_token_issued(mdt_metric_grant g)
{
    block *b = my_block();

    if (b && (unsigned)g < MDT_MG_COUNT)
        ADD(b->issued[g], 1);
}

void mdt_metrics_token_refused(mdt_metric_grant g, mdt_rc rc)
{
    block *b = my_block();

    if (b && (unsigned)g < MDT_MG_COUNT && (unsigned)rc < MDT_RC_COUNT)
        ADD(b->refused[g][rc], 1);
}

void mdt_metrics_forward_auth(mdt_metric_fwd decision)
{
    block *b = my_block();

    if (b && (unsigned)decision < MDT_MF_COUNT)
        ADD(b->fwd[decision], 1);
}

void mdt_metrics_token_read(bool cached)
{
    block *b = my_block();

    if (b)
        ADD(b->token_reads[cached], 1);
}

void mdt_metrics_pdp(mdt_metric_pdp mode, double seconds)
{
    block *b = my_block();

    if (b && (unsigned)mode < MDT_MP_COUNT)
        lat_add(&b->pdp[mode], seconds);
}

void mdt_metrics_audit_commit(double seconds, size_t batch)
{
    block *b = my_block();
    size_t i = 0;

    if (!b)
        return;
    lat_add(&b->audit_lat, seconds);
    while (i < NBATCH && (double)batch > batch_le[i])
        i++;
    ADD(b->audit_batch.n[i], 1);
    ADD(b->audit_batch.sum, (uint64_t)batch);
}

void mdt_metrics_fetch(mdt_metric_fetch_kind kind, mdt_metric_fetch_outcome outcome)
{
    block *b = my_block();

    if (b && (unsigned)kind < MDT_MK_COUNT && (unsigned)outcome < MDT_MO_COUNT)
        ADD(b->fetches[kind][outcome], 1);
}

/* ---- the scrape ----------------------------------------------------------------------- */

/* The sum of every block, read under the registration lock. */
static block *sum_blocks(void)
{
    block *s = calloc(1, sizeof(*s));
    uint64_t *dst = (uint64_t *)(void *)&s->http;
    size_t words = (sizeof(block) - offsetof(block, http)) / sizeof(uint64_t);

    if (!s)
        return NULL;
    pthread_mutex_lock(&mu);
    for (block *b = blocks; b; b = b->next) {
        const uint64_t *src = (const uint64_t *)(const void *)&b->http;
        for (size_t i = 0; i < words; i++)
            dst[i] += LOAD(src[i]);
    }
    pthread_mutex_unlock(&mu);
    return s;
}

static mdt_rc head(mdt_buf *o, const char *name, const char *type, const char *help)
{
    return mdt_buf_addf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram series: cumulative buckets, _sum, _count. labels is
 * "" or `name="value",` (with the trailing comma). */
static mdt_rc hist(mdt_buf *o, const char *name, const char *labels, const uint64_t *n,
                   const double *le, size_t nle, double sum)
{
    uint64_t cum = 0;
    size_t ll = strlen(labels);
    mdt_rc rc = MDT_OK;

    for (size_t i = 0; rc == MDT_OK && i <= nle; i++) {
        cum += n[i];
        if (i < nle)
            rc = mdt_buf_addf(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, le[i],
                              (unsigned long long)cum);
        else
            rc = mdt_buf_addf(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels,
                              (unsigned long long)cum);
    }
    if (rc == MDT_OK)
        rc = mdt_buf_addf(o, "%s_sum%s%.*s%s %.9g\n%s_count%s%.*s%s %llu\n", name, ll ? "{" : "",
                          (int)(ll ? ll - 1 : 0), labels, ll ? "}" : "", sum, name, ll ? "{" : "",
                          (int)(ll ? ll - 1 : 0), labels, ll ? "}" : "", (unsigned long long)cum);
    return rc;
}

static uint64_t total(const uint64_t *n, size_t count)
{
    uint64_t t = 0;
    for (size_t i = 0; i < count; i++)
        t += n[i];
    return t;
}

static mdt_rc render_http(mdt_buf *o, const block *s)
{
    char labels[256];
    mdt_rc rc = head(o, "mandate_http_requests_total", "counter",
                     "HTTP requests answered, by endpoint (route pattern) and status code.");

    for (size_t e = 0; rc == MDT_OK && e < nendpoints; e++)
        for (size_t i = 0; rc == MDT_OK && i < NSTATUS; i++) {
            char st[8];
            if (!s->http[e][i])
                continue;
            if (i < MDT_ARRAY_LEN(statuses))
                snprintf(st, sizeof(st), "%d", statuses[i]);
            else
                snprintf(st, sizeof(st), "other");
            rc = mdt_buf_addf(o, "mandate_http_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n",
                              endpoint_names[e], st, (unsigned long long)s->http[e][i]);
        }
    if (rc == MDT_OK)
        rc = head(o, "mandate_http_request_duration_seconds", "histogram",
                  "Time from a request's first byte to its answer, by endpoint.");
    for (size_t e = 0; rc == MDT_OK && e < nendpoints; e++) {
        if (!total(s->http_lat[e].n, NLAT + 1))
            continue;
        snprintf(labels, sizeof(labels), "endpoint=\"%s\",", endpoint_names[e]);
        rc = hist(o, "mandate_http_request_duration_seconds", labels, s->http_lat[e].n, lat_le,
                  NLAT, (double)s->http_lat[e].sum_ns / 1e9);
    }
    return rc;
}

/* Refusals by grant and OAuth error code: rc values that share a code are
 * one series. */
static mdt_rc render_tokens(mdt_buf *o, const block *s)
{
    mdt_rc rc = head(o, "mandate_tokens_issued_total", "counter",
                     "Tokens issued at /token, by grant type.");

    for (size_t g = 0; rc == MDT_OK && g < MDT_MG_COUNT; g++)
        rc = mdt_buf_addf(o, "mandate_tokens_issued_total{grant=\"%s\"} %llu\n", grant_names[g],
                          (unsigned long long)s->issued[g]);
    if (rc == MDT_OK)
        rc = head(o, "mandate_tokens_refused_total", "counter",
                  "Token requests refused at /token, by grant type and OAuth error code.");
    for (size_t g = 0; rc == MDT_OK && g < MDT_MG_COUNT; g++)
        for (int r = 1; rc == MDT_OK && r < MDT_RC_COUNT; r++) {
            uint64_t n = 0;
            bool first = true;
            for (int q = 1; q < r && first; q++)
                first = strcmp(mdt_rc_name((mdt_rc)q), mdt_rc_name((mdt_rc)r)) != 0;
            for (int q = r; first && q < MDT_RC_COUNT; q++)
                if (strcmp(mdt_rc_name((mdt_rc)q), mdt_rc_name((mdt_rc)r)) == 0)
                    n += s->refused[g][q];
            if (first && n)
                rc = mdt_buf_addf(o, "mandate_tokens_refused_total{grant=\"%s\",reason=\"%s\"} %llu\n",
                                  grant_names[g], mdt_rc_name((mdt_rc)r), (unsigned long long)n);
        }
    return rc;
}

static mdt_rc render_enforcement(mdt_buf *o, const block *s)
{
    char labels[64];
    mdt_rc rc = head(o, "mandate_forward_auth_decisions_total", "counter",
                     "Answers of /forward-auth, by decision.");

    for (size_t d = 0; rc == MDT_OK && d < MDT_MF_COUNT; d++)
        rc = mdt_buf_addf(o, "mandate_forward_auth_decisions_total{decision=\"%s\"} %llu\n",
                          fwd_names[d], (unsigned long long)s->fwd[d]);
    if (rc == MDT_OK)
        rc = head(o, "mandate_token_reads_total", "counter",
                  "JWT access tokens read by introspection, /userinfo, the admin API, AuthZEN and "
                  "/forward-auth, by whether their signature was verified now or before (cached).");
    for (int cached = 0; rc == MDT_OK && cached < 2; cached++)
        rc = mdt_buf_addf(o, "mandate_token_reads_total{signature=\"%s\"} %llu\n",
                          cached ? "cached" : "verified",
                          (unsigned long long)s->token_reads[cached]);
    if (rc == MDT_OK)
        rc = head(o, "mandate_pdp_duration_seconds", "histogram",
                  "Time a policy decision took, by PDP mode (external: the call's round trip).");
    for (size_t m = 0; rc == MDT_OK && m < MDT_MP_COUNT; m++) {
        snprintf(labels, sizeof(labels), "mode=\"%s\",", pdp_names[m]);
        rc = hist(o, "mandate_pdp_duration_seconds", labels, s->pdp[m].n, lat_le, NLAT,
                  (double)s->pdp[m].sum_ns / 1e9);
    }
    return rc;
}

static mdt_rc render_audit_fetch(mdt_buf *o, const block *s)
{
    mdt_rc rc = head(o, "mandate_audit_commit_duration_seconds", "histogram",
                     "Time one group commit of audit events took.");

    if (rc == MDT_OK)
        rc = hist(o, "mandate_audit_commit_duration_seconds", "", s->audit_lat.n, lat_le, NLAT,
                  (double)s->audit_lat.sum_ns / 1e9);
    if (rc == MDT_OK)
        rc = head(o, "mandate_audit_batch_size", "histogram", "Audit events per group commit.");
    if (rc == MDT_OK)
        rc = hist(o, "mandate_audit_batch_size", "", s->audit_batch.n, batch_le, NBATCH,
                  (double)s->audit_batch.sum);
    if (rc == MDT_OK)
        rc = head(o, "mandate_outbound_fetches_total", "counter",
                  "Outbound HTTP fetches, by kind and outcome.");
    for (size_t k = 0; rc == MDT_OK && k < MDT_MK_COUNT; k++)
        for (size_t r = 0; rc == MDT_OK && r < MDT_MO_COUNT; r++)
            if (s->fetches[k][r] || r == MDT_MO_OK)
                rc = mdt_buf_addf(o, "mandate_outbound_fetches_total{kind=\"%s\",outcome=\"%s\"} %llu\n",
                                  kind_names[k], outcome_names[r],
                                  (unsigned long long)s->fetches[k][r]);
    return rc;
}

/* Resident memory (/proc/self/statm) and CPU time of the process. */
static mdt_rc render_process(mdt_buf *o, const mdt_metrics_gauges *g)
{
    struct timespec cpu = {0};
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    mdt_rc rc = MDT_OK;

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = -1;
        fclose(f);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    if (f && rss >= 0)
        rc = head(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    if (rc == MDT_OK && f && rss >= 0)
        rc = mdt_buf_addf(o, "process_resident_memory_bytes %lld\n",
                          (long long)rss * sysconf(_SC_PAGESIZE));
    if (rc == MDT_OK)
        rc = head(o, "process_cpu_seconds_total", "counter",
                  "User and system CPU time spent in seconds.");
    if (rc == MDT_OK)
        rc = mdt_buf_addf(o, "process_cpu_seconds_total %.6f\n",
                          (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9);
    if (rc == MDT_OK && g->approvals_pending >= 0)
        rc = head(o, "mandate_approvals_pending", "gauge", "Approval requests waiting for a decision.");
    if (rc == MDT_OK && g->approvals_pending >= 0)
        rc = mdt_buf_addf(o, "mandate_approvals_pending %lld\n", (long long)g->approvals_pending);
    if (rc == MDT_OK && g->version)
        rc = head(o, "mandate_build_info", "gauge", "Always 1; the version is a label.");
    if (rc == MDT_OK && g->version)
        rc = mdt_buf_addf(o, "mandate_build_info{version=\"%s\"} 1\n", g->version);
    return rc;
}

mdt_rc mdt_metrics_render(mdt_buf *out, const mdt_metrics_gauges *g)
{
    block *s = sum_blocks();
    mdt_rc rc;

    if (!s)
        return MDT_ERR_NOMEM;
    rc = render_http(out, s);
    if (rc == MDT_OK)
        rc = render_tokens(out, s);
    if (rc == MDT_OK)
        rc = render_enforcement(out, s);
    if (rc == MDT_OK)
        rc = render_audit_fetch(out, s);
    if (rc == MDT_OK)
        rc = render_process(out, g);
    free(s);
    return rc;
}
