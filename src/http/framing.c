/* Message framing checks (RFC 9112 §6.1, §6.3). See framing.h. */
#include "http/framing.h"

#include <strings.h>

static bool all_digits(const char *v)
{
    if (!v || !*v)
        return false;
    for (; *v; v++)
        if (*v < '0' || *v > '9')
            return false;
    return true;
}

static bool bad_field_name(const char *name)
{
    if (!name || !*name)
        return true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == ':')
            return true;
    return false;
}

void mdt_framing_add(mdt_framing *f, const char *name, const char *value)
{
    if (bad_field_name(name)) {
        f->bad_name = true;
        return;
    }
    if (strcasecmp(name, "Content-Length") == 0) {
        f->content_length++;
        if (!all_digits(value))
            f->bad_content_length = true;
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
        f->transfer_encoding++;
        if (!value || strcasecmp(value, "chunked") != 0)
            f->bad_transfer_encoding = true;
    }
}

mdt_rc mdt_framing_check(const mdt_framing *f, bool http10, mdt_err *err)
{
    const char *why = NULL; /* static: it becomes the error_description */

    if (f->bad_name)
        why = "ambiguous message framing: header field name with white space";
    else if (f->content_length > 1)
        why = "ambiguous message framing: more than one Content-Length";
    else if (f->bad_content_length)
        why = "ambiguous message framing: invalid Content-Length";
    else if (f->transfer_encoding && f->content_length)
        why = "ambiguous message framing: both Transfer-Encoding and Content-Length";
    else if (f->transfer_encoding > 1)
        why = "ambiguous message framing: more than one Transfer-Encoding";
    else if (f->bad_transfer_encoding)
        why = "ambiguous message framing: unsupported Transfer-Encoding (only chunked is accepted)";
    else if (f->transfer_encoding && http10)
        why = "ambiguous message framing: Transfer-Encoding in an HTTP/1.0 request";
    if (!why)
        return MDT_OK;
    return mdt_fail(err, MDT_ERR_INVALID_REQUEST, why);
}
