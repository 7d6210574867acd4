// The kill switch revokes by issue time (tokens_valid_after), so whatever is
// issued after a resume must not be issued "before" it: a suspension and a
// resume within the same second, then a sign-in and refreshes in that second,
// must give an access token that is active and a refresh token that works,
// from the code grant and from the refresh grant alike. The rounds are
// bounded and each starts with a second; at least one must fall inside one
// second for the test to count.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { authorizeCode, postAs, redeem, refresh } from './lib/grants.mjs';
import { API, createFixtureScopes } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

const ROUNDS = 16;

/** Waits for the start of the next second (at most one second), so that a round has all of it. */
const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));

describe('a resume within the second of a suspension', { timeout: 180_000 }, () => {
  let srv;
  let cb;
  let app;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    app = createClient(srv, {
      kind: 'web', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'read', resources: [API], client_name: 'Resumed app',
      token_endpoint_auth_method: 'client_secret_basic',
    });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  const active = async (token) => {
    const r = await postAs(srv, app, '/introspect', { token });
    assert.equal(r.status, 200, r.text);
    return r.json.active;
  };

  test('issues tokens that are active, from the code and the refresh grant', async () => {
    const jar = await signedIn(srv, 'alice');
    await redeem(srv, app, cb.uri, await authorizeCode(srv, jar, app, cb.uri)); // consent given once
    let within = 0;
    for (let i = 0; i < ROUNDS && within < 2; i++) {
      await nextSecond();
      const started = Math.floor(Date.now() / 1000);
      for (const cmd of ['suspend', 'resume']) {
        const r = srv.cli(['client', cmd, app.client_id]);
        assert.equal(r.code, 0, r.stderr);
      }
      const code = await redeem(srv, app, cb.uri, await authorizeCode(srv, jar, app, cb.uri));
      assert.equal(code.status, 200, code.text);
      const next = await refresh(srv, app, code.json.refresh_token);
      const sameSecond = Math.floor(Date.now() / 1000) === started;
      assert.equal(next.status, 200, `the refresh token of a code redeemed after the resume: ${next.text}`);
      assert.equal(await active(code.json.access_token), true, 'the code grant\'s access token');
      assert.equal(await active(next.json.access_token), true, 'the refresh grant\'s access token');
      const again = await refresh(srv, app, next.json.refresh_token);
      assert.equal(again.status, 200, `the rotated refresh token: ${again.text}`);
      if (sameSecond) within++;
    }
    assert.ok(within > 0, 'no round fell within one second: the test proved nothing');
  });
});
