/* RFC 9396 §2: the structure of authorization_details, checked before
 * anything is stored or shown. */
#include "oauth/authorization_details.h"

#include <jansson.h>
#include <string.h>

static mdt_rc bad(mdt_err *err, const char *msg)
{
    return mdt_fail(err, MDT_ERR_INVALID_AUTHORIZATION_DETAILS, msg);
}

/* Whether v nests at most max levels (a scalar is 0, [] or {} 1). */
static bool depth_ok(json_t *v, int max)
{
    const char *key;
    json_t *item;
    size_t i;

    if (!json_is_array(v) && !json_is_object(v))
        return true;
    if (max < 1)
        return false;
    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
            if (!depth_ok(item, max - 1))
                return false;
        return true;
    }
    json_object_foreach(v, key, item)
        if (!depth_ok(item, max - 1))
            return false;
    return true;
}

static bool type_ok(json_t *obj)
{
    const char *t = json_string_value(json_object_get(obj, "type"));

    return t && *t && strlen(t) <= MDT_AUTHZ_DETAILS_TYPE_MAX;
}

mdt_rc mdt_authorization_details_check(const char *text, mdt_arena *a, const char **out,
                                       mdt_err *err)
{
    size_t len = text ? strlen(text) : 0, i;
    json_t *doc, *item;
    mdt_rc rc = MDT_OK;

    *out = NULL;
    if (len == 0 || len > MDT_AUTHZ_DETAILS_MAX_BYTES)
        return bad(err, "authorization_details must be a JSON array of at most 8192 bytes");
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(doc) || json_array_size(doc) == 0 ||
        json_array_size(doc) > MDT_AUTHZ_DETAILS_MAX_ITEMS)
        rc = bad(err, "authorization_details must be a non-empty JSON array of at most 16 objects");
    else if (!depth_ok(doc, MDT_AUTHZ_DETAILS_MAX_DEPTH))
        rc = bad(err, "authorization_details nests too deeply");
    json_array_foreach(doc, i, item) {
        if (rc == MDT_OK && (!json_is_object(item) || !type_ok(item)))
            rc = bad(err, "each authorization_details object needs a string type");
    }
    /* the text as sent: a number keeps its digits (re-encoding a real
     * would print 3.14159 as 3.1415899999999999) */
    if (rc == MDT_OK && !(*out = mdt_arena_strdup(a, text)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_decref(doc);
    return rc;
}
