/* mandate policy add ID [--file F] [--description T] [--replace] | list | show ID |
 * remove ID | validate [--file F] | eval [--policies FILE] [--entities FILE] --json */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/buf.h"
#include "iga/resources.h"
#include "policy/engine.h"
#include "policy/policies.h"

enum { OPT_JSON, OPT_FILE, OPT_DESCRIPTION, OPT_REPLACE, OPT_POLICIES, OPT_ENTITIES };
static const mdt_cli_opt opts[] = {
    [OPT_JSON] = {"--json", false},
    [OPT_FILE] = {"--file", true},
    [OPT_DESCRIPTION] = {"--description", true},
    [OPT_REPLACE] = {"--replace", false},
    [OPT_POLICIES] = {"--policies", true},
    [OPT_ENTITIES] = {"--entities", true},
};

/* The text of --file F, else of standard input (malloc'd). */
static mdt_rc read_input(const char *file, size_t max, char **out, size_t *len, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc;

    if (file)
        return mdt_policy_read_file(file, max, out, len, err);
    rc = mdt_cli_read_stdin(&b, max, err);
    *len = rc == MDT_OK ? b.len : 0;
    *out = rc == MDT_OK ? mdt_buf_take(&b) : NULL;
    if (rc != MDT_OK)
        mdt_buf_free(&b);
    else if (!*out)
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return rc;
}

/* Only the options of a command may be given. */
static bool only(const mdt_cli_args *p, unsigned allowed)
{
    for (int i = 0; i < p->nseen; i++)
        if (!(allowed & (1u << p->seen[i].opt)))
            return false;
    return true;
}

