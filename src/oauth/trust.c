/* Trusted assertion issuers from configuration files (see trust.h). */
#include "oauth/trust.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/url.h"

#define TRUST_DOCS_MAX 8      /* files added to one mdt_trust */
#define TRUST_STRING_MAX 2048 /* issuer, audience, URL, claim names and values */
#define SUBJECT_MAX 1024      /* a mapped subject */

struct mdt_trust {
    mdt_arena arena;                 /* issuers, rules and their arrays */
    json_t *docs[TRUST_DOCS_MAX];    /* strings and match values are borrowed from these */
    size_t ndocs;
    mdt_trusted_issuer *list[MDT_TRUST_KINDS]; /* by mdt_trust_kind */
    size_t n[MDT_TRUST_KINDS];
    mdt_id_jag_target *targets;      /* [id_jag] targets */
    size_t ntargets;
};

typedef struct {
    mdt_trust *t;
    mdt_trust_kind kind;
    const char *path;
    const mdt_config *cfg;
    size_t idx;      /* 1-based issuer number, for errors */
} pctx;

static mdt_rc bad(const pctx *p, mdt_err *err, const char *what)
{
    if (p->idx)
        return mdt_failf(err, MDT_ERR_CONFIG, "bad trusted issuers file", "%s: issuer %zu: %s",
                         p->path, p->idx, what);
    return mdt_failf(err, MDT_ERR_CONFIG, "bad trusted issuers file", "%s: %s", p->path, what);
}

