#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

static mdt_log_level min_level = MDT_LOG_INFO;
static _Thread_local char request_id[40];
static const char *level_names[] = {"debug", "info", "warn", "error"};

/* SIGHUP changes it while other threads log */
void mdt_log_set_level(mdt_log_level level)
{
    __atomic_store_n(&min_level, level, __ATOMIC_RELAXED);
}

mdt_rc mdt_log_level_parse(const char *s, mdt_log_level *out)
{
    for (size_t i = 0; i < MDT_ARRAY_LEN(level_names); i++) {
        if (mdt_str_eq(s, level_names[i])) {
            *out = (mdt_log_level)i;
            return MDT_OK;
        }
    }
    return MDT_ERR_INVALID_REQUEST;
}

void mdt_log_set_request_id(const char *id)
{
    snprintf(request_id, sizeof(request_id), "%s", id ? id : "");
}

const char *mdt_log_request_id(void) { return request_id; }

void mdt_log_line(const char *json, size_t len)
{
    /* one write(2) per line so that lines from several threads never interleave */
    ssize_t w = write(STDERR_FILENO, json, len);
    (void)w;
}

void mdt_log_at(mdt_log_level level, const char *func, const char *fmt, ...)
{
    char msg[1024];
    char tbuf[21];
    mdt_buf b;
    va_list ap;
    double now;

    if (level < __atomic_load_n(&min_level, __ATOMIC_RELAXED))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    now = mdt_time_real();
    mdt_time_format((int64_t)now, tbuf);
    mdt_buf_init(&b, 4096);
    if (mdt_buf_addf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"func\":\"%s\"", tbuf,
                     level_names[level], func) == MDT_OK &&
        (!request_id[0] || mdt_buf_addf(&b, ",\"request_id\":\"%s\"", request_id) == MDT_OK) &&
        mdt_buf_adds(&b, ",\"msg\":") == MDT_OK && mdt_buf_add_json_str(&b, msg) == MDT_OK &&
        mdt_buf_adds(&b, "}\n") == MDT_OK)
        mdt_log_line(b.data, b.len);
    mdt_buf_free(&b);
}
