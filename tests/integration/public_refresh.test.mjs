// Public clients (token_endpoint_auth_method "none", RFC 6749 §2.1) use and
// revoke the refresh tokens they were issued, with their client_id alone
// (RFC 6749 §6, RFC 7009 §2.1; rotation detects a stolen token, RFC 9700
// §4.14.2); another client, public or not, cannot use or revoke them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import {
  authorizeCode, ensureScope, postAs, redeem, refresh, userinfoStatus,
} from './lib/grants.mjs';
import { API, createFixtureScopes, post } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

describe('public clients and their refresh tokens', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let pub;   // public: authorization_code + refresh_token
  let pub2;  // another public client
  let conf;  // a confidential client

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    ensureScope(srv, 'openid', { description: 'Sign you in' });
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    const base = {
      kind: 'native', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'openid offline_access read', resources: [API],
    };
    pub = createClient(srv, { ...base, client_name: 'Desktop app', token_endpoint_auth_method: 'none' });
    pub2 = createClient(srv, { ...base, client_name: 'Other app', token_endpoint_auth_method: 'none' });
    conf = createClient(srv, { ...base, client_name: 'Server app', token_endpoint_auth_method: 'client_secret_basic' });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  async function tokensOf(client) {
    const jar = await signedIn(srv, 'alice');
    const c = await authorizeCode(srv, jar, client, cb.uri, { scope: 'openid offline_access read' });
    const r = await redeem(srv, client, cb.uri, c);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.ok(r.json.refresh_token, 'a refresh token for a client registered with the grant');
    return r.json;
  }

  test('a public client refreshes with its client_id alone, with rotation', async () => {
    const t1 = await tokensOf(pub);
    const r = await refresh(srv, pub, t1.refresh_token);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.ok(r.json.access_token);
    assert.ok(r.json.refresh_token && r.json.refresh_token !== t1.refresh_token, 'rotated');
    assert.equal(await userinfoStatus(srv, r.json.access_token), 200);
    // the rotated token again: a reuse, the family goes
    const again = await refresh(srv, pub, t1.refresh_token);
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    assert.equal((await refresh(srv, pub, r.json.refresh_token)).json.error, 'invalid_grant');
    assert.equal(await userinfoStatus(srv, r.json.access_token), 401);
  });

  test('a public client revokes its refresh token (the family) and its access token', async () => {
    const t = await tokensOf(pub);
    const r = await postAs(srv, pub, '/revoke', { token: t.refresh_token });
    assert.equal(r.status, 200, r.text);
    const used = await refresh(srv, pub, t.refresh_token);
    assert.equal(used.status, 400);
    assert.equal(used.json.error, 'invalid_grant');
    assert.equal(await userinfoStatus(srv, t.access_token), 401, 'the access token of the family too');

    const t2 = await tokensOf(pub);
    assert.equal(await userinfoStatus(srv, t2.access_token), 200);
    const ra = await postAs(srv, pub, '/revoke', { token: t2.access_token });
    assert.equal(ra.status, 200, ra.text);
    assert.equal(await userinfoStatus(srv, t2.access_token), 401);
  });

  test("another client cannot use or revoke a public client's refresh token", async () => {
    const t = await tokensOf(pub);
    for (const thief of [pub2, conf]) {
      const r = await refresh(srv, thief, t.refresh_token);
      assert.equal(r.status, 400, `${thief.client_name}: ${r.text}`);
      assert.equal(r.json.error, 'invalid_grant');
      const rv = await postAs(srv, thief, '/revoke', { token: t.refresh_token });
      assert.equal(rv.status, 200, 'RFC 7009 §2.2: 200, and nothing changes');
      const ra = await postAs(srv, thief, '/revoke', { token: t.access_token });
      assert.equal(ra.status, 200);
    }
    assert.equal(await userinfoStatus(srv, t.access_token), 200, 'still active');
    const mine = await refresh(srv, pub, t.refresh_token);
    assert.equal(mine.status, 200, 'the owner still refreshes: the attempts used nothing up');
  });

  test('a public client still cannot use other grants or introspect; a confidential client needs its secret', async () => {
    const t = await tokensOf(pub);
    const cc = await post(srv, '/token', { grant_type: 'client_credentials', client_id: pub.client_id });
    assert.equal(cc.status, 401);
    assert.equal(cc.json.error, 'invalid_client');
    const intro = await post(srv, '/introspect', { token: t.access_token, client_id: pub.client_id });
    assert.equal(intro.status, 401);
    assert.equal(intro.json.error, 'invalid_client');
    // a confidential client's id without its secret is not a public client
    const ct = await tokensOf(conf);
    for (const [path, fields] of [
      ['/token', { grant_type: 'refresh_token', refresh_token: ct.refresh_token }],
      ['/revoke', { token: ct.refresh_token }],
    ]) {
      const r = await post(srv, path, { client_id: conf.client_id, ...fields });
      assert.equal(r.status, 401, `${path}: ${r.text}`);
      assert.equal(r.json.error, 'invalid_client');
      assert.match(r.headers.get('www-authenticate') || '', /Basic/);
    }
    assert.equal((await refresh(srv, conf, ct.refresh_token)).status, 200, 'untouched');
  });
});
