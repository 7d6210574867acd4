/* libmicrohttpd glue: one connection context per request, body collection
 * with a hard cap, dispatch through the route table, and responses that
 * carry an audit event wait (suspended, without holding a thread) until the
 * group-commit writer has made the event durable. */
#define _GNU_SOURCE
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/ip.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/thread_local.h"
#include "http/access_log.h"
#include "http/client_addr.h"
#include "http/conn_limit.h"
#include "http/framing.h"
#include "http/peer_cert.h"
#include "http/router.h"
#include "msg/msg.h"
#include "msg/transport.h"
#include "net/fetch.h"
#include "oauth/dpop.h"
#include "policy/pdp.h"
#include "store/store.h"

#define MAX_DAEMONS 8
#define ARENA_CHUNK 16384
#define CONN_MEMORY 16384 /* per-connection buffer for headers; MHD clears it per request */
#define MAX_FETCH_RERUNS 4 /* a request runs again at most this often after outbound fetches */

/* ST_FETCHING: suspended until an outbound fetch it needs has ended;
 * ST_RERUN: that fetch ended, the request runs again (net/fetch.h). */
enum { ST_RUNNING, ST_WAITING, ST_RESUMED, ST_FETCHING, ST_RERUN };

struct mdt_server {
    mdt_env *env;
    struct MHD_Daemon *daemons[MAX_DAEMONS];
    size_t ndaemons;
    char *tls_cert;
    char *tls_key;
    char *tls_ca;
    char id_prefix[12];
    atomic_ulong next_id;
    atomic_int inflight; /* requests between their first byte and their completion */
    mdt_conn_limit *conns; /* open connections per source */
    atomic_llong refusal_logged; /* second of the last "connection refused" log line */
};

typedef struct conn_ctx conn_ctx;
struct conn_ctx {
    conn_ctx *next_spare; /* in a thread's spare contexts (ctx_free) */
    mdt_server *srv;
    struct MHD_Connection *conn;
    mdt_arena arena;
    mdt_req req;
    mdt_resp resp;
    mdt_buf body;
    mdt_route_match match;
    mdt_route_result route;
    bool too_large;
    atomic_int state;
    atomic_int audit_rc;      /* the first failure of the request's audit events; MDT_OK */
    atomic_int audit_pending; /* events not yet durable (+1 while they are handed over) */
    mdt_ctx_events events;    /* the audit events of the request (req.ctx records here) */
    mdt_fetch_waiter waiter; /* handed to caches that must fetch before they can answer */
    int reruns;
    unsigned read_slot;       /* mdt_env_read_begin's, ended in ctx_free */
    double t0;
    char request_id[40];
    char peer[INET6_ADDRSTRLEN]; /* the TCP peer */
    char ip[INET6_ADDRSTRLEN];   /* the client: the peer, or what trusted proxies forwarded */
};

static const char *conn_header(const mdt_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static const char *conn_query(const mdt_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* What handlers learn of the connection (msg/transport.h). */
static const mdt_req_transport transport = {
    .header = conn_header,
    .query = conn_query,
    .tls_cert_present = mdt_http_tls_cert_present,
    .tls_certs = mdt_http_tls_certs,
};

static void peer_ip(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

typedef struct {
    mdt_buf b;
    bool incomplete; /* not every field fitted: the rightmost entries may be missing */
} forwarded_fields;

static enum MHD_Result forwarded_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    forwarded_fields *f = cls;
    (void)kind;

    if (key && value && strcasecmp(key, MDT_FORWARDED_FOR_HEADER) == 0 &&
        ((f->b.len && mdt_buf_adds(&f->b, ",") != MDT_OK) || mdt_buf_adds(&f->b, value) != MDT_OK)) {
        f->incomplete = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* c->ip: the client address (see client_addr.h). Every X-Forwarded-For
 * field counts, in order; the peer's address when they cannot all be read. */
static void client_address(conn_ctx *c)
{
    const char *trusted = c->srv->env->cfg.trusted_proxies;
    forwarded_fields xff = {0};

    peer_ip(c->conn, c->peer, sizeof(c->peer));
    if (!trusted || !*trusted || !mdt_ip_in_cidrs(c->peer, trusted)) {
        if (!mdt_client_addr(c->peer, NULL, NULL, c->ip))
            memcpy(c->ip, c->peer, sizeof(c->ip));
        return;
    }
    mdt_buf_init(&xff.b, CONN_MEMORY); /* the headers themselves fit in CONN_MEMORY */
    if (MHD_get_connection_values(c->conn, MHD_HEADER_KIND, forwarded_field, &xff) < 0 ||
        xff.incomplete || !mdt_client_addr(c->peer, xff.b.data, trusted, c->ip))
        mdt_client_addr(c->peer, NULL, NULL, c->ip);
    mdt_buf_free(&xff.b);
}

/* A connection's timeout: connection_timeout (the daemon's) for a new
 * connection and while a request's body arrives; keepalive_timeout from the
 * moment its response is queued until the next request's headers are in. */
static void set_timeout(struct MHD_Connection *conn, int64_t seconds)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_TIMEOUT);

    if (!ci || ci->connection_timeout != (unsigned)seconds)
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)seconds);
}

