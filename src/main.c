/* mandate: command dispatch only. */
#include <stdio.h>
#include <string.h>

#include "app/env.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "store/store.h"

#define MANDATE_VERSION "0.1.0"

typedef int (*command_fn)(mdt_env *env, int argc, char **argv);

static const struct {
    const char *name;
    unsigned flags;   /* what the command needs opened */
    command_fn fn;
    const char *help;
} commands[] = {
    {"init", 0, mdt_cli_init, "create or migrate the database, the master key and the first signing key"},
    {"serve", 0, mdt_cli_serve, "run the server (--dev: zero configuration in ./var)"},
    {"client", MDT_ENV_STORE, mdt_cli_client, "manage clients (create|list|show|update|suspend|resume|delete|secret rotate)"},
    {"scope", MDT_ENV_STORE, mdt_cli_scope, "manage scopes (create|list)"},
    {"user", MDT_ENV_STORE, mdt_cli_user, "manage human users (create|list|passwd|disable)"},
    {"iat", MDT_ENV_STORE, mdt_cli_iat, "initial access tokens for dynamic registration (create)"},
    {"request", MDT_ENV_STORE, mdt_cli_request, "requests awaiting approval (list|approve|deny)"},
    {"keys", MDT_ENV_STORE, mdt_cli_keys, "signing keys (list|rotate)"},
    {"audit", MDT_ENV_STORE, mdt_cli_audit, "audit log (verify [--checkpoint FILE]|checkpoint|export|tail)"},
    {"config-reference", 0, mdt_cli_config_reference, "print the configuration reference (Markdown)"},
};

static int usage(FILE *out)
{
    fprintf(out, "usage: mandate [--config FILE] COMMAND [ARGS...] [--json]\n\ncommands:\n");
    for (size_t i = 0; i < MDT_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].help);
    return out == stdout ? 0 : 1;
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
            return usage(stdout);
        else if (strcmp(argv[i], "--version") == 0)
            return printf("mandate %s\n", MANDATE_VERSION) < 0;
        else
            return mdt_cli_fail("unknown option %s (see mandate --help)", argv[i]);
    }
    if (i >= argc) {
        usage(stderr);
        return 1;
    }
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
