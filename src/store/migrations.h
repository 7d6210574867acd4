/* Private to src/store/: the versioned schema migrations, shared by every
 * backend. Each is one SQL script applied inside one transaction, in order;
 * the version applied is recorded in schema_migrations. Never edit a
 * released migration: append a new one.
 *
 * The SQL is portable between SQLite and PostgreSQL except for two
 * placeholders each backend fills in (mdt_store__migration_render):
 *   {BLOB}    binary column:                   BLOB    | BYTEA
 *   {SEQ_PK}  64-bit integer primary key we assign ourselves:
 *             INTEGER PRIMARY KEY (the rowid)  | BIGINT PRIMARY KEY
 * and, for migrations that turn JSON text columns into typed columns, the
 * member KEY of the JSON object text in column COL:
 *   {JSON_TEXT:COL.KEY}  as text (NULL when absent)
 *   {JSON_INT:COL.KEY}   as an integer (NULL when absent)
 *   {JSON_BOOL:COL.KEY}  1 when it is true, else 0 */
#ifndef MDT_STORE_MIGRATIONS_H
#define MDT_STORE_MIGRATIONS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int version;       /* 1, 2, 3 ... without gaps */
    const char *name;
    const char *sql;   /* with placeholders */
} mdt_migration;

/* How an engine reads a member of JSON text: before the column, between
 * the column and the key, after the key. */
typedef struct {
    const char *pre, *mid, *post;
} mdt_sql_json;

typedef struct {
    const char *blob;
    const char *seq_pk;
    mdt_sql_json json_text, json_int, json_bool;
} mdt_sql_dialect;

extern const mdt_migration mdt_store__migrations[];
extern const size_t mdt_store__migration_count;

/* Every table of the schema (schema_migrations aside), in an order in
 * which each table comes after the tables it references: what `db copy`
 * copies. A migration that creates a table adds it here (a unit test
 * compares this list with the tables of a migrated database); columns are
 * read from the source's catalogue, so a column added by a migration needs
 * nothing here. seeded: the migrations insert rows of their own into it,
 * which the copy replaces. */
typedef struct {
    const char *name;
    bool seeded;
} mdt_store_table;

extern const mdt_store_table mdt_store__tables[];
extern const size_t mdt_store__table_count;

/* The schema version after every migration is applied. */
int mdt_store__schema_latest(void);

/* The migration's SQL with the placeholders replaced. Caller frees; NULL on
 * allocation failure. */
char *mdt_store__migration_render(const mdt_migration *m, const mdt_sql_dialect *d);

#endif
