/* Trusted issuers files (mdt_trust_add, the parser behind mdt_trust_load)
 * and ID-JAG targets files (mdt_trust_add_targets): the first byte picks
 * the kind (workload, jwt_bearer, software statement publishers; bit 0x40:
 * a targets file) and whether http jwks_uri are allowed; the rest is the file.
 * The file is "read" from a mkdtemp directory holding jwks.json (a valid
 * JWK Set) and bad.json; inputs naming a jwks_file with a '/' are skipped,
 * so that no input reads outside it (/dev/stdin, /dev/zero).
 * Oracles: every issuer of an accepted file is found by mdt_trust_find;
 * adding the same file again fails (issuers listed twice) and leaves the
 * trust as it was; rule matching on fixed claims stays consistent; every
 * target of an accepted targets file is found, with a client and a ttl in
 * bounds, and adding it again fails. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "jose/jwk.h"
#include "oauth/trust.h"

static char dir[] = "/tmp/mdt_fuzz_trust_XXXXXX";
static char path[96];
static bool ready;

static void cleanup(void)
{
    char p[128];

    snprintf(p, sizeof(p), "%s/jwks.json", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/bad.json", dir);
    unlink(p);
    rmdir(dir);
}

static void write_file(const char *name, const char *text)
{
    char p[128];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    if (!(f = fopen(p, "wb")) || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static void init(void)
{
    mdt_jwk *k = NULL;
    mdt_buf b;
    mdt_err err;

    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
    snprintf(path, sizeof(path), "%s/issuers.json", dir);
    mdt_buf_init(&b, 65536);
    if (mdt_jwk_generate(MDT_ALG_ES256, &k, &err) != MDT_OK || mdt_buf_adds(&b, "{\"keys\":[") ||
        mdt_jwk_public_json(k, &b, &err) != MDT_OK || mdt_buf_adds(&b, "]}"))
        abort();
    write_file("jwks.json", b.data);
    write_file("bad.json", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}");
    mdt_buf_free(&b);
    mdt_jwk_free(k);
    ready = true;
}

/* False when some issuer names a jwks_file outside the directory. */
static bool files_inside(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL), *o;
    size_t i;
    bool ok = true;

    json_array_foreach(doc, i, o) {
        const char *f = json_string_value(json_object_get(o, "jwks_file"));
        if (f && strchr(f, '/'))
            ok = false;
    }
    json_decref(doc);
    return ok;
}

static void check(mdt_trust *t, mdt_trust_kind kind, const uint8_t *data, size_t size,
                  const mdt_config *cfg)
{
    json_t *doc = json_loadb((const char *)data, size, 0, NULL), *o, *claims;
    size_t i;
    mdt_arena a;
    mdt_err err;

    json_array_foreach(doc, i, o) {
        const char *iss = json_string_value(json_object_get(o, "issuer"));
        const mdt_trusted_issuer *ti = mdt_trust_find(t, kind, iss);
        const mdt_trust_rule *r = NULL;
        const char *sub = NULL;
        if (!ti || (!ti->keys == !ti->jwks_uri) || !ti->audience)
            __builtin_trap(); /* each issuer is found, with exactly one key source */
        claims = json_pack("{s:s, s:s, s:b}", "sub", "agent-1", "email", "a@example.com",
                           "admin", 1);
        mdt_arena_init(&a, 1024);
        if (mdt_trust_match_rule(ti, claims, &a, &r, &sub, &err) == MDT_OK &&
            (!r || !sub || strncmp(sub, r->subject_prefix, strlen(r->subject_prefix)) != 0))
            __builtin_trap();
        mdt_arena_free(&a);
        json_decref(claims);
    }
    if (json_array_size(doc) &&
        mdt_trust_add(t, kind, (const char *)data, size, path, cfg, &err) == MDT_OK)
        __builtin_trap(); /* the same issuers again are listed twice */
    json_decref(doc);
}

static void targets(const uint8_t *data, size_t size)
{
    json_t *doc, *o;
    mdt_trust *t = NULL;
    mdt_err err;
    size_t i;

    if (mdt_trust_new(&t, &err) != MDT_OK)
        return;
    if (mdt_trust_add_targets(t, (const char *)data, size, path, &err) != MDT_OK) {
        if (err.rc != MDT_ERR_CONFIG && err.rc != MDT_ERR_NOMEM)
            __builtin_trap();
        mdt_trust_free(t);
        return;
    }
    doc = json_loadb((const char *)data, size, 0, NULL);
    json_array_foreach(doc, i, o) {
        const mdt_id_jag_target *tg =
            mdt_trust_target_find(t, json_string_value(json_object_get(o, "issuer")));
        if (!tg || !tg->nclients || tg->ttl < 10 || tg->ttl > MDT_ID_JAG_TTL_MAX ||
            !mdt_id_jag_target_client(tg, tg->clients[0].ours))
            __builtin_trap();
    }
    if (json_array_size(doc) &&
        mdt_trust_add_targets(t, (const char *)data, size, path, &err) == MDT_OK)
        __builtin_trap(); /* the same targets again are listed twice */
    json_decref(doc);
    mdt_trust_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_config cfg = {0};
    mdt_trust_kind kind;
    mdt_trust *t = NULL;
    mdt_err err;

    if (size == 0)
        return 0;
    if (!ready)
        init();
    if (data[0] & 0x40) {
        targets(data + 1, size - 1);
        return 0;
    }
    kind = (mdt_trust_kind)(data[0] % MDT_TRUST_KINDS);
    cfg.issuer = (char *)"https://as.example.com";
    cfg.jwks_uri_allow_http = (data[0] & 0x80) != 0;
    data++;
    size--;
    if (!files_inside(data, size) || mdt_trust_new(&t, &err) != MDT_OK)
        return 0;
    if (mdt_trust_add(t, kind, (const char *)data, size, path, &cfg, &err) == MDT_OK)
        check(t, kind, data, size, &cfg);
    else if (err.rc != MDT_ERR_CONFIG && err.rc != MDT_ERR_NOMEM)
        __builtin_trap();
    mdt_trust_free(t);
    return 0;
}
