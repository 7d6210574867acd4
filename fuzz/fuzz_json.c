/* JSON request bodies (registration, access requests, admin API). */
#include <jansson.h>

#include "fuzz.h"
#include "msg/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;
    mdt_err err;

    if (mdt_json_parse_object((const char *)data, size, &j, &err) == MDT_OK) {
        if (!json_is_object(j))
            __builtin_trap();
        json_decref(j);
    }
    return 0;
}
