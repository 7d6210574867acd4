// The admin REST API (/admin/v1, SPEC §2.3): its OpenAPI 3.1 document is
// valid (a real validator) and served by the binary; every documented path
// and method is called for real and each answer is checked against the
// schema documented for its status (a documented operation never called
// fails the test). Then the failure paths: no token, a token without
// mandate:admin, a person who is not (or no longer) an admin, bad JSON,
// another media type, unknown ids, bad cursors and limits, duplicates;
// pagination over more items than a page; who may decide approval requests;
// the audit export of one client's history, by the CLI and the API; and
// access reviews, a client's entitlements (an access request approved, its
// entitlement revoked: the scope is refused again) and usage.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { cibaMetadata, started } from './lib/ciba.mjs';
import { authorizeCode, redeem, refresh } from './lib/grants.mjs';
import { basic, parseEvents, post, show, tokenBasic } from './lib/oauth.mjs';
import { register } from './lib/register.mjs';
import { cliJson, createClient, createScope } from './lib/server.mjs';
import { startServer } from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const DOC_FILE = path.resolve(here, '../../docs/openapi.json');

/** A client entitled to mandate:admin by the CLI, as the quick start makes it. */
function adminClient(srv, overrides = {}) {
  return createClient(srv, {
    client_name: 'Platform automation', kind: 'service', grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic', scope: 'mandate:admin', ...overrides,
  });
}

async function tokenOf(srv, client, scope = 'mandate:admin') {
  const r = await tokenBasic(srv, client, { scope });
  assert.equal(r.status, 200, show(r));
  return r.json.access_token;
}

