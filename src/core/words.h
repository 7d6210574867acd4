/* Space-separated words: scopes (RFC 6749 §3.3), prompt values, amr, role
 * lists. Empty words (several spaces) are skipped, as every caller wants.
 *
 *     for (mdt_words w = mdt_words_of(scope); mdt_words_next(&w);)
 *         use(w.word, w.len);
 *
 * Nothing is copied: word points into the string, len bytes long. */
#ifndef MDT_CORE_WORDS_H
#define MDT_CORE_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/arena.h"

typedef struct {
    const char *p;    /* where the next word is looked for */
    const char *word; /* the current word (not NUL-terminated) */
    size_t len;
} mdt_words;

static inline mdt_words mdt_words_of(const char *s)
{
    return (mdt_words){.p = s ? s : ""};
}

static inline bool mdt_words_next(mdt_words *w)
{
    while (*w->p == ' ')
        w->p++;
    if (!*w->p)
        return false;
    w->word = w->p;
    w->len = strcspn(w->p, " ");
    w->p += w->len;
    return true;
}

/* Whether the current word is s. */
static inline bool mdt_words_is(const mdt_words *w, const char *s)
{
    return strlen(s) == w->len && memcmp(w->word, s, w->len) == 0;
}

/* Whether list (may be NULL) has the word. */
static inline bool mdt_words_has(const char *list, const char *word)
{
    for (mdt_words w = mdt_words_of(list); word && mdt_words_next(&w);)
        if (mdt_words_is(&w, word))
            return true;
    return false;
}

/* The words of s as an array of n NUL-terminated strings (followed by a
 * NULL), copied into the arena; NULL only when memory runs out. */
const char **mdt_words_split(mdt_arena *a, const char *s, size_t *n);

#endif
