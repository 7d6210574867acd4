/* Per-request memory: everything allocated here dies with mdt_arena_reset/free.
 * Allocation failure returns NULL; callers map that to MDT_ERR_NOMEM. */
#ifndef MDT_CORE_ARENA_H
#define MDT_CORE_ARENA_H

#include <stddef.h>

#include "core/mdt.h"

typedef struct mdt_arena_chunk mdt_arena_chunk;
typedef struct {
    mdt_arena_chunk *head;
    size_t chunk_size;
} mdt_arena;

void mdt_arena_init(mdt_arena *a, size_t chunk_size);
void *mdt_arena_alloc(mdt_arena *a, size_t n);            /* 16-byte aligned, zeroed */
char *mdt_arena_strdup(mdt_arena *a, const char *s);      /* NULL in, NULL out */
char *mdt_arena_strndup(mdt_arena *a, const char *s, size_t n);
char *mdt_arena_printf(mdt_arena *a, const char *fmt, ...) MDT_PRINTF(2, 3);
/* Frees all chunks but the first, which is kept for reuse. */
void mdt_arena_reset(mdt_arena *a);
void mdt_arena_free(mdt_arena *a);

#endif
