#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/url.h"

#define CELL_MAX 48 /* table cells longer than this are cut */
#define MAX_COLUMNS 16

/* Replaces line breaks and other control characters, so that an error
 * stays on one line. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            *s = ' ';
}

int mdt_cli_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    one_line(msg);
    fprintf(stderr, "mandate: %s\n", msg);
    return 1;
}

int mdt_cli_fail_err(const char *what, const mdt_err *err)
{
    const char *text = mdt_err_text(err);
    /* client faults carry their OAuth error code, as the HTTP API does */
    bool coded = err && err->rc > MDT_OK && err->rc < MDT_ERR_CONFIG;

    if (what)
        return coded ? mdt_cli_fail("%s: %s: %s", what, mdt_rc_name(err->rc), text)
                     : mdt_cli_fail("%s: %s", what, text);
    return coded ? mdt_cli_fail("%s: %s", mdt_rc_name(err->rc), text) : mdt_cli_fail("%s", text);
}

int mdt_cli_fail_open(const mdt_env *env, const mdt_err *err)
{
    char db[1024];

    if (!env->config_valid)
        return mdt_cli_fail_err(NULL, err); /* the configuration itself failed */
    mdt_url_redact(env->cfg.database, db, sizeof(db)); /* a PostgreSQL URL may hold a password */
    return mdt_cli_fail("%s; configuration: %s; database: %s; data directory: %s "
                        "(create it with `mandate init`, or pass --config FILE)",
                        mdt_err_text(err), mdt_env_config_source(env), db, env->cfg.data_dir);
}

static int find_opt(const char *arg, const mdt_cli_opt *opts, size_t nopts, const char **inline_v)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

    *inline_v = eq ? eq + 1 : NULL;
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == n && strncmp(opts[i].name, arg, n) == 0)
            return (int)i;
    return -1;
}

static int add_opt(int argc, char **argv, int *i, const mdt_cli_opt *opts, size_t nopts,
                   mdt_cli_args *out)
{
    const char *v;
    int k = find_opt(argv[*i], opts, nopts, &v);

    if (k < 0)
        return mdt_cli_fail("unknown option %s", argv[*i]);
    if (!opts[k].has_value && v)
        return mdt_cli_fail("option %s takes no value", opts[k].name);
    if (opts[k].has_value && !v) {
        if (*i + 1 >= argc)
            return mdt_cli_fail("option %s needs a value", opts[k].name);
        v = argv[++*i];
    }
    if (out->nseen >= MDT_CLI_MAX_ARGS)
        return mdt_cli_fail("too many options");
    out->seen[out->nseen].opt = k;
    out->seen[out->nseen++].value = v;
    return 0;
}

int mdt_cli_parse(int argc, char **argv, int first, const mdt_cli_opt *opts, size_t nopts,
                  mdt_cli_args *out)
{
    bool options = true;

    memset(out, 0, sizeof(*out));
    for (int i = first; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0) {
            options = false;
        } else if (options && strncmp(argv[i], "--", 2) == 0) {
            if (add_opt(argc, argv, &i, opts, nopts, out))
                return 1;
        } else if (out->npos >= MDT_CLI_MAX_ARGS) {
            return mdt_cli_fail("too many arguments");
        } else {
            out->pos[out->npos++] = argv[i];
        }
    }
    return 0;
}

bool mdt_cli_has(const mdt_cli_args *p, int opt)
{
    for (int i = 0; i < p->nseen; i++)
        if (p->seen[i].opt == opt)
            return true;
    return false;
}

const char *mdt_cli_value(const mdt_cli_args *p, int opt)
{
    const char *v = NULL;

    for (int i = 0; i < p->nseen; i++)
        if (p->seen[i].opt == opt)
            v = p->seen[i].value;
    return v;
}

size_t mdt_cli_values(const mdt_cli_args *p, int opt, const char **out, size_t max)
{
    size_t n = 0;

    for (int i = 0; i < p->nseen && n < max; i++)
        if (p->seen[i].opt == opt)
            out[n++] = p->seen[i].value;
    out[n] = NULL;
    return n;
}

mdt_rc mdt_cli_read_stdin(mdt_buf *b, size_t max, mdt_err *err)
{
    char chunk[4096];
    size_t n;

    mdt_buf_init(b, max);
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        mdt_rc rc = mdt_buf_add(b, chunk, n);
        if (rc == MDT_ERR_TOO_LARGE)
            return mdt_failf(err, rc, "standard input is too large",
                             "standard input is larger than %zu bytes", max);
        if (rc != MDT_OK)
            return mdt_fail(err, rc, "out of memory");
    }
    if (ferror(stdin))
        return mdt_failf(err, MDT_ERR_IO, "cannot read standard input",
                         "cannot read standard input: %s", strerror(errno));
    if (mdt_buf_add(b, "", 0) != MDT_OK) /* data is never NULL after this */
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

