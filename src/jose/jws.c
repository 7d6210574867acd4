/* JWS compact serialization. The sign path touches no JSON library: the
 * header comes precomputed from the key, the payload is encoded straight into
 * the output buffer and the signature is made over the bytes already there. */
#include "jose/jws.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/thread_local.h"
#include "jose/jwk_cache.h"

#define B64_CHUNK 768 /* bytes per encoding step: a multiple of 3 */

struct mdt_jws {
    json_t *hdr;
    const char *alg, *kid, *typ; /* borrowed from hdr */
    char *signing;               /* header.payload as received */
    size_t signing_len;
    char *header; /* decoded header JSON, NUL-terminated */
    size_t header_len;
    char *payload; /* decoded payload, NUL-terminated */
    size_t payload_len;
    uint8_t *sig;
    size_t sig_len;
    char mem[]; /* backing store of the four fields above */
};

/* base64url of p appended to out, in chunks: no allocation. */
static mdt_rc add_b64(mdt_buf *out, const void *p, size_t n)
{
    const uint8_t *in = p;
    char enc[B64_CHUNK / 3 * 4 + 1];
    mdt_rc rc = MDT_OK;

    while (n > 0 && rc == MDT_OK) {
        size_t step = n < B64_CHUNK ? n : B64_CHUNK;
        rc = mdt_buf_add(out, enc, mdt_b64url_encode(in, step, enc));
        in += step;
        n -= step;
    }
    return rc;
}

mdt_rc mdt_jws_sign(const mdt_jwk *key, const char *typ, const char *payload, size_t payload_len,
                    mdt_buf *out, mdt_err *err)
{
    size_t start = out->len, siglen = 0;
    uint8_t sig[MDT_JWS_SIG_MAX];
    char enc[MDT_JWS_SIG_MAX / 3 * 4 + 8];
    mdt_rc rc;

    if (!mdt_jwk_has_private(key))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "key has no private part");
    if ((rc = mdt_jwk_jws_header(key, typ, out, err)) != MDT_OK)
        goto out;
    if ((rc = mdt_buf_add(out, ".", 1)) != MDT_OK || (rc = add_b64(out, payload, payload_len)) != MDT_OK) {
        mdt_fail(err, rc, "token too large");
        goto out;
    }
    rc = mdt_jwk_sign_bytes(key, out->data + start, out->len - start, sig, &siglen, err);
    if (rc != MDT_OK)
        goto out;
    enc[0] = '.';
    rc = mdt_buf_add(out, enc, 1 + mdt_b64url_encode(sig, siglen, enc + 1));
    if (rc != MDT_OK)
        mdt_fail(err, rc, "token too large");
