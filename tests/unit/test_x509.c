/* X.509 for RFC 8705 (src/jose/x509.c) and the trusted-proxy matcher
 * (src/core/ip.c), with an injected time.
 *
 * The certificates below were made once with the openssl CLI (OpenSSL
 * 3.0) on 2026-11-29, valid ten years (short_pem: one day):
 *   ca1, ca2   req -x509 -newkey ec (P-256), CN=Mandate Test CA 1 / 2
 *   int        CN=Mandate Test Issuing CA, CA:TRUE, signed by ca1
 *   leaf1      C=SE,O=Example,CN=agent-7 signed by ca1, clientAuth, SANs
 *              DNS:agent-7.example.com, URI:spiffe://example.com/agent-7,
 *              IP:10.1.2.3, IP:2001:db8::7, email:agent7@Example.COM
 *   leaf2      -multivalue-rdn "/C=SE/O=Example, Inc./OU=Ops+UID=u-1/CN=Smith, John"
 *              signed by ca1, no SAN
 *   other      leaf1's request signed by ca2
 *   short      leaf1's request signed by ca1 with -days 1
 *   leaf3      CN=agent-9 signed by int
 *   self       req -x509 EC P-256 CN=self-agent; selfrsa: RSA-2048 CN=self-rsa
 * Thumbprints: openssl x509 -in X.pem -outform DER | openssl dgst -sha256
 * JWKs: node's crypto.X509Certificate(...).publicKey.export({format: "jwk"}). */
#include "unit.h"

#include "core/b64.h"
#include "core/ip.h"
#include "jose/jwk.h"
#include "jose/x509.h"

#define T_OK 1798761600   /* 2027-01-01: every certificate valid but short */
#define T_PAST 1577836800 /* 2020-01-01: none valid yet */
#define T_LATE 2114380800 /* 2037-01-01: all expired */

static const char ca1_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBjjCCATOgAwIBAgIUKk8PAufHjThpjcREHNmECl1hPQcwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRTWFuZGF0ZSBUZXN0IENBIDEwHhcNMjYxMTI5MTM1NDQ0WhcN\n"
    "MzYxMTI2MTM1NDQ0WjAcMRowGAYDVQQDDBFNYW5kYXRlIFRlc3QgQ0EgMTBZMBMG\n"
    "ByqGSM49AgEGCCqGSM49AwEHA0IABIr/TS0EiFQ01SZxpklFpzg32Hg7ToK/hyUm\n"
    "VHYanA6w/GMhn4fKhhWRvz8eWivnmceeR9oEO0DVY96RU27O3DejUzBRMB0GA1Ud\n"
    "DgQWBBS2VmrUydVdQ8XWxFgfz9CXxwev6DAfBgNVHSMEGDAWgBS2VmrUydVdQ8XW\n"
    "xFgfz9CXxwev6DAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQC6\n"
    "djxqnUG3E0qsWz1KQIO1khcBsItX01WUXoKcAoL+IQIhANTXe4M73Cma2hfgfyXS\n"
    "vhNo51b0cRONwVQ46pr54OIL\n"
    "-----END CERTIFICATE-----\n";

static const char ca2_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBjjCCATOgAwIBAgIUet//l++b2kTb2QeX8vhcZmj5gpIwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRTWFuZGF0ZSBUZXN0IENBIDIwHhcNMjYxMTI5MTM1NDQ0WhcN\n"
    "MzYxMTI2MTM1NDQ0WjAcMRowGAYDVQQDDBFNYW5kYXRlIFRlc3QgQ0EgMjBZMBMG\n"
    "ByqGSM49AgEGCCqGSM49AwEHA0IABKhWP4lhRbNnR0Yg3vyuNUbCYVtSRcH4Zxgv\n"
    "bOMd8Fxap7I0UIlX609kpBkPfYLTF/kZyyGN6orux/EGNsh+u/GjUzBRMB0GA1Ud\n"
    "DgQWBBRkrjrq+M912x0SNNs+mfm4wbEHgDAfBgNVHSMEGDAWgBRkrjrq+M912x0S\n"
    "NNs+mfm4wbEHgDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQCc\n"
    "dDRYsBhsXO8h6uMD+X+0mg0wi+bD9j5j5JfopMDNgQIhANMGOQtNF4y0nhsroptt\n"
    "LPGeVVUYfIBzuHK89xK+Cv/q\n"
    "-----END CERTIFICATE-----\n";

static const char int_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBpDCCAUmgAwIBAgIUEaBxPtzw6+IzCd1h5U2bOkA5jZIwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRTWFuZGF0ZSBUZXN0IENBIDEwHhcNMjYxMTI5MTM1NDQ0WhcN\n"
    "MzYxMTI2MTM1NDQ0WjAiMSAwHgYDVQQDDBdNYW5kYXRlIFRlc3QgSXNzdWluZyBD\n"
    "QTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABCdpD0R6hDuYxdBVphQeg3lJP/Ns\n"
    "A6NpvtQiia70BALBPYN4jE7lLvfMPOJNa1yqJWe2a7tWsDSf96ZWniBoohyjYzBh\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBRoLNfz\n"
    "XvOy5Z3M92FA4F3RwQrHyzAfBgNVHSMEGDAWgBS2VmrUydVdQ8XWxFgfz9CXxwev\n"
    "6DAKBggqhkjOPQQDAgNJADBGAiEAs8JPoxG/Nn0aa4X+w7bdzgXNBcfxtAI5hXX3\n"
    "cyVWJPkCIQDPq9KDS+JQtlN/+LTm58BEHOwwJ4LwrTvm3ufZ0eyydw==\n"
    "-----END CERTIFICATE-----\n";

