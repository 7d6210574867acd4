/* cedar_bench: the embedded PDP's evaluations per second on the workload of
 * bench/cedar_workload.mjs (100 policies, 1,000 entities), for `make bench`.
 * Policies and entities are loaded once, as the server holds them; each
 * evaluation reads its request's context from JSON text (as a PDP request
 * arrives) and evaluates it. Bounded in count and time.
 * Prints "EVALS_PER_S ALLOWS EVALS", ALLOWS counted over one pass of the
 * requests, for comparison with the reference implementation's decisions.
 * Usage: cedar_bench DIR [SECONDS] [MAX_EVALS] */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/mdt.h"
#include "policy/cedar/cedar.h"

typedef struct {
    mdt_cedar_request r;
    char *context;
} bench_req;

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    FILE *f;
    char *buf = NULL;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "rb")))
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int uid(json_t *j, mdt_cedar_uid *out)
{
    out->type = json_string_value(json_object_get(j, "type"));
    out->id = json_string_value(json_object_get(j, "id"));
    return out->type && out->id ? 0 : -1;
}

int main(int argc, char **argv)
{
    int status = 1;
    size_t plen = 0, elen = 0, nreq = 0, allows = 0, n = 0;
    char *ptext = NULL, *etext = NULL;
    json_t *reqs = NULL, *q;
    bench_req *br = NULL;
    mdt_cedar_set *set = NULL;
    mdt_cedar_entities *ents = NULL;
    mdt_arena a;
    mdt_err err = {0};
    json_error_t jerr;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 3.0, t0, t1;
    size_t max = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000000;

    mdt_arena_init(&a, 16384);
    if (argc < 2) {
        fprintf(stderr, "usage: cedar_bench DIR [SECONDS] [MAX_EVALS]\n");
        goto out;
    }
    if (!(ptext = slurp(argv[1], "policies.cedar", &plen)) ||
        !(etext = slurp(argv[1], "entities.json", &elen))) {
        fprintf(stderr, "cedar_bench: cannot read the workload in %s\n", argv[1]);
        goto out;
    }
    {
        char path[4096];
        snprintf(path, sizeof(path), "%s/requests.json", argv[1]);
        if (!(reqs = json_load_file(path, 0, &jerr)) || !json_is_array(reqs) ||
            !(nreq = json_array_size(reqs)) || !(br = calloc(nreq, sizeof(*br)))) {
            fprintf(stderr, "cedar_bench: %s: %s\n", path, jerr.text);
            goto out;
        }
    }
    json_array_foreach(reqs, n, q) {
        if (uid(json_object_get(q, "principal"), &br[n].r.principal) != 0 ||
            uid(json_object_get(q, "action"), &br[n].r.action) != 0 ||
            uid(json_object_get(q, "resource"), &br[n].r.resource) != 0 ||
            !(br[n].context = json_dumps(json_object_get(q, "context"), JSON_COMPACT))) {
            fprintf(stderr, "cedar_bench: request %zu is malformed\n", n);
            goto out;
        }
    }
    if (mdt_cedar_set_new(&set, &err) != MDT_OK ||
        mdt_cedar_set_add(set, ptext, plen, NULL, &err) != MDT_OK ||
        mdt_cedar_entities_new(&ents, &err) != MDT_OK ||
        mdt_cedar_entities_add_json(ents, etext, elen, &err) != MDT_OK) {
        fprintf(stderr, "cedar_bench: %s\n", mdt_err_text(&err));
        goto out;
    }
    t0 = now_s();
    t1 = t0;
    for (n = 0; n < max; n++) {
        const mdt_cedar_entities *stores[] = {ents};
        bench_req *b = &br[n % nreq];
        mdt_cedar_decision d;
        if (mdt_cedar_record_json(&a, b->context, strlen(b->context), &b->r.context, &err) != MDT_OK ||
            mdt_cedar_eval(set, stores, 1, &b->r, &a, &d, &err) != MDT_OK) {
            fprintf(stderr, "cedar_bench: request %zu: %s\n", n % nreq, mdt_err_text(&err));
            goto out;
        }
        if (n < nreq && d.allow)
            allows++;
        mdt_arena_reset(&a);
        if ((n & 1023) == 1023 && n >= nreq && (t1 = now_s()) - t0 > seconds) {
            n++;
            break;
        }
    }
    t1 = now_s();
    printf("%.0f %zu %zu\n", (double)n / (t1 - t0), allows, n);
    status = 0;
out:
    for (size_t i = 0; br && i < nreq; i++)
        free(br[i].context);
    free(br);
    json_decref(reqs);
    free(ptext);
    free(etext);
    mdt_cedar_set_free(set);
    mdt_cedar_entities_free(ents);
    mdt_arena_free(&a);
    return status;
}
