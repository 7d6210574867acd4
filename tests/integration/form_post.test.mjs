// response_mode=form_post (OAuth 2.0 Form Post Response Mode) without
// script: after consent the browser shows a page whose form posts code,
// state and iss to the redirect URI when the person presses "Continue to
// <host>"; the page's CSP form-action allows that origin. Errors use the
// same page.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { FAST_ARGON2, PASSWORD, authorizeUrl, createUsers, pkce } from './lib/authz.mjs';
import { launchBrowser, submitLogin } from './lib/browser.mjs';
import { basic, post } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

/** Records every POST to /cb with its form body. */
async function postServer() {
  const waiters = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const u = new URL(req.url, 'http://127.0.0.1');
      if (u.pathname === '/cb') {
        const hit = { method: req.method, type: req.headers['content-type'], form: new URLSearchParams(body), search: u.search };
        waiters.splice(0).forEach((w) => w(hit));
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('callback received');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    uri: `http://127.0.0.1:${port}/cb`,
    host: `127.0.0.1:${port}`,
    next: (ms = 10_000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no callback')), ms);
      waiters.push((h) => { clearTimeout(t); resolve(h); });
    }),
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('response_mode=form_post', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let app;
  let config;
  let browser;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createUsers(srv, ['alice']);
    cb = await postServer();
    app = createClient(srv, {
      client_name: 'Mail assistant', kind: 'agent', owner: 'alice', grant_types: ['authorization_code'],
      redirect_uris: [cb.uri], scope: 'openid', token_endpoint_auth_method: 'client_secret_basic',
    });
    config = await oidc.discovery(new URL(srv.issuer), app.client_id, app.client_secret,
      oidc.ClientSecretBasic(app.client_secret), { execute: [oidc.allowInsecureRequests] });
    browser = await launchBrowser();
  });
  after(async () => { await browser?.close(); await cb?.close(); await srv?.stop(); });

  test('discovery advertises form_post', () => {
    assert.deepEqual(config.serverMetadata().response_modes_supported, ['query', 'form_post']);
  });

  test('the browser posts code, state and iss to the client; the code exchanges', async () => {
    const { verifier, challenge } = await pkce();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: cb.uri, scope: 'openid', state, nonce, response_mode: 'form_post',
      code_challenge: challenge, code_challenge_method: 'S256',
    });
    const { page } = browser;
    await page.goto(url.href);
    if (new URL(page.url()).pathname === '/login') await submitLogin(page, 'alice', PASSWORD);
    await page.waitForURL((u) => u.pathname === '/consent');
    await page.locator('button[name="decision"][value="allow"]').click();
    const button = page.getByRole('button', { name: `Continue to ${cb.host}` });
    await button.waitFor();
    const got = cb.next();
    await button.click();
    const hit = await got;
    assert.equal(hit.method, 'POST');
    assert.equal(hit.type, 'application/x-www-form-urlencoded');
    assert.equal(hit.search, '', 'nothing in the query');
    assert.equal(hit.form.get('state'), state);
    assert.equal(hit.form.get('iss'), srv.issuer);
    assert.ok(hit.form.get('code'));
    await page.waitForURL((u) => u.href === cb.uri);

    // openid-client takes the posted form as the authorization response
    const request = new Request(cb.uri, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: hit.form.toString(),
    });
    const tokens = await oidc.authorizationCodeGrant(config, request,
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    assert.ok(tokens.access_token);
    assert.equal(tokens.claims().sub, 'alice');
  });

  test('errors in form_post: a page with a form, no redirect', async () => {
    const { challenge } = await pkce();
    const r = await fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: app.client_id, redirect_uri: cb.uri, scope: 'openid',
      prompt: 'none', response_mode: 'form_post', state: 'st-<&>', code_challenge: challenge,
      code_challenge_method: 'S256',
    }), { redirect: 'manual' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('location'), null);
    assert.match(r.headers.get('content-security-policy'), /form-action 'self' http:\/\/127\.0\.0\.1:\d+;/);
    assert.match(r.headers.get('content-security-policy'), /script-src|default-src 'none'/);
    const html = await r.text();
    assert.ok(html.includes(`<form method="post" action="${cb.uri}">`), html);
    assert.match(html, /name="error" value="login_required"/);
    assert.match(html, /name="state" value="st-&lt;&amp;&gt;"/);
    assert.ok(html.includes(`name="iss" value="${srv.issuer}"`));
    assert.doesNotMatch(html, /<script/);
  });

  test('a pushed request (PAR) keeps form_post', async () => {
    const { challenge } = await pkce();
    const pushed = await post(srv, '/par', {
      response_type: 'code', redirect_uri: cb.uri, scope: 'openid', prompt: 'none', state: 'st-par',
      response_mode: 'form_post', code_challenge: challenge, code_challenge_method: 'S256',
    }, { headers: { authorization: basic(app.client_id, app.client_secret) } });
    assert.equal(pushed.status, 201, pushed.text);
    const r = await fetch(authorizeUrl(srv, { client_id: app.client_id, request_uri: pushed.json.request_uri }),
      { redirect: 'manual' });
    assert.equal(r.status, 200);
    const html = await r.text();
    assert.match(html, /name="error" value="login_required"/);
    assert.match(html, /name="state" value="st-par"/);
  });

  test('an unknown response_mode is refused at the redirect URI', async () => {
    const { challenge } = await pkce();
    const r = await fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: app.client_id, redirect_uri: cb.uri, scope: 'openid',
      response_mode: 'fragment', state: 's', code_challenge: challenge, code_challenge_method: 'S256',
    }), { redirect: 'manual' });
    assert.equal(r.status, 303);
    const u = new URL(r.headers.get('location'));
    assert.equal(u.searchParams.get('error'), 'invalid_request');
  });
});
