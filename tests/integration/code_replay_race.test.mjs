// A replayed authorization code revokes everything its first redemption
// issued, even when the two redemptions race (RFC 6749 §4.1.2, RFC 9700
// §4.5): the ids of the access token and of the refresh token family are
// recorded by the very statement that uses the code, so the second
// redemption finds them even while the first one is still minting them.
// Each round redeems 20 codes twice at once (40 connections whose last
// bytes are sent together); afterwards no token survives.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import {
  authorizeCode, clientAuth, postAs, redeem, refresh, sendTogether,
} from './lib/grants.mjs';
import { API, auditEvents, createFixtureScopes, eventBody, eventType } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

const ROUNDS = 6;     // bounded: 6 x 20 double redemptions
const CODES = 20;

describe('replayed authorization codes under concurrency', { timeout: 300_000 }, () => {
  let srv;
  let cb;
  let jwtApp;
  let opaqueApp;

  before(async () => {
    srv = await startServer({ config: { server: { threads: 16 }, users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    const base = {
      kind: 'web', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'read', resources: [API],
      token_endpoint_auth_method: 'client_secret_basic',
    };
    jwtApp = createClient(srv, { ...base, client_name: 'JWT app' });
    opaqueApp = createClient(srv, { ...base, client_name: 'Opaque app', access_token_format: 'opaque' });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  async function active(client, token) {
    const r = await postAs(srv, client, '/introspect', { token });
    assert.equal(r.status, 200, r.text);
    return r.json.active;
  }

  test(`${ROUNDS} rounds of ${CODES} concurrent double redemptions: zero surviving tokens`, async () => {
    const jar = await signedIn(srv, 'alice');
    let replays = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const client = round % 2 ? opaqueApp : jwtApp;
      const codes = [];
      for (let i = 0; i < CODES; i++) codes.push(await authorizeCode(srv, jar, client, cb.uri));
      const { headers } = clientAuth(client);
      const form = (c) => ({
        path: '/token', headers,
        fields: { grant_type: 'authorization_code', code: c.code, redirect_uri: cb.uri, code_verifier: c.verifier },
      });
      const answers = await sendTogether(srv, codes.flatMap((c) => [form(c), form(c)]));
      const issued = [];
      for (let i = 0; i < CODES; i++) {
        const pair = answers.slice(2 * i, 2 * i + 2);
        const ok = pair.filter((r) => r.status === 200);
        assert.ok(ok.length <= 1, `round ${round} code ${i}: one redemption at most: ${pair.map((r) => r.text)}`);
        const refused = pair.filter((r) => r.status === 400);
        assert.equal(ok.length + refused.length, 2, pair.map((r) => r.text).join(' | '));
        for (const r of refused) assert.equal(r.json.error, 'invalid_grant');
        issued.push(...ok.map((r) => r.json));
        replays += 1;
      }
      assert.ok(issued.length > 0, 'some redemptions won');
      for (const t of issued) {
        assert.ok(t.access_token && t.refresh_token, 'both tokens issued to the winner');
        assert.equal(await active(client, t.access_token), false, `round ${round}: access token revoked`);
        assert.equal(await active(client, t.refresh_token), false, `round ${round}: refresh token revoked`);
        const r = await refresh(srv, client, t.refresh_token);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error, 'invalid_grant');
      }
    }
    const reused = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'token.code_reused');
    assert.equal(reused.length, replays, 'every second redemption is audited');
  });

  test('a code used once keeps its tokens; used again later, they go', async () => {
    const jar = await signedIn(srv, 'alice');
    const c = await authorizeCode(srv, jar, jwtApp, cb.uri);
    const first = await redeem(srv, jwtApp, cb.uri, c);
    assert.equal(first.status, 200, first.text);
    assert.equal(await active(jwtApp, first.json.access_token), true);
    assert.equal(await active(jwtApp, first.json.refresh_token), true);
    const again = await redeem(srv, jwtApp, cb.uri, c);
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    assert.equal(await active(jwtApp, first.json.access_token), false);
    assert.equal(await active(jwtApp, first.json.refresh_token), false);
  });
});
