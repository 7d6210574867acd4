#include "core/words.h"

const char **mdt_words_split(mdt_arena *a, const char *s, size_t *n)
{
    size_t cap = 1;
    const char **out;

    *n = 0;
    for (mdt_words w = mdt_words_of(s); mdt_words_next(&w);)
        cap++;
    if (!(out = mdt_arena_alloc(a, cap * sizeof(*out))))
        return NULL;
    for (mdt_words w = mdt_words_of(s); mdt_words_next(&w);)
        if (!(out[(*n)++] = mdt_arena_strndup(a, w.word, w.len)))
            return NULL;
    out[*n] = NULL;
    return out;
}