static const char leaf1_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICHTCCAcOgAwIBAgIUEaBxPtzw6+IzCd1h5U2bOkA5jZMwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRTWFuZGF0ZSBUZXN0IENBIDEwHhcNMjYxMTI5MTM1NDQ0WhcN\n"
    "MzYxMTI2MTM1NDQ0WjAxMQswCQYDVQQGEwJTRTEQMA4GA1UECgwHRXhhbXBsZTEQ\n"
    "MA4GA1UEAwwHYWdlbnQtNzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHSEsiGr\n"
    "ktosKUCER4ge5Ijx9id+Pj7YB6zru053tqf+xVQ9qkxH4rgK0f3OsFXD6CB5efIf\n"
    "fRygyaK+KYSigR6jgc0wgcowCQYDVR0TBAIwADATBgNVHSUEDDAKBggrBgEFBQcD\n"
    "AjBoBgNVHREEYTBfghNhZ2VudC03LmV4YW1wbGUuY29thhxzcGlmZmU6Ly9leGFt\n"
    "cGxlLmNvbS9hZ2VudC03hwQKAQIDhxAgAQ24AAAAAAAAAAAAAAAHgRJhZ2VudDdA\n"
    "RXhhbXBsZS5DT00wHQYDVR0OBBYEFCbYSd70QMk/DYy8mbP4rbBPGxO3MB8GA1Ud\n"
    "IwQYMBaAFLZWatTJ1V1DxdbEWB/P0JfHB6/oMAoGCCqGSM49BAMCA0gAMEUCIQDe\n"
    "Zf+e928ITeeJDEFo7Tw53WW5fLtjTZXoA0pstgcnWQIgJgq4RwGnToaARUyVXI6T\n"
    "bWF60DW6JJ2B0W11zgZr3u4=\n"
    "-----END CERTIFICATE-----\n";

static const char leaf2_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB3TCCAYKgAwIBAgIUEaBxPtzw6+IzCd1h5U2bOkA5jZQwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRTWFuZGF0ZSBUZXN0IENBIDEwHhcNMjYxMTI5MTM1NDQ0WhcN\n"
    "MzYxMTI2MTM1NDQ0WjBcMQswCQYDVQQGEwJTRTEWMBQGA1UECgwNRXhhbXBsZSwg\n"
    "SW5jLjEfMAoGA1UECwwDT3BzMBEGCgmSJomT8ixkAQEMA3UtMTEUMBIGA1UEAwwL\n"
    "U21pdGgsIEpvaG4wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARElzfDOKOeD11u\n"
    "xI89hM6CPIgvlh79jt/Y/rVQ1l8yNp2rLzqsjbbYtDAFgjoahBExnLbAmAZnjUS9\n"
    "YInGJaH5o2IwYDAJBgNVHRMEAjAAMBMGA1UdJQQMMAoGCCsGAQUFBwMCMB0GA1Ud\n"
    "DgQWBBR+u1RMTbQ4s3TQAGGmvgkyrJQsajAfBgNVHSMEGDAWgBS2VmrUydVdQ8XW\n"
    "xFgfz9CXxwev6DAKBggqhkjOPQQDAgNJADBGAiEAr3C8ZD3d6Xp/XIMxmduGpvzQ\n"
    "VaMFAT+labHb1Jdy7/sCIQDfhnK2cITpn/GtaX05EI8/kIW/Sd2iGYLL8PLqkrNg\n"
    "Kw==\n"
    "-----END CERTIFICATE-----\n";

static const char leaf3_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmTCCAT6gAwIBAgIUNkCRmgPCBWLebMTvs6ZzpgCyQ4kwCgYIKoZIzj0EAwIw\n"
    "IjEgMB4GA1UEAwwXTWFuZGF0ZSBUZXN0IElzc3VpbmcgQ0EwHhcNMjYxMTI5MTM1\n"
    "NDQ0WhcNMzYxMTI2MTM1NDQ0WjASMRAwDgYDVQQDDAdhZ2VudC05MFkwEwYHKoZI\n"
    "zj0CAQYIKoZIzj0DAQcDQgAED9tKWpwGGkEnyOYpHCER2cCWo5gYxs94Idqc1FHW\n"
    "eHKLEqE3zmO/6G8QR0lSC+4Xc2uMbaGZY4heb+VCrs3az6NiMGAwCQYDVR0TBAIw\n"
    "ADATBgNVHSUEDDAKBggrBgEFBQcDAjAdBgNVHQ4EFgQUEE/jQcTx9cTdKupPCvly\n"
    "3o5XyFEwHwYDVR0jBBgwFoAUaCzX817zsuWdzPdhQOBd0cEKx8swCgYIKoZIzj0E\n"
    "AwIDSQAwRgIhAJ/6opn8ADM6aeu11IzLDcmuMqEUAx59uc45kmitv1LnAiEA9JM1\n"
    "UKlGdh5bCThI2V3ZcXJVTd/ZDn14Wtg6tIRvAOw=\n"
    "-----END CERTIFICATE-----\n";

