/* The pure text work of the PostgreSQL driver (see pg_text.h). */
#include "store/pg_text.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/url.h"

/* Copies the literal, identifier or comment that starts at p (one of ' " -
 * /) and returns what follows it; p itself when nothing starts there. */
static const char *skip_quoted(mdt_buf *b, const char *p, mdt_rc *rc)
{
    const char *q = p;

    if (*p == '\'' || *p == '"') {
        char quote = *p;
        for (q = p + 1; *q; q++) {
            if (*q == quote) {
                if (q[1] == quote) { /* doubled: the quote itself */
                    q++;
                    continue;
                }
                q++;
                break;
            }
        }
    } else if (p[0] == '-' && p[1] == '-') {
        q = p + strcspn(p, "\n");
    } else if (p[0] == '/' && p[1] == '*') {
        const char *end = strstr(p + 2, "*/");
        q = end ? end + 2 : p + strlen(p);
    }
    if (q != p && *rc == MDT_OK)
        *rc = mdt_buf_add(b, p, (size_t)(q - p));
    return q;
}

char *mdt_store__pg_placeholders(const char *sql, int *nparams)
{
    mdt_buf b;
    mdt_rc rc = MDT_OK;
    const char *p = sql;
    int next = 0, max = 0;

    mdt_buf_init(&b, 1 << 20);
    while (*p && rc == MDT_OK) {
        const char *q = skip_quoted(&b, p, &rc);
        char num[16];
        int n;

        if (q != p) {
            p = q;
            continue;
        }
        if (*p != '?') {
            rc = mdt_buf_add(&b, p++, 1);
            continue;
        }
        p++;
        if (isdigit((unsigned char)*p)) {
            n = 0;
            while (isdigit((unsigned char)*p) && n < 100000)
                n = n * 10 + (*p++ - '0');
        } else {
            n = ++next;
        }
        if (n > max)
            max = n;
        snprintf(num, sizeof(num), "$%d", n);
        rc = mdt_buf_adds(&b, num);
    }
    if (rc != MDT_OK) {
        mdt_buf_free(&b);
        return NULL;
    }
    if (nparams)
        *nparams = max;
    return mdt_buf_take(&b);
}

char *mdt_store__url_redact(const char *url)
{
    /* Each mask ("***") may be longer than what it hides: room for one per
     * parameter, and the userinfo's. */
    size_t n = strlen(url) + 1, masks = 2;
    char *out;

    for (const char *p = url; *p; p++)
        masks += *p == '=';
    n += 3 * masks;
    if ((out = malloc(n)))
        mdt_url_redact(url, out, n);
    return out;
}
