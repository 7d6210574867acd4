/* mandate iat create [--max-uses N] [--expires DURATION] [--policy JSON] [--json] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/clock.h"
#include "iga/iat.h"

enum { OPT_JSON, OPT_MAX_USES, OPT_EXPIRES, OPT_POLICY };
static const mdt_cli_opt opts[] = {
    [OPT_JSON] = {"--json", false},
    [OPT_MAX_USES] = {"--max-uses", true},
    [OPT_EXPIRES] = {"--expires", true},
    [OPT_POLICY] = {"--policy", true},
};

#define USAGE "usage: mandate iat create [--max-uses N] [--expires DURATION] [--policy JSON] [--json]"

static int parse_uses(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = s ? strtoll(s, &end, 10) : MDT_IAT_DEFAULT_USES;
    if (s && (errno || end == s || *end || v < 1 || v > MDT_IAT_MAX_USES))
        return mdt_cli_fail("--max-uses: must be a whole number from 1 to %d", MDT_IAT_MAX_USES);
    *out = v;
    return 0;
}

static int iat_create(mdt_env *env, const mdt_cli_args *p)
{
    const char *exp_s = mdt_cli_value(p, OPT_EXPIRES), *resp = NULL;
    int64_t uses = 0, expires = 0;
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    int rc;

    if (p->npos != 0)
        return mdt_cli_fail(USAGE);
    if (parse_uses(mdt_cli_value(p, OPT_MAX_USES), &uses))
        return 1;
    if (exp_s && (mdt_duration_parse(exp_s, &expires) != MDT_OK || expires <= 0))
        return mdt_cli_fail("--expires: bad duration '%s' (use e.g. 90s, 15m, 8h, 30d)", exp_s);
    mdt_arena_init(&a, 4096);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    if (mdt_cli_commit(
            env, &ctx,
            mdt_iat_create(env, &ctx, uses, expires, mdt_cli_value(p, OPT_POLICY), &a, &resp, &err),
            &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(resp);
    else if ((rc = mdt_cli_print_object(resp)) == 0)
        printf("\nStore the initial_access_token now: it is not shown again.\n");
    if (resp)
        mdt_wipe((char *)resp, strlen(resp));
    mdt_arena_free(&a);
    return rc;
}

int mdt_cli_iat(mdt_env *env, int argc, char **argv)
{
    mdt_cli_args args;

    if (argc < 2)
        return mdt_cli_fail(USAGE);
    if (strcmp(argv[1], "create") != 0)
        return mdt_cli_fail("iat: unknown command '%s' (create)", argv[1]);
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    return iat_create(env, &args);
}
