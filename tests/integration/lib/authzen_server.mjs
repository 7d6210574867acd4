// An external AuthZEN Authorization API 1.0 PDP for tests: POST
// /access/v1/evaluations decided by the Cedar reference implementation
// (@cedar-policy/cedar-wasm) over the given policies and entities, every
// evaluation answered {"decision", "context": {"reasons", "errors"}}.
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

import { startJsonServer } from './pdp_http.mjs';

const uid = (type, id) => ({ type, id: String(id) });

/** One AuthZEN evaluation decided by Cedar. */
export function cedarDecide(policies, entities, ev) {
  const r = cedar.isAuthorized({
    principal: uid(ev.subject.type, ev.subject.id),
    action: uid('Action', ev.action.name),
    resource: uid(ev.resource.type, ev.resource.id),
    context: ev.context ?? {},
    policies: { staticPolicies: policies },
    entities,
  });
  if (r.type !== 'success') throw new Error(JSON.stringify(r.errors));
  return {
    decision: r.response.decision === 'allow',
    context: {
      reasons: r.response.diagnostics.reason,
      errors: r.response.diagnostics.errors.map((e) => e.policyId),
    },
  };
}

/**
 * startAuthzenServer({policies: {id: text}, entities: [...]}) ->
 * {url, calls, bodies, behave(mode), close()} (lib/pdp_http.mjs).
 */
export function startAuthzenServer({ policies, entities = [] }) {
  return startJsonServer('/access/v1/evaluations', (body) => {
    const defaults = { subject: body.subject, action: body.action, resource: body.resource,
      context: body.context };
    return { evaluations: body.evaluations.map((e) => cedarDecide(policies, entities,
      { ...defaults, ...e })) };
  });
}
