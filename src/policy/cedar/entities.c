/* Cedar entities: the entity JSON format (as Cedar reads it without a
 * schema) into a store looked up by hash, and JSON values into records
 * (a request's context). An object is an entity reference only when it is
 * exactly {"__entity": {"type", "id"}}; {"type", "id"} alone is a record,
 * as in Cedar without a schema. Extension values (__extn) are outside the
 * subset and refused. */
#include "policy/cedar/internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    mdt_arena *a;
    mdt_err *err;
    const char *where; /* the entity being read, for messages */
    const char *attr;
} jctx;

/* The public message of bad entity JSON, which names the entity and the
 * attribute: kept per thread until the thread's next such error. */
static _Thread_local char errbuf[300];

static mdt_rc bad(jctx *c, const char *fmt, ...) MDT_PRINTF(2, 3);
static mdt_rc bad(jctx *c, const char *fmt, ...)
{
    char m[120];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    if (c->where && c->attr)
        snprintf(errbuf, sizeof(errbuf), "entity %.60s, attribute `%.40s`: %s", c->where, c->attr,
                 m);
    else if (c->where)
        snprintf(errbuf, sizeof(errbuf), "entity %.60s: %s", c->where, m);
    else if (c->attr)
        snprintf(errbuf, sizeof(errbuf), "attribute `%.40s`: %s", c->attr, m);
    else
        snprintf(errbuf, sizeof(errbuf), "%s", m);
    return mdt_failf(c->err, MDT_ERR_INVALID_REQUEST, errbuf, "cedar entities: %s", errbuf);
}

static mdt_rc oom(jctx *c) { return mdt_fail(c->err, MDT_ERR_NOMEM, "out of memory"); }