static const char other_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICHTCCAcOgAwIBAgIUB7rUQA2YrwOrUoJYGK3snjAV0MAwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRTWFuZGF0ZSBUZXN0IENBIDIwHhcNMjYxMTI5MTM1NDQ0WhcN\n"
    "MzYxMTI2MTM1NDQ0WjAxMQswCQYDVQQGEwJTRTEQMA4GA1UECgwHRXhhbXBsZTEQ\n"
    "MA4GA1UEAwwHYWdlbnQtNzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHSEsiGr\n"
    "ktosKUCER4ge5Ijx9id+Pj7YB6zru053tqf+xVQ9qkxH4rgK0f3OsFXD6CB5efIf\n"
    "fRygyaK+KYSigR6jgc0wgcowCQYDVR0TBAIwADATBgNVHSUEDDAKBggrBgEFBQcD\n"
    "AjBoBgNVHREEYTBfghNhZ2VudC03LmV4YW1wbGUuY29thhxzcGlmZmU6Ly9leGFt\n"
    "cGxlLmNvbS9hZ2VudC03hwQKAQIDhxAgAQ24AAAAAAAAAAAAAAAHgRJhZ2VudDdA\n"
    "RXhhbXBsZS5DT00wHQYDVR0OBBYEFCbYSd70QMk/DYy8mbP4rbBPGxO3MB8GA1Ud\n"
    "IwQYMBaAFGSuOur4z3XbHRI02z6Z+bjBsQeAMAoGCCqGSM49BAMCA0gAMEUCIQCk\n"
    "wospkcTzz3zc1pbJ45F/8Tt9R3D2gvFgQs4aEJ/URwIgdsGB4BXX35k2bfRlhShR\n"
    "jwYaAs34GuvmEtD1VT3URrI=\n"
    "-----END CERTIFICATE-----\n";

static const char short_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICHDCCAcOgAwIBAgIUEaBxPtzw6+IzCd1h5U2bOkA5jZUwCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRTWFuZGF0ZSBUZXN0IENBIDEwHhcNMjYxMTI5MTM1NDQ0WhcN\n"
    "MjYxMTMwMTM1NDQ0WjAxMQswCQYDVQQGEwJTRTEQMA4GA1UECgwHRXhhbXBsZTEQ\n"
    "MA4GA1UEAwwHYWdlbnQtNzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHSEsiGr\n"
    "ktosKUCER4ge5Ijx9id+Pj7YB6zru053tqf+xVQ9qkxH4rgK0f3OsFXD6CB5efIf\n"
    "fRygyaK+KYSigR6jgc0wgcowCQYDVR0TBAIwADATBgNVHSUEDDAKBggrBgEFBQcD\n"
    "AjBoBgNVHREEYTBfghNhZ2VudC03LmV4YW1wbGUuY29thhxzcGlmZmU6Ly9leGFt\n"
    "cGxlLmNvbS9hZ2VudC03hwQKAQIDhxAgAQ24AAAAAAAAAAAAAAAHgRJhZ2VudDdA\n"
    "RXhhbXBsZS5DT00wHQYDVR0OBBYEFCbYSd70QMk/DYy8mbP4rbBPGxO3MB8GA1Ud\n"
    "IwQYMBaAFLZWatTJ1V1DxdbEWB/P0JfHB6/oMAoGCCqGSM49BAMCA0cAMEQCIFwN\n"
    "+kopM38q76XJBWzrvt85biUimEJxp9pLSqtJrM96AiA0MPk/k3hJez0KpKNLBybV\n"
    "FPJEuAG66XODMKoLzBct0w==\n"
    "-----END CERTIFICATE-----\n";

static const char self_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBfzCCASWgAwIBAgIURmh4QU0PnRQdhpdJjxyIvukbGBQwCgYIKoZIzj0EAwIw\n"
    "FTETMBEGA1UEAwwKc2VsZi1hZ2VudDAeFw0yNjExMjkxMzU0NDRaFw0zNjExMjYx\n"
    "MzU0NDRaMBUxEzARBgNVBAMMCnNlbGYtYWdlbnQwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAARiwBnT6PzK7iCqnJQiRy8tQ1z8KE09DYryMo5O/JAR6zO4nXrK0nxj\n"
    "zCpfSpg7Ix+8YGoL1RYKIlj0Sd0YB+aFo1MwUTAdBgNVHQ4EFgQUMWk4GQmDFL6u\n"
    "acSFdQ+qr6eAigcwHwYDVR0jBBgwFoAUMWk4GQmDFL6uacSFdQ+qr6eAigcwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAQ0JgkTHhZHspqKsOwhPrG\n"
    "wA5Ql5foiISS18ZD62s3CAIhAKiLvqI4/qFLYVBpPkE8GxYHihuHRG2GX5usdYqW\n"
    "6xUa\n"
    "-----END CERTIFICATE-----\n";

