// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the browser
// signs in through the code flow with scope openid, the client sends it to
// /logout with its ID token, a registered post_logout_redirect_uri and
// state; after the confirmation it arrives back at the client with state
// and the session is gone. Invalid hints and unregistered URIs get an error
// page, no redirect, and the session stays.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { FAST_ARGON2, PASSWORD, authorizeUrl, createUsers, pkce, signedIn } from './lib/authz.mjs';
import { CookieJar, launchBrowser, submitLogin } from './lib/browser.mjs';
import { auditEvents, eventBody, eventType } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

/** Records every hit on /cb and /bye. */
async function rpServer() {
  const waiters = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    waiters.filter((w) => w.path === u.pathname).forEach((w) => { waiters.splice(waiters.indexOf(w), 1); w.resolve(u); });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`rp ${u.pathname}`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    cb: `${base}/cb`,
    bye: `${base}/bye`,
    next: (path, ms = 10_000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no hit on ${path}`)), ms);
      waiters.push({ path, resolve: (u) => { clearTimeout(t); resolve(u); } });
    }),
    close: () => new Promise((r) => server.close(r)),
  };
}

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

describe('RP-initiated logout', { timeout: 120_000 }, () => {
  let srv;
  let rp;
  let app;
  let config;
  let browser;

  /** The browser signs in and consents; openid-client exchanges the code. */
  async function codeFlow() {
    const { verifier, challenge } = await pkce();
    const nonce = oidc.randomNonce();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: rp.cb, scope: 'openid', state, nonce, code_challenge: challenge, code_challenge_method: 'S256',
    });
    const { page } = browser;
    const atCb = (u) => u.href.startsWith(rp.cb);
    await page.goto(url.href);
    if (new URL(page.url()).pathname === '/login') await submitLogin(page, 'alice', PASSWORD);
    // the page after login moves on by itself (a refresh to return_to): wait
    // until the browser has arrived, at the consent page or at the client,
    // so that no later navigation is interrupted by this one
    await page.waitForURL((u) => u.pathname === '/consent' || atCb(u), { waitUntil: 'load' });
    if (!atCb(new URL(page.url()))) {
      await page.locator('button[name="decision"][value="allow"]').click();
      await page.waitForURL(atCb, { waitUntil: 'load' });
    }
    const back = new URL(page.url());
    return oidc.authorizationCodeGrant(config, new URL(`${rp.cb}${back.search}`),
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  }

  function logoutUrl(params) {
    const u = new URL(`${srv.url}/logout`);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.href;
  }

  /** prompt=none with cookie header jar: the error of the redirect (null when a code came back). */
  async function promptNone(jar) {
    const { challenge } = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: app.client_id, redirect_uri: rp.cb, scope: 'openid', prompt: 'none',
      code_challenge: challenge, code_challenge_method: 'S256', state: 's',
    }));
    assert.equal(r.status, 303, await r.text());
    const u = new URL(r.headers.get('location'));
    assert.equal(u.origin + u.pathname, rp.cb);
    return u.searchParams.get('error');
  }

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createUsers(srv, ['alice', 'bob']);
    rp = await rpServer();
    app = createClient(srv, {
      client_name: 'Mail assistant', kind: 'agent', owner: 'alice', grant_types: ['authorization_code'],
      redirect_uris: [rp.cb], post_logout_redirect_uris: [rp.bye], scope: 'openid',
      token_endpoint_auth_method: 'client_secret_basic',
    });
    config = await oidc.discovery(new URL(srv.issuer), app.client_id, app.client_secret,
      oidc.ClientSecretBasic(app.client_secret), { execute: [oidc.allowInsecureRequests] });
    browser = await launchBrowser();
    browser.page.setDefaultTimeout(30_000); // a loaded machine is slow, not wrong
  });
  after(async () => { await browser?.close(); await rp?.close(); await srv?.stop(); });

  test('discovery advertises the end_session_endpoint', () => {
    assert.equal(config.serverMetadata().end_session_endpoint, `${srv.issuer}/logout`);
  });

  test('post_logout_redirect_uris follow the redirect_uris rules', () => {
    const r = srv.cli(['client', 'create', '--json'], {
      input: JSON.stringify({ client_name: 'Bad', kind: 'agent', owner: 'alice',
        grant_types: ['authorization_code'], redirect_uris: [rp.cb],
        post_logout_redirect_uris: ['http://example.com/bye'], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /post_logout_redirect_uris/);
  });

  test('logout with id_token_hint: confirmation, back at the client with state, session gone', async () => {
    const tokens = await codeFlow();
    const { page, context } = browser;
    const cookies = await context.cookies(srv.url);
    assert.ok(cookies.length > 0);
    const old = new CookieJar();
    for (const c of cookies) old.cookies.set(c.name, c.value);
    assert.equal(await promptNone(old), null, 'the session works before logout');

    const back = rp.next('/bye', 30_000);
    // openid-client builds the URL from discovery's end_session_endpoint
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: rp.bye, state: 'st-42' });
    await page.goto(url.href);
    assert.equal(new URL(page.url()).pathname, '/logout');
    await page.getByRole('button', { name: 'Sign out' }).click();
    const u = await back;
    assert.equal(u.searchParams.get('state'), 'st-42');
    await page.waitForURL((x) => x.pathname === '/bye');
    assert.equal(await page.locator('body').innerText(), 'rp /bye');

    assert.equal(await promptNone(old), 'login_required', 'the old cookie no longer signs in');
    const ev = events(srv, 'user.logout').at(-1);
    assert.ok(ev, 'user.logout audited');
    assert.equal(ev.client_id, app.client_id);
  });

  test('an unregistered post_logout_redirect_uri: error page, no redirect, session kept', async () => {
    const tokens = await codeFlow();
    const jar = await signedIn(srv, 'alice');
    const r = await jar.fetch(logoutUrl({
      id_token_hint: tokens.id_token, post_logout_redirect_uri: 'http://127.0.0.1:1/evil', state: 'x',
    }));
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
    assert.match(await r.text(), /not registered/);
    const refused = events(srv, 'user.logout_refused').at(-1);
    assert.equal(refused.client_id, app.client_id);
    // the browser's session too
    const { page } = browser;
    const resp = await page.goto(logoutUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: `${rp.bye}x` }));
    assert.equal(resp.status(), 400);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    assert.equal(await promptNone(jar), null, 'the session is kept');
  });

  test('an id_token_hint naming another person than the signed-in one: refused, session kept', async () => {
    const tokens = await codeFlow(); // alice's ID token
    const { page } = browser;
    // the browser signs out and bob signs in
    await page.goto(`${srv.url}/logout`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
    await page.goto(`${srv.url}/login`);
    await submitLogin(page, 'bob', PASSWORD);
    await page.waitForURL((u) => u.pathname === '/login', { waitUntil: 'load' });
    assert.match(await page.locator('body').innerText(), /signed in as.*bob/is);

    let bye = false;
    rp.next('/bye', 3_000).then(() => { bye = true; }, () => {});
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: rp.bye, state: 'st-x' });
    const resp = await page.goto(url.href);
    assert.equal(resp.status(), 400);
    assert.equal(new URL(page.url()).pathname, '/logout');
    const text = await page.locator('body').innerText();
    assert.match(text, /another account/);
    assert.match(text, /still signed in as bob/);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0, 'no sign-out form');
    const refused = events(srv, 'user.logout_refused').at(-1);
    assert.equal(refused.client_id, app.client_id);
    assert.match(refused.reason, /another user/);

    // bob's session is intact: prompt=none with the browser's cookies still signs in
    const jar = new CookieJar();
    for (const c of await browser.context.cookies(srv.url)) jar.cookies.set(c.name, c.value);
    assert.notEqual(await promptNone(jar), 'login_required', 'the session is kept');
    await page.goto(`${srv.url}/login`);
    assert.match(await page.locator('body').innerText(), /signed in as.*bob/is);
    assert.equal(bye, false, 'never sent back to the client');
    // the same hint without a session: nothing to protect, back at the client
    const anon = await fetch(url.href, { redirect: 'manual' });
    assert.equal(anon.status, 303);
  });

  test('an invalid id_token_hint: error page, no redirect', async () => {
    const tokens = await codeFlow();
    const [h, p, s] = tokens.id_token.split('.');
    const forged = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const jar = await signedIn(srv, 'alice');
    for (const hint of [forged, tokens.access_token, 'not-a-jwt']) {
      const r = await jar.fetch(logoutUrl({ id_token_hint: hint, post_logout_redirect_uri: rp.bye }));
      assert.equal(r.status, 400, hint);
      assert.equal(r.headers.get('location'), null);
      assert.match(await r.text(), /not a valid ID token/);
    }
    // post_logout_redirect_uri alone (no hint, no client_id) is refused too
    const r = await jar.fetch(logoutUrl({ post_logout_redirect_uri: rp.bye }));
    assert.equal(r.status, 400);
    assert.equal(await promptNone(jar), null, 'the session is kept');
  });

  test('client_id instead of a hint; a forged POST target is checked again', async () => {
    const jar = await signedIn(srv, 'alice');
    const r = await jar.fetch(logoutUrl({ client_id: app.client_id, post_logout_redirect_uri: rp.bye, state: 'q' }));
    assert.equal(r.status, 200);
    const html = await r.text();
    const csrf = /name="csrf_token" value="([^"]*)"/.exec(html)[1];
    assert.match(r.headers.get('content-security-policy'), new RegExp(`form-action 'self' ${new URL(rp.bye).origin.replace(/\./g, '\\.')}`));
    const post = (uri) => jar.fetch(`${srv.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrf, client_id: app.client_id, post_logout_redirect_uri: uri, state: 'q' }).toString(),
    });
    const bad = await post('http://127.0.0.1:1/evil');
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('location'), null);
    const ok = await post(rp.bye);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), `${rp.bye}?state=q`);
    assert.equal(await promptNone(jar), 'login_required');
  });
});
