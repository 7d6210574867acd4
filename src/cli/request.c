/* mandate request list [--status S] | approve ID [--for D] [--by USER] [--note T]
 *                      | deny ID [--by USER] [--note T]          (all: [--json]) */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/clock.h"
#include "iga/requests.h"
#include "iga/routing.h"

enum { OPT_JSON, OPT_STATUS, OPT_FOR, OPT_BY, OPT_NOTE };
static const mdt_cli_opt opts[] = {
    [OPT_JSON] = {"--json", false},
    [OPT_STATUS] = {"--status", true},
    [OPT_FOR] = {"--for", true},
    [OPT_BY] = {"--by", true},
    [OPT_NOTE] = {"--note", true},
};
#define ALLOW(o) (1u << (o))

/* Only the allowed options (a mask of ALLOW(OPT_...); --json always). */
static bool only(const mdt_cli_args *p, unsigned allowed)
{
    for (int i = 0; i < p->nseen; i++)
        if (p->seen[i].opt != OPT_JSON && !(allowed & ALLOW(p->seen[i].opt)))
            return false;
    return true;
}

static bool status_known(const char *s)
{
    return mdt_str_eq(s, "pending") || mdt_str_eq(s, "approved") || mdt_str_eq(s, "denied") ||
           mdt_str_eq(s, "expired");
}

static int request_list(mdt_env *env, const mdt_cli_args *p)
{
    static const char *const cols[] = {"id", "type", "status", "client_id", "scope",
                                       "created_at", "expires_at", NULL};
    const char *status = mdt_cli_value(p, OPT_STATUS), *json;
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    int rc;

    if (p->npos != 0 || !only(p, ALLOW(OPT_STATUS)))
        return mdt_cli_fail("usage: mandate request list [--status pending|approved|denied|"
                            "expired] [--json]");
    if (status && !status_known(status))
        return mdt_cli_fail("--status: must be pending, approved, denied or expired");
    mdt_arena_init(&a, 16384);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    if (mdt_request_list_json(env, &ctx, status, &a, &json, &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(json);
    else
        rc = mdt_cli_print_table(json, cols);
    mdt_arena_free(&a);
    return rc;
}

/* "request ID approved|denied", or under a quorum "vote recorded" while
 * the request is still pending. */
static int print_outcome(const char *id, bool approve, const char *json)
{
    json_t *doc = json_loads(json, 0, NULL);
    const char *status = json_string_value(json_object_get(doc, "status"));
    int rc;

    if (mdt_str_eq(status, "pending"))
        rc = printf("request %s: vote recorded, still pending\n", id) < 0;
    else
        rc = printf("request %s %s\n", id, approve ? "approved" : "denied") < 0;
    json_decref(doc);
    return rc || fflush(stdout) != 0;
}

static int request_decide(mdt_env *env, const mdt_cli_args *p, bool approve)
{
    const char *for_s = mdt_cli_value(p, OPT_FOR), *json;
    int64_t for_secs = 0;
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    int rc;

    if (p->npos != 1 || !only(p, ALLOW(OPT_BY) | ALLOW(OPT_NOTE) | (approve ? ALLOW(OPT_FOR) : 0)))
        return mdt_cli_fail(approve ? "usage: mandate request approve ID [--for DURATION] "
                                      "[--by USERNAME] [--note TEXT] [--json]"
                                    : "usage: mandate request deny ID [--by USERNAME] "
                                      "[--note TEXT] [--json]");
    if (for_s && (mdt_duration_parse(for_s, &for_secs) != MDT_OK || for_secs <= 0))
        return mdt_cli_fail("--for: bad duration '%s' (use e.g. 90s, 15m, 8h, 30d)", for_s);
    mdt_arena_init(&a, 8192);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    rc = mdt_request_decide(env, &ctx, p->pos[0], approve, mdt_cli_value(p, OPT_BY),
                            mdt_cli_value(p, OPT_NOTE), for_secs, &a, &json, &err);
    if (mdt_cli_commit(env, &ctx, rc, &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(json);
    else
        rc = print_outcome(p->pos[0], approve, json);
    mdt_arena_free(&a);
    return rc;
}

int mdt_cli_request(mdt_env *env, int argc, char **argv)
{
    mdt_cli_args args;
    mdt_err err = {0};
    int rc;

    if (argc < 2)
        return mdt_cli_fail("usage: mandate request list|approve|deny ...");
    if (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "approve") != 0 &&
        strcmp(argv[1], "deny") != 0)
        return mdt_cli_fail("request: unknown command '%s' (list, approve, deny)", argv[1]);
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    /* the same routing rules as the server's */
    if (!env->routing && mdt_routing_load(env->cfg.approvals_routing, &env->routing, &err) != MDT_OK)
        return mdt_cli_fail_err("approval routing", &err);
    if (strcmp(argv[1], "list") == 0)
        rc = request_list(env, &args);
    else
        rc = request_decide(env, &args, strcmp(argv[1], "approve") == 0);
    mdt_routing_free(env->routing);
    env->routing = NULL;
    return rc;
}