/* "application/x-www-form-urlencoded; charset=UTF-8" -> lower-case media type */
static const char *media_type(mdt_arena *a, const char *ct)
{
    size_t n = 0;
    char *out;

    if (!ct)
        return NULL;
    while (ct[n] && ct[n] != ';' && ct[n] != ' ' && ct[n] != '\t')
        n++;
    out = mdt_arena_strndup(a, ct, n);
    for (char *p = out; p && *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p + 32);
    return out;
}

/* From the fetcher's thread: the fetch this request waits for has ended. */
static void fetch_done(void *ctx)
{
    conn_ctx *c = ctx;

    if (atomic_exchange(&c->state, ST_RERUN) == ST_FETCHING)
        MHD_resume_connection(c->conn);
}

/* What a server thread keeps from one request to the next: the access log
 * line's buffer, and the contexts of ended requests, for the next ones. */
#define SPARE_CTX 16      /* contexts kept per thread */
#define SPARE_BODY 65536  /* a body buffer past this is freed, not kept */

typedef struct {
    mdt_buf line;       /* the access log line */
    mdt_time_text time; /* its time, formatted once per second */
    conn_ctx *spare;    /* ended requests' contexts, through next_spare */
    unsigned nspare;
} thread_cache;

static void *cache_make(void)
{
    thread_cache *t = calloc(1, sizeof(*t));

    if (t)
        mdt_buf_init(&t->line, 4096);
    return t;
}

static void cache_free(void *p)
{
    thread_cache *t = p;

    while (t->spare) {
        conn_ctx *c = t->spare;
        t->spare = c->next_spare;
        mdt_buf_free_wipe(&c->body);
        mdt_arena_free(&c->arena);
        free(c);
    }
    mdt_buf_free(&t->line);
    free(t);
}

static mdt_thread_local caches = MDT_THREAD_LOCAL(cache_make, cache_free);

/* This thread's cache, freed when the thread ends; NULL without memory. */
static thread_cache *thread_cache_get(void) { return mdt_thread_local_get(&caches); }

/* A zeroed context whose arena and body buffer are empty: an ended request's
 * (its first arena chunk and body allocation kept) or a new one. */
static conn_ctx *ctx_alloc(mdt_server *srv)
{
    thread_cache *t = thread_cache_get();
    conn_ctx *c;
    mdt_arena arena;
    mdt_buf body;

    if (!t || !t->spare) {
        if (!(c = calloc(1, sizeof(*c))))
            return NULL;
        mdt_arena_init(&c->arena, ARENA_CHUNK);
        mdt_buf_init(&c->body, (size_t)srv->env->cfg.max_body_bytes);
        return c;
    }
    c = t->spare;
    t->spare = c->next_spare;
    t->nspare--;
    arena = c->arena;
    body = c->body;
    memset(c, 0, sizeof(*c));
    c->arena = arena;
    c->body = body;
    c->body.max = (size_t)srv->env->cfg.max_body_bytes; /* SIGHUP may have changed it */
    return c;
}

/* The server's prefix, then a counter in six lower-case hex digits. */
static void request_id(mdt_server *srv, char out[40])
{
    static const char hex[] = "0123456789abcdef";
    unsigned long n = atomic_fetch_add(&srv->next_id, 1) & 0xffffff;
    size_t len = strlen(srv->id_prefix);

    memcpy(out, srv->id_prefix, len);
    for (int i = 5; i >= 0; i--, n >>= 4)
        out[len + (size_t)i] = hex[n & 15];
    out[len + 6] = '\0';
}

