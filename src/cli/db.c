/* mandate db backup FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "store/store.h"

static int db_backup(mdt_env *env, const mdt_cli_args *args)
{
    mdt_err err = {0};

    if (args->npos != 1)
        return mdt_cli_fail("usage: mandate db backup FILE [--json]");
    if (mdt_store_backup(env->cfg.database, args->pos[0], &err) != MDT_OK)
        return mdt_cli_fail_err("db backup", &err);
    if (mdt_cli_has(args, 0)) {
        json_t *o = json_pack("{s:s}", "backup", args->pos[0]);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        int code = s ? mdt_cli_print_json(s) : mdt_cli_fail("out of memory");
        free(s);
        json_decref(o);
        return code;
    }
    printf("database copied to %s\n", args->pos[0]);
    return 0;
}

int mdt_cli_db(mdt_env *env, int argc, char **argv)
{
    static const mdt_cli_opt opts[] = {{"--json", false}};
    mdt_cli_args args = {0};

    if (argc < 2)
        return mdt_cli_fail("usage: mandate db backup FILE [--json]");
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (strcmp(argv[1], "backup") == 0)
        return db_backup(env, &args);
    return mdt_cli_fail("unknown command 'db %s' (see mandate help db)", argv[1]);
}
