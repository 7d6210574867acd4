/* The Cedar evaluator's insides, shared by its files (cedar.h is the
 * interface): values, the parsed form of policies and the entity store. */
#ifndef MDT_POLICY_CEDAR_INTERNAL_H
#define MDT_POLICY_CEDAR_INTERNAL_H

#include <stdint.h>

#include "policy/cedar/cedar.h"

#define CD_NEST_MAX 64    /* brackets, braces, parentheses and ifs open at once */
#define CD_DEPTH_MAX 400  /* depth of an expression tree (the evaluator recurses on it) */
#define CD_JSON_DEPTH_MAX 32

/* An entity reference; type and id are NUL-terminated and may hold NULs
 * (escapes), hence the lengths. */
typedef struct {
    const char *type, *id;
    uint32_t tlen, ilen;
    uint64_t hash;
} cd_uid;

typedef enum { CD_BOOL, CD_LONG, CD_STR, CD_ENT, CD_SET, CD_REC } cd_kind;

typedef struct cd_set cd_set;
typedef struct cd_val {
    uint32_t k;   /* cd_kind */
    uint32_t len; /* CD_STR: bytes */
    union {
        bool b;
        int64_t l;
        const char *s;
        const cd_uid *e;
        const cd_set *set;
        const mdt_cedar_record *rec;
    } u;
} cd_val;

struct cd_set {
    size_t n;
    cd_val v[];
};

/* Keys sorted (cd_key_cmp), unique. */
struct mdt_cedar_record {
    size_t n;
    const char **keys;
    const uint32_t *klens;
    const cd_val *vals;
};

int cd_key_cmp(const char *a, size_t alen, const char *b, size_t blen);
uint64_t cd_uid_hash(const char *type, size_t tlen, const char *id, size_t ilen);
bool cd_uid_eq(const cd_uid *a, const cd_uid *b);
bool cd_val_eq(const cd_val *a, const cd_val *b);
uint64_t cd_val_hash(const cd_val *v); /* equal values hash alike */
const cd_val *cd_rec_get(const mdt_cedar_record *r, const char *key, size_t len);
/* Sorts n keys with their values in place; false when two keys are equal
 * (*dup: the index of one of them after sorting) or memory ran out (*nomem). */
bool cd_rec_sort(const char **keys, uint32_t *klens, cd_val *vals, size_t n, size_t *dup,
                 bool *nomem);

/* --- entities --- */
typedef struct {
    cd_uid uid;
    const mdt_cedar_record *attrs;
    size_t nparents;
    const cd_uid *parents;
    uint32_t mark; /* cycle check while loading */
} cd_entity;

struct mdt_cedar_entities {
    mdt_arena arena;
    cd_entity **slots; /* open addressing by uid hash */
    size_t cap, count;
    uint32_t epoch;
};

const cd_entity *cd_entities_get(const mdt_cedar_entities *e, const cd_uid *uid);

/* --- parsed policies --- */
typedef enum {
    CD_N_LIT,      /* lit */
    CD_N_VAR,      /* var: 0 principal, 1 action, 2 resource, 3 context */
    CD_N_SET,      /* kids[n] */
    CD_N_REC,      /* kids[n], keys sorted */
    CD_N_IF,       /* a ? b : c */
    CD_N_OR,
    CD_N_AND,
    CD_N_EQ,
    CD_N_NE,
    CD_N_LT,
    CD_N_LE,
    CD_N_GT,
    CD_N_GE,
    CD_N_IN,
    CD_N_HAS,      /* a has name */
    CD_N_LIKE,     /* a like pattern (segs) */
    CD_N_IS,       /* a is name [in b] */
    CD_N_ADD,
    CD_N_SUB,
    CD_N_MUL,
    CD_N_NOT,
    CD_N_NEG,
    CD_N_GET,      /* a.name, a["name"] */
    CD_N_CONTAINS,
    CD_N_CONTAINS_ALL,
    CD_N_CONTAINS_ANY,
} cd_op;

typedef struct {
    const char *s;
    uint32_t len;
} cd_seg;

typedef struct cd_node cd_node;
struct cd_node {
    uint8_t op;
    uint8_t var;
    const cd_node *a, *b, *c; /* IS: b is the "in" operand or NULL */
    cd_val lit;
    const char *name; /* HAS, GET: attribute; IS: entity type */
    uint32_t nlen;
    size_t n;                 /* SET, REC: kids; LIKE: segments */
    const cd_node **kids;
    const char **keys;        /* REC */
    const uint32_t *klens;
    const cd_seg *segs;       /* LIKE: literal runs, a wildcard between each two */
};

typedef enum { CD_SC_ANY, CD_SC_EQ, CD_SC_IN, CD_SC_IS, CD_SC_IS_IN, CD_SC_IN_SET } cd_sc_kind;

typedef struct {
    cd_sc_kind kind;
    const char *type; /* IS, IS_IN */
    uint32_t tlen;
    cd_uid uid;       /* EQ, IN, IS_IN */
    const cd_uid *set; /* IN_SET (action) */
    size_t nset;
} cd_scope;

typedef struct {
    const cd_node *expr;
    bool unless;
} cd_cond;

typedef struct {
    const char *id;
    bool forbid;
    cd_scope sc[3]; /* principal, action, resource */
    size_t nconds;
    const cd_cond *conds;
} cd_policy;

struct mdt_cedar_set {
    mdt_arena arena;
    cd_policy **pols;
    size_t n, cap;
};

/* Parses text into policies allocated in a (no ids yet but @id's). */
mdt_rc cd_parse(mdt_arena *a, const char *text, size_t len, cd_policy ***out, size_t *n,
                mdt_err *err) MDT_WARN_UNUSED;

#endif
