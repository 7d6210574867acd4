/* The shipped policies (policies/NAME.cedar, embedded in the binary at build
 * time): sensible rules for agents at token issuance, each switched on by
 * name in [policy] builtin (default: the baseline only) and identified as
 * "mandate.<name>" in decisions and audit events. docs/guides/
 * writing-policies.md explains each. */
#ifndef MDT_POLICY_BUILTIN_H
#define MDT_POLICY_BUILTIN_H

#include <stddef.h>

#include "core/config.h"
#include "core/mdt.h"
#include "policy/cedar/cedar.h"

typedef struct {
    const char *name; /* "baseline", ...: the file's name without .cedar */
    const char *text; /* the policy text, NUL-terminated */
} mdt_policy_builtin;

/* Every shipped policy, in name order; *n gets their number. */
const mdt_policy_builtin *mdt_policy_builtins(size_t *n);
/* The shipped policy of that name; NULL when none. */
const mdt_policy_builtin *mdt_policy_builtin_find(const char *name, size_t len);

/* Adds to s the shipped policies cfg->policy_builtin names (comma-separated;
 * empty: none), each with id "mandate.<name>". An unknown name is
 * MDT_ERR_INVALID_REQUEST naming it; on any error s may hold the policies
 * added before it. */
mdt_rc mdt_policy_builtin_add(const mdt_config *cfg, mdt_cedar_set *s,
                              mdt_err *err) MDT_WARN_UNUSED;

#endif
