/* mandate review [--json]
 *        review certify ID --note TEXT --until DATE|DURATION [--by USER] [--json]
 *        review revoke ID [--by USER] [--note TEXT] [--json]                     */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/clock.h"
#include "iga/review.h"

enum { OPT_JSON, OPT_NOTE, OPT_UNTIL, OPT_BY };
static const mdt_cli_opt opts[] = {
    [OPT_JSON] = {"--json", false},
    [OPT_NOTE] = {"--note", true},
    [OPT_UNTIL] = {"--until", true},
    [OPT_BY] = {"--by", true},
};
#define ALLOW(o) (1u << (o))

static bool only(const mdt_cli_args *p, unsigned allowed)
{
    for (int i = 0; i < p->nseen; i++)
        if (p->seen[i].opt != OPT_JSON && !(allowed & ALLOW(p->seen[i].opt)))
            return false;
    return true;
}

static int review_list(mdt_env *env, const mdt_cli_args *p)
{
    static const char *const cols[] = {"id", "kind", "client_id", "since", "detail", NULL};
    const char *json;
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    int rc;

    if (p->npos != 0 || !only(p, 0))
        return mdt_cli_fail("usage: mandate review [--json] | review certify|revoke ID ...");
    mdt_arena_init(&a, 65536);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    if (mdt_review_list_json(env, &ctx, NULL, &a, &json, &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(json);
    else
        rc = mdt_cli_print_table(json, cols);
    mdt_arena_free(&a);
    return rc;
}

static int print_outcome(const char *id, bool certify, const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    const char *until = json_string_value(json_object_get(doc, "until"));
    const char *action = json_string_value(json_object_get(doc, "action"));
    int rc;

    if (certify)
        rc = printf("finding %s certified until %s\n", id, until ? until : "?") < 0;
    else
        rc = printf("finding %s revoked: %s\n", id, action ? action : "done") < 0;
    json_decref(doc);
    return rc || fflush(stdout) != 0;
}

static int review_decide(mdt_env *env, const mdt_cli_args *p, bool certify)
{
    const char *until_s = mdt_cli_value(p, OPT_UNTIL), *json = NULL;
    int64_t until = 0;
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    int rc;

    if (p->npos != 1 || !only(p, ALLOW(OPT_BY) | ALLOW(OPT_NOTE) | (certify ? ALLOW(OPT_UNTIL) : 0)))
        return mdt_cli_fail(certify ? "usage: mandate review certify ID --note TEXT "
                                      "--until DATE|DURATION [--by USERNAME] [--json]"
                                    : "usage: mandate review revoke ID [--by USERNAME] "
                                      "[--note TEXT] [--json]");
    mdt_arena_init(&a, 65536);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    if (certify && (!until_s || !mdt_review_until_parse(until_s, ctx.now, &until))) {
        mdt_arena_free(&a);
        return mdt_cli_fail("--until: give a date (2027-03-31), an RFC 3339 time or a duration (e.g. 30d)");
    }
    if (certify)
        rc = mdt_review_certify(env, &ctx, p->pos[0], mdt_cli_value(p, OPT_BY),
                                mdt_cli_value(p, OPT_NOTE), until, &a, &json, &err);
    else
        rc = mdt_review_revoke(env, &ctx, p->pos[0], mdt_cli_value(p, OPT_BY),
                               mdt_cli_value(p, OPT_NOTE), &a, &json, &err);
    if (mdt_cli_commit(env, &ctx, rc, &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(json);
    else
        rc = print_outcome(p->pos[0], certify, json);
    mdt_arena_free(&a);
    return rc;
}

int mdt_cli_review(mdt_env *env, int argc, char **argv)
{
    mdt_cli_args args;
    const char *sub = argc >= 2 && argv[1][0] != '-' ? argv[1] : NULL;

    if (sub && strcmp(sub, "certify") != 0 && strcmp(sub, "revoke") != 0)
        return mdt_cli_fail("review: unknown command '%s' (certify, revoke)", sub);
    if (mdt_cli_parse(argc, argv, sub ? 2 : 1, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (!sub)
        return review_list(env, &args);
    return review_decide(env, &args, strcmp(sub, "certify") == 0);
}
