/* mandate: command dispatch only. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "app/env.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "store/store.h"

#define MANDATE_VERSION MDT_VERSION

typedef int (*command_fn)(mdt_env *env, int argc, char **argv);

/* The commands; their help is the table in cli/help.c. */
static const struct {
    const char *name;
    unsigned flags;   /* what the command needs opened */
    command_fn fn;
} commands[] = {
    {"init", 0, mdt_cli_init},
    {"serve", 0, mdt_cli_serve},
    {"client", MDT_ENV_STORE, mdt_cli_client},
    {"scope", MDT_ENV_STORE, mdt_cli_scope},
    {"user", MDT_ENV_STORE, mdt_cli_user},
    {"iat", MDT_ENV_STORE, mdt_cli_iat},
    {"request", MDT_ENV_STORE, mdt_cli_request},
    {"review", MDT_ENV_STORE, mdt_cli_review},
    {"policy", 0, mdt_cli_policy}, /* opens the store itself: validate needs none */
    {"keys", MDT_ENV_STORE, mdt_cli_keys},
    {"audit", MDT_ENV_STORE, mdt_cli_audit},
    {"db", MDT_ENV_STORE, mdt_cli_db},
    {"config-reference", 0, mdt_cli_config_reference},
};

/* `mandate help WORDS...` and `mandate WORDS... --help` (or -h anywhere
 * after the command): the help of the command the leading words name. Needs
 * no configuration. Returns -1 when argv asks for no help. */
static int help(int argc, char **argv)
{
    bool asked = strcmp(argv[0], "help") == 0;
    int first = asked ? 1 : 0, n = 0;

    for (int j = 1; j < argc && !asked; j++)
        asked = strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0;
    if (!asked)
        return -1;
    while (first + n < argc && argv[first + n][0] != '-')
        n++;
    return mdt_cli_help(n, (const char *const *)argv + first);
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    mdt_env env;
    mdt_err err = {0};
    int i = 1, code;

    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config = argv[i] + 9;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return mdt_cli_usage(stdout);
        else if (strcmp(argv[i], "--version") == 0)
            return printf("mandate %s\n", MANDATE_VERSION) < 0;
        else
            return mdt_cli_fail("unknown option %s (see mandate --help)", argv[i]);
    }
    if (i >= argc)
        return mdt_cli_usage(stderr);
    if ((code = help(argc - i, argv + i)) >= 0)
        return code;
    for (size_t c = 0; c < MDT_ARRAY_LEN(commands); c++) {
        if (strcmp(commands[c].name, argv[i]) != 0)
            continue;
        if (strcmp(argv[i], "config-reference") == 0)
            return commands[c].fn(NULL, argc - i, argv + i);
        if (strcmp(argv[i], "serve") == 0)
            mdt_cli_block_signals();
        if (mdt_env_open(&env, config, commands[c].flags, &err) != MDT_OK) {
            code = mdt_cli_fail_open(&env, &err);
            mdt_env_close(&env);
            return code;
        }
        code = commands[c].fn(&env, argc - i, argv + i);
        mdt_env_close(&env);
        return code;
    }
    return mdt_cli_fail("unknown command '%s' (see mandate --help)", argv[i]);
}
