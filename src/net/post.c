/* Outbound POST (see post.h). */
#include "net/post.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

#include "net/tls.h"

#define POST_ANSWER_MAX (64 * 1024) /* bytes of an answer read (and dropped) */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* The answer's body is read and dropped, up to a cap. */
static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    size_t *seen = ud;

    (void)p;
    if (n && size > POST_ANSWER_MAX / n)
        return 0;
    *seen += size * n;
    return *seen > POST_ANSWER_MAX ? 0 : size * n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const atomic_bool *cancel = ud;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return cancel && atomic_load(cancel) ? 1 : 0;
}

static bool is_http_url(const char *url)
{
    return url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0);
}

static bool setup(CURL *h, const char *url, struct curl_slist *hdrs, const char *body,
                  const mdt_post_opts *o, size_t *seen)
{
    return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PROXY, "") == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) ==
               CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEDATA, seen) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)o->cancel) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_USERAGENT, "mandate") == CURLE_OK &&
           mdt_net_set_ca_file(h, o->ca_file);
}

mdt_rc mdt_post_json(const char *url, const char *const *headers, const char *body,
                     const mdt_post_opts *o, long *status, mdt_err *err)
{
    mdt_rc rc = MDT_ERR_NOMEM;
    struct curl_slist *hdrs = NULL, *next;
    CURL *h = NULL;
    size_t seen = 0;
    CURLcode cc;

    *status = 0;
    if (!is_http_url(url))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "the URL must be http or https");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return mdt_fail(err, MDT_ERR_INTERNAL, "libcurl could not be initialised");
    if (!(hdrs = curl_slist_append(NULL, "Content-Type: application/json")))
        goto fail;
    if ((next = curl_slist_append(hdrs, "Expect:")))
        hdrs = next;
    else
        goto fail;
    for (size_t i = 0; headers && headers[i]; i++) {
        if (!(next = curl_slist_append(hdrs, headers[i])))
            goto fail;
        hdrs = next;
    }
    if (!(h = curl_easy_init()) || !setup(h, url, hdrs, body, o, &seen))
        goto fail;
    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && *status))
        rc = MDT_OK;
    else if (cc == CURLE_PEER_FAILED_VERIFICATION)
        rc = mdt_failf(err, MDT_ERR_UNAVAILABLE, "the webhook did not answer",
                       "the server's certificate does not chain to a trusted CA (%s)",
                       o->ca_file && *o->ca_file ? "[server] outbound_ca_file"
                                                 : "the system's store");
    else
        rc = mdt_failf(err, MDT_ERR_UNAVAILABLE, "the webhook did not answer", "%s",
                       curl_easy_strerror(cc));
    goto out;
fail:
    rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
out:
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    return rc;
}
