/* base64url and base64 decoding (Basic credentials, JOSE). */
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = malloc(size + 1);
    size_t n = 0;

    if (!out)
        return 0;
    if (mdt_b64url_decode((const char *)data, size, out, size + 1, &n) == MDT_OK) {
        char *again = malloc(mdt_b64url_len(n) + 1);
        if (again) {
            /* canonical: encoding what was decoded gives the input back */
            if (mdt_b64url_encode(out, n, again) != size || memcmp(again, data, size) != 0)
                __builtin_trap();
            free(again);
        }
    }
    if (mdt_b64_decode((const char *)data, size, out, size + 1, &n) == MDT_OK && n > size)
        __builtin_trap();
    free(out);
    return 0;
}
