#include "iga/consent.h"

#include <string.h>

#include "core/buf.h"
#include "core/words.h"
#include "store/store.h"

static bool has_word(const char *list, const mdt_words *word)
{
    for (mdt_words w = mdt_words_of(list); mdt_words_next(&w);)
        if (w.len == word->len && memcmp(w.word, word->word, w.len) == 0)
            return true;
    return false;
}

bool mdt_scope_covers(const char *have, const char *want)
{
    for (mdt_words w = mdt_words_of(want); mdt_words_next(&w);)
        if (!has_word(have, &w))
            return false;
    return true;
}

const char *mdt_scope_union(mdt_arena *a, const char *have, const char *add)
{
    mdt_buf b;
    const char *out = NULL;
    mdt_rc rc;

    mdt_buf_init(&b, MDT_CONSENT_SCOPE_MAX);
    rc = mdt_buf_adds(&b, have ? have : "");
    for (mdt_words w = mdt_words_of(add); rc == MDT_OK && mdt_words_next(&w);)
        if (!has_word(b.data, &w))
            rc = mdt_buf_addf(&b, "%s%.*s", b.len ? " " : "", (int)w.len, w.word);
    if (rc == MDT_OK)
        out = mdt_arena_strndup(a, b.data ? b.data : "", b.len);
    mdt_buf_free(&b);
    return out;
}

mdt_rc mdt_consent_covers(mdt_env *env, const char *username, const char *client_id,
                          const char *scope, mdt_arena *a, bool *out, mdt_err *err)
{
    mdt_consent_rec rec;
    mdt_rc rc = mdt_store_consent_get(env->store, username, client_id, a, &rec, err);

    *out = false;
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        return MDT_OK;
    }
    if (rc == MDT_OK)
        *out = mdt_scope_covers(rec.scope, scope);
    return rc;
}

mdt_rc mdt_consent_remember(mdt_env *env, const char *username, const char *client_id,
                            const char *scope, int64_t now, mdt_arena *a, mdt_err *err)
{
    mdt_consent_rec rec;
    mdt_rc rc = mdt_store_consent_get(env->store, username, client_id, a, &rec, err);

    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        rec = (mdt_consent_rec){.username = username, .client_id = client_id, .scope = "",
                                .created_at = now};
    } else if (rc != MDT_OK) {
        return rc;
    }
    rec.updated_at = now;
    if (!(rec.scope = mdt_scope_union(a, rec.scope, scope)))
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "too many consented scopes");
    return mdt_store_consent_put(env->store, &rec, err);
}

mdt_rc mdt_consent_revoke(mdt_env *env, const char *username, const char *client_id,
                          int64_t now, mdt_err *err)
{
    if (!client_id)
        return mdt_fail(err, MDT_ERR_INTERNAL, "consent to revoke not named");
    return mdt_store_grant_revoke(env->store, username, client_id, now, err);
}
