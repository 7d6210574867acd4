/* mandate user create USERNAME [--name TEXT] [--email E] [--role admin|approver|auditor]...
 *                    --password-stdin
 *              | list | passwd USERNAME --password-stdin | disable USERNAME */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "users/users.h"

enum { OPT_JSON, OPT_NAME, OPT_EMAIL, OPT_ROLE, OPT_PASSWORD_STDIN };
static const mdt_cli_opt opts[] = {
    [OPT_JSON] = {"--json", false},
    [OPT_NAME] = {"--name", true},
    [OPT_EMAIL] = {"--email", true},
    [OPT_ROLE] = {"--role", true},
    [OPT_PASSWORD_STDIN] = {"--password-stdin", false},
};

typedef struct {
    mdt_env *env;
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    mdt_cli_args args;
    bool json;
} cmd;

/* A password read from standard input; wiped by pw_wipe. */
typedef struct {
    char s[MDT_PASSWORD_MAX + 1];
    size_t len;
} password;

static void pw_wipe(password *pw)
{
    mdt_wipe(pw, sizeof(*pw));
}

/* The first line of standard input without its line ending (LF or CRLF).
 * Reads one byte at a time, so that no copy of the password stays in a
 * stdio buffer and nothing after the first line is consumed. */
static int read_password(password *pw)
{
    char ch = 0;
    ssize_t r;
    bool any = false;

    pw->len = 0;
    while ((r = read(STDIN_FILENO, &ch, 1)) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return mdt_cli_fail("reading the password from standard input: %s", strerror(errno));
        any = true;
        if (ch == '\n')
            break;
        if (pw->len >= MDT_PASSWORD_MAX)
            return mdt_cli_fail("password longer than %d bytes", MDT_PASSWORD_MAX);
        pw->s[pw->len++] = ch;
    }
    ch = 0;
    if (pw->len && pw->s[pw->len - 1] == '\r')
        pw->len--;
    pw->s[pw->len] = '\0';
    if (!any)
        return mdt_cli_fail("no password on standard input (--password-stdin)");
    return 0;
}

/* Only the options in allowed (bit per option) were given. */
static bool only(const cmd *c, unsigned allowed)
{
    for (int i = 0; i < c->args.nseen; i++)
        if (!(allowed & (1u << c->args.seen[i].opt)))
            return false;
    return true;
}

/* The user as JSON (--json) or a short confirmation line. */
static int confirm(cmd *c, const char *username, const char *what)
{
    mdt_err err = {0};
    const char *json;

    if (!c->json) {
        printf("user %s %s\n", username, what);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (mdt_user_show_json(c->env, username, &c->a, &json, &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return mdt_cli_print_json(json);
}

static int do_create(cmd *c)
{
    const unsigned allowed = 1u << OPT_JSON | 1u << OPT_NAME | 1u << OPT_EMAIL | 1u << OPT_ROLE |
                             1u << OPT_PASSWORD_STDIN;
    const char *roles[MDT_CLI_MAX_ARGS + 1];
    password pw;
    mdt_err err = {0};
    mdt_rc rc;

    if (c->args.npos != 1 || !only(c, allowed) || !mdt_cli_has(&c->args, OPT_PASSWORD_STDIN))
        return mdt_cli_fail("usage: mandate user create USERNAME [--name TEXT] [--email E] "
                            "[--role admin|approver|auditor]... --password-stdin [--json]");
    mdt_cli_values(&c->args, OPT_ROLE, roles, MDT_CLI_MAX_ARGS);
    if (read_password(&pw)) {
        pw_wipe(&pw);
        return 1;
    }
    rc = mdt_cli_commit(
        c->env, &c->ctx,
        mdt_user_create(c->env, &c->ctx, c->args.pos[0], mdt_cli_value(&c->args, OPT_NAME),
                        mdt_cli_value(&c->args, OPT_EMAIL), roles, pw.s, pw.len, &err),
        &err);
    pw_wipe(&pw);
    if (rc != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return confirm(c, c->args.pos[0], "created");
}

static int do_passwd(cmd *c)
{
    password pw;
    mdt_err err = {0};
    mdt_rc rc;

    if (c->args.npos != 1 || !only(c, 1u << OPT_JSON | 1u << OPT_PASSWORD_STDIN) ||
        !mdt_cli_has(&c->args, OPT_PASSWORD_STDIN))
        return mdt_cli_fail("usage: mandate user passwd USERNAME --password-stdin [--json]");
    if (read_password(&pw)) {
        pw_wipe(&pw);
        return 1;
    }
    rc = mdt_cli_commit(c->env, &c->ctx,
                        mdt_user_passwd(c->env, &c->ctx, c->args.pos[0], pw.s, pw.len, &err), &err);
    pw_wipe(&pw);
    if (rc != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return confirm(c, c->args.pos[0], "password changed");
}

static int do_disable(cmd *c)
{
    mdt_err err = {0};

    if (c->args.npos != 1 || !only(c, 1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate user disable USERNAME [--json]");
    if (mdt_cli_commit(c->env, &c->ctx, mdt_user_disable(c->env, &c->ctx, c->args.pos[0], &err),
                       &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return confirm(c, c->args.pos[0], "disabled");
}

static int do_list(cmd *c)
{
    static const char *const cols[] = {"username", "name", "email", "roles", "status",
                                       "created_at", NULL};
    mdt_err err = {0};
    const char *json;

    if (c->args.npos != 0 || !only(c, 1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate user list [--json]");
    if (mdt_user_list_json(c->env, &c->a, &json, &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    return c->json ? mdt_cli_print_json(json) : mdt_cli_print_table(json, cols);
}

static int dispatch(cmd *c, const char *sub)
{
    if (strcmp(sub, "create") == 0)
        return do_create(c);
    if (strcmp(sub, "list") == 0)
        return do_list(c);
    if (strcmp(sub, "passwd") == 0)
        return do_passwd(c);
    if (strcmp(sub, "disable") == 0)
        return do_disable(c);
    return mdt_cli_fail("user: unknown command '%s' (create, list, passwd, disable)", sub);
}

int mdt_cli_user(mdt_env *env, int argc, char **argv)
{
    cmd c = {.env = env};
    int rc;

    if (argc < 2)
        return mdt_cli_fail("usage: mandate user create|list|passwd|disable ...");
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &c.args))
        return 1;
    c.json = mdt_cli_has(&c.args, OPT_JSON);
    mdt_arena_init(&c.a, 16384);
    mdt_cli_ctx(env, NULL, &c.ctx, &c.events, &c.a);
    rc = dispatch(&c, argv[1]);
    mdt_arena_free(&c.a);
    return rc;
}
