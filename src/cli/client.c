/* mandate client create | list | show | update | suspend | resume | delete
 *                | secret rotate | apikey create | apikey revoke | credential expire */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/clock.h"
#include "iga/apikey.h"
#include "iga/client.h"
#include "iga/entitlements.h"

enum { OPT_JSON, OPT_KEEP, OPT_EXPIRES, OPT_IN };
static const mdt_cli_opt opts[] = {
    [OPT_JSON] = {"--json", false},
    [OPT_KEEP] = {"--keep", true},
    [OPT_EXPIRES] = {"--expires", true},
    [OPT_IN] = {"--in", true},
};
#define ALLOW(o) (1u << (o))

typedef struct {
    mdt_env *env;
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    mdt_cli_args args;
    bool json;
} cmd;

/* Prints a service result: the JSON document, or human text. */
static int output(const cmd *c, const char *json, bool list)
{
    static const char *const cols[] = {"client_id", "status", "kind", "client_name", "owner", NULL};

    if (c->json)
        return mdt_cli_print_json(json);
    return list ? mdt_cli_print_table(json, cols) : mdt_cli_print_object(json);
}

/* Checks the positional count and that only the allowed options (a mask of
 * ALLOW(OPT_...); --json always) were given. */
static int want_opts(const cmd *c, int npos, unsigned allowed, const char *usage)
{
    bool ok = c->args.npos == npos;

    for (int i = 0; ok && i < c->args.nseen; i++)
        ok = c->args.seen[i].opt == OPT_JSON || (allowed & ALLOW(c->args.seen[i].opt));
    if (!ok)
        return mdt_cli_fail("usage: mandate client %s", usage);
    return 0;
}

static int want(const cmd *c, int npos, const char *usage)
{
    return want_opts(c, npos, 0, usage);
}

static int read_input(mdt_buf *b)
{
    mdt_err err = {0};

    if (mdt_cli_read_stdin(b, MDT_CLIENT_METADATA_MAX, &err) != MDT_OK)
        return mdt_cli_fail_err("reading client metadata", &err);
    return 0;
}

