/* The Cedar lexer and parser: policy text to the tree of internal.h, with
 * Cedar's grammar and precedence (if-then-else; ||; &&; one relation ==,
 * !=, <, <=, >, >=, in, has, like, is [in]; + -; *; up to four ! or -;
 * member access and the set methods; primaries). Parse errors name the
 * line and column. Nesting and tree depth are bounded so that hostile text
 * cannot exhaust the stack here or in the evaluator. */
#include "core/b64.h"
#include "policy/cedar/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_EQ = 256, P_NE, P_LE, P_GE, P_AND, P_OR, P_DCOLON };
typedef enum { T_EOF, T_IDENT, T_STR, T_INT, T_PUNCT } tkind;

typedef struct {
    tkind k;
    int punct;
    const char *p; /* IDENT, INT: the text; STR: between the quotes */
    size_t len;
    uint32_t line, col;
} tok;

typedef struct {
    mdt_arena *a;
    const char *s;
    size_t len, pos;
    uint32_t line, col;
    tok t;
    int nest;
    bool failed;
    mdt_err *err;
} ps;

/* The public message of a parse error, which names its position: kept per
 * thread until the thread's next parse error. */
static _Thread_local char errbuf[200];

static mdt_rc failat(ps *p, uint32_t line, uint32_t col, const char *fmt, ...) MDT_PRINTF(4, 5);
static mdt_rc failat(ps *p, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char m[160];
    va_list ap;

    if (p->failed)
        return MDT_ERR_INVALID_REQUEST;
    p->failed = true;
    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    snprintf(errbuf, sizeof(errbuf), "line %u, column %u: %s", (unsigned)line, (unsigned)col, m);
    return mdt_failf(p->err, MDT_ERR_INVALID_REQUEST, errbuf, "cedar: %s", errbuf);
}

#define FAIL(p, ...) failat((p), (p)->t.line, (p)->t.col, __VA_ARGS__)

static mdt_rc nomem(ps *p)
{
    p->failed = true;
    return mdt_fail(p->err, MDT_ERR_NOMEM, "out of memory");
}

/* --- lexer --- */

static void adv(ps *p)
{
    unsigned char c = (unsigned char)p->s[p->pos++];

    if (c == '\n') {
        p->line++;
        p->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        p->col++;
    }
}

