#include "oauth/redirect.h"

#include <string.h>

#include "core/buf.h"
#include "core/url.h"

/* The part of a loopback http URL after its host, or NULL when u is not one:
 * "http://", a loopback IP literal (RFC 8252 §7.3, 127.0.0.0/8 or [::1];
 * not the name localhost, §8.3), an optional port, then the end, a path or a
 * query. *host gets the host's length including "http://". */
static const char *after_loopback_host(const char *u, size_t *host)
{
    char h[64];
    const char *p;
    size_t n;

    if (strncmp(u, "http://", 7) != 0)
        return NULL;
    p = u + 7;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        n = close ? (size_t)(close - p) + 1 : 0;
    } else {
        n = strcspn(p, ":/?#");
    }
    if (n == 0 || n >= sizeof(h))
        return NULL;
    memcpy(h, p, n);
    h[n] = '\0';
    if (!mdt_host_is_loopback_ip(h))
        return NULL;
    p += n;
    if (*p == ':') {
        size_t digits = strspn(p + 1, "0123456789");
        if (digits == 0 || digits > 5)
            return NULL;
        p += 1 + digits;
    }
    if (*p && *p != '/' && *p != '?')
        return NULL;
    *host = 7 + n;
    return p;
}

bool mdt_redirect_uri_match(const char *registered, const char *presented,
                            bool loopback_any_port)
{
    const char *r, *p;
    size_t rh, ph;

    if (!registered || !presented)
        return false;
    if (strcmp(registered, presented) == 0)
        return true;
    if (!loopback_any_port || !(r = after_loopback_host(registered, &rh)) ||
        !(p = after_loopback_host(presented, &ph)))
        return false;
    return rh == ph && strncmp(registered, presented, rh) == 0 && strcmp(r, p) == 0;
}

mdt_rc mdt_redirect_select(const char *const *registered, size_t n, const char *presented,
                           bool loopback_any_port, const char **out, mdt_err *err)
{
    *out = NULL;
    if (!presented) {
        if (n == 1) {
            *out = registered[0];
            return MDT_OK;
        }
        return mdt_fail(err, MDT_ERR_INVALID_REDIRECT_URI,
                        n ? "redirect_uri is required: the client registered several"
                          : "the client registered no redirect_uri");
    }
    for (size_t i = 0; i < n; i++)
        if (mdt_redirect_uri_match(registered[i], presented, loopback_any_port)) {
            *out = presented;
            return MDT_OK;
        }
    return mdt_fail(err, MDT_ERR_INVALID_REDIRECT_URI,
                    "redirect_uri is not one of the client's registered redirect URIs");
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static mdt_rc add_encoded(mdt_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    mdt_rc rc = MDT_OK;

    for (const unsigned char *p = (const unsigned char *)s; *p && rc == MDT_OK; p++) {
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        rc = unreserved(*p) ? mdt_buf_add(b, p, 1) : mdt_buf_add(b, e, 3);
    }
    return rc;
}

const char *mdt_url_encode(mdt_arena *a, const char *s)
{
    mdt_buf b;
    const char *out = NULL;

    mdt_buf_init(&b, MDT_REDIRECT_MAX);
    if (add_encoded(&b, s ? s : "") == MDT_OK)
        out = mdt_arena_strndup(a, b.data ? b.data : "", b.len);
    mdt_buf_free(&b);
    return out;
}

const char *mdt_redirect_build(mdt_arena *a, const char *redirect_uri, const mdt_kv *params,
                               size_t n)
{
    mdt_buf b;
    char sep = strchr(redirect_uri, '?') ? '&' : '?';
    const char *out = NULL;
    mdt_rc rc;

    mdt_buf_init(&b, MDT_REDIRECT_MAX);
    rc = mdt_buf_adds(&b, redirect_uri);
    for (size_t i = 0; i < n && rc == MDT_OK; i++) {
        if (!params[i].value)
            continue;
        if ((rc = mdt_buf_add(&b, &sep, 1)) == MDT_OK && (rc = add_encoded(&b, params[i].name)) ==
            MDT_OK && (rc = mdt_buf_adds(&b, "=")) == MDT_OK)
            rc = add_encoded(&b, params[i].value);
        sep = '&';
    }
    if (rc == MDT_OK)
        out = mdt_arena_strndup(a, b.data, b.len);
    mdt_buf_free(&b);
    return out;
}