out:
    if (rc != MDT_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

/* Decodes one part into dst (room for n + 1), NUL-terminated. */
static bool decode_part(const char *src, size_t n, char *dst, size_t *outlen)
{
    if (mdt_b64url_decode(src, n, (uint8_t *)dst, n, outlen) != MDT_OK)
        return false;
    dst[*outlen] = '\0';
    return true;
}

/* Optional string member: absent -> NULL and true; present and not a string -> false. */
static bool opt_str(json_t *o, const char *name, const char **out)
{
    json_t *v = json_object_get(o, name);
    *out = json_string_value(v);
    return !v || *out;
}

/* Headers parsed before, per thread: a header seen again (this server's
 * own tokens, one client's assertions, one key's DPoP proofs) is the same
 * JSON object, found by the header's exact bytes and shared read-only by
 * every mdt_jws that has it. Only headers that passed parse_header's checks
 * are kept; the checks run again on the shared object. */
#define HEADER_SLOTS 8
#define HEADER_MAX 1024 /* bytes; a longer header is parsed each time */

typedef struct {
    json_t *hdr;
    size_t len;
    char text[HEADER_MAX];
} seen_header;

typedef struct {
    seen_header slot[HEADER_SLOTS];
    unsigned next; /* the slot the next header takes */
} header_cache;

static void *header_cache_make(void) { return calloc(1, sizeof(header_cache)); }

static void header_cache_free(void *p)
{
    header_cache *c = p;

    for (size_t i = 0; i < HEADER_SLOTS; i++)
        json_decref(c->slot[i].hdr);
    free(c);
}

static mdt_thread_local header_caches = MDT_THREAD_LOCAL(header_cache_make, header_cache_free);

static json_t *header_find(header_cache *c, const char *text, size_t len)
{
    for (size_t i = 0; i < HEADER_SLOTS; i++)
        if (c->slot[i].hdr && c->slot[i].len == len && memcmp(c->slot[i].text, text, len) == 0)
            return c->slot[i].hdr;
    return NULL;
}

static void header_keep(header_cache *c, const char *text, size_t len, json_t *hdr)
{
    seen_header *s = &c->slot[c->next];

    c->next = (c->next + 1) % HEADER_SLOTS;
    json_decref(s->hdr);
    s->hdr = json_incref(hdr);
    s->len = len;
    memcpy(s->text, text, len);
}

static mdt_rc parse_header(mdt_jws *j, mdt_err *err)
{
    header_cache *c = j->header_len <= HEADER_MAX ? mdt_thread_local_get(&header_caches) : NULL;
    json_t *seen = c ? header_find(c, j->header, j->header_len) : NULL;
    json_error_t jerr;

    j->hdr = seen ? json_incref(seen)
                  : json_loadb(j->header, j->header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j->hdr))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS header is not a JSON object");
    j->alg = json_string_value(json_object_get(j->hdr, "alg"));
    if (!j->alg || !j->alg[0])
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS header has no alg");
    if (!opt_str(j->hdr, "kid", &j->kid) || !opt_str(j->hdr, "typ", &j->typ))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS header kid or typ is not a string");
    if (json_object_get(j->hdr, "crit"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS header has unsupported crit");
    if (c && !seen)
        header_keep(c, j->header, j->header_len, j->hdr);
    return MDT_OK;
}

/* Splits at the two dots; false unless there are exactly three parts. */
static bool split3(const char *s, size_t len, size_t *d1, size_t *d2)
{
    const char *a = memchr(s, '.', len), *b;

    if (!a)
        return false;
    b = memchr(a + 1, '.', len - (size_t)(a + 1 - s));
    if (!b || memchr(b + 1, '.', len - (size_t)(b + 1 - s)))
        return false;
    *d1 = (size_t)(a - s);
    *d2 = (size_t)(b - s);
    return true;
}

mdt_rc mdt_jws_parse(const char *compact, size_t len, size_t max_len, mdt_jws **out, mdt_err *err)
{
    size_t d1, d2;
    mdt_jws *j;
    mdt_rc rc;

    *out = NULL;
    if (len > max_len || len > SIZE_MAX / 4)
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "JWS too large");
    if (!compact || !split3(compact, len, &d1, &d2))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS must have three parts");
    if (!(j = calloc(1, sizeof(*j) + 2 * len + 4)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    j->signing = j->mem;
    j->signing_len = d2;
    memcpy(j->signing, compact, d2);
    j->header = j->signing + d2 + 1;
    j->payload = j->header + d1 + 1;
    j->sig = (uint8_t *)j->payload + (d2 - d1 - 1) + 1;
    if (!decode_part(compact, d1, j->header, &j->header_len) ||
        !decode_part(compact + d1 + 1, d2 - d1 - 1, j->payload, &j->payload_len) ||
        !decode_part(compact + d2 + 1, len - d2 - 1, (char *)j->sig, &j->sig_len)) {
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS part is not base64url");
        goto out;
    }
    if ((rc = parse_header(j, err)) != MDT_OK)
        goto out;
    *out = j;
    j = NULL;
out:
    mdt_jws_free(j);
    return rc;
}

const char *mdt_jws_alg(const mdt_jws *j) { return j->alg; }
const char *mdt_jws_kid(const mdt_jws *j) { return j->kid; }
const char *mdt_jws_typ(const mdt_jws *j) { return j->typ; }

const char *mdt_jws_payload(const mdt_jws *j, size_t *len)
{
    if (len)
        *len = j->payload_len;
    return j->payload;
}

const char *mdt_jws_header(const mdt_jws *j, size_t *len)
{
    if (len)
        *len = j->header_len;
    return j->header;
}

/* The header's jwk member as compact JSON text (*text freed by the caller)
 * and the alg an RSA key defaults to. */
static mdt_rc header_jwk_text(const mdt_jws *j, char **text, mdt_alg *rsa_alg, mdt_err *err)
{
    json_t *v = json_object_get(j->hdr, "jwk");
    mdt_alg alg = MDT_ALG_NONE;

    *text = NULL;
    if (!json_is_object(v))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS header has no jwk");
    if (!(*text = json_dumps(v, JSON_COMPACT)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (mdt_alg_parse(j->alg, &alg) != MDT_OK || alg != MDT_ALG_PS256)
        alg = MDT_ALG_RS256;
    *rsa_alg = alg;
    return MDT_OK;
}

static mdt_rc header_jwk_refused(mdt_rc rc, mdt_err *err)
{
    if (rc == MDT_ERR_TOO_LARGE)
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "JWS header jwk too large");
    return rc;
}

mdt_rc mdt_jws_header_jwk(const mdt_jws *j, mdt_jwk **out, mdt_err *err)
{
    mdt_alg alg;
    char *s;
    mdt_rc rc;

    *out = NULL;
    if ((rc = header_jwk_text(j, &s, &alg, err)) != MDT_OK)
        return rc;
    rc = header_jwk_refused(mdt_jwk_from_json_rsa(s, strlen(s), alg, out, err), err);
    free(s);
    return rc;
}

mdt_rc mdt_jws_header_jwk_cached(const mdt_jws *j, const mdt_jwk **out, mdt_err *err)
{
    mdt_alg alg;
    char *s;
    mdt_rc rc;

    *out = NULL;
    if ((rc = header_jwk_text(j, &s, &alg, err)) != MDT_OK)
        return rc;
    rc = header_jwk_refused(mdt_jwk_cache_get(s, strlen(s), alg, out, err), err);
    free(s);
    return rc;
}

mdt_rc mdt_jws_verify(const mdt_jws *j, const mdt_jwk *key, mdt_err *err)
{
    mdt_alg alg = mdt_jwk_alg(key), named = MDT_ALG_NONE;

    if (alg == MDT_ALG_NONE || mdt_alg_parse(j->alg, &named) != MDT_OK || named != alg)
        return mdt_fail(err, MDT_ERR_VERIFY, "JWS alg does not match the key");
    return mdt_jwk_verify_bytes(key, j->signing, j->signing_len, j->sig, j->sig_len, err);
}

void mdt_jws_free(mdt_jws *j)
{
    if (!j)
        return;
    json_decref(j->hdr);
    free(j);
}
