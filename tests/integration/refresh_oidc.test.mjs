// Refresh tokens with rotation and reuse detection, and OpenID Connect
// (SPEC §3.4): the browser signs in and consents, openid-client exchanges
// the code and validates the ID token, calls /userinfo, refreshes; a reused
// refresh token revokes its family (checked by introspection), another
// client's refresh is refused, and RFC 7009 revocation takes the family.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oidc from 'openid-client';

import { launchBrowser, submitLogin } from './lib/browser.mjs';
import { API, auditEvents, basic, createFixtureScopes, eventBody, eventType, post } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

const PASSWORD = 'correct horse battery';
const FAST_ARGON2 = { argon2_memory_kib: 8192, argon2_time_cost: 1 };

async function callbackServer() {
  const waiters = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname === '/cb') waiters.splice(0).forEach((w) => w(u));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('callback received');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    uri: `http://127.0.0.1:${server.address().port}/cb`,
    next: () => new Promise((r) => waiters.push(r)),
    close: () => new Promise((r) => server.close(r)),
  };
}

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

async function introspect(srv, client, token) {
  const r = await post(srv, '/introspect', { token }, { headers: { authorization: basic(client.client_id, client.client_secret) } });
  assert.equal(r.status, 200);
  return r.json;
}

function refreshForm(srv, client, refresh_token) {
  return post(srv, '/token', { grant_type: 'refresh_token', refresh_token },
    { headers: { authorization: basic(client.client_id, client.client_secret) } });
}

