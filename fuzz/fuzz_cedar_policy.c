/* The Cedar policy parser, and the evaluation of whatever parses against a
 * tiny fixed entity store and a few requests. */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "fuzz.h"
#include "policy/cedar/cedar.h"

static const char ENTITIES[] =
    "[{\"uid\":{\"type\":\"User\",\"id\":\"alice\"},"
    "\"attrs\":{\"name\":\"alice\",\"level\":9223372036854775807,\"active\":true,"
    "\"tags\":[\"a\",\"b*\",1],\"info\":{\"n\":-9223372036854775808,\"s\":\"x\"},"
    "\"owner\":{\"__entity\":{\"type\":\"User\",\"id\":\"bob\"}}},"
    "\"parents\":[{\"type\":\"Group\",\"id\":\"g\"}]},"
    "{\"uid\":{\"type\":\"Group\",\"id\":\"g\"},\"attrs\":{},\"parents\":[{\"type\":\"Group\",\"id\":\"top\"}]},"
    "{\"uid\":{\"type\":\"NS::Doc\",\"id\":\"d\"},\"attrs\":{\"kind\":\"doc\"},\"parents\":[]},"
    "{\"uid\":{\"type\":\"Action\",\"id\":\"read\"},\"attrs\":{},"
    "\"parents\":[{\"type\":\"Action\",\"id\":\"all\"}]}]";
static const char CONTEXT[] =
    "{\"n\":3,\"flag\":true,\"who\":{\"__entity\":{\"type\":\"User\",\"id\":\"alice\"}},"
    "\"list\":[1,\"a\"],\"rec\":{\"a\":{\"b\":[]}}}";

static mdt_cedar_entities *store;
static mdt_arena ctx_arena;
static const mdt_cedar_record *context;

static void setup(void)
{
    mdt_err err;

    if (store)
        return;
    mdt_arena_init(&ctx_arena, 4096);
    if (mdt_cedar_entities_new(&store, &err) != MDT_OK ||
        mdt_cedar_entities_add_json(store, ENTITIES, strlen(ENTITIES), &err) != MDT_OK ||
        mdt_cedar_record_json(&ctx_arena, CONTEXT, strlen(CONTEXT), &context, &err) != MDT_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mdt_cedar_uid principals[] = {{"User", "alice"}, {"User", "ghost"}, {"NS::Doc", "d"}};
    mdt_cedar_set *s = NULL;
    mdt_arena a;
    mdt_err err;

    setup();
    if (size > MDT_CEDAR_TEXT_MAX)
        return 0;
    if (mdt_cedar_set_new(&s, &err) != MDT_OK)
        abort();
    mdt_arena_init(&a, 4096);
    if (mdt_cedar_set_add(s, (const char *)data, size, NULL, &err) == MDT_OK) {
        const mdt_cedar_entities *stores[] = {store};
        for (size_t i = 0; i < sizeof(principals) / sizeof(principals[0]); i++) {
            mdt_cedar_request r = {.principal = principals[i],
                                   .action = {"Action", i ? "read" : "write"},
                                   .resource = principals[(i + 2) % 3],
                                   .context = i == 1 ? NULL : context};
            mdt_cedar_decision d;
            if (mdt_cedar_eval(s, stores, 1, &r, &a, &d, &err) != MDT_OK)
                abort();
            /* every id reported is one of the set's policies */
            if (d.nreasons + d.nerrors > mdt_cedar_set_count(s) ||
                (d.allow && d.nreasons == 0))
                __builtin_trap();
            mdt_arena_reset(&a);
        }
    }
    mdt_arena_free(&a);
    mdt_cedar_set_free(s);
    return 0;
}
