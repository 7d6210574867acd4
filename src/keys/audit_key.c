#define _GNU_SOURCE
#include "keys/audit_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/b64.h"
#include "keys/keyring.h"
#include "store/store.h"

#define DER_MAX 128 /* PKCS#8 of an Ed25519 key is 48 bytes */

const char *mdt_audit_key_path(const mdt_config *cfg, char *buf, size_t n)
{
    char mk[4096];
    const char *master, *slash;

    if (cfg->audit_key_file && cfg->audit_key_file[0])
        return cfg->audit_key_file;
    master = mdt_master_key_path(cfg, mk, sizeof(mk));
    slash = strrchr(master, '/');
    if (!slash)
        snprintf(buf, n, "audit.key");
    else
        snprintf(buf, n, "%.*s/audit.key", (int)(slash - master), master);
    return buf;
}

/* The two lines of a new key file, in text (wiped by the caller). */
static mdt_rc new_key_text(const mdt_rng *rng, char *text, size_t n, mdt_err *err)
{
    uint8_t chain[MDT_HASH_LEN], *der = NULL;
    char c64[64], *d64 = NULL;
    mdt_jwk *jwk = NULL;
    size_t derlen = 0;
    mdt_rc rc;

    if ((rc = mdt_random(rng, chain, sizeof(chain))) != MDT_OK) {
        rc = mdt_fail(err, MDT_ERR_CRYPTO, "cannot generate the audit key");
        goto out;
    }
    if ((rc = mdt_jwk_generate(MDT_ALG_EDDSA, &jwk, err)) != MDT_OK ||
        (rc = mdt_jwk_export_private(jwk, &der, &derlen, err)) != MDT_OK)
        goto out;
    if (derlen > DER_MAX || !(d64 = malloc(mdt_b64url_len(derlen) + 1))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    mdt_b64url_encode(chain, sizeof(chain), c64);
    mdt_b64url_encode(der, derlen, d64);
    if ((size_t)snprintf(text, n, "%s\n%s\n", c64, d64) >= n)
        rc = mdt_fail(err, MDT_ERR_INTERNAL, "audit key too long");
out:
    mdt_wipe(chain, sizeof(chain));
    mdt_wipe(c64, sizeof(c64));
    if (der) {
        mdt_wipe(der, derlen);
        free(der);
    }
    if (d64) {
        mdt_wipe(d64, strlen(d64));
        free(d64);
    }
    mdt_jwk_free(jwk);
    return rc;
}

mdt_rc mdt_audit_key_create(const char *path, const mdt_rng *rng, mdt_err *err)
{
    char text[MDT_AUDIT_KEY_FILE_MAX];
    size_t len;
    ssize_t w;
    int fd;
    mdt_rc rc = new_key_text(rng, text, sizeof(text), err);

    if (rc != MDT_OK)
        goto out;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = mdt_failf(err, errno == EEXIST ? MDT_ERR_CONFLICT : MDT_ERR_IO,
                       "cannot create the audit key", "cannot create %s: %s", path, strerror(errno));
        goto out;
    }
    len = strlen(text);
    w = write(fd, text, len);
    if (w != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        rc = mdt_failf(err, MDT_ERR_IO, "cannot write the audit key", "cannot write %s", path);
        goto out;
    }
    close(fd);
out:
    mdt_wipe(text, sizeof(text));
    return rc;
}

static mdt_rc read_key_file(const char *path, char *text, size_t n, mdt_err *err)
{
    struct stat st;
    ssize_t r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT)
        return mdt_failf(err, MDT_ERR_NOT_FOUND, "no audit key", "no audit key file %s", path);
    if (fd < 0)
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot read the audit key",
                         "cannot read audit key %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
        close(fd);
        return mdt_failf(err, MDT_ERR_CONFIG, "audit key file is accessible to others",
                         "audit key %s must be readable by its owner only (chmod 600)", path);
    }
    r = read(fd, text, n - 1);
    close(fd);
    if (r <= 0)
        return mdt_failf(err, MDT_ERR_CONFIG, "bad audit key", "cannot read audit key %s", path);
    text[r] = '\0';
    return MDT_OK;
}