describe('refresh tokens and OpenID Connect', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let app;   // confidential, authorization_code + refresh_token
  let other; // another confidential client
  let config;
  let browser;

  /** Browser login (first time) and consent; openid-client exchanges the code. */
  async function codeFlow(scope) {
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = scope.split(' ').includes('openid') ? oidc.randomNonce() : undefined;
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: cb.uri, scope, resource: API, state, nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const { page } = browser;
    const got = cb.next();
    await page.goto(url.href);
    if (new URL(page.url()).pathname === '/login') await submitLogin(page, 'alice', PASSWORD);
    const first = await Promise.race([got, page.waitForURL((u) => u.pathname === '/consent', { timeout: 10_000 }).then(() => null)]);
    let back = first;
    if (!back) {
      await page.locator('button[name="decision"][value="allow"]').click();
      back = await got;
    }
    const full = new URL(`${cb.uri}${back.search}`);
    const tokens = await oidc.authorizationCodeGrant(config, full,
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return { tokens, nonce };
  }

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    // openid, profile, email and offline_access exist from `mandate init`
    const r = srv.cli(['user', 'create', 'alice', '--name', 'Alice Liddell', '--email', 'alice@example.com', '--password-stdin'],
      { input: `${PASSWORD}\n` });
    assert.equal(r.code, 0, r.stderr);
    cb = await callbackServer();
    const base = {
      kind: 'agent', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [cb.uri],
      scope: 'openid profile email offline_access read write', resources: [API], token_endpoint_auth_method: 'client_secret_basic',
    };
    app = createClient(srv, { ...base, client_name: 'Mail assistant' });
    other = createClient(srv, { ...base, client_name: 'Other assistant' });
    config = await oidc.discovery(new URL(srv.issuer), app.client_id, app.client_secret, oidc.ClientSecretBasic(app.client_secret),
      { execute: [oidc.allowInsecureRequests] });
    browser = await launchBrowser();
  });
  after(async () => { await browser?.close(); await cb?.close(); await srv?.stop(); });

  test('discovery is an OpenID provider document', async () => {
    const m = config.serverMetadata();
    assert.equal(m.userinfo_endpoint, `${srv.issuer}/userinfo`);
    assert.deepEqual(m.subject_types_supported, ['public']);
    assert.ok(m.id_token_signing_alg_values_supported.length === 1);
    for (const s of ['openid', 'profile', 'email', 'offline_access']) assert.ok(m.scopes_supported.includes(s));
    assert.ok(m.grant_types_supported.includes('refresh_token'));
    assert.ok(m.claims_supported.includes('sub'));
  });

  test('code flow: validated ID token, userinfo, refresh with rotation, reuse revokes the family', async () => {
    // offline_access: an OpenID request gets a refresh token only with it (OIDC Core §11)
    const { tokens, nonce } = await codeFlow('openid profile email offline_access read');
    // openid-client validated iss, aud, exp, nonce and the signature; check the rest
    const claims = tokens.claims();
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, app.client_id);
    assert.equal(claims.nonce, nonce);
    assert.equal(typeof claims.auth_time, 'number');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, 'urn:mandate:acr:pwd');
    assert.equal(typeof claims.sid, 'string');
    const jwks = jose.createRemoteJWKSet(new URL(`${srv.issuer}/jwks`));
    const { protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, { issuer: srv.issuer, audience: app.client_id, typ: 'JWT' });
    const digest = createHash(protectedHeader.alg === 'EdDSA' ? 'sha512' : 'sha256').update(tokens.access_token).digest();
    assert.equal(claims.at_hash, digest.subarray(0, digest.length / 2).toString('base64url'));
    assert.match(tokens.refresh_token, /^mdt_rt_/);

    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.deepEqual(info, { sub: 'alice', name: 'Alice Liddell', email: 'alice@example.com' });

    // rotation: a new refresh token; narrowing the scope works, widening does not
    const t2 = await oidc.refreshTokenGrant(config, tokens.refresh_token, { scope: 'openid read' });
    assert.notEqual(t2.refresh_token, tokens.refresh_token);
    assert.equal(t2.scope, 'openid read');
    assert.equal((await introspect(srv, app, tokens.refresh_token)).active, false, 'the old one is used up');
    const live = await introspect(srv, app, t2.refresh_token);
    assert.equal(live.active, true);
    assert.equal(live.token_type, 'refresh_token');
    assert.equal(live.scope, 'openid profile email offline_access read', 'the refresh token keeps the grant');
    const wide = await post(srv, '/token', { grant_type: 'refresh_token', refresh_token: t2.refresh_token, scope: 'write' },
      { headers: { authorization: basic(app.client_id, app.client_secret) } });
    assert.equal(wide.status, 400);
    assert.equal(wide.json.error, 'invalid_scope');

    // another client presenting it: invalid_grant, and the token still works for its client
    const stolen = await refreshForm(srv, other, t2.refresh_token);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.json.error, 'invalid_grant');
    const t3 = await oidc.refreshTokenGrant(config, t2.refresh_token);
    assert.equal((await introspect(srv, app, t3.access_token)).active, true);

    // reuse of a rotated token: refused, and the whole family is revoked
    const reuse = await refreshForm(srv, app, tokens.refresh_token);
    assert.equal(reuse.status, 400);
    assert.equal(reuse.json.error, 'invalid_grant');
    assert.equal((await introspect(srv, app, t3.refresh_token)).active, false, 'the newest refresh token');
    for (const at of [tokens.access_token, t2.access_token, t3.access_token])
      assert.equal((await introspect(srv, app, at)).active, false, 'access tokens of the family');
    const after3 = await refreshForm(srv, app, t3.refresh_token);
    assert.equal(after3.json.error, 'invalid_grant');
    const ev = events(srv, 'token.refresh_reused');
    assert.equal(ev.length, 1);
    assert.equal(ev[0].subject ?? ev[0].sub, 'alice');
    const me = await fetch(`${srv.issuer}/userinfo`, { headers: { authorization: `Bearer ${t3.access_token}` } });
    assert.equal(me.status, 401);
    assert.match(me.headers.get('www-authenticate'), /error="invalid_token"/);
  });

  test('revoking a refresh token (RFC 7009) revokes its family', async () => {
    const { tokens } = await codeFlow('read');
    assert.equal(tokens.id_token, undefined, 'no ID token without openid');
    const t2 = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    const r = await post(srv, '/revoke', { token: t2.refresh_token }, { headers: { authorization: basic(app.client_id, app.client_secret) } });
    assert.equal(r.status, 200);
    assert.equal((await introspect(srv, app, t2.refresh_token)).active, false);
    assert.equal((await introspect(srv, app, t2.access_token)).active, false);
    assert.equal((await refreshForm(srv, app, t2.refresh_token)).json.error, 'invalid_grant');
    // userinfo needs openid
    const me = await fetch(`${srv.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 401, 'the first access token of the family is revoked too');
  });

  test('userinfo: no token, a token without openid', async () => {
    const none = await fetch(`${srv.issuer}/userinfo`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate'), /Bearer error="invalid_token"/);
    const { tokens } = await codeFlow('read');
    const me = await fetch(`${srv.issuer}/userinfo`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 403);
    assert.match(me.headers.get('www-authenticate'), /insufficient_scope/);
  });

  test('refresh_token grant needs authorization_code in the metadata', () => {
    const r = srv.cli(['client', 'create'], {
      input: JSON.stringify({ client_name: 'x', kind: 'agent', owner: 'alice', grant_types: ['client_credentials', 'refresh_token'], scope: 'read' }),
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /refresh_token grant goes with the authorization_code/);
  });
});
