/* X.509 for RFC 8705 with OpenSSL: see x509.h. */
#define _GNU_SOURCE
#include "jose/x509.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/b64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "jose/jwk.h"

#define OID_TEXT_MAX 80      /* dotted OID of an attribute type */
#define JWK_MEMBER_MAX 1400  /* base64url of an RSA-8192 modulus, with room */
#define DN_ARENA_CHUNK 4096

struct mdt_x509 {
    X509 *x;
    uint8_t *der;
    size_t len;
};

/* ---- parsing ---------------------------------------------------------- */

mdt_rc mdt_x509_parse(const uint8_t *der, size_t len, mdt_x509 **out, mdt_err *err)
{
    const unsigned char *p;
    mdt_x509 *c;

    *out = NULL;
    if (len > MDT_X509_DER_MAX)
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "certificate too large");
    if (len == 0)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "empty certificate");
    if (!(c = calloc(1, sizeof(*c))) || !(c->der = malloc(len))) {
        free(c);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    memcpy(c->der, der, len);
    c->len = len;
    p = c->der;
    c->x = d2i_X509(NULL, &p, (long)len);
    if (!c->x || p != c->der + len) {
        ERR_clear_error();
        mdt_x509_free(c);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "not a DER certificate");
    }
    *out = c;
    return MDT_OK;
}

void mdt_x509_free(mdt_x509 *c)
{
    if (!c)
        return;
    X509_free(c->x);
    free(c->der);
    free(c);
}

mdt_der mdt_x509_der(const mdt_x509 *c)
{
    return (mdt_der){c->der, c->len};
}