mdt_rc mdt_trust_new(mdt_trust **out, mdt_err *err)
{
    if (!(*out = calloc(1, sizeof(**out))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_arena_init(&(*out)->arena, 4096);
    return MDT_OK;
}

void mdt_trust_free(mdt_trust *t)
{
    if (!t)
        return;
    for (int k = 0; k < MDT_TRUST_KINDS; k++)
        for (size_t i = 0; i < t->n[k]; i++)
            mdt_keyset_unref(t->list[k][i].keys);
    for (size_t i = 0; i < t->ndocs; i++)
        json_decref(t->docs[i]);
    mdt_arena_free(&t->arena);
    free(t);
}

/* Reads a whole file of at most max bytes into b. */
static mdt_rc read_file(const char *path, size_t max, mdt_buf *b, mdt_err *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    mdt_rc rc = MDT_OK;

    if (!f)
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot read file", "cannot read %s: %s", path,
                         strerror(errno));
    mdt_buf_init(b, max);
    while (rc == MDT_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mdt_buf_add(b, chunk, n);
    if (rc == MDT_OK && ferror(f))
        rc = mdt_failf(err, MDT_ERR_CONFIG, "cannot read file", "cannot read %s", path);
    else if (rc != MDT_OK)
        rc = mdt_failf(err, MDT_ERR_CONFIG, "file too large", "%s is larger than %zu bytes", path,
                       max);
    fclose(f);
    if (rc != MDT_OK)
        mdt_buf_free(b);
    return rc;
}

static bool only_members(json_t *o, const char *const *allowed, const char **unknown)
{
    const char *k;
    json_t *v;

    json_object_foreach(o, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k) == 0;
        if (!ok) {
            *unknown = k;
            return false;
        }
    }
    return true;
}

/* A string member: absent -> dflt; present -> non-empty, at most TRUST_STRING_MAX. */
static bool str_member(json_t *o, const char *name, const char *dflt, bool empty_ok,
                       const char **out)
{
    json_t *v = json_object_get(o, name);

    *out = dflt;
    if (!v)
        return true;
    *out = json_string_value(v);
    return *out && (empty_ok || **out) && strlen(*out) <= TRUST_STRING_MAX;
}

static bool scope_name_ok(const char *s)
{
    if (!*s || strlen(s) > 128)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || *s == '"' || *s == '\\' || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static mdt_rc parse_match(const pctx *p, json_t *m, mdt_trust_rule *r, mdt_err *err)
{
    mdt_trust_match *ms;
    const char *k;
    json_t *v;

    if (!m)
        return MDT_OK;
    if (!json_is_object(m) || json_object_size(m) > MDT_TRUST_MATCH_MAX)
        return bad(p, err, "rule match must be an object of at most 16 claims");
    if (!(ms = mdt_arena_alloc(&p->t->arena, (json_object_size(m) + 1) * sizeof(*ms))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_object_foreach(m, k, v) {
        if (!json_is_string(v) && !json_is_boolean(v))
            return bad(p, err, "rule match values must be strings or booleans");
        ms[r->nmatch].claim = k;
        ms[r->nmatch++].value = v;
    }
    r->match = ms;
    return MDT_OK;
}

static mdt_rc parse_scopes(const pctx *p, json_t *s, mdt_trust_rule *r, mdt_err *err)
{
    const char **out;
    json_t *x;
    size_t i;

    if (!s)
        return MDT_OK;
    if (!json_is_array(s) || json_array_size(s) > MDT_TRUST_SCOPES_MAX)
        return bad(p, err, "rule scopes must be an array of at most 64 scope names");
    if (!(out = mdt_arena_alloc(&p->t->arena, (json_array_size(s) + 1) * sizeof(*out))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_array_foreach(s, i, x) {
        if (!json_is_string(x) || !scope_name_ok(json_string_value(x)))
            return bad(p, err, "rule scopes must be scope names");
        out[i] = json_string_value(x);
    }
    r->scopes = out;
    r->nscopes = json_array_size(s);
    return MDT_OK;
}

static mdt_rc parse_rule(const pctx *p, json_t *o, mdt_trust_rule *r, mdt_err *err)
{
    static const char *const allowed[] = {"match", "subject_claim", "subject_prefix", "scopes",
                                          NULL};
    const char *unknown = NULL;
    mdt_rc rc;

    if (!json_is_object(o))
        return bad(p, err, "each rule must be an object");
    if (!only_members(o, allowed, &unknown))
        return mdt_failf(err, MDT_ERR_CONFIG, "bad trusted issuers file",
                         "%s: issuer %zu: unknown rule member '%.64s'", p->path, p->idx, unknown);
    if (!str_member(o, "subject_claim", "sub", false, &r->subject_claim) ||
        !str_member(o, "subject_prefix", "", true, &r->subject_prefix))
        return bad(p, err, "subject_claim and subject_prefix must be strings");
    if ((rc = parse_match(p, json_object_get(o, "match"), r, err)) != MDT_OK)
        return rc;
    return parse_scopes(p, json_object_get(o, "scopes"), r, err);
}

static mdt_rc parse_rules(const pctx *p, json_t *rules, mdt_trusted_issuer *ti, mdt_err *err)
{
    mdt_trust_rule *rs;
    json_t *o;
    size_t i;
    mdt_rc rc;

    if (!json_is_array(rules) || json_array_size(rules) == 0 ||
        json_array_size(rules) > MDT_TRUST_RULES_MAX)
        return bad(p, err, "rules must be an array of 1 to 64 rules");
    if (!(rs = mdt_arena_alloc(&p->t->arena, json_array_size(rules) * sizeof(*rs))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_array_foreach(rules, i, o)
        if ((rc = parse_rule(p, o, &rs[i], err)) != MDT_OK)
            return rc;
    ti->rules = rs;
    ti->nrules = json_array_size(rules);
    return MDT_OK;
}

static mdt_rc load_jwks_file(const pctx *p, const char *file, mdt_trusted_issuer *ti,
                             mdt_err *err)
{
    const char *slash = strrchr(p->path, '/');
    const char *full = file;
    mdt_buf b;
    mdt_err kerr = {0};
    mdt_rc rc;

    if (file[0] != '/' && slash)
        full = mdt_arena_printf(&p->t->arena, "%.*s/%s", (int)(slash - p->path), p->path, file);
    if (!full)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if ((rc = read_file(full, MDT_KEYSET_JSON_MAX, &b, &kerr)) == MDT_OK) {
        rc = mdt_keyset_parse(b.data ? b.data : "", b.len, &ti->keys, &kerr);
        mdt_buf_free(&b);
    }
    if (rc == MDT_OK)
        return MDT_OK;
    return mdt_failf(err, MDT_ERR_CONFIG, "bad trusted issuers file", "%s: issuer %zu: jwks_file %s: %s",
                     p->path, p->idx, full, mdt_err_text(&kerr));
}

static bool url_ok(const char *u, bool allow_http)
{
    return (strncasecmp(u, "https://", 8) == 0 && u[8]) ||
           (allow_http && strncasecmp(u, "http://", 7) == 0 && u[7]);
}

/* issuer, audience, jwks_file | jwks_uri */
static mdt_rc parse_common(const pctx *p, json_t *o, mdt_trusted_issuer *ti, mdt_err *err)
{
    const char *file = NULL;

    if (!str_member(o, "issuer", NULL, false, &ti->issuer) || !ti->issuer)
        return bad(p, err, "issuer must be a non-empty string");
    if (mdt_trust_find(p->t, p->kind, ti->issuer))
        return bad(p, err, "issuer listed twice");
    if (!str_member(o, "audience", p->cfg->issuer, false, &ti->audience))
        return bad(p, err, "audience must be a non-empty string");
    if (!str_member(o, "jwks_file", NULL, false, &file) ||
        !str_member(o, "jwks_uri", NULL, false, &ti->jwks_uri) || !file == !ti->jwks_uri)
        return bad(p, err, "exactly one of jwks_file and jwks_uri must be given, as a string");
    if (ti->jwks_uri && !url_ok(ti->jwks_uri, p->cfg->jwks_uri_allow_http))
        return bad(p, err, p->cfg->jwks_uri_allow_http ? "jwks_uri must be an https or http URL"
                                                       : "jwks_uri must be an https URL");
    return file ? load_jwks_file(p, file, ti, err) : MDT_OK;
}

static mdt_rc parse_bearer(const pctx *p, json_t *o, mdt_trusted_issuer *ti, mdt_err *err)
{
    json_t *life = json_object_get(o, "max_lifetime"), *once = json_object_get(o, "single_use");
    json_t *jag = json_object_get(o, "id_jag");

    if (jag && !json_is_boolean(jag))
        return bad(p, err, "id_jag must be true or false");
    ti->id_jag = json_is_true(jag);
    if (ti->id_jag && once && !json_is_true(once))
        return bad(p, err,
                   "an id_jag issuer's assertions are single use: single_use cannot be false");
    ti->max_lifetime = ti->id_jag ? MDT_ID_JAG_LIFETIME_DEFAULT : MDT_JWT_BEARER_LIFETIME_DEFAULT;
    ti->single_use = true;
    if (life && (!json_is_integer(life) || json_integer_value(life) < 10 ||
                 json_integer_value(life) > 86400))
        return bad(p, err, "max_lifetime must be an integer number of seconds from 10 to 86400");
    if (life)
        ti->max_lifetime = json_integer_value(life);
    if (once && !json_is_boolean(once))
        return bad(p, err, "single_use must be true or false");
    if (once)
        ti->single_use = json_is_true(once);
    return parse_rules(p, json_object_get(o, "rules"), ti, err);
}

static mdt_rc parse_issuer(const pctx *p, json_t *o, mdt_trusted_issuer *ti, mdt_err *err)
{
    static const char *const workload[] = {"issuer", "jwks_file", "jwks_uri", "audience", NULL};
    static const char *const bearer[] = {"issuer", "jwks_file", "jwks_uri", "audience",
                                         "max_lifetime", "single_use", "rules", "id_jag", NULL};
    static const char *const publisher[] = {"issuer", "jwks_file", "jwks_uri", "single_instance",
                                            NULL};
    const char *const *allowed = p->kind == MDT_TRUST_WORKLOAD       ? workload
                                 : p->kind == MDT_TRUST_JWT_BEARER ? bearer
                                 : p->kind == MDT_TRUST_TOKEN_EXCHANGE ? bearer
                                                                   : publisher;
    const char *unknown = NULL;
    mdt_rc rc;

    memset(ti, 0, sizeof(*ti));
    if (!json_is_object(o))
        return bad(p, err, "must be an object");
    if (!only_members(o, allowed, &unknown))
        return mdt_failf(err, MDT_ERR_CONFIG, "bad trusted issuers file",
                         "%s: issuer %zu: unknown member '%.64s'", p->path, p->idx, unknown);
    if ((rc = parse_common(p, o, ti, err)) != MDT_OK)
        return rc;
    if (p->kind == MDT_TRUST_WORKLOAD) {
        ti->max_lifetime = MDT_WORKLOAD_MAX_AHEAD;
        return MDT_OK;
    }
    if (p->kind == MDT_TRUST_SOFTWARE_STATEMENT) {
        json_t *one = json_object_get(o, "single_instance");
        if (one && !json_is_boolean(one))
            return bad(p, err, "single_instance must be true or false");
        ti->single_instance = json_is_true(one);
        return MDT_OK;
    }
    return parse_bearer(p, o, ti, err);
}

/* Appends the issuers of doc to t's list of that kind; nothing on failure. */
static mdt_rc add_issuers(pctx *p, json_t *doc, mdt_err *err)
{
    mdt_trust *t = p->t;
    size_t old = t->n[p->kind], n = json_array_size(doc);
    mdt_trusted_issuer *list = mdt_arena_alloc(&t->arena, (old + n + 1) * sizeof(*list));
    mdt_trusted_issuer *saved = t->list[p->kind];
    mdt_rc rc = MDT_OK;

    if (!list)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (old)
        memcpy(list, saved, old * sizeof(*list));
    t->list[p->kind] = list;
    for (size_t i = 0; i < n && rc == MDT_OK; i++) {
        p->idx = i + 1;
        if ((rc = parse_issuer(p, json_array_get(doc, i), &list[old + i], err)) == MDT_OK)
            t->n[p->kind]++;  /* visible to the duplicate check of the next one */
    }
    if (rc != MDT_OK) {
        for (size_t i = old; i < old + n; i++)
            mdt_keyset_unref(list[i].keys);
        t->list[p->kind] = saved;
        t->n[p->kind] = old;
    }
    return rc;
}

/* The JSON array of a trust file, owned by the caller. */
static mdt_rc load_doc(const pctx *p, const char *text, size_t len, json_t **doc, mdt_err *err)
{
    json_error_t jerr;

    if (p->t->ndocs == TRUST_DOCS_MAX)
        return bad(p, err, "too many issuers files");
    if (len > MDT_TRUST_FILE_MAX)
        return bad(p, err, "file too large");
    if (!(*doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
        return mdt_failf(err, MDT_ERR_CONFIG, "bad trusted issuers file", "%s:%d: %s", p->path,
                         jerr.line, jerr.text);
    if (!json_is_array(*doc) || json_array_size(*doc) > MDT_TRUST_ISSUERS_MAX) {
        json_decref(*doc);
        *doc = NULL;
        return bad(p, err, "must be a JSON array of at most 64 issuers");
    }
    return MDT_OK;
}

/* ------------------------------------------------------- ID-JAG targets */

/* An issuer identifier: https, or http on a loopback host; no query or fragment. */
static bool target_issuer_ok(const char *u)
{
    char *scheme = NULL, *host = NULL;
    bool ok = false;

    if (mdt_url_scheme_host(u, &scheme, &host))
        ok = mdt_str_eq(scheme, "https") ||
             (mdt_str_eq(scheme, "http") && mdt_host_is_loopback(host));
    free(scheme);
    free(host);
    return ok && strlen(u) <= TRUST_STRING_MAX && !strpbrk(u, "?#");
}

/* An array of at most 64 scope names (urls false) or http(s) URLs. */
static mdt_rc parse_names(const pctx *p, json_t *a, bool urls, const char *what,
                          const char *const **out, size_t *n, mdt_err *err)
{
    const char **v;
    json_t *x;
    size_t i;

    if (!a)
        return MDT_OK;
    if (!json_is_array(a) || json_array_size(a) > MDT_TRUST_SCOPES_MAX)
        return bad(p, err, what);
    if (!(v = mdt_arena_alloc(&p->t->arena, (json_array_size(a) + 1) * sizeof(*v))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_array_foreach(a, i, x) {
        const char *s = json_string_value(x);
        if (!s || !(urls ? strlen(s) <= TRUST_STRING_MAX && url_ok(s, true) : scope_name_ok(s)))
            return bad(p, err, what);
        v[i] = s;
    }
    *out = v;
    *n = json_array_size(a);
    return MDT_OK;
}

static mdt_rc parse_target_clients(const pctx *p, json_t *o, mdt_id_jag_target *tg, mdt_err *err)
{
    mdt_id_jag_client *cs;
    const char *k;
    json_t *v;

    if (!json_is_object(o) || json_object_size(o) == 0 ||
        json_object_size(o) > MDT_ID_JAG_CLIENTS_MAX)
        return bad(p, err, "clients must be an object of 1 to 256 members "
                           "(our client_id: their client_id)");
    if (!(cs = mdt_arena_alloc(&p->t->arena, json_object_size(o) * sizeof(*cs))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    json_object_foreach(o, k, v) {
        const char *theirs = json_string_value(v);
        if (!*k || !theirs || !*theirs || strlen(theirs) > TRUST_STRING_MAX)
            return bad(p, err, "clients must map client_ids to non-empty strings");
        cs[tg->nclients].ours = k;
        cs[tg->nclients++].theirs = theirs;
    }
    tg->clients = cs;
    return MDT_OK;
}

static mdt_rc parse_target(const pctx *p, json_t *o, mdt_id_jag_target *tg, mdt_err *err)
{
    static const char *const allowed[] = {"issuer", "clients", "scopes", "resources", "ttl", NULL};
    const char *unknown = NULL;
    json_t *ttl = json_object_get(o, "ttl");
    mdt_rc rc;

    memset(tg, 0, sizeof(*tg));
    if (!json_is_object(o))
        return bad(p, err, "must be an object");
    if (!only_members(o, allowed, &unknown))
        return mdt_failf(err, MDT_ERR_CONFIG, "bad trusted issuers file",
                         "%s: issuer %zu: unknown member '%.64s'", p->path, p->idx, unknown);
    if (!str_member(o, "issuer", NULL, false, &tg->issuer) || !tg->issuer ||
        !target_issuer_ok(tg->issuer))
        return bad(p, err, "issuer must be an https URL (http for a loopback host)");
    if (mdt_trust_target_find(p->t, tg->issuer))
        return bad(p, err, "issuer listed twice");
    tg->ttl = MDT_ID_JAG_LIFETIME_DEFAULT;
    if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 10 ||
                json_integer_value(ttl) > MDT_ID_JAG_TTL_MAX))
        return bad(p, err, "ttl must be an integer number of seconds from 10 to 3600");
    if (ttl)
        tg->ttl = json_integer_value(ttl);
    if ((rc = parse_target_clients(p, json_object_get(o, "clients"), tg, err)) != MDT_OK ||
        (rc = parse_names(p, json_object_get(o, "scopes"), false,
                          "scopes must be an array of at most 64 scope names", &tg->scopes,
                          &tg->nscopes, err)) != MDT_OK)
        return rc;
    return parse_names(p, json_object_get(o, "resources"), true,
                       "resources must be an array of at most 64 https or http URLs",
                       &tg->resources, &tg->nresources, err);
}

mdt_rc mdt_trust_add_targets(mdt_trust *t, const char *text, size_t len, const char *path,
                             mdt_err *err)
{
    pctx p = {.t = t, .path = path};
    size_t old = t->ntargets, n;
    mdt_id_jag_target *list, *saved = t->targets;
    json_t *doc = NULL;
    mdt_rc rc;

    if ((rc = load_doc(&p, text, len, &doc, err)) != MDT_OK)
        return rc;
    n = json_array_size(doc);
    if (!(list = mdt_arena_alloc(&t->arena, (old + n + 1) * sizeof(*list)))) {
        json_decref(doc);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    if (old)
        memcpy(list, saved, old * sizeof(*list));
    t->targets = list;
    for (size_t i = 0; i < n && rc == MDT_OK; i++) {
        p.idx = i + 1;
        if ((rc = parse_target(&p, json_array_get(doc, i), &list[old + i], err)) == MDT_OK)
            t->ntargets++; /* visible to the duplicate check of the next one */
    }
    if (rc != MDT_OK) {
        t->targets = saved;
        t->ntargets = old;
        json_decref(doc);
        return rc;
    }
    t->docs[t->ndocs++] = doc;
    return MDT_OK;
}

const mdt_id_jag_target *mdt_trust_target_find(const mdt_trust *t, const char *iss)
{
    for (size_t i = 0; t && iss && i < t->ntargets; i++)
        if (strcmp(t->targets[i].issuer, iss) == 0)
            return &t->targets[i];
    return NULL;
}

const char *mdt_id_jag_target_client(const mdt_id_jag_target *tg, const char *client_id)
{
    for (size_t i = 0; tg && client_id && i < tg->nclients; i++)
        if (strcmp(tg->clients[i].ours, client_id) == 0)
            return tg->clients[i].theirs;
    return NULL;
}

mdt_rc mdt_trust_add(mdt_trust *t, mdt_trust_kind kind, const char *text, size_t len,
                     const char *path, const mdt_config *cfg, mdt_err *err)
{
    pctx p = {.t = t, .kind = kind, .path = path, .cfg = cfg};
    json_t *doc = NULL;
    mdt_rc rc;

    if ((rc = load_doc(&p, text, len, &doc, err)) != MDT_OK)
        return rc;
    if ((rc = add_issuers(&p, doc, err)) != MDT_OK) {
        json_decref(doc);
        return rc;
    }
    t->docs[t->ndocs++] = doc;
    return MDT_OK;
}

/* kind MDT_TRUST_KINDS: the ID-JAG targets file */
static mdt_rc load_one(mdt_trust *t, mdt_trust_kind kind, const char *path,
                       const mdt_config *cfg, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc;

    if (!path || !*path)
        return MDT_OK;
    if ((rc = read_file(path, MDT_TRUST_FILE_MAX, &b, err)) != MDT_OK)
        return rc;
    if (kind == MDT_TRUST_KINDS)
        rc = mdt_trust_add_targets(t, b.data ? b.data : "", b.len, path, err);
    else
        rc = mdt_trust_add(t, kind, b.data ? b.data : "", b.len, path, cfg, err);
    mdt_buf_free(&b);
    return rc;
}

mdt_rc mdt_trust_load(const mdt_config *cfg, mdt_trust **out, mdt_err *err)
{
    mdt_trust *t = NULL;
    mdt_rc rc;

    *out = NULL;
    if ((rc = mdt_trust_new(&t, err)) != MDT_OK)
        return rc;
    if ((rc = load_one(t, MDT_TRUST_WORKLOAD, cfg->workload_issuers, cfg, err)) != MDT_OK ||
        (rc = load_one(t, MDT_TRUST_JWT_BEARER, cfg->jwt_bearer_issuers, cfg, err)) != MDT_OK ||
        (rc = load_one(t, MDT_TRUST_TOKEN_EXCHANGE, cfg->token_exchange_subject_issuers, cfg,
                       err)) != MDT_OK ||
        (rc = load_one(t, MDT_TRUST_SOFTWARE_STATEMENT, cfg->software_statement_issuers, cfg,
                       err)) != MDT_OK ||
        (rc = load_one(t, MDT_TRUST_KINDS, cfg->id_jag_targets, cfg, err)) != MDT_OK) {
        mdt_trust_free(t);
        return rc;
    }
    *out = t;
    return MDT_OK;
}

const mdt_trusted_issuer *mdt_trust_find(const mdt_trust *t, mdt_trust_kind kind, const char *iss)
{
    if (!t || !iss)
        return NULL;
    for (size_t i = 0; i < t->n[kind]; i++)
        if (strcmp(t->list[kind][i].issuer, iss) == 0)
            return &t->list[kind][i];
    return NULL;
}

static bool rule_matches(const mdt_trust_rule *r, json_t *claims)
{
    for (size_t i = 0; i < r->nmatch; i++)
        if (!json_equal(json_object_get(claims, r->match[i].claim), r->match[i].value))
            return false;
    return true;
}

mdt_rc mdt_trust_match_rule(const mdt_trusted_issuer *ti, json_t *claims, mdt_arena *a,
                            const mdt_trust_rule **rule, const char **subject, mdt_err *err)
{
    const mdt_trust_rule *r = NULL;
    const char *v;

    for (size_t i = 0; i < ti->nrules && !r; i++)
        if (rule_matches(&ti->rules[i], claims))
            r = &ti->rules[i];
    if (!r)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "no rule matches the assertion");
    v = json_string_value(json_object_get(claims, r->subject_claim));
    if (!v || !*v || strlen(v) + strlen(r->subject_prefix) > SUBJECT_MAX)
        return mdt_failf(err, MDT_ERR_VERIFY, "invalid assertion",
                         "subject claim '%.64s' missing, empty or too long", r->subject_claim);
    if (!(*subject = mdt_arena_printf(a, "%s%s", r->subject_prefix, v)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    *rule = r;
    return MDT_OK;
}