static conn_ctx *ctx_new(mdt_server *srv, struct MHD_Connection *conn, const char *url,
                         const char *method)
{
    conn_ctx *c = ctx_alloc(srv);
    if (!c)
        return NULL;
    c->srv = srv;
    c->conn = conn;
    atomic_fetch_add(&srv->inflight, 1);
    c->read_slot = mdt_env_read_begin(srv->env); /* what SIGHUP replaces outlives the request */
    c->t0 = mdt_time_real();
    mdt_buf_init(&c->resp.body, 1 << 20);
    request_id(srv, c->request_id);
    client_address(c);
    c->req.arena = &c->arena;
    c->req.now = mdt_now(&srv->env->clock);
    c->req.method = method;
    c->req.path = url;
    c->req.request_id = c->request_id;
    c->req.peer_ip = c->ip;
    c->req.socket_ip = c->peer;
    mdt_ctx_events_init(&c->events, &c->arena);
    mdt_ctx_init(&c->req.ctx, &c->events, NULL, c->req.now, c->request_id, c->ip);
    c->req.conn = conn;
    c->req.transport = &transport;
    c->waiter.ctx = c;
    c->waiter.wake = fetch_done;
    c->req.waiter = &c->waiter;
    c->req.content_type = media_type(&c->arena, MHD_lookup_connection_value(
                                                    conn, MHD_HEADER_KIND, "Content-Type"));
    c->route = mdt_route(method, url, &c->match);
    return c;
}

/* Ends a request: what held secrets (the body: client secrets) is wiped,
 * and the context kept for this thread's next request, or freed. */
static void ctx_free(conn_ctx *c)
{
    thread_cache *t;

    if (!c)
        return;
    mdt_buf_free_wipe(&c->resp.body);
    mdt_pdp_call_free(c->req.pdp_call); /* a PDP's answer the request did not take */
    mdt_env_read_end(c->srv->env, c->read_slot);
    t = thread_cache_get();
    if (!t || t->nspare >= SPARE_CTX || c->body.cap > SPARE_BODY) {
        mdt_buf_free_wipe(&c->body);
        mdt_arena_free(&c->arena);
        free(c);
        return;
    }
    if (c->body.data)
        mdt_wipe(c->body.data, c->body.len);
    mdt_buf_reset(&c->body);
    mdt_arena_reset(&c->arena);
    c->next_spare = t->spare;
    t->spare = c;
    t->nspare++;
}

static bool resp_has_header(const mdt_resp *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return true;
    return false;
}

static enum MHD_Result send_resp(conn_ctx *c)
{
    mdt_resp *r = &c->resp;
    size_t len = r->body.len;
    char *data = mdt_buf_take(&r->body);
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;

