#include "http/router.h"

#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "http/metrics_endpoint.h"
#include "oauth/authorize.h"
#include "oauth/device.h"
#include "oauth/endpoints.h"
#include "pep/authzen.h"
#include "pep/forward_auth.h"
#include "web/web.h"

/* A path ending in '/' with prefix set matches every longer path under it
 * (an identifier follows: /register/{client_id}); allow then lists every
 * method of that prefix for 405 answers. */
/* The admin API answers every method itself (404 and 405 as JSON). */
#define ADMIN_METHODS "GET, POST, PATCH, DELETE"

static const struct {
    const char *method;
    const char *path;
    mdt_handler_fn fn;
    const char *refusal_event;
    bool prefix;
    const char *allow;
} routes[] = {
    {"POST", "/token", mdt_handle_token, "token.refused"},
    {"POST", "/introspect", mdt_handle_introspect},
    {"POST", "/revoke", mdt_handle_revoke},
    {"GET", "/jwks", mdt_handle_jwks},
    {"GET", "/userinfo", mdt_handle_userinfo, NULL, false, "GET, POST"},
    {"POST", "/userinfo", mdt_handle_userinfo, NULL, false, "GET, POST"},
    {"GET", "/.well-known/oauth-authorization-server", mdt_handle_discovery},
    {"GET", "/.well-known/openid-configuration", mdt_handle_discovery},
    {"POST", "/register", mdt_handle_register, "registration.refused"},
    {"GET", "/register/", mdt_handle_register_client, NULL, true, "GET, PUT, DELETE"},
    {"PUT", "/register/", mdt_handle_register_client, "registration.refused", true,
     "GET, PUT, DELETE"},
    {"DELETE", "/register/", mdt_handle_register_client, NULL, true, "GET, PUT, DELETE"},
    {"GET", "/authorize", mdt_handle_authorize, NULL, false, "GET, POST"},
    {"POST", "/authorize", mdt_handle_authorize, NULL, false, "GET, POST"},
    {"POST", "/par", mdt_handle_par, "par.refused"},
    {"POST", "/device_authorization", mdt_handle_device_authorization, "device.refused"},
    {"GET", "/device", mdt_handle_device_page, NULL, false, "GET, POST"},
    {"POST", "/device", mdt_handle_device, NULL, false, "GET, POST"},
    {"POST", "/bc-authorize", mdt_handle_bc_authorize, "ciba.refused"},
    {"POST", "/access-requests", mdt_handle_access_request, "access_request.refused"},
    {"GET", "/access-requests/", mdt_handle_access_request_get, NULL, true},
    {"GET", "/consent", mdt_handle_consent_page, NULL, false, "GET, POST"},
    {"POST", "/consent", mdt_handle_consent, NULL, false, "GET, POST"},
    {"GET", "/consents", mdt_handle_consents_page, NULL, false, "GET, POST"},
    {"POST", "/consents", mdt_handle_consents, NULL, false, "GET, POST"},
    {"GET", "/approvals", mdt_handle_approvals_page, NULL, false, "GET, POST"},
    {"POST", "/approvals", mdt_handle_approvals, NULL, false, "GET, POST"},
    {"GET", "/console", mdt_handle_console},
    {"GET", "/console/clients", mdt_handle_console_clients},
    {"GET", "/console/clients/", mdt_handle_console_client, NULL, true, "GET, POST"},
    {"POST", "/console/clients/", mdt_handle_console_client_action, NULL, true, "GET, POST"},
    {"GET", "/console/requests", mdt_handle_console_requests, NULL, false, "GET, POST"},
    {"POST", "/console/requests", mdt_handle_console_requests_decide, NULL, false, "GET, POST"},
    {"GET", "/console/reviews", mdt_handle_console_reviews, NULL, false, "GET, POST"},
    {"POST", "/console/reviews", mdt_handle_console_reviews_decide, NULL, false, "GET, POST"},
    {"GET", "/console/audit", mdt_handle_console_audit},
    {"GET", "/reviews", mdt_handle_reviews_page, NULL, false, "GET, POST"},
    {"POST", "/reviews", mdt_handle_reviews, NULL, false, "GET, POST"},
    {"GET", "/login", mdt_handle_login_page},
    {"POST", "/login", mdt_handle_login},
    {"GET", "/logout", mdt_handle_logout_page},
    {"POST", "/logout", mdt_handle_logout},
    {"GET", "/static/mandate.css", mdt_handle_stylesheet},
    {"GET", MDT_ADMIN_PREFIX, mdt_handle_admin, NULL, true, ADMIN_METHODS},
    {"POST", MDT_ADMIN_PREFIX, mdt_handle_admin, NULL, true, ADMIN_METHODS},
    {"PATCH", MDT_ADMIN_PREFIX, mdt_handle_admin, NULL, true, ADMIN_METHODS},
    {"DELETE", MDT_ADMIN_PREFIX, mdt_handle_admin, NULL, true, ADMIN_METHODS},
    {"PUT", MDT_ADMIN_PREFIX, mdt_handle_admin, NULL, true, ADMIN_METHODS},
    {"POST", "/access/v1/evaluation", mdt_handle_authzen_evaluation},
    {"POST", "/access/v1/evaluations", mdt_handle_authzen_evaluations},
    {"GET", "/.well-known/authzen-configuration", mdt_handle_authzen_metadata},
    /* the proxy's method: nginx auth_request's GET, the original one (Traefik, Envoy) */
    {"*", "/forward-auth", mdt_handle_forward_auth, NULL, false, "*"},
    {"*", "/forward-auth/", mdt_handle_forward_auth, NULL, false, "*"}, /* Envoy path_prefix */
    {"*", "/forward-auth/", mdt_handle_forward_auth, NULL, true, "*"},
    {"GET", "/.well-known/oauth-protected-resource", mdt_handle_protected_resource_metadata},
    {"GET", "/.well-known/oauth-protected-resource/", mdt_handle_protected_resource_metadata,
     NULL, true},
    {"GET", "/healthz", mdt_handle_healthz},
    {"GET", "/readyz", mdt_handle_readyz},
    {"GET", "/metrics", mdt_handle_metrics},
};