static const char selfrsa_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDBzCCAe+gAwIBAgIUEbt7wEL0Aaih8+Q37tQoQAhPOAQwDQYJKoZIhvcNAQEL\n"
    "BQAwEzERMA8GA1UEAwwIc2VsZi1yc2EwHhcNMjYxMTI5MTM1NDQ1WhcNMzYxMTI2\n"
    "MTM1NDQ1WjATMREwDwYDVQQDDAhzZWxmLXJzYTCCASIwDQYJKoZIhvcNAQEBBQAD\n"
    "ggEPADCCAQoCggEBAKzJDkiDKwGAIbZMIOSVzMybqVm/h06Lq8bPmXVYUXsqe/JF\n"
    "VsQnCALFMA/8QIq6ljC90v+4dpg3Vh7ELfoLZQmZabAdSMJpGrya1EgIxkCp/y4V\n"
    "6RkkYP0ZKl4jt2jXw61QszsKR7XKknXsTkrpGHWSNez8hyCUmOAa2ZVcOoVSXICh\n"
    "+at0E1y1LsHNtqdLB90smijqODSqOO5wX5L2N73PLF8bLAaNJ7XlDyJfvRgPLhpy\n"
    "FzlAaSpFU8XhgGlpbqiBBHNNR1heJbIKIc0tDQC49MWdSoB0/BC+4SSSEjSCH6to\n"
    "CPBhVlv1t9WigUtUeSg3K8SmpgZrFIWAgd4LIHsCAwEAAaNTMFEwHQYDVR0OBBYE\n"
    "FBHwKwQJ0QXH4He/iPSiNRW7VO5TMB8GA1UdIwQYMBaAFBHwKwQJ0QXH4He/iPSi\n"
    "NRW7VO5TMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAENkZ7Wc\n"
    "/8fw/wmoWwvVX2HDj141x8x9JN9nJp2GHc7j6CckZqfpNNTvQt+MSm4l3RoG1r2Z\n"
    "TJ1tno3MgOZfVp155H+TUhrp9h+7xbldfwFqiQIG/oRPot/+QPBvhIkdlVaQZttd\n"
    "9AA4DNRyrbrdQMclssQOdd9SbC/LkudpXes3cFAv4imTgWqN5XDF1ZwRO34IWUic\n"
    "LQxTFtg6Ri7VKe4q5b5IqO3yb9+2ZuLIcknra9tg7heVLhox7PEs1y04cJphSz/c\n"
    "IOCQK1HQkQ1PWKhRFwxBf0wXbU2mRgUaVfTBNOhl5NiOhfRmh/uB4Acam/UyYh7t\n"
    "0zyVKVZFYTXGNIo=\n"
    "-----END CERTIFICATE-----\n";

/* openssl x509 -outform DER | openssl dgst -sha256 */
static const char leaf1_sha256[] = "e0b90eebc0af5488c45f3d0974302f117bfee3c0dc742bd07048846abba2ec8a";
static const char leaf2_sha256[] = "70d873ad786798999eb0f6af62eed42031be69a6fb5f466eeca918a931723ac2";
static const char self_sha256[] = "743f73ee982be6a2b144d63bbd20f3dc1524a32a1ce7b8bc8c405f730e393d60";

static const char self_jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"self-1\","
    "\"x\":\"YsAZ0-j8yu4gqpyUIkcvLUNc_ChNPQ2K8jKOTvyQEes\","
    "\"y\":\"M7idesrSfGPMKl9KmDsjH7xgagvVFgoiWPRJ3RgH5oU\"}";
static const char leaf1_jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"leaf-1\","
    "\"x\":\"dISyIauS2iwpQIRHiB7kiPH2J34-PtgHrOu7Tne2p_4\","
    "\"y\":\"xVQ9qkxH4rgK0f3OsFXD6CB5efIffRygyaK-KYSigR4\"}";
static const char selfrsa_jwk[] =
    "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"rMkOSIMrAYAhtkwg5JXMzJupWb-HTourxs-ZdVhReyp78kVWxCcIAsUwD_"
    "xAirqWML3S_7h2mDdWHsQt-gtlCZlpsB1IwmkavJrUSAjGQKn_LhXpGSRg_RkqXiO3aNfDrVCzOwpHtcqSdexOSukYdZI17P"
    "yHIJSY4BrZlVw6hVJcgKH5q3QTXLUuwc22p0sH3SyaKOo4NKo47nBfkvY3vc8sXxssBo0nteUPIl-9GA8uGnIXOUBpKkVTxeG"
    "AaWluqIEEc01HWF4lsgohzS0NALj0xZ1KgHT8EL7hJJISNIIfq2gI8GFWW_W31aKBS1R5KDcrxKamBmsUhYCB3gsgew\"}";

/* ---- helpers ------------------------------------------------------------ */

static mdt_arena arena;

static int setup(void **state)
{
    (void)state;
    mdt_arena_init(&arena, 16384);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mdt_arena_free(&arena);
    return 0;
}

static mdt_der der_of(const char *pem)
{
    mdt_der d[MDT_X509_CHAIN_MAX];
    size_t n = 0;

    assert_int_equal(mdt_x509_pem_decode(pem, strlen(pem), &arena, d, MDT_X509_CHAIN_MAX, &n, NULL),
                     MDT_OK);
    assert_int_equal(n, 1);
    return d[0];
}