    if (!mr) {
        free(data);
        return MHD_NO;
    }
    if (r->content_type)
        MHD_add_response_header(mr, "Content-Type", r->content_type);
    if (!resp_has_header(r, "X-Request-ID")) /* else the caller's id, echoed (AuthZEN) */
        MHD_add_response_header(mr, "X-Request-Id", c->request_id);
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->no_store) {
        MHD_add_response_header(mr, "Cache-Control", "no-store");
        MHD_add_response_header(mr, "Pragma", "no-cache");
    }
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
    if (r->status == 0)
        r->status = 500;
    set_timeout(c->conn, c->srv->env->cfg.keepalive_timeout);
    ret = MHD_queue_response(c->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result send_error(conn_ctx *c, mdt_rc rc, const char *msg)
{
    mdt_err err;
    mdt_fail(&err, rc, msg);
    mdt_resp_error(&c->resp, &err);
    return send_resp(c);
}

/* The request's audit events are durable: the response leaves; or one is
 * not: 503 instead, and nothing issued leaves. MDT_ERR_CONFLICT: a client
 * the decision was made from changed before its event was committed
 * (mdt_audit_event.checks), so the event was not appended.
 * MDT_ERR_INVALID_CLIENT: the event consumed a client assertion's jti that
 * was used already (mdt_audit_event.uses): the refusal of the client's
 * authentication was appended in its place, and is the answer;
 * MDT_ERR_INVALID_DPOP_PROOF: the same for a DPoP proof's jti (400
 * invalid_dpop_proof). */
static enum MHD_Result on_resumed(conn_ctx *c)
{
    mdt_rc rc = atomic_load(&c->audit_rc);
    mdt_err err;

    if (rc == MDT_OK)
        return send_resp(c);
    if (rc == MDT_ERR_INVALID_CLIENT)
        mdt_failf(&err, MDT_ERR_INVALID_CLIENT, "client authentication failed", "replayed jti");
    else if (rc == MDT_ERR_INVALID_DPOP_PROOF)
        mdt_fail(&err, MDT_ERR_INVALID_DPOP_PROOF, MDT_DPOP_REPLAYED);
    else if (rc == MDT_ERR_CONFLICT)
        mdt_failf(&err, MDT_ERR_UNAVAILABLE,
                  "the client changed while the request was decided: try again",
                  "a client the decision was made from changed before its event was "
                  "committed: response withheld");
    else
        mdt_failf(&err, MDT_ERR_UNAVAILABLE, "audit log unavailable",
                  "audit event not durable (%s): response withheld", mdt_rc_name(rc));
    c->resp.nheaders = 0;
    mdt_resp_error(&c->resp, &err);
    return send_resp(c);
}

/* One of the request's events is durable (rc MDT_OK) or failed; the last
 * one resumes the connection. */
static void audit_done(void *ctx, mdt_rc rc)
{
    conn_ctx *c = ctx;

    if (rc != MDT_OK)
        atomic_store(&c->audit_rc, rc);
    if (atomic_fetch_sub(&c->audit_pending, 1) != 1)
        return;
    atomic_store(&c->state, ST_RESUMED);
    MHD_resume_connection(c->conn);
}

/* The one place a request's audit events are appended: the response, whatever
 * it is, waits suspended until every event the handler and the services it
 * called recorded is durable, and leaves as 503 if one is not. Without a
 * writer thread, they are appended in this thread. A refusal the server
 * answers before reading the body (hold false) issues nothing: its event is
 * handed to the writer and the answer leaves at once. */
static enum MHD_Result audit_then_send(conn_ctx *c, bool hold)
{
    mdt_env *env = c->srv->env;
    mdt_ctx_events *l = &c->events;
    mdt_err err;

    if (l->n == 0)
        return send_resp(c);
    if (!env->audit) {
        atomic_store(&c->audit_rc, mdt_ctx_commit(env, &c->req.ctx, &err));
        return hold ? on_resumed(c) : send_resp(c);
    }
    if (!hold) {
        for (size_t i = 0; i < l->n; i++)
            if (mdt_audit_submit(env->audit, &l->ev[i], NULL, NULL, &err) != MDT_OK)
                MDT_ERROR("cannot audit a refusal: %s", mdt_err_text(&err));
        l->n = 0;
        return send_resp(c);
    }
    atomic_store(&c->audit_rc, MDT_OK);
    atomic_store(&c->audit_pending, (int)l->n + 1);
    atomic_store(&c->state, ST_WAITING);
    MHD_suspend_connection(c->conn);
    for (size_t i = 0; i < l->n; i++)
        if (mdt_audit_submit(env->audit, &l->ev[i], audit_done, c, &err) != MDT_OK)
            audit_done(c, err.rc);
    l->n = 0;
    audit_done(c, MDT_OK); /* every event handed over */
    return MHD_YES;
}

/* A refusal the server answers itself (body too large, bad framing) on an
 * audited path: recorded without holding the response (audit_then_send). */
static enum MHD_Result send_refusal(conn_ctx *c, mdt_rc rc, const char *msg)
{
    mdt_err err;

    mdt_fail(&err, rc, msg);
    mdt_resp_error(&c->resp, &err);
    if (c->match.refusal_event) {
        mdt_audit_event ev = {
            .type = c->match.refusal_event,
            .decision = "deny",
            .reason = mdt_arena_printf(&c->arena, "%s: %s", mdt_rc_name(rc), msg),
        };
        if (mdt_ctx_audit_outcome(&c->req.ctx, &ev, &err) != MDT_OK)
            MDT_ERROR("cannot audit a refusal: %s", mdt_err_text(&err));
    }
    return audit_then_send(c, false);
}

/* The handler needs an outbound fetch first: its answer is dropped and the
 * connection suspended, as for the audit commit, until fetch_done; then the
 * request runs again and finds the outcome in the cache. If the fetch ended
 * before the suspension, the state is already ST_RERUN: resume at once. */
static enum MHD_Result wait_for_fetch(conn_ctx *c)
{
    int expected = ST_RUNNING;

    MHD_suspend_connection(c->conn);
    if (!atomic_compare_exchange_strong(&c->state, &expected, ST_FETCHING))
        MHD_resume_connection(c->conn);
    return MHD_YES;
}

/* Clears what the dropped run of the handler left. */
static void ctx_rerun(conn_ctx *c)
{
    mdt_buf_free_wipe(&c->resp.body);
    memset(&c->resp, 0, sizeof(c->resp));
    mdt_buf_init(&c->resp.body, 1 << 20);
    c->req.form = NULL;
    c->req.nform = 0;
    mdt_ctx_drop_events(&c->req.ctx); /* the dropped run's events: it runs again */
    c->waiter.registered = false;
    c->waiter.next = NULL;
    c->reruns++;
    atomic_store(&c->state, ST_RUNNING);
}

static enum MHD_Result finish_request(conn_ctx *c)
{
    mdt_env *env = c->srv->env;

    mdt_log_set_request_id(c->request_id);
    if (c->route == MDT_ROUTE_NOT_FOUND)
        return send_error(c, MDT_ERR_NOT_FOUND, "no such endpoint");
    if (c->route == MDT_ROUTE_BAD_METHOD) {
        mdt_resp_header(&c->resp, "Allow", c->match.allow);
        return send_error(c, MDT_ERR_METHOD, "method not allowed on this endpoint");
    }
    if (c->too_large)
        return send_refusal(c, MDT_ERR_TOO_LARGE, "request body too large");
    c->req.body = c->body.data ? c->body.data : "";
    c->req.body_len = c->body.len;
    c->match.fn(env, &c->req, &c->resp);
    /* a read scope left open would pin the SQLite log until this thread's
       next request: end it before the answer waits on anything */
    if (mdt_store_read_reset(env->store) > 0)
        MDT_WARN("%s left a read scope of the store open", c->req.path ? c->req.path : "?");
    if (c->waiter.registered)
        return wait_for_fetch(c);
    return audit_then_send(c, true);
}

static enum MHD_Result framing_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    mdt_framing_add(cls, key, value);
    return MHD_YES;
}