/* A Cedar type name: identifiers (not reserved words) joined by "::". */
static bool valid_type(const char *s, size_t n)
{
    static const char *const words[] = {"true", "false", "if", "then", "else",
                                        "in", "is", "like", "has", "__cedar"};
    size_t i = 0;

    while (i < n) {
        size_t start = i;
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_'))
            return false;
        while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                         (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            i++;
        for (size_t w = 0; w < MDT_ARRAY_LEN(words); w++)
            if (strlen(words[w]) == i - start && memcmp(words[w], s + start, i - start) == 0)
                return false;
        if (i == n)
            return true;
        if (i + 2 >= n || s[i] != ':' || s[i + 1] != ':')
            return false;
        i += 2;
    }
    return false;
}

/* {"type", "id"} or {"__entity": {"type", "id"}} */
static mdt_rc uid_json(jctx *c, json_t *j, cd_uid *out)
{
    json_t *esc = json_is_object(j) ? json_object_get(j, "__entity") : NULL;
    json_t *t, *id;

    if (esc && !json_object_get(j, "type"))
        j = esc;
    t = json_object_get(j, "type");
    id = json_object_get(j, "id");
    if (!json_is_string(t) || !json_is_string(id))
        return bad(c, "an entity reference needs string \"type\" and \"id\"");
    if (!valid_type(json_string_value(t), json_string_length(t)))
        return bad(c, "`%.40s` is not a valid entity type name", json_string_value(t));
    char *ts = mdt_arena_strndup(c->a, json_string_value(t), json_string_length(t));
    char *is = mdt_arena_alloc(c->a, json_string_length(id) + 1);
    if (!ts || !is)
        return oom(c);
    memcpy(is, json_string_value(id), json_string_length(id));
    out->type = ts;
    out->tlen = (uint32_t)json_string_length(t);
    out->id = is;
    out->ilen = (uint32_t)json_string_length(id);
    out->hash = cd_uid_hash(out->type, out->tlen, out->id, out->ilen);
    return MDT_OK;
}

static mdt_rc value_json(jctx *c, json_t *j, int depth, cd_val *out);

static mdt_rc record_json(jctx *c, json_t *j, int depth, const mdt_cedar_record **out)
{
    size_t n = json_object_size(j), i = 0, dup = 0;
    mdt_cedar_record *r = mdt_arena_alloc(c->a, sizeof(*r));
    const char **keys = mdt_arena_alloc(c->a, (n ? n : 1) * sizeof(*keys));
    uint32_t *klens = mdt_arena_alloc(c->a, (n ? n : 1) * sizeof(*klens));
    cd_val *vals = mdt_arena_alloc(c->a, (n ? n : 1) * sizeof(*vals));
    const char *k;
    json_t *v;
    bool nomem;
    mdt_rc rc;

    if (!r || !keys || !klens || !vals)
        return oom(c);
    json_object_foreach(j, k, v) {
        if (depth == 0)
            c->attr = k;
        if (!(keys[i] = mdt_arena_strdup(c->a, k)))
            return oom(c);
        klens[i] = (uint32_t)strlen(k);
        if ((rc = value_json(c, v, depth + 1, &vals[i])) != MDT_OK)
            return rc;
        i++;
    }
    if (depth == 0)
        c->attr = NULL;
    if (!cd_rec_sort(keys, klens, vals, n, &dup, &nomem))
        return nomem ? oom(c) : bad(c, "duplicate key");
    r->n = n;
    r->keys = keys;
    r->klens = klens;
    r->vals = vals;
    *out = r;
    return MDT_OK;
}

static mdt_rc value_json(jctx *c, json_t *j, int depth, cd_val *out)
{
    mdt_rc rc;

    if (depth > CD_JSON_DEPTH_MAX)
        return bad(c, "value nested too deeply");
    switch (json_typeof(j)) {
    case JSON_STRING: {
        char *s = mdt_arena_alloc(c->a, json_string_length(j) + 1);
        if (!s)
            return oom(c);
        memcpy(s, json_string_value(j), json_string_length(j));
        *out = (cd_val){.k = CD_STR, .len = (uint32_t)json_string_length(j), .u.s = s};
        return MDT_OK;
    }
    case JSON_INTEGER:
        *out = (cd_val){.k = CD_LONG, .u.l = (int64_t)json_integer_value(j)};
        return MDT_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        *out = (cd_val){.k = CD_BOOL, .u.b = json_is_true(j)};
        return MDT_OK;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        cd_set *s = mdt_arena_alloc(c->a, sizeof(*s) + n * sizeof(cd_val));
        if (!s)
            return oom(c);
        for (size_t i = 0; i < n; i++)
            if ((rc = value_json(c, json_array_get(j, i), depth + 1, &s->v[i])) != MDT_OK)
                return rc;
        s->n = n;
        *out = (cd_val){.k = CD_SET, .u.set = s};
        return MDT_OK;
    }
    case JSON_OBJECT:
        /* {"__entity": x} is a record unless x has a string type and id */
        if (json_object_size(j) == 1 &&
            json_is_string(json_object_get(json_object_get(j, "__entity"), "type")) &&
            json_is_string(json_object_get(json_object_get(j, "__entity"), "id"))) {
            cd_uid *u = mdt_arena_alloc(c->a, sizeof(*u));
            if (!u)
                return oom(c);
            if ((rc = uid_json(c, j, u)) != MDT_OK)
                return rc;
            *out = (cd_val){.k = CD_ENT, .u.e = u};
            return MDT_OK;
        }
        if (json_object_size(j) == 1 && json_object_get(j, "__extn"))
            return bad(c, "extension values (__extn) are outside the supported Cedar subset");
        if (json_object_size(j) == 1 && json_object_get(j, "__expr"))
            return bad(c, "the __expr escape is not supported");
        *out = (cd_val){.k = CD_REC};
        return record_json(c, j, depth, &out->u.rec);
    case JSON_REAL:
        return bad(c, "numbers must be integers");
    case JSON_NULL:
        return bad(c, "null is not a Cedar value");
    }
    return bad(c, "unexpected JSON value");
}

static json_t *load(jctx *c, const char *json, size_t len, size_t max, mdt_rc *rc)
{
    json_error_t jerr;
    json_t *doc;

    if (len > max) {
        *rc = bad(c, "JSON too large");
        return NULL;
    }
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!doc)
        *rc = bad(c, "invalid JSON (line %d, column %d): %.60s", jerr.line, jerr.column,
                  jerr.text);
    return doc;
}

