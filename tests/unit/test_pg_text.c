/* The PostgreSQL driver's text work: placeholders and URL redaction. */
#include "unit.h"

#include "store/pg_text.h"

static void check_ph(const char *in, const char *want, int want_n)
{
    int n = -1;
    char *out = mdt_store__pg_placeholders(in, &n);

    assert_non_null(out);
    assert_string_equal(out, want);
    assert_int_equal(n, want_n);
    free(out);
}

static void test_placeholders_numbered(void **state)
{
    (void)state;
    check_ph("SELECT a FROM t WHERE id=?1 AND x>?2", "SELECT a FROM t WHERE id=$1 AND x>$2", 2);
    check_ph("UPDATE t SET a=?2 WHERE id=?1 AND b<?2", "UPDATE t SET a=$2 WHERE id=$1 AND b<$2",
             2);
    check_ph("VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
             "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", 11);
    check_ph("SELECT 1", "SELECT 1", 0);
    check_ph("", "", 0);
}

static void test_placeholders_bare(void **state)
{
    (void)state;
    check_ph("INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3)", 3);
    check_ph("a=? AND b=?", "a=$1 AND b=$2", 2);
}

/* A ? inside a literal, a quoted identifier or a comment is text, not a
 * parameter; a doubled quote does not end the literal. */
static void test_placeholders_quoted(void **state)
{
    (void)state;
    check_ph("SELECT '?1' FROM t WHERE a=?1", "SELECT '?1' FROM t WHERE a=$1", 1);
    check_ph("SELECT 'it''s ?' , ?2", "SELECT 'it''s ?' , $2", 2);
    check_ph("SELECT \"col?\" FROM t WHERE x=?", "SELECT \"col?\" FROM t WHERE x=$1", 1);
    check_ph("SELECT 1 -- why? ?1\n WHERE a=?1", "SELECT 1 -- why? ?1\n WHERE a=$1", 1);
    check_ph("SELECT /* ?1 */ ?2", "SELECT /* ?1 */ $2", 2);
    check_ph("WHERE name='clients' AND v=?1", "WHERE name='clients' AND v=$1", 1);
    check_ph("SELECT 'unterminated ?1", "SELECT 'unterminated ?1", 0);
}

static void check_redact(const char *in, const char *want)
{
    char *out = mdt_store__url_redact(in);

    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void test_redact(void **state)
{
    (void)state;
    check_redact("postgresql://alice:s3cret@db.example:5432/mandate",
                 "postgresql://alice:***@db.example:5432/mandate");
    check_redact("postgres://alice:p%40ss@h/db?sslmode=require",
                 "postgres://alice:***@h/db?sslmode=require");
    /* the last @ of the authority ends the userinfo */
    check_redact("postgresql://a:x@y@h/db", "postgresql://a:***@h/db");
    check_redact("postgresql://h/db?user=a&password=s3cret&sslmode=verify-full",
                 "postgresql://h/db?user=a&password=***&sslmode=verify-full");
    check_redact("postgresql://h/db?password=s3cret", "postgresql://h/db?password=***");
    check_redact("postgresql://h/db?sslpassword=k&x=1", "postgresql://h/db?sslpassword=***&x=1");
    check_redact("postgresql://a:b@h/db?password=c", "postgresql://a:***@h/db?password=***");
    /* nothing to hide */
    check_redact("postgresql:///mandate?host=/tmp/pg", "postgresql:///mandate?host=/tmp/pg");
    check_redact("postgresql://alice@h/db", "postgresql://alice@h/db");
    check_redact("postgresql://h/db?mypassword=x", "postgresql://h/db?mypassword=x");
    /* an @ in the path or query is not userinfo */
    check_redact("postgresql://h/db?application_name=a:b@c", "postgresql://h/db?application_name=a:b@c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholders_numbered),
        cmocka_unit_test(test_placeholders_bare),
        cmocka_unit_test(test_placeholders_quoted),
        cmocka_unit_test(test_redact),
    };

    return cmocka_run_group_tests_name("pg_text", tests, NULL, NULL);
}
