// OpenID CIBA Core 1.0, poll mode: POST /bc-authorize creates an approval
// request of type "ciba" that asks one person (login_hint or
// id_token_hint), showing the binding_message and the RFC 9396
// authorization_details; the client polls /token with grant_type
// urn:openid:params:grant-type:ciba and gets authorization_pending,
// slow_down, expired_token, access_denied, or, once approved, exactly one
// set of tokens whose access token carries the person as sub, the approved
// scope and authorization_details, and app.approval naming the approval.
// Every refusal of /bc-authorize is checked for its error and for leaving
// nothing behind; with [ciba] single_use_tokens the access token is active
// at its first introspection only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { createUsers, FAST_ARGON2 } from './lib/authz.mjs';
import {
  as, bcAuthorize, CIBA, cibaMetadata, PAYMENT, poll, started,
} from './lib/ciba.mjs';
import {
  assertOAuthError, auditEvents, basic, eventBody, eventType, get, jwtParts, post, show,
} from './lib/oauth.mjs';
import { cliJson, createClient, createScope, sleep, startServer } from './lib/server.mjs';

describe('CIBA poll mode: /bc-authorize and the ciba grant', { timeout: 120_000 }, () => {
  let srv;
  let agent;    // registered for CIBA
  let other;    // another CIBA client
  let plain;    // client_credentials only

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2, ciba: { single_use_tokens: 'true', max_expiry: '10m' } } });
    createScope(srv, 'payments', { description: 'Make payments from your account' });
    createUsers(srv, ['alice', 'bob', 'olivia', 'dora', 'erin']);
    const ap = srv.cli(['user', 'create', 'carol', '--role', 'approver', '--password-stdin'], { input: 'a long enough password\n' });
    assert.equal(ap.code, 0, ap.stderr);
    assert.equal(srv.cli(['user', 'disable', 'dora']).code, 0);
    agent = createClient(srv, cibaMetadata());
    other = createClient(srv, cibaMetadata({ client_name: 'Other agent' }));
    plain = createClient(srv, cibaMetadata({ grant_types: ['client_credentials'], backchannel_token_delivery_mode: undefined }));
  });
  after(async () => { await srv?.stop(); });

  test('discovery names the endpoint, the grant and poll mode only', async () => {
    const d = (await get(srv, '/.well-known/openid-configuration')).json;
    assert.equal(d.backchannel_authentication_endpoint, `${srv.issuer}/bc-authorize`);
    assert.deepEqual(d.backchannel_token_delivery_modes_supported, ['poll']);
    assert.equal(d.backchannel_user_code_parameter_supported, false);
    assert.ok(d.grant_types_supported.includes(CIBA));
  });

  test('client metadata: only the poll delivery mode is accepted', async () => {
    for (const mode of ['ping', 'push', 7]) {
      const r = srv.cli(['client', 'create', '--json'], { input: JSON.stringify(cibaMetadata({ backchannel_token_delivery_mode: mode })) });
      assert.notEqual(r.code, 0, `mode ${mode} refused`);
      assert.match(r.stderr + r.stdout, /backchannel_token_delivery_mode must be poll/);
    }
  });

  test('a request waits for the person: authorization_pending, then slow_down when polled too fast', async () => {
    const s = await started(srv, agent, { login_hint: 'alice', binding_message: 'Pay 120 EUR to ACME' });
    assert.match(s.auth_req_id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(s.expires_in, 300);
    assert.equal(s.interval, 5);
    assert.equal(s.request.subject, 'alice');
    assert.equal(s.request.status, 'pending');
    assert.equal(s.request.binding_message, 'Pay 120 EUR to ACME');
    assert.equal(s.request.scope, 'openid payments');
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'authorization_pending');
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'slow_down');
    // the auth_req_id is stored as a hash only
    assert.doesNotMatch(JSON.stringify(cliJson(srv, ['request', 'list'])), new RegExp(s.auth_req_id));
  });

  test('approved: tokens once, with the person, the scope, exactly the authorization_details and app.approval', async () => {
    const s = await started(srv, agent, {
      login_hint: 'alice', binding_message: 'Pay 120 EUR to ACME', authorization_details: JSON.stringify(PAYMENT),
    });
    assert.deepEqual(s.request.authorization_details, PAYMENT);
    const d = cliJson(srv, ['request', 'approve', s.request.id, '--by', 'alice']);
    assert.equal(d.status, 'approved');
    const r = await poll(srv, agent, s.auth_req_id);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'openid payments');
    assert.deepEqual(r.json.authorization_details, PAYMENT, 'RFC 9396 §7: the token response says what was granted');
    const at = jwtParts(r.json.access_token).payload;
    assert.equal(at.sub, 'alice');
    assert.equal(at.client_id, agent.client_id);
    assert.equal(at.scope, 'openid payments');
    assert.deepEqual(at.authorization_details, PAYMENT);
    assert.match(Buffer.from(r.json.access_token.split('.')[1], 'base64url').toString(),
      /"fee":0\.1,"exchangeRate":1\.0865/, 'the token carries the numbers as sent');
    assert.equal(at.app.approval, s.request.id);
    const idt = jwtParts(r.json.id_token).payload;
    assert.equal(idt.sub, 'alice');
    assert.equal(idt.aud, agent.client_id);
    // a second redemption is refused
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'invalid_grant');
    const issued = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'token.issued' && e.subject === 'alice');
    assert.ok(issued.some((e) => JSON.stringify(e).includes(s.request.id)), 'token.issued references the approval');
  });

  test('openid-client (a certified relying party) runs the flow: initiate, wait, tokens with a valid ID token', async () => {
    const config = await oidc.discovery(new URL(srv.issuer), agent.client_id, undefined,
      oidc.ClientSecretBasic(agent.client_secret), { execute: [oidc.allowInsecureRequests] });
    const known = new Set(cliJson(srv, ['request', 'list']).map((q) => q.id));
    const started_ = await oidc.initiateBackchannelAuthentication(config, {
      scope: 'openid payments', login_hint: 'alice', binding_message: 'Pay 5 EUR',
      authorization_details: JSON.stringify(PAYMENT),
    });
    const req = cliJson(srv, ['request', 'list']).find((q) => !known.has(q.id));
    assert.equal(req.binding_message, 'Pay 5 EUR');
    cliJson(srv, ['request', 'approve', req.id, '--by', 'alice']);
    const tokens = await oidc.pollBackchannelAuthenticationGrant(config, started_,
      undefined, { signal: AbortSignal.timeout(30_000) });
    assert.equal(tokens.claims().sub, 'alice');
    assert.equal(tokens.claims().aud, agent.client_id);
    const at = jwtParts(tokens.access_token).payload;
    assert.deepEqual(at.authorization_details, PAYMENT);
    assert.equal(at.app.approval, req.id);
  });

  test('single-use tokens: the first introspection is active, every later one inactive', async () => {
    const s = await started(srv, agent, { login_hint: 'bob' });
    cliJson(srv, ['request', 'approve', s.request.id, '--by', 'bob']);
    const r = await poll(srv, agent, s.auth_req_id);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.authorization_details, undefined, 'none asked, none in the response');
    const first = await as(srv, agent, '/introspect', { token: r.json.access_token });
    assert.equal(first.json.active, true, show(first));
    assert.equal(first.json.app.approval, s.request.id);
    for (let i = 0; i < 2; i++) {
      const again = await as(srv, agent, '/introspect', { token: r.json.access_token });
      assert.deepEqual(again.json, { active: false });
    }
  });

  test('denied: access_denied, and no token later', async () => {
    const s = await started(srv, agent, { login_hint: 'alice' });
    cliJson(srv, ['request', 'deny', s.request.id, '--by', 'alice', '--note', 'not me']);
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'access_denied');
  });

  test('expired: expired_token', async () => {
    const s = await started(srv, agent, { login_hint: 'alice', requested_expiry: '1' });
    assert.equal(s.expires_in, 1);
    await sleep(2100);
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'expired_token');
    const r = srv.cli(['request', 'approve', s.request.id, '--by', 'alice']);
    assert.notEqual(r.code, 0, 'an expired request cannot be approved');
  });

  test("another client's auth_req_id, an unknown one and a missing one are refused", async () => {
    const s = await started(srv, agent, { login_hint: 'alice' });
    cliJson(srv, ['request', 'approve', s.request.id, '--by', 'alice']);
    assertOAuthError(await poll(srv, other, s.auth_req_id), 400, 'invalid_grant');
    assertOAuthError(await poll(srv, agent, 'x'.repeat(43)), 400, 'invalid_grant');
    assertOAuthError(await as(srv, agent, '/token', { grant_type: CIBA }), 400, 'invalid_request');
    assertOAuthError(await poll(srv, plain, s.auth_req_id), 400, 'unauthorized_client');
    // the rightful client still gets its tokens
    const r = await poll(srv, agent, s.auth_req_id);
    assert.equal(r.status, 200, show(r));
  });

  test('a person disabled after approving gets no token: invalid_grant', async () => {
    const s = await started(srv, agent, { login_hint: 'erin' });
    cliJson(srv, ['request', 'approve', s.request.id, '--by', 'erin']);
    assert.equal(srv.cli(['user', 'disable', 'erin']).code, 0);
    const r = await poll(srv, agent, s.auth_req_id);
    assertOAuthError(r, 400, 'invalid_grant');
  });

  test('only the person asked may decide: not another person, not an approver', async () => {
    const s = await started(srv, agent, { login_hint: 'alice' });
    const r = srv.cli(['request', 'approve', s.request.id, '--by', 'bob']);
    assert.notEqual(r.code, 0, 'bob may not approve a request that asks alice');
    // the approval is alice's authentication: the ID token says she did (routing may add approvers
    // after her, never instead of her)
    const c = srv.cli(['request', 'approve', s.request.id, '--by', 'carol']);
    assert.notEqual(c.code, 0, 'an approver may not approve a request that asks alice');
    assert.match(c.stderr, /only the person the request asks may decide it/);
    assert.equal(cliJson(srv, ['request', 'list']).find((q) => q.id === s.request.id).status, 'pending');
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'authorization_pending');
  });

  test('id_token_hint names the person; a hint of another client or a forged one is refused', async () => {
    const s = await started(srv, agent, { login_hint: 'bob' });
    cliJson(srv, ['request', 'approve', s.request.id, '--by', 'bob']);
    const idToken = (await poll(srv, agent, s.auth_req_id)).json.id_token;
    const h = await started(srv, agent, { id_token_hint: idToken });
    assert.equal(h.request.subject, 'bob');
    assertOAuthError(await bcAuthorize(srv, other, { id_token_hint: idToken }), 400, 'invalid_request');
    const [hd, pl] = idToken.split('.');
    assertOAuthError(await bcAuthorize(srv, agent, { id_token_hint: `${hd}.${pl}.${'A'.repeat(86)}` }), 400, 'invalid_request');
  });

  test('every refusal of /bc-authorize, with nothing stored', async () => {
    const before = cliJson(srv, ['request', 'list']).length;
    const deep = JSON.stringify([{ type: 't', a: [[[[[[1]]]]]] }]);
    const cases = [
      [{ login_hint: 'alice', scope: undefined }, 'invalid_request'],
      [{ login_hint: 'alice', scope: 'payments' }, 'invalid_scope'],
      [{ login_hint: 'alice', scope: 'openid admin' }, 'invalid_scope'],
      [{}, 'invalid_request'],
      [{ login_hint: 'alice', id_token_hint: 'a.b.c' }, 'invalid_request'],
      [{ login_hint_token: 'x' }, 'invalid_request'],
      [{ login_hint: 'alice', request: 'a.b.c' }, 'invalid_request'],
      [{ login_hint: 'alice', user_code: '1234' }, 'invalid_request'],
      [{ login_hint: 'nobody' }, 'unknown_user_id'],
      [{ login_hint: 'dora' }, 'unknown_user_id'],
      [{ id_token_hint: 'not-a-jwt' }, 'invalid_request'],
      [{ login_hint: 'alice', binding_message: 'x'.repeat(129) }, 'invalid_binding_message'],
      [{ login_hint: 'alice', binding_message: 'line\nbreak' }, 'invalid_binding_message'],
      [{ login_hint: 'alice', binding_message: '' }, 'invalid_binding_message'],
      ['binding_message=%FF%FEbad', 'invalid_binding_message'],
      [{ login_hint: 'alice', requested_expiry: '0' }, 'invalid_request'],
      [{ login_hint: 'alice', requested_expiry: '-5' }, 'invalid_request'],
      [{ login_hint: 'alice', requested_expiry: 'soon' }, 'invalid_request'],
      [{ login_hint: 'alice', requested_expiry: '601' }, 'invalid_request'],
      [{ login_hint: 'alice', authorization_details: 'not json' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: '{"type":"x"}' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: '[]' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: '[{"actions":["read"]}]' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: '[{"type":42}]' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: '[{"type":""}]' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: '["payment"]' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: '[{"type":"a","type":"b"}]' }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: deep }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: JSON.stringify([{ type: 'x', pad: 'p'.repeat(9000) }]) }, 'invalid_authorization_details'],
      [{ login_hint: 'alice', authorization_details: JSON.stringify(Array.from({ length: 17 }, () => ({ type: 'x' }))) }, 'invalid_authorization_details'],
    ];
    for (const [fields, error] of cases) {
      let f = { scope: 'openid payments', ...fields };
      if (f.scope === undefined) delete f.scope;
      if (typeof fields === 'string') f = `scope=openid&login_hint=alice&${fields}`; // raw bytes
      const r = await as(srv, agent, '/bc-authorize', f);
      assertOAuthError(r, 400, error);
      assert.equal(r.json.auth_req_id, undefined);
    }
    assertOAuthError(await bcAuthorize(srv, plain, { login_hint: 'alice' }), 400, 'unauthorized_client');
    const noAuth = await post(srv, '/bc-authorize', { client_id: agent.client_id, scope: 'openid payments', login_hint: 'alice' });
    assertOAuthError(noAuth, 401, 'invalid_client');
    const wrong = await post(srv, '/bc-authorize', { scope: 'openid payments', login_hint: 'alice' },
      { headers: { authorization: basic(agent.client_id, 'wrong-secret') } });
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.equal(cliJson(srv, ['request', 'list']).length, before, 'no refused request is stored');
    const refused = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'ciba.refused');
    assert.ok(refused.length >= cases.length, 'each refusal is audited');
  });
});
