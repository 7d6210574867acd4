/* Scope and audience checks shared by every grant. */
#include <string.h>

#include "core/words.h"
#include "iga/resources.h"
#include "oauth/grants.h"

#define MAX_SCOPES 64

static bool scope_token_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e)
            return false;
    }
    return true;
}

static bool listed(const char *const *list, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
            return true;
    return false;
}

/* Whether the word s[0..len) is among the first n words seen. */
static bool seen_before(const mdt_words *seen, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (seen[i].len == len && memcmp(seen[i].word, s, len) == 0)
            return true;
    return false;
}

/* The client's registered scopes, space-separated (the grant when none is
 * requested); NULL when out of memory. */
static const char *all_scopes(mdt_arena *a, const mdt_client *c)
{
    size_t n = 1;
    char *s, *p;

    for (size_t i = 0; i < c->nscopes; i++)
        n += strlen(c->scopes[i]) + 1;
    if (!(p = s = mdt_arena_alloc(a, n)))
        return NULL;
    for (size_t i = 0; i < c->nscopes; i++) {
        size_t len = strlen(c->scopes[i]);
        if (i)
            *p++ = ' ';
        memcpy(p, c->scopes[i], len);
        p += len;
    }
    *p = '\0';
    return s;
}

mdt_rc mdt_scope_narrow(mdt_arena *a, const mdt_client *c, const char *requested,
                        const char **granted, mdt_err *err)
{
    mdt_words seen[MAX_SCOPES]; /* words of requested, not terminated */
    size_t nseen = 0;
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    if (!requested) {
        requested = all_scopes(a, c);
        *granted = requested;
        return requested ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    if (!*requested)
        return mdt_fail(err, MDT_ERR_INVALID_SCOPE, "the scope parameter is empty");
    mdt_buf_init(&b, 16384);
    for (mdt_words w = mdt_words_of(requested); rc == MDT_OK && mdt_words_next(&w);) {
        const char *p = w.word;
        size_t n = w.len;
        if (!scope_token_ok(p, n))
            rc = mdt_fail(err, MDT_ERR_INVALID_SCOPE, "malformed scope");
        else if (!listed((const char *const *)c->scopes, c->nscopes, p, n))
            rc = mdt_failf(err, MDT_ERR_INVALID_SCOPE, "a requested scope is not granted to this client",
                           "scope '%.*s' not entitled", (int)(n > 64 ? 64 : n), p);
        else if (!seen_before(seen, nseen, p, n)) {
            if (nseen == MAX_SCOPES)
                rc = mdt_fail(err, MDT_ERR_INVALID_SCOPE, "too many scopes");
            else if ((rc = mdt_buf_addf(&b, "%s%.*s", nseen ? " " : "", (int)n, p)) == MDT_OK)
                seen[nseen++] = w;
        }
    }
    if (rc == MDT_OK && !(*granted = mdt_arena_strdup(a, b.data ? b.data : "")))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_buf_free(&b);
    return rc;
}

mdt_rc mdt_scope_refusal(mdt_env *env, mdt_arena *a, const mdt_client *entitled,
                         const char *requested, mdt_rc rc, mdt_err *err)
{
    mdt_scope_rec sc;
    mdt_err lookup;
    const char *msg;

    if (rc != MDT_ERR_INVALID_SCOPE || !requested)
        return rc;
    for (mdt_words w = mdt_words_of(requested); mdt_words_next(&w);) {
        char *name;
        if (!scope_token_ok(w.word, w.len))
            return rc;
        if (listed((const char *const *)entitled->scopes, entitled->nscopes, w.word, w.len))
            continue;
        /* the first scope the client lacks: one an approval would give? */
        if (!(name = mdt_arena_strndup(a, w.word, w.len)) ||
            mdt_store_scope_get(env->store, name, a, &sc, &lookup) != MDT_OK ||
            !mdt_str_eq(sc.sensitivity, "approval"))
            return rc;
        if (!(msg = mdt_arena_printf(a, "scope '%s' needs an approved access request: "
                                        "POST /access-requests", name)))
            return rc;
        return mdt_failf(err, MDT_ERR_INVALID_SCOPE, msg,
                         "scope '%.64s' (sensitivity approval) not entitled", name);
    }
    return rc;
}

mdt_rc mdt_scope_still_entitled(mdt_env *env, mdt_arena *a, const mdt_client *c,
                                const char *scope, mdt_err *err)
{
    for (mdt_words w = mdt_words_of(scope ? scope : ""); mdt_words_next(&w);) {
        mdt_scope_rec sc;
        const char *name, *msg;
        mdt_rc rc;

        if (listed((const char *const *)c->scopes, c->nscopes, w.word, w.len))
            continue;
        if (!(name = mdt_arena_strndup(a, w.word, w.len)))
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        rc = mdt_store_scope_get(env->store, name, a, &sc, err);
        if (rc == MDT_ERR_NOT_FOUND) {
            mdt_err_clear(err);
            continue;
        }
        if (rc != MDT_OK)
            return rc;
        if (!mdt_str_eq(sc.sensitivity, "approval"))
            continue; /* what a person's consent gave */
        if (!(msg = mdt_arena_printf(a, "scope '%s' needs an approved access request: "
                                        "POST /access-requests", name)))
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        return mdt_failf(err, MDT_ERR_INVALID_SCOPE, msg,
                         "entitlement to scope '%.64s' ended before the grant was redeemed", name);
    }
    return MDT_OK;
}

mdt_rc mdt_scope_narrow_for(mdt_env *env, mdt_arena *a, const mdt_client *c,
                            const char *requested, const char **granted, mdt_err *err)
{
    return mdt_scope_refusal(env, a, c, requested, mdt_scope_narrow(a, c, requested, granted, err),
                             err);
}

mdt_rc mdt_resource_select(mdt_arena *a, const mdt_client *c, const char *issuer,
                           const char *resource, const char *const **aud, size_t *naud,
                           mdt_err *err)
{
    const char **one;

    if (!resource) {
        if (c->nresources) {
            *aud = (const char *const *)c->resources;
            *naud = c->nresources;
            return MDT_OK;
        }
        resource = issuer;
    } else if (!mdt_client_has_resource(c, resource)) {
        return mdt_failf(err, MDT_ERR_INVALID_TARGET,
                         "the requested resource is not allowed for this client",
                         "resource '%.128s' not entitled", resource);
    }
    if (!(one = mdt_arena_alloc(a, sizeof(*one))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    one[0] = resource;
    *aud = one;
    *naud = 1;
    return MDT_OK;
}

/* list + the items of more not already in it, as a new arena array. */
static const char **add_to(mdt_arena *a, const char *const *list, size_t n,
                           const char *const *more, size_t nmore, size_t *nout)
{
    const char **out = mdt_arena_alloc(a, (n + nmore + 1) * sizeof(char *));

    if (!out)
        return NULL;
    if (n)
        memcpy(out, list, n * sizeof(char *));
    *nout = n;
    for (size_t i = 0; i < nmore; i++)
        if (!listed(out, *nout, more[i], strlen(more[i])))
            out[(*nout)++] = more[i];
    return out;
}

mdt_rc mdt_scope_consented_view(mdt_arena *a, const mdt_client *c, const char *const *consentable,
                                size_t nconsentable, const char *resource, bool resource_protected,
                                mdt_client *out, mdt_err *err)
{
    *out = *c;
    if (mdt_client_unvouched(c) && nconsentable &&
        !(out->scopes = add_to(a, (const char *const *)c->scopes, c->nscopes, consentable,
                               nconsentable, &out->nscopes)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (resource && resource_protected &&
        !(out->resources = add_to(a, (const char *const *)c->resources, c->nresources, &resource,
                                  1, &out->nresources)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

mdt_rc mdt_consented_client(mdt_env *env, mdt_arena *a, const mdt_client *c, const char *scope,
                            const char *resource, mdt_client *out, mdt_err *err)
{
    const char *ok[MAX_SCOPES];
    size_t nok = 0;
    mdt_scope_rec sc;
    mdt_rc rc = MDT_OK;

    for (mdt_words w = mdt_words_of(scope);
         nok < MAX_SCOPES && mdt_client_unvouched(c) && mdt_words_next(&w);) {
        const char *name = mdt_arena_strndup(a, w.word, w.len);
        if (!name)
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        if ((rc = mdt_store_scope_get(env->store, name, a, &sc, err)) == MDT_OK &&
            !mdt_str_eq(sc.sensitivity, "approval"))
            ok[nok++] = name;
        else if (rc != MDT_ERR_NOT_FOUND && rc != MDT_OK)
            return rc;
        mdt_err_clear(err);
    }
    return mdt_scope_consented_view(a, c, ok, nok, resource,
                                    mdt_resources_has(mdt_env_resources(env), resource), out, err);
}
