/* mandate audit verify | export [--since TIME] | tail */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "cli/commands.h"

static volatile int stop_tail;

static void on_signal(int sig)
{
    (void)sig;
    stop_tail = 1;
}

static int verify(mdt_env *env, bool json)
{
    int64_t count = 0, bad = 0;
    mdt_err err = {0};
    mdt_rc rc = mdt_audit_verify(env->store, &count, &bad, &err);

    if (rc == MDT_ERR_VERIFY) {
        if (json)
            printf("{\"ok\":false,\"events\":%lld,\"first_bad_seq\":%lld}\n", (long long)count,
                   (long long)bad);
        return mdt_cli_fail("audit chain broken at event seq %lld: %s", (long long)bad,
                            mdt_err_text(&err));
    }
    if (rc != MDT_OK)
        return mdt_cli_fail_err("audit verify", &err);
    if (json)
        printf("{\"ok\":true,\"events\":%lld}\n", (long long)count);
    else
        printf("audit chain verified: %lld events\n", (long long)count);
    return 0;
}

int mdt_cli_audit(mdt_env *env, int argc, char **argv)
{
    static const mdt_cli_opt opts[] = {{"--json", false}, {"--since", true}, {"--lines", true}};
    mdt_cli_args args = {0};
    mdt_err err = {0};
    int64_t since = 0;
    const char *v;

    if (argc < 2)
        return mdt_cli_fail("usage: mandate audit verify|export [--since TIME]|tail");
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (args.npos)
        return mdt_cli_fail("audit %s takes no arguments", argv[1]);
    if (strcmp(argv[1], "verify") == 0)
        return verify(env, mdt_cli_has(&args, 0));
    if (strcmp(argv[1], "export") == 0) {
        if ((v = mdt_cli_value(&args, 1)) && mdt_time_parse(v, &since) != MDT_OK)
            return mdt_cli_fail("--since: not an RFC 3339 time: %s", v);
        if (mdt_audit_export(env->store, since, stdout, &err) != MDT_OK)
            return mdt_cli_fail_err("audit export", &err);
        return 0;
    }
    if (strcmp(argv[1], "tail") == 0) {
        int64_t lines = 10;
        if ((v = mdt_cli_value(&args, 2)) && mdt_duration_parse(v, &lines) != MDT_OK)
            return mdt_cli_fail("--lines: not a number: %s", v);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (mdt_audit_tail(env->store, (size_t)lines, &stop_tail, stdout, &err) != MDT_OK)
            return mdt_cli_fail_err("audit tail", &err);
        return 0;
    }
    return mdt_cli_fail("unknown command 'audit %s'", argv[1]);
}
