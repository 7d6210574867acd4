/* The embedded PDP's pure parts: policy ids, an AuthZEN request as a query
 * and its answer as JSON, the query mapped to a Cedar request (subject,
 * action, resource, context; properties as the entities' attributes, before
 * any store), and Mandate's data as Cedar entities. */
#include "unit.h"

#include <jansson.h>

#include "policy/engine.h"
#include "policy/entities.h"
#include "policy/policies.h"

typedef struct {
    mdt_arena a;
    mdt_err err;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    mdt_arena_init(&f->a, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;

    mdt_arena_free(&f->a);
    free(f);
    return 0;
}

static void test_policy_id(void **state)
{
    char long_id[130];

    (void)state;
    assert_true(mdt_policy_id_valid("a"));
    assert_true(mdt_policy_id_valid("agents.no-high_tier:v2"));
    assert_false(mdt_policy_id_valid(""));
    assert_false(mdt_policy_id_valid(NULL));
    assert_false(mdt_policy_id_valid("a b"));
    assert_false(mdt_policy_id_valid("a/b"));
    assert_false(mdt_policy_id_valid("é"));
    memset(long_id, 'x', 128);
    long_id[128] = '\0';
    assert_true(mdt_policy_id_valid(long_id));
    long_id[128] = 'x';
    long_id[129] = '\0';
    assert_false(mdt_policy_id_valid(long_id));
}

static mdt_rc query(fx *f, const char *json, mdt_pdp_query *q)
{
    return mdt_policy_query_json(json, strlen(json), &f->a, q, &f->err);
}

static void test_query_json(void **state)
{
    fx *f = *state;
    mdt_pdp_query q;

    assert_int_equal(query(f, "{\"subject\":{\"type\":\"Client\",\"id\":\"bot\",\"properties\":{\"a\":1}},"
                              "\"action\":{\"name\":\"token.issue\"},"
                              "\"resource\":{\"type\":\"Scope\",\"id\":\"read\",\"properties\":{}},"
                              "\"context\":{\"hour\":3}}",
                           &q),
                     MDT_OK);
    assert_string_equal(q.subject_type, "Client");
    assert_string_equal(q.subject_id, "bot");
    assert_string_equal(q.subject_props, "{\"a\":1}");
    assert_string_equal(q.action, "token.issue");
    assert_null(q.action_props);
    assert_string_equal(q.resource_type, "Scope");
    assert_string_equal(q.resource_id, "read");
    assert_null(q.resource_props); /* empty: none */
    assert_string_equal(q.context, "{\"hour\":3}");

    assert_int_equal(query(f, "[]", &q), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(query(f, "{", &q), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(query(f, "{\"subject\":{\"type\":\"C\"},\"action\":{\"name\":\"a\"},"
                              "\"resource\":{\"type\":\"R\",\"id\":\"r\"}}",
                           &q),
                     MDT_ERR_INVALID_REQUEST);
    assert_non_null(strstr(f->err.msg, "subject"));
    assert_int_equal(query(f, "{\"subject\":{\"type\":\"C\",\"id\":\"c\"},\"action\":{},"
                              "\"resource\":{\"type\":\"R\",\"id\":\"r\"}}",
                           &q),
                     MDT_ERR_INVALID_REQUEST);
    assert_non_null(strstr(f->err.msg, "action"));
    assert_int_equal(query(f, "{\"subject\":{\"type\":\"C\",\"id\":\"c\"},\"action\":{\"name\":\"a\"},"
                              "\"resource\":\"R\"}",
                           &q),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(query(f, "{\"subject\":{\"type\":\"C\",\"id\":\"c\"},\"action\":{\"name\":\"a\"},"
                              "\"resource\":{\"type\":\"R\",\"id\":\"r\"},\"context\":[1]}",
                           &q),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(query(f, "{\"subject\":{\"type\":\"C\",\"id\":\"c\",\"properties\":3},"
                              "\"action\":{\"name\":\"a\"},\"resource\":{\"type\":\"R\",\"id\":\"r\"}}",
                           &q),
                     MDT_ERR_INVALID_REQUEST);
}

static void test_answer_json(void **state)
{
    fx *f = *state;
    const char *reasons[] = {"p1", "p\"2"}, *errors[] = {"e"};
    mdt_pdp_answer ans = {.allow = true, .reasons = reasons, .nreasons = 2, .errors = errors,
                          .nerrors = 1};
    const char *json;

    assert_int_equal(mdt_policy_answer_json(&ans, &f->a, &json, &f->err), MDT_OK);
    assert_string_equal(json, "{\"decision\":true,\"context\":{\"reasons\":[\"p1\",\"p\\\"2\"],"
                              "\"errors\":[\"e\"]}}");
    ans = (mdt_pdp_answer){0};
    assert_int_equal(mdt_policy_answer_json(&ans, &f->a, &json, &f->err), MDT_OK);
    assert_string_equal(json, "{\"decision\":false,\"context\":{\"reasons\":[],\"errors\":[]}}");
}

static mdt_cedar_set *set_of(const char *text)
{
    mdt_cedar_set *s = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_cedar_set_new(&s, &err), MDT_OK);
    assert_int_equal(mdt_cedar_set_add(s, text, strlen(text), NULL, &err), MDT_OK);
    return s;
}

static mdt_cedar_entities *entities_of(const char *json)
{
    mdt_cedar_entities *e = NULL;
    mdt_err err = {0};

    assert_int_equal(mdt_cedar_entities_new(&e, &err), MDT_OK);
    assert_int_equal(mdt_cedar_entities_add_json(e, json, strlen(json), &err), MDT_OK);
    return e;
}

/* Decides json with s over e (may be NULL); the reasons joined by ','. */
static const char *decide(fx *f, const mdt_cedar_set *s, const mdt_cedar_entities *e,
                          const char *json, bool *allow)
{
    mdt_pdp_query q;
    mdt_pdp_answer ans;
    const mdt_cedar_entities *stores[1] = {e};
    char buf[256] = "";

    assert_int_equal(query(f, json, &q), MDT_OK);
    assert_int_equal(mdt_policy_eval_with(s, stores, e ? 1 : 0, &f->a, &q, &ans, &f->err), MDT_OK);
    *allow = ans.allow;
    for (size_t i = 0; i < ans.nreasons; i++) {
        strncat(buf, ans.reasons[i], sizeof(buf) - strlen(buf) - 2);
        strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
    }
    if (ans.nerrors)
        strncat(buf, "!", sizeof(buf) - strlen(buf) - 1);
    return mdt_arena_strdup(&f->a, buf);
}

static void test_eval_mapping(void **state)
{
    fx *f = *state;
    mdt_cedar_set *s = set_of(
        "permit(principal == Client::\"bot\", action == Action::\"token.issue\", "
        "resource == Scope::\"read\");\n"
        "permit(principal is User, action == Action::\"read\", resource is Doc) "
        "when { principal.level > resource.level && context.hour < 18 };\n"
        "forbid(principal, action, resource) when { principal has blocked && principal.blocked };\n"
        "permit(principal in Group::\"staff\", action == Action::\"list\", resource);\n");
    mdt_cedar_entities *e = entities_of(
        "[{\"uid\":{\"type\":\"User\",\"id\":\"bo\"},\"attrs\":{\"level\":2},"
        "\"parents\":[{\"type\":\"Group\",\"id\":\"staff\"}]},"
        "{\"uid\":{\"type\":\"Doc\",\"id\":\"d\"},\"attrs\":{\"level\":1},\"parents\":[]}]");
    bool allow;

    /* subject -> principal Type::"id", action -> Action::"name", resource likewise */
    assert_string_equal(decide(f, s, NULL,
                               "{\"subject\":{\"type\":\"Client\",\"id\":\"bot\"},\"action\":"
                               "{\"name\":\"token.issue\"},\"resource\":{\"type\":\"Scope\","
                               "\"id\":\"read\"}}",
                               &allow),
                        "policy0,");
    assert_true(allow);
    assert_string_equal(decide(f, s, NULL,
                               "{\"subject\":{\"type\":\"Client\",\"id\":\"bot\"},\"action\":"
                               "{\"name\":\"token.issue\"},\"resource\":{\"type\":\"Scope\","
                               "\"id\":\"write\"}}",
                               &allow),
                        "");
    assert_false(allow);
    /* the context is a record; the store's entities and their parents */
    assert_string_equal(decide(f, s, e,
                               "{\"subject\":{\"type\":\"User\",\"id\":\"bo\"},\"action\":{\"name\":"
                               "\"read\"},\"resource\":{\"type\":\"Doc\",\"id\":\"d\"},\"context\":"
                               "{\"hour\":9}}",
                               &allow),
                        "policy1,");
    assert_true(allow);
    assert_string_equal(decide(f, s, e,
                               "{\"subject\":{\"type\":\"User\",\"id\":\"bo\"},\"action\":{\"name\":"
                               "\"list\"},\"resource\":{\"type\":\"Doc\",\"id\":\"d\"}}",
                               &allow),
                        "policy3,");
    /* properties are the subject's attributes and come before the store's */
    assert_string_equal(decide(f, s, e,
                               "{\"subject\":{\"type\":\"User\",\"id\":\"bo\",\"properties\":"
                               "{\"level\":0}},\"action\":{\"name\":\"read\"},\"resource\":"
                               "{\"type\":\"Doc\",\"id\":\"d\"},\"context\":{\"hour\":9}}",
                               &allow),
                        "");
    assert_false(allow);
    assert_string_equal(decide(f, s, e,
                               "{\"subject\":{\"type\":\"User\",\"id\":\"bo\",\"properties\":"
                               "{\"level\":5,\"blocked\":true}},\"action\":{\"name\":\"read\"},"
                               "\"resource\":{\"type\":\"Doc\",\"id\":\"d\"},\"context\":"
                               "{\"hour\":9}}",
                               &allow),
                        "policy2,");
    assert_false(allow);
    /* the resource's properties likewise; an erring policy is reported */
    assert_string_equal(decide(f, s, e,
                               "{\"subject\":{\"type\":\"User\",\"id\":\"bo\"},\"action\":{\"name\":"
                               "\"read\"},\"resource\":{\"type\":\"Doc\",\"id\":\"d\",\"properties\":"
                               "{\"level\":\"x\"}},\"context\":{\"hour\":9}}",
                               &allow),
                        "!");
    mdt_cedar_entities_free(e);
    mdt_cedar_set_free(s);
}

static json_t *attrs_of(json_t *arr, const char *type, const char *id)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e) {
        json_t *uid = json_object_get(e, "uid");
        if (mdt_str_eq(json_string_value(json_object_get(uid, "type")), type) &&
            mdt_str_eq(json_string_value(json_object_get(uid, "id")), id))
            return json_object_get(e, "attrs");
    }
    return NULL;
}

static void test_client_entity(void **state)
{
    fx *f = *state;
    mdt_client c = {.client_id = "bot", .status = "active", .kind = "agent", .tier = "high",
                    .owner = "ann", .auth_method = "client_secret_basic"};
    json_t *arr = json_array(), *a, *owner;
    const char *s;

    assert_int_equal(mdt_policy_client_entity(&c, arr, &f->err), MDT_OK); /* by an admin */
    c.client_id = "dcr";
    c.origin = "dcr";
    c.owner = NULL;
    c.software_id = "sw-1";
    assert_int_equal(mdt_policy_client_entity(&c, arr, &f->err), MDT_OK); /* nobody vouched */
    c.client_id = "iat";
    c.iat_id = "iat_1";
    assert_int_equal(mdt_policy_client_entity(&c, arr, &f->err), MDT_OK);
    c.client_id = "doc";
    c.origin = "cimd";
    c.iat_id = NULL;
    c.vouched_by = "https://publisher.example.com";
    assert_int_equal(mdt_policy_client_entity(&c, arr, &f->err), MDT_OK);

    a = attrs_of(arr, "Client", "bot");
    assert_string_equal(json_string_value(json_object_get(a, "kind")), "agent");
    assert_string_equal(json_string_value(json_object_get(a, "risk_tier")), "high");
    assert_string_equal(json_string_value(json_object_get(a, "status")), "active");
    assert_string_equal(json_string_value(json_object_get(a, "token_endpoint_auth_method")),
                        "client_secret_basic");
    assert_true(json_is_true(json_object_get(a, "verified")));
    assert_string_equal(json_string_value(json_object_get(a, "origin")), "admin");
    assert_null(json_object_get(a, "software_id"));
    owner = json_object_get(json_object_get(a, "owner"), "__entity");
    assert_string_equal(json_string_value(json_object_get(owner, "type")), "User");
    assert_string_equal(json_string_value(json_object_get(owner, "id")), "ann");

    a = attrs_of(arr, "Client", "dcr");
    assert_false(json_is_true(json_object_get(a, "verified")));
    assert_string_equal(json_string_value(json_object_get(a, "origin")), "registration");
    assert_string_equal(json_string_value(json_object_get(a, "software_id")), "sw-1");
    assert_null(json_object_get(a, "owner"));
    assert_true(json_is_true(json_object_get(attrs_of(arr, "Client", "iat"), "verified")));
    a = attrs_of(arr, "Client", "doc");
    assert_true(json_is_true(json_object_get(a, "verified")));
    assert_string_equal(json_string_value(json_object_get(a, "origin")), "cimd");

    /* what it builds is Cedar entity JSON */
    s = json_dumps(arr, JSON_COMPACT);
    assert_non_null(s);
    mdt_cedar_entities_free(entities_of(s));
    free((void *)s);
    json_decref(arr);
}

static void test_user_and_scope_entities(void **state)
{
    fx *f = *state;
    mdt_user_rec u = {.username = "rita", .roles = "approver admin", .status = "active"};
    const char *const res_a[] = {"https://api.example.com", "https://b.example.com", NULL};
    const char *const res_b[] = {"https://api.example.com", NULL};
    mdt_scope_rec sc[] = {
        {.name = "read", .description = "Read", .sensitivity = "none", .resources = res_a},
        {.name = "pay", .description = "Pay", .sensitivity = "approval", .resources = res_b},
    };
    json_t *arr = json_array(), *a, *e;
    char *s;
    mdt_cedar_set *set = set_of(
        "permit(principal in Role::\"approver\", action, resource) "
        "when { principal.roles.contains(\"admin\") && resource.sensitivity == \"approval\" };");
    mdt_cedar_entities *ents;
    mdt_pdp_answer ans;
    mdt_pdp_query q = {.subject_type = "User", .subject_id = "rita", .action = "x",
                       .resource_type = "Scope", .resource_id = "pay"};
    size_t nres = 0, i;

    assert_int_equal(mdt_policy_user_entity(&u, arr, &f->err), MDT_OK);
    u.username = "nobody";
    u.roles = "";
    assert_int_equal(mdt_policy_user_entity(&u, arr, &f->err), MDT_OK);
    assert_int_equal(mdt_policy_scope_entities(sc, 2, NULL, arr, &f->err), MDT_OK);

    a = attrs_of(arr, "User", "rita");
    assert_int_equal(json_array_size(json_object_get(a, "roles")), 2);
    assert_int_equal(json_array_size(json_object_get(attrs_of(arr, "User", "nobody"), "roles")), 0);
    a = attrs_of(arr, "Scope", "pay");
    assert_string_equal(json_string_value(json_object_get(a, "sensitivity")), "approval");
    assert_string_equal(json_string_value(json_object_get(a, "description")), "Pay");
    json_array_foreach(arr, i, e) {
        if (mdt_str_eq(json_string_value(json_object_get(json_object_get(e, "uid"), "type")),
                       "Resource"))
            nres++;
    }
    assert_int_equal(nres, 2); /* each resource once */

    s = json_dumps(arr, JSON_COMPACT);
    ents = entities_of(s);
    {
        const mdt_cedar_entities *stores[1] = {ents};
        assert_int_equal(mdt_policy_eval_with(set, stores, 1, &f->a, &q, &ans, &f->err), MDT_OK);
    }
    assert_true(ans.allow); /* roles as a set and as parents */
    q.resource_id = "read";
    {
        const mdt_cedar_entities *stores[1] = {ents};
        assert_int_equal(mdt_policy_eval_with(set, stores, 1, &f->a, &q, &ans, &f->err), MDT_OK);
    }
    assert_false(ans.allow);
    mdt_cedar_entities_free(ents);
    mdt_cedar_set_free(set);
    free(s);
    json_decref(arr);
}

static void test_validate_ids(void **state)
{
    fx *f = *state;
    const char **ids;
    size_t n;
    const char *two = "permit(principal, action, resource);\n@id(\"named\")\n"
                      "forbid(principal, action, resource);";

    assert_int_equal(mdt_policy_validate(two, strlen(two), "agents", &f->a, &ids, &n, &f->err),
                     MDT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "agents.0");
    assert_string_equal(ids[1], "named");
    assert_int_equal(mdt_policy_validate(two, 36, "one", &f->a, &ids, &n, &f->err), MDT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "one");
    assert_int_equal(mdt_policy_validate("permit(", 7, NULL, &f->a, &ids, &n, &f->err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(n, 0);
    assert_int_equal(mdt_policy_validate("", 0, NULL, &f->a, &ids, &n, &f->err),
                     MDT_ERR_INVALID_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_id),
        cmocka_unit_test_setup_teardown(test_query_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_entity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_and_scope_entities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate_ids, setup, teardown),
    };
    return cmocka_run_group_tests_name("policy engine", tests, NULL, NULL);
}
