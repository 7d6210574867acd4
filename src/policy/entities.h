/* Mandate's data as Cedar entities (entity JSON, cedar.h) for the embedded
 * PDP, with the names and attributes every policy writer relies on:
 *   Client::"<client_id>"  kind, risk_tier, status, owner (User ref, absent
 *                          when none), token_endpoint_auth_method,
 *                          software_id (when set), verified (bool: vouched
 *                          for by an admin, an initial access token or a
 *                          software statement), origin ("admin" |
 *                          "registration" | "cimd"); no parents.
 *   User::"<username>"     roles (set of strings), status; parents
 *                          Role::"<role>" for each role.
 *   Scope::"<name>"        sensitivity, description.
 *   Resource::"<uri>"      name (when known).
 * Each function appends entity objects to arr (a jansson array). */
#ifndef MDT_POLICY_ENTITIES_H
#define MDT_POLICY_ENTITIES_H

#include <jansson.h>

#include "core/mdt.h"
#include "iga/client.h"
#include "iga/resources.h"
#include "store/store.h"

mdt_rc mdt_policy_client_entity(const mdt_client *c, json_t *arr, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_policy_user_entity(const mdt_user_rec *u, json_t *arr, mdt_err *err) MDT_WARN_UNUSED;
/* The n scopes, and the resources they name and those of r (may be NULL),
 * each resource once. */
mdt_rc mdt_policy_scope_entities(const mdt_scope_rec *sc, size_t n, const mdt_resources *r,
                                 json_t *arr, mdt_err *err) MDT_WARN_UNUSED;

#endif