#define NROUTES MDT_ARRAY_LEN(routes)

/* Metric labels: [0] no route; [1 + i] route i's pattern, for the first
 * route of each path (later routes of the same path count as the first). */
static char endpoint_labels[NROUTES + 1][64];
static const char *endpoint_names[NROUTES + 1];

const char *const *mdt_route_endpoints(size_t *n)
{
    endpoint_names[0] = "unmatched";
    for (size_t i = 0; i < NROUTES; i++) {
        snprintf(endpoint_labels[i + 1], sizeof(endpoint_labels[i + 1]), "%s%s", routes[i].path,
                 routes[i].prefix ? "*" : "");
        endpoint_names[i + 1] = endpoint_labels[i + 1];
    }
    *n = NROUTES + 1;
    return endpoint_names;
}

static unsigned endpoint_of(size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(routes[j].path, routes[i].path) == 0)
            return (unsigned)j + 1;
    return (unsigned)i + 1;
}

mdt_route_result mdt_route(const char *method, const char *path, mdt_route_match *out)
{
    bool path_known = false;

    out->endpoint = 0;

    for (size_t i = 0; i < MDT_ARRAY_LEN(routes); i++) {
        size_t n = strlen(routes[i].path);
        bool hit = routes[i].prefix ? strncmp(routes[i].path, path, n) == 0 && path[n]
                                    : strcmp(routes[i].path, path) == 0;
        if (!hit)
            continue;
        if (!path_known)
            out->endpoint = endpoint_of(i);
        path_known = true;
        out->allow = routes[i].allow ? routes[i].allow : routes[i].method;
        out->refusal_event = routes[i].refusal_event;
        if (strcmp(routes[i].method, method) == 0 || strcmp(routes[i].method, "*") == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            out->fn = routes[i].fn;
            return MDT_ROUTE_FOUND;
        }
    }
    return path_known ? MDT_ROUTE_BAD_METHOD : MDT_ROUTE_NOT_FOUND;
}