static mdt_x509 *cert(const char *pem)
{
    mdt_der d = der_of(pem);
    mdt_x509 *c = NULL;

    assert_int_equal(mdt_x509_parse(d.der, d.len, &c, NULL), MDT_OK);
    return c;
}

static mdt_x509_trust *trust(const char *pem)
{
    mdt_x509_trust *t = NULL;

    assert_int_equal(mdt_x509_trust_from_pem(pem, strlen(pem), &t, NULL), MDT_OK);
    return t;
}

/* base64url of the hex digest openssl printed */
static void hex_to_b64url(const char *hex, char out[MDT_X5T_LEN + 1])
{
    uint8_t bin[32];

    assert_int_equal(strlen(hex), 64);
    for (size_t i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        bin[i] = (uint8_t)v;
    }
    mdt_b64url_encode(bin, sizeof(bin), out);
}

/* ---- thumbprints and parsing --------------------------------------------- */

static void thumbprints_match_openssl(void **state)
{
    const struct {
        const char *pem, *hex;
    } cases[] = {{leaf1_pem, leaf1_sha256}, {leaf2_pem, leaf2_sha256}, {self_pem, self_sha256}};
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++) {
        char got[MDT_X5T_LEN + 1], want[MDT_X5T_LEN + 1];
        mdt_der d = der_of(cases[i].pem);
        mdt_x509 *c = cert(cases[i].pem);
        mdt_der back = mdt_x509_der(c);

        mdt_x509_thumbprint(d.der, d.len, got);
        hex_to_b64url(cases[i].hex, want);
        assert_string_equal(got, want);
        assert_int_equal(strlen(got), MDT_X5T_LEN);
        assert_int_equal(back.len, d.len);
        assert_memory_equal(back.der, d.der, d.len);
        mdt_x509_free(c);
    }
    /* and one written out, as RFC 8705 §3.1 puts it in cnf */
    {
        char got[MDT_X5T_LEN + 1];
        mdt_der d = der_of(leaf1_pem);
        mdt_x509_thumbprint(d.der, d.len, got);
        assert_string_equal(got, "4LkO68CvVIjEXz0JdDAvEXv-48DcdCvQcEiEarui7Io");
    }
}

