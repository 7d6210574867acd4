/* Configuration values (mdt_config_set, as the file and the environment
 * set them) on a config holding the defaults. The input is split into
 * section, key and value at its first two NUL or newline bytes. A value
 * accepted is set a second time (the old one must be freed), then the
 * config goes through the cross-key checks (mdt_config_validate).
 * Oracles: every failure is MDT_ERR_CONFIG and names the key it is about. */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "fuzz.h"

/* The next field of *p up to a NUL or newline (the last field takes the rest). */
static char *field(char **p, char *end, bool last)
{
    char *s = *p;

    if (last)
        return s;
    while (*p < end && **p != '\0' && **p != '\n')
        (*p)++;
    if (*p < end)
        *(*p)++ = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *p = buf, *section, *key, *value;
    mdt_config cfg;
    mdt_err err;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    section = field(&p, buf + size, false);
    key = field(&p, buf + size, false);
    value = field(&p, buf + size, true);
    if (mdt_config_defaults(&cfg, &err) != MDT_OK)
        __builtin_trap();
    if (mdt_config_set(&cfg, section, key, value, "fuzz.conf", 1, &err) == MDT_OK) {
        if (mdt_config_set(&cfg, section, key, value, "fuzz.conf", 2, &err) != MDT_OK)
            __builtin_trap(); /* a value accepted once is accepted again */
        if (mdt_config_validate(&cfg, &err) != MDT_OK && err.rc != MDT_ERR_CONFIG)
            __builtin_trap(); /* a rejected config is a configuration error */
    } else if (err.rc != MDT_ERR_CONFIG || !strstr(mdt_err_text(&err), "fuzz.conf:1: [")) {
        __builtin_trap();
    }
    mdt_config_free(&cfg);
    free(buf);
    return 0;
}