static int flush_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        return mdt_cli_fail("cannot write standard output: %s", strerror(errno));
    return 0;
}

int mdt_cli_print_json(const char *json)
{
    fputs(json, stdout);
    fputc('\n', stdout);
    return flush_stdout();
}

/* Human text of a scalar or an array of scalars, malloc'd. */
static char *human_value(json_t *v)
{
    mdt_buf b;
    size_t i;
    json_t *x;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, 0);
    if (json_is_null(v))
        rc = mdt_buf_adds(&b, "-");
    else if (json_is_string(v))
        rc = mdt_buf_adds(&b, json_string_value(v));
    else if (json_is_array(v) && json_array_size(v) == 0)
        rc = mdt_buf_adds(&b, "-");
    else if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            char *s = human_value(x);
            if (!s)
                rc = MDT_ERR_NOMEM;
            else if (rc == MDT_OK && i)
                rc = mdt_buf_adds(&b, ", ");
            if (s && rc == MDT_OK)
                rc = mdt_buf_adds(&b, s);
            free(s);
        }
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = s ? mdt_buf_adds(&b, s) : MDT_ERR_NOMEM;
        free(s);
    }
    if (rc == MDT_OK && mdt_buf_add(&b, "", 0) == MDT_OK)
        return mdt_buf_take(&b);
    mdt_buf_free(&b);
    return NULL;
}

static bool is_object_array(json_t *v)
{
    return json_is_array(v) && json_array_size(v) > 0 && json_is_object(json_array_get(v, 0));
}

static void print_items(const char *key, json_t *arr)
{
    size_t i;
    json_t *o, *v;
    const char *k;

    printf("%s:\n", key);
    json_array_foreach(arr, i, o) {
        fputs("  -", stdout);
        json_object_foreach(o, k, v) {
            char *s = human_value(v);
            printf(" %s=%s", k, s ? s : "?");
            free(s);
        }
        fputc('\n', stdout);
    }
}

int mdt_cli_print_object(const char *json)
{
    json_t *o = json_loads(json, 0, NULL), *v;
    const char *key;

    if (!json_is_object(o)) {
        json_decref(o);
        return mdt_cli_fail("internal error: output is not a JSON object");
    }
    json_object_foreach(o, key, v) {
        if (is_object_array(v)) {
            print_items(key, v);
            continue;
        }
        char *s = human_value(v);
        printf("%s: %s\n", key, s ? s : "?");
        free(s);
    }
    json_decref(o);
    return flush_stdout();
}

static void cell(json_t *row, const char *col, char out[CELL_MAX + 1])
{
    char *s = human_value(json_object_get(row, col));

    snprintf(out, CELL_MAX + 1, "%s", s ? s : "-");
    free(s);
}

static void print_row(json_t *row, const char *const *columns, const int *width)
{
    char c[CELL_MAX + 1];

    for (size_t j = 0; columns[j]; j++) {
        if (row)
            cell(row, columns[j], c);
        else
            snprintf(c, sizeof(c), "%s", columns[j]);
        if (columns[j + 1] && j + 1 < MAX_COLUMNS)
            printf("%-*s  ", width[j], c);
        else
            printf("%s\n", c);
        if (j + 1 >= MAX_COLUMNS)
            break;
    }
}

int mdt_cli_print_table(const char *json, const char *const *columns)
{
    json_t *arr = json_loads(json, 0, NULL), *row;
    int width[MAX_COLUMNS] = {0};
    char c[CELL_MAX + 1];
    size_t i, j;

    if (!json_is_array(arr)) {
        json_decref(arr);
        return mdt_cli_fail("internal error: output is not a JSON array");
    }
    for (j = 0; columns[j] && j < MDT_ARRAY_LEN(width); j++)
        width[j] = (int)strlen(columns[j]);
    json_array_foreach(arr, i, row) {
        for (j = 0; columns[j] && j < MDT_ARRAY_LEN(width); j++) {
            cell(row, columns[j], c);
            if ((int)strlen(c) > width[j])
                width[j] = (int)strlen(c);
        }
    }
    print_row(NULL, columns, width);
    json_array_foreach(arr, i, row)
        print_row(row, columns, width);
    json_decref(arr);
    return flush_stdout();
}

void mdt_cli_ctx(mdt_env *env, const char *actor, mdt_ctx *ctx, mdt_ctx_events *events,
                 mdt_arena *a)
{
    mdt_ctx_events_init(events, a);
    mdt_ctx_init(ctx, events, actor ? actor : "cli", mdt_now(&env->clock), NULL, NULL);
}

mdt_rc mdt_cli_commit(mdt_env *env, mdt_ctx *ctx, mdt_rc rc, mdt_err *err)
{
    mdt_err aerr = {0};
    mdt_rc arc = mdt_ctx_commit(env, ctx, &aerr);

    if (rc != MDT_OK)
        return rc; /* the service's error is the one to report */
    if (arc != MDT_OK && err)
        *err = aerr;
    return arc;
}
