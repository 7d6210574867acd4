/* The admin API's policies of the embedded PDP: /admin/v1/policies (list,
 * add), /admin/v1/policies/{id} (get, replace, remove), and
 * /admin/v1/policies/validate and /admin/v1/policies/evaluate (an AuthZEN
 * evaluation request decided by the server's policies and data). */
#include <stdlib.h>
#include <string.h>

#include "admin/internal.h"
#include "policy/engine.h"
#include "policy/policies.h"

void mdt_admin__policies_list(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_policy_list_json(c->env, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__page(c, json, "id", NULL);
}

/* The stored document of id (with its text) as the answer. */
static void answer_doc(mdt_admin_call *c, int status, const char *id)
{
    mdt_policy_rec rec;
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_policy_get(c->env, id, c->req->arena, &rec, &err) != MDT_OK ||
        mdt_policy_doc_json(&rec, true, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, status, json);
}

/* Adds (POST: id from the body) or replaces (PUT: id from the path). */
static void put_policy(mdt_admin_call *c, const char *path_id)
{
    static const char *const post_members[] = {"id", "text", "description", NULL};
    static const char *const put_members[] = {"text", "description", NULL};
    const char *id = path_id, *text = NULL, *desc = NULL;
    json_t *body = NULL;
    bool replaced = false;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body) ||
        !mdt_admin__only(c, body, path_id ? put_members : post_members) ||
        (!path_id && !mdt_admin__str(c, body, "id", &id)) ||
        !mdt_admin__str(c, body, "text", &text) || !mdt_admin__str(c, body, "description", &desc))
        goto out;
    if (!id || !text) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, path_id ? "text is required"
                                                            : "id and text are required");
        goto out;
    }
    if (mdt_policy_add(c->env, &c->req->ctx, id, text, strlen(text), desc, path_id != NULL,
                       &replaced, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        goto out;
    }
    answer_doc(c, replaced ? 200 : 201, id);
out:
    json_decref(body);
}

void mdt_admin__policies_create(mdt_admin_call *c)
{
    put_policy(c, NULL);
}

void mdt_admin__policy_put(mdt_admin_call *c)
{
    put_policy(c, c->p1);
}

void mdt_admin__policy_get(mdt_admin_call *c)
{
    answer_doc(c, 200, c->p1);
}

void mdt_admin__policy_delete(mdt_admin_call *c)
{
    mdt_err err = {0};

    if (mdt_policy_remove(c->env, &c->req->ctx, c->p1, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        return;
    }
    c->resp->status = 204;
    c->resp->content_type = NULL;
    mdt_buf_reset(&c->resp->body);
}

void mdt_admin__policies_validate(mdt_admin_call *c)
{
    static const char *const members[] = {"text", NULL};
    const char *text = NULL, **ids = NULL;
    size_t n = 0;
    json_t *body = NULL, *doc = NULL, *arr;
    char *out = NULL;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body) || !mdt_admin__only(c, body, members) ||
        !mdt_admin__str(c, body, "text", &text))
        goto done;
    if (!text) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "text is required");
        goto done;
    }
    if (mdt_policy_validate(text, strlen(text), NULL, c->req->arena, &ids, &n, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        goto done;
    }
    doc = json_pack("{s:[]}", "policies");
    arr = json_object_get(doc, "policies");
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_string(ids[i])) != 0)
            arr = NULL;
    if (arr && (out = json_dumps(doc, JSON_COMPACT)))
        mdt_admin__json(c, 200, out);
    else
        mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
done:
    free(out);
    json_decref(doc);
    json_decref(body);
}

void mdt_admin__policies_evaluate(mdt_admin_call *c)
{
    json_t *body = NULL;
    char *text = NULL;
    const char *json = NULL;
    mdt_pdp_query q;
    mdt_pdp_answer ans;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body))
        goto out;
    if (!(text = json_dumps(body, JSON_COMPACT))) {
        mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (mdt_policy_query_json(text, strlen(text), c->req->arena, &q, &err) != MDT_OK ||
        mdt_policy_eval(c->env, c->req->arena, &q, &ans, &err) != MDT_OK ||
        mdt_policy_answer_json(&ans, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, 200, json);
out:
    free(text);
    json_decref(body);
}
