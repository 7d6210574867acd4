/* The trust of outbound https, one rule for every libcurl handle Mandate
 * sets up (fetch.c, post.c): [server] outbound_ca_file when set, in place
 * of the system's store (CA bundle and CA directory both), else the
 * system's store as libcurl was built to find it. */
#ifndef MDT_NET_TLS_H
#define MDT_NET_TLS_H

#include <stdbool.h>

#include <curl/curl.h>

/* Makes h trust only the certificates of the PEM bundle ca_file (NULL or
 * "": leaves libcurl's defaults). false when libcurl refuses the option. */
static inline bool mdt_net_set_ca_file(CURL *h, const char *ca_file)
{
    if (!ca_file || !*ca_file)
        return true;
    return curl_easy_setopt(h, CURLOPT_CAINFO, ca_file) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CAPATH, (char *)NULL) == CURLE_OK;
}

#endif
