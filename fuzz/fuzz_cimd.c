/* Client ID metadata documents: the first byte picks the input
 *   0: a client_id URL (mdt_cimd_url_check, with and without http loopback);
 *   1: a fetched document for a fixed URL (mdt_cimd_document_check);
 *   2: caching headers, "\n"-separated Cache-Control, Expires, Date, Age
 *      (mdt_cimd_cache_ttl, whose result must stay within its bounds);
 *   3: a host and a domain list, "\n"-separated (mdt_cimd_host_listed). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "core/url.h"
#include "oauth/cimd.h"

#define URL "https://app.example.com/oauth/client.json"
#define FUZZ_TEXT_MAX 8192

static void url(const char *s, mdt_arena *a)
{
    const char *host = NULL;
    mdt_err err;

    if (mdt_cimd_url_check(s, false, a, &host, &err) == MDT_OK &&
        (strncmp(s, "https://", 8) != 0 || !host || !*host || strchr(s, '#') || strchr(host, '@')))
        __builtin_trap(); /* accepted URLs are https, with a host, no fragment or userinfo */
    if (mdt_cimd_url_check(s, true, a, &host, &err) == MDT_OK && strncmp(s, "https://", 8) != 0 &&
        !mdt_host_is_loopback_ip(host))
        __builtin_trap(); /* http only to the loopback literal */
}

static void document(const char *s, size_t n, mdt_arena *a)
{
    const char *meta = NULL;
    json_t *m;
    mdt_err err;

    if (mdt_cimd_document_check(URL, s, n, 5120, a, &meta, &err) != MDT_OK)
        return;
    m = meta ? json_loads(meta, 0, NULL) : NULL;
    if (!mdt_str_eq(json_string_value(json_object_get(m, "client_id")), URL) ||
        json_object_get(m, "client_secret") ||
        !json_is_string(json_object_get(m, "token_endpoint_auth_method")))
        __builtin_trap(); /* an accepted document names its URL and holds no secret */
    json_decref(m);
}

static char *next_line(char **p)
{
    char *line = *p, *nl;

    if (!line)
        return (char *)"";
    if ((nl = strchr(line, '\n'))) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return line;
}

static void headers(char *s)
{
    mdt_fetch_headers h;
    int64_t t;

    memset(&h, 0, sizeof(h));
    strncpy(h.cache_control, next_line(&s), sizeof(h.cache_control) - 1);
    strncpy(h.expires, next_line(&s), sizeof(h.expires) - 1);
    strncpy(h.date, next_line(&s), sizeof(h.date) - 1);
    strncpy(h.age, next_line(&s), sizeof(h.age) - 1);
    t = mdt_cimd_cache_ttl(&h, 1800000000, 60, 86400);
    if (t < 60 || t > 86400)
        __builtin_trap();
}

static void domains(char *s)
{
    char *host = next_line(&s), *list = next_line(&s);

    (void)mdt_cimd_host_listed(host, list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_arena a;
    char *s;

    if (size == 0 || size > FUZZ_TEXT_MAX || !(s = malloc(size)))
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    mdt_arena_init(&a, 4096);
    switch (data[0] & 3) {
    case 0: url(s, &a); break;
    case 1: document((const char *)data + 1, size - 1, &a); break;
    case 2: headers(s); break;
    default: domains(s); break;
    }
    mdt_arena_free(&a);
    free(s);
    return 0;
}
