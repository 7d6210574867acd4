/* Client certificates: PEM as forwarded in X-Client-Cert, then DER parsing,
 * subject rendering and DN/SAN matching against registered values. */
#include <string.h>

#include "fuzz.h"
#include "jose/x509.h"

static void ignore(mdt_rc rc) { (void)rc; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_arena a;
    mdt_der der[4];
    size_t n = 0;
    mdt_err err;

    mdt_arena_init(&a, 4096);
    if (mdt_x509_pem_decode((const char *)data, size, &a, der, 4, &n, &err) != MDT_OK)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        mdt_x509 *c = NULL;
        char x5t[MDT_X5T_LEN + 1];
        mdt_x509_thumbprint(der[i].der, der[i].len, x5t);
        if (mdt_x509_parse(der[i].der, der[i].len, &c, &err) != MDT_OK)
            continue;
        (void)mdt_x509_subject(c, &a);
        ignore(mdt_x509_dn_match(c, "CN=agent,O=Example,C=SE", &err));
        ignore(mdt_x509_san_match(c, MDT_SAN_DNS, "agent.example.com", &err));
        ignore(mdt_x509_check_time(c, 1795958689, &err));
        mdt_x509_free(c);
    }
    /* registered DNs come from metadata: compare the input with itself and a fixed DN */
    if (size < 1024) {
        char dn[1024];
        memcpy(dn, data, size);
        dn[size] = '\0';
        ignore(mdt_x509_dn_equal(dn, "CN=a,O=b", &err));
        ignore(mdt_x509_dn_equal(dn, dn, &err));
    }
    mdt_arena_free(&a);
    return 0;
}