mdt_rc mdt_cedar_record_json(mdt_arena *a, const char *json, size_t len,
                             const mdt_cedar_record **out, mdt_err *err)
{
    jctx c = {.a = a, .err = err};
    mdt_rc rc = MDT_OK;
    json_t *doc = load(&c, json, len, MDT_CEDAR_ENTITIES_MAX, &rc);

    *out = NULL;
    if (!doc)
        return rc;
    if (!json_is_object(doc))
        rc = bad(&c, "a record must be a JSON object");
    else
        rc = record_json(&c, doc, 0, out);
    json_decref(doc);
    return rc;
}

/* --- the store --- */

mdt_rc mdt_cedar_entities_new(mdt_cedar_entities **out, mdt_err *err)
{
    mdt_cedar_entities *e = calloc(1, sizeof(*e));

    *out = NULL;
    if (!e)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_arena_init(&e->arena, 64 * 1024);
    *out = e;
    return MDT_OK;
}

const cd_entity *cd_entities_get(const mdt_cedar_entities *e, const cd_uid *uid)
{
    if (!e->cap)
        return NULL;
    for (size_t i = uid->hash & (e->cap - 1);; i = (i + 1) & (e->cap - 1)) {
        const cd_entity *x = e->slots[i];
        if (!x)
            return NULL;
        if (cd_uid_eq(&x->uid, uid))
            return x;
    }
}

static void put(cd_entity **slots, size_t cap, cd_entity *x)
{
    size_t i = x->uid.hash & (cap - 1);

    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = x;
}

