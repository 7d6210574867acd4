// The shipped policies (policies/*.cedar): each is valid Cedar for the
// reference implementation, and means what docs/guides/writing-policies.md
// says, judged by @cedar-policy/cedar-wasm itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

const dir = fileURLToPath(new URL('../../policies/', import.meta.url));
const text = (name) => readFileSync(`${dir}${name}.cedar`, 'utf8');

const client = (id, attrs) => ({ uid: { type: 'Client', id }, attrs, parents: [] });
const scope = (id, sensitivity) => ({ uid: { type: 'Scope', id }, attrs: { sensitivity, description: '' }, parents: [] });

function context(over = {}) {
  return {
    grant_type: 'client_credentials',
    auth_method: 'private_key_jwt',
    delegation_depth: 0,
    audience: ['https://api.example'],
    entitlement: { source: 'static', expires_at: 0 },
    risk: { requests_last_minute: 1, requests_last_hour: 1, auth_failures_last_hour: 0, hour: 12, new_ip: false, new_credential: false },
    ...over,
  };
}

// The decision of baseline plus name for the agent asking for scope.
function decide(name, { attrs = {}, sensitivity = 'approval', ctx = {} } = {}) {
  const policies = { 'mandate.baseline': text('baseline') };
  if (name) policies[`mandate.${name}`] = text(name);
  const a = cedar.isAuthorized({
    principal: { type: 'Client', id: 'agent' },
    action: { type: 'Action', id: 'token.issue' },
    resource: { type: 'Scope', id: 's' },
    context: context(ctx),
    policies: { staticPolicies: policies },
    entities: [client('agent', { kind: 'agent', risk_tier: 'medium', status: 'active', ...attrs }), scope('s', sensitivity)],
  });
  assert.equal(a.type, 'success', JSON.stringify(a));
  assert.deepEqual(a.response.diagnostics.errors, [], 'no policy errs');
  return { decision: a.response.decision, reasons: [...a.response.diagnostics.reason].sort() };
}

test('every shipped policy parses with the reference implementation', () => {
  const names = readdirSync(dir).filter((f) => f.endsWith('.cedar')).map((f) => f.slice(0, -6)).sort();
  assert.deepEqual(names, ['baseline', 'business-hours', 'high-tier-shared-secret', 'request-burst']);
  for (const n of names) {
    const r = cedar.checkParsePolicySet({ staticPolicies: { [`mandate.${n}`]: text(n) } });
    assert.equal(r.type, 'success', `${n}: ${JSON.stringify(r)}`);
  }
});

test('baseline permits what entitlements allow', () => {
  assert.deepEqual(decide(null), { decision: 'allow', reasons: ['mandate.baseline'] });
});

test('high-tier-shared-secret: a high tier client with a shared secret loses approval scopes only', () => {
  const high = { risk_tier: 'high' };
  for (const m of ['client_secret_basic', 'client_secret_post', 'api_key'])
    assert.deepEqual(decide('high-tier-shared-secret', { attrs: high, ctx: { auth_method: m } }),
      { decision: 'deny', reasons: ['mandate.high-tier-shared-secret'] }, m);
  assert.equal(decide('high-tier-shared-secret', { attrs: high, ctx: { auth_method: 'private_key_jwt' } }).decision, 'allow');
  assert.equal(decide('high-tier-shared-secret', { ctx: { auth_method: 'client_secret_basic' } }).decision, 'allow');
  assert.equal(decide('high-tier-shared-secret', { attrs: high, sensitivity: 'normal', ctx: { auth_method: 'client_secret_basic' } }).decision, 'allow');
});

test('business-hours: an agent outside 08:00-18:00 UTC loses approval scopes unless an access request granted them for a time', () => {
  for (const hour of [0, 7, 18, 23])
    assert.equal(decide('business-hours', { ctx: { risk: { ...context().risk, hour } } }).decision, 'deny', `hour ${hour}`);
  for (const hour of [8, 12, 17])
    assert.equal(decide('business-hours', { ctx: { risk: { ...context().risk, hour } } }).decision, 'allow', `hour ${hour}`);
  const night = { ...context().risk, hour: 2 };
  assert.equal(decide('business-hours', { ctx: { risk: night, entitlement: { source: 'access_request', expires_at: 1900000000 } } }).decision, 'allow');
  assert.equal(decide('business-hours', { ctx: { risk: night, entitlement: { source: 'access_request', expires_at: 0 } } }).decision, 'deny',
    'an entitlement without an end is no exception');
  assert.equal(decide('business-hours', { attrs: { kind: 'service' }, ctx: { risk: night } }).decision, 'allow', 'only agents');
  assert.equal(decide('business-hours', { sensitivity: 'normal', ctx: { risk: night } }).decision, 'allow');
});

test('request-burst: more than 30 token requests a minute lose approval scopes', () => {
  const at = (n, sensitivity = 'approval') =>
    decide('request-burst', { sensitivity, ctx: { risk: { ...context().risk, requests_last_minute: n } } }).decision;
  assert.equal(at(30), 'allow');
  assert.equal(at(31), 'deny');
  assert.equal(at(31, 'normal'), 'allow');
});
