// The admin API's policies of the embedded PDP (/admin/v1/policies...):
// every resource for real, through the same service as `mandate policy`
// (what one stores the other lists); the caller is the audited actor. Only
// a token with mandate:admin may read or change them: no token, a bad one,
// a token without the scope are refused and change nothing. Bad input — a
// parse error (with its position), a bad id, a duplicate policy id, an
// unknown id, members of the wrong type or unknown — is refused with a
// clear error and changes nothing. Evaluate answers as `policy eval` does.
// On PostgreSQL, two servers share the database: a policy added through
// one's admin API decides on the other within about a second.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { parseEvents, show, tokenBasic } from './lib/oauth.mjs';
import { BACKEND, dbQuery } from './lib/pg.mjs';
import { cliJson, createClient, createScope, sleep, startServer } from './lib/server.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');

function adminClient(srv, scope = 'mandate:admin') {
  return createClient(srv, { client_name: 'Automation', kind: 'service', grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic', scope });
}

async function tokenOf(srv, client, scope = 'mandate:admin') {
  const r = await tokenBasic(srv, client, { scope });
  assert.equal(r.status, 200, show(r));
  return r.json.access_token;
}

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

function assertError(r, status, error, re) {
  assert.equal(r.status, status, show(r));
  assert.equal(r.json?.error, error, show(r));
  if (re) assert.match(r.json.error_description, re, show(r));
}

const evalReq = (clientId, scope, action = 'token.issue') => ({
  subject: { type: 'Client', id: clientId }, action: { name: action }, resource: { type: 'Scope', id: scope },
});

describe('admin API: policies', { timeout: 120_000 }, () => {
  let srv;
  let admin;
  let token;

  before(async () => {
    srv = await startServer();
    admin = adminClient(srv);
    token = await tokenOf(srv, admin);
    createScope(srv, 'payments', { description: 'Move money', sensitivity: 'approval' });
  });
  after(async () => { await srv?.stop(); });

  const api = (method, pathname, opts) => call(srv, token, method, pathname, opts);
  const stored = () => cliJson(srv, ['policy', 'list']);
  const events = () => parseEvents(srv.cli(['audit', 'export']).stdout);

  test('add, get, list, replace, validate, evaluate, remove; shared with the command line, audited as the caller', async () => {
    const text = 'forbid(principal is Client, action == Action::"token.issue", resource)\n'
      + '  when { principal.risk_tier == "high" && resource.sensitivity == "approval" };';
    let r = await api('POST', '/admin/v1/policies', { body: { id: 'no-high', text, description: 'No approval scope for high tier' } });
    assert.equal(r.status, 201, show(r));
    assert.equal(r.json.id, 'no-high');
    assert.equal(r.json.text, text);
    assert.equal(r.json.sha256, sha256(text));
    assert.deepEqual(r.json.policies, ['no-high']);
    assert.equal(r.json.created_by, `client:${admin.client_id}`);
    assert.deepEqual(stored().map((p) => p.id), ['no-high'], 'the command line lists it');

    // the command line adds, the API lists it
    assert.equal(srv.cli(['policy', 'add', 'base'], { input: 'permit(principal, action == Action::"report", resource);' }).code, 0);
    r = await api('GET', '/admin/v1/policies');
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json.items.map((p) => p.id), ['base', 'no-high']);
    assert.equal(r.json.next, null);
    assert.equal(r.json.items[1].text, undefined, 'lists carry no text');
    r = await api('GET', '/admin/v1/policies?limit=1');
    assert.deepEqual(r.json.items.map((p) => p.id), ['base']);
    r = await api('GET', `/admin/v1/policies?limit=1&cursor=${r.json.next}`);
    assert.deepEqual(r.json.items.map((p) => p.id), ['no-high']);

    r = await api('GET', '/admin/v1/policies/no-high');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.description, 'No approval scope for high tier');

    // evaluate: as policy eval, with a real client's attributes
    const high = createClient(srv, { client_name: 'Risky agent', kind: 'agent', risk_tier: 'high',
      grant_types: ['client_credentials'], scope: 'payments', token_endpoint_auth_method: 'client_secret_basic' });
    r = await api('POST', '/admin/v1/policies/evaluate', { body: evalReq(high.client_id, 'payments') });
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json, { decision: false, context: { reasons: ['no-high'], errors: [] } });
    const cli = srv.cli(['policy', 'eval', '--json'], { input: JSON.stringify(evalReq(high.client_id, 'payments')) });
    assert.deepEqual(cli.json(), r.json, 'the same answer as the command line');
    // the shipped baseline ([policy] builtin, on by default) is part of the set
    r = await api('POST', '/admin/v1/policies/evaluate', { body: evalReq(admin.client_id, 'payments') });
    assert.deepEqual(r.json, { decision: true, context: { reasons: ['mandate.baseline'], errors: [] } });
    // what the command line added reaches the server within about a second
    for (let i = 0, start = Date.now(); i < 100 && Date.now() - start < 10_000; i++) {
      r = await api('POST', '/admin/v1/policies/evaluate', { body: evalReq(admin.client_id, 'payments', 'report') });
      if (r.json?.decision) break;
      await sleep(100);
    }
    assert.deepEqual(r.json, { decision: true, context: { reasons: ['base'], errors: [] } });

    // replace (PUT): the node that made the change decides with it at once
    const next = 'forbid(principal, action, resource) when { principal.kind == "agent" };';
    r = await api('PUT', '/admin/v1/policies/no-high', { body: { text: next } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.text, next);
    assert.equal(r.json.description, null);
    r = await api('POST', '/admin/v1/policies/evaluate', { body: evalReq(high.client_id, 'openid') });
    assert.deepEqual(r.json, { decision: false, context: { reasons: ['no-high'], errors: [] } });
    // PUT of a new id stores it
    r = await api('PUT', '/admin/v1/policies/extra', { body: { text: 'permit(principal, action == Action::"x", resource);' } });
    assert.equal(r.status, 201, show(r));

    r = await api('POST', '/admin/v1/policies/validate', { body: { text: '@id("a") permit(principal, action, resource);\nforbid(principal, action, resource);' } });
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json, { policies: ['a', 'policy1'] });

    r = await api('DELETE', '/admin/v1/policies/extra');
    assert.equal(r.status, 204, show(r));
    assert.equal(r.text, '');
    assert.deepEqual(stored().map((p) => p.id), ['base', 'no-high']);

    const mine = events().filter((e) => e.type.startsWith('policy.') && e.actor === `client:${admin.client_id}`);
    assert.deepEqual(mine.map((e) => [e.type, e.data.id]),
      [['policy.added', 'no-high'], ['policy.replaced', 'no-high'], ['policy.added', 'extra'], ['policy.removed', 'extra']]);
    assert.equal(mine[1].data.sha256, sha256(next));
  });

  test('bad input: a clear error, and nothing stored or audited', async () => {
    const before_ = stored();
    const policyEvents = () => events().filter((e) => e.type.startsWith('policy.')).length;
    const n = policyEvents();
    const cases = [
      [['POST', '/admin/v1/policies', { body: { id: 'broken', text: 'permit(principal, action, resource)\n when { 1 + };' } }],
        400, 'invalid_request', /line 2, column \d+/],
      [['POST', '/admin/v1/policies', { body: { id: 'bad id', text: 'permit(principal, action, resource);' } }],
        400, 'invalid_request', /policy id/],
      [['POST', '/admin/v1/policies', { body: { id: 'x'.repeat(129), text: 'permit(principal, action, resource);' } }],
        400, 'invalid_request', /policy id/],
      [['POST', '/admin/v1/policies', { body: { id: 'dup', text: '@id("base") permit(principal, action, resource);' } }],
        400, 'invalid_request', /duplicate/],
      [['POST', '/admin/v1/policies', { body: { id: 'base', text: 'permit(principal, action, resource);' } }],
        409, 'conflict', /already exists/],
      [['POST', '/admin/v1/policies', { body: { id: 'mandate.baseline', text: 'permit(principal, action, resource);' } }],
        400, 'invalid_request', /duplicate policy id/],
      [['POST', '/admin/v1/policies', { body: { text: 'permit(principal, action, resource);' } }], 400, 'invalid_request', /id and text/],
      [['POST', '/admin/v1/policies', { body: { id: 'y', text: 7 } }], 400, 'invalid_request'],
      [['POST', '/admin/v1/policies', { body: { id: 'y', text: 'permit(principal, action, resource);', owner: 'me' } }], 400, 'invalid_request'],
      [['POST', '/admin/v1/policies', { body: 'id=y', contentType: 'application/x-www-form-urlencoded' }], 415, 'invalid_request'],
      [['POST', '/admin/v1/policies', { body: '{' }], 400, 'invalid_request'],
      [['PUT', '/admin/v1/policies/base', { body: { text: 'permit(' } }], 400, 'invalid_request', /line 1, column \d+/],
      [['PUT', '/admin/v1/policies/base', { body: { id: 'other', text: 'permit(principal, action, resource);' } }], 400, 'invalid_request'],
      [['PUT', '/admin/v1/policies/bad%20id', { body: { text: 'permit(principal, action, resource);' } }], 400, 'invalid_request', /policy id/],
      [['GET', '/admin/v1/policies/nobody'], 404, 'not_found'],
      [['DELETE', '/admin/v1/policies/nobody'], 404, 'not_found'],
      [['POST', '/admin/v1/policies/validate', { body: { text: 'permit(principal,' } }], 400, 'invalid_request', /line 1, column \d+/],
      [['POST', '/admin/v1/policies/evaluate', { body: { subject: { type: 'Client' }, action: { name: 'a' }, resource: { type: 'T', id: 'x' } } }],
        400, 'invalid_request', /subject type and id/],
      [['POST', '/admin/v1/policies/evaluate', { body: { subject: { type: 'Client', id: 'c' }, action: { name: 'a' }, resource: { type: 'T', id: 'x' }, context: [] } }],
        400, 'invalid_request', /context/],
    ];
    for (const [[m, p, opts], status, error, re] of cases) {
      const r = await api(m, p, opts);
      assert.equal(r.status, status, `${m} ${p}: ${show(r)}`);
      if (status !== 415) assert.equal(r.json?.error, error, `${m} ${p}: ${show(r)}`);
      if (re) assert.match(r.json.error_description, re, `${m} ${p}: ${show(r)}`);
    }
    assert.deepEqual(stored(), before_);
    assert.equal(policyEvents(), n, 'no policy event');
  });

  test('only mandate:admin: no token, a bad token, a token without the scope get 401/403 and change nothing', async () => {
    createScope(srv, 'reports', { description: 'Reports' });
    const weakClient = createClient(srv, { client_name: 'Reporter', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'reports' });
    const weak = await tokenOf(srv, weakClient, 'reports');
    const before_ = stored();
    const body = { id: 'sneaky', text: 'permit(principal, action, resource);' };
    for (const [tok, status, error] of [[null, 401, 'invalid_token'], ['not-a-token', 401, 'invalid_token'], [weak, 403, 'insufficient_scope']]) {
      for (const [m, p, opts] of [
        ['GET', '/admin/v1/policies'], ['POST', '/admin/v1/policies', { body }],
        ['GET', '/admin/v1/policies/base'], ['PUT', '/admin/v1/policies/base', { body: { text: body.text } }],
        ['DELETE', '/admin/v1/policies/base'], ['POST', '/admin/v1/policies/validate', { body: { text: body.text } }],
        ['POST', '/admin/v1/policies/evaluate', { body: evalReq(admin.client_id, 'openid') }],
      ]) {
        assertError(await call(srv, tok, m, p, opts), status, error);
      }
    }
    assert.deepEqual(stored(), before_);
  });
});

