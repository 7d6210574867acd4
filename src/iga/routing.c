/* Approval routing (see routing.h). */
#include "iga/internal.h"
#include "iga/routing.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

#define COND_TYPE 0
#define COND_SCOPE 1
#define COND_SENSITIVITY 2
#define COND_TIER 3
#define NCONDS 4

static const char *const cond_names[NCONDS] = {"type", "scope", "sensitivity", "risk_tier"};

typedef struct {
    const char **v[NCONDS]; /* NULL-terminated lists borrowed from doc; NULL: no condition */
    mdt_route route;
} rule;

struct mdt_routing {
    json_t *doc; /* owned */
    rule *rules;
    size_t n;
};

static const char *const who_names[] = {
    [MDT_ROUTE_DEFAULT] = "default", [MDT_ROUTE_USER] = "user", [MDT_ROUTE_OWNER] = "owner",
    [MDT_ROUTE_APPROVER] = "approver", [MDT_ROUTE_QUORUM] = "quorum"};

const char *mdt_route_who_name(mdt_route_who w)
{
    return (size_t)w < MDT_ARRAY_LEN(who_names) ? who_names[w] : "default";
}

static mdt_rc bad(mdt_err *err, const char *path, size_t i, const char *why)
{
    return mdt_failf(err, MDT_ERR_CONFIG, "invalid [approvals] routing file",
                     "%.200s: rule %zu: %s", path, i, why);
}

static bool is_word(const char *s)
{
    if (!s || !*s || strlen(s) > 256)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

/* A condition: one word or a non-empty array of words, as a NULL-terminated list. */
static const char *read_list(json_t *v, const char ***out)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1, i;
    json_t *x;

    if (!(json_is_string(v) || (json_is_array(v) && n > 0 && n <= 256)))
        return "a condition is a word or a non-empty array of words";
    if (!(*out = calloc(n + 1, sizeof(char *))))
        return "out of memory";
    if (json_is_string(v)) {
        (*out)[0] = json_string_value(v);
        return is_word((*out)[0]) ? NULL : "a condition is a word or a non-empty array of words";
    }
    json_array_foreach(v, i, x) {
        (*out)[i] = json_string_value(x);
        if (!is_word((*out)[i]))
            return "a condition is a word or a non-empty array of words";
    }
    return NULL;
}

static const char *read_who(json_t *e, mdt_route *r)
{
    const char *who = json_string_value(json_object_get(e, "approve"));
    json_t *n = json_object_get(e, "n");

    r->who = MDT_ROUTE_DEFAULT;
    for (size_t i = 1; who && i < MDT_ARRAY_LEN(who_names); i++)
        if (strcmp(who, who_names[i]) == 0)
            r->who = (mdt_route_who)i;
    if (r->who == MDT_ROUTE_DEFAULT)
        return "approve must be user, owner, approver or quorum";
    if (r->who != MDT_ROUTE_QUORUM)
        return n ? "n is only for approve: quorum" : NULL;
    if (!json_is_integer(n) || json_integer_value(n) < 1 ||
        json_integer_value(n) > MDT_ROUTING_QUORUM_MAX)
        return "a quorum needs n, a number of distinct approvers from 1 to 20";
    r->quorum = json_integer_value(n);
    return NULL;
}

static const char *read_expiry(json_t *v, mdt_route *r)
{
    int64_t secs = 0;

    if (!v)
        return NULL;
    if (json_is_integer(v))
        secs = json_integer_value(v);
    else if (!json_is_string(v) || mdt_duration_parse(json_string_value(v), &secs) != MDT_OK)
        secs = -1;
    if (secs < 1 || secs > 366 * 86400)
        return "expires_in must be seconds or a duration (e.g. 15m) from 1s to 366d";
    r->expires_in = secs;
    return NULL;
}

/* Why entry e is not a valid rule; NULL when it is (then *out is filled). */
static const char *read_rule(json_t *e, rule *out)
{
    const char *key, *why;
    json_t *v;

    if (!json_is_object(e))
        return "a rule must be an object";
    json_object_foreach(e, key, v) {
        bool known = strcmp(key, "approve") == 0 || strcmp(key, "n") == 0 ||
                     strcmp(key, "expires_in") == 0;
        for (size_t i = 0; i < NCONDS; i++)
            known |= strcmp(key, cond_names[i]) == 0;
        if (!known)
            return "unknown member (type, scope, sensitivity, risk_tier, approve, n, expires_in)";
    }
    for (size_t i = 0; i < NCONDS; i++)
        if ((v = json_object_get(e, cond_names[i])) && (why = read_list(v, &out->v[i])))
            return why;
    if ((why = read_who(e, &out->route)) || (why = read_expiry(json_object_get(e, "expires_in"),
                                                               &out->route)))
        return why;
    return NULL;
}

mdt_rc mdt_routing_load(const char *path, mdt_routing **out, mdt_err *err)
{
    mdt_routing *rt = NULL;
    json_t *e;
    const char *why;
    size_t i;
    mdt_rc rc;

    *out = NULL;
    if (!path || !*path)
        return MDT_OK;
    if (!(rt = calloc(1, sizeof(*rt))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if ((rc = mdt_iga__read_config_array(path, "[approvals] routing", MDT_ROUTING_FILE_MAX,
                                         MDT_ROUTING_RULES_MAX, "rules", &rt->doc, err)) !=
        MDT_OK)
        goto out;
    if (!(rt->rules = calloc(json_array_size(rt->doc) + 1, sizeof(rule)))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    json_array_foreach(rt->doc, i, e) {
        rt->n = i + 1; /* freed with rt, valid or not */
        rt->rules[i].route.rule = (int)i;
        if ((why = read_rule(e, &rt->rules[i]))) {
            rc = bad(err, path, i + 1, why);
            goto out;
        }
    }
    *out = rt;
    rt = NULL;
    rc = MDT_OK;
out:
    mdt_routing_free(rt);
    return rc;
}

void mdt_routing_free(mdt_routing *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; rt->rules && i < rt->n; i++)
        for (size_t c = 0; c < NCONDS; c++)
            free(rt->rules[i].v[c]);
    free(rt->rules);
    json_decref(rt->doc);
    free(rt);
}

static bool in_list(const char *const *list, const char *s)
{
    for (; s && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* Whether any of the n values is in list. */
static bool any_in(const char *const *list, const char *const *values, size_t n)
{
    for (size_t i = 0; values && i < n; i++)
        if (in_list(list, values[i]))
            return true;
    return false;
}

static bool matches(const rule *r, const mdt_route_facts *f)
{
    return (!r->v[COND_TYPE] || in_list(r->v[COND_TYPE], f->type)) &&
           (!r->v[COND_SCOPE] || any_in(r->v[COND_SCOPE], f->scopes, f->nscopes)) &&
           (!r->v[COND_SENSITIVITY] ||
            any_in(r->v[COND_SENSITIVITY], f->sensitivities, f->nscopes)) &&
           (!r->v[COND_TIER] || in_list(r->v[COND_TIER], f->risk_tier));
}

mdt_route mdt_routing_match(const mdt_routing *rt, const mdt_route_facts *f)
{
    for (size_t i = 0; rt && i < rt->n; i++)
        if (matches(&rt->rules[i], f))
            return rt->rules[i].route;
    return (mdt_route){.who = MDT_ROUTE_DEFAULT, .rule = -1};
}
