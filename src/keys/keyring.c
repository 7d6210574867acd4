#define _GNU_SOURCE
#include "keys/keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "audit/audit.h"
#include "core/b64.h"
#include "core/log.h"
#include "store/store.h"

typedef struct {
    mdt_jwk *jwk;
    char kid[96];
    int64_t created_at, activate_at, retire_at, expire_at;
} ring_key;

struct mdt_keyring {
    mdt_env *env;
    uint8_t master[MDT_MASTER_KEY_LEN];
    pthread_rwlock_t lock;
    ring_key *keys;
    size_t nkeys;
    atomic_llong next_refresh;
    pthread_mutex_t refresh_lock;
};

const char *mdt_master_key_path(const mdt_config *cfg, char *buf, size_t n)
{
    if (cfg->master_key_file && cfg->master_key_file[0])
        return cfg->master_key_file;
    snprintf(buf, n, "%s/master.key", cfg->data_dir ? cfg->data_dir : "var");
    return buf;
}

mdt_rc mdt_master_key_ensure(const char *path, const mdt_rng *rng, mdt_err *err)
{
    uint8_t key[MDT_MASTER_KEY_LEN];
    char text[64];
    int fd;
    ssize_t w;

    if (access(path, F_OK) == 0)
        return MDT_OK;
    if (mdt_random(rng, key, sizeof(key)) != MDT_OK)
        return mdt_fail(err, MDT_ERR_CRYPTO, "cannot generate the master key");
    mdt_b64url_encode(key, sizeof(key), text);
    mdt_wipe(key, sizeof(key));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        mdt_wipe(text, sizeof(text));
        return mdt_failf(err, MDT_ERR_IO, "cannot create the master key",
                         "cannot create %s: %s", path, strerror(errno));
    }
    size_t len = strlen(text);
    text[len++] = '\n';
    w = write(fd, text, len);
    mdt_wipe(text, sizeof(text));
    if (w != (ssize_t)len || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return mdt_failf(err, MDT_ERR_IO, "cannot write the master key", "cannot write %s", path);
    }
    close(fd);
    return MDT_OK;
}

mdt_rc mdt_master_key_load(const char *path, uint8_t out[MDT_MASTER_KEY_LEN], mdt_err *err)
{
    char text[128];
    struct stat st;
    size_t outlen = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    mdt_rc rc = MDT_OK;

    if (fd < 0)
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot read the master key",
                         "cannot read master key %s: %s (run 'mandate init')", path, strerror(errno));
    if (fstat(fd, &st) != 0 || (st.st_mode & 077)) {
        close(fd);
        return mdt_failf(err, MDT_ERR_CONFIG, "master key file is accessible to others",
                         "master key %s must be readable by its owner only (chmod 600)", path);
    }
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0) {
        rc = mdt_failf(err, MDT_ERR_CONFIG, "bad master key", "cannot read master key %s", path);
        goto out;
    }
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    uint8_t raw[96];
    if ((size_t)n > 64 || mdt_b64url_decode(text, (size_t)n, raw, sizeof(raw), &outlen) != MDT_OK ||
        outlen != MDT_MASTER_KEY_LEN) {
        rc = mdt_failf(err, MDT_ERR_CONFIG, "bad master key", "master key %s is malformed", path);
    } else {
        memcpy(out, raw, MDT_MASTER_KEY_LEN);
    }
    mdt_wipe(raw, sizeof(raw));
out:
    mdt_wipe(text, sizeof(text));
    return rc;
}

static void ring_free(ring_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mdt_jwk_free(keys[i].jwk);
    free(keys);
}

static mdt_rc unseal_key(mdt_keyring *k, const mdt_key_rec *rec, mdt_jwk **out, mdt_err *err)
{
    uint8_t *der = NULL;
    size_t derlen = 0;
    mdt_alg alg;
    mdt_rc rc;

    if (mdt_alg_parse(rec->alg, &alg) != MDT_OK)
        return mdt_failf(err, MDT_ERR_CRYPTO, "bad signing key", "key %s: unknown alg", rec->kid);
    rc = mdt_unseal(k->master, (const uint8_t *)rec->kid, strlen(rec->kid), rec->sealed,
                    rec->sealed_len, &der, &derlen, err);
    if (rc != MDT_OK)
        return mdt_failf(err, rc, "cannot decrypt a signing key",
                         "key %s does not decrypt under this master key", rec->kid);
    rc = mdt_jwk_import_private(alg, rec->kid, der, derlen, out, err);
    mdt_wipe(der, derlen);
    free(der);
    return rc;
}

