// The device authorization grant (RFC 8628): /device_authorization, the
// /device page (sign in, enter the code, see who asks, allow or deny) and
// polling at /token with authorization_pending, slow_down, expired_token
// and access_denied; the token issued once; wrong code entries limited per
// person and per source; clients without the grant and public clients.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { createUsers, FAST_ARGON2, login, PASSWORD, signedIn } from './lib/authz.mjs';
import { sendTogether } from './lib/grants.mjs';
import { CookieJar, csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import {
  API, auditEvents, basic, createFixtureScopes, eventBody, eventType, get, jwtParts, post,
} from './lib/oauth.mjs';
import { cliJson, createClient, sleep, startServer } from './lib/server.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MCP = 'https://mcp.example.com/mcp'; // a resource protected through /forward-auth
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
const INTERVAL_MS = 1100; // [device] interval = 1s: polls in two different seconds

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

function authHeaders(client) {
  return client.client_secret ? { authorization: basic(client.client_id, client.client_secret) } : {};
}

function withId(client, fields) {
  return client.client_secret ? fields : { client_id: client.client_id, ...fields };
}

function deviceAuthorization(srv, client, fields = {}) {
  return post(srv, '/device_authorization', withId(client, fields), { headers: authHeaders(client) });
}

function poll(srv, client, deviceCode) {
  return post(srv, '/token', withId(client, { grant_type: DEVICE_GRANT, device_code: deviceCode }),
    { headers: authHeaders(client) });
}

function assertError(r, status, error) {
  assert.equal(r.status, status, `${r.status} ${r.text}`);
  assert.equal(r.json?.error, error, r.text);
  assert.equal(r.headers.get('cache-control'), 'no-store');
}

/** Posts a form of the page at /device with jar: the response and its text. */
async function postDevice(srv, jar, fields, page) {
  const form = page ?? await (await jar.fetch(`${srv.url}/device`)).text();
  const r = await jar.fetch(`${srv.url}/device`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf_token: csrfOf(form), ...fields }).toString(),
  });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

/** jar's person enters userCode; the decision page. */
async function enterCode(srv, jar, userCode) {
  const r = await postDevice(srv, jar, { user_code: userCode });
  assert.equal(r.status, 200, r.text);
  return r;
}

/** jar's person decides the request of the decision page. */
function decide(srv, jar, page, decision) {
  const request = /name="request" value="([^"]*)"/.exec(page.text)[1];
  return postDevice(srv, jar, { request, decision }, page.text);
}

