// OpenID Connect's standard scopes (OIDC Core §5.4, §11): openid, profile,
// email and offline_access exist after `mandate init` and are added at
// start-up to a database that lacks them, never over an operator's own
// scope of that name. An off-the-shelf OpenID client (openid-client) works
// without the operator creating them; in an OpenID request a refresh token
// comes with offline_access only (it outlives the sign-in session), while
// requests without openid keep getting one for clients registered with the
// refresh_token grant.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import { csrfOf } from './lib/browser.mjs';
import {
  callbackServer, consent, createUsers, FAST_ARGON2, signedIn,
} from './lib/authz.mjs';
import {
  API, auditEvents, basic, createFixtureScopes, eventBody, eventType, post,
} from './lib/oauth.mjs';
import { dbQuery } from './lib/pg.mjs';
import { cliJson, createClient, startServer } from './lib/server.mjs';

const STANDARD = { openid: 'none', profile: 'consent', email: 'consent', offline_access: 'consent' };

function scopesOf(srv) {
  return Object.fromEntries(cliJson(srv, ['scope', 'list']).map((s) => [s.name, s]));
}

describe('the OpenID Connect standard scopes', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let app;    // authorization_code + refresh_token
  let noRt;   // authorization_code only
  let config;
  let configNoRt;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    const base = {
      kind: 'web', owner: 'alice', redirect_uris: [cb.uri], resources: [API],
      scope: 'openid profile email offline_access read', token_endpoint_auth_method: 'client_secret_basic',
    };
    app = createClient(srv, { ...base, client_name: 'Calendar', grant_types: ['authorization_code', 'refresh_token'] });
    noRt = createClient(srv, { ...base, client_name: 'Viewer', grant_types: ['authorization_code'] });
    const discover = (c) => oidc.discovery(new URL(srv.issuer), c.client_id, c.client_secret,
      oidc.ClientSecretBasic(c.client_secret), { execute: [oidc.allowInsecureRequests] });
    config = await discover(app);
    configNoRt = await discover(noRt);
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  /** The code flow with jar (signed in), consenting when asked: openid-client's token response. */
  async function codeFlow(cfg, jar, scope) {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = scope.split(' ').includes('openid') ? oidc.randomNonce() : undefined;
    const url = oidc.buildAuthorizationUrl(cfg, {
      redirect_uri: cb.uri, scope, state, nonce, resource: API,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    let r = await jar.fetch(url.href);
    assert.equal(r.status, 303, await r.text());
    let loc = r.headers.get('location');
    let page = '';
    if (loc.startsWith('/consent')) {
      page = await (await jar.fetch(`${srv.url}${loc}`)).text();
      r = await consent(srv, jar, loc);
      assert.equal(r.status, 303, await r.text());
      loc = r.headers.get('location');
    }
    const tokens = await oidc.authorizationCodeGrant(cfg, new URL(loc),
      { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    return { tokens, page };
  }

  async function signOut(jar) {
    const page = await (await jar.fetch(`${srv.url}/logout`)).text();
    const r = await jar.fetch(`${srv.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(page) }).toString(),
    });
    assert.equal(r.status, 200, await r.text());
  }

  const introspect = async (token) => (await post(srv, '/introspect', { token },
    { headers: { authorization: basic(app.client_id, app.client_secret) } })).json;

  test('mandate init creates them with their OpenID Connect meaning', () => {
    const all = scopesOf(srv);
    for (const [name, sensitivity] of Object.entries(STANDARD)) {
      assert.ok(all[name], `${name} exists`);
      assert.equal(all[name].sensitivity, sensitivity, name);
      assert.ok(all[name].description.length > 0, `${name} has a description`);
    }
    assert.match(all.offline_access.description, /refresh token/);
    // init again (an upgrade) creates nothing twice
    const r = srv.cli(['init']);
    assert.equal(r.code, 0, r.stderr);
    const created = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'scope.created')
      .map((e) => (typeof e.data === 'string' ? JSON.parse(e.data) : e.data ?? {}).scope).filter((s) => s in STANDARD);
    assert.deepEqual(created.sort(), Object.keys(STANDARD).sort(), 'each created once, audited');
    assert.ok(config.serverMetadata().scopes_supported.includes('offline_access'));
  });

  test('openid without offline_access: an ID token, no refresh token', async () => {
    const jar = await signedIn(srv, 'alice');
    const { tokens } = await codeFlow(config, jar, 'openid profile');
    assert.equal(tokens.claims().sub, 'alice');
    assert.equal(tokens.refresh_token, undefined);
    assert.equal(tokens.scope, 'openid profile');
  });

  test('openid with offline_access: a refresh token that outlives the sign-in', async () => {
    const jar = await signedIn(srv, 'alice');
    const { tokens, page } = await codeFlow(config, jar, 'openid offline_access');
    assert.match(page, /offline_access/, 'the person consents to offline access');
    assert.match(page, /outlives your sign-in/);
    assert.match(tokens.refresh_token ?? '', /^mdt_rt_/);
    await signOut(jar);
    const again = await jar.fetch(`${srv.url}/login`);
    assert.doesNotMatch(await again.text(), /signed in as/i, 'the session is gone');
    const t2 = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(t2.access_token);
    assert.equal((await introspect(t2.access_token)).active, true);
    assert.equal((await introspect(t2.refresh_token)).active, true);
  });

  test('without openid: a refresh token as before, for clients registered with the refresh_token grant', async () => {
    const jar = await signedIn(srv, 'alice');
    const { tokens } = await codeFlow(config, jar, 'read');
    assert.equal(tokens.id_token, undefined);
    assert.match(tokens.refresh_token ?? '', /^mdt_rt_/);
    const other = await codeFlow(configNoRt, jar, 'read');
    assert.equal(other.tokens.refresh_token, undefined);
  });

  test('offline_access for a client without the refresh_token grant: no refresh token', async () => {
    const jar = await signedIn(srv, 'alice');
    const { tokens } = await codeFlow(configNoRt, jar, 'openid offline_access');
    assert.ok(tokens.id_token);
    assert.equal(tokens.refresh_token, undefined);
  });
});

describe('the standard scopes on a database from before', { timeout: 60_000 }, () => {
  let srv;
  after(async () => { await srv?.stop(); });

  test('start-up adds the missing ones and leaves an operator-made one alone', async () => {
    srv = await startServer();
    await srv.stop({ removeDir: false });
    // a database of an earlier version: no email nor offline_access, and a
    // profile scope the operator made with their own text and sensitivity
    dbQuery(srv, "DELETE FROM scopes WHERE name IN ('email', 'offline_access');"
      + " UPDATE scopes SET description = 'Operator text', sensitivity = 'approval' WHERE name = 'profile';");
    assert.equal(scopesOf(srv).email, undefined);
    await srv.restart();
    const all = scopesOf(srv);
    assert.equal(all.email?.sensitivity, 'consent');
    assert.equal(all.offline_access?.sensitivity, 'consent');
    assert.equal(all.profile.description, 'Operator text');
    assert.equal(all.profile.sensitivity, 'approval');
  });
});
