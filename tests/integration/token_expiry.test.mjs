// No token outlives its client: a client registered with an expires_at gets
// access and refresh tokens whose expiry is at most its own, from the code
// grant and from the refresh grant alike (one clamp for every grant), as
// introspection reports them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { authorizeCode, postAs, redeem, refresh } from './lib/grants.mjs';
import { API, createFixtureScopes } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

describe('token expiry and the client\'s expiry', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let app;
  let expiresAt;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    // an hour: well before the refresh token lifetime (days), after the access token's
    expiresAt = Math.floor(Date.now() / 1000) + 3600;
    app = createClient(srv, {
      kind: 'web', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'read', resources: [API], client_name: 'Short-lived app',
      token_endpoint_auth_method: 'client_secret_basic',
      expires_at: new Date(expiresAt * 1000).toISOString().replace('.000Z', 'Z'),
    });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  const introspect = async (token) => {
    const r = await postAs(srv, app, '/introspect', { token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, true, r.text);
    return r.json;
  };

  test('refresh tokens of the code and the refresh grant expire with the client', async () => {
    const jar = await signedIn(srv, 'alice');
    const code = await redeem(srv, app, cb.uri, await authorizeCode(srv, jar, app, cb.uri));
    assert.equal(code.status, 200, code.text);
    assert.ok(code.json.refresh_token, code.text);
    const first = await introspect(code.json.refresh_token);
    assert.equal(first.token_type, 'refresh_token');
    assert.ok(first.exp <= expiresAt, `the code grant's refresh token (exp ${first.exp}) outlives its client (${expiresAt})`);
    assert.ok((await introspect(code.json.access_token)).exp <= expiresAt);

    const next = await refresh(srv, app, code.json.refresh_token);
    assert.equal(next.status, 200, next.text);
    const rotated = await introspect(next.json.refresh_token);
    assert.ok(rotated.exp <= expiresAt, `the rotated refresh token (exp ${rotated.exp}) outlives its client`);
    assert.ok((await introspect(next.json.access_token)).exp <= expiresAt);
  });
});