describe('decisions while the policies change', { timeout: 120_000 }, () => {
  let srv;
  after(async () => { await srv?.stop(); });

  // Readers keep the set they started with while a new one is swapped in:
  // every answer is the whole answer of one set or the other, never an error.
  test('evaluations in parallel with replacements answer from one set or the other', async () => {
    srv = await startServer();
    const admin = adminClient(srv);
    const token = await tokenOf(srv, admin);
    const texts = ['permit(principal, action == Action::"report", resource);',
      'forbid(principal, action == Action::"report", resource);'];
    let r = await call(srv, token, 'POST', '/admin/v1/policies', { body: { id: 'flip', text: texts[0] } });
    assert.equal(r.status, 201, show(r));
    const seen = new Set();
    let stop = false;
    const reader = async () => {
      for (let i = 0; i < 200 && !stop; i++) { // bounded in count
        const a = await call(srv, token, 'POST', '/admin/v1/policies/evaluate', { body: evalReq(admin.client_id, 'openid', 'report') });
        assert.equal(a.status, 200, show(a));
        assert.deepEqual(a.json.context, { reasons: ['flip'], errors: [] }, show(a));
        seen.add(a.json.decision);
      }
    };
    const readers = Array.from({ length: 6 }, reader);
    for (let i = 1; i <= 20; i++) {
      r = await call(srv, token, 'PUT', '/admin/v1/policies/flip', { body: { text: texts[i % 2] } });
      assert.equal(r.status, 200, show(r));
    }
    stop = true;
    await Promise.all(readers);
    assert.ok(seen.size >= 1);
    r = await call(srv, token, 'POST', '/admin/v1/policies/evaluate', { body: evalReq(admin.client_id, 'openid', 'report') });
    assert.equal(r.json.decision, true, 'the last text (20 is even: the permit) decides');
  });
});

