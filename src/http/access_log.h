/* The access log line: one JSON object per answered request, built with
 * plain appends (no printf) into a buffer the caller reuses, the time
 * formatted once per second. */
#ifndef MDT_HTTP_ACCESS_LOG_H
#define MDT_HTTP_ACCESS_LOG_H

#include <stdint.h>

#include "core/buf.h"
#include "core/mdt.h"

/* The formatted UTC second last asked for ("2026-01-02T03:04:05Z"). */
typedef struct {
    int64_t sec;
    bool valid;
    char text[21];
} mdt_time_text;

/* The text of second `sec`: formatted only when the second changed. */
const char *mdt_time_text_get(mdt_time_text *t, int64_t sec);

typedef struct {
    const char *request_id;
    const char *ip;        /* the client (what trusted proxies forwarded, or the peer) */
    const char *peer;      /* the TCP peer: logged when it differs from ip */
    const char *method;
    const char *path;
    const char *client_id; /* NULL: not logged */
    const char *fault;     /* "": not logged */
    int status;
    double t0;             /* when the request began (seconds, real time) */
    double now;            /* when it ended */
} mdt_access_entry;

/* Replaces b's content with the line of e, newline included. On failure
 * (MDT_ERR_TOO_LARGE past b's cap) b holds no line. */
mdt_rc mdt_access_log_format(mdt_buf *b, mdt_time_text *t, const mdt_access_entry *e)
    MDT_WARN_UNUSED;

#endif
