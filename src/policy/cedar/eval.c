/* The Cedar evaluator and authorizer: policy sets, and decisions with
 * Cedar's semantics and errors. Evaluation allocates only what a policy's
 * expressions build at run time (sets and records of non-literal parts)
 * and the decision's arrays, all in the caller's arena. */
#include "policy/cedar/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { EV_OK, EV_ERR, EV_NOMEM } ev_rc;

/* The ancestors seen by a walk: a list, and past a few a hash set too. */
typedef struct {
    const cd_uid **list, *buf[32];
    size_t n, cap;
    const cd_uid **tab; /* open addressing, NULL while n is small */
    size_t tcap;
} seen_set;

typedef struct {
    const mdt_cedar_entities *const *stores;
    size_t nstores;
    mdt_arena *a;
    cd_val vars[4]; /* principal, action, resource, context */
    cd_uid uids[3];
    /* the ancestors of principal, action and resource, found once per
     * request when first asked for */
    seen_set anc[3];
    bool anc_done[3];
    const cd_entity *ent[3]; /* and their entities */
    bool ent_done[3];
} ev_env;

static const cd_entity *lookup(ev_env *env, const cd_uid *u)
{
    int v = u == &env->uids[0] ? 0 : u == &env->uids[1] ? 1 : u == &env->uids[2] ? 2 : -1;

    if (v >= 0 && env->ent_done[v])
        return env->ent[v];
    for (size_t i = 0; i < env->nstores; i++) {
        const cd_entity *e = env->stores[i] ? cd_entities_get(env->stores[i], u) : NULL;
        if (e) {
            if (v >= 0)
                env->ent[v] = e, env->ent_done[v] = true;
            return e;
        }
    }
    if (v >= 0)
        env->ent_done[v] = true;
    return NULL;
}

static bool seen_has(const seen_set *s, const cd_uid *u)
{
    if (!s->tab) {
        for (size_t i = 0; i < s->n; i++)
            if (cd_uid_eq(s->list[i], u))
                return true;
        return false;
    }
    for (size_t i = u->hash & (s->tcap - 1); s->tab[i]; i = (i + 1) & (s->tcap - 1))
        if (cd_uid_eq(s->tab[i], u))
            return true;
    return false;
}

static void tab_put(const cd_uid **tab, size_t cap, const cd_uid *u)
{
    size_t i = u->hash & (cap - 1);
    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = u;
}

static ev_rc seen_add(ev_env *env, seen_set *s, const cd_uid *u)
{
    if (s->n == s->cap) {
        const cd_uid **nl = mdt_arena_alloc(env->a, 2 * s->cap * sizeof(*nl));
        if (!nl)
            return EV_NOMEM;
        memcpy(nl, s->list, s->n * sizeof(*nl));
        s->list = nl;
        s->cap *= 2;
    }
    s->list[s->n++] = u;
    if (s->n > 32 && 2 * s->n > s->tcap) {
        size_t nc = s->tcap ? 2 * s->tcap : 128;
        const cd_uid **nt = mdt_arena_alloc(env->a, nc * sizeof(*nt));
        if (!nt)
            return EV_NOMEM;
        for (size_t i = 0; i < s->n; i++)
            tab_put(nt, nc, s->list[i]);
        s->tab = nt;
        s->tcap = nc;
    } else if (s->tab) {
        tab_put(s->tab, s->tcap, u);
    }
    return EV_OK;
}

/* Walks the hierarchy up from x (following each entity's parents in the
 * first store that has it) until stop is found (*found) or, with stop
 * NULL, to the end; with keep, the ancestors seen are left there (in the
 * arena). */
static ev_rc walk(ev_env *env, const cd_uid *x, const cd_uid *stop, bool *found,
                  seen_set *keep)
{
    seen_set seen = {.cap = 32};
    const cd_uid *stk_buf[32], **stk = stk_buf;
    size_t nstk = 0, capstk = 32;
    ev_rc rc;

    seen.list = seen.buf;
    *found = false;
    stk[nstk++] = x;
    while (nstk && !*found) {
        const cd_entity *e = lookup(env, stk[--nstk]);
        if (!e)
            continue;
        for (size_t i = 0; i < e->nparents; i++) {
            const cd_uid *par = &e->parents[i];
            if (stop && cd_uid_eq(par, stop)) {
                *found = true;
                break;
            }
            if (seen_has(&seen, par))
                continue;
            if ((rc = seen_add(env, &seen, par)) != EV_OK)
                return rc;
            if (nstk == capstk) {
                const cd_uid **nk = mdt_arena_alloc(env->a, 2 * capstk * sizeof(*nk));
                if (!nk)
                    return EV_NOMEM;
                memcpy(nk, stk, nstk * sizeof(*stk));
                stk = nk;
                capstk *= 2;
            }
            stk[nstk++] = par;
        }
    }
    if (keep) {
        if (seen.list == seen.buf) {
            const cd_uid **ns = mdt_arena_alloc(env->a, (seen.n ? seen.n : 1) * sizeof(*ns));
            if (!ns)
                return EV_NOMEM;
            memcpy(ns, seen.list, seen.n * sizeof(*ns));
            seen.list = ns;
        }
        *keep = seen;
    }
    return EV_OK;
}

