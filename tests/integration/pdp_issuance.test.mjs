// Decisions of the embedded PDP at token issuance (SPEC §3.8): off until
// configured; with [pdp] mode = embedded every grant asks about each scope
// it grants (client credentials, code and refresh, token exchange of an API
// key, CIBA) before anything is written; a forbid added with `mandate policy
// add` refuses its scope ([pdp] on_deny = refuse), or drops it (drop), or
// is only audited ([pdp] log_only); every decision is audited with the ids
// that decided it; the shipped policies of policies/ and the risk signals
// (request bursts, new addresses and credentials, authentication failures)
// flip decisions.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { CLIENT_ASSERTION_TYPE, JWT_BEARER, clientClaims, keyPair, now, sign } from './lib/assertions.mjs';
import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { csrfOf } from './lib/browser.mjs';
import { CIBA, cibaMetadata, poll, started } from './lib/ciba.mjs';
import { authorizeCode, ensureScope, redeem, refresh } from './lib/grants.mjs';
import { API, assertOAuthError, auditEvents, basic, eventBody, eventType, post, show } from './lib/oauth.mjs';
import { dbQuery } from './lib/pg.mjs';
import { cliJson, createClient, createScope, freePort, sleep, startServer } from './lib/server.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TYPE = 'urn:mandate:token-type:api-key';
const SHIPPED = new URL('../../policies/', import.meta.url);

const dataOf = (e) => (typeof e.data === 'string' ? JSON.parse(e.data) : e.data);

/** The token events (issued and refused) of client, oldest first, with their data. */
function tokenEvents(srv, clientId) {
  return auditEvents(srv).map(eventBody)
    .filter((e) => ['token.issued', 'token.refused'].includes(eventType(e)) && e.client_id === clientId)
    .map((e) => ({ type: eventType(e), ...e, data: dataOf(e) }));
}
const lastEvent = (srv, clientId) => tokenEvents(srv, clientId).at(-1);

function ok(r) {
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return r;
}

function addPolicy(srv, id, text) {
  ok(srv.cli(['policy', 'add', id], { input: text }));
}
function removePolicy(srv, id) {
  ok(srv.cli(['policy', 'remove', id]));
}

/** Repeats send() until check(response) holds: a server picks up a stored policy within about a second. */
async function until(send, check, what) {
  let r;
  for (let i = 0; i < 40; i++) {
    r = await send();
    if (check(r)) return r;
    await sleep(100);
  }
  assert.fail(`${what}: ${show(r)}`);
}

const ccToken = (srv, c, scope, headers = {}) => post(srv, '/token', { grant_type: 'client_credentials', scope },
  { headers: { authorization: basic(c.client_id, c.client_secret), ...headers } });

const forbidScope = (clientId, scope) => `forbid (principal == Client::"${clientId}", action == Action::"token.issue", resource == Scope::"${scope}");`;

function agentMetadata(over = {}) {
  return {
    client_name: 'Policy agent', kind: 'agent', owner: 'olivia', risk_tier: 'medium',
    grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
    scope: 'read pay', ...over,
  };
}

/**
 * Scopes and people. A server rereads its scopes (their sensitivity, for the
 * Scope entities) with every change of the stored policies, else every few
 * seconds: a policy that matches nothing makes it reread them at once.
 */
async function fixtures(srv) {
  createScope(srv, 'read', { description: 'Read things' });
  createScope(srv, 'pay', { description: 'Make payments', sensitivity: 'approval' });
  createUsers(srv, ['olivia', 'alice']);
  addPolicy(srv, 'fixtures', 'permit (principal == Client::"nobody", action, resource);');
  await sleep(1500);
}

/** A refusal naming the scope and not the policy. */
function assertPolicyRefusal(r, scope, policyId) {
  assertOAuthError(r, 400, 'invalid_scope');
  assert.equal(r.json.error_description, `scope '${scope}' is refused by policy`);
  if (policyId) assert.ok(!r.json.error_description.includes(policyId));
}

describe('PDP off (the default)', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    await fixtures(srv);
  });
  after(async () => { await srv?.stop(); });

  test('nothing is asked, audited or counted, whatever the stored policies say', async () => {
    const agent = createClient(srv, agentMetadata());
    addPolicy(srv, 'deny-all', 'forbid (principal, action, resource);');
    await sleep(1500); // longer than a server takes to pick up a stored policy
    const r = await ccToken(srv, agent, 'read pay');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'read pay');
    const ev = lastEvent(srv, agent.client_id);
    assert.equal(ev.type, 'token.issued');
    assert.equal(ev.data.policy, undefined);
    assert.equal(ev.data.log_only, undefined);
    const risk = dbQuery(srv, "SELECT count(*) FROM rate_counters WHERE name LIKE 'risk.%';");
    assert.equal(Number(risk.trim()), 0, 'no risk signal recorded while off');
  });
});

