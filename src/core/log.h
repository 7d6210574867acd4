/* Structured logging: one JSON object per line on standard error.
 * Never pass a token, secret, password or full assertion to these. */
#ifndef MDT_CORE_LOG_H
#define MDT_CORE_LOG_H

#include "core/buf.h"
#include "core/mdt.h"

typedef enum { MDT_LOG_DEBUG, MDT_LOG_INFO, MDT_LOG_WARN, MDT_LOG_ERROR } mdt_log_level;

void mdt_log_set_level(mdt_log_level level);
mdt_rc mdt_log_level_parse(const char *s, mdt_log_level *out) MDT_WARN_UNUSED;
/* The request id of the request this thread is serving ("" when none). */
void mdt_log_set_request_id(const char *id);
const char *mdt_log_request_id(void);

void mdt_log_at(mdt_log_level level, const char *func, const char *fmt, ...) MDT_PRINTF(3, 4);
/* Writes a complete, already-built JSON line (the access log). */
void mdt_log_line(const char *json, size_t len);

#define MDT_DEBUG(...) mdt_log_at(MDT_LOG_DEBUG, __func__, __VA_ARGS__)
#define MDT_INFO(...) mdt_log_at(MDT_LOG_INFO, __func__, __VA_ARGS__)
#define MDT_WARN(...) mdt_log_at(MDT_LOG_WARN, __func__, __VA_ARGS__)
#define MDT_ERROR(...) mdt_log_at(MDT_LOG_ERROR, __func__, __VA_ARGS__)

#endif
