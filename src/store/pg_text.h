/* Private to src/store/: the pure text work of the PostgreSQL driver, apart
 * so that it is unit-tested without a server. */
#ifndef MDT_STORE_PG_TEXT_H
#define MDT_STORE_PG_TEXT_H

/* sql with its placeholders in PostgreSQL's form: ?N becomes $N and a bare
 * ? the next number ($1, $2, ...). Placeholders inside string literals
 * ('...', with '' inside), quoted identifiers ("...") and comments (-- to
 * the end of the line, and C-style) are left as they are. *nparams (may be
 * NULL) receives the highest parameter number. Caller frees; NULL on
 * allocation failure. */
char *mdt_store__pg_placeholders(const char *sql, int *nparams);

/* A libpq URL safe to show: mdt_url_redact (core/url.h) into a string of
 * its own. Caller frees; NULL on allocation failure. */
char *mdt_store__url_redact(const char *url);

#endif