static int policy_add(mdt_env *env, const mdt_cli_args *p)
{
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    char *text = NULL;
    size_t len = 0;
    bool replaced = false;
    mdt_rc rc;

    if (p->npos != 1 || !only(p, 1u << OPT_FILE | 1u << OPT_DESCRIPTION | 1u << OPT_REPLACE |
                                     1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate policy add ID [--file FILE] [--description TEXT] "
                            "[--replace] [--json] (the text on standard input without --file)");
    if (read_input(mdt_cli_value(p, OPT_FILE), MDT_CEDAR_TEXT_MAX, &text, &len, &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    mdt_arena_init(&a, 4096);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    rc = mdt_cli_commit(env, &ctx,
                        mdt_policy_add(env, &ctx, p->pos[0], text, len,
                                       mdt_cli_value(p, OPT_DESCRIPTION),
                                       mdt_cli_has(p, OPT_REPLACE), &replaced, &err),
                        &err);
    free(text);
    if (rc == MDT_OK && mdt_cli_has(p, OPT_JSON)) {
        mdt_policy_rec rec;
        const char *json;
        if ((rc = mdt_policy_get(env, p->pos[0], &a, &rec, &err)) == MDT_OK &&
            (rc = mdt_policy_doc_json(&rec, false, &a, &json, &err)) == MDT_OK) {
            int code = mdt_cli_print_json(json);
            mdt_arena_free(&a);
            return code;
        }
    }
    mdt_arena_free(&a);
    if (rc != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    printf("policy %s %s\n", p->pos[0], replaced ? "replaced" : "added");
    return fflush(stdout) == 0 ? 0 : 1;
}

static int policy_list(mdt_env *env, const mdt_cli_args *p)
{
    static const char *const cols[] = {"id", "policies", "updated_at", "description", NULL};
    mdt_arena a;
    mdt_err err = {0};
    const char *json;
    int rc;

    if (p->npos != 0 || !only(p, 1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate policy list [--json]");
    mdt_arena_init(&a, 16384);
    if (mdt_policy_list_json(env, &a, &json, &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(json);
    else
        rc = mdt_cli_print_table(json, cols);
    mdt_arena_free(&a);
    return rc;
}

static int policy_show(mdt_env *env, const mdt_cli_args *p)
{
    mdt_arena a;
    mdt_err err = {0};
    mdt_policy_rec rec;
    const char *json;
    int rc;

    if (p->npos != 1 || !only(p, 1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate policy show ID [--json]");
    mdt_arena_init(&a, 16384);
    if (mdt_policy_get(env, p->pos[0], &a, &rec, &err) != MDT_OK ||
        mdt_policy_doc_json(&rec, mdt_cli_has(p, OPT_JSON), &a, &json, &err) != MDT_OK)
        rc = mdt_cli_fail_err(NULL, &err);
    else if (mdt_cli_has(p, OPT_JSON))
        rc = mdt_cli_print_json(json);
    else if ((rc = mdt_cli_print_object(json)) == 0) {
        printf("\n%s%s", rec.text, rec.text[0] && rec.text[strlen(rec.text) - 1] == '\n' ? "" : "\n");
        rc = fflush(stdout) == 0 ? 0 : 1;
    }
    mdt_arena_free(&a);
    return rc;
}

static int policy_remove(mdt_env *env, const mdt_cli_args *p)
{
    mdt_err err = {0};
    mdt_arena a;
    mdt_ctx ctx;
    mdt_ctx_events events;
    mdt_rc rc;

    if (p->npos != 1 || !only(p, 1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate policy remove ID");
    mdt_arena_init(&a, 4096);
    mdt_cli_ctx(env, NULL, &ctx, &events, &a);
    rc = mdt_cli_commit(env, &ctx, mdt_policy_remove(env, &ctx, p->pos[0], &err), &err);
    mdt_arena_free(&a);
    if (rc != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    if (mdt_cli_has(p, OPT_JSON))
        printf("{\"id\":\"%s\",\"removed\":true}\n", p->pos[0]); /* ids need no escaping */
    else
        printf("policy %s removed\n", p->pos[0]);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int policy_validate(const mdt_cli_args *p)
{
    mdt_err err = {0};
    mdt_arena a;
    char *text = NULL;
    size_t len = 0, n = 0;
    const char **ids = NULL;
    int code = 0;

    if (p->npos != 0 || !only(p, 1u << OPT_FILE | 1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate policy validate [--file FILE] [--json] (the text "
                            "on standard input without --file)");
    if (read_input(mdt_cli_value(p, OPT_FILE), MDT_CEDAR_TEXT_MAX, &text, &len, &err) != MDT_OK)
        return mdt_cli_fail_err(NULL, &err);
    mdt_arena_init(&a, 4096);
    if (mdt_policy_validate(text, len, NULL, &a, &ids, &n, &err) != MDT_OK) {
        code = mdt_cli_fail_err(NULL, &err);
    } else if (mdt_cli_has(p, OPT_JSON)) {
        json_t *o = json_pack("{s:[]}", "policies"), *arr = json_object_get(o, "policies");
        char *s;
        for (size_t i = 0; arr && i < n; i++)
            if (json_array_append_new(arr, json_string(ids[i])) != 0)
                arr = NULL;
        s = arr ? json_dumps(o, JSON_COMPACT) : NULL;
        code = s ? mdt_cli_print_json(s) : mdt_cli_fail("out of memory");
        free(s);
        json_decref(o);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", ids[i]);
        code = fflush(stdout) == 0 ? 0 : 1;
    }
    free(text);
    mdt_arena_free(&a);
    return code;
}

/* The policy set of --policies FILE (Cedar's names policy0, ...), else the
 * server's stored policies with the shipped ones. */
static mdt_rc eval_set(mdt_env *env, const char *file, mdt_cedar_set **out, mdt_err *err)
{
    mdt_arena a;
    mdt_policy_rec *recs = NULL;
    char *text = NULL;
    size_t n = 0;
    mdt_rc rc;

    *out = NULL;
    if (file) {
        if ((rc = mdt_policy_read_file(file, MDT_CEDAR_TEXT_MAX, &text, &n, err)) != MDT_OK)
            return rc;
        if ((rc = mdt_cedar_set_new(out, err)) == MDT_OK &&
            (rc = mdt_cedar_set_add(*out, text, n, NULL, err)) != MDT_OK) {
            mdt_cedar_set_free(*out);
            *out = NULL;
        }
        free(text);
        return rc;
    }
    mdt_arena_init(&a, 16384);
    rc = mdt_store_policy_list(env->store, &a, &recs, &n, err);
    if (rc == MDT_OK)
        rc = mdt_policy_set_build(&env->cfg, recs, n, out, err);
    mdt_arena_free(&a);
    return rc;
}

static mdt_rc eval_entities(const char *file, mdt_cedar_entities **out, mdt_err *err)
{
    char *text = NULL;
    size_t n = 0;
    mdt_rc rc = mdt_policy_read_file(file, MDT_CEDAR_ENTITIES_MAX, &text, &n, err);

    *out = NULL;
    if (rc == MDT_OK && (rc = mdt_cedar_entities_new(out, err)) == MDT_OK &&
        (rc = mdt_cedar_entities_add_json(*out, text, n, err)) != MDT_OK) {
        mdt_cedar_entities_free(*out);
        *out = NULL;
    }
    free(text);
    return rc;
}

/* Decides q: with --entities over that file alone, else over the server's
 * data (the embedded PDP loaded for this command). */
static mdt_rc eval_decide(mdt_env *env, const mdt_cli_args *p, const mdt_cedar_set *s,
                          mdt_arena *a, const mdt_pdp_query *q, mdt_pdp_answer *ans, mdt_err *err)
{
    const char *efile = mdt_cli_value(p, OPT_ENTITIES);
    mdt_cedar_entities *ents = NULL;
    mdt_rc rc;

    if (efile) {
        if ((rc = eval_entities(efile, &ents, err)) == MDT_OK) {
            const mdt_cedar_entities *stores[1] = {ents};
            rc = mdt_policy_eval_with(s, stores, 1, a, q, ans, err);
        }
        mdt_cedar_entities_free(ents);
        return rc;
    }
    if ((rc = mdt_resources_load(env->cfg.forward_auth_resources, &env->resources, err)) ==
            MDT_OK &&
        (rc = mdt_policy_engine_start(env, &env->policy, err)) == MDT_OK)
        rc = mdt_policy_eval_set(env, s, a, q, ans, err);
    mdt_policy_engine_free(env->policy);
    env->policy = NULL;
    mdt_resources_free(env->resources);
    env->resources = NULL;
    return rc;
}

static int policy_eval(mdt_env *env, const mdt_cli_args *p)
{
    mdt_err err = {0};
    mdt_arena a;
    mdt_buf in;
    mdt_pdp_query q;
    mdt_pdp_answer ans;
    mdt_cedar_set *s = NULL;
    const char *json = NULL;
    int code;

    if (p->npos != 0 || !mdt_cli_has(p, OPT_JSON) ||
        !only(p, 1u << OPT_POLICIES | 1u << OPT_ENTITIES | 1u << OPT_JSON))
        return mdt_cli_fail("usage: mandate policy eval [--policies FILE] [--entities FILE] "
                            "--json < request.json");
    mdt_arena_init(&a, 16384);
    if (mdt_cli_read_stdin(&in, MDT_CLI_STDIN_MAX, &err) != MDT_OK) {
        mdt_arena_free(&a);
        return mdt_cli_fail_err(NULL, &err);
    }
    if (mdt_policy_query_json(in.data, in.len, &a, &q, &err) != MDT_OK ||
        eval_set(env, mdt_cli_value(p, OPT_POLICIES), &s, &err) != MDT_OK ||
        eval_decide(env, p, s, &a, &q, &ans, &err) != MDT_OK ||
        mdt_policy_answer_json(&ans, &a, &json, &err) != MDT_OK)
        code = mdt_cli_fail_err(NULL, &err);
    else
        code = mdt_cli_print_json(json);
    mdt_cedar_set_free(s);
    mdt_buf_free(&in);
    mdt_arena_free(&a);
    return code;
}

/* Opens the store for the commands that need it (all but validate, and
 * eval with both files): reopens env with it. */
static int open_store(mdt_env *env)
{
    const char *config = env->config_file;
    mdt_err err = {0};

    mdt_env_close(env);
    if (mdt_env_open(env, config, MDT_ENV_STORE, &err) != MDT_OK)
        return mdt_cli_fail_open(env, &err);
    return 0;
}

int mdt_cli_policy(mdt_env *env, int argc, char **argv)
{
    static const char *const cmds[] = {"add", "list", "show", "remove", "validate", "eval"};
    mdt_cli_args args;
    const char *cmd = argc > 1 ? argv[1] : "";
    size_t c = 0;

    while (c < MDT_ARRAY_LEN(cmds) && strcmp(cmd, cmds[c]) != 0)
        c++;
    if (argc < 2)
        return mdt_cli_fail("usage: mandate policy add|list|show|remove|validate|eval ...");
    if (c == MDT_ARRAY_LEN(cmds))
        return mdt_cli_fail("policy: unknown command '%s' (add, list, show, remove, validate, "
                            "eval)",
                            cmd);
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (strcmp(cmd, "validate") == 0)
        return policy_validate(&args);
    if (!(strcmp(cmd, "eval") == 0 && mdt_cli_has(&args, OPT_POLICIES) &&
          mdt_cli_has(&args, OPT_ENTITIES)) &&
        open_store(env) != 0)
        return 1;
    if (strcmp(cmd, "add") == 0)
        return policy_add(env, &args);
    if (strcmp(cmd, "list") == 0)
        return policy_list(env, &args);
    if (strcmp(cmd, "show") == 0)
        return policy_show(env, &args);
    if (strcmp(cmd, "remove") == 0)
        return policy_remove(env, &args);
    return policy_eval(env, &args);
}
