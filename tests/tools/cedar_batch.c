/* cedar_batch: evaluates Cedar cases in bulk, for the differential test
 * against the Cedar reference implementation (tests/integration/
 * cedar_diff.test.mjs) — a test tool, not part of the product.
 *
 * Reads NDJSON on standard input, one case a line:
 *   {"policies": TEXT, "entities": [entity JSON...],
 *    "requests": [{"principal": {"type", "id"}, "action": ..., "resource": ...,
 *                  "context": {...}}, ...]}
 * and prints one line per request, in order:
 *   {"decision": "allow"|"deny", "reasons": [ids], "errors": [ids]}
 * Policies are named "policy0", "policy1", ... as Cedar names the policies
 * of a policy set text. When the case's policies, entities or a request's
 * context are refused, each of its requests prints
 *   {"refused": "policies"|"entities"|"context"|"request", "message": TEXT}
 * A line that is not JSON at all prints one such line and the tool goes on. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/mdt.h"
#include "policy/cedar/cedar.h"

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(j);
}

static void print_refused(const char *what, const mdt_err *err)
{
    print_json(json_pack("{s:s, s:s}", "refused", what, "message", err ? mdt_err_text(err) : ""));
}

static void print_decision(const mdt_cedar_decision *d)
{
    json_t *reasons = json_array(), *errors = json_array();

    for (size_t i = 0; i < d->nreasons; i++)
        json_array_append_new(reasons, json_string(d->reasons[i]));
    for (size_t i = 0; i < d->nerrors; i++)
        json_array_append_new(errors, json_string(d->errors[i]));
    print_json(json_pack("{s:s, s:o, s:o}", "decision", d->allow ? "allow" : "deny",
                         "reasons", reasons, "errors", errors));
}

/* {"type", "id"} or {"__entity": {"type", "id"}}; the strings stay in j. */
static int read_uid(json_t *j, mdt_cedar_uid *out)
{
    json_t *inner = json_object_get(j, "__entity");

    if (inner)
        j = inner;
    out->type = json_string_value(json_object_get(j, "type"));
    out->id = json_string_value(json_object_get(j, "id"));
    return out->type && out->id ? 0 : -1;
}

static void run_request(const mdt_cedar_set *set, const mdt_cedar_entities *ents, json_t *req,
                        mdt_arena *a)
{
    mdt_cedar_request r = {0};
    mdt_cedar_decision d;
    mdt_err err = {0};
    json_t *ctx = json_object_get(req, "context");
    const mdt_cedar_entities *stores[1] = {ents};

    if (read_uid(json_object_get(req, "principal"), &r.principal) != 0 ||
        read_uid(json_object_get(req, "action"), &r.action) != 0 ||
        read_uid(json_object_get(req, "resource"), &r.resource) != 0) {
        print_refused("request", NULL);
        return;
    }
    if (ctx) {
        char *text = json_dumps(ctx, JSON_COMPACT | JSON_ENCODE_ANY);
        mdt_rc rc = text ? mdt_cedar_record_json(a, text, strlen(text), &r.context, &err)
                         : MDT_ERR_NOMEM;
        free(text);
        if (rc != MDT_OK) {
            print_refused("context", &err);
            return;
        }
    }
    if (mdt_cedar_eval(set, stores, 1, &r, a, &d, &err) != MDT_OK) {
        print_refused("eval", &err);
        return;
    }
    print_decision(&d);
}

static void run_case(const char *line, size_t len)
{
    json_error_t jerr;
    json_t *c = json_loadb(line, len, 0, &jerr);
    json_t *reqs, *req;
    mdt_cedar_set *set = NULL;
    mdt_cedar_entities *ents = NULL;
    mdt_arena a;
    mdt_err err = {0};
    const char *policies;
    const char *refused = NULL;
    size_t i;

    mdt_arena_init(&a, 16384);
    if (!c) {
        print_json(json_pack("{s:s, s:s}", "refused", "line", "message", jerr.text));
        goto out;
    }
    reqs = json_object_get(c, "requests");
    policies = json_string_value(json_object_get(c, "policies"));
    if (!json_is_array(reqs) || !policies) {
        print_json(json_pack("{s:s, s:s}", "refused", "line", "message",
                             "a case needs \"policies\" (text) and \"requests\" (array)"));
        goto out;
    }
    if (mdt_cedar_set_new(&set, &err) != MDT_OK ||
        mdt_cedar_set_add(set, policies, strlen(policies), NULL, &err) != MDT_OK) {
        refused = "policies";
    } else {
        json_t *ej = json_object_get(c, "entities");
        char *text = ej ? json_dumps(ej, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("[]");
        if (mdt_cedar_entities_new(&ents, &err) != MDT_OK || !text ||
            mdt_cedar_entities_add_json(ents, text, strlen(text), &err) != MDT_OK)
            refused = "entities";
        free(text);
    }
    json_array_foreach(reqs, i, req) {
        if (refused)
            print_refused(refused, &err);
        else
            run_request(set, ents, req, &a);
        mdt_arena_reset(&a);
    }
out:
    mdt_cedar_set_free(set);
    mdt_cedar_entities_free(ents);
    mdt_arena_free(&a);
    json_decref(c);
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        run_case(line, (size_t)n);
    }
    free(line);
    return 0;
}