static bool is_id0(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_id(int c) { return is_id0(c) || (c >= '0' && c <= '9'); }

static mdt_rc lex(ps *p)
{
    tok *t = &p->t;

    for (;;) {
        while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
            adv(p);
        if (p->pos + 1 < p->len && p->s[p->pos] == '/' && p->s[p->pos + 1] == '/') {
            while (p->pos < p->len && p->s[p->pos] != '\n')
                adv(p);
            continue;
        }
        break;
    }
    *t = (tok){.k = T_EOF, .p = p->s + p->pos, .line = p->line, .col = p->col};
    if (p->pos >= p->len)
        return MDT_OK;
    int c = (unsigned char)p->s[p->pos];
    if (is_id0(c)) {
        t->k = T_IDENT;
        while (p->pos < p->len && is_id((unsigned char)p->s[p->pos]))
            adv(p);
    } else if (c >= '0' && c <= '9') {
        t->k = T_INT;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            adv(p);
        if (p->pos < p->len && is_id((unsigned char)p->s[p->pos]))
            return FAIL(p, "invalid number");
    } else if (c == '"') {
        t->k = T_STR;
        adv(p);
        t->p = p->s + p->pos;
        while (p->pos < p->len && p->s[p->pos] != '"') {
            if (p->s[p->pos] == '\\' && p->pos + 1 < p->len)
                adv(p);
            adv(p);
        }
        if (p->pos >= p->len)
            return FAIL(p, "unterminated string");
        t->len = (size_t)(p->s + p->pos - t->p);
        adv(p);
        return MDT_OK;
    } else {
        static const struct {
            char s[3];
            int punct;
        } two[] = {{"==", P_EQ}, {"!=", P_NE}, {"<=", P_LE}, {">=", P_GE},
                   {"&&", P_AND}, {"||", P_OR}, {"::", P_DCOLON}};
        t->k = T_PUNCT;
        t->punct = c;
        if (p->pos + 1 < p->len)
            for (size_t i = 0; i < MDT_ARRAY_LEN(two); i++)
                if (p->s[p->pos] == two[i].s[0] && p->s[p->pos + 1] == two[i].s[1]) {
                    t->punct = two[i].punct;
                    adv(p);
                    break;
                }
        if (t->punct == c && !strchr("(){}[],;.<>!-+*/%@?=&|:", c))
            return FAIL(p, "unexpected character");
        if (t->punct == c && c == '\0')
            return FAIL(p, "unexpected character");
        adv(p);
    }
    t->len = (size_t)(p->s + p->pos - t->p);
    return MDT_OK;
}

static bool is_p(const ps *p, int punct) { return p->t.k == T_PUNCT && p->t.punct == punct; }

static bool is_kw(const ps *p, const char *kw)
{
    return p->t.k == T_IDENT && p->t.len == strlen(kw) && memcmp(p->t.p, kw, p->t.len) == 0;
}

static mdt_rc unexpected(ps *p)
{
    if (p->t.k == T_EOF)
        return FAIL(p, "unexpected end of input");
    if (is_p(p, '?'))
        return FAIL(p, "templates (?principal, ?resource) are outside the supported Cedar subset");
    return FAIL(p, "unexpected token `%.*s`", (int)(p->t.len > 40 ? 40 : p->t.len), p->t.p);
}

static mdt_rc expect(ps *p, int punct, const char *what)
{
    if (!is_p(p, punct))
        return p->t.k == T_EOF ? FAIL(p, "expected %s, found end of input", what)
                               : FAIL(p, "expected %s", what);
    return lex(p);
}

static bool reserved(const char *s, size_t n)
{
    static const char *const words[] = {"true", "false", "if", "then", "else",
                                        "in", "is", "like", "has", "__cedar"};
    for (size_t i = 0; i < MDT_ARRAY_LEN(words); i++)
        if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
            return true;
    return false;
}

/* An identifier that names something (attribute, type, key). */
static mdt_rc ident(ps *p, const char **s, uint32_t *n)
{
    if (p->t.k != T_IDENT)
        return p->t.k == T_EOF ? FAIL(p, "expected an identifier, found end of input")
                               : FAIL(p, "expected an identifier");
    if (reserved(p->t.p, p->t.len))
        return FAIL(p, "`%.*s` is a reserved identifier", (int)p->t.len, p->t.p);
    *s = mdt_arena_strndup(p->a, p->t.p, p->t.len);
    if (!*s)
        return nomem(p);
    *n = (uint32_t)p->t.len;
    return lex(p);
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the string token t with Cedar's escapes. With pattern set, `\*`
 * is a literal star and a bare `*` a wildcard: the output is then split in
 * segs (one more than the wildcards). */
static mdt_rc unescape(ps *p, const tok *t, bool pattern, char **out, uint32_t *olen,
                       cd_seg **segs, size_t *nsegs)
{
    char *o = mdt_arena_alloc(p->a, t->len + 1);
    size_t n = 0, nseg = 1, segstart = 0;
    cd_seg *sg = NULL;

    if (!o)
        return nomem(p);
    if (pattern) {
        /* a star, or an escape that may spell one (\x2a, \u{2a}: as in
         * Cedar, only \* is a literal star) */
        for (size_t i = 0; i < t->len; i++)
            if (t->p[i] == '\\')
                nseg += ++i < t->len && (t->p[i] == 'x' || t->p[i] == 'u');
            else if (t->p[i] == '*')
                nseg++;
        if (!(sg = mdt_arena_alloc(p->a, nseg * sizeof(*sg))))
            return nomem(p);
        nseg = 0;
    }
    for (size_t i = 0; i < t->len; i++) {
        char c = t->p[i];
        if (pattern && c == '*') {
            sg[nseg++] = (cd_seg){o + segstart, (uint32_t)(n - segstart)};
            segstart = n;
            continue;
        }
        if (c != '\\') {
            o[n++] = c;
            continue;
        }
        char e = ++i < t->len ? t->p[i] : '\0';
        char simple = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e == '0' ? '\0'
                    : (e == '\\' || e == '\'' || e == '"') ? e : 'x';
        if (pattern && e == '*') {
            o[n++] = '*';
        } else if (simple != 'x') {
            o[n++] = simple;
        } else if (e == 'x' && i + 2 < t->len + 0 && mdt_hex_value(t->p[i + 1]) >= 0 &&
                   mdt_hex_value(t->p[i + 2]) >= 0 && mdt_hex_value(t->p[i + 1]) < 8) {
            o[n++] = (char)(mdt_hex_value(t->p[i + 1]) * 16 + mdt_hex_value(t->p[i + 2]));
            i += 2;
            if (pattern && o[n - 1] == '*') { /* \x2a is a wildcard */
                n--;
                sg[nseg++] = (cd_seg){o + segstart, (uint32_t)(n - segstart)};
                segstart = n;
            }
        } else if (e == 'u' && i + 1 < t->len && t->p[i + 1] == '{') {
            uint32_t cp = 0;
            size_t j = i + 2, digits = 0;
            while (j < t->len && mdt_hex_value(t->p[j]) >= 0 && digits < 7) {
                cp = cp * 16 + (uint32_t)mdt_hex_value(t->p[j]);
                j++;
                digits++;
            }
            if (j >= t->len || t->p[j] != '}' || digits == 0 || digits > 6 || cp > 0x10FFFF ||
                (cp >= 0xD800 && cp <= 0xDFFF))
                return failat(p, t->line, t->col, "invalid unicode escape in string");
            i = j;
            if (pattern && cp == '*') { /* \u{2a} is a wildcard */
                sg[nseg++] = (cd_seg){o + segstart, (uint32_t)(n - segstart)};
                segstart = n;
                continue;
            }
            n += utf8_put(o + n, cp);
        } else {
            return failat(p, t->line, t->col, "invalid escape `\\%c` in string",
                          e ? e : '?');
        }
    }
    o[n] = '\0';
    if (pattern) {
        sg[nseg++] = (cd_seg){o + segstart, (uint32_t)(n - segstart)};
        *segs = sg;
        *nsegs = nseg;
    }
    *out = o;
    *olen = (uint32_t)n;
    return MDT_OK;
}

/* --- nodes --- */

typedef struct {
    cd_node n;
    uint32_t depth;
} dnode;

static uint32_t depth_of(const cd_node *n) { return n ? ((const dnode *)n)->depth : 0; }

static cd_node *mk(ps *p, cd_op op, const cd_node *a, const cd_node *b, const cd_node *c)
{
    dnode *d = mdt_arena_alloc(p->a, sizeof(*d));
    uint32_t depth = depth_of(a);

    if (!d) {
        nomem(p);
        return NULL;
    }
    if (depth_of(b) > depth)
        depth = depth_of(b);
    if (depth_of(c) > depth)
        depth = depth_of(c);
    d->depth = depth + 1;
    d->n.op = (uint8_t)op;
    d->n.a = a;
    d->n.b = b;
    d->n.c = c;
    if (d->depth > CD_DEPTH_MAX) {
        FAIL(p, "expression too deeply nested");
        return NULL;
    }
    return &d->n;
}

static cd_node *mk_lit(ps *p, cd_val v)
{
    cd_node *n = mk(p, CD_N_LIT, NULL, NULL, NULL);
    if (n)
        n->lit = v;
    return n;
}

static cd_uid *mk_uid(ps *p, const char *type, size_t tlen, const char *id, size_t ilen)
{
    cd_uid *u = mdt_arena_alloc(p->a, sizeof(*u));

    if (!u) {
        nomem(p);
        return NULL;
    }
    u->type = type;
    u->tlen = (uint32_t)tlen;
    u->id = id;
    u->ilen = (uint32_t)ilen;
    u->hash = cd_uid_hash(type, tlen, id, ilen);
    return u;
}

/* The rest of a path {:: IDENT} after its first identifier; stops before
 * `:: "id"` (the caller reads the id). */
static mdt_rc path_rest(ps *p, const char *first, uint32_t flen, const char **out, uint32_t *olen)
{
    mdt_rc rc;
    char buf[1024];
    size_t n = flen;

    if (flen >= sizeof(buf))
        return FAIL(p, "name too long");
    memcpy(buf, first, flen);
    while (is_p(p, P_DCOLON)) {
        tok dc = p->t;
        size_t spos = p->pos;
        uint32_t sl = p->line, scol = p->col;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
        if (p->t.k != T_IDENT) { /* `:: "id"`: give the `::` back */
            p->pos = spos;
            p->line = sl;
            p->col = scol;
            p->t = dc;
            break;
        }
        const char *part;
        uint32_t plen;
        if ((rc = ident(p, &part, &plen)) != MDT_OK)
            return rc;
        if (n + 2 + plen >= sizeof(buf))
            return FAIL(p, "name too long");
        memcpy(buf + n, "::", 2);
        memcpy(buf + n + 2, part, plen);
        n += 2 + plen;
    }
    if (!(*out = mdt_arena_strndup(p->a, buf, n)))
        return nomem(p);
    *olen = (uint32_t)n;
    return MDT_OK;
}

/* A type name: IDENT {:: IDENT}. */
static mdt_rc type_name(ps *p, const char **out, uint32_t *olen)
{
    const char *first;
    uint32_t flen;
    mdt_rc rc = ident(p, &first, &flen);

    if (rc != MDT_OK)
        return rc;
    if ((rc = path_rest(p, first, flen, out, olen)) != MDT_OK)
        return rc;
    if (is_p(p, P_DCOLON))
        return FAIL(p, "expected a type name, found an entity");
    return MDT_OK;
}

/* Type::"id" once the type's first identifier is read. */
static mdt_rc entity_rest(ps *p, const char *first, uint32_t flen, const cd_uid **out)
{
    const char *type;
    uint32_t tlen, ilen;
    char *id;
    mdt_rc rc = path_rest(p, first, flen, &type, &tlen);

    if (rc != MDT_OK)
        return rc;
    if (!is_p(p, P_DCOLON))
        return FAIL(p, "expected `::\"id\"` after the entity type `%.*s`", (int)tlen, type);
    if ((rc = lex(p)) != MDT_OK)
        return rc;
    if (p->t.k != T_STR)
        return FAIL(p, "expected an entity id string");
    tok st = p->t;
    if ((rc = unescape(p, &st, false, &id, &ilen, NULL, NULL)) != MDT_OK)
        return rc;
    if (!(*out = mk_uid(p, type, tlen, id, ilen)))
        return MDT_ERR_NOMEM;
    return lex(p);
}

static mdt_rc entity(ps *p, const cd_uid **out)
{
    const char *first;
    uint32_t flen;
    mdt_rc rc;

    if (is_p(p, '?'))
        return unexpected(p);
    if (is_p(p, '['))
        return FAIL(p, "expected a single entity, found a set");
    if ((rc = ident(p, &first, &flen)) != MDT_OK)
        return rc;
    return entity_rest(p, first, flen, out);
}

/* --- expressions --- */

static mdt_rc expr(ps *p, const cd_node **out);

static mdt_rc open_nest(ps *p)
{
    if (++p->nest > CD_NEST_MAX)
        return FAIL(p, "expression too deeply nested");
    return lex(p);
}

/* Folds a set or record literal of literals into one literal value. */
static void fold(ps *p, cd_node *n)
{
    for (size_t i = 0; i < n->n; i++)
        if (n->kids[i]->op != CD_N_LIT)
            return;
    if (n->op == CD_N_SET) {
        cd_set *s = mdt_arena_alloc(p->a, sizeof(*s) + n->n * sizeof(cd_val));
        if (!s)
            return;
        s->n = n->n;
        for (size_t i = 0; i < n->n; i++)
            s->v[i] = n->kids[i]->lit;
        n->lit = (cd_val){.k = CD_SET, .u.set = s};
    } else {
        mdt_cedar_record *r = mdt_arena_alloc(p->a, sizeof(*r));
        cd_val *v = mdt_arena_alloc(p->a, (n->n ? n->n : 1) * sizeof(*v));
        if (!r || !v)
            return;
        for (size_t i = 0; i < n->n; i++)
            v[i] = n->kids[i]->lit;
        r->n = n->n;
        r->keys = n->keys;
        r->klens = n->klens;
        r->vals = v;
        n->lit = (cd_val){.k = CD_REC, .u.rec = r};
    }
    n->op = CD_N_LIT;
}

static mdt_rc list(ps *p, int close, const cd_node ***kids, size_t *nkids)
{
    const cd_node *tmp[64], **k = tmp;
    size_t n = 0, cap = MDT_ARRAY_LEN(tmp);
    mdt_rc rc;

    while (!is_p(p, close)) {
        if (n == cap) {
            const cd_node **nk = mdt_arena_alloc(p->a, 2 * cap * sizeof(*nk));
            if (!nk)
                return nomem(p);
            memcpy(nk, k, n * sizeof(*k));
            k = nk;
            cap *= 2;
        }
        if ((rc = expr(p, &k[n])) != MDT_OK)
            return rc;
        n++;
        if (!is_p(p, ','))
            break;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
    }
    if (!is_p(p, close))
        return FAIL(p, close == ']' ? "expected `,` or `]`" : "expected `,` or `)`");
    *kids = mdt_arena_alloc(p->a, (n ? n : 1) * sizeof(**kids));
    if (!*kids)
        return nomem(p);
    memcpy(*kids, k, n * sizeof(*k));
    *nkids = n;
    p->nest--;
    return lex(p);
}

typedef struct {
    const char *k;
    uint32_t l;
    const cd_node *v;
} kx;

static int kx_cmp(const void *x, const void *y)
{
    const kx *a = x, *b = y;
    return cd_key_cmp(a->k, a->l, b->k, b->l);
}

static mdt_rc record(ps *p, const cd_node **out)
{
    const char *kt[64], **keys = kt;
    uint32_t lt[64], *lens = lt;
    const cd_node *vt[64], **vals = vt;
    size_t n = 0, cap = 64, dup = 0;
    uint32_t line = p->t.line, col = p->t.col;
    mdt_rc rc;

    if ((rc = open_nest(p)) != MDT_OK)
        return rc;
    while (!is_p(p, '}')) {
        if (n == cap) {
            const char **nk = mdt_arena_alloc(p->a, 2 * cap * sizeof(*nk));
            uint32_t *nl = mdt_arena_alloc(p->a, 2 * cap * sizeof(*nl));
            const cd_node **nv = mdt_arena_alloc(p->a, 2 * cap * sizeof(*nv));
            if (!nk || !nl || !nv)
                return nomem(p);
            memcpy(nk, keys, n * sizeof(*keys));
            memcpy(nl, lens, n * sizeof(*lens));
            memcpy(nv, vals, n * sizeof(*vals));
            keys = nk, lens = nl, vals = nv, cap *= 2;
        }
        if (p->t.k == T_STR) {
            char *k;
            tok st = p->t;
            if ((rc = unescape(p, &st, false, &k, &lens[n], NULL, NULL)) != MDT_OK ||
                (rc = lex(p)) != MDT_OK)
                return rc;
            keys[n] = k;
        } else if ((rc = ident(p, &keys[n], &lens[n])) != MDT_OK) {
            return rc;
        }
        if ((rc = expect(p, ':', "`:`")) != MDT_OK || (rc = expr(p, &vals[n])) != MDT_OK)
            return rc;
        n++;
        if (!is_p(p, ','))
            break;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
    }
    if (!is_p(p, '}'))
        return FAIL(p, "expected `,` or `}`");
    p->nest--;
    cd_node *r = mk(p, CD_N_REC, NULL, NULL, NULL);
    const char **k = mdt_arena_alloc(p->a, (n ? n : 1) * sizeof(*k));
    uint32_t *l = mdt_arena_alloc(p->a, (n ? n : 1) * sizeof(*l));
    const cd_node **v = mdt_arena_alloc(p->a, (n ? n : 1) * sizeof(*v));
    if (!r || !k || !l || !v)
        return p->failed ? MDT_ERR_INVALID_REQUEST : nomem(p);
    kx *t = n ? mdt_arena_alloc(p->a, n * sizeof(*t)) : NULL;
    if (n && !t)
        return nomem(p);
    for (size_t i = 0; i < n; i++) {
        t[i] = (kx){keys[i], lens[i], vals[i]};
        if (depth_of(vals[i]) + 1 > ((dnode *)r)->depth)
            ((dnode *)r)->depth = depth_of(vals[i]) + 1;
    }
    if (n)
        qsort(t, n, sizeof(*t), kx_cmp);
    for (size_t i = 0; i < n; i++)
        k[i] = t[i].k, l[i] = t[i].l, v[i] = t[i].v;
    for (size_t i = 1; i < n; i++)
        if (cd_key_cmp(k[i - 1], l[i - 1], k[i], l[i]) == 0)
            dup = i;
    if (dup)
        return failat(p, line, col, "duplicate key `%.*s` in record literal", (int)l[dup], k[dup]);
    if (((dnode *)r)->depth > CD_DEPTH_MAX)
        return FAIL(p, "expression too deeply nested");
    r->n = n;
    r->keys = k;
    r->klens = l;
    r->kids = v;
    fold(p, r);
    *out = r;
    return lex(p);
}

static mdt_rc set_literal(ps *p, const cd_node **out)
{
    cd_node *s;
    mdt_rc rc;

    if ((rc = open_nest(p)) != MDT_OK)
        return rc;
    if (!(s = mk(p, CD_N_SET, NULL, NULL, NULL)))
        return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
    if ((rc = list(p, ']', &s->kids, &s->n)) != MDT_OK)
        return rc;
    for (size_t i = 0; i < s->n; i++)
        if (depth_of(s->kids[i]) + 1 > ((dnode *)s)->depth)
            ((dnode *)s)->depth = depth_of(s->kids[i]) + 1;
    if (((dnode *)s)->depth > CD_DEPTH_MAX)
        return FAIL(p, "expression too deeply nested");
    fold(p, s);
    *out = s;
    return MDT_OK;
}

static mdt_rc primary_ident(ps *p, const cd_node **out)
{
    static const char *const vars[] = {"principal", "action", "resource", "context"};
    tok t = p->t;
    mdt_rc rc;

    if (is_kw(p, "true") || is_kw(p, "false")) {
        bool b = is_kw(p, "true");
        if (!(*out = mk_lit(p, (cd_val){.k = CD_BOOL, .u.b = b})))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        return lex(p);
    }
    if (reserved(t.p, t.len))
        return unexpected(p);
    if ((rc = lex(p)) != MDT_OK)
        return rc;
    if (is_p(p, P_DCOLON)) {
        const cd_uid *u;
        const char *first = mdt_arena_strndup(p->a, t.p, t.len);
        if (!first)
            return nomem(p);
        if ((rc = entity_rest(p, first, (uint32_t)t.len, &u)) != MDT_OK)
            return rc;
        if (!(*out = mk_lit(p, (cd_val){.k = CD_ENT, .u.e = u})))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        return MDT_OK;
    }
    if (is_p(p, '('))
        return failat(p, t.line, t.col,
                      "extension function `%.*s` is outside the supported Cedar subset",
                      (int)t.len, t.p);
    for (size_t i = 0; i < MDT_ARRAY_LEN(vars); i++)
        if (strlen(vars[i]) == t.len && memcmp(vars[i], t.p, t.len) == 0) {
            cd_node *n = mk(p, CD_N_VAR, NULL, NULL, NULL);
            if (!n)
                return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
            n->var = (uint8_t)i;
            *out = n;
            return MDT_OK;
        }
    return failat(p, t.line, t.col, "unknown variable `%.*s`", (int)t.len, t.p);
}

/* An integer literal; negate: a `-` right before it (so that the least
 * long can be written). */
static mdt_rc int_literal(ps *p, bool negate, const cd_node **out)
{
    uint64_t v = 0;

    for (size_t i = 0; i < p->t.len; i++) {
        uint64_t d = (uint64_t)(p->t.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return FAIL(p, "integer literal `%.*s` is too large", (int)p->t.len, p->t.p);
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX + (negate ? 1u : 0u))
        return FAIL(p, "integer literal `%.*s` is too large", (int)p->t.len, p->t.p);
    int64_t l = negate ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    if (!(*out = mk_lit(p, (cd_val){.k = CD_LONG, .u.l = l})))
        return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
    return lex(p);
}

static mdt_rc primary(ps *p, bool negate, bool *negated, const cd_node **out)
{
    mdt_rc rc;

    *negated = false;
    switch (p->t.k) {
    case T_INT:
        *negated = negate;
        return int_literal(p, negate, out);
    case T_STR: {
        char *s;
        uint32_t n;
        tok st = p->t;
        if ((rc = unescape(p, &st, false, &s, &n, NULL, NULL)) != MDT_OK)
            return rc;
        if (!(*out = mk_lit(p, (cd_val){.k = CD_STR, .len = n, .u.s = s})))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        return lex(p);
    }
    case T_IDENT:
        return primary_ident(p, out);
    case T_PUNCT:
        if (is_p(p, '(')) {
            if ((rc = open_nest(p)) != MDT_OK || (rc = expr(p, out)) != MDT_OK)
                return rc;
            p->nest--;
            return expect(p, ')', "`)`");
        }
        if (is_p(p, '['))
            return set_literal(p, out);
        if (is_p(p, '{'))
            return record(p, out);
        return unexpected(p);
    case T_EOF:
        break;
    }
    return unexpected(p);
}

static mdt_rc method(ps *p, const cd_node *recv, tok name, const cd_node **out)
{
    static const struct {
        const char *name;
        cd_op op;
    } methods[] = {{"contains", CD_N_CONTAINS},
                   {"containsAll", CD_N_CONTAINS_ALL},
                   {"containsAny", CD_N_CONTAINS_ANY}};
    const cd_node **args;
    size_t nargs;
    mdt_rc rc;

    for (size_t i = 0; i < MDT_ARRAY_LEN(methods); i++)
        if (strlen(methods[i].name) == name.len && memcmp(methods[i].name, name.p, name.len) == 0) {
            if ((rc = open_nest(p)) != MDT_OK || (rc = list(p, ')', &args, &nargs)) != MDT_OK)
                return rc;
            if (nargs != 1)
                return failat(p, name.line, name.col,
                              "`%s` takes exactly one argument", methods[i].name);
            if (!(*out = mk(p, methods[i].op, recv, args[0], NULL)))
                return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
            return MDT_OK;
        }
    return failat(p, name.line, name.col, "method `%.*s` is outside the supported Cedar subset",
                  (int)name.len, name.p);
}

static mdt_rc member(ps *p, bool negate, bool *negated, const cd_node **out)
{
    const cd_node *n;
    tok first = p->t;
    mdt_rc rc = primary(p, negate, negated, &n);

    /* -9223372036854775808 is a literal only on its own: with a member
     * access, the `-` applies to the access, and the literal is too large */
    if (rc == MDT_OK && *negated && (is_p(p, '.') || is_p(p, '[')) &&
        n->lit.u.l == INT64_MIN)
        return failat(p, first.line, first.col, "integer literal `%.*s` is too large",
                      (int)first.len, first.p);
    while (rc == MDT_OK && (is_p(p, '.') || is_p(p, '['))) {
        cd_node *g;
        if (is_p(p, '.')) {
            if ((rc = lex(p)) != MDT_OK)
                return rc;
            tok name = p->t;
            const char *s;
            uint32_t len;
            if ((rc = ident(p, &s, &len)) != MDT_OK)
                return rc;
            if (is_p(p, '(')) {
                rc = method(p, n, name, &n);
                continue;
            }
            if (!(g = mk(p, CD_N_GET, n, NULL, NULL)))
                return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
            g->name = s;
            g->nlen = len;
        } else {
            if ((rc = lex(p)) != MDT_OK)
                return rc;
            if (p->t.k != T_STR)
                return FAIL(p, "expected a string literal in `[ ]`");
            tok st = p->t;
            char *s;
            uint32_t len;
            if ((rc = unescape(p, &st, false, &s, &len, NULL, NULL)) != MDT_OK ||
                (rc = lex(p)) != MDT_OK || (rc = expect(p, ']', "`]`")) != MDT_OK)
                return rc;
            if (!(g = mk(p, CD_N_GET, n, NULL, NULL)))
                return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
            g->name = s;
            g->nlen = len;
        }
        n = g;
    }
    *out = n;
    return rc;
}

static mdt_rc unary(ps *p, const cd_node **out)
{
    int op = is_p(p, '!') ? '!' : is_p(p, '-') ? '-' : 0;
    int count = 0;
    bool negated = false;
    const cd_node *n = NULL;
    mdt_rc rc;

    while (op && is_p(p, op)) {
        if (++count > 4)
            return FAIL(p, "too many occurrences of `%c`", op);
        if ((rc = lex(p)) != MDT_OK)
            return rc;
    }
    if ((rc = member(p, op == '-' && count > 0 && p->t.k == T_INT, &negated, &n)) != MDT_OK)
        return rc;
    if (negated)
        count--;
    while (count-- > 0)
        if (!(n = mk(p, op == '!' ? CD_N_NOT : CD_N_NEG, n, NULL, NULL)))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
    *out = n;
    return MDT_OK;
}

typedef mdt_rc (*level_fn)(ps *p, const cd_node **out);

static mdt_rc binary(ps *p, level_fn sub, const int *puncts, const cd_op *ops, size_t nops,
                     const cd_node **out)
{
    const cd_node *l = NULL, *r = NULL;
    mdt_rc rc = sub(p, &l);

    for (;;) {
        size_t i = 0;
        if (rc != MDT_OK)
            return rc;
        while (i < nops && !is_p(p, puncts[i]))
            i++;
        if (is_p(p, '/') || is_p(p, '%'))
            return FAIL(p, "%s is not supported in Cedar",
                        is_p(p, '/') ? "division" : "remainder");
        if (i == nops)
            break;
        if ((rc = lex(p)) != MDT_OK || (rc = sub(p, &r)) != MDT_OK)
            return rc;
        if (!(l = mk(p, ops[i], l, r, NULL)))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
    }
    *out = l;
    return MDT_OK;
}

static mdt_rc mult(ps *p, const cd_node **out)
{
    static const int pu[] = {'*'};
    static const cd_op op[] = {CD_N_MUL};
    return binary(p, unary, pu, op, 1, out);
}

static mdt_rc add(ps *p, const cd_node **out)
{
    static const int pu[] = {'+', '-'};
    static const cd_op op[] = {CD_N_ADD, CD_N_SUB};
    return binary(p, mult, pu, op, 2, out);
}

static bool at_relation(const ps *p)
{
    static const int rel[] = {P_EQ, P_NE, '<', P_LE, '>', P_GE};
    for (size_t i = 0; i < MDT_ARRAY_LEN(rel); i++)
        if (is_p(p, rel[i]))
            return true;
    return is_kw(p, "in") || is_kw(p, "has") || is_kw(p, "like") || is_kw(p, "is");
}

/* e has a.b.c: e has a && e.a has b && e.a.b has c */
static mdt_rc has(ps *p, const cd_node *l, const cd_node **out)
{
    const cd_node *acc = NULL, *obj = l;
    mdt_rc rc;

    for (;;) {
        const char *s;
        uint32_t len;
        bool quoted = p->t.k == T_STR;
        if (quoted) {
            char *k;
            tok st = p->t;
            if ((rc = unescape(p, &st, false, &k, &len, NULL, NULL)) != MDT_OK ||
                (rc = lex(p)) != MDT_OK)
                return rc;
            s = k;
        } else if ((rc = ident(p, &s, &len)) != MDT_OK) {
            return rc;
        }
        cd_node *h = mk(p, CD_N_HAS, obj, NULL, NULL);
        if (!h)
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        h->name = s;
        h->nlen = len;
        if (acc && !(acc = mk(p, CD_N_AND, acc, h, NULL)))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        if (!acc)
            acc = h;
        if (!is_p(p, '.') || quoted)
            break;
        cd_node *g = mk(p, CD_N_GET, obj, NULL, NULL);
        if (!g)
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        g->name = s;
        g->nlen = len;
        obj = g;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
    }
    *out = acc;
    return MDT_OK;
}

static mdt_rc relation(ps *p, const cd_node **out)
{
    static const int pu[] = {P_EQ, P_NE, '<', P_LE, '>', P_GE};
    static const cd_op op[] = {CD_N_EQ, CD_N_NE, CD_N_LT, CD_N_LE, CD_N_GT, CD_N_GE};
    const cd_node *l, *r = NULL;
    cd_node *n = NULL;
    mdt_rc rc = add(p, &l);

    if (rc != MDT_OK)
        return rc;
    if (!at_relation(p)) {
        *out = l;
        return MDT_OK;
    }
    if (is_kw(p, "has")) {
        const cd_node *h;
        if ((rc = lex(p)) != MDT_OK || (rc = has(p, l, &h)) != MDT_OK)
            return rc;
        *out = h;
    } else if (is_kw(p, "like")) {
        char *s;
        uint32_t len;
        cd_seg *segs;
        size_t nsegs;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
        if (p->t.k != T_STR)
            return FAIL(p, "expected a pattern string after `like`");
        tok st = p->t;
        if ((rc = unescape(p, &st, true, &s, &len, &segs, &nsegs)) != MDT_OK ||
            (rc = lex(p)) != MDT_OK)
            return rc;
        if (!(n = mk(p, CD_N_LIKE, l, NULL, NULL)))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        n->segs = segs;
        n->n = nsegs;
        *out = n;
    } else if (is_kw(p, "is")) {
        const char *type;
        uint32_t tlen;
        if ((rc = lex(p)) != MDT_OK || (rc = type_name(p, &type, &tlen)) != MDT_OK)
            return rc;
        if (is_kw(p, "in") && ((rc = lex(p)) != MDT_OK || (rc = add(p, &r)) != MDT_OK))
            return rc;
        if (!(n = mk(p, CD_N_IS, l, r, NULL)))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        n->name = type;
        n->nlen = tlen;
        *out = n;
    } else {
        cd_op o = CD_N_IN;
        for (size_t i = 0; i < MDT_ARRAY_LEN(pu); i++)
            if (is_p(p, pu[i]))
                o = op[i];
        if ((rc = lex(p)) != MDT_OK || (rc = add(p, &r)) != MDT_OK)
            return rc;
        if (!(n = mk(p, o, l, r, NULL)))
            return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
        *out = n;
    }
    if (at_relation(p))
        return FAIL(p, "relational operators (==, <, in, has, like, is ...) cannot be chained "
                       "without parentheses");
    return MDT_OK;
}

static mdt_rc and_level(ps *p, const cd_node **out)
{
    static const int pu[] = {P_AND};
    static const cd_op op[] = {CD_N_AND};
    return binary(p, relation, pu, op, 1, out);
}

static mdt_rc or_level(ps *p, const cd_node **out)
{
    static const int pu[] = {P_OR};
    static const cd_op op[] = {CD_N_OR};
    return binary(p, and_level, pu, op, 1, out);
}

static mdt_rc expr(ps *p, const cd_node **out)
{
    const cd_node *c, *t, *e;
    mdt_rc rc;

    if (!is_kw(p, "if"))
        return or_level(p, out);
    if ((rc = open_nest(p)) != MDT_OK || (rc = expr(p, &c)) != MDT_OK)
        return rc;
    if (!is_kw(p, "then"))
        return FAIL(p, "expected `then`");
    if ((rc = lex(p)) != MDT_OK || (rc = expr(p, &t)) != MDT_OK)
        return rc;
    if (!is_kw(p, "else"))
        return FAIL(p, "expected `else`");
    if ((rc = lex(p)) != MDT_OK || (rc = expr(p, &e)) != MDT_OK)
        return rc;
    p->nest--;
    if (!(*out = mk(p, CD_N_IF, c, t, e)))
        return p->failed ? MDT_ERR_INVALID_REQUEST : MDT_ERR_NOMEM;
    return MDT_OK;
}

/* --- policies --- */

static bool is_action_type(const char *t, size_t n)
{
    return (n == 6 && memcmp(t, "Action", 6) == 0) ||
           (n > 8 && memcmp(t + n - 8, "::Action", 8) == 0);
}

static mdt_rc action_uid(ps *p, const cd_uid **u)
{
    uint32_t line = p->t.line, col = p->t.col;
    mdt_rc rc = entity(p, u);

    if (rc == MDT_OK && !is_action_type((*u)->type, (*u)->tlen))
        return failat(p, line, col, "expected an entity of type `Action`, found `%.*s`",
                      (int)(*u)->tlen, (*u)->type);
    return rc;
}

static mdt_rc scope_action(ps *p, cd_scope *sc)
{
    const cd_uid *u;
    mdt_rc rc;

    if (is_p(p, P_EQ)) {
        if ((rc = lex(p)) != MDT_OK || (rc = action_uid(p, &u)) != MDT_OK)
            return rc;
        sc->kind = CD_SC_EQ;
        sc->uid = *u;
        return MDT_OK;
    }
    if (is_kw(p, "is"))
        return FAIL(p, "`is` cannot appear in the action scope");
    if (!is_kw(p, "in"))
        return MDT_OK;
    if ((rc = lex(p)) != MDT_OK)
        return rc;
    if (!is_p(p, '[')) {
        if ((rc = action_uid(p, &u)) != MDT_OK)
            return rc;
        sc->kind = CD_SC_IN;
        sc->uid = *u;
        return MDT_OK;
    }
    cd_uid tmp[64], *set = tmp;
    size_t n = 0, cap = 64;
    if ((rc = lex(p)) != MDT_OK)
        return rc;
    while (!is_p(p, ']')) {
        if (n == cap) {
            cd_uid *ns = mdt_arena_alloc(p->a, 2 * cap * sizeof(*ns));
            if (!ns)
                return nomem(p);
            memcpy(ns, set, n * sizeof(*set));
            set = ns;
            cap *= 2;
        }
        if ((rc = action_uid(p, &u)) != MDT_OK)
            return rc;
        set[n++] = *u;
        if (!is_p(p, ','))
            break;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
    }
    if ((rc = expect(p, ']', "`,` or `]`")) != MDT_OK)
        return rc;
    cd_uid *s = mdt_arena_alloc(p->a, (n ? n : 1) * sizeof(*s));
    if (!s)
        return nomem(p);
    memcpy(s, set, n * sizeof(*set));
    sc->kind = CD_SC_IN_SET;
    sc->set = s;
    sc->nset = n;
    return MDT_OK;
}

/* principal or resource: [== E | is T [in E] | in E] */
static mdt_rc scope_pr(ps *p, cd_scope *sc)
{
    const cd_uid *u;
    mdt_rc rc;

    if (is_p(p, P_EQ)) {
        if ((rc = lex(p)) != MDT_OK || (rc = entity(p, &u)) != MDT_OK)
            return rc;
        sc->kind = CD_SC_EQ;
        sc->uid = *u;
        return MDT_OK;
    }
    if (is_kw(p, "is")) {
        if ((rc = lex(p)) != MDT_OK || (rc = type_name(p, &sc->type, &sc->tlen)) != MDT_OK)
            return rc;
        sc->kind = CD_SC_IS;
        if (is_p(p, P_EQ))
            return FAIL(p, "`is` cannot be used together with `==`");
        if (!is_kw(p, "in"))
            return MDT_OK;
        if ((rc = lex(p)) != MDT_OK || (rc = entity(p, &u)) != MDT_OK)
            return rc;
        sc->kind = CD_SC_IS_IN;
        sc->uid = *u;
        return MDT_OK;
    }
    if (is_kw(p, "in")) {
        if ((rc = lex(p)) != MDT_OK || (rc = entity(p, &u)) != MDT_OK)
            return rc;
        sc->kind = CD_SC_IN;
        sc->uid = *u;
    }
    return MDT_OK;
}

static mdt_rc scope(ps *p, cd_policy *pol)
{
    static const char *const vars[] = {"principal", "action", "resource"};
    mdt_rc rc;

    if ((rc = expect(p, '(', "`(`")) != MDT_OK)
        return rc;
    for (int i = 0; i < 3; i++) {
        if (!is_kw(p, vars[i]))
            return FAIL(p, "expected `%s`", vars[i]);
        if ((rc = lex(p)) != MDT_OK)
            return rc;
        rc = i == 1 ? scope_action(p, &pol->sc[i]) : scope_pr(p, &pol->sc[i]);
        if (rc != MDT_OK)
            return rc;
        if (i < 2 && (rc = expect(p, ',', "`,`")) != MDT_OK)
            return rc;
    }
    if (is_p(p, ',') && (rc = lex(p)) != MDT_OK)
        return rc;
    return expect(p, ')', "`)`");
}

static mdt_rc conditions(ps *p, cd_policy *pol)
{
    cd_cond tmp[16], *c = tmp;
    size_t n = 0, cap = 16;
    mdt_rc rc;

    while (is_kw(p, "when") || is_kw(p, "unless")) {
        bool unless = is_kw(p, "unless");
        if (n == cap) {
            cd_cond *nc = mdt_arena_alloc(p->a, 2 * cap * sizeof(*nc));
            if (!nc)
                return nomem(p);
            memcpy(nc, c, n * sizeof(*c));
            c = nc;
            cap *= 2;
        }
        if ((rc = lex(p)) != MDT_OK || (rc = expect(p, '{', "`{`")) != MDT_OK)
            return rc;
        if (is_p(p, '}'))
            return FAIL(p, "`%s` condition cannot be empty", unless ? "unless" : "when");
        if ((rc = expr(p, &c[n].expr)) != MDT_OK || (rc = expect(p, '}', "`}`")) != MDT_OK)
            return rc;
        c[n++].unless = unless;
    }
    cd_cond *keep = mdt_arena_alloc(p->a, (n ? n : 1) * sizeof(*keep));
    if (!keep)
        return nomem(p);
    memcpy(keep, c, n * sizeof(*c));
    pol->conds = keep;
    pol->nconds = n;
    return MDT_OK;
}

static mdt_rc annotations(ps *p, cd_policy *pol)
{
    const char *names[32];
    uint32_t nlens[32];
    size_t n = 0;
    mdt_rc rc;

    while (is_p(p, '@')) {
        tok at = p->t;
        const char *name;
        uint32_t nlen;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
        if (p->t.k != T_IDENT) /* any identifier, reserved words too */
            return FAIL(p, "expected the annotation's name");
        if (!(name = mdt_arena_strndup(p->a, p->t.p, p->t.len)))
            return nomem(p);
        nlen = (uint32_t)p->t.len;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (nlens[i] == nlen && memcmp(names[i], name, nlen) == 0)
                return failat(p, at.line, at.col, "duplicate annotation @%s", name);
        if (n == MDT_ARRAY_LEN(names))
            return failat(p, at.line, at.col, "too many annotations");
        names[n] = name;
        nlens[n++] = nlen;
        if (!is_p(p, '('))
            continue;
        if ((rc = lex(p)) != MDT_OK)
            return rc;
        if (p->t.k != T_STR)
            return FAIL(p, "expected a string as the annotation's value");
        tok st = p->t;
        char *v;
        uint32_t vlen;
        if ((rc = unescape(p, &st, false, &v, &vlen, NULL, NULL)) != MDT_OK ||
            (rc = lex(p)) != MDT_OK || (rc = expect(p, ')', "`)`")) != MDT_OK)
            return rc;
        if (nlen == 2 && memcmp(name, "id", 2) == 0) {
            if (vlen == 0 || strlen(v) != vlen)
                return failat(p, st.line, st.col, "@id must be a non-empty string without NUL");
            pol->id = v;
        }
    }
    return MDT_OK;
}

static mdt_rc policy(ps *p, cd_policy *pol)
{
    mdt_rc rc = annotations(p, pol);

    if (rc != MDT_OK)
        return rc;
    if (!is_kw(p, "permit") && !is_kw(p, "forbid"))
        return p->t.k == T_EOF ? FAIL(p, "expected `permit` or `forbid`, found end of input")
                               : FAIL(p, "expected `permit` or `forbid`");
    pol->forbid = is_kw(p, "forbid");
    if ((rc = lex(p)) != MDT_OK || (rc = scope(p, pol)) != MDT_OK ||
        (rc = conditions(p, pol)) != MDT_OK)
        return rc;
    return expect(p, ';', "`;`");
}

mdt_rc cd_parse(mdt_arena *a, const char *text, size_t len, cd_policy ***out, size_t *nout,
                mdt_err *err)
{
    ps p = {.a = a, .s = text, .len = len, .line = 1, .col = 1, .err = err};
    cd_policy **pols = NULL;
    size_t n = 0, cap = 0;
    mdt_rc rc;

    if (len > MDT_CEDAR_TEXT_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy text too large");
    if ((rc = lex(&p)) != MDT_OK)
        return rc;
    while (p.t.k != T_EOF) {
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            cd_policy **np = mdt_arena_alloc(a, nc * sizeof(*np));
            if (!np)
                return nomem(&p);
            if (n)
                memcpy(np, pols, n * sizeof(*pols));
            pols = np;
            cap = nc;
        }
        if (!(pols[n] = mdt_arena_alloc(a, sizeof(**pols))))
            return nomem(&p);
        if ((rc = policy(&p, pols[n])) != MDT_OK)
            return rc;
        n++;
    }
    *out = pols;
    *nout = n;
    return MDT_OK;
}
