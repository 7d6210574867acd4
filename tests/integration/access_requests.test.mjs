// Access requests and dynamic entitlements (SPEC §3.6): an agent asking for
// a scope of sensitivity `approval` it is not entitled to gets invalid_scope
// naming /access-requests (at /token and, by redirect, at /authorize); it
// files an access request (JSON or a form, authenticated as at /token); the
// client's owner approves it for 2 seconds (command line, or /approvals in
// a browser); the agent gets the scope, its token and the token.issued event
// name the entitlement and the approval, and once the entitlement expired
// the agent gets the scope no more. A denial gives nothing. Every failure
// path answers with the right status and error and files nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { authorizeUrl, createUsers, FAST_ARGON2, PASSWORD, pkce, signedIn } from './lib/authz.mjs';
import { csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import {
  assertOAuthError, auditEvents, basic, eventBody, eventType, get, jwtParts, post, show, tokenBasic,
} from './lib/oauth.mjs';
import { assertRegistered, regUpdate, register } from './lib/register.mjs';
import { cliJson, createClient, createScope, describeRun, sleep, startServer } from './lib/server.mjs';

const SCOPE = 'payments:write';
const API = 'https://payments.example.com/';
// How long the short approvals of these tests last: 2 s as the scenario says, longer under the
// sanitizers (`make asan` sets ASAN_OPTIONS), whose slowdown would let them end between two steps.
const WINDOW = process.env.ASAN_OPTIONS ? 15 : 2;
const LONGER = WINDOW + 3;

function agentMetadata(overrides = {}) {
  return {
    client_name: 'Payment agent', kind: 'agent', owner: 'olivia',
    grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
    scope: 'read', ...overrides,
  };
}

/** POST /access-requests with a JSON body, authenticated with Basic. */
function fileJson(srv, client, body, { headers = {} } = {}) {
  return post(srv, '/access-requests', JSON.stringify(body), {
    contentType: 'application/json',
    headers: client ? { authorization: basic(client.client_id, client.client_secret), ...headers } : headers,
  });
}

function readRequest(srv, client, id) {
  return get(srv, `/access-requests/${encodeURIComponent(id)}`,
    { headers: { authorization: basic(client.client_id, client.client_secret) } });
}

function tokenEvents(srv) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'token.issued');
}

const dataOf = (e) => (typeof e.data === 'string' ? JSON.parse(e.data) : e.data);

function assertNeedsAccessRequest(r, scope = SCOPE) {
  assertOAuthError(r, 400, 'invalid_scope');
  assert.match(r.json.error_description, /\/access-requests/, show(r));
  assert.ok(r.json.error_description.includes(scope), show(r));
}