static mdt_rc parse_key_text(char *text, mdt_audit_keys *k, mdt_err *err)
{
    char *nl = strchr(text, '\n'), *second, *end;
    uint8_t der[DER_MAX];
    size_t len = 0;
    mdt_rc rc = MDT_ERR_CONFIG;

    if (!nl)
        return MDT_ERR_CONFIG;
    second = nl + 1;
    end = second + strcspn(second, "\r\n");
    if (mdt_b64url_decode(text, (size_t)(nl - text), k->chain, sizeof(k->chain), &len) != MDT_OK ||
        len != MDT_HASH_LEN ||
        mdt_b64url_decode(second, (size_t)(end - second), der, sizeof(der), &len) != MDT_OK)
        goto out;
    rc = mdt_jwk_import_private(MDT_ALG_EDDSA, NULL, der, len, &k->signer, err);
out:
    mdt_wipe(der, sizeof(der));
    return rc;
}

mdt_rc mdt_audit_key_load(const char *path, mdt_audit_keys **out, mdt_err *err)
{
    char text[MDT_AUDIT_KEY_FILE_MAX];
    mdt_audit_keys *k = NULL;
    mdt_rc rc = read_key_file(path, text, sizeof(text), err);

    *out = NULL;
    if (rc != MDT_OK)
        goto out;
    if (!(k = calloc(1, sizeof(*k)))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (parse_key_text(text, k, err) != MDT_OK) {
        rc = mdt_failf(err, MDT_ERR_CONFIG, "bad audit key", "audit key %s is malformed", path);
        goto out;
    }
    *out = k;
    k = NULL;
out:
    mdt_wipe(text, sizeof(text));
    mdt_audit_keys_free(k);
    return rc;
}

void mdt_audit_keys_free(mdt_audit_keys *k)
{
    if (!k)
        return;
    mdt_jwk_free(k->signer);
    mdt_wipe(k, sizeof(*k));
    free(k);
}

static mdt_rc load_into(mdt_env *env, const char *path, mdt_err *err)
{
    mdt_rc rc = mdt_audit_key_load(path, &env->audit_keys, err);

    if (rc == MDT_OK)
        mdt_store_set_audit_key(env->store, env->audit_keys->chain);
    return rc;
}

mdt_rc mdt_audit_keys_open(mdt_env *env, mdt_err *err)
{
    char buf[4096];
    mdt_rc rc;

    if (env->audit_keys || !env->store)
        return MDT_OK;
    rc = load_into(env, mdt_audit_key_path(&env->cfg, buf, sizeof(buf)), err);
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        rc = MDT_OK;
    }
    return rc;
}

mdt_rc mdt_audit_keys_setup(mdt_env *env, const mdt_ctx *ctx, mdt_err *err)
{
    char buf[4096];
    const char *path = mdt_audit_key_path(&env->cfg, buf, sizeof(buf));
    int64_t anchor = 0;
    mdt_rc rc = MDT_OK;

    if (!env->audit_keys && access(path, F_OK) != 0) {
        if ((rc = mdt_store_audit_find_type(env->store, MDT_AUDIT_ANCHOR, &anchor, err)) != MDT_OK)
            return rc;
        if (anchor)
            return mdt_failf(err, MDT_ERR_CONFIG, "the audit key is missing",
                             "the audit log is keyed (anchor at event %lld) but %s does not "
                             "exist: restore it from the backup of the master key",
                             (long long)anchor, path);
        rc = mdt_audit_key_create(path, &env->rng, err);
        if (rc == MDT_ERR_CONFLICT) { /* created meanwhile by another process */
            mdt_err_clear(err);
            rc = MDT_OK;
        }
    }
    if (rc == MDT_OK && !env->audit_keys)
        rc = load_into(env, path, err);
    if (rc != MDT_OK)
        return rc;
    return mdt_audit_anchor_ensure(env->store, &env->clock, ctx->actor,
                                   mdt_jwk_kid(env->audit_keys->signer), err);
}
