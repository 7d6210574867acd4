// The AuthZEN Authorization API 1.0 of the embedded PDP: POST
// /access/v1/evaluation and /access/v1/evaluations decided by the policies
// added with `mandate policy add`, the metadata at
// /.well-known/authzen-configuration. Callers need an active access token
// of this server with the scope of [authzen] scope; every refusal has its
// status (401 with a challenge, 403 insufficient_scope, 400, 413, 415) and
// decides nothing. X-Request-ID is echoed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { auditEvents, basic, eventBody, eventType, get, post, show, tokenBasic } from './lib/oauth.mjs';
import { createClient, createScope, sleep, startServer } from './lib/server.mjs';

const POLICIES = {
  'alice-all': 'permit(principal == User::"alice", action, resource);',
  'eng-read': 'permit(principal, action == Action::"read", resource) '
    + 'when { principal has department && principal.department == "eng" };',
  'no-secret': 'forbid(principal, action, resource == Document::"secret");',
};

const alice = { type: 'User', id: 'alice' };
const bob = { type: 'User', id: 'bob' };
const carol = { type: 'User', id: 'carol', properties: { department: 'eng' } };
const read = { name: 'read' };
const doc = (id) => ({ type: 'Document', id });

async function call(srv, token, pathname, body, { headers = {}, contentType = 'application/json' } = {}) {
  const h = { 'content-type': contentType, ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return post(srv, pathname, typeof body === 'string' ? body : JSON.stringify(body),
    { headers: h, contentType });
}

describe('AuthZEN API of the embedded PDP', { timeout: 180_000 }, () => {
  let srv;
  let pep;      // a client entitled to mandate:pdp
  let token;    // its access token
  let other;    // a client without it

  const evaluation = (body, opts) => call(srv, token, '/access/v1/evaluation', body, opts);
  const evaluations = (body, opts) => call(srv, token, '/access/v1/evaluations', body, opts);

  before(async () => {
    srv = await startServer({ config: { server: { max_body_bytes: 1048576 } } });
    createScope(srv, 'mandate:pdp', { description: 'Ask the PDP', sensitivity: 'approval' });
    createScope(srv, 'orders:read');
    for (const [id, text] of Object.entries(POLICIES)) {
      const r = srv.cli(['policy', 'add', id], { input: text });
      assert.equal(r.code, 0, r.stderr);
    }
    const svc = { kind: 'service', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic' };
    pep = createClient(srv, { client_name: 'Gateway', scope: 'mandate:pdp orders:read', ...svc });
    other = createClient(srv, { client_name: 'Reporting', scope: 'orders:read', ...svc });
    const t = await tokenBasic(srv, pep, { scope: 'mandate:pdp' });
    assert.equal(t.status, 200, show(t));
    token = t.json.access_token;
    // the policies are picked up within a second: wait (bounded) until all three decide
    for (let i = 0; i < 50; i++) {
      const r = await evaluations({ action: read, evaluations: [
        { subject: alice, resource: doc('d1') }, { subject: carol, resource: doc('d1') },
        { subject: alice, resource: doc('secret') }] });
      const seen = r.status === 200 ? r.json.evaluations.map((e) => e.context.reasons[0]) : [];
      if (seen.join() === 'alice-all,eng-read,no-secret') break;
      await sleep(100);
    }
  });
  after(async () => { await srv?.stop(); });

  test('metadata: the PDP and both endpoints, from the issuer', async () => {
    const r = await get(srv, '/.well-known/authzen-configuration');
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const base = srv.issuer.replace(/\/$/, '');
    assert.deepEqual(r.json, {
      policy_decision_point: srv.issuer,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
    });
  });

  test('evaluation: permit, deny, forbid overrides permit, properties become attributes', async () => {
    let r = await evaluation({ subject: alice, action: read, resource: doc('d1') });
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json, { decision: true, context: { reasons: ['alice-all'], errors: [] } });
    r = await evaluation({ subject: bob, action: read, resource: doc('d1') });
    assert.deepEqual(r.json, { decision: false, context: { reasons: [], errors: [] } });
    r = await evaluation({ subject: alice, action: read, resource: doc('secret') });
    assert.deepEqual(r.json, { decision: false, context: { reasons: ['no-secret'], errors: [] } });
    r = await evaluation({ subject: carol, action: read, resource: doc('d1'), context: { ip: '10.0.0.1' } });
    assert.deepEqual(r.json, { decision: true, context: { reasons: ['eng-read'], errors: [] } });
    r = await evaluation({ subject: carol, action: { name: 'write' }, resource: doc('d1') });
    assert.equal(r.json.decision, false);
  });

  test('X-Request-ID is echoed; a bad one is refused', async () => {
    const id = 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716';
    let r = await evaluation({ subject: alice, action: read, resource: doc('d1') },
      { headers: { 'x-request-id': id } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers.get('x-request-id'), id);
    r = await evaluations({ evaluations: [{ subject: alice, action: read, resource: doc('d1') }] },
      { headers: { 'x-request-id': id } });
    assert.equal(r.headers.get('x-request-id'), id);
    // refusals echo it too
    r = await call(srv, null, '/access/v1/evaluation', {}, { headers: { 'x-request-id': id } });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-request-id'), id);
    r = await evaluation({ subject: alice, action: read, resource: doc('d1') },
      { headers: { 'x-request-id': 'x'.repeat(129) } });
    assert.equal(r.status, 400, show(r));
    assert.equal(r.json.error, 'invalid_request');
  });

  test('evaluations execute_all: every item, in order, with defaults and overrides', async () => {
    const r = await evaluations({
      subject: alice, action: read, context: { time: '2026-12-07T10:00:00Z' },
      evaluations: [
        { resource: doc('d1') },
        { resource: doc('secret') },
        { subject: bob, resource: doc('d2') },
        { subject: carol, resource: doc('d3') },
        { subject: carol, action: { name: 'write' }, resource: doc('d3') },
      ],
    });
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json.evaluations.map((e) => e.decision), [true, false, false, true, false]);
    assert.deepEqual(r.json.evaluations[0].context, { reasons: ['alice-all'], errors: [] });
    assert.deepEqual(r.json.evaluations[1].context, { reasons: ['no-secret'], errors: [] });
    assert.equal(r.json.decision, undefined);
    const explicit = await evaluations({ options: { evaluations_semantic: 'execute_all' },
      evaluations: [{ subject: bob, action: read, resource: doc('d1') },
        { subject: alice, action: read, resource: doc('d1') }] });
    assert.deepEqual(explicit.json.evaluations.map((e) => e.decision), [false, true]);
  });

  test('deny_on_first_deny stops at the first deny; permit_on_first_permit at the first permit', async () => {
    const items = [{ subject: alice }, { subject: bob }, { subject: alice }];
    let r = await evaluations({ action: read, resource: doc('d1'), evaluations: items,
      options: { evaluations_semantic: 'deny_on_first_deny' } });
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json.evaluations.map((e) => e.decision), [true, false]);
    r = await evaluations({ action: read, resource: doc('d1'), evaluations: [{ subject: bob }, ...items],
      options: { evaluations_semantic: 'permit_on_first_permit' } });
    assert.deepEqual(r.json.evaluations.map((e) => e.decision), [false, true]);
    // no short-circuit: every item answered
    r = await evaluations({ action: read, resource: doc('d1'), evaluations: [{ subject: alice }, { subject: alice }],
      options: { evaluations_semantic: 'deny_on_first_deny' } });
    assert.deepEqual(r.json.evaluations.map((e) => e.decision), [true, true]);
    r = await evaluations({ action: read, resource: doc('d1'), evaluations: [{ subject: bob }, { subject: bob }],
      options: { evaluations_semantic: 'permit_on_first_permit' } });
    assert.deepEqual(r.json.evaluations.map((e) => e.decision), [false, false]);
  });

  test('evaluations without an evaluations array (or an empty one) is the single evaluation', async () => {
    for (const extra of [{}, { evaluations: [] }]) {
      const r = await evaluations({ subject: alice, action: read, resource: doc('d1'), ...extra });
      assert.equal(r.status, 200, show(r));
      assert.deepEqual(r.json, { decision: true, context: { reasons: ['alice-all'], errors: [] } });
    }
  });

  test('callers: no token, a bad one, a revoked one, one without the scope, a suspended client', async () => {
    const body = { subject: alice, action: read, resource: doc('d1') };
    for (const pathname of ['/access/v1/evaluation', '/access/v1/evaluations']) {
      let r = await call(srv, null, pathname, body);
      assert.equal(r.status, 401, show(r));
      assert.match(r.headers.get('www-authenticate'), /^Bearer realm="mandate", scope="mandate:pdp"/);
      assert.equal(r.json.decision, undefined);
      r = await call(srv, null, pathname, body, { headers: { authorization: basic(pep.client_id, pep.client_secret) } });
      assert.equal(r.status, 401, show(r));
      r = await call(srv, 'not-a-token', pathname, body);
      assert.equal(r.status, 401, show(r));
      assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
      assert.equal(r.json.error, 'invalid_token');
    }
    const t = await tokenBasic(srv, other, { scope: 'orders:read' });
    let r = await call(srv, t.json.access_token, '/access/v1/evaluation', body);
    assert.equal(r.status, 403, show(r));
    assert.equal(r.json.error, 'insufficient_scope');
    assert.match(r.headers.get('www-authenticate'), /error="insufficient_scope", scope="mandate:pdp"/);
    const refused = auditEvents(srv).filter((e) => eventType(e) === 'authzen.refused');
    assert.equal(refused.length, 1);
    assert.equal(eventBody(refused[0]).client_id, other.client_id);
    // the pep's own token with only orders:read
    const narrow = await tokenBasic(srv, pep, { scope: 'orders:read' });
    r = await call(srv, narrow.json.access_token, '/access/v1/evaluations', body);
    assert.equal(r.status, 403, show(r));
    // revoked
    const t2 = await tokenBasic(srv, pep, { scope: 'mandate:pdp' });
    assert.equal((await call(srv, t2.json.access_token, '/access/v1/evaluation', body)).status, 200);
    const rv = await post(srv, '/revoke', { token: t2.json.access_token },
      { headers: { authorization: basic(pep.client_id, pep.client_secret) } });
    assert.equal(rv.status, 200, show(rv));
    r = await call(srv, t2.json.access_token, '/access/v1/evaluation', body);
    assert.equal(r.status, 401, show(r));
    // the kill switch: a suspended client's tokens stop at once
    const pep2 = createClient(srv, { client_name: 'Edge', kind: 'service', scope: 'mandate:pdp',
      grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' });
    const t3 = await tokenBasic(srv, pep2, { scope: 'mandate:pdp' });
    assert.equal((await call(srv, t3.json.access_token, '/access/v1/evaluation', body)).status, 200);
    assert.equal(srv.cli(['client', 'suspend', pep2.client_id]).code, 0);
    r = await call(srv, t3.json.access_token, '/access/v1/evaluation', body);
    assert.equal(r.status, 401, show(r));
  });

  test('malformed requests: 400, 415 and 413, with a clear error', async () => {
    const ok = { subject: alice, action: read, resource: doc('d1') };
    const bad400 = [
      ['not JSON', '{"subject":'],
      ['not an object', '[1]'],
      ['no subject', { action: read, resource: doc('d1') }],
      ['no action', { subject: alice, resource: doc('d1') }],
      ['no resource', { subject: alice, action: read }],
      ['subject not an object', { ...ok, subject: 'alice' }],
      ['subject without id', { ...ok, subject: { type: 'User' } }],
      ['subject id not a string', { ...ok, subject: { type: 'User', id: 7 } }],
      ['empty type', { ...ok, resource: { type: '', id: 'x' } }],
      ['action without name', { ...ok, action: {} }],
      ['properties not an object', { ...ok, subject: { ...alice, properties: [1] } }],
      ['context not an object', { ...ok, context: 'now' }],
      ['duplicate member', '{"subject":{"type":"User","id":"a"},"subject":{"type":"User","id":"b"},'
        + '"action":{"name":"read"},"resource":{"type":"Document","id":"d"}}'],
    ];
    for (const [why, body] of bad400) {
      for (const send of [evaluation, evaluations]) {
        const r = await send(body);
        assert.equal(r.status, 400, `${why}: ${show(r)}`);
        assert.equal(r.json.error, 'invalid_request', why);
        assert.equal(r.json.decision, undefined, why);
      }
    }
    const bad400s = [
      ['evaluations not an array', { ...ok, evaluations: {} }],
      ['an item not an object', { ...ok, evaluations: [ok, 3] }],
      ['an item missing its resource, no default', { subject: alice, action: read, evaluations: [{}] }],
      ['unknown semantic', { ...ok, evaluations: [ok], options: { evaluations_semantic: 'first' } }],
      ['options not an object', { ...ok, evaluations: [ok], options: 'x' }],
      ['too many evaluations', { ...ok, evaluations: Array.from({ length: 101 }, () => ({})) }],
    ];
    for (const [why, body] of bad400s) {
      const r = await evaluations(body);
      assert.equal(r.status, 400, `${why}: ${show(r)}`);
      assert.equal(r.json.error, 'invalid_request', why);
      assert.equal(r.json.evaluations, undefined, why);
    }
    // the cap itself is fine
    const r100 = await evaluations({ ...ok, evaluations: Array.from({ length: 100 }, () => ({})) });
    assert.equal(r100.status, 200, show(r100));
    assert.equal(r100.json.evaluations.length, 100);
    let r = await evaluation(JSON.stringify(ok), { contentType: 'text/plain' });
    assert.equal(r.status, 415, show(r));
    r = await evaluation(JSON.stringify(ok), { contentType: 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 415, show(r));
    const big = { ...ok, context: { pad: 'x'.repeat(100 * 1024) } };
    r = await evaluation(big);
    assert.equal(r.status, 413, show(r));
    r = await call(srv, token, '/access/v1/evaluation', ok, { contentType: 'application/json' });
    assert.equal(r.status, 200, 'and the API still answers');
  });

  test('wrong methods are 405 with Allow', async () => {
    const r = await get(srv, '/access/v1/evaluation', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 405, show(r));
    assert.equal(r.headers.get('allow'), 'POST');
  });

  test('decisions are audited in aggregate: one event per minute with traffic', async () => {
    const body = { subject: alice, action: read, resource: doc('d1') };
    const minute = () => Math.floor(Date.now() / 60_000);
    // start the next minute afresh, then make known traffic in it
    const m0 = minute();
    for (let i = 0; i < 620 && minute() === m0; i++) await sleep(100);
    const m1 = minute();
    assert.equal((await evaluation(body)).status, 200);
    const before = auditEvents(srv).filter((e) => eventType(e) === 'authzen.decisions').length;
    const r = await evaluations({ action: read, resource: doc('d1'),
      evaluations: [{ subject: alice }, { subject: bob }, { subject: alice }] });
    assert.equal(r.status, 200, show(r));
    if (minute() !== m1) return; // the minute ended meanwhile: the counts below would be split
    for (let i = 0; i < 620 && minute() === m1; i++) await sleep(100);
    assert.equal((await evaluation(body)).status, 200); // the first call of the next minute writes it
    const events = auditEvents(srv).filter((e) => eventType(e) === 'authzen.decisions');
    assert.equal(events.length, before + 1);
    const data = eventBody(events.at(-1)).data;
    const d = typeof data === 'string' ? JSON.parse(data) : data;
    assert.equal(d.minute, m1 * 60);
    assert.deepEqual({ calls: d.calls, evaluations: d.evaluations, permits: d.permits, denies: d.denies },
      { calls: 2, evaluations: 4, permits: 3, denies: 1 });
  });
});
