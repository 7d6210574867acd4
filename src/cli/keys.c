/* mandate keys list | keys rotate */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "keys/keyring.h"

int mdt_cli_keys(mdt_env *env, int argc, char **argv)
{
    static const mdt_cli_opt opts[] = {{"--json", false}};
    static const char *const columns[] = {"kid", "alg", "status", "activate_at", "expire_at", NULL};
    mdt_cli_args args = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    mdt_err err = {0};
    const char *json = NULL, *kid = NULL;
    int64_t activate_at = 0;
    int code = 1;

    if (argc < 2)
        return mdt_cli_fail("usage: mandate keys list|rotate [--json]");
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (args.npos)
        return mdt_cli_fail("keys %s takes no arguments", argv[1]);
    mdt_arena_init(&a, 8192);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    if (strcmp(argv[1], "list") == 0) {
        if (mdt_keys_list_json(env, &ctx, &a, &json, &err) != MDT_OK)
            code = mdt_cli_fail_err("keys list", &err);
        else
            code = mdt_cli_has(&args, 0) ? mdt_cli_print_json(json)
                                         : mdt_cli_print_table(json, columns);
    } else if (strcmp(argv[1], "rotate") == 0) {
        char t[21];
        if (mdt_cli_commit(env, &ctx, mdt_keys_rotate(env, &ctx, &a, &kid, &activate_at, &err),
                           &err) != MDT_OK) {
            code = mdt_cli_fail_err("keys rotate", &err);
        } else {
            mdt_time_format(activate_at, t);
            if (mdt_cli_has(&args, 0))
                printf("{\"kid\":\"%s\",\"alg\":\"%s\",\"activate_at\":\"%s\"}\n", kid,
                       env->cfg.signing_alg, t);
            else
                printf("new %s key %s published, signs from %s\n", env->cfg.signing_alg, kid, t);
            code = 0;
        }
    } else {
        code = mdt_cli_fail("unknown command 'keys %s'", argv[1]);
    }
    mdt_arena_free(&a);
    return code;
}