static bool same_schedule(const mdt_keyring *k, const mdt_key_rec *recs, size_t n)
{
    if (n != k->nkeys)
        return false;
    for (size_t i = 0; i < n; i++) {
        const ring_key *r = &k->keys[i];
        if (strcmp(r->kid, recs[i].kid) != 0 || r->activate_at != recs[i].activate_at ||
            r->retire_at != recs[i].retire_at || r->expire_at != recs[i].expire_at)
            return false;
    }
    return true;
}

/* Reads the keys from the store and swaps them in when they changed. */
static mdt_rc reload(mdt_keyring *k, mdt_err *err)
{
    mdt_arena a;
    mdt_key_rec *recs = NULL;
    size_t n = 0;
    ring_key *keys = NULL;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    if ((rc = mdt_store_key_list(k->env->store, &a, &recs, &n, err)) != MDT_OK)
        goto out;
    pthread_rwlock_rdlock(&k->lock);
    bool same = same_schedule(k, recs, n);
    pthread_rwlock_unlock(&k->lock);
    if (same)
        goto out;
    if (!(keys = calloc(n ? n : 1, sizeof(*keys)))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = unseal_key(k, &recs[i], &keys[i].jwk, err)) != MDT_OK) {
            ring_free(keys, n);
            goto out;
        }
        snprintf(keys[i].kid, sizeof(keys[i].kid), "%s", recs[i].kid);
        keys[i].created_at = recs[i].created_at;
        keys[i].activate_at = recs[i].activate_at;
        keys[i].retire_at = recs[i].retire_at;
        keys[i].expire_at = recs[i].expire_at;
    }
    pthread_rwlock_wrlock(&k->lock);
    ring_key *old = k->keys;
    size_t oldn = k->nkeys;
    k->keys = keys;
    k->nkeys = n;
    pthread_rwlock_unlock(&k->lock);
    ring_free(old, oldn);
out:
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_keyring_open(mdt_env *env, mdt_keyring **out, mdt_err *err)
{
    char buf[4096];
    mdt_keyring *k = calloc(1, sizeof(*k));
    mdt_rc rc;

    if (!k)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    k->env = env;
    pthread_rwlock_init(&k->lock, NULL);
    pthread_mutex_init(&k->refresh_lock, NULL);
    if ((rc = mdt_master_key_load(mdt_master_key_path(&env->cfg, buf, sizeof(buf)), k->master,
                                  err)) != MDT_OK ||
        (rc = reload(k, err)) != MDT_OK) {
        mdt_keyring_free(k);
        return rc;
    }
    atomic_store(&k->next_refresh, (long long)mdt_now(&env->clock) + 1);
    *out = k;
    return MDT_OK;
}

void mdt_keyring_derive(const mdt_keyring *k, const char *label, uint8_t out[MDT_MASTER_KEY_LEN])
{
    unsigned int n = MDT_MASTER_KEY_LEN;
    char msg[128];
    int len = snprintf(msg, sizeof(msg), "mandate-derive-v1:%s", label);

    if (len < 0 || (size_t)len >= sizeof(msg) ||
        !HMAC(EVP_sha256(), k->master, MDT_MASTER_KEY_LEN, (const uint8_t *)msg, (size_t)len, out,
              &n))
        abort(); /* a label is a short constant; HMAC-SHA256 fails only without a provider */
}

void mdt_keyring_free(mdt_keyring *k)
{
    if (!k)
        return;
    ring_free(k->keys, k->nkeys);
    mdt_wipe(k->master, sizeof(k->master));
    pthread_rwlock_destroy(&k->lock);
    pthread_mutex_destroy(&k->refresh_lock);
    free(k);
}