static mdt_rc keep_block(const char *name, const unsigned char *data, long dlen, mdt_arena *a,
                         mdt_der *out, size_t max, size_t *n, mdt_err *err)
{
    uint8_t *copy;

    if (strcmp(name, "CERTIFICATE") != 0)
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "not a PEM certificate",
                         "PEM block %.40s is not a CERTIFICATE", name);
    if (dlen <= 0 || (size_t)dlen > MDT_X509_DER_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "PEM certificate empty or too large");
    if (*n == max)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "too many certificates");
    if (!(copy = mdt_arena_alloc(a, (size_t)dlen)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    memcpy(copy, data, (size_t)dlen);
    out[(*n)++] = (mdt_der){copy, (size_t)dlen};
    return MDT_OK;
}

/* True when the OpenSSL error queue says only "no more PEM blocks". */
static bool pem_ended_cleanly(void)
{
    unsigned long e = ERR_peek_last_error();

    return e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
}

mdt_rc mdt_x509_pem_decode(const char *pem, size_t len, mdt_arena *a, mdt_der *out, size_t max,
                           size_t *n, mdt_err *err)
{
    BIO *bio;
    mdt_rc rc = MDT_OK;

    *n = 0;
    if (len > MDT_X509_PEM_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "PEM text too large");
    if (!(bio = BIO_new_mem_buf(pem, (int)len)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    ERR_clear_error();
    while (rc == MDT_OK) {
        char *name = NULL, *hdr = NULL;
        unsigned char *data = NULL;
        long dlen = 0;

        if (!PEM_read_bio(bio, &name, &hdr, &data, &dlen))
            break;
        rc = keep_block(name, data, dlen, a, out, max, n, err);
        OPENSSL_free(name);
        OPENSSL_free(hdr);
        OPENSSL_free(data);
    }
    if (rc == MDT_OK && !pem_ended_cleanly())
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "malformed PEM certificate");
    else if (rc == MDT_OK && *n == 0)
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "no certificate in the PEM text");
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}

void mdt_x509_thumbprint(const uint8_t *der, size_t len, char out[MDT_X5T_LEN + 1])
{
    uint8_t h[32];

    mdt_sha256(der, len, h);
    mdt_b64url_encode(h, sizeof(h), out);
}

/* ---- distinguished names ---------------------------------------------- */

typedef struct {
    int rdn;                 /* index of the RDN in ASN.1 order (least specific first) */
    char oid[OID_TEXT_MAX];  /* dotted attribute type */
    const char *value;       /* normalized */
} ava;

typedef struct {
    ava v[MDT_X509_DN_AVAS_MAX];
    size_t n;
} dn_t;

/* RFC 4514 §3 names and the usual others, matched ignoring case. */
static const struct {
    const char *name, *oid;
} attr_names[] = {
    {"CN", "2.5.4.3"},        {"commonName", "2.5.4.3"},
    {"SN", "2.5.4.4"},        {"surname", "2.5.4.4"},
    {"serialNumber", "2.5.4.5"},
    {"C", "2.5.4.6"},         {"countryName", "2.5.4.6"},
    {"L", "2.5.4.7"},         {"localityName", "2.5.4.7"},
    {"ST", "2.5.4.8"},        {"stateOrProvinceName", "2.5.4.8"},
    {"STREET", "2.5.4.9"},    {"streetAddress", "2.5.4.9"},
    {"O", "2.5.4.10"},        {"organizationName", "2.5.4.10"},
    {"OU", "2.5.4.11"},       {"organizationalUnitName", "2.5.4.11"},
    {"title", "2.5.4.12"},
    {"GN", "2.5.4.42"},       {"givenName", "2.5.4.42"},
    {"organizationIdentifier", "2.5.4.97"},
    {"DC", "0.9.2342.19200300.100.1.25"}, {"domainComponent", "0.9.2342.19200300.100.1.25"},
    {"UID", "0.9.2342.19200300.100.1.1"}, {"userId", "0.9.2342.19200300.100.1.1"},
    {"emailAddress", "1.2.840.113549.1.9.1"}, {"E", "1.2.840.113549.1.9.1"},
};

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* In place: trims, folds inner runs of white space to one space, lowers ASCII. */
static void normalize(char *s)
{
    char *w = s;
    const char *r = s;
    bool gap = false;

    while (is_space(*r))
        r++;
    for (; *r; r++) {
        if (is_space(*r)) {
            gap = true;
            continue;
        }
        if (gap)
            *w++ = ' ';
        gap = false;
        *w++ = (*r >= 'A' && *r <= 'Z') ? (char)(*r + 32) : *r;
    }
    *w = '\0';
}

/* A dotted OID, canonical, from its text; false when not one. */
static bool dotted_oid(const char *s, char out[OID_TEXT_MAX])
{
    ASN1_OBJECT *o;
    int n;

    if (strncasecmp(s, "oid.", 4) == 0)
        s += 4;
    if (!*s || strspn(s, "0123456789.") != strlen(s))
        return false;
    o = OBJ_txt2obj(s, 1);
    n = o ? OBJ_obj2txt(out, OID_TEXT_MAX, o, 1) : 0;
    ASN1_OBJECT_free(o);
    ERR_clear_error();
    return n > 0 && n < OID_TEXT_MAX;
}

static mdt_rc parse_type(const char **pp, char oid[OID_TEXT_MAX], mdt_err *err)
{
    const char *p = *pp, *start;
    char name[OID_TEXT_MAX];
    size_t n;

    while (is_space(*p))
        p++;
    start = p;
    while (*p && !is_space(*p) && *p != '=' && *p != ',' && *p != '+' && *p != ';')
        p++;
    n = (size_t)(p - start);
    while (is_space(*p))
        p++;
    if (n == 0 || n >= sizeof(name) || *p != '=')
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "DN: attribute type expected before '='");
    memcpy(name, start, n);
    name[n] = '\0';
    *pp = p + 1;
    for (size_t i = 0; i < MDT_ARRAY_LEN(attr_names); i++) {
        if (strcasecmp(name, attr_names[i].name) == 0) {
            snprintf(oid, OID_TEXT_MAX, "%s", attr_names[i].oid);
            return MDT_OK;
        }
    }
    if (dotted_oid(name, oid))
        return MDT_OK;
    return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "DN: unknown attribute type",
                     "DN: unknown attribute type %s", name);
}

