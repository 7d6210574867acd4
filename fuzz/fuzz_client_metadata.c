/* RFC 7591 client metadata (mdt_client_metadata_validate): the document of
 * `client create`, the admin API and /register. The store it reads scopes
 * from is a SQLite file made once in a mkdtemp directory, with two scopes
 * ("read", "write"); validation only reads it, so it never grows.
 * Oracles: an accepted document normalizes to an object without
 * client_id, client_secret or status, and its normalized text validates
 * again to itself (normalization is idempotent). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "app/env.h"
#include "fuzz.h"
#include "iga/client.h"
#include "store/store.h"

#define NOW 1800000000LL

static char dir[] = "/tmp/mdt_fuzz_client_XXXXXX";
static mdt_env env;

static int64_t fixed_now(void *ctx)
{
    (void)ctx;
    return NOW;
}

static void cleanup(void)
{
    DIR *d;
    struct dirent *e;
    char path[128];

    mdt_store_close(env.store);
    mdt_config_free(&env.cfg);
    if ((d = opendir(dir))) {
        while ((e = readdir(d)))
            if (e->d_name[0] != '.' && snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) > 0)
                unlink(path);
        closedir(d);
    }
    rmdir(dir);
}

static void init(void)
{
    static const char *const names[] = {"read", "write"};
    char url[96];
    mdt_err err;

    if (!mkdtemp(dir))
        abort();
    snprintf(url, sizeof(url), "sqlite:%s/fuzz.db", dir);
    env.clock = (mdt_clock){fixed_now, NULL};
    env.rng = mdt_rng_system;
    if (mdt_config_defaults(&env.cfg, &err) != MDT_OK || mdt_store_open(url, &env.store, &err) != MDT_OK ||
        mdt_store_migrate(env.store, &err) != MDT_OK)
        abort();
    for (size_t i = 0; i < 2; i++) {
        mdt_scope_rec sc = {.name = names[i], .description = "", .sensitivity = "none",
                            .created_at = NOW};
        if (mdt_store_scope_insert(env.store, &sc, &err) != MDT_OK)
            abort();
    }
    atexit(cleanup);
}

static void check_normalized(const char *meta, int64_t expires_at, mdt_arena *a)
{
    json_t *m = json_loads(meta, 0, NULL);
    const char *again = NULL;
    int64_t exp2 = -1;
    mdt_err err;

    if (!json_is_object(m) || json_object_get(m, "client_id") ||
        json_object_get(m, "client_secret") || json_object_get(m, "status"))
        __builtin_trap();
    json_decref(m);
    if (mdt_client_metadata_validate(&env, meta, strlen(meta), a, &again, &exp2, &err) != MDT_OK ||
        strcmp(again, meta) != 0 || exp2 != expires_at)
        __builtin_trap(); /* normalized metadata is valid and normalizes to itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *meta = NULL;
    int64_t expires_at = 0;
    mdt_arena a;
    mdt_err err;

    if (!env.store)
        init();
    mdt_arena_init(&a, 4096);
    if (mdt_client_metadata_validate(&env, (const char *)data, size, &a, &meta, &expires_at,
                                     &err) == MDT_OK)
        check_normalized(meta, expires_at, &a);
    mdt_arena_free(&a);
    return 0;
}
