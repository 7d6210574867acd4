/* mandate db backup FILE, mandate db copy --to URL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/url.h"
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

/* Opts: 0 --json, 1 --to. The destination is named without its password. */
static int db_copy(mdt_env *env, const mdt_cli_args *args)
{
    const char *to = mdt_cli_value(args, 1);
    mdt_store_copy_report r;
    mdt_err err = {0};
    char shown[1024];

    if (args->npos != 0 || !to || !*to)
        return mdt_cli_fail("usage: mandate db copy --to postgresql://... [--json]");
    mdt_url_redact(to, shown, sizeof(shown));
    if (mdt_store_copy(env->cfg.database, to, &r, &err) != MDT_OK)
        return mdt_cli_fail_err("db copy", &err);
    if (mdt_cli_has(args, 0)) {
        json_t *o = json_pack("{s:s,s:I,s:I,s:i}", "to", shown, "tables", (json_int_t)r.tables,
                              "rows", (json_int_t)r.rows, "schema_version", r.schema_version);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        int code = s ? mdt_cli_print_json(s) : mdt_cli_fail("out of memory");
        free(s);
        json_decref(o);
        return code;
    }
    printf("copied %lld rows of %zu tables into %s (schema version %d)\n", (long long)r.rows,
           r.tables, shown, r.schema_version);
    return 0;
}

int mdt_cli_db(mdt_env *env, int argc, char **argv)
{
    static const mdt_cli_opt opts[] = {{"--json", false}, {"--to", true}};
    mdt_cli_args args = {0};

    if (argc < 2)
        return mdt_cli_fail("usage: mandate db backup FILE | db copy --to URL [--json]");
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (strcmp(argv[1], "backup") == 0)
        return db_backup(env, &args);
    if (strcmp(argv[1], "copy") == 0)
        return db_copy(env, &args);
    return mdt_cli_fail("unknown command 'db %s' (see mandate help db)", argv[1]);
}
