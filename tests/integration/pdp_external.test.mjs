// External policy decision points at token issuance: Mandate asks an
// AuthZEN PDP (a Node server around the Cedar reference implementation,
// lib/authzen_server.mjs) or an OPA data API (lib/opa_server.mjs), each on
// loopback, once per token request for all its scopes. Permit and deny
// follow the PDP; a PDP that never answers, answers something malformed,
// answers another status or cannot be reached refuses (503, fail closed)
// within [pdp] timeout, while the server's worker thread serves other
// requests; decisions are cached by the whole question, risk signals included.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startAuthzenServer } from './lib/authzen_server.mjs';
import { startOpaServer } from './lib/opa_server.mjs';
import { get, show, tokenBasic } from './lib/oauth.mjs';
import { createClient, createScope, freePort, startServer } from './lib/server.mjs';

const POLICIES = {
  'read-ok': 'permit(principal, action == Action::"token.issue", resource == Scope::"orders:read");',
  'no-write': 'forbid(principal, action, resource == Scope::"orders:write");',
  'write-ok': 'permit(principal, action == Action::"token.issue", resource == Scope::"orders:write");',
};

const service = (name) => ({ client_name: name, kind: 'service', grant_types: ['client_credentials'],
  token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read orders:write' });

/** A server whose [pdp] is an external PDP at url. threads = 1: one worker thread in all. */
async function serverWith(mode, url, pdp = {}, server = {}) {
  const srv = await startServer({ config: {
    server: { threads: 1, ...server },
    pdp: { mode, url, timeout: '1s', cache_ttl: '0', ...pdp },
  } });
  createScope(srv, 'orders:read');
  createScope(srv, 'orders:write');
  return srv;
}

function assertFailsClosed(r) {
  assert.equal(r.status, 503, show(r));
  assert.equal(r.json.error, 'temporarily_unavailable', show(r));
  assert.equal(r.json.access_token, undefined);
}

/** The failure cases shared by both kinds of PDP. */
async function failureCases(srv, pdp, client) {
  for (const mode of ['malformed', 'empty', 'redirect', 'status:500', 'status:404']) {
    pdp.behave(mode);
    const calls = pdp.calls;
    assertFailsClosed(await tokenBasic(srv, client, { scope: 'orders:read' }));
    assert.equal(pdp.calls, calls + 1, mode);
  }
  pdp.behave('normal');
  assert.equal((await tokenBasic(srv, client, { scope: 'orders:read' })).status, 200);
}

/** A PDP that never answers: refused within the timeout, and the one worker thread is free meanwhile. */
async function hangCase(srv, pdp, client) {
  pdp.behave('hang');
  const calls = pdp.calls;
  let settled = false;
  const pending = tokenBasic(srv, client, { scope: 'orders:read' }).finally(() => { settled = true; });
  for (let i = 0; i < 100 && pdp.calls === calls; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(pdp.calls, calls + 1, 'the PDP was asked');
  // the only worker thread serves other requests while the token request waits for the PDP
  for (let i = 0; i < 3; i++) {
    const r = await get(srv, '/.well-known/openid-configuration');
    assert.equal(r.status, 200);
  }
  assert.equal(settled, false, 'the token request was still waiting for the PDP');
  assertFailsClosed(await pending);
  pdp.behave('normal');
}

describe('an external AuthZEN PDP at token issuance', { timeout: 120_000 }, () => {
  let pdp;
  let srv;
  let client;

  before(async () => {
    pdp = await startAuthzenServer({ policies: { 'read-ok': POLICIES['read-ok'], 'no-write': POLICIES['no-write'] } });
    srv = await serverWith('authzen', pdp.url);
    client = createClient(srv, service('Agent'));
  });
  after(async () => {
    await srv?.stop();
    await pdp?.close();
  });

  test('permit and deny follow the PDP, asked once for all the scopes of a request', async () => {
    let calls = pdp.calls;
    let r = await tokenBasic(srv, client, { scope: 'orders:read' });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'orders:read');
    assert.equal(pdp.calls, calls + 1);
    const asked = pdp.bodies.at(-1);
    assert.equal(asked.contentType, 'application/json');
    assert.equal(asked.body.options.evaluations_semantic, 'execute_all');
    assert.deepEqual(asked.body.evaluations.map((e) => [e.subject.type, e.subject.id, e.action.name,
      e.resource.type, e.resource.id]), [['Client', client.client_id, 'token.issue', 'Scope', 'orders:read']]);
    calls = pdp.calls;
    r = await tokenBasic(srv, client, { scope: 'orders:read orders:write' });
    assert.equal(r.status, 400, show(r));
    assert.equal(r.json.error, 'invalid_scope');
    assert.match(r.json.error_description, /orders:write/);
    assert.equal(pdp.calls, calls + 1, 'one call for both scopes');
    assert.equal(pdp.bodies.at(-1).body.evaluations.length, 2);
    // waiting for the PDP is not a fault: no error line for it
    assert.doesNotMatch(srv.logs, /"level":"error".*waiting for the policy decision point/);
  });

  test('malformed answers, redirects and other statuses fail closed', async () => {
    await failureCases(srv, pdp, client);
  });

  test('a PDP that never answers fails closed within the timeout, holding no worker thread', async () => {
    await hangCase(srv, pdp, client);
  });

  test('many token requests wait for the PDP at once, beyond the caps of client-caused fetches', async () => {
    pdp.behave('slow:300');
    const calls = pdp.calls;
    const rs = await Promise.all(Array.from({ length: 12 }, () => tokenBasic(srv, client, { scope: 'orders:read' })));
    pdp.behave('normal');
    for (const r of rs) assert.equal(r.status, 200, show(r));
    assert.equal(pdp.calls, calls + 12);
  });

  test('a PDP that cannot be reached fails closed', async () => {
    const port = await freePort();
    const gone = await serverWith('authzen', `http://127.0.0.1:${port}`);
    try {
      const c = createClient(gone, service('Orphan'));
      assertFailsClosed(await tokenBasic(gone, c, { scope: 'orders:read' }));
    } finally {
      await gone.stop();
    }
  });
});

describe('shutdown while a PDP call is in progress', { timeout: 60_000 }, () => {
  test('after the grace period the call ends, its request is refused, and the server stops cleanly', async () => {
    const pdp = await startAuthzenServer({ policies: { 'read-ok': POLICIES['read-ok'] } });
    // the PDP would have 30 s; shutdown gives requests in flight 1 s
    const srv = await serverWith('authzen', pdp.url, { timeout: '30s' }, { shutdown_grace: '1s' });
    try {
      const client = createClient(srv, service('Late'));
      pdp.behave('hang');
      const pending = tokenBasic(srv, client, { scope: 'orders:read' }).catch((e) => e);
      for (let i = 0; i < 200 && pdp.calls === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(pdp.calls, 1);
      const stopped = await srv.stop(); // throws unless it exits 0 on SIGTERM
      assert.equal(stopped.code, 0);
      const r = await pending;
      if (!(r instanceof Error)) assertFailsClosed(r);
    } finally {
      await pdp.close();
    }
  });
});

describe('the decision cache', { timeout: 60_000 }, () => {
  // Decisions are cached by the whole question. At /token the question carries the risk
  // signals, which move with every request of a client: the next request asks again (a
  // decision made before a burst never answers during it). Identical questions are
  // answered from the cache (tests/unit/test_pdp.c).
  test('a question whose risk signals moved is asked again, never answered from before', async () => {
    const pdp = await startAuthzenServer({ policies: { 'read-ok': POLICIES['read-ok'] } });
    const srv = await serverWith('authzen', pdp.url, { cache_ttl: '60s' });
    try {
      const client = createClient(srv, service('Cached'));
      assert.equal((await tokenBasic(srv, client, { scope: 'orders:read' })).status, 200);
      const first = pdp.bodies.at(-1).body.evaluations[0];
      const calls = pdp.calls;
      assert.equal((await tokenBasic(srv, client, { scope: 'orders:read' })).status, 200);
      assert.equal(pdp.calls, calls + 1);
      const again = pdp.bodies.at(-1).body.evaluations[0];
      assert.notDeepEqual(again.context.risk, first.context.risk);
      const rest = (e) => ({ ...e, context: { ...e.context, risk: undefined } });
      assert.deepEqual(rest(again), rest(first), 'only the risk signals changed');
      // and with the PDP failing, the changed question fails closed: no stale allow
      pdp.behave('status:500');
      assertFailsClosed(await tokenBasic(srv, client, { scope: 'orders:read' }));
    } finally {
      await srv.stop();
      await pdp.close();
    }
  });
});

describe('an OPA data API at token issuance', { timeout: 120_000 }, () => {
  let opa;
  let srv;
  let client;

  before(async () => {
    opa = await startOpaServer((e) => (e.resource.id === 'orders:read'
      ? true : { decision: false, reasons: ['writes need a person'] }));
    srv = await serverWith('opa', opa.url);
    client = createClient(srv, service('Batch'));
  });
  after(async () => {
    await srv?.stop();
    await opa?.close();
  });

  test('permit and deny follow the data API, with the input of every question', async () => {
    let r = await tokenBasic(srv, client, { scope: 'orders:read' });
    assert.equal(r.status, 200, show(r));
    const input = opa.bodies.at(-1).body.input;
    assert.equal(input.evaluations.length, 1);
    assert.equal(input.evaluations[0].subject.id, client.client_id);
    assert.equal(input.evaluations[0].context.grant_type, 'client_credentials');
    r = await tokenBasic(srv, client, { scope: 'orders:write' });
    assert.equal(r.status, 400, show(r));
    assert.equal(r.json.error, 'invalid_scope');
  });

  test('malformed answers, an undefined document ({}), redirects and other statuses fail closed', async () => {
    await failureCases(srv, opa, client);
  });

  test('a data API that never answers fails closed within the timeout, holding no worker thread', async () => {
    await hangCase(srv, opa, client);
  });
});
