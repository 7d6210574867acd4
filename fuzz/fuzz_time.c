/* RFC 3339 times and durations (metadata, command line, configuration). */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    int64_t t;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (mdt_time_parse(s, &t) == MDT_OK) {
        char back[21];
        mdt_time_format(t, back); /* must not crash for any accepted time */
    }
    if (mdt_duration_parse(s, &t) == MDT_OK && t < 0)
        __builtin_trap();
    free(s);
    return 0;
}