static void pem_decode_blocks(void **state)
{
    char *two = mdt_arena_printf(&arena, "%s%s", leaf3_pem, int_pem);
    char *three = mdt_arena_printf(&arena, "%s%s%s", leaf3_pem, int_pem, ca1_pem);
    const char *key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    const char *bad = "-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n";
    mdt_der d[MDT_X509_CHAIN_MAX];
    size_t n = 0;
    mdt_err err = {0};
    (void)state;

    assert_int_equal(mdt_x509_pem_decode(two, strlen(two), &arena, d, MDT_X509_CHAIN_MAX, &n, &err), MDT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mdt_x509_pem_decode(three, strlen(three), &arena, d, 2, &n, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_pem_decode("", 0, &arena, d, 2, &n, &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_pem_decode("hello", 5, &arena, d, 2, &n, &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_pem_decode(key, strlen(key), &arena, d, 2, &n, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_pem_decode(bad, strlen(bad), &arena, d, 2, &n, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_pem_decode(two, MDT_X509_PEM_MAX + 1, &arena, d, 2, &n, &err),
                     MDT_ERR_INVALID_REQUEST);
}

static void parse_refuses_garbage(void **state)
{
    mdt_der d = der_of(leaf1_pem);
    uint8_t *longer = mdt_arena_alloc(&arena, d.len + 1);
    mdt_x509 *c = NULL;
    (void)state;

    memcpy(longer, d.der, d.len);
    longer[d.len] = 0;
    assert_int_equal(mdt_x509_parse(longer, d.len + 1, &c, NULL), MDT_ERR_INVALID_REQUEST);
    assert_null(c);
    assert_int_equal(mdt_x509_parse(d.der, d.len - 1, &c, NULL), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_parse(d.der, 0, &c, NULL), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_parse(d.der, MDT_X509_DER_MAX + 1, &c, NULL), MDT_ERR_TOO_LARGE);
    assert_int_equal(mdt_x509_parse((const uint8_t *)"0000", 4, &c, NULL), MDT_ERR_INVALID_REQUEST);
    mdt_x509_free(NULL);
}

/* ---- subject DN ------------------------------------------------------------ */

static void dn_matches(void **state)
{
    mdt_x509 *c1 = cert(leaf1_pem), *c2 = cert(leaf2_pem);
    const char *same1[] = {
        "CN=agent-7,O=Example,C=SE",
        "cn=Agent-7, o=example ,  c=se",             /* case of types and values, spacing */
        "CN=  agent-7 ,O=Example,C=SE",
        "commonName=agent-7,organizationName=Example,countryName=SE",
        "2.5.4.3=agent-7,OID.2.5.4.10=Example,C=SE", /* dotted OIDs */
        "CN=agent\\2D7,O=Example;C=SE",              /* hex escape, ';' separator */
    };
    const char *same2[] = {
        "CN=Smith\\, John,UID=u-1+OU=Ops,O=Example\\, Inc.,C=SE",
        "CN=Smith\\, John,OU=Ops+UID=u-1,O=Example\\, Inc.,C=SE", /* AVAs of one RDN: any order */
        "CN=smith\\2c   john , OU = ops + uid=U-1, O=example\\, inc., C=se",
    };
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(same1); i++)
        assert_int_equal(mdt_x509_dn_match(c1, same1[i], NULL), MDT_OK);
    for (size_t i = 0; i < MDT_ARRAY_LEN(same2); i++)
        assert_int_equal(mdt_x509_dn_match(c2, same2[i], NULL), MDT_OK);
    /* the subject as text reads back as the same DN */
    assert_string_equal(mdt_x509_subject(c1, &arena), "CN=agent-7,O=Example,C=SE");
    assert_string_equal(mdt_x509_subject(c2, &arena),
                        "CN=Smith\\, John,UID=u-1+OU=Ops,O=Example\\, Inc.,C=SE");
    assert_int_equal(mdt_x509_dn_match(c2, mdt_x509_subject(c2, &arena), NULL), MDT_OK);
    mdt_x509_free(c1);
    mdt_x509_free(c2);
}

static void dn_mismatches(void **state)
{
    mdt_x509 *c1 = cert(leaf1_pem), *c2 = cert(leaf2_pem);
    mdt_err err = {0};
    const char *other1[] = {
        "C=SE,O=Example,CN=agent-7",      /* ASN.1 order: RFC 4514 writes the most specific first */
        "CN=agent-8,O=Example,C=SE",      /* another value */
        "CN=agent-7,O=Example",           /* an RDN missing */
        "CN=agent-7,O=Example,C=SE,DC=x", /* an RDN too many */
        "CN=agent-7+O=Example,C=SE",      /* two RDNs are not one multi-valued RDN */
        "OU=agent-7,O=Example,C=SE",      /* another attribute type */
        "CN=agent-7\\,O=Example,C=SE",    /* an escaped comma is part of the value */
    };
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(other1); i++)
        assert_int_equal(mdt_x509_dn_match(c1, other1[i], &err), MDT_ERR_VERIFY);
    /* the commas in leaf2's values must be escaped */
    assert_int_equal(mdt_x509_dn_match(c2, "CN=Smith, John,UID=u-1+OU=Ops,O=Example, Inc.,C=SE", &err),
                     MDT_ERR_INVALID_REQUEST); /* " John" parses as a type without '=' */
    assert_int_equal(mdt_x509_dn_match(c2, "CN=Smith\\, John,OU=Ops,O=Example\\, Inc.,C=SE", &err),
                     MDT_ERR_VERIFY);
    mdt_x509_free(c1);
    mdt_x509_free(c2);
}

static void dn_unreadable(void **state)
{
    mdt_x509 *c = cert(leaf1_pem);
    char *huge = mdt_arena_alloc(&arena, MDT_X509_DN_MAX + 8);
    const char *bad[] = {
        "", "CN", "=agent-7", "CN=agent-7,", "CN=agent-7,,O=Example", "XX=agent-7,O=Example,C=SE",
        "CN=#0C076167656E742D37,O=Example,C=SE", "CN=a\\zz,O=Example,C=SE", "CN=a\\00,O=x",
        "CN=\"agent-7\",O=Example,C=SE", "CN=agent-7,O=Example,C=SE,1.2.x=3",
    };
    (void)state;

    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++)
        assert_int_equal(mdt_x509_dn_match(c, bad[i], NULL), MDT_ERR_INVALID_REQUEST);
    memset(huge, 'a', MDT_X509_DN_MAX + 4);
    memcpy(huge, "CN=", 3);
    assert_int_equal(mdt_x509_dn_match(c, huge, NULL), MDT_ERR_INVALID_REQUEST);
    mdt_x509_free(c);
}

static void dn_text_equal(void **state)
{
    (void)state;
    assert_int_equal(mdt_x509_dn_equal("CN=a  b,O=x", "cn= A B ,o=X", NULL), MDT_OK);
    assert_int_equal(mdt_x509_dn_equal("CN=a+UID=1,O=x", "UID=1+CN=a,O=x", NULL), MDT_OK);
    assert_int_equal(mdt_x509_dn_equal("CN=a,O=x", "O=x,CN=a", NULL), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_dn_equal("CN=a\\,b", "CN=a\\2cb", NULL), MDT_OK);
    assert_int_equal(mdt_x509_dn_equal("CN=\\C3\\A4", "CN=\xc3\xa4", NULL), MDT_OK);
}

/* ---- subject alternative names ------------------------------------------ */

static void san_matches(void **state)
{
    mdt_x509 *c = cert(leaf1_pem), *c2 = cert(leaf2_pem);
    mdt_err err = {0};
    (void)state;

    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_DNS, "agent-7.example.com", &err), MDT_OK);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_DNS, "AGENT-7.Example.COM", &err), MDT_OK);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_DNS, "agent-8.example.com", &err), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_DNS, "agent-7.example.co", &err), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_DNS, "agent-7.example.com.evil", &err),
                     MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_URI, "spiffe://example.com/agent-7", &err), MDT_OK);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_URI, "spiffe://example.com/Agent-7", &err),
                     MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_DNS, "spiffe://example.com/agent-7", &err),
                     MDT_ERR_VERIFY); /* the right value under another type */
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_IP, "10.1.2.3", &err), MDT_OK);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_IP, "2001:db8:0:0::7", &err), MDT_OK);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_IP, "10.1.2.4", &err), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_IP, "::ffff:10.1.2.3", &err), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_IP, "agent-7", &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_EMAIL, "agent7@example.com", &err), MDT_OK);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_EMAIL, "Agent7@example.com", &err), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_EMAIL, "agent7@example.org", &err), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_san_match(c, MDT_SAN_DNS, "", &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_san_match(c2, MDT_SAN_DNS, "agent-7.example.com", &err), MDT_ERR_VERIFY);
    mdt_x509_free(c);
    mdt_x509_free(c2);
}