/* Is x in target (reflexive, transitive)? */
static ev_rc in_hier(ev_env *env, const cd_uid *x, const cd_uid *target, bool *out)
{
    int v = x == &env->uids[0] ? 0 : x == &env->uids[1] ? 1 : x == &env->uids[2] ? 2 : -1;
    ev_rc rc;

    *out = false;
    if (cd_uid_eq(x, target)) {
        *out = true;
        return EV_OK;
    }
    if (v < 0)
        return walk(env, x, target, out, NULL);
    if (!env->anc_done[v]) {
        bool unused;
        if ((rc = walk(env, x, NULL, &unused, &env->anc[v])) != EV_OK)
            return rc;
        env->anc_done[v] = true;
    }
    *out = seen_has(&env->anc[v], target);
    return EV_OK;
}

static bool type_is(const cd_uid *u, const char *type, size_t tlen)
{
    return u->tlen == tlen && memcmp(u->type, type, tlen) == 0;
}

static bool like(const char *s, size_t n, const cd_seg *segs, size_t nsegs)
{
    const cd_seg *first = &segs[0], *last = &segs[nsegs - 1];
    size_t pos, end;

    if (nsegs == 1)
        return n == first->len && memcmp(s, first->s, n) == 0;
    if (n < (size_t)first->len + last->len || memcmp(s, first->s, first->len) != 0 ||
        memcmp(s + n - last->len, last->s, last->len) != 0)
        return false;
    pos = first->len;
    end = n - last->len;
    for (size_t i = 1; i + 1 < nsegs; i++) {
        const cd_seg *g = &segs[i];
        bool found = false;
        if (!g->len)
            continue;
        for (; pos + g->len <= end; pos++)
            if (memcmp(s + pos, g->s, g->len) == 0) {
                found = true;
                break;
            }
        if (!found)
            return false;
        pos += g->len;
    }
    return true;
}

static ev_rc eval(ev_env *env, const cd_node *n, cd_val *out);

static ev_rc eval_bool(ev_env *env, const cd_node *n, bool *out)
{
    cd_val v;
    ev_rc rc = eval(env, n, &v);

    if (rc != EV_OK)
        return rc;
    if (v.k != CD_BOOL)
        return EV_ERR;
    *out = v.u.b;
    return EV_OK;
}

static ev_rc eval_long(ev_env *env, const cd_node *n, int64_t *out)
{
    cd_val v;
    ev_rc rc = eval(env, n, &v);

    if (rc != EV_OK)
        return rc;
    if (v.k != CD_LONG)
        return EV_ERR;
    *out = v.u.l;
    return EV_OK;
}

static ev_rc eval_set(ev_env *env, const cd_node *n, cd_val *out)
{
    cd_set *s = mdt_arena_alloc(env->a, sizeof(*s) + n->n * sizeof(cd_val));
    ev_rc rc;

    if (!s)
        return EV_NOMEM;
    for (size_t i = 0; i < n->n; i++)
        if ((rc = eval(env, n->kids[i], &s->v[i])) != EV_OK)
            return rc;
    s->n = n->n;
    *out = (cd_val){.k = CD_SET, .u.set = s};
    return EV_OK;
}

static ev_rc eval_rec(ev_env *env, const cd_node *n, cd_val *out)
{
    mdt_cedar_record *r = mdt_arena_alloc(env->a, sizeof(*r));
    cd_val *v = mdt_arena_alloc(env->a, (n->n ? n->n : 1) * sizeof(*v));
    ev_rc rc;

    if (!r || !v)
        return EV_NOMEM;
    for (size_t i = 0; i < n->n; i++)
        if ((rc = eval(env, n->kids[i], &v[i])) != EV_OK)
            return rc;
    r->n = n->n;
    r->keys = n->keys;
    r->klens = n->klens;
    r->vals = v;
    *out = (cd_val){.k = CD_REC, .u.rec = r};
    return EV_OK;
}