describe('stored policies that no longer form one set', { timeout: 120_000 }, () => {
  let srv;
  after(async () => { await srv?.stop(); });

  // Two texts that name one policy id, written behind the server's back (as
  // two nodes storing clashing texts at the same instant, or someone with
  // write access to the database, would leave them).
  test('a running server keeps its set; a restarted one fails its decisions closed until they are fixed', async () => {
    srv = await startServer();
    const admin = adminClient(srv);
    let token = await tokenOf(srv, admin);
    const ask = async () => call(srv, token, 'POST', '/admin/v1/policies/evaluate', { body: evalReq(admin.client_id, 'openid', 'report') });
    let r = await call(srv, token, 'POST', '/admin/v1/policies', { body: { id: 'base', text: 'permit(principal, action, resource);' } });
    assert.equal(r.status, 201, show(r));
    dbQuery(srv, "INSERT INTO policies (id, text, description, created_at, updated_at, created_by) VALUES "
      + "('clash', '@id(\"base\") forbid(principal, action, resource);', NULL, 1, 1, 'x');\n"
      + "UPDATE store_counters SET value = value + 1 WHERE name = 'policies';\n");
    for (let i = 0, start = Date.now(); i < 100 && Date.now() - start < 10_000 && !/policies not reloaded/.test(srv.logs); i++) {
      await sleep(100); // until the reload thread has seen the change (and kept its set)
    }
    assert.match(srv.logs, /policies not reloaded.*duplicate policy id base/);
    r = await ask();
    assert.deepEqual(r.json, { decision: true, context: { reasons: ['base'], errors: [] } }, show(r));

    await srv.restart();
    token = await tokenOf(srv, admin);
    r = await ask();
    assert.equal(r.status, 503, show(r));
    assert.equal(r.json.error, 'temporarily_unavailable', show(r));
    assert.match(srv.logs, /no policy set in force/);
    // adding is refused while the clash stays (the whole set must build); removing fixes it
    r = await call(srv, token, 'POST', '/admin/v1/policies', { body: { id: 'more', text: 'permit(principal, action, resource);' } });
    assertError(r, 400, 'invalid_request', /duplicate/);
    r = await call(srv, token, 'DELETE', '/admin/v1/policies/clash');
    assert.equal(r.status, 204, show(r));
    r = await ask();
    assert.deepEqual(r.json, { decision: true, context: { reasons: ['base'], errors: [] } }, show(r));
  });
});

