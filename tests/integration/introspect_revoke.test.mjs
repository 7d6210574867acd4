// RFC 7662 introspection and RFC 7009 revocation, through oauth4webapi, for
// JWT and opaque access tokens; the kill switch (client suspend).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { createClient, describeRun, sleep, startServer } from './lib/server.mjs';
import {
  API, agentMetadata, assertTokenClaims, basic, createFixtureScopes, discover, insecure, post, show,
  tokenBasic, tokenPost,
} from './lib/oauth.mjs';

const CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope', 'app'];

describe('introspection and revocation', { timeout: 90_000 }, () => {
  let srv;
  let as;
  const c = {}; // clients by role
  const m = {}; // their metadata

  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    m.jwt = agentMetadata();
    m.opaque = agentMetadata({ client_name: 'Opaque agent', token_endpoint_auth_method: 'client_secret_post',
      access_token_format: 'opaque' });
    m.rs = agentMetadata({ client_name: 'Expense API', kind: 'service', scope: 'read', resources: [API],
      introspection_for: [API] });
    m.other = agentMetadata({ client_name: 'Unrelated', kind: 'web', scope: 'read',
      resources: ['https://unrelated.example.org'] });
    for (const k of Object.keys(m)) c[k] = createClient(srv, m[k]);
    as = await discover(srv);
  });
  after(() => srv?.stop());

  const auth = (client) => (client.token_endpoint_auth_method === 'client_secret_post'
    ? oauth.ClientSecretPost(client.client_secret) : oauth.ClientSecretBasic(client.client_secret));

  async function introspect(caller, token, hint) {
    const opts = { ...insecure };
    if (hint) opts.additionalParameters = { token_type_hint: hint };
    const res = await oauth.introspectionRequest(as, { client_id: caller.client_id }, auth(caller), token, opts);
    assert.equal(res.status, 200, `introspection answered ${res.status}`);
    assert.match(res.headers.get('content-type') || '', /^application\/json/i);
    return oauth.processIntrospectionResponse(as, { client_id: caller.client_id }, res);
  }

  async function revoke(caller, token, hint) {
    const opts = { ...insecure };
    if (hint) opts.additionalParameters = { token_type_hint: hint };
    const res = await oauth.revocationRequest(as, { client_id: caller.client_id }, auth(caller), token, opts);
    assert.equal(res.status, 200, `revocation answered ${res.status}`);
    await oauth.processRevocationResponse(res);
  }

  async function issue(client, params) {
    const r = client.token_endpoint_auth_method === 'client_secret_post'
      ? await tokenPost(srv, client, params) : await tokenBasic(srv, client, params);
    assert.equal(r.status, 200, show(r));
    return r.json.access_token;
  }

  it('introspects a JWT access token with the same claims it carries', async () => {
    const token = await issue(c.jwt, { scope: 'read', resource: API });
    const jwt = jose.decodeJwt(token);
    const ir = await introspect(c.jwt, token);
    assert.equal(ir.active, true);
    assert.match(ir.token_type, /^bearer$/i, `token_type ${ir.token_type}`);
    for (const k of CLAIMS) assert.deepEqual(ir[k], jwt[k], `introspection ${k}`);
    assertTokenClaims(ir, { issuer: srv.issuer, client: c.jwt, meta: m.jwt, scope: 'read',
      resource: API, auth: 'client_secret_basic', ttl: 600 });
  });

  it('introspects an opaque access token with the same claims a JWT would carry', async () => {
    const token = await issue(c.opaque, { scope: 'read write', resource: API });
    const ir = await introspect(c.opaque, token, 'access_token');
    assert.equal(ir.active, true);
    assert.match(ir.token_type, /^bearer$/i, `token_type ${ir.token_type}`);
    assertTokenClaims(ir, { issuer: srv.issuer, client: c.opaque, meta: m.opaque, scope: 'read write',
      resource: API, auth: 'client_secret_post', ttl: 600 });
  });

  it('lets the resource server of the audience introspect, and no other client', async () => {
    for (const fmt of ['jwt', 'opaque']) {
      const token = await issue(c[fmt], { scope: 'read', resource: API });
      const byRs = await introspect(c.rs, token);
      assert.equal(byRs.active, true, `${fmt}: the resource server of ${API} sees the token`);
      assert.equal(byRs.client_id, c[fmt].client_id);
      const byOther = await introspect(c.other, token);
      assert.deepEqual(byOther, { active: false }, `${fmt}: an unrelated client learns nothing`);
    }
  });

  it('reports garbage and tampered tokens inactive', async () => {
    assert.deepEqual(await introspect(c.jwt, 'not-a-token'), { active: false });
    const token = await issue(c.jwt, { scope: 'read' });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.scope = 'read write admin';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    assert.deepEqual(await introspect(c.jwt, forged), { active: false });
  });

  it('requires client authentication for introspection', async () => {
    const token = await issue(c.jwt, {});
    const none = await post(srv, '/introspect', { token });
    assert.equal(none.status, 401, show(none));
    assert.equal(none.json?.error, 'invalid_client', show(none));
    assert.ok(none.headers.get('www-authenticate'), 'WWW-Authenticate on 401');
    const bad = await post(srv, '/introspect', { token },
      { headers: { authorization: basic(c.jwt.client_id, `${c.jwt.client_secret}x`) } });
    assert.equal(bad.status, 401, show(bad));
    assert.equal(bad.json?.error, 'invalid_client', show(bad));
    assert.match(bad.headers.get('www-authenticate') || '', /^Basic/i);
    assert.equal(bad.json?.active, undefined, 'no introspection result without authentication');
  });

  it('revokes a JWT access token', async () => {
    const token = await issue(c.jwt, { scope: 'read', resource: API });
    assert.equal((await introspect(c.rs, token)).active, true);
    await revoke(c.jwt, token, 'access_token');
    assert.deepEqual(await introspect(c.jwt, token), { active: false });
    assert.deepEqual(await introspect(c.rs, token), { active: false });
    await revoke(c.jwt, token); // revoking twice is fine (RFC 7009 §2.2)
  });

  it('revokes an opaque access token, even under the wrong hint', async () => {
    const token = await issue(c.opaque, { resource: API });
    assert.equal((await introspect(c.opaque, token)).active, true);
    await revoke(c.opaque, token, 'refresh_token');
    assert.deepEqual(await introspect(c.opaque, token), { active: false });
    assert.deepEqual(await introspect(c.rs, token), { active: false });
  });

  it('answers 200 to the revocation of an unknown token', async () => {
    await revoke(c.jwt, 'no-such-token');
  });

  it('does not let a client revoke another client\'s token', async () => {
    for (const fmt of ['jwt', 'opaque']) {
      const token = await issue(c[fmt], { resource: API });
      const r = await post(srv, '/revoke', { token },
        { headers: { authorization: basic(c.other.client_id, c.other.client_secret) } });
      assert.ok(r.status === 200 || r.status === 400 || r.status === 403, show(r));
      assert.equal((await introspect(c[fmt], token)).active, true, `${fmt} token survives: ${show(r)}`);
    }
  });

  it('requires client authentication for revocation', async () => {
    const token = await issue(c.jwt, {});
    const r = await post(srv, '/revoke', { token });
    assert.equal(r.status, 401, show(r));
    assert.equal(r.json?.error, 'invalid_client', show(r));
    assert.equal((await introspect(c.jwt, token)).active, true);
  });

  it('reports an expired token inactive', async () => {
    const meta = agentMetadata({ client_name: 'Brief', access_token_ttl: 2 });
    const brief = createClient(srv, meta);
    const token = await issue(brief, { resource: API });
    const jwt = jose.decodeJwt(token);
    assert.equal(jwt.exp - jwt.iat, 2);
    assert.equal((await introspect(c.rs, token)).active, true);
    await sleep(Math.max(0, jwt.exp * 1000 - Date.now()) + 1200);
    assert.deepEqual(await introspect(c.rs, token), { active: false });
  });

  it('kill switch: suspending a client makes its issued tokens inactive at once, for good', async () => {
    const s = {
      jwt: createClient(srv, agentMetadata({ client_name: 'To suspend' })),
      opaque: createClient(srv, agentMetadata({ client_name: 'To suspend (opaque)', access_token_format: 'opaque' })),
    };
    const tokens = {};
    for (const fmt of ['jwt', 'opaque']) {
      tokens[fmt] = await issue(s[fmt], { scope: 'read', resource: API });
      assert.equal((await introspect(c.rs, tokens[fmt])).active, true);
    }
    for (const fmt of ['jwt', 'opaque']) {
      const r = srv.cli(['client', 'suspend', s[fmt].client_id]);
      assert.equal(r.code, 0, describeRun(r));
    }
    for (const fmt of ['jwt', 'opaque']) {
      assert.deepEqual(await introspect(c.rs, tokens[fmt]), { active: false }, `${fmt} token after suspend`);
      const r = await tokenBasic(srv, s[fmt]);
      assert.equal(r.status, 401, `a suspended client gets no token: ${show(r)}`);
      assert.equal(r.json?.error, 'invalid_client');
    }
    for (const fmt of ['jwt', 'opaque']) {
      const r = srv.cli(['client', 'resume', s[fmt].client_id]);
      assert.equal(r.code, 0, describeRun(r));
    }
    for (const fmt of ['jwt', 'opaque']) {
      assert.deepEqual(await introspect(c.rs, tokens[fmt]), { active: false },
        `${fmt} token stays revoked after resume`);
      const fresh = await issue(s[fmt], { resource: API });
      assert.equal((await introspect(c.rs, fresh)).active, true, `${fmt}: new tokens after resume`);
    }
  });
});