/* ---- chains and dates ------------------------------------------------------ */

static void chain_verification(void **state)
{
    mdt_x509_trust *t1 = trust(ca1_pem), *tint = trust(int_pem);
    mdt_x509_trust *both = trust(mdt_arena_printf(&arena, "%s%s", ca1_pem, ca2_pem));
    mdt_x509 *leaf1 = cert(leaf1_pem), *other = cert(other_pem), *shrt = cert(short_pem);
    mdt_x509 *leaf3 = cert(leaf3_pem), *self = cert(self_pem);
    mdt_der inter = der_of(int_pem), junk = {(const uint8_t *)"junk", 4};
    mdt_err err = {0};
    (void)state;

    assert_int_equal(mdt_x509_verify(t1, leaf1, NULL, 0, T_OK, &err), MDT_OK);
    assert_int_equal(mdt_x509_verify(t1, other, NULL, 0, T_OK, &err), MDT_ERR_VERIFY);
    assert_non_null(strstr(err.detail, "local issuer"));
    assert_int_equal(mdt_x509_verify(both, other, NULL, 0, T_OK, &err), MDT_OK);
    assert_int_equal(mdt_x509_verify(t1, shrt, NULL, 0, T_OK, &err), MDT_ERR_VERIFY);
    assert_non_null(strstr(err.detail, "expired"));
    assert_int_equal(mdt_x509_verify(t1, shrt, NULL, 0, 1798761600 - 3 * 365 * 86400 + 86400 * 700,
                                     &err), MDT_ERR_VERIFY); /* 2025-12: not yet valid */
    assert_int_equal(mdt_x509_verify(t1, leaf1, NULL, 0, T_PAST, &err), MDT_ERR_VERIFY);
    assert_non_null(strstr(err.detail, "not yet valid"));
    assert_int_equal(mdt_x509_verify(t1, leaf1, NULL, 0, T_LATE, &err), MDT_ERR_VERIFY);
    /* an intermediate the client sends helps; without it there is no path */
    assert_int_equal(mdt_x509_verify(t1, leaf3, &inter, 1, T_OK, &err), MDT_OK);
    assert_int_equal(mdt_x509_verify(t1, leaf3, NULL, 0, T_OK, &err), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_verify(t1, leaf3, &junk, 1, T_OK, &err), MDT_ERR_INVALID_REQUEST);
    /* an issuing CA alone in the bundle is a trust anchor */
    assert_int_equal(mdt_x509_verify(tint, leaf3, NULL, 0, T_OK, &err), MDT_OK);
    assert_int_equal(mdt_x509_verify(tint, leaf1, NULL, 0, T_OK, &err), MDT_ERR_VERIFY);
    /* a self-signed certificate chains to nothing it is not itself */
    assert_int_equal(mdt_x509_verify(t1, self, NULL, 0, T_OK, &err), MDT_ERR_VERIFY);
    /* references: one more, freed once each */
    assert_ptr_equal(mdt_x509_trust_ref(t1), t1);
    mdt_x509_trust_free(t1);
    assert_int_equal(mdt_x509_verify(t1, leaf1, NULL, 0, T_OK, &err), MDT_OK);
    mdt_x509_trust_free(t1);
    mdt_x509_trust_free(tint);
    mdt_x509_trust_free(both);
    mdt_x509_trust_free(NULL);
    mdt_x509_free(leaf1);
    mdt_x509_free(other);
    mdt_x509_free(shrt);
    mdt_x509_free(leaf3);
    mdt_x509_free(self);
}

static void trust_bundles(void **state)
{
    mdt_x509_trust *t = NULL;
    mdt_err err = {0};
    (void)state;

    assert_int_equal(mdt_x509_trust_from_pem("", 0, &t, &err), MDT_ERR_CONFIG);
    assert_int_equal(mdt_x509_trust_from_pem("not pem", 7, &t, &err), MDT_ERR_CONFIG);
    assert_null(t);
    assert_int_equal(mdt_x509_trust_from_file("/nonexistent/ca.pem", &t, &err), MDT_ERR_CONFIG);
    assert_null(t);
}

static void validity_dates(void **state)
{
    mdt_x509 *self = cert(self_pem), *shrt = cert(short_pem);
    (void)state;

    assert_int_equal(mdt_x509_check_time(self, T_OK, NULL), MDT_OK);
    assert_int_equal(mdt_x509_check_time(self, T_PAST, NULL), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_check_time(self, T_LATE, NULL), MDT_ERR_VERIFY);
    assert_int_equal(mdt_x509_check_time(shrt, T_OK, NULL), MDT_ERR_VERIFY);
    mdt_x509_free(self);
    mdt_x509_free(shrt);
}