/* One escape after '\\' at p (RFC 4514 §3): a special character or two hex
 * digits. Returns the number of characters consumed, 0 when invalid. */
static size_t unescape(const char *p, char *out)
{
    int hi = mdt_hex_value(p[0]), lo = hi >= 0 ? mdt_hex_value(p[1]) : -1;

    if (hi >= 0 && lo >= 0) {
        *out = (char)(hi << 4 | lo);
        return *out ? 2 : 0; /* a NUL cannot be compared */
    }
    if (p[0] && strchr(" \"#+,;<=>\\", p[0])) {
        *out = p[0];
        return 1;
    }
    return 0;
}

static mdt_rc parse_value(const char **pp, mdt_arena *a, const char **value, mdt_err *err)
{
    const char *p = *pp;
    char *out, *w;

    while (is_space(*p))
        p++;
    if (*p == '#')
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "DN: hex-encoded values are not supported");
    if (!(out = w = mdt_arena_alloc(a, strlen(p) + 1)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    while (*p && *p != ',' && *p != '+' && *p != ';') {
        size_t used;
        if (*p == '"')
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "DN: unescaped '\"' in a value");
        if (*p != '\\') {
            *w++ = *p++;
            continue;
        }
        if (!(used = unescape(p + 1, w++)))
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "DN: bad escape in a value");
        p += 1 + used;
    }
    *w = '\0';
    normalize(out);
    *value = out;
    *pp = p;
    return MDT_OK;
}

/* RFC 4514 text -> AVAs numbered in ASN.1 order (the text starts with the
 * most specific RDN, the certificate with the least specific). */
static mdt_rc parse_dn(const char *s, mdt_arena *a, dn_t *dn, mdt_err *err)
{
    size_t len = strnlen(s, MDT_X509_DN_MAX + 1);
    const char *p = s;
    int rdn = 0;
    mdt_rc rc;

    dn->n = 0;
    if (len == 0 || len > MDT_X509_DN_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "DN empty or too long");
    for (;;) {
        ava *v;
        if (dn->n == MDT_X509_DN_AVAS_MAX)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "DN has too many attributes");
        v = &dn->v[dn->n++];
        v->rdn = rdn;
        if ((rc = parse_type(&p, v->oid, err)) != MDT_OK ||
            (rc = parse_value(&p, a, &v->value, err)) != MDT_OK)
            return rc;
        if (*p == '\0')
            break;
        if (*p == ',' || *p == ';')
            rdn++;
        p++;
    }
    for (size_t i = 0; i < dn->n; i++)
        dn->v[i].rdn = rdn - dn->v[i].rdn;
    return MDT_OK;
}

static mdt_rc cert_ava(const X509_NAME_ENTRY *e, int rdn, mdt_arena *a, ava *v, mdt_err *err)
{
    unsigned char *u = NULL;
    int ulen;
    char *s;

    v->rdn = rdn;
    if (OBJ_obj2txt(v->oid, sizeof(v->oid), X509_NAME_ENTRY_get_object(e), 1) <= 0 ||
        strlen(v->oid) >= sizeof(v->oid) - 1)
        return mdt_fail(err, MDT_ERR_VERIFY, "certificate DN: bad attribute type");
    ulen = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
    if (ulen < 0 || memchr(u, 0, (size_t)ulen)) {
        OPENSSL_free(u);
        return mdt_fail(err, MDT_ERR_VERIFY, "certificate DN: attribute value is not text");
    }
    s = mdt_arena_strndup(a, (const char *)u, (size_t)ulen);
    OPENSSL_free(u);
    if (!s)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    normalize(s);
    v->value = s;
    return MDT_OK;
}