describe('device authorization grant', { timeout: 180_000 }, () => {
  let srv;
  let cli; // confidential, with refresh tokens
  let pub; // public client (a CLI)
  let noGrant;
  let alice;
  let dir;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-device-'));
    const resources = path.join(dir, 'resources.json');
    await writeFile(resources, JSON.stringify([{ resource: MCP, resource_name: 'Example MCP server',
      match: 'https://mcp.example.com:443/mcp', scopes: { '*': ['read'] } }]));
    srv = await startServer({
      config: {
        users: FAST_ARGON2,
        device: { interval: '1s' },
        registration: { open: true, unverified_scopes: 'read', unverified_grant_types: DEVICE_GRANT },
        forward_auth: { resources },
      },
    });
    createFixtureScopes(srv);
    createUsers(srv, ['alice', 'bob']);
    cli = createClient(srv, {
      client_name: 'Terminal agent', kind: 'cli', owner: 'bob',
      grant_types: [DEVICE_GRANT, 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid offline_access read write', resources: [API],
    });
    pub = createClient(srv, {
      client_name: 'Public CLI', kind: 'cli', grant_types: [DEVICE_GRANT],
      token_endpoint_auth_method: 'none', scope: 'read',
    });
    noGrant = createClient(srv, {
      client_name: 'No device', grant_types: ['client_credentials'], scope: 'read',
    });
    alice = await signedIn(srv, 'alice');
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('discovery names the endpoint and the grant', async () => {
    const r = await get(srv, '/.well-known/oauth-authorization-server');
    assert.equal(r.json.device_authorization_endpoint, `${srv.issuer}/device_authorization`);
    assert.ok(r.json.grant_types_supported.includes(DEVICE_GRANT));
  });

  test('device authorization: codes, verification URIs, expiry, interval; audited', async () => {
    const r = await deviceAuthorization(srv, cli, { scope: 'read' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const d = r.json;
    assert.match(d.user_code, USER_CODE);
    assert.ok(d.device_code.length >= 43, 'at least 256 bits');
    assert.equal(d.verification_uri, `${srv.issuer}/device`);
    assert.equal(d.verification_uri_complete, `${srv.issuer}/device?user_code=${d.user_code}`);
    assert.ok(d.expires_in > 590 && d.expires_in <= 600, `expires_in ${d.expires_in}`);
    assert.equal(d.interval, 1);
    const issued = events(srv, 'device.issued');
    assert.ok(issued.some((e) => e.client_id === cli.client_id));
    // neither code is written to the audit log
    const log = JSON.stringify(auditEvents(srv));
    assert.ok(!log.includes(d.device_code) && !log.includes(d.user_code));
  });

  test('refused: no grant, bad credentials, scope not entitled, resource not allowed', async () => {
    assertError(await deviceAuthorization(srv, noGrant, { scope: 'read' }), 400, 'unauthorized_client');
    assertError(await deviceAuthorization(srv, { ...cli, client_secret: 'wrong' }), 401, 'invalid_client');
    assertError(await deviceAuthorization(srv, cli, { scope: 'admin' }), 400, 'invalid_scope');
    assertError(await deviceAuthorization(srv, cli, { scope: 'read', resource: 'https://other.example' }),
      400, 'invalid_target');
    const refused = events(srv, 'device.refused');
    assert.ok(refused.some((e) => e.client_id === noGrant.client_id && /unauthorized_client/.test(e.reason)));
    // the token endpoint refuses the grant to a client that did not register it
    assertError(await poll(srv, noGrant, 'x'.repeat(43)), 400, 'unauthorized_client');
  });

  test('polling too fast: slow_down, and the interval grows by 5 seconds', async () => {
    // With a 1 s interval, two polls are too fast when they fall in the same second: start
    // again with a new code when a busy machine let the second one slip into the next second.
    let d;
    let fast;
    for (let attempt = 0; attempt < 4; attempt++) {
      d = (await deviceAuthorization(srv, cli, { scope: 'read' })).json;
      assertError(await poll(srv, cli, d.device_code), 400, 'authorization_pending');
      fast = await poll(srv, cli, d.device_code);
      if (fast.json?.error === 'slow_down') break;
    }
    assertError(fast, 400, 'slow_down');
    // the interval is now 6 s: a poll 1.1 s later, fine before, is still too soon
    await sleep(INTERVAL_MS);
    assertError(await poll(srv, cli, d.device_code), 400, 'slow_down');
  });

  test('polling: pending, approval, the token once; other clients learn nothing', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'openid read', resource: API })).json;
    assertError(await poll(srv, cli, d.device_code), 400, 'authorization_pending');
    // another client polling with this device_code learns nothing and changes nothing
    assertError(await poll(srv, pub, d.device_code), 400, 'invalid_grant');
    assertError(await poll(srv, cli, `${d.device_code}x`), 400, 'invalid_grant');

    const page = await enterCode(srv, alice, d.user_code.toLowerCase().replace('-', ''));
    assert.match(page.text, /Terminal agent/);
    const list = cliJson(srv, ['request', 'list', '--status', 'pending']);
    const item = list.find((x) => x.type === 'device' && x.client_id === cli.client_id);
    assert.ok(item, JSON.stringify(list));
    assert.equal(item.subject, 'alice');
    assert.equal(item.scope, 'openid read');
    assert.equal(item.resource, API);
    assert.ok(events(srv, 'request.created').some((e) => e.actor === 'alice' && e.subject === 'alice'
      && e.client_id === cli.client_id), 'the person entered the code');
    // the same code cannot be entered twice
    const again = await postDevice(srv, await signedIn(srv, 'bob'), { user_code: d.user_code });
    assert.equal(again.status, 400);
    assert.match(again.text, /unknown, has expired or was already used/);

    await sleep(INTERVAL_MS);
    assertError(await poll(srv, cli, d.device_code), 400, 'authorization_pending');
    const done = await decide(srv, alice, page, 'allow');
    assert.equal(done.status, 200, done.text);
    assert.match(done.text, /return to your device/);
    await sleep(INTERVAL_MS);
    const t = await poll(srv, cli, d.device_code);
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.token_type, 'Bearer');
    assert.equal(t.json.scope, 'openid read');
    assert.ok(t.json.id_token, 'openid asked: an ID token');
    assert.equal(t.json.refresh_token, undefined, 'no offline_access: no refresh token');
    const claims = jwtParts(t.json.access_token).payload;
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, cli.client_id);
    assert.equal(claims.aud, API);
    assert.equal(claims.app.approval, item.id);
    assert.equal(jwtParts(t.json.id_token).payload.sub, 'alice');

    // the device_code is used: a second redemption is invalid_grant
    await sleep(INTERVAL_MS);
    assertError(await poll(srv, cli, d.device_code), 400, 'invalid_grant');
    const approved = events(srv, 'device.approved');
    assert.ok(approved.some((e) => e.client_id === cli.client_id));
    const issued = events(srv, 'token.issued').filter((e) => e.client_id === cli.client_id);
    assert.ok(issued.some((e) => e.subject === 'alice'));
    // the token.issued event references the approval behind it
    assert.ok(issued.some((e) => e.data.approval === item.id), JSON.stringify(issued));
  });

  test('polls racing on an approved code: one token at most', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'read' })).json;
    const page = await enterCode(srv, alice, d.user_code);
    assert.equal((await decide(srv, alice, page, 'allow')).status, 200);
    const racers = Array.from({ length: 8 }, () => ({
      path: '/token', headers: authHeaders(cli),
      fields: { grant_type: DEVICE_GRANT, device_code: d.device_code },
    }));
    const answers = await sendTogether(srv, racers);
    const won = answers.filter((a) => a.status === 200);
    assert.equal(won.length, 1, JSON.stringify(answers.map((a) => [a.status, a.json?.error])));
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.ok(['slow_down', 'invalid_grant'].includes(a.json?.error), JSON.stringify(a.json));
    }
    // redeemed: invalid_grant, whatever interval the racers grew
    assertError(await poll(srv, cli, d.device_code), 400, 'invalid_grant');
  });

  test('offline_access approved: a refresh token', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'openid offline_access read' })).json;
    const page = await enterCode(srv, alice, d.user_code);
    assert.equal((await decide(srv, alice, page, 'allow')).status, 200);
    const t = await poll(srv, cli, d.device_code);
    assert.equal(t.status, 200, t.text);
    assert.ok(t.json.refresh_token);
    const r = await post(srv, '/token', { grant_type: 'refresh_token', refresh_token: t.json.refresh_token },
      { headers: authHeaders(cli) });
    assert.equal(r.status, 200, r.text);
  });

  test('denied: access_denied, and the page cannot decide it again', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'read' })).json;
    const page = await enterCode(srv, alice, d.user_code);
    const denied = await decide(srv, alice, page, 'deny');
    assert.equal(denied.status, 200);
    assert.match(denied.text, /You denied the request/);
    assertError(await poll(srv, cli, d.device_code), 400, 'access_denied');
    const again = await decide(srv, alice, page, 'allow');
    assert.equal(again.status, 409);
    await sleep(INTERVAL_MS);
    assertError(await poll(srv, cli, d.device_code), 400, 'access_denied');
    assert.ok(events(srv, 'device.denied').some((e) => e.client_id === cli.client_id));
    assert.ok(events(srv, 'token.refused').some((e) => /access_denied/.test(e.reason)));
  });

  test('another person cannot decide the request; CSRF is required; the command line only as the person', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'read' })).json;
    const page = await enterCode(srv, alice, d.user_code);
    const bob = await signedIn(srv, 'bob');
    const request = /name="request" value="([^"]*)"/.exec(page.text)[1];
    const bobPage = await (await bob.fetch(`${srv.url}/device`)).text();
    const r = await postDevice(srv, bob, { request, decision: 'allow' }, bobPage);
    assert.equal(r.status, 404);
    const noCsrf = await alice.fetch(`${srv.url}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request, decision: 'allow' }).toString(),
    });
    assert.equal(noCsrf.status, 403);
    assertError(await poll(srv, cli, d.device_code), 400, 'authorization_pending');
    // at the command line the operator approves it only as the person it asks
    const asOperator = srv.cli(['request', 'approve', request]);
    assert.notEqual(asOperator.code, 0);
    assert.match(asOperator.stderr, /asks alice: approve it --by them/);
    await sleep(INTERVAL_MS);
    assertError(await poll(srv, cli, d.device_code), 400, 'authorization_pending');
    await sleep(INTERVAL_MS);
    const approved = cliJson(srv, ['request', 'approve', request, '--by', 'alice']);
    assert.equal(approved.status, 'approved');
    await sleep(INTERVAL_MS);
    const t = await poll(srv, cli, d.device_code);
    assert.equal(t.status, 200, t.text);
    assert.equal(jwtParts(t.json.access_token).payload.sub, 'alice', 'the person the request asked');
  });

  test('a public client authenticates with client_id alone', async () => {
    const r = await deviceAuthorization(srv, pub, { scope: 'read' });
    assert.equal(r.status, 200, r.text);
    const page = await enterCode(srv, alice, r.json.user_code);
    assert.match(page.text, /none \(a public client\)/);
    assert.equal((await decide(srv, alice, page, 'allow')).status, 200);
    const t = await poll(srv, pub, r.json.device_code);
    assert.equal(t.status, 200, t.text);
    assert.equal(jwtParts(t.json.access_token).payload.sub, 'alice');
    assertError(await deviceAuthorization(srv, pub, { scope: 'write' }), 400, 'invalid_scope');
  });

  test('openid-client: initiate, the person allows, poll until the tokens come', async () => {
    const config = await oidc.discovery(new URL(srv.issuer), pub.client_id, undefined, oidc.None(),
      { execute: [oidc.allowInsecureRequests] });
    const d = await oidc.initiateDeviceAuthorization(config, { scope: 'read' });
    const polling = oidc.pollDeviceAuthorizationGrant(config, d, undefined,
      { signal: AbortSignal.timeout(30_000) });
    await sleep(INTERVAL_MS); // at least one authorization_pending first
    const page = await enterCode(srv, alice, d.user_code);
    assert.equal((await decide(srv, alice, page, 'allow')).status, 200);
    const tokens = await polling;
    assert.equal(tokens.scope, 'read');
    assert.equal(jwtParts(tokens.access_token).payload.sub, 'alice');
  });

  test('a resource protected through /forward-auth may be asked for: the person grants it', async () => {
    const d = (await deviceAuthorization(srv, pub, { scope: 'read', resource: MCP })).json;
    assert.ok(d?.device_code, 'accepted');
    const page = await enterCode(srv, alice, d.user_code);
    assert.match(page.text, new RegExp(MCP.replace(/[./]/g, '\\$&')));
    assert.equal((await decide(srv, alice, page, 'allow')).status, 200);
    const t = await poll(srv, pub, d.device_code);
    assert.equal(t.status, 200, t.text);
    assert.equal(jwtParts(t.json.access_token).payload.aud, MCP);
  });

  test('a self-registered client is shown as unverified', async () => {
    const reg = await post(srv, '/register', JSON.stringify({
      client_name: 'Official Bank CLI', grant_types: [DEVICE_GRANT], token_endpoint_auth_method: 'none',
      scope: 'read',
    }), { contentType: 'application/json' });
    assert.equal(reg.status, 201, reg.text);
    const d = (await deviceAuthorization(srv, reg.json, { scope: 'read' })).json;
    const page = await enterCode(srv, alice, d.user_code);
    assert.match(page.text, /class="client-verified verified-no"/);
    assert.match(page.text, /No: unverified, it registered itself/);
    assert.equal((await decide(srv, alice, page, 'deny')).status, 200);
  });

  test('signed out: /device sends to /login and back with the code', async () => {
    const jar = new CookieJar();
    const r = await jar.fetch(`${srv.url}/device?user_code=BCDF-GHJK`);
    assert.equal(r.status, 303);
    const loc = new URL(r.headers.get('location'), srv.url);
    assert.equal(loc.pathname, '/login');
    assert.equal(loc.searchParams.get('return_to'), '/device?user_code=BCDF-GHJK');
    const signed = await login(srv, jar, 'alice', '/device?user_code=BCDF-GHJK');
    assert.equal(signed.status, 200);
    const form = await (await jar.fetch(`${srv.url}/device?user_code=BCDF-GHJK`)).text();
    assert.match(form, /value="BCDF-GHJK"/, 'pre-filled, still to be confirmed');
    const r2 = await jar.fetch(`${srv.url}/device?user_code=${encodeURIComponent('"><script>x</script>')}`);
    const html = await r2.text();
    assert.ok(!html.includes('<script>'), 'the code is escaped');
    assert.match(html, /value="&quot;&gt;&lt;script&gt;/);
    assert.match(r2.headers.get('content-security-policy'), /default-src 'none'/);
    assert.equal(r2.headers.get('x-frame-options'), 'DENY');
  });

  test('browser: sign in at /device, enter the code, see who asks, allow, token', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'read write' })).json;
    const b = await launchBrowser();
    const { page } = b;
    try {
      await page.goto(d.verification_uri_complete);
      assert.equal(new URL(page.url()).pathname, '/login');
      await submitLogin(page, 'alice', PASSWORD);
      await page.waitForURL((u) => u.pathname === '/device');
      assert.equal(await page.locator('#user_code').inputValue(), d.user_code);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
      const text = await page.locator('main').innerText();
      assert.match(text, /Terminal agent/);
      assert.match(await page.locator('.client-kind').innerText(), /cli/);
      assert.match(await page.locator('.client-owner').innerText(), /bob/);
      assert.match(await page.locator('.client-verified').innerText(), /Yes: registered by an administrator/);
      assert.match(await page.locator('.phishing-warning').innerText(), /If someone sent you this code/);
      assert.match(text, /Read things/);
      assert.match(text, /Write things/);
      await screenshot(page, 'device-decision');
      await Promise.all([page.waitForNavigation(),
        page.locator('button[name="decision"][value="allow"]').click()]);
      assert.match(await page.locator('main').innerText(), /return to your device/);
    } finally {
      await b.close();
    }
    const t = await poll(srv, cli, d.device_code);
    assert.equal(t.status, 200, t.text);
    assert.equal(t.json.scope, 'read write');
    assert.equal(jwtParts(t.json.access_token).payload.sub, 'alice');
  });

  test('browser: deny gives access_denied', async () => {
    const d = (await deviceAuthorization(srv, pub, { scope: 'read' })).json;
    const b = await launchBrowser();
    const { page } = b;
    try {
      await page.goto(`${srv.url}/device`);
      await submitLogin(page, 'alice', PASSWORD);
      await page.waitForURL((u) => u.pathname === '/device');
      await page.locator('#user_code').fill(d.user_code.toLowerCase());
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
      assert.match(await page.locator('.client-name').innerText(), /Public CLI/);
      await Promise.all([page.waitForNavigation(),
        page.locator('button[name="decision"][value="deny"]').click()]);
      assert.match(await page.locator('main').innerText(), /You denied the request/);
    } finally {
      await b.close();
    }
    assertError(await poll(srv, pub, d.device_code), 400, 'access_denied');
  });
});

describe('device codes: expiry and wrong entries', { timeout: 120_000 }, () => {
  let srv;
  let cli;

  before(async () => {
    srv = await startServer({
      config: {
        users: FAST_ARGON2,
        device: {
          code_ttl: '2s', interval: '1s', max_wrong_codes: 3, max_wrong_codes_per_source: 5,
          rate_per_source: 6,
        },
      },
    });
    createFixtureScopes(srv);
    createUsers(srv, ['carol', 'dave']);
    cli = createClient(srv, {
      client_name: 'Terminal agent', kind: 'cli', grant_types: [DEVICE_GRANT], scope: 'read',
    });
  });
  after(async () => { await srv?.stop(); });

  test('an expired code: expired_token, and the page refuses it', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'read' })).json;
    assert.equal(d.expires_in, 2);
    await sleep(2100);
    assertError(await poll(srv, cli, d.device_code), 400, 'expired_token');
    const carol = await signedIn(srv, 'carol');
    const r = await postDevice(srv, carol, { user_code: d.user_code });
    assert.equal(r.status, 400);
    assert.match(r.text, /unknown, has expired or was already used/);
  });

  test('an approved request whose code expires before the poll: expired_token', async () => {
    const dave = await signedIn(srv, 'dave');
    const d = (await deviceAuthorization(srv, cli, { scope: 'read' })).json;
    const page = await enterCode(srv, dave, d.user_code);
    assert.equal((await decide(srv, dave, page, 'allow')).status, 200);
    await sleep(2100);
    assertError(await poll(srv, cli, d.device_code), 400, 'expired_token');
  });

  test('wrong codes are limited per person, then per source; the right code is refused too', async () => {
    const d = (await deviceAuthorization(srv, cli, { scope: 'read' })).json;
    const carol = await signedIn(srv, 'carol');
    // one wrong entry was counted for carol by the expiry test above; an empty form is no guess
    const empty = await postDevice(srv, carol, { user_code: ' - ' });
    assert.equal(empty.status, 400);
    assert.match(empty.text, /Enter the code your device shows/);
    for (let i = 0; i < 2; i++) {
      const r = await postDevice(srv, carol, { user_code: 'BBBB-BBBB' });
      assert.equal(r.status, 400, r.text);
    }
    const limited = await postDevice(srv, carol, { user_code: d.user_code });
    assert.equal(limited.status, 429);
    assert.match(limited.text, /Too many wrong codes; try again in \d+ minutes?/);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.ok(events(srv, 'device.code_throttled').some((e) => e.subject === 'carol'));
    // dave: two wrong entries reach the source's limit of 5 (3 of carol's)
    const dave = await signedIn(srv, 'dave');
    for (let i = 0; i < 2; i++) {
      const r = await postDevice(srv, dave, { user_code: 'CCCC-CCCC' });
      assert.equal(r.status, 400, r.text);
    }
    const bySource = await postDevice(srv, dave, { user_code: d.user_code });
    assert.equal(bySource.status, 429);
    // nothing was entered: the device still waits
    assertError(await poll(srv, cli, d.device_code), 400, 'authorization_pending');
    assert.equal(cliJson(srv, ['request', 'list', '--status', 'pending']).length, 0);
  });

  test('device authorizations are limited per source (429)', async () => {
    let limited;
    for (let i = 0; i < 14 && !limited; i++) {
      const r = await deviceAuthorization(srv, cli, { scope: 'read' });
      if (r.status === 429) limited = r;
      else assert.equal(r.status, 200, r.text);
    }
    assert.ok(limited, 'refused within the bound');
    assert.equal(limited.json.error, 'slow_down');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.ok(events(srv, 'device.refused').some((e) => /rate_limited/.test(e.reason)));
  });
});