/* ---- self-signed: the key in a JWK Set -------------------------------------- */

static void self_signed_key_match(void **state)
{
    mdt_x509 *self = cert(self_pem), *rsa = cert(selfrsa_pem);
    const char *set = mdt_arena_printf(&arena, "{\"keys\":[%s,%s]}", leaf1_jwk, self_jwk);
    const char *others = mdt_arena_printf(&arena, "{\"keys\":[%s,%s]}", leaf1_jwk, selfrsa_jwk);
    const char *kid = NULL;
    uint8_t thumb[32], want[32];
    mdt_jwk *j = NULL;
    (void)state;

    assert_int_equal(mdt_jwk_from_json(self_jwk, strlen(self_jwk), &j, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_thumbprint(j, want, NULL), MDT_OK);
    mdt_jwk_free(j);
    assert_int_equal(mdt_x509_key_thumbprint(self, thumb, NULL), MDT_OK);
    assert_memory_equal(thumb, want, 32);

    memset(thumb, 0, sizeof(thumb));
    assert_int_equal(mdt_x509_key_in_jwks(self, set, &arena, &kid, thumb, NULL), MDT_OK);
    assert_string_equal(kid, "self-1");
    assert_memory_equal(thumb, want, 32);
    assert_int_equal(mdt_x509_key_in_jwks(self, others, &arena, &kid, NULL, NULL), MDT_ERR_NOT_FOUND);
    assert_null(kid);
    assert_int_equal(mdt_x509_key_in_jwks(rsa, others, &arena, NULL, NULL, NULL), MDT_OK);
    assert_int_equal(mdt_x509_key_in_jwks(rsa, set, &arena, NULL, NULL, NULL), MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_x509_key_in_jwks(self, "{\"keys\":{}}", &arena, NULL, NULL, NULL),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_key_in_jwks(self, "[", &arena, NULL, NULL, NULL), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_x509_key_in_jwks(self, NULL, &arena, NULL, NULL, NULL), MDT_ERR_INVALID_REQUEST);
    /* a key that does not parse is skipped, the next one still counts */
    assert_int_equal(mdt_x509_key_in_jwks(self, mdt_arena_printf(&arena, "{\"keys\":[{\"kty\":\"oct\"},%s]}",
                                                                 self_jwk),
                                          &arena, NULL, NULL, NULL), MDT_OK);
    mdt_x509_free(self);
    mdt_x509_free(rsa);
}

/* ---- trusted proxies ------------------------------------------------------ */

static void proxy_cidrs(void **state)
{
    (void)state;
    assert_true(mdt_ip_in_cidrs("127.0.0.1", "127.0.0.1/32"));
    assert_false(mdt_ip_in_cidrs("127.0.0.2", "127.0.0.1/32"));
    assert_true(mdt_ip_in_cidrs("10.200.3.4", "192.168.1.7, 10.0.0.0/8"));
    assert_true(mdt_ip_in_cidrs("192.168.1.7", "192.168.1.7,10.0.0.0/8"));
    assert_false(mdt_ip_in_cidrs("192.168.1.8", "192.168.1.7,10.0.0.0/8"));
    assert_true(mdt_ip_in_cidrs("172.16.5.1", "172.16.0.0/12"));
    assert_false(mdt_ip_in_cidrs("172.32.0.1", "172.16.0.0/12"));
    assert_true(mdt_ip_in_cidrs("::ffff:10.9.9.9", "10.0.0.0/8"));  /* IPv4-mapped */
    assert_true(mdt_ip_in_cidrs("::1", "fd00::/8,::1/128"));
    assert_true(mdt_ip_in_cidrs("fd12::5", "fd00::/8,::1/128"));
    assert_false(mdt_ip_in_cidrs("fe80::1", "fd00::/8,::1/128"));
    assert_false(mdt_ip_in_cidrs("10.0.0.1", "::/0"));  /* families differ */
    assert_true(mdt_ip_in_cidrs("8.8.8.8", "0.0.0.0/0"));
    assert_false(mdt_ip_in_cidrs("127.0.0.1", ""));
    assert_false(mdt_ip_in_cidrs("", "127.0.0.1/32"));
    assert_false(mdt_ip_in_cidrs(NULL, "127.0.0.1/32"));
    assert_false(mdt_ip_in_cidrs("not-an-ip", "0.0.0.0/0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thumbprints_match_openssl),
        cmocka_unit_test(pem_decode_blocks),
        cmocka_unit_test(parse_refuses_garbage),
        cmocka_unit_test(dn_matches),
        cmocka_unit_test(dn_mismatches),
        cmocka_unit_test(dn_unreadable),
        cmocka_unit_test(dn_text_equal),
        cmocka_unit_test(san_matches),
        cmocka_unit_test(chain_verification),
        cmocka_unit_test(trust_bundles),
        cmocka_unit_test(validity_dates),
        cmocka_unit_test(self_signed_key_match),
        cmocka_unit_test(proxy_cidrs),
    };
    return cmocka_run_group_tests_name("x509", tests, setup, teardown);
}
