// Registration that MCP clients can use (SPEC §3.3, §3.7): under open
// registration's defaults a public client using the authorization code flow
// with PKCE (what MCP clients register) is active at once; the consent page
// says prominently that it is unverified, who registered it and where the
// answer goes; in that consented flow it may ask for any scope that is not of
// sensitivity approval and for any resource of [forward_auth] resources,
// though its own metadata names none; a self-registered client_credentials
// client needs approval; a bad [forward_auth] resources file stops `serve`.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as oidc from 'openid-client';

import { launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import {
  authorizeUrl, callbackServer, consent, FAST_ARGON2, PASSWORD, pkce, signedIn,
} from './lib/authz.mjs';
import { basic, jwtParts, post, show } from './lib/oauth.mjs';
import { assertRegistered, register } from './lib/register.mjs';
import {
  cliJson, createClient, createScope, describeRun, prepare, runMandate, startServer,
} from './lib/server.mjs';

const MCP = 'https://mcp.example.com/mcp';
const OTHER = 'https://other.example.com/api';
const opts = { execute: [oidc.allowInsecureRequests] };

describe('an MCP-style client registers openly and signs a person in', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let dir;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-mcp-'));
    const resources = path.join(dir, 'resources.json');
    await writeFile(resources, JSON.stringify([{ resource: MCP, resource_name: 'Example MCP server',
      match: 'https://mcp.example.com:443/mcp', scopes: { '*': ['read'], POST: ['write'] } }]));
    srv = await startServer({ config: { users: FAST_ARGON2, registration: { open: 'true', rate_per_source: 1000 },
      forward_auth: { resources }, web: { login_max_failures: 100, login_max_failures_per_source: 1000 } } });
    createScope(srv, 'read', { description: 'Read your notes' });
    createScope(srv, 'write', { description: 'Change your notes', sensitivity: 'consent' });
    createScope(srv, 'payments', { description: 'Move money', sensitivity: 'approval' });
    const u = srv.cli(['user', 'create', 'alice', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(u.code, 0, describeRun(u));
    cb = await callbackServer();
  });
  after(async () => {
    await cb?.close();
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const mcpMetadata = () => ({
    client_name: 'Notes MCP client', redirect_uris: [cb.uri], grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'], token_endpoint_auth_method: 'none',
  });

  it('registers (active), is shown as unverified at consent, and gets a token for the MCP resource', async () => {
    const config = await oidc.dynamicClientRegistration(new URL(srv.issuer), mcpMetadata(), oidc.None(), opts);
    const meta = config.clientMetadata();
    assert.equal(meta.status, 'active', 'active at once: the person who consents is the human in the loop');
    assert.equal(meta.client_secret, undefined);
    assert.equal(meta.resources, undefined, 'it registered no resources');

    const b = await launchBrowser();
    try {
      const { verifier, challenge } = await pkce();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: cb.uri, scope: 'read write', resource: MCP,
        code_challenge: challenge, code_challenge_method: 'S256', state,
      });
      const { page } = b;
      await page.goto(url.href);
      await submitLogin(page, 'alice', PASSWORD);
      await page.waitForURL((u) => u.pathname === '/consent', { timeout: 10_000 });
      const notice = page.locator('.unverified');
      assert.equal(await notice.count(), 1, 'an unverified notice');
      const text = await notice.innerText();
      assert.match(text, /Unverified application/);
      assert.match(text, /registered itself/);
      assert.equal(await page.locator('.unverified-host').innerText(), new URL(cb.uri).host);
      const main = await page.locator('main').innerText();
      assert.ok(main.indexOf('Unverified application') < main.indexOf('Notes MCP client'), 'said first');
      assert.match(main, /Change your notes/);
      assert.match(main, new RegExp(MCP.replace(/[./]/g, '\\$&')));
      await screenshot(page, 'consent-unverified');
      const got = cb.next();
      await page.locator('button[name="decision"][value="allow"]').click();
      const back = await got;
      const tokens = await oidc.authorizationCodeGrant(config, new URL(`${cb.uri}${back.search}`),
        { pkceCodeVerifier: verifier, expectedState: state });
      const at = jwtParts(tokens.access_token).payload;
      assert.equal(at.aud, MCP, 'the protected resource it asked for');
      assert.deepEqual(at.scope.split(' ').sort(), ['read', 'write']);
      assert.equal(at.client_id, meta.client_id);
      assert.ok(tokens.refresh_token, 'a refresh token for a client registered with refresh_token');
    } finally {
      await b.close();
    }
  });

  async function authorizeError(clientId, params) {
    const jar = await signedIn(srv, 'alice');
    const { challenge } = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, { client_id: clientId, response_type: 'code', redirect_uri: cb.uri,
      code_challenge: challenge, code_challenge_method: 'S256', state: 's', ...params }));
    assert.equal(r.status, 303, await r.text());
    const loc = new URL(r.headers.get('location'), srv.url);
    return loc;
  }

  it('an approval scope or an unlisted resource is refused at /authorize', async () => {
    const b = assertRegistered(await register(srv, mcpMetadata()), 'active');
    const pay = await authorizeError(b.client_id, { scope: 'read payments', resource: MCP });
    assert.equal(pay.searchParams.get('error'), 'invalid_scope', pay.href);
    const other = await authorizeError(b.client_id, { scope: 'read', resource: OTHER });
    assert.equal(other.searchParams.get('error'), 'invalid_target', other.href);
  });

  it('a public client registered with a portless loopback redirect may use any port (RFC 8252 §7.3)', async () => {
    const port = new URL(cb.uri).port;
    const b = assertRegistered(await register(srv, { ...mcpMetadata(), redirect_uris: ['http://127.0.0.1/cb'] }), 'active');
    const jar = await signedIn(srv, 'alice');
    const { challenge } = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, { client_id: b.client_id, response_type: 'code', redirect_uri: cb.uri,
      code_challenge: challenge, code_challenge_method: 'S256', state: 's', scope: 'read', resource: MCP }));
    assert.equal(r.status, 303, await r.text());
    assert.match(r.headers.get('location'), /^\/consent\?request=/, 'on to the consent page, not an error');
    // another path, or a non-loopback host, is still refused without a redirect
    for (const uri of [`http://127.0.0.1:${port}/other`, `http://localhost.example.com:${port}/cb`]) {
      const bad = await jar.fetch(authorizeUrl(srv, { client_id: b.client_id, response_type: 'code', redirect_uri: uri,
        code_challenge: challenge, code_challenge_method: 'S256', state: 's', scope: 'read', resource: MCP }));
      assert.equal(bad.status, 400, uri);
      assert.equal(bad.headers.get('location'), null);
    }
  });

  it('every loopback IP literal (127.0.0.0/8, [::1]) may use any port, the name localhost may not (RFC 8252 §7.3, §8.3)', async () => {
    const port = new URL(cb.uri).port;
    const b = assertRegistered(await register(srv, { ...mcpMetadata(),
      redirect_uris: ['http://127.0.0.2/cb', 'http://[0:0:0:0:0:0:0:1]/cb', 'http://localhost/cb'] }), 'active');
    const jar = await signedIn(srv, 'alice');
    const { challenge } = await pkce();
    const ask = (uri) => jar.fetch(authorizeUrl(srv, { client_id: b.client_id, response_type: 'code', redirect_uri: uri,
      code_challenge: challenge, code_challenge_method: 'S256', state: 's', scope: 'read', resource: MCP }));
    for (const uri of [`http://127.0.0.2:${port}/cb`, `http://[0:0:0:0:0:0:0:1]:${port}/cb`]) {
      const r = await ask(uri);
      assert.equal(r.status, 303, `${uri}: ${await r.text()}`);
      assert.match(r.headers.get('location'), /^\/consent\?request=/, `${uri}: on to the consent page`);
    }
    // localhost only as registered; another loopback address, userinfo or a
    // look-alike host is refused without a redirect
    for (const uri of [`http://localhost:${port}/cb`, `http://127.0.0.3:${port}/cb`, `http://[::1]:${port}/cb`,
      `http://127.0.0.2:${port}@evil.example/cb`, `http://127.0.0.2.evil.example:${port}/cb`, `http://127.2:${port}/cb`]) {
      const bad = await ask(uri);
      assert.equal(bad.status, 400, uri);
      assert.equal(bad.headers.get('location'), null, uri);
    }
  });

  it('a client an admin created keeps its own scopes; any client may ask for a protected resource', async () => {
    const c = createClient(srv, { client_name: 'Admin app', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      token_endpoint_auth_method: 'none', scope: 'read' });
    const w = await authorizeError(c.client_id, { scope: 'read write', resource: MCP });
    assert.equal(w.searchParams.get('error'), 'invalid_scope', 'an admin set its scopes: no widening');
    const jar = await signedIn(srv, 'alice');
    const { challenge } = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, { client_id: c.client_id, response_type: 'code', redirect_uri: cb.uri,
      code_challenge: challenge, code_challenge_method: 'S256', state: 's', scope: 'read', resource: MCP }));
    assert.equal(r.status, 303);
    const loc = r.headers.get('location');
    assert.ok(loc.startsWith('/consent'), loc);
    const page = await (await jar.fetch(`${srv.url}${loc}`)).text();
    assert.doesNotMatch(page, /Unverified application/, 'an admin-created client is not called unverified');
    const done = await consent(srv, jar, loc);
    assert.equal(done.status, 303);
    assert.ok(new URL(done.headers.get('location')).searchParams.get('code'));
  });

  it('the refresh of such a consented grant keeps what the person granted', async () => {
    const b = assertRegistered(await register(srv, { ...mcpMetadata(), client_name: 'Confidential MCP client',
      token_endpoint_auth_method: 'client_secret_basic' }), 'active');
    const jar = await signedIn(srv, 'alice');
    const { verifier, challenge } = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, { client_id: b.client_id, response_type: 'code', redirect_uri: cb.uri,
      code_challenge: challenge, code_challenge_method: 'S256', state: 's', scope: 'read write', resource: MCP }));
    assert.equal(r.status, 303, await r.text());
    const done = await consent(srv, jar, r.headers.get('location'));
    const code = new URL(done.headers.get('location')).searchParams.get('code');
    assert.ok(code, done.headers.get('location'));
    const auth = { headers: { authorization: basic(b.client_id, b.client_secret) } };
    const t = await post(srv, '/token', { grant_type: 'authorization_code', code, redirect_uri: cb.uri,
      code_verifier: verifier }, auth);
    assert.equal(t.status, 200, show(t));
    assert.equal(jwtParts(t.json.access_token).payload.aud, MCP);
    const t2 = await post(srv, '/token', { grant_type: 'refresh_token', refresh_token: t.json.refresh_token }, auth);
    assert.equal(t2.status, 200, show(t2));
    const at2 = jwtParts(t2.json.access_token).payload;
    assert.equal(at2.aud, MCP);
    assert.deepEqual(at2.scope.split(' ').sort(), ['read', 'write']);
  });

  it('a self-registered client_credentials client needs approval by default', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'daemon', grant_types: ['client_credentials'], scope: 'read' }), 'pending');
    const r = await post(srv, '/token', { grant_type: 'client_credentials', scope: 'read' },
      { headers: { authorization: basic(b.client_id, b.client_secret) } });
    assert.equal(r.status, 401, show(r));
    assert.equal(cliJson(srv, ['request', 'list', '--status', 'pending']).filter((x) => x.client_id === b.client_id).length, 1);
  });

  it('an initial access token vouches: its client_credentials client is active', async () => {
    const t = cliJson(srv, ['iat', 'create']);
    const b = assertRegistered(await register(srv, { client_name: 'vouched daemon', grant_types: ['client_credentials'], scope: 'read' },
      { iat: t.initial_access_token }), 'active');
    const r = await post(srv, '/token', { grant_type: 'client_credentials', scope: 'read' },
      { headers: { authorization: basic(b.client_id, b.client_secret) } });
    assert.equal(r.status, 200, show(r));
  });
});