/* Refuses, before any byte of the body is read, a request whose end a proxy
 * in front could see elsewhere than libmicrohttpd does (request smuggling):
 * 400, and the connection is closed after the answer. */
static bool refuse_bad_framing(conn_ctx *c, const char *version, enum MHD_Result *ret)
{
    mdt_framing f = {0};
    mdt_err err;

    MHD_get_connection_values(c->conn, MHD_HEADER_KIND, framing_field, &f);
    if (mdt_framing_check(&f, version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0, &err) ==
        MDT_OK)
        return false;
    c->too_large = true; /* whatever body follows is not read into the request */
    mdt_log_set_request_id(c->request_id);
    mdt_resp_header(&c->resp, "Connection", "close");
    *ret = send_refusal(c, err.rc, err.msg);
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    mdt_server *srv = cls;
    conn_ctx *c = *con_cls;
    enum MHD_Result ret;

    if (!c) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        c = ctx_new(srv, conn, url, method);
        if (!c)
            return MHD_NO;
        *con_cls = c;
        set_timeout(conn, srv->env->cfg.connection_timeout);
        if (refuse_bad_framing(c, version, &ret))
            return ret;
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)srv->env->cfg.max_body_bytes) {
            c->too_large = true;
            mdt_log_set_request_id(c->request_id);
            return send_refusal(c, MDT_ERR_TOO_LARGE, "request body too large");
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->too_large && mdt_buf_add(&c->body, upload_data, *upload_data_size) != MDT_OK)
            c->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (atomic_load(&c->state) == ST_RERUN) {
        ctx_rerun(c);
        if (c->reruns > MAX_FETCH_RERUNS)
            return send_error(c, MDT_ERR_UNAVAILABLE, "outbound fetch did not settle");
        return finish_request(c);
    }
    if (atomic_load(&c->state) == ST_RESUMED)
        return on_resumed(c);
    if (atomic_load(&c->state) == ST_WAITING || atomic_load(&c->state) == ST_FETCHING)
        return MHD_YES;
    return finish_request(c);
}

