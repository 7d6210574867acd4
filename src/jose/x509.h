/* X.509 client certificates for RFC 8705, as pure functions of DER, text
 * and an injected time: parsing, the x5t#S256 thumbprint, the subject DN
 * (RFC 4514) and its comparison with a registered DN, SAN matching, chain
 * verification against a CA bundle, validity dates, and the certificate's
 * public key against a JWK Set. OpenSSL stays inside x509.c.
 *
 * Threads: an mdt_x509 and an mdt_x509_trust are immutable once built and
 * may be used from any number of threads at once. */
#ifndef MDT_JOSE_X509_H
#define MDT_JOSE_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/mdt.h"

#define MDT_X509_DER_MAX 16384     /* largest certificate accepted, DER bytes */
#define MDT_X509_CHAIN_MAX 8       /* certificates accepted from a client: leaf + intermediates */
#define MDT_X509_PEM_MAX 65536     /* largest PEM text decoded (a forwarded header, a bundle piece) */
#define MDT_X509_DN_MAX 1024       /* longest registered subject DN, RFC 4514 text */
#define MDT_X509_DN_AVAS_MAX 32    /* attribute values in one DN */
#define MDT_X509_TRUST_MAX (1 << 20) /* largest CA bundle, bytes of PEM */
#define MDT_X5T_LEN 43             /* base64url of a SHA-256 digest */

/* A DER certificate that does not own its bytes. */
typedef struct {
    const uint8_t *der;
    size_t len;
} mdt_der;

typedef struct mdt_x509 mdt_x509;
typedef struct mdt_x509_trust mdt_x509_trust;

typedef enum { MDT_SAN_DNS, MDT_SAN_URI, MDT_SAN_IP, MDT_SAN_EMAIL } mdt_san_type;

/* One DER certificate (copied; trailing bytes refused). Larger than
 * MDT_X509_DER_MAX -> MDT_ERR_TOO_LARGE; not a certificate ->
 * MDT_ERR_INVALID_REQUEST. *out freed with mdt_x509_free. */
mdt_rc mdt_x509_parse(const uint8_t *der, size_t len, mdt_x509 **out, mdt_err *err) MDT_WARN_UNUSED;
void mdt_x509_free(mdt_x509 *c); /* NULL-safe */
/* The DER the certificate was parsed from (borrowed from c). */
mdt_der mdt_x509_der(const mdt_x509 *c);

/* The CERTIFICATE blocks of a PEM text, in order, as DER in the arena; at
 * most max of them. None, another block type, bad base64, more than max, or
 * len > MDT_X509_PEM_MAX -> MDT_ERR_INVALID_REQUEST. */
mdt_rc mdt_x509_pem_decode(const char *pem, size_t len, mdt_arena *a, mdt_der *out, size_t max,
                           size_t *n, mdt_err *err) MDT_WARN_UNUSED;

/* RFC 8705 §3.1 x5t#S256: base64url(SHA-256(DER)), MDT_X5T_LEN chars + NUL. */
void mdt_x509_thumbprint(const uint8_t *der, size_t len, char out[MDT_X5T_LEN + 1]);

/* The subject DN as RFC 4514 text (most specific RDN first), in the arena;
 * NULL on NOMEM. */
const char *mdt_x509_subject(const mdt_x509 *c, mdt_arena *a);
/* Whether the certificate's subject is the DN written in RFC 4514 form (e.g.
 * "CN=agent-7,O=Example,C=SE"). Attribute types are matched by OID (names
 * case-insensitive, or dotted OIDs); values after escapes are undone,
 * leading and trailing spaces removed, inner runs of spaces folded to one
 * and ASCII case ignored; the RDNs must come in the same order (the AVAs of
 * a multi-valued RDN in any order). MDT_OK, MDT_ERR_VERIFY on a mismatch,
 * MDT_ERR_INVALID_REQUEST when dn is not a DN this parser reads (empty,
 * too long, bad escape, unknown attribute name, "#" hex values). */
mdt_rc mdt_x509_dn_match(const mdt_x509 *c, const char *dn, mdt_err *err) MDT_WARN_UNUSED;
/* The same comparison between two RFC 4514 texts. */
mdt_rc mdt_x509_dn_equal(const char *a, const char *b, mdt_err *err) MDT_WARN_UNUSED;

/* Whether one subjectAltName of this type equals want: dNSName ignoring
 * ASCII case, URI exactly, iPAddress by address (IPv4 or IPv6 text), and
 * rfc822Name with the domain ignoring ASCII case. MDT_OK or MDT_ERR_VERIFY
 * (MDT_ERR_INVALID_REQUEST when want is not an IP address for MDT_SAN_IP). */
mdt_rc mdt_x509_san_match(const mdt_x509 *c, mdt_san_type type, const char *want,
                          mdt_err *err) MDT_WARN_UNUSED;

/* notBefore <= now <= notAfter, else MDT_ERR_VERIFY. */
mdt_rc mdt_x509_check_time(const mdt_x509 *c, int64_t now, mdt_err *err) MDT_WARN_UNUSED;

/* A set of trust anchors (a CA bundle). Every CERTIFICATE of the PEM text is
 * trusted; none -> MDT_ERR_CONFIG. *out freed with mdt_x509_trust_free;
 * mdt_x509_trust_ref takes one more reference (each freed once). */
mdt_rc mdt_x509_trust_from_pem(const char *pem, size_t len, mdt_x509_trust **out,
                               mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_x509_trust_from_file(const char *path, mdt_x509_trust **out, mdt_err *err) MDT_WARN_UNUSED;
mdt_x509_trust *mdt_x509_trust_ref(mdt_x509_trust *t);
void mdt_x509_trust_free(mdt_x509_trust *t); /* NULL-safe */

/* Verifies that leaf chains to a trust anchor of t at time now (validity of
 * every certificate, signatures, CA constraints, TLS client purpose), using
 * the n intermediates the client sent as untrusted helpers. A trust anchor
 * need not be self-signed (an issuing CA in the bundle is enough).
 * MDT_OK; MDT_ERR_VERIFY with OpenSSL's reason in the detail;
 * MDT_ERR_INVALID_REQUEST when an intermediate does not parse. */
mdt_rc mdt_x509_verify(const mdt_x509_trust *t, const mdt_x509 *leaf, const mdt_der *chain,
                       size_t n, int64_t now, mdt_err *err) MDT_WARN_UNUSED;

/* RFC 7638 SHA-256 thumbprint of the certificate's public key, for the key
 * types JWKs may register (EC P-256, RSA, Ed25519); another key type ->
 * MDT_ERR_VERIFY. */
mdt_rc mdt_x509_key_thumbprint(const mdt_x509 *c, uint8_t out[32], mdt_err *err) MDT_WARN_UNUSED;
/* Whether the certificate's public key is one of the keys of a JWK Set
 * (JSON text {"keys": [...]}); compares RFC 7638 thumbprints. Keys that do
 * not parse are skipped. MDT_OK with *kid (arena; may be NULL) the matching
 * key's kid and thumb (may be NULL) its thumbprint; MDT_ERR_NOT_FOUND when
 * none matches; MDT_ERR_INVALID_REQUEST when jwks is not a JWK Set. */
mdt_rc mdt_x509_key_in_jwks(const mdt_x509 *c, const char *jwks, mdt_arena *a, const char **kid,
                            uint8_t thumb[32], mdt_err *err) MDT_WARN_UNUSED;

#endif
