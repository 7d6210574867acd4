/* The admin API's paths (src/admin/api.c): the input is what follows
 * /admin/v1/. Whenever a pattern matches, its parameters are non-empty, a
 * {key_id} has no '/', and putting them back into the pattern gives the
 * path again: no path reaches a resource with a parameter it did not send. */
#include <stdlib.h>
#include <string.h>

#include "admin/internal.h"
#include "core/arena.h"
#include "fuzz.h"

#define FUZZ_TEXT_MAX 4096

static const char *const patterns[] = {
    "clients",          "clients/*",       "clients/*/suspend", "clients/*/apikeys/*",
    "requests/*/deny",  "keys/rotate",     "openapi.json",
};

/* pattern with its stars replaced by p1 then p2, in a. */
static const char *rebuilt(mdt_arena *a, const char *pattern, const char *p1, const char *p2)
{
    const char *out = "", *star;

    while (out && (star = strchr(pattern, '*'))) {
        out = mdt_arena_printf(a, "%s%.*s%s", out, (int)(star - pattern), pattern, p1);
        p1 = p2;
        pattern = star + 1;
    }
    return out ? mdt_arena_printf(a, "%s%s", out, pattern) : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_arena a;
    char *s;

    if (size > FUZZ_TEXT_MAX || !(s = malloc(size + 1)))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    mdt_arena_init(&a, 4 * FUZZ_TEXT_MAX);
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        const char *p1 = NULL, *p2 = NULL, *back;
        if (!mdt_admin__match(patterns[i], s, &a, &p1, &p2))
            continue;
        if (strchr(patterns[i], '*') && (!p1 || !*p1))
            __builtin_trap();
        if (p2 && (!*p2 || strchr(p2, '/')))
            __builtin_trap();
        if ((back = rebuilt(&a, patterns[i], p1, p2)) && strcmp(back, s) != 0)
            __builtin_trap();
    }
    mdt_arena_free(&a);
    free(s);
    return 0;
}