static void access_log(conn_ctx *c, double now)
{
    thread_cache *t = thread_cache_get();
    mdt_access_entry e = {
        .request_id = c->request_id,
        .ip = c->ip,
        .peer = c->peer,
        .method = c->req.method,
        .path = c->req.path,
        .client_id = c->resp.client_id,
        .fault = c->resp.fault,
        .status = c->resp.status,
        .t0 = c->t0,
        .now = now,
    };

    if (t && mdt_access_log_format(&t->line, &t->time, &e) == MDT_OK)
        mdt_log_line(t->line.data, t->line.len);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    mdt_server *srv = cls;
    conn_ctx *c = *con_cls;
    (void)conn;
    (void)toe;

    if (!c)
        return;
    if (c->resp.status) {
        double now = mdt_time_real();
        mdt_metrics_http(c->match.endpoint, c->resp.status, now - c->t0);
        if (srv->env->cfg.access_log)
            access_log(c, now);
    }
    mdt_log_set_request_id(NULL);
    ctx_free(c);
    atomic_fetch_sub(&srv->inflight, 1);
    *con_cls = NULL;
}

/* ---- connections per source ---------------------------------------------- */

static char counted_tag; /* socket context of a connection counted in srv->conns */

/* libmicrohttpd's accept policy: a source at its limit gets its new
 * connection closed at once (logged at most once a second). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    mdt_server *srv = cls;
    long long now = (long long)mdt_time_real(), last;
    char ip[INET6_ADDRSTRLEN] = "";
    (void)len;

    if (mdt_conn_limit_admit(srv->conns, addr))
        return MHD_YES;
    last = atomic_load(&srv->refusal_logged);
    if (now != last && atomic_compare_exchange_strong(&srv->refusal_logged, &last, now)) {
        if (addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, ip,
                      sizeof(ip));
        else if (addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, ip,
                      sizeof(ip));
        MDT_WARN("connection from %s refused: its source holds max_connections_per_source (%d) "
                 "connections", ip, srv->env->cfg.max_connections_per_source);
    }
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    mdt_server *srv = cls;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        if (mdt_conn_limit_opened(srv->conns, sa))
            *socket_context = &counted_tag;
    } else if (*socket_context == &counted_tag) {
        mdt_conn_limit_closed(srv->conns, sa);
        *socket_context = NULL;
    }
}

static char *read_file(const char *path, mdt_err *err)
{
    FILE *f = fopen(path, "rb");
    mdt_buf b;
    char chunk[4096];
    size_t n;

    if (!f) {
        mdt_failf(err, MDT_ERR_CONFIG, "cannot read file", "cannot read %s", path);
        return NULL;
    }
    mdt_buf_init(&b, 1 << 20);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (mdt_buf_add(&b, chunk, n) != MDT_OK) {
            fclose(f);
            mdt_buf_free_wipe(&b);
            mdt_failf(err, MDT_ERR_CONFIG, "file too large", "%s is too large", path);
            return NULL;
        }
    }
    fclose(f);
    return mdt_buf_take(&b);
}

static mdt_rc load_tls(mdt_server *s, mdt_err *err)
{
    const mdt_config *cfg = &s->env->cfg;

    if (!cfg->tls_cert || !cfg->tls_cert[0])
        return MDT_OK;
    if (!(s->tls_cert = read_file(cfg->tls_cert, err)) ||
        !(s->tls_key = read_file(cfg->tls_key, err)))
        return err->rc;
    if (cfg->tls_client_ca && cfg->tls_client_ca[0] &&
        !(s->tls_ca = read_file(cfg->tls_client_ca, err)))
        return err->rc;
    return MDT_OK;
}

/* "host:port" or "[v6]:port" -> resolved address */
static mdt_rc parse_listen(const char *item, struct sockaddr_storage *ss, mdt_err *err)
{
    char host[256];
    const char *port;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    size_t hl;

    if (item[0] == '[') {
        const char *end = strchr(item, ']');
        if (!end || end[1] != ':')
            return mdt_failf(err, MDT_ERR_CONFIG, "bad listen address", "bad listen address %s", item);
        hl = (size_t)(end - item - 1);
        port = end + 2;
        item++;
    } else {
        port = strrchr(item, ':');
        if (!port)
            return mdt_failf(err, MDT_ERR_CONFIG, "bad listen address", "bad listen address %s", item);
        hl = (size_t)(port - item);
        port++;
    }
    if (hl >= sizeof(host))
        return mdt_fail(err, MDT_ERR_CONFIG, "bad listen address");
    memcpy(host, item, hl);
    host[hl] = '\0';
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
        return mdt_failf(err, MDT_ERR_CONFIG, "bad listen address", "cannot resolve %s:%s", host, port);
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return MDT_OK;
}