static mdt_rc cert_dn(const X509_NAME *name, mdt_arena *a, dn_t *dn, mdt_err *err)
{
    int count = X509_NAME_entry_count(name), last = -1, rdn = -1;
    mdt_rc rc;

    dn->n = 0;
    if (count < 0 || (size_t)count > MDT_X509_DN_AVAS_MAX)
        return mdt_fail(err, MDT_ERR_VERIFY, "certificate DN has too many attributes");
    for (int i = 0; i < count; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        if (X509_NAME_ENTRY_set(e) != last) {
            last = X509_NAME_ENTRY_set(e);
            rdn++;
        }
        if ((rc = cert_ava(e, rdn, a, &dn->v[dn->n++], err)) != MDT_OK)
            return rc;
    }
    return MDT_OK;
}

static int ava_cmp(const void *pa, const void *pb)
{
    const ava *x = pa, *y = pb;
    int c;

    if (x->rdn != y->rdn)
        return x->rdn < y->rdn ? -1 : 1;
    if ((c = strcmp(x->oid, y->oid)) != 0)
        return c;
    return strcmp(x->value, y->value);
}

/* Same RDNs in the same order; the AVAs of one RDN as a set. */
static bool dn_same(dn_t *x, dn_t *y)
{
    if (x->n != y->n)
        return false;
    qsort(x->v, x->n, sizeof(ava), ava_cmp);
    qsort(y->v, y->n, sizeof(ava), ava_cmp);
    for (size_t i = 0; i < x->n; i++)
        if (ava_cmp(&x->v[i], &y->v[i]) != 0)
            return false;
    return true;
}

/* Both DNs as parsed (b NULL: c's subject), then compared. */
static mdt_rc dn_compare(const mdt_x509 *c, const char *a_text, const char *b_text, mdt_err *err)
{
    mdt_arena a;
    dn_t *x = calloc(2, sizeof(dn_t));
    mdt_rc rc;

    if (!x)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_arena_init(&a, DN_ARENA_CHUNK);
    rc = parse_dn(a_text, &a, &x[0], err);
    if (rc == MDT_OK)
        rc = c ? cert_dn(X509_get_subject_name(c->x), &a, &x[1], err)
               : parse_dn(b_text, &a, &x[1], err);
    if (rc == MDT_OK && !dn_same(&x[0], &x[1]))
        rc = mdt_fail(err, MDT_ERR_VERIFY, "subject DN does not match");
    mdt_arena_free(&a);
    free(x);
    return rc;
}

mdt_rc mdt_x509_dn_match(const mdt_x509 *c, const char *dn, mdt_err *err)
{
    return dn_compare(c, dn, NULL, err);
}

mdt_rc mdt_x509_dn_equal(const char *a, const char *b, mdt_err *err)
{
    return dn_compare(NULL, a, b, err);
}