describe('[forward_auth] resources is validated when serve starts', { timeout: 60_000 }, () => {
  const cases = [
    ['not JSON', 'nope', /resources/],
    ['not an array', '{}', /resources/],
    ['unknown member', JSON.stringify([{ resource: MCP, match: 'https://mcp.example.com:443/mcp', colour: 'blue' }]), /unknown member/],
    ['no match', JSON.stringify([{ resource: MCP }]), /match/],
    ['duplicate', JSON.stringify([{ resource: MCP, match: 'https://a:443/' }, { resource: MCP, match: 'https://b:443/' }]), /duplicate/],
    ['bad scopes', JSON.stringify([{ resource: MCP, match: 'https://a:443/', scopes: { GET: 'read' } }]), /scopes/],
  ];
  for (const [what, text, pattern] of cases) {
    it(`${what}: serve stops with an error naming the file`, async () => {
      const ctx = await prepare({ config: {} });
      try {
        const file = path.join(ctx.dir, 'resources.json');
        await writeFile(file, text);
        await writeFile(ctx.conf, `${await readFile(ctx.conf, 'utf8')}\n[forward_auth]\nresources = ${file}\n`);
        const init = runMandate(['--config', ctx.conf, 'init'], { cwd: ctx.dir });
        assert.equal(init.code, 0, describeRun(init));
        const r = runMandate(['--config', ctx.conf, 'serve'], { cwd: ctx.dir });
        assert.notEqual(r.code, 0, describeRun(r));
        assert.match(r.stderr, /^mandate: /m, describeRun(r));
        assert.match(r.stderr, /resources\.json/, describeRun(r));
        assert.match(r.stderr, pattern, describeRun(r));
      } finally {
        await rm(ctx.dir, { recursive: true, force: true });
      }
    });
  }
});