void mdt_keyring_maybe_refresh(mdt_keyring *k, int64_t now)
{
    mdt_err err;

    if (now < atomic_load(&k->next_refresh) || pthread_mutex_trylock(&k->refresh_lock) != 0)
        return;
    if (now >= atomic_load(&k->next_refresh)) {
        if (reload(k, &err) != MDT_OK)
            MDT_WARN("cannot reload signing keys: %s", mdt_err_text(&err));
        atomic_store(&k->next_refresh, (long long)now + 1);
    }
    pthread_mutex_unlock(&k->refresh_lock);
}

mdt_rc mdt_keyring_reload(mdt_keyring *k, mdt_err *err)
{
    mdt_rc rc;
    pthread_mutex_lock(&k->refresh_lock);
    rc = reload(k, err);
    pthread_mutex_unlock(&k->refresh_lock);
    return rc;
}

static bool is_published(const ring_key *r, int64_t now)
{
    return r->created_at <= now && (r->expire_at == 0 || r->expire_at > now);
}

static const ring_key *signing_key(const mdt_keyring *k, int64_t now)
{
    const ring_key *best = NULL;
    for (size_t i = 0; i < k->nkeys; i++) {
        const ring_key *r = &k->keys[i];
        if (r->activate_at > now || (r->retire_at && r->retire_at <= now))
            continue;
        if (!best || r->activate_at > best->activate_at ||
            (r->activate_at == best->activate_at && r->created_at > best->created_at))
            best = r;
    }
    return best;
}

mdt_rc mdt_keyring_sign(mdt_keyring *k, int64_t now, const char *typ, const char *payload,
                        size_t len, mdt_buf *out, mdt_err *err)
{
    const ring_key *r;
    mdt_rc rc;

    mdt_keyring_maybe_refresh(k, now);
    pthread_rwlock_rdlock(&k->lock);
    r = signing_key(k, now);
    if (!r)
        rc = mdt_fail(err, MDT_ERR_UNAVAILABLE, "no signing key is active");
    else
        rc = mdt_jws_sign(r->jwk, typ, payload, len, out, err);
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

mdt_rc mdt_keyring_verify(mdt_keyring *k, int64_t now, const mdt_jws *jws, mdt_err *err)
{
    const char *kid = mdt_jws_kid(jws);
    mdt_rc rc = mdt_fail(err, MDT_ERR_VERIFY, "unknown signing key");

    if (!kid)
        return rc;
    mdt_keyring_maybe_refresh(k, now);
    pthread_rwlock_rdlock(&k->lock);
    for (size_t i = 0; i < k->nkeys; i++) {
        if (strcmp(k->keys[i].kid, kid) == 0 && is_published(&k->keys[i], now)) {
            rc = mdt_jws_verify(jws, k->keys[i].jwk, err);
            break;
        }
    }
    pthread_rwlock_unlock(&k->lock);
    return rc;
}

mdt_rc mdt_keyring_jwks(mdt_keyring *k, int64_t now, mdt_buf *out, mdt_err *err)
{
    mdt_rc rc = MDT_OK;
    bool first = true;

    mdt_keyring_maybe_refresh(k, now);
    if (mdt_buf_adds(out, "{\"keys\":[") != MDT_OK)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    pthread_rwlock_rdlock(&k->lock);
    for (size_t i = 0; i < k->nkeys && rc == MDT_OK; i++) {
        if (!is_published(&k->keys[i], now))
            continue;
        if (!first && mdt_buf_adds(out, ",") != MDT_OK)
            rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        else
            rc = mdt_jwk_public_json(k->keys[i].jwk, out, err);
        first = false;
    }
    pthread_rwlock_unlock(&k->lock);
    if (rc == MDT_OK && mdt_buf_adds(out, "]}") != MDT_OK)
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return rc;
}

bool mdt_keyring_ready(mdt_keyring *k, int64_t now)
{
    bool ok;
    pthread_rwlock_rdlock(&k->lock);
    ok = signing_key(k, now) != NULL;
    pthread_rwlock_unlock(&k->lock);
    return ok;
}
