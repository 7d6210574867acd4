/* Client certificates: not read yet (the RFC 8705 methods are being built). */
#include "http/peer_cert.h"

bool mdt_req_client_cert_present(mdt_req *req)
{
    (void)req;
    return false;
}

mdt_rc mdt_req_client_cert(mdt_req *req, const uint8_t **der, size_t *len, mdt_err *err)
{
    (void)req;
    *der = NULL;
    *len = 0;
    return mdt_fail(err, MDT_ERR_NOT_FOUND, "no client certificate");
}
