/* Connections per source address. See conn_limit.h. */
#include "http/conn_limit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ip.h"

#define BUCKETS 1024 /* a power of two */

typedef struct {
    uint8_t bytes[17]; /* family tag, then the IPv4 address or the IPv6 /64 */
} source_key;

typedef struct node {
    struct node *next;
    source_key key;
    unsigned open;
} node;

struct mdt_conn_limit {
    pthread_mutex_t mu;
    unsigned max;
    const char *exempt;
    node *buckets[BUCKETS];
};

/* sa -> key; false when it is not an IP address (a UNIX socket). */
static bool key_of(const struct sockaddr *sa, source_key *k)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(k, 0, sizeof(*k));
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        k->bytes[0] = 4;
        memcpy(k->bytes + 1, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        k->bytes[0] = 4;
        memcpy(k->bytes + 1, a + 12, 4);
    } else {
        k->bytes[0] = 6;
        memcpy(k->bytes + 1, a, 8); /* the /64 */
    }
    return true;
}

static size_t hash(const source_key *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < sizeof(k->bytes); i++)
        h = (h ^ k->bytes[i]) * 1099511628211ULL;
    return (size_t)(h & (BUCKETS - 1));
}

/* The node of k in its bucket (NULL when none); *link: the pointer to it. */
static node *find(mdt_conn_limit *l, const source_key *k, node ***link)
{
    node **p = &l->buckets[hash(k)];

    for (; *p; p = &(*p)->next)
        if (memcmp((*p)->key.bytes, k->bytes, sizeof(k->bytes)) == 0)
            break;
    if (link)
        *link = p;
    return *p;
}

mdt_rc mdt_conn_limit_new(unsigned max_per_source, const char *exempt, mdt_conn_limit **out,
                          mdt_err *err)
{
    mdt_conn_limit *l = calloc(1, sizeof(*l));

    *out = NULL;
    if (!l)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return mdt_fail(err, MDT_ERR_INTERNAL, "cannot create a mutex");
    }
    l->max = max_per_source;
    l->exempt = exempt;
    *out = l;
    return MDT_OK;
}

void mdt_conn_limit_free(mdt_conn_limit *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < BUCKETS; i++) {
        for (node *n = l->buckets[i], *next; n; n = next) {
            next = n->next;
            free(n);
        }
    }
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static bool exempt(const mdt_conn_limit *l, const struct sockaddr *sa)
{
    char text[INET6_ADDRSTRLEN];
    const void *a;

    if (!l->exempt || !*l->exempt)
        return false;
    a = sa->sa_family == AF_INET
            ? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
            : (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    return inet_ntop(sa->sa_family, a, text, sizeof(text)) && mdt_ip_in_cidrs(text, l->exempt);
}

bool mdt_conn_limit_admit(mdt_conn_limit *l, const struct sockaddr *sa)
{
    source_key k;
    node *n;
    bool ok;

    if (!l || l->max == 0 || !key_of(sa, &k))
        return true;
    pthread_mutex_lock(&l->mu);
    n = find(l, &k, NULL);
    ok = !n || n->open < l->max;
    pthread_mutex_unlock(&l->mu);
    return ok || exempt(l, sa);
}

bool mdt_conn_limit_opened(mdt_conn_limit *l, const struct sockaddr *sa)
{
    source_key k;
    node *n;

    if (!l || !key_of(sa, &k))
        return false;
    pthread_mutex_lock(&l->mu);
    n = find(l, &k, NULL);
    if (!n && (n = calloc(1, sizeof(*n)))) {
        node **head = &l->buckets[hash(&k)];
        n->key = k;
        n->next = *head;
        *head = n;
    }
    if (n)
        n->open++; /* NOMEM: this connection is not counted */
    pthread_mutex_unlock(&l->mu);
    return n != NULL;
}

void mdt_conn_limit_closed(mdt_conn_limit *l, const struct sockaddr *sa)
{
    source_key k;
    node **link, *n;

    if (!l || !key_of(sa, &k))
        return;
    pthread_mutex_lock(&l->mu);
    n = find(l, &k, &link);
    if (n && n->open > 0 && --n->open == 0) {
        *link = n->next;
        free(n);
    }
    pthread_mutex_unlock(&l->mu);
}

unsigned mdt_conn_limit_count(mdt_conn_limit *l, const struct sockaddr *sa)
{
    source_key k;
    node *n;
    unsigned open;

    if (!l || !key_of(sa, &k))
        return 0;
    pthread_mutex_lock(&l->mu);
    n = find(l, &k, NULL);
    open = n ? n->open : 0;
    pthread_mutex_unlock(&l->mu);
    return open;
}