const char *mdt_x509_subject(const mdt_x509 *c, mdt_arena *a)
{
    BIO *b = BIO_new(BIO_s_mem());
    const char *s = NULL;
    char *p = NULL;
    long n;

    if (!b)
        return NULL;
    if (X509_NAME_print_ex(b, X509_get_subject_name(c->x), 0,
                           XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
        (n = BIO_get_mem_data(b, &p)) >= 0)
        s = n ? mdt_arena_strndup(a, p, (size_t)n) : mdt_arena_strdup(a, "");
    BIO_free(b);
    return s;
}

/* ---- subject alternative names ---------------------------------------- */

/* The bytes of an IA5String when it holds no NUL and is as long as want. */
static const char *ia5(const ASN1_STRING *s, size_t want_len)
{
    const unsigned char *d = ASN1_STRING_get0_data(s);
    int n = ASN1_STRING_length(s);

    if (!d || n < 0 || (size_t)n != want_len || memchr(d, 0, (size_t)n))
        return NULL;
    return (const char *)d;
}

/* Local part exactly, domain ignoring ASCII case. */
static bool email_eq(const char *got, const char *want, size_t n)
{
    const char *at = strrchr(want, '@');
    size_t local = at ? (size_t)(at - want) + 1 : 0;

    return memcmp(got, want, local) == 0 && strncasecmp(got + local, want + local, n - local) == 0;
}

static bool san_is(const GENERAL_NAME *g, mdt_san_type t, const char *want, const uint8_t *ip,
                   size_t iplen)
{
    size_t n = strlen(want);
    const char *s;

    switch (t) {
    case MDT_SAN_DNS:
        return g->type == GEN_DNS && (s = ia5(g->d.dNSName, n)) && strncasecmp(s, want, n) == 0;
    case MDT_SAN_URI:
        return g->type == GEN_URI && (s = ia5(g->d.uniformResourceIdentifier, n)) &&
               memcmp(s, want, n) == 0;
    case MDT_SAN_EMAIL:
        return g->type == GEN_EMAIL && (s = ia5(g->d.rfc822Name, n)) && email_eq(s, want, n);
    case MDT_SAN_IP:
        return g->type == GEN_IPADD && (size_t)ASN1_STRING_length(g->d.iPAddress) == iplen &&
               memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, iplen) == 0;
    }
    return false;
}

mdt_rc mdt_x509_san_match(const mdt_x509 *c, mdt_san_type type, const char *want, mdt_err *err)
{
    static const char *const kinds[] = {"DNS", "URI", "IP", "email"};
    GENERAL_NAMES *names;
    uint8_t ip[16];
    size_t iplen = 0;
    bool hit = false;

    if (!want || !*want)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "empty subjectAltName");
    if (type == MDT_SAN_IP) {
        if (inet_pton(AF_INET, want, ip) == 1)
            iplen = 4;
        else if (inet_pton(AF_INET6, want, ip) == 1)
            iplen = 16;
        else
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "not an IP address");
    }
    names = X509_get_ext_d2i(c->x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; !hit && i < sk_GENERAL_NAME_num(names); i++)
        hit = san_is(sk_GENERAL_NAME_value(names, i), type, want, ip, iplen);
    GENERAL_NAMES_free(names);
    ERR_clear_error();
    if (hit)
        return MDT_OK;
    return mdt_failf(err, MDT_ERR_VERIFY, "no matching subjectAltName",
                     "no %s subjectAltName %.100s in the certificate", kinds[type], want);
}

/* ---- time and chains --------------------------------------------------- */

mdt_rc mdt_x509_check_time(const mdt_x509 *c, int64_t now, mdt_err *err)
{
    time_t t = (time_t)now;

    /* X509_cmp_time: -1 earlier or equal, 1 later, 0 error */
    if (X509_cmp_time(X509_get0_notBefore(c->x), &t) != -1)
        return mdt_fail(err, MDT_ERR_VERIFY, "certificate not yet valid");
    if (X509_cmp_time(X509_get0_notAfter(c->x), &t) != 1)
        return mdt_fail(err, MDT_ERR_VERIFY, "certificate expired");
    return MDT_OK;
}

mdt_rc mdt_x509_trust_from_pem(const char *pem, size_t len, mdt_x509_trust **out, mdt_err *err)
{
    X509_STORE *st = NULL;
    BIO *bio = NULL;
    X509 *x;
    size_t added = 0;
    mdt_rc rc = MDT_ERR_NOMEM;

    *out = NULL;
    if (len > MDT_X509_TRUST_MAX)
        return mdt_fail(err, MDT_ERR_CONFIG, "CA bundle too large");
    if (!(st = X509_STORE_new()) || !(bio = BIO_new_mem_buf(pem, (int)len))) {
        mdt_fail(err, rc, "out of memory");
        goto out;
    }
    ERR_clear_error();
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        int ok = X509_STORE_add_cert(st, x);
        X509_free(x);
        if (!ok) {
            rc = mdt_fail_openssl(err, "CA bundle");
            goto out;
        }
        added++;
    }
    if (!pem_ended_cleanly() || added == 0) {
        rc = mdt_fail(err, MDT_ERR_CONFIG, "CA bundle holds no readable certificate");
        goto out;
    }
    *out = (mdt_x509_trust *)st;
    st = NULL;
    rc = MDT_OK;