describe('the embedded PDP at token issuance (refuse)', { timeout: 180_000 }, () => {
  let srv;
  let cb;

  before(async () => {
    srv = await startServer({
      config: { users: FAST_ARGON2, pdp: { mode: 'embedded' }, server: { trusted_proxies: '127.0.0.1' } },
    });
    await fixtures(srv);
    ensureScope(srv, 'openid', { description: 'Sign you in' });
    cb = await callbackServer();
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  test('the baseline allows what entitlements allow, and each decision is audited with its policy', async () => {
    const agent = createClient(srv, agentMetadata());
    const r = await ccToken(srv, agent, 'read pay');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'read pay');
    const ev = lastEvent(srv, agent.client_id);
    assert.equal(ev.type, 'token.issued');
    assert.deepEqual(ev.data.policy, {
      read: { decision: 'allow', reasons: ['mandate.baseline'], errors: [] },
      pay: { decision: 'allow', reasons: ['mandate.baseline'], errors: [] },
    });
    assert.equal(ev.data.log_only, undefined);
    // entitlements still come first: a scope the client lacks is refused before any policy
    assertOAuthError(await ccToken(srv, agent, 'read other'), 400, 'invalid_scope');
  });

  test('client credentials: a forbid refuses its scope with invalid_scope; the refusal is audited with the deciding id', async () => {
    const agent = createClient(srv, agentMetadata());
    addPolicy(srv, 'no-pay-cc', forbidScope(agent.client_id, 'pay'));
    const r = await until(() => ccToken(srv, agent, 'read pay'), (x) => x.status !== 200, 'the forbid applies');
    assertPolicyRefusal(r, 'pay', 'no-pay-cc');
    const ev = lastEvent(srv, agent.client_id);
    assert.equal(ev.type, 'token.refused');
    assert.deepEqual(ev.data.policy.pay, { decision: 'deny', reasons: ['no-pay-cc'], errors: [] });
    assert.deepEqual(ev.data.policy.read, { decision: 'allow', reasons: ['mandate.baseline'], errors: [] });
    // the other scope alone is still issued
    const rd = await ccToken(srv, agent, 'read');
    assert.equal(rd.status, 200, show(rd));
    removePolicy(srv, 'no-pay-cc');
    await until(() => ccToken(srv, agent, 'read pay'), (x) => x.status === 200, 'the removal applies');
  });

  test('authorization code and refresh: refused before the code or the refresh token is used', async () => {
    const app = createClient(srv, {
      client_name: 'Notes app', kind: 'web', owner: 'olivia', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'openid offline_access read', resources: [API],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const jar = await signedIn(srv, 'alice');
    const first = await redeem(srv, app, cb.uri, await authorizeCode(srv, jar, app, cb.uri, { scope: 'openid offline_access read' }));
    assert.equal(first.status, 200, show(first));
    assert.ok(first.json.refresh_token);
    const code = await authorizeCode(srv, jar, app, cb.uri, { scope: 'openid offline_access read' });

    addPolicy(srv, 'no-read-code', forbidScope(app.client_id, 'read'));
    await sleep(1500); // a refresh that succeeded would rotate the token: wait for the rule
    assertPolicyRefusal(await refresh(srv, app, first.json.refresh_token), 'read');
    assertPolicyRefusal(await redeem(srv, app, cb.uri, code), 'read');
    const ev = lastEvent(srv, app.client_id);
    assert.equal(ev.type, 'token.refused');
    assert.equal(ev.data.grant_type, 'authorization_code');
    assert.deepEqual(ev.data.policy.read.reasons, ['no-read-code']);
    assert.equal(ev.data.policy.openid.decision, 'allow');

    // nothing was used up: once the rule is gone, the same code and refresh token work
    removePolicy(srv, 'no-read-code');
    await sleep(1500);
    const rt = await refresh(srv, app, first.json.refresh_token);
    assert.equal(rt.status, 200, show(rt));
    assert.equal(rt.json.scope, 'openid offline_access read');
    const later = await redeem(srv, app, cb.uri, code);
    assert.equal(later.status, 200, show(later));
    // the decision saw the person
    const issued = tokenEvents(srv, app.client_id).filter((e) => e.type === 'token.issued').at(-1);
    assert.equal(issued.subject, 'alice');
  });

  test('delegation: the person and the delegation depth are in the context', async () => {
    const app = createClient(srv, {
      client_name: 'Calendar app', kind: 'web', owner: 'olivia', grant_types: ['authorization_code'],
      redirect_uris: [cb.uri], scope: 'openid read', token_endpoint_auth_method: 'client_secret_basic',
    });
    const agent = createClient(srv, agentMetadata({ grant_types: ['client_credentials', TOKEN_EXCHANGE], scope: 'read' }));
    addPolicy(srv, 'no-delegated-read', `forbid (principal == Client::"${agent.client_id}", action == Action::"token.issue", resource == Scope::"read")
      when { context.delegation_depth >= 1 && context has user && context.user == User::"alice" };`);
    await sleep(1500);
    const jar = await signedIn(srv, 'alice');
    const person = await redeem(srv, app, cb.uri, await authorizeCode(srv, jar, app, cb.uri, { scope: 'openid read' }));
    assert.equal(person.status, 200, show(person));
    const r = await post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: person.json.access_token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', scope: 'read',
    }, { headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assertPolicyRefusal(r, 'read');
    assert.deepEqual(lastEvent(srv, agent.client_id).data.policy.read.reasons, ['no-delegated-read']);
    // on its own authority (no person, depth 0) the agent keeps the scope
    assert.equal((await ccToken(srv, agent, 'read')).status, 200);
    removePolicy(srv, 'no-delegated-read');
  });

  test('token exchange of an API key: refused, audited', async () => {
    const agent = createClient(srv, agentMetadata());
    const key = cliJson(srv, ['client', 'apikey', 'create', agent.client_id]);
    const exchange = () => post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: key.api_key, subject_token_type: API_KEY_TYPE, scope: 'read pay',
    });
    const allowed = await exchange();
    assert.equal(allowed.status, 200, show(allowed));
    addPolicy(srv, 'no-pay-apikey', forbidScope(agent.client_id, 'pay'));
    assertPolicyRefusal(await until(exchange, (x) => x.status !== 200, 'the forbid applies'), 'pay');
    const ev = lastEvent(srv, agent.client_id);
    assert.equal(ev.type, 'token.refused');
    assert.equal(ev.data.grant_type, TOKEN_EXCHANGE);
    assert.deepEqual(ev.data.policy.pay.reasons, ['no-pay-apikey']);
    removePolicy(srv, 'no-pay-apikey');
  });

  test('CIBA: refused before the approved request is redeemed; redeemed once the rule is gone', async () => {
    createScope(srv, 'payments', { description: 'Make payments from your account' });
    const agent = createClient(srv, cibaMetadata({ owner: 'olivia' }));
    const s = await started(srv, agent, { login_hint: 'alice', binding_message: 'Pay 120 EUR' });
    assert.equal(cliJson(srv, ['request', 'approve', s.request.id, '--by', 'alice']).status, 'approved');
    addPolicy(srv, 'no-payments-ciba', forbidScope(agent.client_id, 'payments'));
    await sleep(1500); // the server picks the rule up (a poll is allowed every 5 s only)
    assertPolicyRefusal(await poll(srv, agent, s.auth_req_id), 'payments');
    const ev = lastEvent(srv, agent.client_id);
    assert.equal(ev.data.grant_type, CIBA);
    assert.deepEqual(ev.data.policy.payments.reasons, ['no-payments-ciba']);
    removePolicy(srv, 'no-payments-ciba');
    await sleep(1500);
    // the refused poll recorded nothing: no slow_down, and the request is still there to redeem
    const r = await poll(srv, agent, s.auth_req_id);
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'openid payments');
  });

  test('device code: refused before the approved authorization is redeemed; redeemed once the rule is gone', async () => {
    const dev = createClient(srv, {
      client_name: 'Terminal agent', kind: 'cli', owner: 'olivia', grant_types: [DEVICE_GRANT],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'read',
    });
    const auth = { headers: { authorization: basic(dev.client_id, dev.client_secret) } };
    const d = (await post(srv, '/device_authorization', { scope: 'read' }, auth)).json;
    const devicePoll = () => post(srv, '/token', { grant_type: DEVICE_GRANT, device_code: d.device_code }, auth);
    // the person enters the code and allows
    const jar = await signedIn(srv, 'alice');
    const postDevice = async (fields, page) => {
      const form = page ?? await (await jar.fetch(`${srv.url}/device`)).text();
      const r = await jar.fetch(`${srv.url}/device`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf_token: csrfOf(form), ...fields }).toString(),
      });
      return { status: r.status, text: await r.text() };
    };
    const page = await postDevice({ user_code: d.user_code });
    assert.equal(page.status, 200, page.text);
    const request = /name="request" value="([^"]*)"/.exec(page.text)[1];
    assert.equal((await postDevice({ request, decision: 'allow' }, page.text)).status, 200);

    addPolicy(srv, 'no-read-device', forbidScope(dev.client_id, 'read'));
    await sleep(1500); // the server picks the rule up (polls are limited to one per interval)
    assertPolicyRefusal(await devicePoll(), 'read');
    const ev = lastEvent(srv, dev.client_id);
    assert.equal(ev.data.grant_type, DEVICE_GRANT);
    assert.deepEqual(ev.data.policy.read.reasons, ['no-read-device']);
    removePolicy(srv, 'no-read-device');
    await sleep(1500);
    // the refused poll was not recorded (no slow_down) and redeemed nothing
    const r = await devicePoll();
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'read');
    const issued = lastEvent(srv, dev.client_id);
    assert.equal(issued.subject, 'alice');
  });

  test('a burst of requests flips a rule on context.risk.requests_last_minute', async () => {
    const agent = createClient(srv, agentMetadata());
    addPolicy(srv, 'burst', `forbid (principal == Client::"${agent.client_id}", action == Action::"token.issue", resource == Scope::"pay")
      when { context.risk.requests_last_minute > 5 };`);
    await sleep(1500);
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await ccToken(srv, agent, 'pay')).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 400, 400, 400], 'the sixth request in a minute is refused');
    const ev = lastEvent(srv, agent.client_id);
    assert.deepEqual(ev.data.policy.pay.reasons, ['burst']);
    // other scopes are not affected
    assert.equal((await ccToken(srv, agent, 'read')).status, 200);
    removePolicy(srv, 'burst');
  });

  test('a new IP address and a new credential are signals; failed authentications too', async () => {
    const agent = createClient(srv, agentMetadata());
    addPolicy(srv, 'new-things', `forbid (principal == Client::"${agent.client_id}", action == Action::"token.issue", resource == Scope::"pay")
      when { context.risk.new_ip || context.risk.new_credential || context.risk.auth_failures_last_hour >= 2 };`);
    await sleep(1500);
    const from = (ip) => ccToken(srv, agent, 'pay', { 'x-forwarded-for': ip });
    // first request: new address and new credential; recorded, so the next one is neither
    assertPolicyRefusal(await from('203.0.113.5'), 'pay');
    assert.equal((await from('203.0.113.5')).status, 200);
    // another address is new
    assertPolicyRefusal(await from('203.0.113.6'), 'pay');
    assert.equal((await from('203.0.113.6')).status, 200);
    // a new secret is a new credential
    const rotated = cliJson(srv, ['client', 'secret', 'rotate', agent.client_id]);
    const fresh = { ...agent, client_secret: rotated.client_secret };
    assertPolicyRefusal(await ccToken(srv, fresh, 'pay', { 'x-forwarded-for': '203.0.113.5' }), 'pay');
    assert.equal((await ccToken(srv, fresh, 'pay', { 'x-forwarded-for': '203.0.113.5' })).status, 200);
    // two failed authentications naming the client
    for (let i = 0; i < 2; i++) {
      const bad = await ccToken(srv, { ...agent, client_secret: 'wrong' }, 'pay');
      assertOAuthError(bad, 401, 'invalid_client');
    }
    assertPolicyRefusal(await ccToken(srv, fresh, 'pay', { 'x-forwarded-for': '203.0.113.5' }), 'pay');
    const ev = lastEvent(srv, agent.client_id);
    assert.deepEqual(ev.data.policy.pay.reasons, ['new-things']);
    removePolicy(srv, 'new-things');
  });
});

