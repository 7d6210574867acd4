// Pushed authorization requests (RFC 9126) at /par: openid-client pushes,
// the browser signs in and consents, the client exchanges the code; and the
// refusals: a client that requires PAR sent to /authorize directly, a
// request_uri used twice, bad client credentials, an invalid pushed request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oidc from 'openid-client';

import {
  callbackServer, consent, createUsers, FAST_ARGON2, PASSWORD, pkce, signedIn,
} from './lib/authz.mjs';
import { launchBrowser, submitLogin } from './lib/browser.mjs';
import {
  API, auditEvents, basic, createFixtureScopes, eventBody, eventType, post,
} from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

const PREFIX = 'urn:ietf:params:oauth:request_uri:';

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

describe('pushed authorization requests (/par)', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let conf;   // client_secret_basic, PAR required
  let pub;    // public client, PAR optional

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice', 'bob']);
    cb = await callbackServer();
    const base = {
      kind: 'agent', owner: 'alice', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      scope: 'read write', resources: [API],
    };
    conf = createClient(srv, {
      ...base, client_name: 'PAR web app', token_endpoint_auth_method: 'client_secret_basic',
      require_pushed_authorization_requests: true,
    });
    pub = createClient(srv, { ...base, client_name: 'PAR native', token_endpoint_auth_method: 'none' });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  const auth = () => ({ authorization: basic(conf.client_id, conf.client_secret) });

  async function push(client, fields, headers = {}) {
    return post(srv, '/par', { response_type: 'code', redirect_uri: cb.uri, scope: 'read', ...fields }, { headers });
  }

  test('discovery advertises the endpoint', async () => {
    const meta = await (await fetch(`${srv.issuer}/.well-known/oauth-authorization-server`)).json();
    assert.equal(meta.pushed_authorization_request_endpoint, `${srv.issuer}/par`);
    assert.equal(meta.require_pushed_authorization_requests, false);
  });

  test('openid-client + browser: PAR, login, consent, code exchange', async () => {
    const config = await oidc.discovery(new URL(srv.issuer), conf.client_id, undefined,
      oidc.ClientSecretBasic(conf.client_secret), { execute: [oidc.allowInsecureRequests] });
    const b = await launchBrowser();
    try {
      const { verifier, challenge } = await pkce();
      const state = oidc.randomState();
      const url = await oidc.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: cb.uri, scope: 'read write', resource: API,
        code_challenge: challenge, code_challenge_method: 'S256', state,
      });
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
      assert.ok(url.searchParams.get('request_uri').startsWith(PREFIX));
      const pushed = events(srv, 'authz.pushed').at(-1);
      assert.equal(pushed.client_id, conf.client_id);
      await b.page.goto(url.href);
      assert.equal(new URL(b.page.url()).pathname, '/login');
      await submitLogin(b.page, 'alice', PASSWORD);
      await b.page.waitForURL((u) => u.pathname === '/consent', { timeout: 10_000 });
      const main = await b.page.locator('main').innerText();
      assert.match(main, /PAR web app/);
      assert.match(main, /client_secret_basic/);
      const got = cb.next();
      await b.page.locator('button[name="decision"][value="allow"]').click();
      const back = await got;
      assert.equal(back.searchParams.get('state'), state);
      assert.equal(back.searchParams.get('iss'), srv.issuer);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(`${cb.uri}${back.search}`),
        { pkceCodeVerifier: verifier, expectedState: state });
      const jwks = jose.createRemoteJWKSet(new URL(`${srv.issuer}/jwks`));
      const { payload } = await jose.jwtVerify(tokens.access_token, jwks, { issuer: srv.issuer });
      assert.equal(payload.sub, 'alice');
      assert.equal(payload.client_id, conf.client_id);
      assert.equal(payload.scope, 'read write');
      assert.equal(payload.aud, API);
    } finally {
      await b.close();
    }
  });

  test('a client that requires PAR is refused at /authorize without it', async () => {
    const jar = await signedIn(srv, 'bob');
    const { challenge } = await pkce();
    const u = new URL(`${srv.url}/authorize`);
    Object.entries({
      response_type: 'code', client_id: conf.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: challenge, code_challenge_method: 'S256', state: 'st-nopar',
    }).forEach(([k, v]) => u.searchParams.set(k, v));
    const r = await jar.fetch(u.href);
    assert.equal(r.status, 303);
    const loc = new URL(r.headers.get('location'));
    assert.equal(`${loc.origin}${loc.pathname}`, cb.uri);
    assert.equal(loc.searchParams.get('error'), 'invalid_request');
    assert.match(loc.searchParams.get('error_description'), /pushed authorization requests/);
    assert.equal(loc.searchParams.get('state'), 'st-nopar');
    assert.equal(loc.searchParams.get('code'), null);
    assert.match(events(srv, 'authz.refused').at(-1).reason, /pushed authorization/);
  });

  test('a request_uri is used once; other parameters beside it are ignored', async () => {
    const jar = await signedIn(srv, 'alice'); // alice consented to read write above
    const { verifier, challenge } = await pkce();
    const r = await push(pub, { client_id: pub.client_id, code_challenge: challenge, code_challenge_method: 'S256', state: 'st-once' });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.expires_in, 60);
    assert.ok(r.json.request_uri.startsWith(PREFIX));
    const url = (extra = {}) => {
      const u = new URL(`${srv.url}/authorize`);
      Object.entries({ client_id: pub.client_id, request_uri: r.json.request_uri, ...extra })
        .forEach(([k, v]) => u.searchParams.set(k, v));
      return u.href;
    };
    // a scope and state beside request_uri are ignored: the pushed ones count
    let first = await jar.fetch(url({ scope: 'write', state: 'injected' }));
    assert.equal(first.status, 303);
    let loc = first.headers.get('location');
    if (loc.startsWith('/consent')) {
      first = await consent(srv, jar, loc);
      loc = first.headers.get('location');
    }
    const back = new URL(loc);
    assert.equal(back.searchParams.get('state'), 'st-once');
    const code = back.searchParams.get('code');
    assert.ok(code);
    const t = await post(srv, '/token', {
      grant_type: 'authorization_code', client_id: pub.client_id, code, redirect_uri: cb.uri, code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    assert.equal(t.json.scope, 'read');

    const second = await jar.fetch(url());
    assert.equal(second.status, 303);
    const again = new URL(second.headers.get('location'));
    assert.equal(`${again.origin}${again.pathname}`, cb.uri);
    assert.equal(again.searchParams.get('error'), 'invalid_request_uri');
    assert.equal(again.searchParams.get('code'), null);
    assert.equal(again.searchParams.get('iss'), srv.issuer);
    assert.match(events(srv, 'authz.refused').at(-1).reason, /invalid_request_uri/);
  });

  test('a pushed request cannot be consented to without /authorize', async () => {
    const jar = await signedIn(srv, 'alice');
    const { challenge } = await pkce();
    const r = await push(conf, { code_challenge: challenge, code_challenge_method: 'S256' }, auth());
    assert.equal(r.status, 201);
    const id = r.json.request_uri.slice(PREFIX.length);
    const page = await jar.fetch(`${srv.url}/consent?request=${encodeURIComponent(id)}`);
    assert.equal(page.status, 400);
  });

  test('bad client credentials: 401 invalid_client, audited', async () => {
    const { challenge } = await pkce();
    const r = await push(conf, { code_challenge: challenge, code_challenge_method: 'S256' },
      { authorization: basic(conf.client_id, 'wrong-secret') });
    assert.equal(r.status, 401);
    assert.equal(r.json.error, 'invalid_client');
    assert.ok(r.headers.get('www-authenticate'));
    assert.equal(r.json.request_uri, undefined);
    assert.equal(events(srv, 'client.auth_failed').at(-1).client_id, conf.client_id);
    // a confidential client cannot push as a public one
    const none = await push(conf, { client_id: conf.client_id, code_challenge: challenge, code_challenge_method: 'S256' });
    assert.equal(none.status, 401);
    assert.equal(none.json.error, 'invalid_client');
  });

  test('the checks of /authorize apply: 400 with the error, audited', async () => {
    const { challenge } = await pkce();
    const cases = [
      [{ code_challenge: challenge, code_challenge_method: 'plain' }, 'invalid_request'],
      [{}, 'invalid_request'], // no PKCE
      [{ code_challenge: challenge, code_challenge_method: 'S256', redirect_uri: 'https://evil.example/cb' }, 'invalid_request'],
      [{ code_challenge: challenge, code_challenge_method: 'S256', scope: 'admin' }, 'invalid_scope'],
      [{ code_challenge: challenge, code_challenge_method: 'S256', response_type: 'token' }, 'unsupported_response_type'],
      [{ code_challenge: challenge, code_challenge_method: 'S256', request_uri: `${PREFIX}x` }, 'invalid_request'],
    ];
    for (const [fields, error] of cases) {
      const r = await push(conf, fields, auth());
      assert.equal(r.status, 400, `${JSON.stringify(fields)}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error, error, JSON.stringify(fields));
      assert.equal(r.json.request_uri, undefined);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
    assert.ok(events(srv, 'par.refused').length >= cases.length);
  });
});