out:
    ERR_clear_error();
    BIO_free(bio);
    X509_STORE_free(st);
    return rc;
}

mdt_rc mdt_x509_trust_from_file(const char *path, mdt_x509_trust **out, mdt_err *err)
{
    FILE *f = fopen(path, "rb");
    char chunk[4096];
    size_t n;
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    *out = NULL;
    if (!f)
        return mdt_failf(err, MDT_ERR_CONFIG, "cannot read the CA bundle", "cannot read %s", path);
    mdt_buf_init(&b, MDT_X509_TRUST_MAX);
    while (rc == MDT_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mdt_buf_add(&b, chunk, n);
    fclose(f);
    if (rc != MDT_OK)
        rc = mdt_failf(err, MDT_ERR_CONFIG, "CA bundle too large", "%s is too large", path);
    else
        rc = mdt_x509_trust_from_pem(b.data ? b.data : "", b.len, out, err);
    mdt_buf_free(&b);
    return rc;
}

mdt_x509_trust *mdt_x509_trust_ref(mdt_x509_trust *t)
{
    if (t)
        X509_STORE_up_ref((X509_STORE *)t);
    return t;
}

void mdt_x509_trust_free(mdt_x509_trust *t)
{
    X509_STORE_free((X509_STORE *)t);
}

static mdt_rc untrusted_stack(const mdt_der *chain, size_t n, STACK_OF(X509) **out, mdt_err *err)
{
    STACK_OF(X509) *sk = sk_X509_new_null();

    *out = NULL;
    if (!sk)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = chain[i].der;
        X509 *x = chain[i].len <= MDT_X509_DER_MAX ? d2i_X509(NULL, &p, (long)chain[i].len) : NULL;
        if (!x || p != chain[i].der + chain[i].len || !sk_X509_push(sk, x)) {
            X509_free(x);
            sk_X509_pop_free(sk, X509_free);
            ERR_clear_error();
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "intermediate certificate malformed");
        }
    }
    *out = sk;
    return MDT_OK;
}

mdt_rc mdt_x509_verify(const mdt_x509_trust *t, const mdt_x509 *leaf, const mdt_der *chain,
                       size_t n, int64_t now, mdt_err *err)
{
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509_VERIFY_PARAM *vp;
    mdt_rc rc;

    if (n > MDT_X509_CHAIN_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "certificate chain too long");
    if ((rc = untrusted_stack(chain, n, &untrusted, err)) != MDT_OK)
        return rc;
    if (!(ctx = X509_STORE_CTX_new()) ||
        !X509_STORE_CTX_init(ctx, (X509_STORE *)t, leaf->x, untrusted) ||
        !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT)) {
        rc = mdt_fail_openssl(err, "verification context");
        goto out;
    }
    vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(vp, (time_t)now);
    X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
    X509_VERIFY_PARAM_set_depth(vp, MDT_X509_CHAIN_MAX);
    if (X509_verify_cert(ctx) == 1)
        rc = MDT_OK;
    else
        rc = mdt_failf(err, MDT_ERR_VERIFY, "certificate chain not trusted", "chain: %s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    sk_X509_pop_free(untrusted, X509_free);
    return rc;
}

/* ---- the certificate's key as a JWK ------------------------------------ */

static bool bn_member(const EVP_PKEY *pk, const char *param, int pad, char out[JWK_MEMBER_MAX])
{
    BIGNUM *bn = NULL;
    uint8_t bin[1024];
    int len;
    bool ok = false;

    if (EVP_PKEY_get_bn_param(pk, param, &bn)) {
        len = pad ? pad : BN_num_bytes(bn);
        ok = len > 0 && (size_t)len <= sizeof(bin) && BN_bn2binpad(bn, bin, len) == len;
        if (ok)
            mdt_b64url_encode(bin, (size_t)len, out);
    }
    BN_free(bn);
    return ok;
}