static mdt_rc start_daemon(mdt_server *s, const char *item, unsigned threads, mdt_err *err)
{
    struct sockaddr_storage ss = {0};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    struct MHD_OptionItem opts[8];
    size_t n = 0;
    mdt_rc rc;

    if (s->ndaemons == MAX_DAEMONS)
        return mdt_fail(err, MDT_ERR_CONFIG, "too many listen addresses");
    if ((rc = parse_listen(item, &ss, err)) != MDT_OK)
        return rc;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (s->tls_cert) {
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
        if (s->tls_ca)
            opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->tls_ca};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemons[s->ndaemons] = MHD_start_daemon(
        flags, 0, accept_policy, s, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->env->cfg.connection_timeout, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!s->daemons[s->ndaemons])
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot listen", "cannot listen on %s", item);
    s->ndaemons++;
    return MDT_OK;
}

mdt_rc mdt_server_start(mdt_env *env, mdt_server **out, mdt_err *err)
{
    mdt_server *s = calloc(1, sizeof(*s));
    char *list = NULL, *save = NULL;
    unsigned threads = (unsigned)env->cfg.threads;
    const char *const *endpoints;
    size_t nendpoints;
    mdt_rc rc = MDT_ERR_NOMEM;

    if (!s || !(list = mdt_strdup(env->cfg.listen)))
        goto fail;
    s->env = env;
    endpoints = mdt_route_endpoints(&nendpoints);
    mdt_metrics_set_endpoints(endpoints, nendpoints);
    if (threads == 0)
        threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads == 0)
        threads = 1;
    if ((rc = mdt_random_b64url(&env->rng, 6, s->id_prefix)) != MDT_OK ||
        (rc = load_tls(s, err)) != MDT_OK ||
        (rc = mdt_conn_limit_new((unsigned)env->cfg.max_connections_per_source,
                                 env->cfg.trusted_proxies, &s->conns, err)) != MDT_OK)
        goto fail;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        if ((rc = start_daemon(s, item, threads, err)) != MDT_OK)
            goto fail;
    }
    free(list);
    *out = s;
    return MDT_OK;
fail:
    if (rc == MDT_ERR_NOMEM)
        mdt_fail(err, rc, "out of memory");
    free(list);
    mdt_server_stop(s);
    return rc;
}

void mdt_server_stop(mdt_server *s)
{
    int64_t deadline;

    if (!s)
        return;
    for (size_t i = 0; i < s->ndaemons; i++) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemons[i]);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
    deadline = mdt_time_mono_ms() + s->env->cfg.shutdown_grace * 1000;
    while (atomic_load(&s->inflight) > 0 && mdt_time_mono_ms() < deadline)
        usleep(20000);
    /* requests still waiting for an outbound fetch: end the fetches, so that they answer */
    mdt_fetcher_stop(s->env->fetcher);
    mdt_pdp_stop(mdt_env_pdp(s->env)); /* and the calls to an external PDP: they fail closed */
    deadline = mdt_time_mono_ms() + 1000;
    while (atomic_load(&s->inflight) > 0 && mdt_time_mono_ms() < deadline)
        usleep(20000);
    for (size_t i = 0; i < s->ndaemons; i++)
        MHD_stop_daemon(s->daemons[i]);
    mdt_conn_limit_free(s->conns);
    if (s->tls_key)
        mdt_wipe(s->tls_key, strlen(s->tls_key));
    free(s->tls_cert);
    free(s->tls_key);
    free(s->tls_ca);
    free(s);
}
