/* Cedar's entity JSON loader and the record JSON of a request's context,
 * and an evaluation over what loaded. */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "fuzz.h"
#include "policy/cedar/cedar.h"

static const char POLICIES[] =
    "permit (principal in Group::\"g\", action, resource) when { principal.level > 1 };\n"
    "forbid (principal, action, resource is Doc) when { resource has owner && resource.owner == principal };\n"
    "permit (principal, action, resource) when { context.n + 1 == 2 && context.tags.contains(\"a\") };\n"
    "permit (principal, action, resource) when { principal.name like \"a*\" || principal.rec.x };\n";

static mdt_cedar_set *set;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_cedar_entities *e = NULL;
    const mdt_cedar_record *ctx = NULL;
    mdt_arena a;
    mdt_err err;
    bool loaded;

    if (!set && (mdt_cedar_set_new(&set, &err) != MDT_OK ||
                 mdt_cedar_set_add(set, POLICIES, strlen(POLICIES), NULL, &err) != MDT_OK))
        abort();
    if (size > MDT_CEDAR_ENTITIES_MAX)
        return 0;
    mdt_arena_init(&a, 4096);
    if (mdt_cedar_entities_new(&e, &err) != MDT_OK)
        abort();
    loaded = mdt_cedar_entities_add_json(e, (const char *)data, size, &err) == MDT_OK;
    if (mdt_cedar_record_json(&a, (const char *)data, size, &ctx, &err) != MDT_OK)
        ctx = NULL;
    if (loaded || ctx) {
        const mdt_cedar_entities *stores[] = {e};
        mdt_cedar_request r = {.principal = {"User", "alice"},
                               .action = {"Action", "read"},
                               .resource = {"Doc", "d"},
                               .context = ctx};
        mdt_cedar_decision d;
        if (mdt_cedar_eval(set, stores, 1, &r, &a, &d, &err) != MDT_OK)
            abort();
    }
    mdt_arena_free(&a);
    mdt_cedar_entities_free(e);
    return 0;
}