/* a.name or a has name: the record to look in; *missing when a is an
 * entity that does not exist. */
static ev_rc attrs_of(ev_env *env, const cd_val *v, const mdt_cedar_record **rec,
                      bool *missing)
{
    *missing = false;
    if (v->k == CD_REC) {
        *rec = v->u.rec;
        return EV_OK;
    }
    if (v->k != CD_ENT)
        return EV_ERR;
    const cd_entity *e = lookup(env, v->u.e);
    if (!e) {
        *missing = true;
        *rec = NULL;
        return EV_OK;
    }
    *rec = e->attrs;
    return EV_OK;
}

static ev_rc eval_in(ev_env *env, const cd_val *l, const cd_val *r, bool *out)
{
    if (l->k != CD_ENT)
        return EV_ERR;
    if (r->k == CD_ENT)
        return in_hier(env, l->u.e, r->u.e, out);
    if (r->k != CD_SET)
        return EV_ERR;
    for (size_t i = 0; i < r->u.set->n; i++)
        if (r->u.set->v[i].k != CD_ENT)
            return EV_ERR;
    *out = false;
    for (size_t i = 0; i < r->u.set->n && !*out; i++) {
        ev_rc rc = in_hier(env, l->u.e, r->u.set->v[i].u.e, out);
        if (rc != EV_OK)
            return rc;
    }
    return EV_OK;
}

/* A set to look values up in: its elements hashed (in the arena) once it
 * is large enough for scanning it over and over to cost. */
typedef struct {
    const cd_set *s;
    const cd_val **tab;
    size_t cap;
} vset;

static ev_rc vset_init(ev_env *env, const cd_set *s, size_t lookups, vset *out)
{
    *out = (vset){.s = s};
    if (s->n < 16 || lookups < 4)
        return EV_OK;
    for (out->cap = 32; out->cap < 2 * s->n; out->cap *= 2)
        ;
    if (!(out->tab = mdt_arena_alloc(env->a, out->cap * sizeof(*out->tab))))
        return EV_NOMEM;
    for (size_t i = 0; i < s->n; i++) {
        size_t j = cd_val_hash(&s->v[i]) & (out->cap - 1);
        while (out->tab[j])
            j = (j + 1) & (out->cap - 1);
        out->tab[j] = &s->v[i];
    }
    return EV_OK;
}

static bool vset_has(const vset *vs, const cd_val *v)
{
    if (!vs->tab) {
        for (size_t i = 0; i < vs->s->n; i++)
            if (cd_val_eq(&vs->s->v[i], v))
                return true;
        return false;
    }
    for (size_t j = cd_val_hash(v) & (vs->cap - 1); vs->tab[j]; j = (j + 1) & (vs->cap - 1))
        if (cd_val_eq(vs->tab[j], v))
            return true;
    return false;
}

/* How many elements of a are in b: all (want_all) or any? */
static ev_rc set_in(ev_env *env, const cd_set *a, const cd_set *b, bool want_all, bool *out)
{
    vset vs;
    ev_rc rc = vset_init(env, b, a->n, &vs);

    if (rc != EV_OK)
        return rc;
    *out = want_all;
    for (size_t i = 0; i < a->n; i++)
        if (vset_has(&vs, &a->v[i]) != want_all) {
            *out = !want_all;
            break;
        }
    return EV_OK;
}

static ev_rc equal(ev_env *env, const cd_val *l, const cd_val *r, bool *out)
{
    ev_rc rc;

    if (l->k != CD_SET || r->k != CD_SET || l->u.set == r->u.set ||
        l->u.set->n * r->u.set->n < 256) {
        *out = cd_val_eq(l, r);
        return EV_OK;
    }
    if ((rc = set_in(env, l->u.set, r->u.set, true, out)) != EV_OK || !*out)
        return rc;
    return set_in(env, r->u.set, l->u.set, true, out);
}

static ev_rc eval_arith(ev_env *env, const cd_node *n, cd_val *out)
{
    int64_t a, b, r = 0;
    bool ovf;
    ev_rc rc;

    if ((rc = eval_long(env, n->a, &a)) != EV_OK || (rc = eval_long(env, n->b, &b)) != EV_OK)
        return rc;
    switch ((cd_op)n->op) {
    case CD_N_ADD:
        ovf = __builtin_add_overflow(a, b, &r);
        break;
    case CD_N_SUB:
        ovf = __builtin_sub_overflow(a, b, &r);
        break;
    default:
        ovf = __builtin_mul_overflow(a, b, &r);
        break;
    }
    if (ovf)
        return EV_ERR;
    *out = (cd_val){.k = CD_LONG, .u.l = r};
    return EV_OK;
}

