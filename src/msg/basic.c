/* Basic credentials of a client (RFC 6749 §2.3.1) and cookies of a
 * request (RFC 6265 §5.4): the parsers of the two header fields that carry
 * credentials. */
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "msg/msg.h"

mdt_rc mdt_basic_parse(mdt_arena *a, const char *hdr, const char **id, const char **secret,
                       mdt_err *err)
{
    const char *p;
    size_t n, outlen = 0;
    uint8_t *raw;
    const char *colon;

    *id = *secret = NULL;
    if (!hdr || strncasecmp(hdr, "Basic ", 6) != 0)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT, "client authentication failed");
    p = hdr + 6;
    while (*p == ' ')
        p++;
    n = strlen(p);
    if (n == 0 || n > MDT_BASIC_MAX || !(raw = mdt_arena_alloc(a, n)))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT, "client authentication failed");
    if (mdt_b64_decode(p, n, raw, n, &outlen) != MDT_OK)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "malformed Basic credentials");
    colon = memchr(raw, ':', outlen);
    if (!colon) {
        mdt_wipe(raw, outlen);
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "Basic credentials without ':'");
    }
    *id = mdt_url_decode(a, (const char *)raw, (size_t)(colon - (const char *)raw));
    *secret = mdt_url_decode(a, colon + 1, outlen - (size_t)(colon + 1 - (const char *)raw));
    mdt_wipe(raw, outlen);
    if (!*id || !*secret || !**id)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "malformed Basic credentials");
    return MDT_OK;
}

const char *mdt_cookie_find(const char *header, const char *name, mdt_arena *a)
{
    size_t nlen = strlen(name);
    const char *p = header;

    if (!header || strlen(header) > MDT_COOKIE_HEADER_MAX)
        return NULL;
    while (*p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        if (len > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=')
            return mdt_arena_strndup(a, p + nlen + 1, len - nlen - 1);
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

const char *mdt_req_cookie(mdt_req *req, const char *name)
{
    return mdt_cookie_find(mdt_req_header(req, "Cookie"), name, req->arena);
}