static mdt_rc grow(mdt_cedar_entities *e, size_t need, mdt_err *err)
{
    size_t cap = e->cap ? e->cap : 64;
    cd_entity **slots;

    while (cap < 2 * need)
        cap *= 2;
    if (cap == e->cap)
        return MDT_OK;
    if (!(slots = calloc(cap, sizeof(*slots))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < e->cap; i++)
        if (e->slots[i])
            put(slots, cap, e->slots[i]);
    free(e->slots);
    e->slots = slots;
    e->cap = cap;
    return MDT_OK;
}

/* An action's type: Action, or a namespace's NS::Action. */
static bool is_action_type(const cd_uid *u)
{
    return u->tlen >= 6 && memcmp(u->type + u->tlen - 6, "Action", 6) == 0 &&
           (u->tlen == 6 || u->type[u->tlen - 7] == ':');
}

static mdt_rc entity_json(jctx *c, json_t *j, cd_entity *out)
{
    json_t *attrs = json_object_get(j, "attrs"), *parents = json_object_get(j, "parents");
    cd_uid *ps;
    mdt_rc rc;

    if (!json_is_object(j))
        return bad(c, "an entity must be a JSON object");
    if ((rc = uid_json(c, json_object_get(j, "uid"), &out->uid)) != MDT_OK)
        return rc;
    c->where = mdt_arena_printf(c->a, "%s::\"%.40s\"", out->uid.type, out->uid.id);
    if (!c->where)
        return oom(c);
    if (!json_is_object(attrs))
        return bad(c, "\"attrs\" must be an object");
    if (!json_is_array(parents))
        return bad(c, "\"parents\" must be an array");
    if ((rc = record_json(c, attrs, 0, &out->attrs)) != MDT_OK)
        return rc;
    if (!(ps = mdt_arena_alloc(c->a, (json_array_size(parents) + 1) * sizeof(*ps))))
        return oom(c);
    for (size_t i = 0; i < json_array_size(parents); i++) {
        if ((rc = uid_json(c, json_array_get(parents, i), &ps[i])) != MDT_OK)
            return rc;
        /* as Cedar: an action's parents are actions (action groups) */
        if (is_action_type(&out->uid) && !is_action_type(&ps[i]))
            return bad(c, "an action's parent must be an action, not %.40s::\"%.40s\"",
                       ps[i].type, ps[i].id);
    }
    out->parents = ps;
    out->nparents = json_array_size(parents);
    return MDT_OK;
}

typedef struct {
    const mdt_cedar_entities *e, *batch;
} view;

static cd_entity *view_get(const view *v, const cd_uid *u)
{
    const cd_entity *x = cd_entities_get(v->e, u);
    return (cd_entity *)(x ? x : cd_entities_get(v->batch, u));
}

/* Cedar refuses a hierarchy with a cycle (an entity its own ancestor). A
 * new cycle passes through a new entity: depth-first from each of them,
 * gray on the path, black when done. */
static mdt_rc check_cycles(jctx *c, mdt_cedar_entities *e, const view *v, cd_entity *batch,
                           size_t n)
{
    typedef struct {
        cd_entity *x;
        size_t next;
    } frame;
    uint32_t gray = ++e->epoch * 2, black = gray + 1;
    size_t cap = 64, top = 0;
    frame *stk = malloc(cap * sizeof(*stk));
    mdt_rc rc = MDT_OK;

    if (!stk)
        return oom(c);
    for (size_t i = 0; i < n && rc == MDT_OK; i++) {
        if (batch[i].mark == black)
            continue;
        batch[i].mark = gray;
        stk[top++] = (frame){&batch[i], 0};
        while (top && rc == MDT_OK) {
            frame *f = &stk[top - 1];
            if (f->next == f->x->nparents) {
                f->x->mark = black;
                top--;
                continue;
            }
            cd_entity *p = view_get(v, &f->x->parents[f->next++]);
            if (!p || p->mark == black)
                continue;
            if (p->mark == gray) {
                c->where = mdt_arena_printf(c->a, "%s::\"%.40s\"", p->uid.type, p->uid.id);
                rc = bad(c, "the entity hierarchy has a cycle");
                break;
            }
            if (top == cap) {
                frame *ns = realloc(stk, 2 * cap * sizeof(*ns));
                if (!ns) {
                    rc = oom(c);
                    break;
                }
                stk = ns;
                cap *= 2;
            }
            p->mark = gray;
            stk[top++] = (frame){p, 0};
        }
    }
    free(stk);
    return rc;
}

mdt_rc mdt_cedar_entities_add_json(mdt_cedar_entities *e, const char *json, size_t len,
                                   mdt_err *err)
{
    jctx c = {.a = &e->arena, .err = err};
    mdt_rc rc = MDT_OK;
    json_t *doc = load(&c, json, len, MDT_CEDAR_ENTITIES_MAX, &rc);
    cd_entity *batch = NULL, **tmp = NULL;
    size_t n, tcap = 64;

    if (!doc)
        return rc;
    if (!json_is_array(doc)) {
        rc = bad(&c, "entities must be a JSON array");
        goto out;
    }
    n = json_array_size(doc);
    while (tcap < 2 * n)
        tcap *= 2;
    batch = mdt_arena_alloc(&e->arena, (n ? n : 1) * sizeof(*batch));
    tmp = calloc(tcap, sizeof(*tmp));
    if (!batch || !tmp) {
        rc = oom(&c);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        c.where = NULL;
        c.attr = NULL;
        if ((rc = entity_json(&c, json_array_get(doc, i), &batch[i])) != MDT_OK)
            goto out;
        c.attr = NULL;
        if (cd_entities_get(e, &batch[i].uid) ||
            cd_entities_get(&(mdt_cedar_entities){.slots = tmp, .cap = tcap}, &batch[i].uid)) {
            rc = bad(&c, "duplicate entity");
            goto out;
        }
        put(tmp, tcap, &batch[i]);
    }
    c.where = NULL;
    mdt_cedar_entities bview = {.slots = tmp, .cap = tcap};
    if ((rc = check_cycles(&c, e, &(view){e, &bview}, batch, n)) != MDT_OK)
        goto out;
    if ((rc = grow(e, e->count + n, err)) != MDT_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        put(e->slots, e->cap, &batch[i]);
    e->count += n;
out:
    free(tmp);
    json_decref(doc);
    return rc;
}

size_t mdt_cedar_entities_count(const mdt_cedar_entities *e) { return e ? e->count : 0; }

void mdt_cedar_entities_free(mdt_cedar_entities *e)
{
    if (!e)
        return;
    mdt_arena_free(&e->arena);
    free(e->slots);
    free(e);
}