describe('access requests', { timeout: 180_000 }, () => {
  let srv;
  let agent;

  const requests = () => cliJson(srv, ['request', 'list']);
  const accessRequests = () => requests().filter((q) => q.type === 'access_request');

  before(async () => {
    srv = await startServer({
      config: {
        users: FAST_ARGON2, access_requests: { max_duration: '1d', max_pending: 4 },
        registration: { open: 'true', rate_per_source: 1000 },
      },
    });
    createScope(srv, 'read', { description: 'Read things' });
    createScope(srv, SCOPE, { description: 'Make payments', sensitivity: 'approval' });
    createScope(srv, 'payments:refund', { description: 'Refund payments', sensitivity: 'approval' });
    createUsers(srv, ['olivia', 'mallory']);
    const r = srv.cli(['user', 'create', 'carol', '--role', 'approver', '--password-stdin'],
      { input: `${PASSWORD}\n` });
    assert.equal(r.code, 0, r.stderr);
    agent = createClient(srv, agentMetadata());
  });
  after(async () => { await srv?.stop(); });

  test('the issue\'s scenario: refused, filed, approved for 2 s by the owner, granted, expired', async () => {
    // 1. the agent asks for the scope and is told where to ask
    assertNeedsAccessRequest(await tokenBasic(srv, agent, { scope: SCOPE }));

    // 2. it files an access request (JSON)
    const filed = await fileJson(srv, agent, { scope: SCOPE, justification: 'Nightly payment run', duration: '1h' });
    assert.equal(filed.status, 201, show(filed));
    assert.equal(filed.json.status, 'pending');
    assert.match(filed.json.id, /^req_/);
    assert.equal(filed.headers.get('location'), `/access-requests/${filed.json.id}`);
    assert.equal(filed.headers.get('cache-control'), 'no-store');
    const id = filed.json.id;

    // the same question again: the same request, nothing new
    const again = await fileJson(srv, agent, { scope: SCOPE, justification: 'Nightly payment run (retry)' });
    assert.equal(again.status, 200, show(again));
    assert.equal(again.json.id, id);
    assert.equal(accessRequests().filter((q) => q.client_id === agent.client_id && q.status === 'pending').length, 1);

    let seen = await readRequest(srv, agent, id);
    assert.equal(seen.status, 200, show(seen));
    assert.equal(seen.json.status, 'pending');
    assert.equal(seen.json.scope, SCOPE);
    assert.equal(seen.json.justification, 'Nightly payment run');
    assert.equal(seen.json.duration, 3600);
    assert.equal(seen.json.decided_at, null);
    assert.equal(seen.json.entitlement_expires_at, null);

    const listed = requests().find((q) => q.id === id);
    assert.equal(listed.type, 'access_request');
    assert.equal(listed.client_id, agent.client_id);
    assert.equal(listed.justification, 'Nightly payment run');
    assert.equal(listed.duration, 3600);
    assert.equal(listed.approve, 'default');

    // 3. someone who is neither owner nor approver cannot decide it
    const denied = srv.cli(['request', 'approve', id, '--by', 'mallory']);
    assert.notEqual(denied.code, 0, describeRun(denied));
    assert.match(denied.stderr, /owner|approver/);
    assert.equal(requests().find((q) => q.id === id).status, 'pending');

    // 4. the owner approves it for 2 seconds
    const approved = cliJson(srv, ['request', 'approve', id, '--for', `${WINDOW}s`, '--by', 'olivia']);
    assert.equal(approved.status, 'approved');
    assert.equal(approved.decided_by, 'olivia');
    const twice = srv.cli(['request', 'approve', id, '--by', 'carol']);
    assert.notEqual(twice.code, 0, describeRun(twice));
    assert.match(twice.stderr, /conflict: request .* is approved/);

    seen = await readRequest(srv, agent, id);
    assert.equal(seen.json.status, 'approved');
    assert.ok(seen.json.decided_at);
    const until = Date.parse(seen.json.entitlement_expires_at);
    assert.ok(until - Date.parse(seen.json.decided_at) === WINDOW * 1000, JSON.stringify(seen.json));

    const shown = cliJson(srv, ['client', 'show', agent.client_id]);
    assert.deepEqual(shown.entitlements.map((e) => [e.source, e.scope]),
      [['static', 'read'], ['access_request', SCOPE]]);
    const ent = shown.entitlements[1];
    assert.match(ent.id, /^ent_/);
    assert.equal(ent.request_id, id);
    assert.equal(ent.approved_by, 'olivia');
    assert.equal(ent.expires_at, seen.json.entitlement_expires_at);
    const human = srv.cli(['client', 'show', agent.client_id]);
    assert.equal(human.code, 0, describeRun(human));
    assert.match(human.stdout, /Entitlements/);
    assert.ok(human.stdout.includes(ent.id));

    // 5. the agent gets the scope; the token and the audit name entitlement and approval
    const t = await tokenBasic(srv, agent, { scope: `read ${SCOPE}` });
    assert.equal(t.status, 200, show(t));
    const claims = jwtParts(t.json.access_token).payload;
    assert.deepEqual(claims.scope.split(' ').sort(), ['read', SCOPE].sort());
    assert.equal(claims.app.approval, id);
    assert.ok(claims.exp * 1000 <= until, 'the token ends with the entitlement behind it');
    assert.equal(t.json.expires_in, claims.exp - claims.iat);
    const ev = tokenEvents(srv).find((e) => dataOf(e).jti === claims.jti);
    assert.ok(ev, 'token.issued recorded');
    assert.deepEqual(dataOf(ev).entitlements, { [SCOPE]: ent.id });
    assert.deepEqual(dataOf(ev).approvals, { [SCOPE]: id });
    assert.equal(dataOf(ev).approval, id);
    // a token of static scopes only names none
    const plain = await tokenBasic(srv, agent, { scope: 'read' });
    assert.equal(plain.status, 200, show(plain));
    assert.equal(jwtParts(plain.json.access_token).payload.app.approval, undefined);
    const plainEv = tokenEvents(srv).find((e) => dataOf(e).jti === jwtParts(plain.json.access_token).payload.jti);
    assert.equal(dataOf(plainEv).entitlements, undefined);

    const audit = auditEvents(srv).map(eventBody);
    assert.ok(audit.some((e) => eventType(e) === 'request.created' && dataOf(e).id === id
      && e.actor === agent.client_id), 'request.created names the client that asked');
    assert.ok(audit.some((e) => eventType(e) === 'entitlement.created' && dataOf(e).id === ent.id
      && dataOf(e).request === id && e.actor === 'olivia'), 'entitlement.created audited');

    // 6. past its expiry the entitlement gives nothing, without any write
    await sleep(Math.max(0, until - Date.now()) + 1100);
    assertNeedsAccessRequest(await tokenBasic(srv, agent, { scope: SCOPE }));
    const after2 = cliJson(srv, ['client', 'show', agent.client_id]);
    assert.deepEqual(after2.entitlements.map((e) => e.source), ['static']);
    // and the whole set no longer includes it either
    const all = await tokenBasic(srv, agent);
    assert.equal(all.status, 200, show(all));
    assert.equal(jwtParts(all.json.access_token).payload.scope, 'read');
  });

  test('a form body, authenticated with client_secret_post, for a resource', async () => {
    const c = createClient(srv, agentMetadata({ token_endpoint_auth_method: 'client_secret_post', client_name: 'Form agent' }));
    const r = await post(srv, '/access-requests', {
      client_id: c.client_id, client_secret: c.client_secret, scope: SCOPE, resource: API,
      justification: 'Pay suppliers', duration: '300',
    });
    assert.equal(r.status, 201, show(r));
    const q = requests().find((x) => x.id === r.json.id);
    assert.equal(q.resource, API);
    assert.equal(q.duration, 300);
    cliJson(srv, ['request', 'approve', r.json.id, '--by', 'carol']);
    const t = await post(srv, '/token', {
      grant_type: 'client_credentials', client_id: c.client_id, client_secret: c.client_secret,
      scope: SCOPE, resource: API,
    });
    assert.equal(t.status, 200, show(t));
    const claims = jwtParts(t.json.access_token).payload;
    assert.equal(claims.scope, SCOPE);
    assert.equal(claims.aud, API);
    // the approver's entitlement lasts what was asked (300 s)
    const ent = cliJson(srv, ['client', 'show', c.client_id]).entitlements.find((e) => e.source === 'access_request');
    assert.equal(ent.resource, API);
    assert.equal(ent.approved_by, 'carol');
    assert.equal(Date.parse(ent.expires_at) - Date.parse(ent.created_at), 300_000);
  });

  test('denied: the request says so and the token is still refused', async () => {
    const c = createClient(srv, agentMetadata({ client_name: 'Denied agent' }));
    const r = await fileJson(srv, c, { scope: SCOPE, justification: 'Please' });
    assert.equal(r.status, 201, show(r));
    const d = cliJson(srv, ['request', 'deny', r.json.id, '--by', 'olivia', '--note', 'not now']);
    assert.equal(d.status, 'denied');
    const seen = await readRequest(srv, c, r.json.id);
    assert.equal(seen.json.status, 'denied');
    assert.equal(seen.json.entitlement_expires_at, null);
    assertNeedsAccessRequest(await tokenBasic(srv, c, { scope: SCOPE }));
    assert.deepEqual(cliJson(srv, ['client', 'show', c.client_id]).entitlements.map((e) => e.source), ['static']);
  });

  test('failure paths: clear errors, nothing filed', async () => {
    const c = createClient(srv, agentMetadata({ client_name: 'Careless agent' }));
    const other = createClient(srv, agentMetadata({ client_name: 'Other agent' }));
    const before = requests().length;
    const auth = { authorization: basic(c.client_id, c.client_secret) };

    let r = await post(srv, '/access-requests', '{"scope":', { contentType: 'application/json', headers: auth });
    assertOAuthError(r, 400, 'invalid_request');
    r = await post(srv, '/access-requests', 'scope=x', { contentType: 'text/plain', headers: auth });
    assertOAuthError(r, 415, 'invalid_request');
    r = await fileJson(srv, c, { scope: SCOPE });
    assertOAuthError(r, 400, 'invalid_request');
    assert.match(r.json.error_description, /justification/);
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'x'.repeat(1001) });
    assertOAuthError(r, 400, 'invalid_request');
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'line\nbreak' });
    assertOAuthError(r, 400, 'invalid_request');
    r = await fileJson(srv, c, { justification: 'why' });
    assertOAuthError(r, 400, 'invalid_request');
    r = await fileJson(srv, c, { scope: 'no-such-scope', justification: 'why' });
    assertOAuthError(r, 400, 'invalid_scope');
    r = await fileJson(srv, c, { scope: `${SCOPE} no-such-scope`, justification: 'why' });
    assertOAuthError(r, 400, 'invalid_scope');
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'why', duration: '2d' });
    assertOAuthError(r, 400, 'invalid_request');
    assert.match(r.json.error_description, /max_duration/);
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'why', duration: 0 });
    assertOAuthError(r, 400, 'invalid_request');
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'why', duration: 'soon' });
    assertOAuthError(r, 400, 'invalid_request');
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'why', duration: [1] });
    assertOAuthError(r, 400, 'invalid_request');
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'why', resource: 'not a uri' });
    assertOAuthError(r, 400, 'invalid_target');
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'why', resource: 'https://x.example/#frag' });
    assertOAuthError(r, 400, 'invalid_target');
    // unauthenticated, and a wrong secret
    r = await fileJson(srv, null, { scope: SCOPE, justification: 'why' });
    assertOAuthError(r, 401, 'invalid_client');
    assert.ok(r.headers.get('www-authenticate'), show(r));
    r = await fileJson(srv, { client_id: c.client_id, client_secret: 'wrong' }, { scope: SCOPE, justification: 'why' });
    assertOAuthError(r, 401, 'invalid_client');
    assert.ok(r.headers.get('www-authenticate'), show(r));
    // too large
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'x'.repeat(70 * 1024) });
    assertOAuthError(r, 413, 'invalid_request');
    assert.equal(requests().length, before, 'nothing was filed');
    const refused = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'access_request.refused');
    assert.ok(refused.length >= 10, `refusals are audited: ${refused.length}`);

    // reading: another client's request and an unknown id are 404
    const mine = await fileJson(srv, c, { scope: SCOPE, justification: 'mine' });
    assert.equal(mine.status, 201, show(mine));
    assertOAuthError(await readRequest(srv, other, mine.json.id), 404, 'not_found');
    assertOAuthError(await readRequest(srv, c, 'req_unknown'), 404, 'not_found');
    const reg = requests().find((q) => q.type !== 'access_request');
    if (reg) assertOAuthError(await readRequest(srv, c, reg.id), 404, 'not_found');
    r = await get(srv, `/access-requests/${mine.json.id}`);
    assertOAuthError(r, 401, 'invalid_client');

    // at most max_pending (4) pending requests per client: 429
    for (const s of ['read', 'payments:refund', `read ${SCOPE}`]) {
      const ok = await fileJson(srv, c, { scope: s, justification: 'more' });
      assert.equal(ok.status, 201, show(ok));
    }
    r = await fileJson(srv, c, { scope: `read payments:refund`, justification: 'one too many' });
    assert.equal(r.status, 429, show(r));
    assert.equal(r.json.error, 'invalid_request');
    assert.match(r.json.error_description, /pending/);
    // the same question as a pending one is still answered with it
    r = await fileJson(srv, c, { scope: SCOPE, justification: 'mine again' });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.id, mine.json.id);

    // a suspended client cannot file
    cliJson(srv, ['client', 'suspend', other.client_id]);
    const n = requests().length;
    r = await fileJson(srv, other, { scope: SCOPE, justification: 'while suspended' });
    assertOAuthError(r, 401, 'invalid_client');
    assert.equal(requests().length, n);
  });

  test('a self-registered client cannot turn a time-bound entitlement into a permanent one', async () => {
    const reg = assertRegistered(await register(srv, {
      client_name: 'Self-registered agent', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic',
    }), 'pending');
    const pending = requests().find((q) => q.type === 'registration' && q.client_id === reg.client_id);
    cliJson(srv, ['request', 'approve', pending.id, '--by', 'carol']);
    // a public client proves nothing about who asks: it cannot file access requests
    const pub = assertRegistered(await register(srv, {
      client_name: 'Public app', redirect_uris: ['http://127.0.0.1:9/self'],
      grant_types: ['authorization_code'], token_endpoint_auth_method: 'none',
    }));
    assertOAuthError(await post(srv, '/access-requests', {
      client_id: pub.client_id, scope: SCOPE, justification: 'please',
    }), 401, 'invalid_client');
    const filed = await fileJson(srv, reg, { scope: SCOPE, justification: 'for a while' });
    assert.equal(filed.status, 201, show(filed));
    cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'carol']);
    assert.ok(cliJson(srv, ['client', 'show', reg.client_id]).entitlements.some((e) => e.scope === SCOPE));
    // an RFC 7592 update that writes the scope into its own metadata is not "already granted"
    const meta = { ...reg };
    for (const k of ['registration_access_token', 'registration_client_uri', 'client_id_issued_at',
      'client_secret', 'client_secret_expires_at', 'status']) delete meta[k];
    const up = await regUpdate(srv, reg.client_id, reg.registration_access_token, { ...meta, scope: SCOPE });
    const shown = cliJson(srv, ['client', 'show', reg.client_id]);
    assert.ok(!(shown.status === 'active' && (shown.scope || '').split(' ').includes(SCOPE)),
      `the update made the scope static: ${show(up)} ${JSON.stringify(shown)}`);
  });

  test('a static approval scope an admin put in the metadata counts as approved', async () => {
    // a static approval scope an admin put in the metadata counts as approved
    const c = createClient(srv, agentMetadata({ client_name: 'Trusted agent', scope: `read ${SCOPE}` }));
    const t = await tokenBasic(srv, c, { scope: SCOPE });
    assert.equal(t.status, 200, show(t));
    assert.equal(jwtParts(t.json.access_token).payload.app.approval, undefined);
    const ents = cliJson(srv, ['client', 'show', c.client_id]).entitlements;
    assert.deepEqual(ents.map((e) => [e.source, e.scope, e.id]), [['static', 'read', null], ['static', SCOPE, null]]);
  });

  test('delegation: the acting agent needs its own entitlement to an approval scope', async () => {
    const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
    const AT = 'urn:ietf:params:oauth:token-type:access_token';
    const a = createClient(srv, agentMetadata({ client_name: 'Agent A', scope: `read ${SCOPE}` }));
    const b = createClient(srv, agentMetadata({ client_name: 'Agent B', grant_types: ['client_credentials', TE] }));
    const subject = await tokenBasic(srv, a, { scope: `read ${SCOPE}` });
    assert.equal(subject.status, 200, show(subject));
    const exchange = () => post(srv, '/token', {
      grant_type: TE, subject_token: subject.json.access_token, subject_token_type: AT, scope: SCOPE,
    }, { headers: { authorization: basic(b.client_id, b.client_secret) } });
    // the subject token holds the scope, the actor does not: refused, and told where to ask
    assertNeedsAccessRequest(await exchange());
    const filed = await fileJson(srv, b, { scope: SCOPE, justification: 'acts for agent A' });
    assert.equal(filed.status, 201, show(filed));
    assert.equal(cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'olivia']).status, 'approved');
    const r = await exchange();
    assert.equal(r.status, 200, show(r));
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.sub, a.client_id);
    assert.equal(claims.act.sub, b.client_id);
    assert.equal(claims.scope, SCOPE);
    assert.equal(claims.app.approval, filed.json.id, 'the approval behind the actor\'s entitlement');
  });

  test('the authorization code flow: the redirect error names /access-requests', async () => {
    const redirect = 'http://127.0.0.1:9/cb';
    const c = createClient(srv, {
      client_name: 'Web app', kind: 'web', owner: 'olivia', grant_types: ['authorization_code'],
      redirect_uris: [redirect], token_endpoint_auth_method: 'client_secret_basic', scope: 'read',
    });
    const p = await pkce();
    const u = new URL(`${srv.url}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: c.client_id, redirect_uri: redirect, scope: `read ${SCOPE}`,
      code_challenge: p.challenge, code_challenge_method: 'S256', state: 'st1',
    })) u.searchParams.set(k, v);
    const res = await fetch(u, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 303, await res.text());
    const loc = new URL(res.headers.get('location'));
    assert.equal(`${loc.origin}${loc.pathname}`, redirect);
    assert.equal(loc.searchParams.get('error'), 'invalid_scope');
    assert.equal(loc.searchParams.get('state'), 'st1');
    assert.match(loc.searchParams.get('error_description'), /payments:write.*\/access-requests/);
  });

  test('the code flow with an entitlement: the code gives the scope; redeemed after it ended, nothing', async () => {
    const redirect = 'http://127.0.0.1:9/cb2';
    const c = createClient(srv, {
      client_name: 'Payments web', kind: 'web', owner: 'olivia', grant_types: ['authorization_code'],
      redirect_uris: [redirect], token_endpoint_auth_method: 'client_secret_basic', scope: 'read',
    });
    const filed = await fileJson(srv, c, { scope: SCOPE, justification: 'payments from the web app' });
    assert.equal(filed.status, 201, show(filed));
    cliJson(srv, ['request', 'approve', filed.json.id, '--for', `${LONGER}s`, '--by', 'olivia']);
    const jar = await signedIn(srv, 'mallory');
    const code = async () => {
      const p = await pkce();
      let r = await jar.fetch(authorizeUrl(srv, {
        response_type: 'code', client_id: c.client_id, redirect_uri: redirect, scope: `read ${SCOPE}`,
        code_challenge: p.challenge, code_challenge_method: 'S256', state: 's',
      }));
      assert.equal(r.status, 303, await r.text());
      let loc = r.headers.get('location');
      if (loc.startsWith('/consent')) {
        const page = await (await jar.fetch(`${srv.url}${loc}`)).text();
        r = await jar.fetch(`${srv.url}/consent`, {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            csrf_token: csrfOf(page), request: /name="request" value="([^"]*)"/.exec(page)[1], decision: 'allow',
          }).toString(),
        });
        assert.equal(r.status, 303, await r.text());
        loc = r.headers.get('location');
      }
      const back = new URL(loc);
      assert.ok(back.searchParams.get('code'), loc);
      return { code: back.searchParams.get('code'), verifier: p.verifier };
    };
    const redeem = (x) => post(srv, '/token', {
      grant_type: 'authorization_code', code: x.code, code_verifier: x.verifier, redirect_uri: redirect,
    }, { headers: { authorization: basic(c.client_id, c.client_secret) } });

    const first = await code();
    const ok = await redeem(first);
    assert.equal(ok.status, 200, show(ok));
    const claims = jwtParts(ok.json.access_token).payload;
    assert.equal(claims.sub, 'mallory');
    assert.deepEqual(claims.scope.split(' ').sort(), ['read', SCOPE].sort());
    assert.equal(claims.app.approval, filed.json.id);

    const late = await code(); // issued while the entitlement lives, redeemed after it ended
    const until = Date.parse((await readRequest(srv, c, filed.json.id)).json.entitlement_expires_at);
    await sleep(Math.max(0, until - Date.now()) + 1100);
    assertNeedsAccessRequest(await redeem(late));
  });
});

describe('access requests approved in /approvals', { timeout: 180_000 }, () => {
  let srv;
  let b;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createScope(srv, 'read', { description: 'Read things' });
    createScope(srv, SCOPE, { description: 'Make payments', sensitivity: 'approval' });
    createUsers(srv, ['olivia', 'mallory']);
    b = await launchBrowser();
  });
  after(async () => { await b?.close(); await srv?.stop(); });

  test('the owner sees the justification and duration, approves for 2 s; the agent gets the scope, then not', async () => {
    const agent = createClient(srv, agentMetadata());
    const filed = await fileJson(srv, agent, { scope: SCOPE, justification: 'Quarter-end <close> & "payouts"', duration: 7200 });
    assert.equal(filed.status, 201, show(filed));
    const id = filed.json.id;
    const { page } = b;

    // someone else sees nothing to decide
    const other = await launchBrowser();
    try {
      await other.page.goto(`${srv.url}/approvals`);
      await submitLogin(other.page, 'mallory', PASSWORD);
      await other.page.waitForURL(`${srv.url}/approvals`);
      assert.equal(await other.page.locator(`section.approval[id="${id}"]`).count(), 0);
    } finally {
      await other.close();
    }

    await page.goto(`${srv.url}/approvals`);
    await submitLogin(page, 'olivia', PASSWORD);
    await page.waitForURL(`${srv.url}/approvals`);
    const item = page.locator(`section.approval[id="${id}"]`);
    assert.equal(await item.count(), 1);
    const text = await item.innerText();
    assert.ok(text.includes('Quarter-end <close> & "payouts"'), text);
    assert.match(text, /2h/);
    assert.match(text, /Payment agent/);
    assert.match(text, /Make payments/);
    await screenshot(page, 'approvals-access-request');
    await item.locator('input[name="for"]').fill(`${WINDOW}s`);
    await Promise.all([page.waitForNavigation(), item.locator('button[name="decision"][value="allow"]').click()]);
    assert.match(await page.locator('main').innerText(), /Approved/);

    const t = await tokenBasic(srv, agent, { scope: SCOPE });
    assert.equal(t.status, 200, show(t));
    assert.equal(jwtParts(t.json.access_token).payload.app.approval, id);
    const seen = await readRequest(srv, agent, id);
    assert.equal(seen.json.status, 'approved');
    const until = Date.parse(seen.json.entitlement_expires_at);
    assert.equal(until - Date.parse(seen.json.decided_at), WINDOW * 1000, JSON.stringify(seen.json));
    const ent = cliJson(srv, ['client', 'show', agent.client_id]).entitlements.find((e) => e.source === 'access_request');
    assert.equal(ent.approved_by, 'olivia');
    await sleep(Math.max(0, until - Date.now()) + 1100);
    assertNeedsAccessRequest(await tokenBasic(srv, agent, { scope: SCOPE }));
  });
});

describe('access requests under [approvals] routing', { timeout: 120_000 }, () => {
  let srv;
  let dir;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-access-routing-'));
    await writeFile(path.join(dir, 'routing.json'), JSON.stringify([
      { type: 'access_request', risk_tier: 'high', approve: 'quorum', n: 2 },
      { type: 'access_request', approve: 'approver' },
    ]));
    srv = await startServer({ config: { approvals: { routing: path.join(dir, 'routing.json') } } });
    createScope(srv, SCOPE, { description: 'Make payments', sensitivity: 'approval' });
    for (const [u, role] of [['olivia', null], ['carol', 'approver'], ['dave', 'approver']]) {
      const args = ['user', 'create', u, '--password-stdin'];
      if (role) args.push('--role', role);
      const r = srv.cli(args, { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => { await srv?.stop(); await rm(dir, { recursive: true, force: true }); });

  test('a rule for approvers: the owner may not decide; an approver does', async () => {
    const agent = createClient(srv, agentMetadata({ scope: '' }));
    const filed = await fileJson(srv, agent, { scope: SCOPE, justification: 'routed' });
    assert.equal(filed.status, 201, show(filed));
    const q = cliJson(srv, ['request', 'list']).find((x) => x.id === filed.json.id);
    assert.equal(q.approve, 'approver');
    const owner = srv.cli(['request', 'approve', filed.json.id, '--by', 'olivia']);
    assert.notEqual(owner.code, 0, describeRun(owner));
    assert.equal(cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'carol']).status, 'approved');
    assert.equal((await tokenBasic(srv, agent, { scope: SCOPE })).status, 200);
  });

  test('a quorum for high-tier clients: the entitlement exists only after the second approver', async () => {
    const agent = createClient(srv, agentMetadata({ scope: '', risk_tier: 'high', client_name: 'High agent' }));
    const filed = await fileJson(srv, agent, { scope: SCOPE, justification: 'needs two' });
    assert.equal(filed.status, 201, show(filed));
    assert.equal(cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'carol']).status, 'pending');
    assertNeedsAccessRequest(await tokenBasic(srv, agent, { scope: SCOPE }));
    assert.equal(cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'dave']).status, 'approved');
    assert.equal((await tokenBasic(srv, agent, { scope: SCOPE })).status, 200);
    const ents = cliJson(srv, ['client', 'show', agent.client_id]).entitlements.filter((e) => e.source === 'access_request');
    assert.equal(ents.length, 1, 'one entitlement, created once');
  });
});