describe('on_deny = drop, and log_only', { timeout: 120_000 }, () => {
  let drop;
  let logOnly;

  before(async () => {
    drop = await startServer({ config: { users: FAST_ARGON2, pdp: { mode: 'embedded', on_deny: 'drop' } } });
    await fixtures(drop);
    logOnly = await startServer({ config: { users: FAST_ARGON2, pdp: { mode: 'embedded', log_only: 'true' } } });
    await fixtures(logOnly);
  });
  after(async () => { await drop?.stop(); await logOnly?.stop(); });

  test('drop: the denied scope is left out; none left, refused', async () => {
    const agent = createClient(drop, agentMetadata());
    addPolicy(drop, 'no-pay', forbidScope(agent.client_id, 'pay'));
    const r = await until(() => ccToken(drop, agent, 'read pay'), (x) => x.json?.scope === 'read', 'the forbid applies');
    assert.equal(r.status, 200, show(r));
    const ev = lastEvent(drop, agent.client_id);
    assert.equal(ev.type, 'token.issued');
    assert.equal(ev.data.scope, 'read');
    assert.deepEqual(ev.data.policy.pay, { decision: 'deny', reasons: ['no-pay'], errors: [] });
    assertPolicyRefusal(await ccToken(drop, agent, 'pay'), 'pay');
  });

  test('log_only: decisions are made and audited, nothing is refused', async () => {
    const agent = createClient(logOnly, agentMetadata());
    addPolicy(logOnly, 'no-pay', forbidScope(agent.client_id, 'pay'));
    await until(() => ccToken(logOnly, agent, 'read pay'),
      () => lastEvent(logOnly, agent.client_id)?.data.policy?.pay?.decision === 'deny', 'the forbid is decided');
    const r = await ccToken(logOnly, agent, 'read pay');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'read pay');
    const ev = lastEvent(logOnly, agent.client_id);
    assert.equal(ev.type, 'token.issued');
    assert.equal(ev.data.log_only, true);
    assert.deepEqual(ev.data.policy.pay, { decision: 'deny', reasons: ['no-pay'], errors: [] });
  });
});

