/* Helpers shared by the command-line commands (src/cli/): option parsing,
 * the one-line `mandate: ...` error, bounded standard input, and output as
 * JSON or human text. Every command returns the process exit code: 0 on
 * success, 1 after printing exactly one error line. */
#ifndef MDT_CLI_CLI_H
#define MDT_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "app/ctx.h"
#include "app/env.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/mdt.h"

#define MDT_CLI_STDIN_MAX (64 * 1024) /* default cap of JSON read from stdin */
#define MDT_CLI_MAX_ARGS 64

/* Loads the configuration (path may be NULL: ./mandate.conf if present, else
 * defaults; "" : defaults only) and opens what flags ask for. With
 * MDT_ENV_STORE the schema must exist: a store that was never initialised is
 * an error naming the configuration and data directory in use. */
mdt_rc mdt_env_open(mdt_env *env, const char *config_path, unsigned flags, mdt_err *err) MDT_WARN_UNUSED;
void mdt_env_close(mdt_env *env);
/* A command's request context: actor "cli" (or actor), now read once from
 * the clock, the audit events recorded in events, whose memory is a's. */
void mdt_cli_ctx(mdt_env *env, const char *actor, mdt_ctx *ctx, mdt_ctx_events *events,
                 mdt_arena *a);
/* The one place a command's audit events are appended, before it prints:
 * rc is the result of the service call (err filled when it failed). Appends
 * every event the call recorded in ctx, whatever rc, and waits until they
 * are durable; returns rc, or the append's failure when rc was MDT_OK. */
mdt_rc mdt_cli_commit(mdt_env *env, mdt_ctx *ctx, mdt_rc rc, mdt_err *err) MDT_WARN_UNUSED;
/* Command entry points dispatched by main.c; argv[0] is the group name. */
int mdt_cli_client(mdt_env *env, int argc, char **argv);
int mdt_cli_user(mdt_env *env, int argc, char **argv);
int mdt_cli_scope(mdt_env *env, int argc, char **argv);
int mdt_cli_iat(mdt_env *env, int argc, char **argv);
int mdt_cli_request(mdt_env *env, int argc, char **argv);
int mdt_cli_review(mdt_env *env, int argc, char **argv);
int mdt_cli_policy(mdt_env *env, int argc, char **argv);

/* Help (src/cli/help.c, one table for both): mdt_cli_usage lists every
 * command's usage line on out and returns 0 for stdout, 1 otherwise;
 * mdt_cli_help prints the help of the longest known command among
 * words[0..n) (a group: each of its commands) and returns the exit code. */
int mdt_cli_usage(FILE *out);
int mdt_cli_help(int n, const char *const *words);

/* Prints "mandate: <message>" on one line to stderr; returns 1. */
int mdt_cli_fail(const char *fmt, ...) MDT_PRINTF(1, 2);
/* "mandate: <what>: <error text>" (what may be NULL); returns 1. */
int mdt_cli_fail_err(const char *what, const mdt_err *err);
/* The error of opening what a command needs, followed on the same line by
 * where Mandate looked: the configuration, the database and the data
 * directory (the usual cause is a command run from another directory). */
int mdt_cli_fail_open(const mdt_env *env, const mdt_err *err);

/* Options of one command. Options may come anywhere after the command's
 * own words; "--name VALUE" and "--name=VALUE" are both accepted; "--" ends
 * the options. */
typedef struct {
    const char *name;   /* "--keep" */
    bool has_value;
} mdt_cli_opt;

typedef struct {
    const char *pos[MDT_CLI_MAX_ARGS]; /* positional arguments, in order */
    int npos;
    struct {
        int opt;            /* index in the option table */
        const char *value;  /* NULL for flags */
    } seen[MDT_CLI_MAX_ARGS];
    int nseen;
} mdt_cli_args;

/* Parses argv[first..argc). On an unknown option, a missing value or too
 * many arguments prints the error line and returns 1; else 0. */
int mdt_cli_parse(int argc, char **argv, int first, const mdt_cli_opt *opts, size_t nopts,
                  mdt_cli_args *out);
bool mdt_cli_has(const mdt_cli_args *p, int opt);
/* The last value given for opt, or NULL. */
const char *mdt_cli_value(const mdt_cli_args *p, int opt);
/* Every value given for opt, in order, NULL-terminated in out (room for
 * max + 1 pointers); returns how many. */
size_t mdt_cli_values(const mdt_cli_args *p, int opt, const char **out, size_t max);

/* Reads all of standard input into b (initialised here with cap max; the
 * caller frees it). MDT_ERR_TOO_LARGE past max, MDT_ERR_IO on read errors. */
mdt_rc mdt_cli_read_stdin(mdt_buf *b, size_t max, mdt_err *err) MDT_WARN_UNUSED;

/* Writes json and a newline to stdout; returns the exit code. */
int mdt_cli_print_json(const char *json);
/* Human output of a JSON object: one "key: value" line per member (arrays
 * of strings joined with ", ", null as "-", arrays of objects one indented
 * line each). Returns the exit code. */
int mdt_cli_print_object(const char *json);
/* Human output of a JSON array of objects as aligned columns named by
 * columns (NULL-terminated), with a header line. Returns the exit code. */
int mdt_cli_print_table(const char *json, const char *const *columns);

#endif
