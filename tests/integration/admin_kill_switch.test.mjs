// The kill switch through the admin API (POST /admin/v1/clients/{id}/suspend,
// what `mandate client suspend` does): a client holding live access tokens,
// JWT and opaque, refresh tokens, and tokens other agents were delegated from
// its tokens (RFC 8693) loses all of them at once: introspection answers
// {"active": false} for every one on the very next request, its refresh
// tokens are refused, it gets no new token, and the delegated tokens die
// with it. After POST .../resume it gets tokens again; what was revoked
// stays revoked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { authorizeCode, postAs, redeem, refresh } from './lib/grants.mjs';
import { API, API2, agentMetadata, createFixtureScopes, show, tokenBasic } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT = 'urn:ietf:params:oauth:token-type:access_token';

describe('the kill switch through the admin API', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let app;   // the client to suspend: a person's web application, also getting tokens on its own
  let agent; // exchanges app's tokens (delegation)
  let rs;    // a resource server that may introspect tokens for API and API2
  let adminToken;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    app = createClient(srv, {
      client_name: 'Calendar app', kind: 'web', owner: 'alice', resources: [API, API2],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], redirect_uris: [cb.uri],
      scope: 'openid offline_access read write', token_endpoint_auth_method: 'client_secret_basic',
    });
    agent = createClient(srv, agentMetadata({ client_name: 'Agent', grant_types: ['client_credentials', TE] }));
    rs = createClient(srv, { client_name: 'Calendar API', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', introspection_for: [API, API2] });
    const ops = createClient(srv, { client_name: 'Automation', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'mandate:admin' });
    const t = await tokenBasic(srv, ops, { scope: 'mandate:admin' });
    assert.equal(t.status, 200, show(t));
    adminToken = t.json.access_token;
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  const adminPost = async (pathname, body) => {
    const r = await fetch(`${srv.url}${pathname}`, { method: 'POST', body: body && JSON.stringify(body),
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) } });
    return { status: r.status, json: await r.json() };
  };
  const adminPatch = async (pathname, body) => {
    const r = await fetch(`${srv.url}${pathname}`, { method: 'PATCH', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' } });
    return { status: r.status, json: await r.json() };
  };
  const active = async (token) => {
    const r = await postAs(srv, rs, '/introspect', { token });
    assert.equal(r.status, 200, show(r));
    return r.json.active;
  };
  const personTokens = async (jar) => {
    const r = await redeem(srv, app, cb.uri, await authorizeCode(srv, jar, app, cb.uri,
      { scope: 'openid offline_access read', resource: API }));
    assert.equal(r.status, 200, show(r));
    assert.ok(r.json.refresh_token);
    return r.json;
  };

  test('suspend: every token, refresh token and delegated token inactive at once; resume', async () => {
    const jar = await signedIn(srv, 'alice');
    const jwt = await personTokens(jar);
    assert.equal(jwt.access_token.split('.').length, 3, 'a JWT');
    const own = await tokenBasic(srv, app, { scope: 'read', resource: API });
    assert.equal(own.status, 200, show(own));
    // the same client switched to opaque tokens keeps its JWTs live and gets opaque ones
    assert.equal((await adminPatch(`/admin/v1/clients/${app.client_id}`, { access_token_format: 'opaque' })).status, 200);
    const opaque = await personTokens(jar);
    assert.match(opaque.access_token, /^mdt_at_/);
    const exchanged = await postAs(srv, agent, '/token', { grant_type: TE, subject_token: jwt.access_token,
      subject_token_type: AT, resource: API2 });
    assert.equal(exchanged.status, 200, show(exchanged));
    const delegatedFromOpaque = await postAs(srv, agent, '/token', { grant_type: TE,
      subject_token: opaque.access_token, subject_token_type: AT, resource: API2 });
    assert.equal(delegatedFromOpaque.status, 200, show(delegatedFromOpaque));
    const live = [jwt.access_token, own.json.access_token, opaque.access_token, exchanged.json.access_token,
      delegatedFromOpaque.json.access_token];
    for (const t of live) assert.equal(await active(t), true);

    const s = await adminPost(`/admin/v1/clients/${app.client_id}/suspend`);
    assert.equal(s.status, 200);
    assert.deepEqual(s.json, { client_id: app.client_id, status: 'suspended' });
    // the very next requests
    for (const t of live) assert.equal(await active(t), false, 'inactive at once');
    for (const rt of [jwt.refresh_token, opaque.refresh_token]) {
      const r = await refresh(srv, app, rt);
      assert.ok(r.status === 400 || r.status === 401, show(r));
      assert.equal(r.json.access_token, undefined);
    }
    const none = await tokenBasic(srv, app, { scope: 'read' });
    assert.equal(none.status, 401, show(none));
    assert.equal(none.json.error, 'invalid_client');
    const again = await postAs(srv, agent, '/token', { grant_type: TE, subject_token: opaque.access_token,
      subject_token_type: AT, resource: API2 });
    assert.equal(again.status, 400, show(again));

    // resume: new tokens again, the old ones stay dead
    const r = await adminPost(`/admin/v1/clients/${app.client_id}/resume`, {});
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'active');
    const fresh = await tokenBasic(srv, app, { scope: 'read', resource: API });
    assert.equal(fresh.status, 200, show(fresh));
    assert.equal(await active(fresh.json.access_token), true);
    for (const t of live) assert.equal(await active(t), false, 'revoked stays revoked');
    const oldRefresh = await refresh(srv, app, jwt.refresh_token);
    assert.equal(oldRefresh.json.access_token, undefined, show(oldRefresh));
  });

  test('suspending an unknown client is 404 and changes nothing', async () => {
    const r = await adminPost('/admin/v1/clients/no-such-client/suspend');
    assert.equal(r.status, 404);
    assert.equal(r.json.error, 'not_found');
  });
});