/* RFC 7638 §3.2 canonical JSON of the public key. */
static bool canonical_jwk(const EVP_PKEY *pk, mdt_buf *b)
{
    char x[JWK_MEMBER_MAX], y[JWK_MEMBER_MAX], group[32];
    uint8_t raw[32];
    size_t rawlen = sizeof(raw);

    switch (EVP_PKEY_get_base_id(pk)) {
    case EVP_PKEY_EC:
        return EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL) &&
               strcmp(group, "prime256v1") == 0 &&
               bn_member(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32, x) &&
               bn_member(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32, y) &&
               mdt_buf_addf(b, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x,
                            y) == MDT_OK;
    case EVP_PKEY_RSA:
        return bn_member(pk, OSSL_PKEY_PARAM_RSA_N, 0, x) &&
               bn_member(pk, OSSL_PKEY_PARAM_RSA_E, 0, y) &&
               mdt_buf_addf(b, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", y, x) == MDT_OK;
    case EVP_PKEY_ED25519:
        if (!EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) || rawlen != 32)
            return false;
        mdt_b64url_encode(raw, rawlen, x);
        return mdt_buf_addf(b, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", x) == MDT_OK;
    default:
        return false;
    }
}

mdt_rc mdt_x509_key_thumbprint(const mdt_x509 *c, uint8_t out[32], mdt_err *err)
{
    const EVP_PKEY *pk = X509_get0_pubkey(c->x);
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, 4 * JWK_MEMBER_MAX);
    if (!pk || !canonical_jwk(pk, &b))
        rc = mdt_fail(err, MDT_ERR_VERIFY, "certificate key is not an EC P-256, RSA or Ed25519 key");
    else
        mdt_sha256(b.data, b.len, out);
    ERR_clear_error();
    mdt_buf_free(&b);
    return rc;
}

static bool jwk_is(json_t *k, const uint8_t want[32], mdt_arena *a, const char **kid)
{
    char *text = json_dumps(k, JSON_COMPACT);
    mdt_jwk *j = NULL;
    uint8_t t[32];
    bool hit = text && mdt_jwk_from_json(text, strlen(text), &j, NULL) == MDT_OK &&
               mdt_jwk_thumbprint(j, t, NULL) == MDT_OK && memcmp(t, want, sizeof(t)) == 0;

    if (hit && kid)
        *kid = mdt_arena_strdup(a, mdt_jwk_kid(j));
    free(text);
    mdt_jwk_free(j);
    return hit;
}

mdt_rc mdt_x509_key_in_jwks(const mdt_x509 *c, const char *jwks, mdt_arena *a, const char **kid,
                            uint8_t thumb[32], mdt_err *err)
{
    uint8_t mine[32];
    json_t *set, *keys, *k;
    size_t i;
    mdt_rc rc;

    if (kid)
        *kid = NULL;
    if ((rc = mdt_x509_key_thumbprint(c, mine, err)) != MDT_OK)
        return rc;
    set = jwks ? json_loads(jwks, JSON_REJECT_DUPLICATES, NULL) : NULL;
    keys = json_object_get(set, "keys");
    if (!json_is_array(keys)) {
        json_decref(set);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "not a JWK Set");
    }
    rc = MDT_ERR_NOT_FOUND;
    json_array_foreach(keys, i, k) {
        if (jwk_is(k, mine, a, kid)) {
            if (thumb)
                memcpy(thumb, mine, sizeof(mine));
            rc = MDT_OK;
            break;
        }
    }
    json_decref(set);
    return rc == MDT_OK ? rc : mdt_fail(err, rc, "certificate key not in the JWK Set");
}
