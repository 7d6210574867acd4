// The authorization code flow with PKCE (SPEC §3.4, §2.6): openid-client
// drives /authorize in a real browser (playwright-core + chromium), the
// person signs in and consents, the client exchanges the code; and the
// failure paths, each with its error, its redirect or page, and no token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oidc from 'openid-client';

import { CookieJar, csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import { callbackServer } from './lib/authz.mjs';
import {
  API, auditEvents, basic, createFixtureScopes, eventBody, eventType, post,
} from './lib/oauth.mjs';
import { createClient, createScope, startServer } from './lib/server.mjs';

const PASSWORD = 'correct horse battery';
const FAST_ARGON2 = { argon2_memory_kib: 8192, argon2_time_cost: 1 };
const XSS_NAME = '<script>alert("xss1")</script><img src=x onerror="alert(\'xss2\')">';

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

/** A cookie jar signed in as username. */
async function signedIn(srv, username) {
  const jar = new CookieJar();
  const form = await (await jar.fetch(`${srv.url}/login`)).text();
  const r = await jar.fetch(`${srv.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf_token: csrfOf(form), username, password: PASSWORD }).toString(),
  });
  assert.equal(r.status, 303, await r.text());
  return jar;
}

function authorizeUrl(srv, params) {
  const u = new URL(`${srv.url}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

/** Runs /authorize with the jar, consenting when asked: the callback URL. */
async function authorize(srv, jar, params, { decision = 'allow' } = {}) {
  let r = await jar.fetch(authorizeUrl(srv, params));
  assert.equal(r.status, 303, await r.text());
  let loc = r.headers.get('location');
  if (loc.startsWith('/consent')) {
    const page = await (await jar.fetch(`${srv.url}${loc}`)).text();
    const request = /name="request" value="([^"]*)"/.exec(page)[1];
    r = await jar.fetch(`${srv.url}/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(page), request, decision }).toString(),
    });
    assert.equal(r.status, 303, await r.text());
    loc = r.headers.get('location');
  }
  return new URL(loc);
}

async function pkce() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
}

function tokenForm(srv, fields, headers = {}) {
  return post(srv, '/token', fields, { headers });
}

describe('authorization code with PKCE', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let pub;      // public client (none)
  let conf;     // confidential client (client_secret_basic)
  let xss;

  before(async () => {
    srv = await startServer({
      config: { users: FAST_ARGON2, web: { login_max_failures: 100, login_max_failures_per_source: 1000 } },
    });
    createFixtureScopes(srv);
    createScope(srv, 'payments', { description: 'Make payments', sensitivity: 'consent' });
    for (const u of ['alice', 'bob', 'carol']) {
      const r = srv.cli(['user', 'create', u, '--password-stdin'], { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    cb = await callbackServer();
    const base = {
      kind: 'agent', owner: 'alice', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      scope: 'read write payments', resources: [API],
    };
    pub = createClient(srv, { ...base, client_name: 'Travel agent', token_endpoint_auth_method: 'none' });
    conf = createClient(srv, { ...base, client_name: 'Expense web app', token_endpoint_auth_method: 'client_secret_basic' });
    xss = createClient(srv, { ...base, client_name: XSS_NAME, token_endpoint_auth_method: 'none' });
    assert.equal(pub.client_secret, undefined, 'a public client gets no secret');
    assert.deepEqual(pub.response_types, ['code']);
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  test('openid-client + browser: login, consent, code exchange; the second time skips consent', async () => {
    const config = await oidc.discovery(new URL(srv.issuer), pub.client_id, undefined, oidc.None(),
      { execute: [oidc.allowInsecureRequests] });
    const b = await launchBrowser();
    try {
      const { verifier, challenge } = await pkce();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: cb.uri, scope: 'read payments', resource: API,
        code_challenge: challenge, code_challenge_method: 'S256', state,
      });
      const { page } = b;
      await page.goto(url.href);
      assert.equal(new URL(page.url()).pathname, '/login');
      await submitLogin(page, 'alice', PASSWORD);
      await page.waitForURL((u) => u.pathname === '/consent', { timeout: 10_000 });
      const main = await page.locator('main').innerText();
      assert.match(main, /Travel agent/);
      assert.match(main, /agent/);
      assert.match(main, /alice/);
      assert.match(main, /none \(a public client/);
      assert.match(main, /127\.0\.0\.1/);
      assert.match(main, /Read things/);
      assert.match(main, /Make payments/);
      assert.match(main, /sensitive/);
      assert.match(main, new RegExp(API.replace(/\./g, '\\.')));
      assert.equal(await page.locator('button[name="decision"][value="allow"]').count(), 1);
      assert.equal(await page.locator('button[name="decision"][value="deny"]').count(), 1);
      await screenshot(page, 'consent-page');
      const got = cb.next();
      await page.locator('button[name="decision"][value="allow"]').click();
      const back = await got;
      assert.equal(back.searchParams.get('state'), state);
      assert.equal(back.searchParams.get('iss'), srv.issuer);
      const full = new URL(`${cb.uri}${back.search}`);
      const tokens = await oidc.authorizationCodeGrant(config, full, { pkceCodeVerifier: verifier, expectedState: state });
      const jwks = jose.createRemoteJWKSet(new URL(`${srv.issuer}/jwks`));
      const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: srv.issuer, typ: 'at+jwt' });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.sub, 'alice', 'sub is the user');
      assert.equal(payload.client_id, pub.client_id);
      assert.equal(payload.scope, 'read payments');
      assert.equal(payload.aud, API);
      assert.equal(typeof payload.auth_time, 'number');
      assert.deepEqual(payload.amr, ['pwd']);
      assert.equal(payload.app.auth, 'none');
      assert.equal(payload.app.name, 'Travel agent');

      // the same scopes again: no consent page, straight back to the client
      const p2 = await pkce();
      const state2 = oidc.randomState();
      const url2 = oidc.buildAuthorizationUrl(config, {
        redirect_uri: cb.uri, scope: 'read', resource: API,
        code_challenge: p2.challenge, code_challenge_method: 'S256', state: state2,
      });
      const got2 = cb.next();
      await page.goto(url2.href);
      const back2 = await got2;
      assert.equal(new URL(page.url()).origin, new URL(cb.uri).origin, 'no consent page in between');
      const t2 = await oidc.authorizationCodeGrant(config, new URL(`${cb.uri}${back2.search}`),
        { pkceCodeVerifier: p2.verifier, expectedState: state2 });
      assert.ok(t2.access_token);
      const ev = events(srv, 'consent.granted').filter((e) => e.client_id === pub.client_id);
      assert.equal(ev.length, 1, 'one consent');
      assert.ok(events(srv, 'authz.code_issued').length >= 2);
    } finally {
      await b.close();
    }
  });

  test('signed out, consent already given: after login the browser goes straight back to the client', async () => {
    const config = await oidc.discovery(new URL(srv.issuer), pub.client_id, undefined, oidc.None(),
      { execute: [oidc.allowInsecureRequests] });
    const b = await launchBrowser(); // a fresh browser: no session; alice consented in the test above
    try {
      const { verifier, challenge } = await pkce();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: cb.uri, scope: 'read', resource: API,
        code_challenge: challenge, code_challenge_method: 'S256', state,
      });
      await b.page.goto(url.href);
      assert.equal(new URL(b.page.url()).pathname, '/login');
      const got = cb.next();
      await submitLogin(b.page, 'alice', PASSWORD);
      const back = await Promise.race([got, new Promise((_, rej) => setTimeout(
        () => rej(new Error(`the browser stayed at ${b.page.url()}`)), 10_000))]);
      assert.equal(back.searchParams.get('state'), state);
      const t = await oidc.authorizationCodeGrant(config, new URL(`${cb.uri}${back.search}`),
        { pkceCodeVerifier: verifier, expectedState: state });
      assert.ok(t.access_token);
    } finally {
      await b.close();
    }
  });

  test('a reused code is refused and the first token is revoked', async () => {
    const jar = await signedIn(srv, 'bob');
    const { verifier, challenge } = await pkce();
    const back = await authorize(srv, jar, {
      response_type: 'code', client_id: conf.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: challenge, code_challenge_method: 'S256', state: 's1',
    });
    const code = back.searchParams.get('code');
    assert.ok(code);
    const auth = { authorization: basic(conf.client_id, conf.client_secret) };
    const fields = { grant_type: 'authorization_code', code, redirect_uri: cb.uri, code_verifier: verifier };
    const first = await tokenForm(srv, fields, auth);
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const intro = async () => (await post(srv, '/introspect', { token: first.json.access_token }, { headers: auth })).json;
    assert.equal((await intro()).active, true);
    assert.equal((await intro()).sub, 'bob');
    const second = await tokenForm(srv, fields, auth);
    assert.equal(second.status, 400);
    assert.equal(second.json.error, 'invalid_grant');
    assert.equal((await intro()).active, false, 'the token from the first use is revoked');
    assert.equal(events(srv, 'token.code_reused').length, 1);
  });

  async function freshCode(client, username = 'carol', extra = {}) {
    const jar = await signedIn(srv, username);
    const p = await pkce();
    const back = await authorize(srv, jar, {
      response_type: 'code', client_id: client.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: p.challenge, code_challenge_method: 'S256', ...extra,
    });
    return { code: back.searchParams.get('code'), verifier: p.verifier, back, jar };
  }

  test('missing or wrong code_verifier: invalid_grant, no token', async () => {
    for (const verifier of [undefined, 'x'.repeat(43)]) {
      const c = await freshCode(pub);
      const fields = { grant_type: 'authorization_code', client_id: pub.client_id, code: c.code, redirect_uri: cb.uri };
      if (verifier) fields.code_verifier = verifier;
      const r = await tokenForm(srv, fields);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error, 'invalid_grant');
      assert.equal(r.json.access_token, undefined);
      const why = events(srv, 'token.refused').at(-1).reason;
      assert.match(why, verifier ? /PKCE verification failed/ : /code_verifier missing/);
    }
  });

  test('a code used by another client: invalid_grant', async () => {
    const c = await freshCode(pub);
    const r = await tokenForm(srv, { grant_type: 'authorization_code', code: c.code, redirect_uri: cb.uri, code_verifier: c.verifier },
      { authorization: basic(conf.client_id, conf.client_secret) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error, 'invalid_grant');
    assert.match(events(srv, 'token.refused').at(-1).reason, /issued to another client/);
  });

  test('a public client may not use another grant', async () => {
    const r = await tokenForm(srv, { grant_type: 'client_credentials', client_id: pub.client_id });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'invalid_client');
  });

  test('code_challenge_method=plain: invalid_request redirected with state and iss', async () => {
    const jar = await signedIn(srv, 'carol');
    const r = await jar.fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: pub.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: 'a'.repeat(43), code_challenge_method: 'plain', state: 'st-plain',
    }));
    assert.equal(r.status, 303);
    const u = new URL(r.headers.get('location'));
    assert.equal(`${u.origin}${u.pathname}`, cb.uri);
    assert.equal(u.searchParams.get('error'), 'invalid_request');
    assert.match(u.searchParams.get('error_description'), /plain/);
    assert.equal(u.searchParams.get('state'), 'st-plain');
    assert.equal(u.searchParams.get('iss'), srv.issuer);
    assert.equal(u.searchParams.get('code'), null);
  });

  test('redirect URI mismatch and unknown client: an error page, never a redirect', async () => {
    const jar = await signedIn(srv, 'carol');
    const { challenge } = await pkce();
    for (const params of [
      { client_id: pub.client_id, redirect_uri: `${cb.uri}/` },
      { client_id: pub.client_id, redirect_uri: 'https://evil.example/cb' },
      { client_id: 'no-such-client', redirect_uri: cb.uri },
    ]) {
      const r = await jar.fetch(authorizeUrl(srv, {
        response_type: 'code', scope: 'read', code_challenge: challenge, code_challenge_method: 'S256', ...params,
      }));
      assert.equal(r.status, 400);
      assert.equal(r.headers.get('location'), null);
      assert.match(r.headers.get('content-type'), /^text\/html/);
      assert.match(await r.text(), /Cannot authorize/);
    }
    assert.ok(events(srv, 'authz.refused').length >= 3);
  });

  test('prompt=none without a session: login_required at the redirect URI', async () => {
    const { challenge } = await pkce();
    const r = await fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: pub.client_id, redirect_uri: cb.uri, scope: 'read', prompt: 'none',
      code_challenge: challenge, code_challenge_method: 'S256', state: 'st-none',
    }), { redirect: 'manual' });
    assert.equal(r.status, 303);
    const u = new URL(r.headers.get('location'));
    assert.equal(u.searchParams.get('error'), 'login_required');
    assert.equal(u.searchParams.get('state'), 'st-none');
    assert.equal(u.searchParams.get('iss'), srv.issuer);
  });

  test('deny: access_denied at the redirect URI, audited', async () => {
    const jar = await signedIn(srv, 'carol');
    const { challenge } = await pkce();
    const back = await authorize(srv, jar, {
      response_type: 'code', client_id: conf.client_id, redirect_uri: cb.uri, scope: 'write',
      code_challenge: challenge, code_challenge_method: 'S256', state: 'st-deny',
    }, { decision: 'deny' });
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 'st-deny');
    assert.ok(events(srv, 'consent.denied').length >= 1);
  });

  test('consent form without CSRF token: 403; XSS in client_name rendered escaped', async () => {
    const jar = await signedIn(srv, 'carol');
    const { challenge } = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: xss.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: challenge, code_challenge_method: 'S256',
    }));
    const loc = r.headers.get('location');
    assert.match(loc, /^\/consent\?request=/);
    const page = await (await jar.fetch(`${srv.url}${loc}`)).text();
    assert.ok(!page.includes('<script>alert'), 'no raw script');
    assert.ok(!page.includes('<img src=x'), 'no raw img');
    assert.ok(page.includes('&lt;script&gt;alert(&quot;xss1&quot;)&lt;/script&gt;'), 'escaped name shown');
    const request = /name="request" value="([^"]*)"/.exec(page)[1];
    const refused = await jar.fetch(`${srv.url}/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request, decision: 'allow' }).toString(),
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get('location'), null);
    // nothing remembered: the consent page is shown again
    const again = await jar.fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: xss.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: challenge, code_challenge_method: 'S256',
    }));
    assert.match(again.headers.get('location'), /^\/consent\?request=/);
  });
});