static ev_rc eval_cmp(ev_env *env, const cd_node *n, cd_val *out)
{
    int64_t a, b;
    bool r;
    ev_rc rc;

    if ((rc = eval_long(env, n->a, &a)) != EV_OK || (rc = eval_long(env, n->b, &b)) != EV_OK)
        return rc;
    switch ((cd_op)n->op) {
    case CD_N_LT:
        r = a < b;
        break;
    case CD_N_LE:
        r = a <= b;
        break;
    case CD_N_GT:
        r = a > b;
        break;
    default:
        r = a >= b;
        break;
    }
    *out = (cd_val){.k = CD_BOOL, .u.b = r};
    return EV_OK;
}

static ev_rc eval_contains(ev_env *env, const cd_node *n, cd_val *out)
{
    cd_val s, x;
    bool r = false;
    ev_rc rc;

    if ((rc = eval(env, n->a, &s)) != EV_OK || (rc = eval(env, n->b, &x)) != EV_OK)
        return rc;
    if (s.k != CD_SET)
        return EV_ERR;
    if (n->op == CD_N_CONTAINS) {
        for (size_t i = 0; i < s.u.set->n && !r; i++)
            r = cd_val_eq(&s.u.set->v[i], &x);
    } else {
        if (x.k != CD_SET)
            return EV_ERR;
        if ((rc = set_in(env, x.u.set, s.u.set, n->op == CD_N_CONTAINS_ALL, &r)) != EV_OK)
            return rc;
    }
    *out = (cd_val){.k = CD_BOOL, .u.b = r};
    return EV_OK;
}

static ev_rc eval_attr(ev_env *env, const cd_node *n, cd_val *out)
{
    const mdt_cedar_record *rec;
    const cd_val *v;
    bool missing;
    cd_val o;
    ev_rc rc;

    if ((rc = eval(env, n->a, &o)) != EV_OK || (rc = attrs_of(env, &o, &rec, &missing)) != EV_OK)
        return rc;
    v = cd_rec_get(rec, n->name, n->nlen);
    if (n->op == CD_N_HAS) {
        *out = (cd_val){.k = CD_BOOL, .u.b = v != NULL};
        return EV_OK;
    }
    if (!v)
        return EV_ERR; /* no such attribute, or no such entity */
    *out = *v;
    return EV_OK;
}

static ev_rc eval_is(ev_env *env, const cd_node *n, cd_val *out)
{
    cd_val l, r;
    bool b;
    ev_rc rc;

    if ((rc = eval(env, n->a, &l)) != EV_OK)
        return rc;
    if (l.k != CD_ENT)
        return EV_ERR;
    b = type_is(l.u.e, n->name, n->nlen);
    if (b && n->b) {
        if ((rc = eval(env, n->b, &r)) != EV_OK || (rc = eval_in(env, &l, &r, &b)) != EV_OK)
            return rc;
    }
    *out = (cd_val){.k = CD_BOOL, .u.b = b};
    return EV_OK;
}

