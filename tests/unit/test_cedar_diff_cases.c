/* Cases where the differential test (tests/integration/cedar_diff.test.mjs)
 * found the evaluator disagreeing with Cedar's reference implementation
 * (cedar-wasm 4.13), one group per disagreement, each expectation checked
 * against the reference. */
#include "unit.h"

#include "core/arena.h"
#include "policy/cedar/cedar.h"

typedef struct {
    char expect; /* T allow, F deny, E the policy errs, P the text is refused */
    const char *cond;
} diff_case;

/* One policy "permit(principal, action, resource) when { COND };" evaluated
 * for User::"alice" with an empty store and context. */
static void check(const diff_case *c)
{
    char text[512];
    mdt_cedar_set *s = NULL;
    mdt_cedar_entities *e = NULL;
    mdt_cedar_decision d;
    mdt_arena a;
    mdt_err err = {0};
    mdt_rc rc;

    snprintf(text, sizeof(text), "permit(principal, action, resource) when { %s };", c->cond);
    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_cedar_set_new(&s, &err), MDT_OK);
    assert_int_equal(mdt_cedar_entities_new(&e, &err), MDT_OK);
    rc = mdt_cedar_set_add(s, text, strlen(text), NULL, &err);
    if (c->expect == 'P') {
        if (rc != MDT_ERR_INVALID_REQUEST)
            fail_msg("accepted, but Cedar refuses: %s", c->cond);
    } else {
        const mdt_cedar_entities *stores[] = {e};
        mdt_cedar_request r = {.principal = {"User", "alice"},
                               .action = {"Action", "read"},
                               .resource = {"Doc", "d"}};
        if (rc != MDT_OK)
            fail_msg("refused (%s), but Cedar accepts: %s", mdt_err_text(&err), c->cond);
        assert_int_equal(mdt_cedar_eval(s, stores, 1, &r, &a, &d, &err), MDT_OK);
        if (d.allow != (c->expect == 'T') || (d.nerrors == 1) != (c->expect == 'E'))
            fail_msg("%s: allow %d, %zu errors; Cedar: %c", c->cond, d.allow, d.nerrors, c->expect);
    }
    mdt_cedar_set_free(s);
    mdt_cedar_entities_free(e);
    mdt_arena_free(&a);
}

/* A `-` folds into an integer literal only when nothing is accessed on the
 * literal: `-N.m(...)` and `-N["a"]` are -(N.m(...)) and -(N["a"]), so
 * `-9223372036854775808.contains(1)` holds a literal too large (the
 * evaluator took it as the least long, then the method). */
static void test_negated_literal_with_access(void **state)
{
    static const diff_case cases[] = {
        {'P', "-9223372036854775808.contains(1)"},
        {'P', "-9223372036854775808.containsAll([1])"},
        {'P', "-9223372036854775808[\"a\"] == 1"},
        {'P', "-9223372036854775808.a == 1"},
        {'E', "-5.contains(1)"},
        {'E', "-9223372036854775807.contains(1)"},
        {'E', "--5.a == 5"},
        {'T', "-9223372036854775808 < 0"},
        {'T', "-9223372036854775808 == -9223372036854775807 - 1"},
        {'E', "--9223372036854775808 < 0"},
        {'T', "[-9223372036854775808].contains(-9223372036854775808)"},
    };

    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++)
        check(&cases[i]);
}

/* In a like pattern only \* is a literal star: a star spelled \x2a or
 * \u{2a} is a wildcard, as a bare * is (the evaluator took it as a literal
 * star). */
static void test_like_escaped_wildcards(void **state)
{
    static const diff_case cases[] = {
        {'T', "\"ab\" like \"a\\u{2a}\""},
        {'T', "\"ab\" like \"a\\u{002A}\""},
        {'T', "\"abc\" like \"a\\u{2a}c\""},
        {'T', "\"a*\" like \"a\\u{2a}\""},
        {'T', "\"ab\" like \"a\\x2a\""},
        {'T', "\"xaby\" like \"\\x2aab\\u{2a}\""},
        {'F', "\"abc\" like \"a\\*c\""},
        {'T', "\"a*c\" like \"a\\*c\""},
        {'T', "\"*\" == \"\\u{2a}\""},
    };

    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++)
        check(&cases[i]);
}

/* An action's parents must be actions (a type Action or NS::Action), as
 * Cedar's entity loader requires (the loader took any parent). */
static void test_action_parents(void **state)
{
    static const struct {
        bool ok;
        const char *type, *parent;
    } cases[] = {
        {false, "Action", "G"},       {false, "NS::Action", "G"}, {false, "Action", "ActionX"},
        {true, "Action", "Action"},   {true, "Action", "NS::Action"},
        {true, "NS::Action", "Action"}, {true, "A::Action", "B::Action"},
        {true, "XAction", "G"},       {true, "Action::Foo", "G"}, {true, "G", "Action"},
    };

    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++) {
        char json[256];
        mdt_cedar_entities *e = NULL;
        mdt_err err = {0};
        snprintf(json, sizeof(json),
                 "[{\"uid\":{\"type\":\"%s\",\"id\":\"x\"},\"attrs\":{},"
                 "\"parents\":[{\"type\":\"%s\",\"id\":\"y\"}]}]",
                 cases[i].type, cases[i].parent);
        assert_int_equal(mdt_cedar_entities_new(&e, &err), MDT_OK);
        mdt_rc rc = mdt_cedar_entities_add_json(e, json, strlen(json), &err);
        if ((rc == MDT_OK) != cases[i].ok)
            fail_msg("%s in %s: %s; Cedar %s it", cases[i].type, cases[i].parent,
                     rc == MDT_OK ? "loaded" : mdt_err_text(&err),
                     cases[i].ok ? "loads" : "refuses");
        assert_int_equal(mdt_cedar_entities_count(e), cases[i].ok ? 1 : 0);
        mdt_cedar_entities_free(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negated_literal_with_access),
        cmocka_unit_test(test_like_escaped_wildcards),
        cmocka_unit_test(test_action_parents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