const skip = BACKEND !== 'postgresql' && 'two servers share a PostgreSQL database';

describe('two servers on one PostgreSQL database', { skip, timeout: 120_000 }, () => {
  let a;
  let b;

  before(async () => {
    a = await startServer();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-policy-node-b-'));
    for (const f of ['master.key', 'audit.key']) await copyFile(path.join(a.dir, f), path.join(dir, f));
    b = await startServer({ dir, config: { server: { issuer: a.issuer }, storage: { database: a.database } } });
  });
  after(async () => {
    await b?.stop({ removeDir: true });
    await a?.stop();
  });

  test('a policy added through one server\'s admin API decides on the other within about a second', async () => {
    const admin = adminClient(a);
    const tokA = await tokenOf(a, admin);
    const tokB = await tokenOf(b, admin);
    const ask = async () => {
      const r = await call(b, tokB, 'POST', '/admin/v1/policies/evaluate', { body: evalReq(admin.client_id, 'openid', 'report') });
      assert.equal(r.status, 200, show(r));
      return r.json;
    };
    assert.equal((await ask()).decision, false);
    const r = await call(a, tokA, 'POST', '/admin/v1/policies', { body: { id: 'services',
      text: 'permit(principal is Client, action == Action::"report", resource) when { principal.kind == "service" };' } });
    assert.equal(r.status, 201, show(r));
    const start = Date.now();
    let got;
    for (let i = 0; i < 100 && Date.now() - start < 10_000; i++) { // bounded; ~1 s expected
      got = await ask();
      if (got.decision) break;
      await sleep(100);
    }
    assert.deepEqual(got, { decision: true, context: { reasons: ['services'], errors: [] } });
    // and a removal likewise
    const d = await call(a, tokA, 'DELETE', '/admin/v1/policies/services');
    assert.equal(d.status, 204, show(d));
    for (let i = 0; i < 100 && Date.now() - start < 20_000; i++) {
      got = await ask();
      if (!got.decision) break;
      await sleep(100);
    }
    assert.equal(got.decision, false);
  });
});