static ev_rc eval(ev_env *env, const cd_node *n, cd_val *out)
{
    cd_val l, r;
    bool b;
    ev_rc rc;

    switch ((cd_op)n->op) {
    case CD_N_LIT:
        *out = n->lit;
        return EV_OK;
    case CD_N_VAR:
        *out = env->vars[n->var];
        return EV_OK;
    case CD_N_SET:
        return eval_set(env, n, out);
    case CD_N_REC:
        return eval_rec(env, n, out);
    case CD_N_IF:
        if ((rc = eval_bool(env, n->a, &b)) != EV_OK)
            return rc;
        return eval(env, b ? n->b : n->c, out);
    case CD_N_OR:
    case CD_N_AND:
        if ((rc = eval_bool(env, n->a, &b)) != EV_OK)
            return rc;
        if (b == (n->op == CD_N_AND) && (rc = eval_bool(env, n->b, &b)) != EV_OK)
            return rc;
        *out = (cd_val){.k = CD_BOOL, .u.b = b};
        return EV_OK;
    case CD_N_EQ:
    case CD_N_NE:
        if ((rc = eval(env, n->a, &l)) != EV_OK || (rc = eval(env, n->b, &r)) != EV_OK ||
            (rc = equal(env, &l, &r, &b)) != EV_OK)
            return rc;
        *out = (cd_val){.k = CD_BOOL, .u.b = b == (n->op == CD_N_EQ)};
        return EV_OK;
    case CD_N_LT:
    case CD_N_LE:
    case CD_N_GT:
    case CD_N_GE:
        return eval_cmp(env, n, out);
    case CD_N_IN:
        if ((rc = eval(env, n->a, &l)) != EV_OK || (rc = eval(env, n->b, &r)) != EV_OK ||
            (rc = eval_in(env, &l, &r, &b)) != EV_OK)
            return rc;
        *out = (cd_val){.k = CD_BOOL, .u.b = b};
        return EV_OK;
    case CD_N_HAS:
    case CD_N_GET:
        return eval_attr(env, n, out);
    case CD_N_LIKE:
        if ((rc = eval(env, n->a, &l)) != EV_OK)
            return rc;
        if (l.k != CD_STR)
            return EV_ERR;
        *out = (cd_val){.k = CD_BOOL, .u.b = like(l.u.s, l.len, n->segs, n->n)};
        return EV_OK;
    case CD_N_IS:
        return eval_is(env, n, out);
    case CD_N_ADD:
    case CD_N_SUB:
    case CD_N_MUL:
        return eval_arith(env, n, out);
    case CD_N_NOT:
        if ((rc = eval_bool(env, n->a, &b)) != EV_OK)
            return rc;
        *out = (cd_val){.k = CD_BOOL, .u.b = !b};
        return EV_OK;
    case CD_N_NEG: {
        int64_t x;
        if ((rc = eval_long(env, n->a, &x)) != EV_OK)
            return rc;
        if (x == INT64_MIN)
            return EV_ERR;
        *out = (cd_val){.k = CD_LONG, .u.l = -x};
        return EV_OK;
    }
    case CD_N_CONTAINS:
    case CD_N_CONTAINS_ALL:
    case CD_N_CONTAINS_ANY:
        return eval_contains(env, n, out);
    }
    return EV_ERR;
}

/* Scope constraints never err. */
static ev_rc scope_ok(ev_env *env, const cd_scope *sc, const cd_uid *u, bool *out)
{
    *out = true;
    switch (sc->kind) {
    case CD_SC_ANY:
        return EV_OK;
    case CD_SC_EQ:
        *out = cd_uid_eq(u, &sc->uid);
        return EV_OK;
    case CD_SC_IS:
        *out = type_is(u, sc->type, sc->tlen);
        return EV_OK;
    case CD_SC_IS_IN:
        if (!type_is(u, sc->type, sc->tlen)) {
            *out = false;
            return EV_OK;
        }
        return in_hier(env, u, &sc->uid, out);
    case CD_SC_IN:
        return in_hier(env, u, &sc->uid, out);
    case CD_SC_IN_SET:
        *out = false;
        for (size_t i = 0; i < sc->nset && !*out; i++) {
            ev_rc rc = in_hier(env, u, &sc->set[i], out);
            if (rc != EV_OK)
                return rc;
        }
        return EV_OK;
    }
    return EV_OK;
}

/* EV_OK with *sat, EV_ERR when a condition erred. */
static ev_rc policy_eval(ev_env *env, const cd_policy *p, bool *sat)
{
    ev_rc rc;

    *sat = false;
    for (int i = 0; i < 3; i++) {
        bool ok;
        if ((rc = scope_ok(env, &p->sc[i], &env->uids[i], &ok)) != EV_OK)
            return rc;
        if (!ok)
            return EV_OK;
    }
    for (size_t i = 0; i < p->nconds; i++) {
        bool b;
        if ((rc = eval_bool(env, p->conds[i].expr, &b)) != EV_OK)
            return rc;
        if (b == p->conds[i].unless)
            return EV_OK;
    }
    *sat = true;
    return EV_OK;
}

static void set_uid(cd_uid *u, const mdt_cedar_uid *r)
{
    u->type = r->type ? r->type : "";
    u->id = r->id ? r->id : "";
    u->tlen = (uint32_t)strlen(u->type);
    u->ilen = (uint32_t)strlen(u->id);
    u->hash = cd_uid_hash(u->type, u->tlen, u->id, u->ilen);
}

static const mdt_cedar_record empty_record;

