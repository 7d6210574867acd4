/* application/x-www-form-urlencoded bodies (the token endpoint's input). */
#include <string.h>

#include "fuzz.h"
#include "msg/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_arena a;
    mdt_kv *kv = NULL;
    size_t n = 0;
    mdt_err err;

    mdt_arena_init(&a, 4096);
    if (mdt_form_parse((const char *)data, size, &a, &kv, &n, &err) == MDT_OK) {
        for (size_t i = 0; i < n; i++)
            if (!kv[i].name || !kv[i].value || strlen(kv[i].name) > size)
                __builtin_trap();
    }
    mdt_arena_free(&a);
    return 0;
}
