/* application/x-www-form-urlencoded parsing (WHATWG URL §5.1), strict:
 * a parameter may appear once (RFC 6749 §3.1), escapes must be valid. */
#include <string.h>

#include "core/b64.h"
#include "msg/msg.h"

char *mdt_url_decode(mdt_arena *a, const char *s, size_t len)
{
    char *out = mdt_arena_alloc(a, len + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;
            if (len - i < 3)
                return NULL;
            hi = mdt_hex_value(s[i + 1]);
            lo = mdt_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    /* an embedded NUL would truncate the value silently: refuse it */
    if (strlen(out) != o)
        return NULL;
    return out;
}

mdt_rc mdt_form_parse(const char *s, size_t len, mdt_arena *a, mdt_kv **out, size_t *n,
                      mdt_err *err)
{
    mdt_kv *kv = mdt_arena_alloc(a, sizeof(*kv) * MDT_HTTP_MAX_FORM_FIELDS);
    size_t count = 0, i = 0;

    if (!kv)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    while (i < len) {
        size_t start = i, eq = (size_t)-1;
        for (; i < len && s[i] != '&'; i++)
            if (s[i] == '=' && eq == (size_t)-1)
                eq = i;
        if (i > start) {
            size_t klen = (eq == (size_t)-1 ? i : eq) - start;
            const char *v = eq == (size_t)-1 ? "" : s + eq + 1;
            size_t vlen = eq == (size_t)-1 ? 0 : i - eq - 1;
            if (count == MDT_HTTP_MAX_FORM_FIELDS)
                return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "too many form parameters");
            kv[count].name = mdt_url_decode(a, s + start, klen);
            kv[count].value = mdt_url_decode(a, v, vlen);
            if (!kv[count].name || !kv[count].value)
                return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "malformed form encoding");
            for (size_t j = 0; j < count; j++)
                if (strcmp(kv[j].name, kv[count].name) == 0)
                    return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                                     "request parameters must not be repeated",
                                     "parameter '%.64s' repeated", kv[count].name);
            count++;
        }
        i++; /* skip '&' */
    }
    *out = kv;
    *n = count;
    return MDT_OK;
}

mdt_rc mdt_req_parse_form(mdt_req *req, mdt_err *err)
{
    if (req->form)
        return MDT_OK;
    if (!req->content_type || strcmp(req->content_type, "application/x-www-form-urlencoded") != 0)
        return mdt_fail(err, MDT_ERR_UNSUPPORTED_MEDIA,
                        "the body must be application/x-www-form-urlencoded");
    return mdt_form_parse(req->body, req->body_len, req->arena, &req->form, &req->nform, err);
}

const char *mdt_req_form(const mdt_req *req, const char *name)
{
    for (size_t i = 0; i < req->nform; i++)
        if (strcmp(req->form[i].name, name) == 0)
            return req->form[i].value;
    return NULL;
}