/** A call of the admin API: {status, headers, text, json}. body: an object (JSON) or a raw string. */
async function call(srv, token, method, pathname, { body, contentType = 'application/json' } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = contentType;
  const res = await fetch(`${srv.url}${pathname}`, {
    method, headers, signal: AbortSignal.timeout(10_000),
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { method, pathname, status: res.status, headers: res.headers, text, json };
}

function assertError(r, status, error) {
  assert.equal(r.status, status, show(r));
  assert.match(r.headers.get('content-type') || '', /^application\/json/, show(r));
  assert.equal(r.json?.error, error, show(r));
  assert.equal(typeof r.json.error_description, 'string', show(r));
}

/** Checks answers against the document: the operation of each, its status, its schema. */
class Contract {
  constructor(doc) {
    this.doc = doc;
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(doc, 'openapi.json');
    this.ops = new Map(); // "METHOD /template" -> operation
    for (const [tpl, item] of Object.entries(doc.paths)) {
      for (const m of ['get', 'post', 'patch', 'delete', 'put']) {
        if (item[m]) this.ops.set(`${m.toUpperCase()} ${tpl}`, item[m]);
      }
    }
    this.seen = new Map(); // op key -> statuses answered
  }

  /** The operation key of a concrete call ("/admin/v1/clients/x/suspend" -> its template). */
  keyOf(method, pathname) {
    const p = pathname.split('?')[0];
    for (const key of this.ops.keys()) {
      const [m, tpl] = key.split(' ');
      if (m !== method) continue;
      const re = new RegExp(`^${tpl.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      if (re.test(p)) return key;
    }
    return null;
  }

  resolve(obj) {
    while (obj && obj.$ref) {
      obj = obj.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o[k], this.doc);
    }
    return obj;
  }

  validate(schema, value, what) {
    const v = this.ajv.compile({ $ref: `openapi.json${schema.$ref}` });
    assert.ok(v(value), `${what}: ${this.ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 800)}`);
  }

  /** Asserts r is documented and matches its schema; records it. */
  check(r) {
    const key = this.keyOf(r.method, r.pathname);
    assert.ok(key, `undocumented operation ${r.method} ${r.pathname}`);
    const spec = this.resolve(this.ops.get(key).responses[String(r.status)]);
    assert.ok(spec, `${key}: status ${r.status} is not documented: ${show(r)}`);
    const content = spec.content;
    if (!content) {
      assert.equal(r.text, '', `${key} ${r.status} has no documented body`);
    } else if (content['application/json']) {
      assert.match(r.headers.get('content-type') || '', /^application\/json/, `${key}: ${show(r)}`);
      this.validate(content['application/json'].schema, r.json, `${key} ${r.status}`);
    } else {
      const nd = content['application/x-ndjson'];
      assert.ok(nd, `${key}: a documented media type`);
      assert.match(r.headers.get('content-type') || '', /^application\/x-ndjson/, show(r));
      for (const ev of parseEvents(r.text)) this.validate(nd['x-item-schema'], ev, `${key} line`);
    }
    if (!this.seen.has(key)) this.seen.set(key, new Set());
    this.seen.get(key).add(r.status);
    return r;
  }
}

describe('admin API', { timeout: 240_000 }, () => {
  let srv;
  let admin;   // a service client entitled to mandate:admin
  let token;   // its access token
  let doc;
  let contract;
  let cb;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2, registration: { open: true } } });
    admin = adminClient(srv);
    token = await tokenOf(srv, admin);
    doc = JSON.parse(await readFile(DOC_FILE, 'utf8'));
    contract = new Contract(doc);
    cb = await callbackServer();
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  const api = (method, pathname, opts) => call(srv, token, method, pathname, opts);
  const ok = async (method, pathname, opts, status = 200) => {
    const r = contract.check(await api(method, pathname, opts));
    assert.equal(r.status, status, show(r));
    return r;
  };

  test('the OpenAPI document is valid OpenAPI 3.1 and the binary serves it as written', async () => {
    const v = new Validator();
    const res = await v.validate(doc);
    assert.equal(v.version, '3.1');
    assert.ok(res.valid, JSON.stringify(res.errors, null, 1));
    const served = await ok('GET', '/admin/v1/openapi.json');
    assert.deepEqual(served.json, doc);
  });

  test('every documented operation, called for real, answers as documented', async () => {
    // clients
    let r = await ok('GET', '/admin/v1/clients');
    assert.ok(r.json.items.some((c) => c.client_id === admin.client_id));
    r = await ok('POST', '/admin/v1/clients', { body: {
      client_name: 'Report agent', kind: 'agent', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'openid', risk_tier: 'high' } }, 201);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const agent = r.json;
    assert.ok(agent.client_secret);
    r = await ok('GET', `/admin/v1/clients/${agent.client_id}`);
    assert.equal(r.json.status, 'active');
    assert.equal(r.json.credentials.length, 1);
    r = await ok('PATCH', `/admin/v1/clients/${agent.client_id}`, { body: { client_name: 'Reports' } });
    assert.equal(r.json.client_name, 'Reports');
    r = await ok('GET', '/admin/v1/clients?kind=agent&tier=high');
    assert.deepEqual(r.json.items.map((c) => c.client_id), [agent.client_id]);
    await ok('POST', `/admin/v1/clients/${agent.client_id}/suspend`);
    r = await ok('GET', '/admin/v1/clients?status=suspended');
    assert.deepEqual(r.json.items.map((c) => c.client_id), [agent.client_id]);
    r = await ok('POST', `/admin/v1/clients/${agent.client_id}/resume`, { body: {} });
    assert.equal(r.json.status, 'active');
    r = await ok('POST', `/admin/v1/clients/${agent.client_id}/secret`, { body: { keep: '1h' } });
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.notEqual(r.json.client_secret, agent.client_secret);
    assert.equal((await tokenBasic(srv, { ...agent, client_secret: r.json.client_secret })).status, 200);
    r = await ok('POST', `/admin/v1/clients/${agent.client_id}/apikeys`, { body: { expires_in: '30d' } }, 201);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const key = r.json;
    r = await ok('DELETE', `/admin/v1/clients/${agent.client_id}/apikeys/${key.key_id}`);
    assert.equal(r.json.key_id, key.key_id);
    await ok('DELETE', `/admin/v1/clients/${agent.client_id}`, undefined, 204);
    assertError(contract.check(await api('GET', `/admin/v1/clients/${agent.client_id}`)), 404, 'not_found');

    // scopes
    r = await ok('POST', '/admin/v1/scopes', { body: {
      name: 'invoices:read', description: 'Read invoices', sensitivity: 'consent',
      resources: ['https://billing.example.com'] } }, 201);
    assert.deepEqual(r.json, { name: 'invoices:read', description: 'Read invoices', sensitivity: 'consent',
      resources: ['https://billing.example.com'] });
    r = await ok('GET', '/admin/v1/scopes');
    const adminScope = r.json.items.find((s) => s.name === 'mandate:admin');
    assert.equal(adminScope.sensitivity, 'approval');

    // policies of the embedded PDP (admin_policies.test.mjs tests them in depth)
    r = await ok('POST', '/admin/v1/policies', { body: { id: 'invoices', description: 'Invoices',
      text: 'permit(principal, action == Action::"read", resource == Scope::"invoices:read");' } }, 201);
    assert.deepEqual(r.json.policies, ['invoices']);
    r = await ok('PUT', '/admin/v1/policies/invoices', { body: {
      text: 'permit(principal, action == Action::"read", resource) when { resource.sensitivity == "consent" };' } });
    r = await ok('GET', '/admin/v1/policies/invoices');
    assert.match(r.json.text, /consent/);
    r = await ok('GET', '/admin/v1/policies');
    assert.deepEqual(r.json.items.map((p) => p.id), ['invoices']);
    r = await ok('POST', '/admin/v1/policies/validate', { body: { text: 'forbid(principal, action, resource);' } });
    assert.deepEqual(r.json, { policies: ['policy0'] });
    r = await ok('POST', '/admin/v1/policies/evaluate', { body: { subject: { type: 'Client', id: admin.client_id },
      action: { name: 'read' }, resource: { type: 'Scope', id: 'invoices:read' } } });
    assert.deepEqual(r.json, { decision: true, context: { reasons: ['invoices'], errors: [] } });
    await ok('DELETE', '/admin/v1/policies/invoices', undefined, 204);

    // users
    r = await ok('POST', '/admin/v1/users', { body: {
      username: 'carol', password: 'correct horse battery', name: 'Carol', email: 'carol@example.com',
      roles: ['approver'] } }, 201);
    assert.deepEqual(r.json.roles, ['approver']);
    assert.equal(r.json.password, undefined);
    await ok('GET', '/admin/v1/users/carol');
    r = await ok('PATCH', '/admin/v1/users/carol', { body: { roles: ['admin', 'approver'], email: 'c@example.com' } });
    assert.deepEqual(r.json.roles, ['admin', 'approver']);
    r = await ok('PATCH', '/admin/v1/users/carol', { body: { status: 'disabled' } });
    assert.equal(r.json.status, 'disabled');
    r = await ok('PATCH', '/admin/v1/users/carol', { body: { status: 'active', password: 'another good passphrase' } });
    assert.equal(r.json.status, 'active');
    r = await ok('GET', '/admin/v1/users');
    assert.ok(r.json.items.some((u) => u.username === 'carol'));

    // approval requests: two self-registrations that wait for an approver
    const pending = [];
    for (const name of ['Pending one', 'Pending two']) {
      const reg = await register(srv, { client_name: name, grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic' });
      assert.equal(reg.status, 201, show(reg));
      assert.equal(reg.json.status, 'pending', show(reg));
      pending.push(reg.json.client_id);
    }
    r = await ok('GET', '/admin/v1/requests?status=pending');
    const reqs = r.json.items.filter((q) => pending.includes(q.client_id));
    assert.equal(reqs.length, 2);
    r = await ok('POST', `/admin/v1/requests/${reqs[0].id}/approve`, { body: { note: 'known vendor' } });
    assert.equal(r.json.status, 'approved');
    assert.equal(r.json.decided_by, `client:${admin.client_id}`);
    r = await ok('POST', `/admin/v1/requests/${reqs[1].id}/deny`);
    assert.equal(r.json.status, 'denied');
    assertError(contract.check(await api('POST', `/admin/v1/requests/${reqs[1].id}/approve`)), 409, 'conflict');
    r = await ok('GET', '/admin/v1/requests?status=approved');
    assert.ok(r.json.items.some((q) => q.id === reqs[0].id));

    // keys
    r = await ok('GET', '/admin/v1/keys');
    const before = r.json.items.length;
    r = await ok('POST', '/admin/v1/keys/rotate', undefined, 201);
    const kid = r.json.kid;
    r = await ok('GET', '/admin/v1/keys');
    assert.equal(r.json.items.length, before + 1);
    assert.ok(r.json.items.some((k) => k.kid === kid));

    // access reviews: a client nobody owns is an `ownerless` finding at once
    const orphans = ['Orphan one', 'Orphan two'].map((name) => createClient(srv, { client_name: name,
      grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }));
    r = await ok('GET', `/admin/v1/reviews?client=${encodeURIComponent(orphans[0].client_id)}`);
    assert.deepEqual(r.json.items.map((f) => f.kind), ['ownerless']);
    const lab = r.json.items[0];
    r = await ok('POST', `/admin/v1/reviews/${lab.id}/certify`, { body: { note: 'lab client, kept', until: '30d' } });
    assert.equal(r.json.decision, 'certify');
    assert.equal(r.json.decided_by, `client:${admin.client_id}`);
    assert.ok(Date.parse(r.json.until) > Date.now() + 29 * 86400_000);
    r = await ok('GET', '/admin/v1/reviews?kind=ownerless&limit=200');
    assert.ok(!r.json.items.some((f) => f.id === lab.id), 'certified: not listed');
    const gone = r.json.items.find((f) => f.client_id === orphans[1].client_id);
    assert.ok(gone, JSON.stringify(r.json.items));
    r = await ok('POST', `/admin/v1/reviews/${gone.id}/revoke`, { body: { note: 'nobody answers for it' } });
    assert.equal(r.json.decision, 'revoke');
    assert.equal(typeof r.json.action, 'string');
    assert.equal(cliJson(srv, ['client', 'show', orphans[1].client_id]).status, 'suspended');

    // entitlements: an access request filed by a client, approved by its owner, revoked here
    createScope(srv, 'ledger:read', { description: 'Read the ledger' });
    createScope(srv, 'ledger:write', { description: 'Write the ledger', sensitivity: 'approval' });
    const clerk = createClient(srv, { client_name: 'Ledger agent', kind: 'agent', owner: 'carol',
      grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'ledger:read' });
    const filed = await post(srv, '/access-requests', JSON.stringify({ scope: 'ledger:write',
      justification: 'Month-end closing', duration: '1h' }),
    { contentType: 'application/json', headers: { authorization: basic(clerk.client_id, clerk.client_secret) } });
    assert.equal(filed.status, 201, show(filed));
    r = await ok('GET', '/admin/v1/requests?status=pending');
    const asked = r.json.items.find((q) => q.id === filed.json.id);
    assert.equal(asked.type, 'access_request');
    assert.equal(asked.justification, 'Month-end closing');
    assert.equal(asked.duration, 3600);
    assert.equal(srv.cli(['request', 'approve', filed.json.id, '--by', 'carol']).code, 0);
    r = await ok('GET', `/admin/v1/clients/${clerk.client_id}/entitlements`);
    assert.deepEqual(r.json.items.map((e) => [e.source, e.scope]), [['static', 'ledger:read'], ['access_request', 'ledger:write']]);
    const ent = r.json.items[1];
    assert.match(ent.id, /^ent_/);
    assert.equal(ent.request_id, filed.json.id);
    assert.equal(ent.approved_by, 'carol');
    assert.equal((await tokenBasic(srv, clerk, { scope: 'ledger:write' })).status, 200);
    await ok('DELETE', `/admin/v1/clients/${clerk.client_id}/entitlements/${ent.id}`, undefined, 204);
    const refused = await tokenBasic(srv, clerk, { scope: 'ledger:write' });
    assert.equal(refused.status, 400, show(refused));
    assert.equal(refused.json.error, 'invalid_scope');
    assert.match(refused.json.error_description, /\/access-requests/);
    r = await ok('GET', `/admin/v1/clients/${clerk.client_id}/entitlements`);
    assert.deepEqual(r.json.items.map((e) => e.scope), ['ledger:read']);
    assertError(contract.check(await api('DELETE', `/admin/v1/clients/${clerk.client_id}/entitlements/${ent.id}`)), 404, 'not_found');

    // usage
    r = await ok('GET', `/admin/v1/clients/${clerk.client_id}/usage?days=7`);
    assert.equal(r.json.client_id, clerk.client_id);
    assert.equal(r.json.daily.length, 7);
    r = await ok('GET', `/admin/v1/clients/${clerk.client_id}/usage`);
    assert.equal(r.json.daily.length, 30);

    // audit: the changes above, with the caller as actor
    r = await ok('GET', `/admin/v1/audit?client=${encodeURIComponent(agent.client_id)}`);
    const evs = parseEvents(r.text);
    assert.ok(evs.length >= 5);
    assert.ok(evs.every((e) => e.client_id === agent.client_id));
    const types = evs.map((e) => e.type);
    for (const t of ['client.created', 'client.suspended', 'client.deleted']) assert.ok(types.includes(t), types.join(' '));
    assert.ok(evs.filter((e) => e.type !== 'token.issued').every((e) => e.actor === `client:${admin.client_id}`),
      JSON.stringify(evs.map((e) => [e.type, e.actor])));
    r = await ok('GET', '/admin/v1/audit?since=2000-01-01T00:00:00Z');
    assert.ok(parseEvents(r.text).some((e) => e.type === 'user.created' && e.subject === 'carol'));

    // the failure answers each operation documents, checked against their schema
    for (const [m, p, opts] of [
      ['GET', '/admin/v1/clients?limit=0'], ['POST', '/admin/v1/clients', { body: '{', contentType: 'application/json' }],
      ['POST', '/admin/v1/scopes', { body: 'name=x', contentType: 'application/x-www-form-urlencoded' }],
      ['PATCH', '/admin/v1/clients/nobody', { body: {} }], ['POST', '/admin/v1/clients/nobody/suspend'],
      ['POST', '/admin/v1/clients/nobody/resume'], ['POST', '/admin/v1/clients/nobody/secret'],
      ['POST', '/admin/v1/clients/nobody/apikeys'], ['DELETE', `/admin/v1/clients/${admin.client_id}/apikeys/cred_none`],
      ['DELETE', '/admin/v1/clients/nobody'], ['GET', '/admin/v1/users/nobody'],
      ['PATCH', '/admin/v1/users/nobody', { body: { name: 'x' } }], ['POST', '/admin/v1/requests/req_none/approve'],
      ['POST', '/admin/v1/requests/req_none/deny'], ['GET', '/admin/v1/requests?status=maybe'],
      ['GET', '/admin/v1/audit?since=yesterday'], ['POST', '/admin/v1/keys/rotate', { body: { now: true } }],
      ['GET', '/admin/v1/keys?cursor=!!'], ['GET', '/admin/v1/users?limit=201'], ['GET', '/admin/v1/scopes?limit=x'],
      ['GET', '/admin/v1/reviews?kind=bogus'], ['POST', '/admin/v1/reviews/fnd_none/certify', { body: { note: 'x', until: '1d' } }],
      ['POST', '/admin/v1/reviews/fnd_none/revoke'], ['POST', `/admin/v1/reviews/${gone.id}/revoke`],
      ['POST', `/admin/v1/reviews/${lab.id}/certify`, { body: { until: '1d' } }],
      ['POST', `/admin/v1/reviews/${lab.id}/certify`, { body: 'note=x', contentType: 'text/plain' }],
      ['GET', '/admin/v1/clients/nobody/entitlements'], ['DELETE', `/admin/v1/clients/${clerk.client_id}/entitlements/ledger:read`],
      ['GET', '/admin/v1/clients/nobody/usage'], ['GET', `/admin/v1/clients/${clerk.client_id}/usage?days=0`],
      ['GET', '/admin/v1/policies/nobody'], ['DELETE', '/admin/v1/policies/nobody'],
      ['POST', '/admin/v1/policies', { body: { id: 'x', text: 'permit(' } }],
      ['PUT', '/admin/v1/policies/x', { body: { text: 7 } }],
      ['POST', '/admin/v1/policies/validate', { body: { text: 'permit(principal,' } }],
      ['POST', '/admin/v1/policies/evaluate', { body: { subject: { type: 'Client' } } }],
    ]) {
      r = contract.check(await api(m, p, opts));
      assert.ok(r.status >= 400 && r.status < 500, show(r));
    }
    for (const key of contract.ops.keys()) {
      assert.ok(contract.seen.has(key), `the documented operation ${key} was never exercised`);
      assert.ok([...contract.seen.get(key)].some((s) => s < 300), `${key} never succeeded`);
    }
  });

  test('no token, a bad token, a token without mandate:admin: 401 and 403 as RFC 6750 says', async () => {
    let r = contract.check(await call(srv, null, 'GET', '/admin/v1/clients'));
    assertError(r, 401, 'invalid_token');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="mandate"');
    r = contract.check(await call(srv, 'not-a-token', 'POST', '/admin/v1/clients', { body: { client_name: 'x' } }));
    assertError(r, 401, 'invalid_token');
    assert.match(r.headers.get('www-authenticate'), /^Bearer .*error="invalid_token"/);
    r = await fetch(`${srv.url}/admin/v1/users`, { headers: { authorization: `Basic ${Buffer.from(`${admin.client_id}:${admin.client_secret}`).toString('base64')}` } });
    assert.equal(r.status, 401);
    await r.arrayBuffer();

    createScope(srv, 'reports', { description: 'Reports' });
    const other = createClient(srv, { client_name: 'Reporter', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'reports' });
    const weak = await tokenOf(srv, other, 'reports');
    const users = cliJson(srv, ['user', 'list']).length;
    r = contract.check(await call(srv, weak, 'POST', '/admin/v1/users', { body: { username: 'mallory', password: 'correct horse battery' } }));
    assertError(r, 403, 'insufficient_scope');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="mandate", error="insufficient_scope", scope="mandate:admin"');
    assert.equal(cliJson(srv, ['user', 'list']).length, users, 'nothing was created');
    // a client not entitled to mandate:admin cannot ask for it
    const asked = await tokenBasic(srv, other, { scope: 'mandate:admin' });
    assert.equal(asked.status, 400, show(asked));
    assert.equal(asked.json.error, 'invalid_scope');
    // an admin token of the same client with scope narrowed away
    const both = adminClient(srv, { scope: 'mandate:admin reports' });
    r = await call(srv, await tokenOf(srv, both, 'reports'), 'GET', '/admin/v1/clients');
    assertError(r, 403, 'insufficient_scope');
    // a refused call is audited
    const refused = parseEvents(srv.cli(['audit', 'export', '--client', other.client_id]).stdout)
      .filter((e) => e.type === 'admin.refused');
    assert.ok(refused.length >= 1);

    // an opaque admin token is checked the same way
    const opaque = adminClient(srv, { client_name: 'Opaque automation', access_token_format: 'opaque' });
    const opaqueToken = await tokenOf(srv, opaque);
    assert.match(opaqueToken, /^mdt_at_/);
    assert.equal((await call(srv, opaqueToken, 'GET', '/admin/v1/scopes')).status, 200);
    assertError(await call(srv, `${opaqueToken}x`, 'GET', '/admin/v1/scopes'), 401, 'invalid_token');

    // the admin client suspended: its own token stops working at once
    const spare = adminClient(srv, { client_name: 'Spare automation' });
    const spareToken = await tokenOf(srv, spare);
    assert.equal((await call(srv, spareToken, 'GET', '/admin/v1/keys')).status, 200);
    assert.equal((await api('POST', `/admin/v1/clients/${spare.client_id}/suspend`)).status, 200);
    assertError(await call(srv, spareToken, 'GET', '/admin/v1/keys'), 401, 'invalid_token');
  });

  test('bad bodies, unknown ids, bad pages, duplicates: the right status and nothing changed', async () => {
    const clients = cliJson(srv, ['client', 'list']).length;
    assertError(await api('POST', '/admin/v1/clients', { body: '{"client_name": ' }), 400, 'invalid_request');
    assertError(await api('POST', '/admin/v1/clients', { body: '[]' }), 400, 'invalid_request');
    assertError(await api('POST', '/admin/v1/clients', { body: '{"client_name":"a","client_name":"b"}' }), 400, 'invalid_request');
    assertError(await api('POST', '/admin/v1/clients', { body: { client_name: 'x' }, contentType: 'text/plain' }), 415, 'invalid_request');
    assertError(await api('POST', '/admin/v1/clients', { body: { grant_types: ['implicit'] } }), 400, 'invalid_client_metadata');
    assertError(await api('POST', '/admin/v1/clients', { body: { client_name: 'x'.repeat(70 * 1024) } }), 413, 'invalid_request');
    assert.equal(cliJson(srv, ['client', 'list']).length, clients, 'no client was created');
    assertError(await api('POST', `/admin/v1/clients/${admin.client_id}/suspend`, { body: { really: true } }), 400, 'invalid_request');
    assert.equal(cliJson(srv, ['client', 'show', admin.client_id]).status, 'active');
    assertError(await api('POST', `/admin/v1/clients/${admin.client_id}/secret`, { body: { keep: 'forever' } }), 400, 'invalid_request');
    assertError(await api('GET', '/admin/v1/clients/no-such-client'), 404, 'not_found');
    assertError(await api('GET', '/admin/v1/no-such-resource'), 404, 'not_found');
    assertError(await api('GET', '/admin/v1/clients/x/y/z/unknown'), 404, 'not_found');
    const put = await api('PUT', '/admin/v1/clients');
    assertError(put, 405, 'invalid_request');
    assert.equal(put.headers.get('allow'), 'GET, POST');
    for (const q of ['limit=0', 'limit=201', 'limit=-1', 'limit=ten', 'limit=', 'cursor=%%%', 'cursor=bm90LW91cnM',
      'kind=robot', 'status=sleeping', 'tier=extreme']) {
      assertError(await api('GET', `/admin/v1/clients?${q}`), 400, 'invalid_request');
    }
    assertError(await api('POST', '/admin/v1/users', { body: { username: 'dup', password: 'correct horse battery' } }).then(() =>
      api('POST', '/admin/v1/users', { body: { username: 'DUP', password: 'correct horse battery' } })), 409, 'conflict');
    assertError(await api('POST', '/admin/v1/users', { body: { username: 'weak', password: 'short' } }), 400, 'invalid_request');
    assertError(await api('POST', '/admin/v1/users', { body: { username: 'roles', password: 'correct horse battery', roles: ['root'] } }), 400, 'invalid_request');
    assertError(await api('PATCH', '/admin/v1/users/dup', { body: { roles: ['admin'], status: 'gone' } }), 400, 'invalid_request');
    assert.deepEqual(cliJson(srv, ['user', 'list']).find((u) => u.username === 'dup').roles, [], 'nothing changed');
    assertError(await api('POST', '/admin/v1/scopes', { body: { name: 'mandate:admin' } }), 409, 'conflict');
    assertError(await api('POST', '/admin/v1/scopes', { body: { name: 'bad scope' } }), 400, 'invalid_request');
    assertError(await api('POST', '/admin/v1/scopes', { body: { name: 7 } }), 400, 'invalid_request');
  });

  test('lists page through more items than a page, in order, each item once', async () => {
    for (let i = 0; i < 7; i++) createScope(srv, `page:${i}`, { description: `page ${i}` });
    const all = cliJson(srv, ['scope', 'list']).map((s) => s.name).sort();
    assert.ok(all.length > 9);
    const seen = [];
    let cursor = null;
    for (let pages = 0; pages < 20; pages++) {
      const r = await api('GET', `/admin/v1/scopes?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, show(r));
      assert.ok(r.json.items.length <= 3);
      seen.push(...r.json.items.map((s) => s.name));
      cursor = r.json.next;
      if (!cursor) break;
      assert.match(cursor, /^[A-Za-z0-9_-]+$/);
    }
    assert.equal(cursor, null, 'the last page says so');
    assert.deepEqual(seen, all);
    const d = await api('GET', '/admin/v1/scopes');
    assert.equal(d.json.items.length, Math.min(50, all.length), 'default limit 50');
  });

  test('a person\'s admin token acts as them while they are an admin; a service client never approves for a person', async () => {
    createUsers(srv, ['olivia', 'pat']);
    assert.equal(srv.cli(['user', 'create', 'ada', '--role', 'admin', '--password-stdin'], { input: 'correct horse battery\n' }).code, 0);
    const console = createClient(srv, { client_name: 'Ops console', kind: 'web', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'openid offline_access mandate:admin', token_endpoint_auth_method: 'client_secret_basic' });
    const jar = await signedIn(srv, 'ada');
    const tr = await redeem(srv, console, cb.uri, await authorizeCode(srv, jar, console, cb.uri, { scope: 'openid offline_access mandate:admin' }));
    assert.equal(tr.status, 200, show(tr));
    assert.match(tr.json.scope, /mandate:admin/);
    const ada = tr.json.access_token;
    let r = await call(srv, ada, 'POST', '/admin/v1/scopes', { body: { name: 'by-ada' } });
    assert.equal(r.status, 201, show(r));
    const created = parseEvents(srv.cli(['audit', 'export']).stdout).find((e) => e.type === 'scope.created' && e.data?.scope === 'by-ada');
    assert.equal(created?.actor, 'ada', JSON.stringify(created));

    // a CIBA request asks pat: the service client may deny it, never approve it
    createScope(srv, 'payments', { description: 'Pay' });
    const payer = createClient(srv, cibaMetadata({ owner: 'olivia' }));
    const first = await started(srv, payer, { login_hint: 'pat', binding_message: 'Pay 12 EUR' });
    r = await api('POST', `/admin/v1/requests/${first.request.id}/approve`);
    assertError(r, 403, 'access_denied');
    assert.equal(cliJson(srv, ['request', 'list']).find((q) => q.id === first.request.id).status, 'pending');
    // nor may an admin approve it as themselves: the person asked decides
    r = await call(srv, ada, 'POST', `/admin/v1/requests/${first.request.id}/approve`);
    assertError(r, 403, 'access_denied');
    r = await api('POST', `/admin/v1/requests/${first.request.id}/deny`, { body: { note: 'not expected' } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.status, 'denied');

    // an access review: ada certifies as herself
    const lab = createClient(srv, { client_name: 'Ada lab', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic' });
    const labFinding = (await api('GET', `/admin/v1/reviews?client=${encodeURIComponent(lab.client_id)}`)).json.items[0];
    assert.equal(labFinding.kind, 'ownerless');
    r = await call(srv, ada, 'POST', `/admin/v1/reviews/${labFinding.id}/certify`, { body: { note: 'a lab of mine', until: '7d' } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.decided_by, 'ada');
    const certified = parseEvents(srv.cli(['audit', 'export', '--client', lab.client_id]).stdout).find((e) => e.type === 'review.certified');
    assert.equal(certified?.actor, 'ada', JSON.stringify(certified));

    // a registration: the admin decides as themselves
    const reg = await register(srv, { client_name: 'Waiting', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic' });
    const q = cliJson(srv, ['request', 'list', '--status', 'pending']).find((x) => x.client_id === reg.json.client_id);
    r = await call(srv, ada, 'POST', `/admin/v1/requests/${q.id}/approve`, { body: { note: 'ok', for: '30d' } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.decided_by, 'ada');

    // ada is no longer an admin: the token she holds is refused at once
    assert.equal((await api('PATCH', '/admin/v1/users/ada', { body: { roles: ['approver'] } })).status, 200);
    r = contract.check(await call(srv, ada, 'GET', '/admin/v1/clients'));
    assertError(r, 403, 'insufficient_scope');
    r = await call(srv, ada, 'POST', `/admin/v1/reviews/${labFinding.id}/revoke`);
    assertError(r, 403, 'insufficient_scope');
    assert.equal(cliJson(srv, ['client', 'show', lab.client_id]).status, 'active', 'nothing revoked');
    // and she cannot get the scope again, not even by refreshing
    assert.ok(tr.json.refresh_token);
    r = await refresh(srv, console, tr.json.refresh_token);
    assert.equal(r.status, 400, show(r));
    assert.equal(r.json.error, 'invalid_scope');
  });

  test('reviews, entitlements, usage: no admin token, bad input, unknown or foreign ids, stale findings; nothing changed', async () => {
    const target = createClient(srv, { client_name: 'Review target', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic' });
    const findings = async () => {
      const r = await api('GET', `/admin/v1/reviews?client=${encodeURIComponent(target.client_id)}`);
      assert.equal(r.status, 200, show(r));
      return r.json.items;
    };
    const reviewEvents = () => parseEvents(srv.cli(['audit', 'export', '--client', target.client_id]).stdout)
      .filter((e) => e.type.startsWith('review.'));
    const [f] = await findings();
    assert.equal(f.kind, 'ownerless');
    const certify = `/admin/v1/reviews/${f.id}/certify`;
    const revoke = `/admin/v1/reviews/${f.id}/revoke`;

    // no token, or a token without mandate:admin: 401, 403
    createScope(srv, 'governance:probe', { description: 'Probe' });
    const probe = createClient(srv, { client_name: 'Probe', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'governance:probe' });
    const weak = await tokenOf(srv, probe, 'governance:probe');
    for (const [m, p, opts] of [
      ['GET', '/admin/v1/reviews'], ['POST', certify, { body: { note: 'x', until: '1d' } }], ['POST', revoke],
      ['GET', `/admin/v1/clients/${target.client_id}/entitlements`],
      ['DELETE', `/admin/v1/clients/${target.client_id}/entitlements/ent_x`],
      ['GET', `/admin/v1/clients/${target.client_id}/usage`],
    ]) {
      assertError(contract.check(await call(srv, weak, m, p, opts)), 403, 'insufficient_scope');
      assertError(contract.check(await call(srv, null, m, p, opts)), 401, 'invalid_token');
    }

    // bad bodies and filters: 400, 415
    for (const body of [{ until: '30d' }, { note: '', until: '30d' }, { note: 'ok' }, { note: 'ok', until: 'someday' },
      { note: 'ok', until: '2001-01-01T00:00:00Z' }, { note: 'ok', until: '100000d' }, { note: 'ok', until: 30 },
      { note: 7, until: '30d' }, { note: 'ok', until: '30d', by: 'mallory' }, { note: 'x'.repeat(1001), until: '30d' }]) {
      assertError(contract.check(await api('POST', certify, { body })), 400, 'invalid_request');
    }
    assertError(await api('POST', certify, { body: '{"note":' }), 400, 'invalid_request');
    assertError(await api('POST', certify, { body: 'note=x', contentType: 'application/x-www-form-urlencoded' }), 415, 'invalid_request');
    assertError(await api('POST', revoke, { body: { note: 'x', until: '1d' } }), 400, 'invalid_request');
    assertError(await api('POST', revoke, { body: 'x', contentType: 'text/plain' }), 415, 'invalid_request');
    assertError(await api('GET', '/admin/v1/reviews?kind=stale'), 400, 'invalid_request');
    assertError(await api('GET', '/admin/v1/reviews?client='), 400, 'invalid_request');
    assertError(await api('POST', '/admin/v1/reviews/fnd_unknown/certify', { body: { note: 'x', until: '1d' } }), 404, 'not_found');
    assertError(await api('POST', '/admin/v1/reviews/fnd_unknown/revoke'), 404, 'not_found');
    assert.deepEqual(reviewEvents(), [], 'nothing decided');
    assert.equal(cliJson(srv, ['client', 'show', target.client_id]).status, 'active');
    assert.deepEqual((await findings()).map((x) => x.id), [f.id]);

    // the finding no longer holds (the client has an owner now): 409, nothing decided
    let r = await api('PATCH', `/admin/v1/clients/${target.client_id}`, { body: { owner: 'carol' } });
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(await findings(), []);
    assertError(contract.check(await api('POST', certify, { body: { note: 'late', until: '1d' } })), 409, 'conflict');
    assertError(contract.check(await api('POST', revoke)), 409, 'conflict');
    assert.deepEqual(reviewEvents(), []);
    assert.equal(cliJson(srv, ['client', 'show', target.client_id]).status, 'active');

    // entitlements: another client's entitlement is not found under this one; a static one is not revoked here
    createScope(srv, 'governance:pay', { description: 'Pay', sensitivity: 'approval' });
    const payer = createClient(srv, { client_name: 'Paying agent', kind: 'agent', owner: 'carol',
      grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'governance:probe' });
    const filed = await post(srv, '/access-requests', JSON.stringify({ scope: 'governance:pay', justification: 'Invoices' }),
      { contentType: 'application/json', headers: { authorization: basic(payer.client_id, payer.client_secret) } });
    assert.equal(filed.status, 201, show(filed));
    assert.equal(srv.cli(['request', 'approve', filed.json.id, '--by', 'carol']).code, 0);
    const ents = async (client) => (await api('GET', `/admin/v1/clients/${client.client_id}/entitlements`)).json.items;
    const ent = (await ents(payer)).find((e) => e.source === 'access_request');
    assert.ok(ent);
    assertError(contract.check(await api('DELETE', `/admin/v1/clients/${target.client_id}/entitlements/${ent.id}`)), 404, 'not_found');
    assertError(await api('DELETE', `/admin/v1/clients/nobody/entitlements/${ent.id}`), 404, 'not_found');
    r = contract.check(await api('DELETE', `/admin/v1/clients/${payer.client_id}/entitlements/governance:probe`));
    assertError(r, 409, 'conflict');
    assert.match(r.json.error_description, /static.*PATCH/);
    assert.deepEqual((await ents(payer)).map((e) => [e.source, e.scope]),
      [['static', 'governance:probe'], ['access_request', 'governance:pay']], 'nothing revoked');
    assert.equal((await tokenBasic(srv, payer, { scope: 'governance:probe governance:pay' })).status, 200);
    assertError(await api('GET', '/admin/v1/clients/nobody/entitlements'), 404, 'not_found');
    assert.equal(parseEvents(srv.cli(['audit', 'export', '--client', payer.client_id]).stdout)
      .filter((e) => e.type === 'entitlement.revoked').length, 0);

    // usage: days 1 to 400; unknown clients 404
    for (const q of ['days=0', 'days=401', 'days=-1', 'days=ten', 'days=', 'days=7.5']) {
      assertError(contract.check(await api('GET', `/admin/v1/clients/${payer.client_id}/usage?${q}`)), 400, 'invalid_request');
    }
    assert.equal((await api('GET', `/admin/v1/clients/${payer.client_id}/usage?days=400`)).json.daily.length, 400);
    assertError(await api('GET', '/admin/v1/clients/nobody/usage'), 404, 'not_found');
  });

  test('`mandate audit export --client` and ?client= give one client\'s whole history', async () => {
    const agent = createClient(srv, { client_name: 'History agent', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic' });
    await tokenBasic(srv, agent);
    await tokenBasic(srv, { ...agent, client_secret: 'wrong' });
    assert.equal((await api('POST', `/admin/v1/clients/${agent.client_id}/suspend`)).status, 200);
    await tokenBasic(srv, agent);
    const cli = srv.cli(['audit', 'export', '--client', agent.client_id]);
    assert.equal(cli.code, 0, cli.stderr);
    const mine = parseEvents(cli.stdout);
    const everything = parseEvents(srv.cli(['audit', 'export']).stdout);
    const expected = everything.filter((e) => e.client_id === agent.client_id).map((e) => e.seq);
    assert.deepEqual(mine.map((e) => e.seq), expected);
    const types = mine.map((e) => e.type);
    assert.equal(types.filter((t) => t === 'client.auth_failed').length, 2, 'the wrong secret, then the suspended client');
    for (const t of ['client.created', 'token.issued', 'client.auth_failed', 'client.suspended']) {
      assert.ok(types.includes(t), `${t} in ${types.join(' ')}`);
    }
    const r = await api('GET', `/admin/v1/audit?client=${encodeURIComponent(agent.client_id)}`);
    assert.deepEqual(parseEvents(r.text).map((e) => e.seq), expected);
    assert.equal(r.headers.get('link'), null, 'one page holds it all');
    const rest = await api('GET', `/admin/v1/audit?client=${encodeURIComponent(agent.client_id)}&after=${expected[1]}`);
    assert.deepEqual(parseEvents(rest.text).map((e) => e.seq), expected.slice(2));
    assertError(await api('GET', '/admin/v1/audit?after=-1'), 400, 'invalid_request');
    assertError(await api('GET', '/admin/v1/audit?client='), 400, 'invalid_request');
    assert.equal(srv.cli(['audit', 'verify']).code, 0, 'the chain still verifies');

    // more than a page: 1,000 events, then a Link to the rest with the same filter
    const busy = createClient(srv, { client_name: 'Busy agent', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic' });
    for (let batch = 0; batch < 41; batch++) {
      const rs = await Promise.all(Array.from({ length: 25 }, () => tokenBasic(srv, busy)));
      for (const x of rs) assert.equal(x.status, 200, show(x));
    }
    const all = parseEvents(srv.cli(['audit', 'export', '--client', busy.client_id]).stdout).map((e) => e.seq);
    assert.ok(all.length > 1000);
    let url = `/admin/v1/audit?client=${encodeURIComponent(busy.client_id)}`;
    const paged = [];
    for (let pages = 0; url && pages < 5; pages++) {
      const page = await api('GET', url);
      assert.equal(page.status, 200, show(page));
      const seqs = parseEvents(page.text).map((e) => e.seq);
      assert.ok(seqs.length <= 1000);
      paged.push(...seqs);
      const link = page.headers.get('link');
      url = link ? /^<([^>]+)>; rel="next"$/.exec(link)[1] : null;
    }
    assert.equal(url, null);
    assert.deepEqual(paged, all);
    const none = srv.cli(['audit', 'export', '--client', 'nobody-at-all']);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    assert.notEqual(srv.cli(['audit', 'export', '--client', '']).code, 0);
  });
});