// A JWT's signature is verified at most twice per server thread: with one thread, the same
// token introspected a third time is read from the cache of verified tokens
// (mandate_token_reads_total), answered byte for byte as the first time, and still refused at
// once when it is revoked;
// a token whose bytes differ (a forged payload under the cached token's signature) is not
// taken from the cache.
describe('introspection of a token seen before', { timeout: 60_000 }, () => {
  let srv;
  let agent;
  let rs;

  before(async () => {
    srv = await startServer({ config: { server: { threads: 1 } } });
    createFixtureScopes(srv);
    agent = createClient(srv, agentMetadata());
    rs = createClient(srv, agentMetadata({ client_name: 'Expense API', kind: 'service', scope: 'read',
      resources: [API], introspection_for: [API] }));
  });
  after(() => srv?.stop());

  const reads = async () => {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    const one = (sig) => Number(text.match(new RegExp(`^mandate_token_reads_total\\{signature="${sig}"\\} (\\d+)$`, 'm'))?.[1]);
    return { verified: one('verified'), cached: one('cached') };
  };
  const ask = (token) => post(srv, '/introspect', { token },
    { headers: { authorization: basic(rs.client_id, rs.client_secret) } });

  it('verifies twice, answers the same, and still sees a revocation at once', async () => {
    const r = await tokenBasic(srv, agent, { scope: 'read', resource: API });
    assert.equal(r.status, 200, show(r));
    const token = r.json.access_token;
    const before0 = await reads();
    assert.ok(Number.isInteger(before0.verified) && Number.isInteger(before0.cached), 'the counters are exposed');
    const first = await ask(token);
    assert.equal(first.status, 200, show(first));
    assert.equal(first.json.active, true, show(first));
    for (let i = 0; i < 4; i++) {
      const again = await ask(token);
      assert.equal(again.status, 200, show(again));
      assert.equal(again.text, first.text, 'the same answer from the cache');
    }
    const after5 = await reads();
    assert.equal(after5.verified - before0.verified, 2, 'two verifications: the second keeps it');
    assert.equal(after5.cached - before0.cached, 3, 'three reads from the cache');

    // the same signature under other claims: other bytes, not the cached entry
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url'));
    claims.scope = 'read write admin';
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    const f = await ask(forged);
    assert.equal(f.status, 200, show(f));
    assert.deepEqual(f.json, { active: false });
    const afterForged = await reads();
    assert.deepEqual(afterForged, after5, 'a forged token is neither verified nor cached');

    const rv = await post(srv, '/revoke', { token },
      { headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assert.equal(rv.status, 200, show(rv));
    const revoked = await ask(token);
    assert.equal(revoked.status, 200, show(revoked));
    assert.deepEqual(revoked.json, { active: false }, 'revoked, although its signature is cached');
    const afterRevoke = await reads();
    assert.equal(afterRevoke.cached - afterForged.cached, 1, 'the revoked token came from the cache');
  });
});
