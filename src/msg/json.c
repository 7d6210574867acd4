/* JSON request bodies: bounded depth checked before jansson sees the text
 * (jansson's own limit is 2048 levels), duplicate members refused. */
#include <string.h>

#include "msg/msg.h"

/* Deepest nesting of [ and { outside strings; SIZE_MAX past the limit. */
static size_t depth_of(const char *s, size_t len)
{
    size_t depth = 0, max = 0;
    bool in_str = false;

    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                max = depth;
            if (max > MDT_HTTP_MAX_JSON_DEPTH)
                return SIZE_MAX;
        } else if ((ch == ']' || ch == '}') && depth) {
            depth--;
        }
    }
    return max;
}

mdt_rc mdt_json_parse_object(const char *s, size_t len, json_t **out, mdt_err *err)
{
    json_error_t jerr;
    json_t *j;

    *out = NULL;
    if (memchr(s, '\0', len))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the body contains a NUL byte");
    if (depth_of(s, len) == SIZE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the JSON body is nested too deeply");
    j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "the body is not valid JSON",
                         "JSON error at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the JSON body must be an object");
    }
    *out = j;
    return MDT_OK;
}

mdt_rc mdt_req_parse_json(mdt_req *req, json_t **out, mdt_err *err)
{
    *out = NULL;
    if (!req->content_type || strcmp(req->content_type, "application/json") != 0)
        return mdt_fail(err, MDT_ERR_UNSUPPORTED_MEDIA, "the body must be application/json");
    return mdt_json_parse_object(req->body, req->body_len, out, err);
}