describe('the shipped policies', { timeout: 120_000 }, () => {
  let srv;

  before(async () => {
    srv = await startServer({
      config: { users: FAST_ARGON2, pdp: { mode: 'embedded' }, policy: { builtin: 'baseline,high-tier-shared-secret' } },
    });
    await fixtures(srv);
  });
  after(async () => { await srv?.stop(); });

  test('high-tier-shared-secret: client_secret_basic loses the approval scope, private_key_jwt keeps it', async () => {
    const secret = createClient(srv, agentMetadata({ risk_tier: 'high' }));
    assertPolicyRefusal(await ccToken(srv, secret, 'read pay'), 'pay', 'mandate.high-tier-shared-secret');
    assert.deepEqual(lastEvent(srv, secret.client_id).data.policy.pay.reasons, ['mandate.high-tier-shared-secret']);
    assert.equal((await ccToken(srv, secret, 'read')).status, 200);
    // a medium tier client with a secret keeps it
    const medium = createClient(srv, agentMetadata());
    assert.equal((await ccToken(srv, medium, 'read pay')).status, 200);

    const key = await keyPair('ES256');
    const signed = createClient(srv, agentMetadata({
      risk_tier: 'high', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] },
    }));
    const r = await post(srv, '/token', {
      grant_type: 'client_credentials', scope: 'read pay', client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await sign(key, clientClaims(srv, signed.client_id)),
    });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'read pay');
    assert.equal(lastEvent(srv, signed.client_id).data.policy.pay.decision, 'allow');
  });

  test('business-hours, with a window built from the current hour; an access request\'s time-bound entitlement is the exception', async () => {
    const text = readFileSync(new URL('business-hours.cedar', SHIPPED), 'utf8');
    const hours = '(context.risk.hour < 8 || context.risk.hour >= 18)';
    assert.ok(text.includes(hours), 'the hours are in the text as documented');
    const h = new Date().getUTCHours();
    const h1 = (h + 1) % 24; // the hour may turn during the test
    const outside = text.replace(hours, `(context.risk.hour == ${h} || context.risk.hour == ${h1})`);
    const inside = text.replace(hours, `(context.risk.hour != ${h} && context.risk.hour != ${h1})`);

    const night = createClient(srv, agentMetadata({ scope: 'read' }));   // pay from an access request
    const staticPay = createClient(srv, agentMetadata());                 // pay from its metadata
    const service = createClient(srv, agentMetadata({ kind: 'service' }));
    const filed = await post(srv, '/access-requests', JSON.stringify({ scope: 'pay', justification: 'night run', duration: '1h' }), {
      contentType: 'application/json', headers: { authorization: basic(night.client_id, night.client_secret) },
    });
    assert.equal(filed.status, 201, show(filed));
    assert.equal(cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'olivia']).status, 'approved');

    addPolicy(srv, 'hours-outside', outside);
    const refused = await until(() => ccToken(srv, staticPay, 'read pay'), (x) => x.status !== 200, 'the policy applies');
    assertPolicyRefusal(refused, 'pay');
    assert.deepEqual(lastEvent(srv, staticPay.client_id).data.policy.pay.reasons, ['hours-outside']);
    const excepted = await ccToken(srv, night, 'read pay');
    assert.equal(excepted.status, 200, show(excepted));
    assert.equal(lastEvent(srv, night.client_id).data.policy.pay.decision, 'allow');
    assert.equal((await ccToken(srv, service, 'read pay')).status, 200, 'only agents');
    removePolicy(srv, 'hours-outside');

    addPolicy(srv, 'hours-inside', inside);
    await sleep(1500);
    assert.equal((await ccToken(srv, staticPay, 'read pay')).status, 200, 'within business hours');
    removePolicy(srv, 'hours-inside');
  });
});