static int do_create(cmd *c)
{
    mdt_buf in;
    mdt_err err = {0};
    const char *resp = NULL;
    int rc;

    if (want(c, 0, "create [--json] < metadata.json"))
        return 1;
    if (read_input(&in)) {
        mdt_buf_free(&in);
        return 1;
    }
    if (mdt_cli_commit(c->env, &c->ctx,
                       mdt_client_create(c->env, &c->ctx, in.data, in.len, &c->a, &resp, &err),
                       &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if ((rc = output(c, resp, false)) == 0 && !c->json && strstr(resp, "\"client_secret\""))
        printf("\nStore the client_secret now: it is not shown again.\n");
    if (resp)
        mdt_wipe((char *)resp, strlen(resp));
    mdt_buf_free(&in);
    return rc;
}

static int do_update(cmd *c)
{
    mdt_buf in;
    mdt_err err = {0};
    const char *resp = NULL;
    int rc;

    if (want(c, 1, "update ID [--json] < metadata.json"))
        return 1;
    if (read_input(&in)) {
        mdt_buf_free(&in);
        return 1;
    }
    if (mdt_cli_commit(
            c->env, &c->ctx,
            mdt_client_update(c->env, &c->ctx, c->args.pos[0], in.data, in.len, &c->a, &resp, &err),
            &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if ((rc = output(c, resp, false)) == 0 && !c->json && strstr(resp, "\"client_secret\""))
        printf("\nStore the client_secret now: it is not shown again.\n");
    if (resp)
        mdt_wipe((char *)resp, strlen(resp));
    mdt_buf_free(&in);
    return rc;
}

static int do_list(cmd *c)
{
    mdt_err err = {0};
    const char *json;

    if (want(c, 0, "list [--json]"))
        return 1;
    if (mdt_client_list_json(c->env, &c->ctx, &c->a, &json, &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return output(c, json, true);
}

static int do_show(cmd *c)
{
    static const char *const cols[] = {"source", "scope", "resource", "id", "expires_at", NULL};
    mdt_err err = {0};
    const char *json, *ents;
    int rc;

    if (want(c, 1, "show ID [--json]"))
        return 1;
    if (c->json) {
        if (mdt_client_show_entitlements_json(c->env, &c->ctx, c->args.pos[0], &c->a, &json,
                                              &err) != MDT_OK)
            return mdt_cli_fail_err(NULL, &err);
        return mdt_cli_print_json(json);
    }
    if (mdt_client_show_json(c->env, &c->ctx, c->args.pos[0], &c->a, &json, &err) != MDT_OK ||
        mdt_entitlement_list_json(c->env, &c->ctx, c->args.pos[0], &c->a, &ents, &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    if ((rc = output(c, json, false)) != 0)
        return rc;
    printf("\nEntitlements:\n");
    return mdt_cli_print_table(ents, cols);
}

/* {"client_id": id, "status": status} or {"client_id": id, "deleted": true} */
static int print_change(const char *id, const char *status)
{
    mdt_buf b;
    int rc;

    mdt_buf_init(&b, 0);
    if (mdt_buf_adds(&b, "{\"client_id\":") || mdt_buf_add_json_str(&b, id) ||
        mdt_buf_adds(&b, status ? ",\"status\":" : ",\"deleted\":true}") ||
        (status && (mdt_buf_add_json_str(&b, status) || mdt_buf_adds(&b, "}"))))
        rc = mdt_cli_fail("out of memory");
    else
        rc = mdt_cli_print_json(b.data);
    mdt_buf_free(&b);
    return rc;
}

/* suspend, resume, delete: a change with a short confirmation. */
static int do_change(cmd *c, const char *verb)
{
    mdt_err err = {0};
    const char *id = c->args.pos[0], *status = NULL;
    mdt_rc rc;

    if (want_opts(c, 1, 0, "suspend|resume|delete ID [--json]"))
        return 1;
    if (strcmp(verb, "delete") == 0) {
        rc = mdt_cli_commit(c->env, &c->ctx, mdt_client_delete(c->env, &c->ctx, id, &err), &err);
    } else {
        status = strcmp(verb, "suspend") == 0 ? "suspended" : "active";
        rc = mdt_cli_commit(c->env, &c->ctx,
                            mdt_client_set_status(c->env, &c->ctx, id, status, &err), &err);
    }
    if (rc != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    if (!c->json) {
        printf("client %s %s\n", id, status ? status : "deleted");
        return fflush(stdout) == 0 ? 0 : 1;
    }
    return print_change(id, status);
}

static int do_rotate(cmd *c)
{
    static const char usage[] = "secret rotate ID [--keep DURATION] [--json]";
    mdt_err err = {0};
    const char *keep_s = mdt_cli_value(&c->args, OPT_KEEP), *resp = NULL;
    int64_t keep = 0;
    int rc;

    if (want_opts(c, 2, ALLOW(OPT_KEEP), usage))
        return 1;
    if (!mdt_str_eq(c->args.pos[0], "rotate"))
        return mdt_cli_fail("usage: mandate client %s", usage);
    if (keep_s && mdt_duration_parse(keep_s, &keep) != MDT_OK)
        return mdt_cli_fail("--keep: bad duration '%s' (use e.g. 90s, 15m, 8h, 30d)", keep_s);
    if (mdt_cli_commit(
            c->env, &c->ctx,
            mdt_client_rotate_secret(c->env, &c->ctx, c->args.pos[1], keep, &c->a, &resp, &err),
            &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    rc = output(c, resp, false);
    if (rc == 0 && !c->json)
        printf("\nStore the client_secret now: it is not shown again.\n");
    mdt_wipe((char *)resp, strlen(resp));
    return rc;
}

static int apikey_create(cmd *c)
{
    static const char usage[] = "apikey create ID [--expires DURATION] [--json]";
    const char *exp_s = mdt_cli_value(&c->args, OPT_EXPIRES), *resp = NULL;
    int64_t expires = 0;
    mdt_err err = {0};
    int rc;

    if (want_opts(c, 2, ALLOW(OPT_EXPIRES), usage))
        return 1;
    if (exp_s && (mdt_duration_parse(exp_s, &expires) != MDT_OK || expires <= 0))
        return mdt_cli_fail("--expires: bad duration '%s' (use e.g. 90s, 15m, 8h, 30d)", exp_s);
    if (mdt_cli_commit(
            c->env, &c->ctx,
            mdt_apikey_create(c->env, &c->ctx, c->args.pos[1], expires, &c->a, &resp, &err),
            &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    rc = output(c, resp, false);
    if (rc == 0 && !c->json)
        printf("\nStore the api_key now: it is not shown again.\n");
    mdt_wipe((char *)resp, strlen(resp));
    return rc;
}

static int apikey_revoke(cmd *c)
{
    mdt_err err = {0};
    const char *resp = NULL;

    if (want_opts(c, 3, 0, "apikey revoke ID KEYID [--json]"))
        return 1;
    if (mdt_cli_commit(
            c->env, &c->ctx,
            mdt_apikey_revoke(c->env, &c->ctx, c->args.pos[1], c->args.pos[2], &c->a, &resp, &err),
            &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return output(c, resp, false);
}

static int do_apikey(cmd *c)
{
    const char *verb = c->args.npos ? c->args.pos[0] : NULL;

    if (mdt_str_eq(verb, "create"))
        return apikey_create(c);
    if (mdt_str_eq(verb, "revoke"))
        return apikey_revoke(c);
    return mdt_cli_fail("usage: mandate client apikey create ID [--expires DURATION] | "
                        "apikey revoke ID KEYID");
}

static int do_credential(cmd *c)
{
    static const char usage[] = "credential expire ID CREDID [--in DURATION] [--json]";
    const char *in_s = mdt_cli_value(&c->args, OPT_IN), *resp = NULL;
    int64_t in = 0;
    mdt_err err = {0};

    if (want_opts(c, 3, ALLOW(OPT_IN), usage))
        return 1;
    if (!mdt_str_eq(c->args.pos[0], "expire"))
        return mdt_cli_fail("usage: mandate client %s", usage);
    if (in_s && mdt_duration_parse(in_s, &in) != MDT_OK)
        return mdt_cli_fail("--in: bad duration '%s' (use e.g. 90s, 15m, 8h, 30d)", in_s);
    if (mdt_cli_commit(c->env, &c->ctx,
                       mdt_client_credential_expire(c->env, &c->ctx, c->args.pos[1], c->args.pos[2],
                                                    in, &c->a, &resp, &err),
                       &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return output(c, resp, false);
}

static int dispatch(cmd *c, const char *sub)
{
    if (strcmp(sub, "create") == 0)
        return do_create(c);
    if (strcmp(sub, "list") == 0)
        return do_list(c);
    if (strcmp(sub, "show") == 0)
        return do_show(c);
    if (strcmp(sub, "update") == 0)
        return do_update(c);
    if (strcmp(sub, "suspend") == 0 || strcmp(sub, "resume") == 0 || strcmp(sub, "delete") == 0)
        return do_change(c, sub);
    if (strcmp(sub, "secret") == 0)
        return do_rotate(c);
    if (strcmp(sub, "apikey") == 0)
        return do_apikey(c);
    if (strcmp(sub, "credential") == 0)
        return do_credential(c);
    return mdt_cli_fail("client: unknown command '%s' (create, list, show, update, suspend, "
                        "resume, delete, secret rotate, apikey create|revoke, credential expire)",
                        sub);
}

int mdt_cli_client(mdt_env *env, int argc, char **argv)
{
    cmd c = {.env = env};
    int rc;

    if (argc < 2)
        return mdt_cli_fail("usage: mandate client create|list|show|update|suspend|resume|"
                            "delete|secret rotate|apikey create|apikey revoke|credential expire ...");
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &c.args))
        return 1;
    c.json = mdt_cli_has(&c.args, OPT_JSON);
    mdt_arena_init(&c.a, 16384);
    mdt_cli_ctx(env, NULL, &c.ctx, &c.events, &c.a);
    rc = dispatch(&c, argv[1]);
    mdt_arena_free(&c.a);
    return rc;
}
