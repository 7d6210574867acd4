/* mandate audit verify [--checkpoint FILE] | checkpoint | export [--since TIME] [--client ID]
 *               | tail [--lines N] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "cli/commands.h"

#define CHECKPOINT_FILE_MAX (MDT_AUDIT_CHECKPOINT_MAX + 4096)

static volatile int stop_tail;

static void on_signal(int sig)
{
    (void)sig;
    stop_tail = 1;
}

static mdt_rc read_file(const char *path, mdt_buf *b, mdt_err *err)
{
    char chunk[4096];
    size_t n;
    FILE *f = fopen(path, "rb");
    mdt_rc rc = MDT_OK;

    mdt_buf_init(b, CHECKPOINT_FILE_MAX);
    if (!f)
        return mdt_failf(err, MDT_ERR_IO, "cannot read the checkpoint", "cannot read %s: %s", path,
                         strerror(errno));
    while (rc == MDT_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (mdt_buf_add(b, chunk, n) != MDT_OK)
            rc = mdt_failf(err, MDT_ERR_TOO_LARGE, "checkpoint file too large", "%s: too large", path);
    if (rc == MDT_OK && ferror(f))
        rc = mdt_failf(err, MDT_ERR_IO, "cannot read the checkpoint", "cannot read %s", path);
    if (rc == MDT_OK && mdt_buf_add(b, "", 1) != MDT_OK)
        rc = mdt_failf(err, MDT_ERR_TOO_LARGE, "checkpoint file too large", "%s: too large", path);
    fclose(f);
    return rc;
}

static void print_ok(const mdt_audit_verify_result *r, bool json)
{
    if (json) {
        printf("{\"ok\":true,\"events\":%lld,\"keyed\":%s,\"anchor_seq\":%lld,\"checkpoints\":%lld,"
               "\"checkpoint_seq\":%lld}\n",
               (long long)r->count, r->anchor_seq ? "true" : "false", (long long)r->anchor_seq,
               (long long)r->checkpoints, (long long)r->checkpoint_seq);
        return;
    }
    printf("audit chain verified: %lld events", (long long)r->count);
    if (r->anchor_seq)
        printf(", keyed from event %lld", (long long)r->anchor_seq);
    else
        printf(", not keyed (run 'mandate init' to key it)");
    if (r->checkpoints)
        printf(", %lld signed checkpoints up to event %lld", (long long)r->checkpoints,
               (long long)r->checkpoint_seq);
    printf("\n");
}

static int verify(mdt_env *env, const char *checkpoint, bool json)
{
    mdt_audit_verify_result r;
    mdt_audit_verify_opts o = {.signer = env->audit_keys ? env->audit_keys->signer : NULL};
    mdt_buf file = {0};
    mdt_err err = {0};
    mdt_rc rc;

    if (checkpoint && read_file(checkpoint, &file, &err) != MDT_OK) {
        mdt_buf_free(&file);
        return mdt_cli_fail_err("audit verify", &err);
    }
    o.checkpoint = checkpoint ? file.data : NULL;
    rc = mdt_audit_verify_full(env->store, &o, &r, &err);
    mdt_buf_free(&file);
    if (rc == MDT_ERR_VERIFY) {
        if (json)
            printf("{\"ok\":false,\"events\":%lld,\"first_bad_seq\":%lld}\n", (long long)r.count,
                   (long long)r.bad_seq);
        return mdt_cli_fail("audit chain broken at event seq %lld: %s", (long long)r.bad_seq,
                            mdt_err_text(&err));
    }
    if (rc != MDT_OK)
        return mdt_cli_fail_err("audit verify", &err);
    print_ok(&r, json);
    return 0;
}

static int checkpoint(mdt_env *env, bool json)
{
    mdt_buf out;
    mdt_err err = {0};
    bool written = false;
    mdt_rc rc;
    int code = 0;

    if (!env->audit_keys)
        return mdt_cli_fail("audit checkpoint: no audit key (run 'mandate init')");
    if (mdt_audit_checkpoint_write(env->store, env->audit_keys->signer, mdt_now(&env->clock),
                                   &written, &err) != MDT_OK)
        return mdt_cli_fail_err("audit checkpoint", &err);
    mdt_buf_init(&out, CHECKPOINT_FILE_MAX);
    rc = mdt_audit_checkpoint_export(env->store, env->audit_keys->signer, &out, &err);
    if (rc == MDT_ERR_NOT_FOUND)
        code = mdt_cli_fail("audit checkpoint: the audit log is empty");
    else if (rc != MDT_OK)
        code = mdt_cli_fail_err("audit checkpoint", &err);
    else if (json)
        code = mdt_cli_print_json(out.data);
    else
        code = mdt_cli_print_object(out.data);
    mdt_buf_free(&out);
    return code;
}

static int tail(mdt_env *env, const char *v)
{
    int64_t lines = 10;
    mdt_err err = {0};

    if (v && mdt_duration_parse(v, &lines) != MDT_OK)
        return mdt_cli_fail("--lines: not a number: %s", v);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mdt_audit_tail(env->store, (size_t)lines, &stop_tail, stdout, &err) != MDT_OK)
        return mdt_cli_fail_err("audit tail", &err);
    return 0;
}

int mdt_cli_audit(mdt_env *env, int argc, char **argv)
{
    static const mdt_cli_opt opts[] = {
        {"--json", false}, {"--since", true}, {"--lines", true}, {"--checkpoint", true},
        {"--client", true},
    };
    mdt_cli_args args = {0};
    mdt_err err = {0};
    mdt_audit_filter f = {0};
    const char *v;

    if (argc < 2)
        return mdt_cli_fail("usage: mandate audit verify [--checkpoint FILE]|checkpoint|export "
                            "[--since TIME] [--client ID]|tail [--lines N] (see mandate audit --help)");
    if (mdt_cli_parse(argc, argv, 2, opts, MDT_ARRAY_LEN(opts), &args))
        return 1;
    if (args.npos)
        return mdt_cli_fail("audit %s takes no arguments", argv[1]);
    if (mdt_cli_value(&args, 3) && strcmp(argv[1], "verify") != 0)
        return mdt_cli_fail("--checkpoint is an option of 'audit verify'");
    if ((f.client_id = mdt_cli_value(&args, 4)) && strcmp(argv[1], "export") != 0)
        return mdt_cli_fail("--client is an option of 'audit export'");
    if (strcmp(argv[1], "verify") == 0)
        return verify(env, mdt_cli_value(&args, 3), mdt_cli_has(&args, 0));
    if (strcmp(argv[1], "checkpoint") == 0)
        return checkpoint(env, mdt_cli_has(&args, 0));
    if (strcmp(argv[1], "export") == 0) {
        if ((v = mdt_cli_value(&args, 1)) && mdt_time_parse(v, &f.since) != MDT_OK)
            return mdt_cli_fail("--since: not an RFC 3339 time: %s", v);
        if (f.client_id && !*f.client_id)
            return mdt_cli_fail("--client: a client_id is required");
        if (mdt_audit_export(env->store, &f, stdout, &err) != MDT_OK)
            return mdt_cli_fail_err("audit export", &err);
        return 0;
    }
    if (strcmp(argv[1], "tail") == 0)
        return tail(env, mdt_cli_value(&args, 2));
    return mdt_cli_fail("unknown command 'audit %s' (see mandate audit --help)", argv[1]);
}
