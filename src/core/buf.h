/* A growable byte buffer with a hard cap set at creation: input from the
 * network can never grow it past max. Always NUL-terminated. */
#ifndef MDT_CORE_BUF_H
#define MDT_CORE_BUF_H

#include <stddef.h>

#include "core/mdt.h"

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} mdt_buf;

void mdt_buf_init(mdt_buf *b, size_t max);
/* MDT_ERR_TOO_LARGE past max, MDT_ERR_NOMEM when allocation fails. */
mdt_rc mdt_buf_add(mdt_buf *b, const void *p, size_t n) MDT_WARN_UNUSED;
mdt_rc mdt_buf_adds(mdt_buf *b, const char *s) MDT_WARN_UNUSED;
mdt_rc mdt_buf_addf(mdt_buf *b, const char *fmt, ...) MDT_PRINTF(2, 3) MDT_WARN_UNUSED;
/* Appends v in decimal, as %lld writes it. */
mdt_rc mdt_buf_add_i64(mdt_buf *b, long long v) MDT_WARN_UNUSED;
/* Makes room for n more bytes at once (one allocation instead of a few
 * while a text of known typical size is built). */
mdt_rc mdt_buf_reserve(mdt_buf *b, size_t n) MDT_WARN_UNUSED;
/* Appends s as a JSON string literal, with quotes. */
mdt_rc mdt_buf_add_json_str(mdt_buf *b, const char *s) MDT_WARN_UNUSED;
void mdt_buf_reset(mdt_buf *b);
/* Transfers the data to the caller (free() it); the buffer is empty after. */
char *mdt_buf_take(mdt_buf *b);
void mdt_buf_free(mdt_buf *b);
/* Wipes then frees: for buffers that held secrets. */
void mdt_buf_free_wipe(mdt_buf *b);

#endif