describe('the JWT bearer grant', { timeout: 60_000 }, () => {
  const IDP = 'https://idp.example.test';
  let dir;
  let srv;
  let idp;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-pdp-jb-'));
    idp = await keyPair('ES256');
    await writeFile(path.join(dir, 'idp.json'), JSON.stringify({ keys: [idp.publicJwk] }));
    const issuers = path.join(dir, 'jwt-bearer.json');
    await writeFile(issuers, JSON.stringify([{ issuer: IDP, jwks_file: 'idp.json', max_lifetime: 600,
      rules: [{ subject_prefix: 'acme:', scopes: ['read'] }] }]));
    srv = await startServer({ config: { users: FAST_ARGON2, pdp: { mode: 'embedded' }, jwt_bearer: { issuers } } });
    await fixtures(srv);
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('refused before the assertion is spent: the person is in the context; the same assertion works once the rule is gone', async () => {
    const agent = createClient(srv, agentMetadata({ grant_types: ['client_credentials', JWT_BEARER], scope: 'read' }));
    addPolicy(srv, 'no-acme-read', `forbid (principal == Client::"${agent.client_id}", action == Action::"token.issue", resource == Scope::"read")
      when { context has user && context.user == User::"acme:u-123" && context.grant_type == "${JWT_BEARER}" };`);
    await sleep(1500);
    const t = now();
    const assertion = await sign(idp, { iss: IDP, sub: 'u-123', aud: srv.issuer, iat: t, exp: t + 300, jti: crypto.randomUUID() });
    const grant = () => post(srv, '/token', { grant_type: JWT_BEARER, assertion },
      { headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assertPolicyRefusal(await grant(), 'read');
    assert.deepEqual(lastEvent(srv, agent.client_id).data.policy.read.reasons, ['no-acme-read']);
    removePolicy(srv, 'no-acme-read');
    await sleep(1500);
    const r = await grant();
    assert.equal(r.status, 200, show(r));
    assert.equal(lastEvent(srv, agent.client_id).subject, 'acme:u-123');
    assertOAuthError(await grant(), 400, 'invalid_grant'); // and now it is spent
  });
});

describe('a PDP that cannot be reached', { timeout: 60_000 }, () => {
  let closed;
  let trial;

  before(async () => {
    const url = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    closed = await startServer({ config: { users: FAST_ARGON2, pdp: { mode: 'authzen', url, timeout: '2s' } } });
    await fixtures(closed);
    trial = await startServer({ config: { users: FAST_ARGON2, pdp: { mode: 'authzen', url, timeout: '2s', log_only: 'true' } } });
    await fixtures(trial);
  });
  after(async () => { await closed?.stop(); await trial?.stop(); });

  test('fails closed; in log-only mode the failure is audited and the token issued', async () => {
    const agent = createClient(closed, agentMetadata());
    const r = await ccToken(closed, agent, 'read');
    assertOAuthError(r, 503, 'temporarily_unavailable');
    assert.equal(lastEvent(closed, agent.client_id).type, 'token.refused');

    const tried = createClient(trial, agentMetadata());
    const ok2 = await ccToken(trial, tried, 'read pay');
    assert.equal(ok2.status, 200, show(ok2));
    assert.equal(ok2.json.scope, 'read pay');
    const ev = lastEvent(trial, tried.client_id);
    assert.equal(ev.type, 'token.issued');
    assert.equal(ev.data.log_only, true);
    assert.equal(typeof ev.data.policy_error, 'string');
    assert.equal(ev.data.policy, undefined);
  });
});
