/* mandate scope create NAME [--description TEXT] [--sensitivity S] [--resource URI]... | list */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "iga/scope.h"

enum { OPT_JSON, OPT_DESCRIPTION, OPT_SENSITIVITY, OPT_RESOURCE };
static const mdt_cli_opt opts[] = {
    [OPT_JSON] = {"--json", false},
    [OPT_DESCRIPTION] = {"--description", true},
    [OPT_SENSITIVITY] = {"--sensitivity", true},
    [OPT_RESOURCE] = {"--resource", true},
};

static int scope_create(mdt_env *env, const mdt_cli_args *p)
{
    const char *res[MDT_CLI_MAX_ARGS + 1];
    const char *desc = mdt_cli_value(p, OPT_DESCRIPTION);
    const char *sens = mdt_cli_value(p, OPT_SENSITIVITY);
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    const char *json = NULL;
    int rc = 0;

    if (p->npos != 1)
        return mdt_cli_fail("usage: mandate scope create NAME [--description TEXT] "
                            "[--sensitivity none|consent|approval] [--resource URI]... [--json]");
    mdt_cli_values(p, OPT_RESOURCE, res, MDT_CLI_MAX_ARGS);
    mdt_arena_init(&a, 4096);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    rc = mdt_cli_commit(env, &ctx, mdt_scope_create(env, &ctx, p->pos[0], desc, sens, res, &err),
                        &err);
    if (rc == MDT_OK && mdt_cli_has(p, OPT_JSON))
        rc = mdt_scope_doc_json(p->pos[0], desc, sens, res, &a, &json, &err);
    if (rc != MDT_OK) {
        mdt_arena_free(&a);
        return mdt_cli_fail_err(NULL, &err);
    }
    if (!mdt_cli_has(p, OPT_JSON)) {
        mdt_arena_free(&a);
        printf("scope %s created\n", p->pos[0]);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    rc = mdt_cli_print_json(json);
    mdt_arena_free(&a);
    return rc;
}

static int scope_list(mdt_env *env, const mdt_cli_args *p)
{
    static const char *const cols[] = {"name", "sensitivity", "resources", "description", NULL};
    mdt_arena a;
    mdt_err err = {0};
    const char *json;
    int rc;

    if (p->npos != 0)
        return mdt_cli_fail("usage: mandate scope list [--json]");
    mdt_arena_init(&a, 16384);
    if (mdt_scope_list_json(env, &a, &json, &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(json);
    else
        rc = mdt_cli_print_table(json, cols);
    mdt_arena_free(&a);
    return rc;
}

int mdt_cli_scope(mdt_env *env, int argc, char **argv)
{
    mdt_cli_args args;

    if (argc < 2)
        return mdt_cli_fail("usage: mandate scope create|list ...");
    if (strcmp(argv[1], "create") != 0 && strcmp(argv[1], "list") != 0)
        return mdt_cli_fail("scope: unknown command '%s' (create, list)", argv[1]);
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (strcmp(argv[1], "create") == 0)
        return scope_create(env, &args);
    if (mdt_cli_has(&args, OPT_DESCRIPTION) || mdt_cli_has(&args, OPT_SENSITIVITY) ||
        mdt_cli_has(&args, OPT_RESOURCE))
        return mdt_cli_fail("usage: mandate scope list [--json]");
    return scope_list(env, &args);
}