mdt_rc mdt_cedar_eval(const mdt_cedar_set *s, const mdt_cedar_entities *const *stores,
                      size_t nstores, const mdt_cedar_request *r, mdt_arena *a,
                      mdt_cedar_decision *out, mdt_err *err)
{
    ev_env env = {.stores = stores, .nstores = nstores, .a = a};
    size_t n = s->n, nforbid = 0, npermit = 0, nerr = 0;
    uint8_t small[256], *res = small; /* per policy: 0 no, 1 satisfied, 2 erred */

    memset(out, 0, sizeof(*out));
    set_uid(&env.uids[0], &r->principal);
    set_uid(&env.uids[1], &r->action);
    set_uid(&env.uids[2], &r->resource);
    for (int i = 0; i < 3; i++)
        env.vars[i] = (cd_val){.k = CD_ENT, .u.e = &env.uids[i]};
    env.vars[3] = (cd_val){.k = CD_REC, .u.rec = r->context ? r->context : &empty_record};
    if (n > sizeof(small) && !(res = mdt_arena_alloc(a, n)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        bool sat;
        ev_rc rc = policy_eval(&env, s->pols[i], &sat);
        if (rc == EV_NOMEM)
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        res[i] = rc == EV_ERR ? 2 : sat ? 1 : 0;
        if (rc == EV_ERR)
            nerr++;
        else if (sat && s->pols[i]->forbid)
            nforbid++;
        else if (sat)
            npermit++;
    }
    out->allow = nforbid == 0 && npermit > 0;
    out->nreasons = nforbid ? nforbid : out->allow ? npermit : 0;
    if (out->nreasons && !(out->reasons = mdt_arena_alloc(a, out->nreasons * sizeof(char *))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (nerr && !(out->errors = mdt_arena_alloc(a, nerr * sizeof(char *))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0, nr = 0; i < n; i++) {
        if (res[i] == 2)
            out->errors[out->nerrors++] = s->pols[i]->id;
        else if (res[i] == 1 && out->nreasons && s->pols[i]->forbid == (nforbid > 0))
            out->reasons[nr++] = s->pols[i]->id;
    }
    return MDT_OK;
}

/* --- policy sets --- */

mdt_rc mdt_cedar_set_new(mdt_cedar_set **out, mdt_err *err)
{
    mdt_cedar_set *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (!s)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_arena_init(&s->arena, 64 * 1024);
    *out = s;
    return MDT_OK;
}

mdt_rc mdt_cedar_set_add(mdt_cedar_set *s, const char *text, size_t len, const char *id,
                         mdt_err *err)
{
    cd_policy **pols = NULL;
    size_t n = 0;
    mdt_rc rc = cd_parse(&s->arena, text, len, &pols, &n, err);

    if (rc != MDT_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char buf[300];
        if (pols[i]->id)
            continue;
        if (id && n == 1)
            snprintf(buf, sizeof(buf), "%s", id);
        else if (id)
            snprintf(buf, sizeof(buf), "%s.%zu", id, i);
        else
            snprintf(buf, sizeof(buf), "policy%zu", s->n + i);
        if (!(pols[i]->id = mdt_arena_strdup(&s->arena, buf)))
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    /* @id's must not clash either, with the set or within the text */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < s->n + i; j++) {
            const char *other = j < s->n ? s->pols[j]->id : pols[j - s->n]->id;
            if (strcmp(other, pols[i]->id) == 0)
                return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "duplicate policy id",
                                 "duplicate policy id %s", pols[i]->id);
        }
    if (s->n + n > s->cap) {
        size_t nc = s->cap ? s->cap : 16;
        while (nc < s->n + n)
            nc *= 2;
        cd_policy **np = realloc(s->pols, nc * sizeof(*np));
        if (!np)
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        s->pols = np;
        s->cap = nc;
    }
    if (n)
        memcpy(s->pols + s->n, pols, n * sizeof(*pols));
    s->n += n;
    return MDT_OK;
}

size_t mdt_cedar_set_count(const mdt_cedar_set *s) { return s ? s->n : 0; }

const char *mdt_cedar_set_id(const mdt_cedar_set *s, size_t i)
{
    return s && i < s->n ? s->pols[i]->id : NULL;
}

const char *mdt_cedar_set_effect(const mdt_cedar_set *s, size_t i)
{
    return s && i < s->n ? (s->pols[i]->forbid ? "forbid" : "permit") : NULL;
}

void mdt_cedar_set_free(mdt_cedar_set *s)
{
    if (!s)
        return;
    mdt_arena_free(&s->arena);
    free(s->pols);
    free(s);
}
