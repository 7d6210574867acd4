// The server as a process and a store: concurrent issuance keeps the audit
// chain whole, state survives a restart, SIGTERM shuts down cleanly, and
// client lifecycle (expiry, deletion) reaches the tokens already issued.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { createClient, describeRun, sleep, startServer } from './lib/server.mjs';
import {
  API, agentMetadata, auditEvents, basic, createFixtureScopes, eventType, post, show, tokenBasic,
  tokenPost,
} from './lib/oauth.mjs';

describe('server lifecycle', { timeout: 90_000 }, () => {
  let srv;
  let jwtClient;
  let opaqueClient;
  let rs;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    jwtClient = createClient(srv, agentMetadata());
    opaqueClient = createClient(srv, agentMetadata({ client_name: 'Opaque',
      token_endpoint_auth_method: 'client_secret_post', access_token_format: 'opaque' }));
    rs = createClient(srv, agentMetadata({ client_name: 'API', kind: 'service', scope: 'read', resources: [API],
      introspection_for: [API] }));
  });
  after(() => srv?.stop());

  const introspect = async (token) => {
    const r = await post(srv, '/introspect', { token },
      { headers: { authorization: basic(rs.client_id, rs.client_secret) } });
    assert.equal(r.status, 200, show(r));
    return r.json;
  };

  it('issues tokens to many concurrent requests, each audited once, chain intact', async () => {
    const issuedBefore = auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;
    const N = 64;
    const rs_ = await Promise.all(Array.from({ length: N }, (_, i) => (i % 2
      ? tokenBasic(srv, jwtClient, { resource: API })
      : tokenPost(srv, opaqueClient, { resource: API }))));
    for (const r of rs_) assert.equal(r.status, 200, show(r));
    const tokens = rs_.map((r) => r.json.access_token);
    assert.equal(new Set(tokens).size, N, 'every token is different');
    const jtis = tokens.filter((_, i) => i % 2).map((t) => jose.decodeJwt(t).jti);
    assert.equal(new Set(jtis).size, N / 2, 'every jti is different');
    const issued = auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;
    assert.equal(issued - issuedBefore, N, 'one token.issued event per token');
    const v = srv.cli(['audit', 'verify']);
    assert.equal(v.code, 0, describeRun(v));
  });

  it('keeps keys, clients, tokens and revocations across a restart', async () => {
    const jwt = (await tokenBasic(srv, jwtClient, { resource: API })).json.access_token;
    const opaque = (await tokenPost(srv, opaqueClient, { resource: API })).json.access_token;
    const revoked = (await tokenPost(srv, opaqueClient, { resource: API })).json.access_token;
    const revokedJwt = (await tokenBasic(srv, jwtClient, { resource: API })).json.access_token;
    const byOwner = [
      await post(srv, '/revoke', { token: revoked, client_id: opaqueClient.client_id,
        client_secret: opaqueClient.client_secret }),
      await post(srv, '/revoke', { token: revokedJwt },
        { headers: { authorization: basic(jwtClient.client_id, jwtClient.client_secret) } }),
    ];
    for (const r of byOwner) assert.equal(r.status, 200, show(r));
    for (const t of [revoked, revokedJwt]) assert.equal((await introspect(t)).active, false);
    const kidsBefore = (await (await fetch(`${srv.url}/jwks`)).json()).keys.map((k) => k.kid).sort();

    const stopped = await srv.restart();
    assert.deepEqual(stopped, { code: 0, signal: null }, `SIGTERM exits 0: ${srv.logs.slice(-2000)}`);

    const kidsAfter = (await (await fetch(`${srv.url}/jwks`)).json()).keys.map((k) => k.kid).sort();
    assert.deepEqual(kidsAfter, kidsBefore, 'same signing keys after restart');
    await jose.jwtVerify(jwt, jose.createRemoteJWKSet(new URL(`${srv.url}/jwks`)),
      { issuer: srv.issuer, typ: 'at+jwt' });
    assert.equal((await introspect(jwt)).active, true, 'JWT still active');
    assert.equal((await introspect(opaque)).active, true, 'opaque token still active');
    assert.equal((await introspect(revoked)).active, false, 'revoked opaque token stays revoked');
    assert.equal((await introspect(revokedJwt)).active, false, 'revoked JWT stays revoked');
    const again = await tokenBasic(srv, jwtClient);
    assert.equal(again.status, 200, show(again));
    const newer = jose.decodeProtectedHeader(again.json.access_token).kid;
    assert.equal(newer, jose.decodeProtectedHeader(jwt).kid, 'signs with the same key');
  });

  it('stops issuing to a client once its expires_at has passed', async () => {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    const meta = agentMetadata({ client_name: 'Short-lived', expires_at: expiresAt.toISOString().replace('.000Z', 'Z') });
    const c = createClient(srv, meta);
    const t = await tokenBasic(srv, c, { resource: API });
    assert.equal(t.status, 200, show(t));
    const claims = jose.decodeJwt(t.json.access_token);
    assert.ok(claims.exp <= expiresAt.getTime() / 1000, 'no token outlives its client');
    assert.equal(t.json.expires_in, claims.exp - claims.iat);
    assert.equal((await introspect(t.json.access_token)).active, true);
    await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 1100);
    assert.equal((await introspect(t.json.access_token)).active, false,
      "an expired client's tokens are inactive");
    const r = await tokenBasic(srv, c);
    assert.equal(r.status, 401, `an expired client gets no token: ${show(r)}`);
    assert.equal(r.json?.error, 'invalid_client');
    const s = srv.cli(['client', 'show', c.client_id, '--json']);
    assert.equal(s.code, 0, describeRun(s));
    assert.equal(s.json().status, 'expired');
  });

  it('deleting a client makes its tokens inactive', async () => {
    const c = createClient(srv, agentMetadata({ client_name: 'Deleted' }));
    const o = createClient(srv, agentMetadata({ client_name: 'Deleted (opaque)', access_token_format: 'opaque' }));
    const tokens = [];
    for (const x of [c, o]) {
      const r = await tokenBasic(srv, x, { resource: API });
      assert.equal(r.status, 200, show(r));
      tokens.push(r.json.access_token);
      assert.equal((await introspect(r.json.access_token)).active, true);
    }
    for (const x of [c, o]) {
      const d = srv.cli(['client', 'delete', x.client_id]);
      assert.equal(d.code, 0, describeRun(d));
    }
    for (const t of tokens) assert.deepEqual(await introspect(t), { active: false });
  });
});
