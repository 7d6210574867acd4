// The client_credentials grant with client_secret_basic and client_secret_post,
// driven by oauth4webapi and openid-client; JWT access tokens verified with
// jose against the published JWKS, for every signing algorithm.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { createClient, startServer } from './lib/server.mjs';
import {
  API, API2, agentMetadata, assertTokenClaims, createFixtureScopes, discover, get, insecure,
  looksLikeJwt, scopeSet, show, tokenBasic, tokenPost,
} from './lib/oauth.mjs';

const KEY_SHAPES = {
  ES256: { kty: 'EC', crv: 'P-256' },
  RS256: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
};

/** Sets up a server with one client per secret auth method. */
async function setup(opts) {
  const srv = await startServer(opts);
  createFixtureScopes(srv);
  const basicMeta = agentMetadata();
  const postMeta = agentMetadata({ client_name: 'Report bot', kind: 'service', owner: 'bob',
    risk_tier: 'low', software_id: 'report-bot', software_version: '0.9',
    token_endpoint_auth_method: 'client_secret_post' });
  const basicClient = createClient(srv, basicMeta);
  const postClient = createClient(srv, postMeta);
  const as = await discover(srv);
  return { srv, basicClient, postClient, basicMeta, postMeta, as };
}

/** Asserts the HTTP shape of a successful token response. */
function assertTokenResponseHeaders(res) {
  assert.equal(res.status, 200);
  assert.match(res.headers.get('cache-control') || '', /\bno-store\b/i, 'Cache-Control: no-store');
  assert.match(res.headers.get('content-type') || '', /^application\/json/i);
}

/** Asserts the JWK that signed a token has the shape of alg. */
async function assertSigningKey(srv, kid, alg) {
  const jwks = (await get(srv, '/jwks')).json;
  const jwk = jwks.keys.find((k) => k.kid === kid);
  assert.ok(jwk, `kid ${kid} is published in /jwks: ${JSON.stringify(jwks)}`);
  for (const [k, v] of Object.entries(KEY_SHAPES[alg])) assert.equal(jwk[k], v, `jwk.${k}`);
  if (jwk.alg !== undefined) assert.equal(jwk.alg, alg, 'jwk.alg');
  if (jwk.use !== undefined) assert.equal(jwk.use, 'sig', 'jwk.use');
  if (jwk.kty === 'RSA') {
    assert.ok(Buffer.from(jwk.n, 'base64url').length * 8 >= 2048, 'RSA keys of at least 2048 bits');
  }
}

for (const alg of ['ES256', 'RS256', 'PS256', 'EdDSA']) {
  describe(`client_credentials, tokens signed with ${alg}`, { timeout: 60_000 }, () => {
    let ctx;
    let jwks;
    before(async () => {
      ctx = await setup({ config: { tokens: { signing_alg: alg } } });
      jwks = jose.createRemoteJWKSet(new URL(ctx.as.jwks_uri));
    });
    after(() => ctx?.srv.stop());

    it('issues a JWT access token to client_secret_basic (oauth4webapi)', async () => {
      const { srv, as, basicClient, basicMeta } = ctx;
      const res = await oauth.clientCredentialsGrantRequest(as, { client_id: basicClient.client_id },
        oauth.ClientSecretBasic(basicClient.client_secret), { scope: 'read', resource: API }, insecure);
      assertTokenResponseHeaders(res);
      const tr = await oauth.processClientCredentialsResponse(as, { client_id: basicClient.client_id }, res);
      assert.equal(tr.token_type, 'bearer');
      assert.equal(typeof tr.expires_in, 'number');
      if (tr.scope !== undefined) assert.deepEqual(scopeSet(tr.scope), ['read']);
      assert.equal(tr.refresh_token, undefined, 'no refresh token for client_credentials');

      const { payload, protectedHeader } = await jose.jwtVerify(tr.access_token, jwks, {
        issuer: srv.issuer, audience: API, typ: 'at+jwt', algorithms: [alg],
      });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(typeof protectedHeader.kid, 'string');
      await assertSigningKey(srv, protectedHeader.kid, alg);
      assertTokenClaims(payload, { issuer: srv.issuer, client: basicClient, meta: basicMeta,
        scope: 'read', resource: API, auth: 'client_secret_basic' });
      assert.ok(Math.abs(tr.expires_in - (payload.exp - payload.iat)) <= 2, 'expires_in matches exp');
    });

    it('issues a JWT access token to client_secret_post with the whole registered scope (oauth4webapi)', async () => {
      const { srv, as, postClient, postMeta } = ctx;
      const res = await oauth.clientCredentialsGrantRequest(as, { client_id: postClient.client_id },
        oauth.ClientSecretPost(postClient.client_secret), {}, insecure);
      assertTokenResponseHeaders(res);
      const tr = await oauth.processClientCredentialsResponse(as, { client_id: postClient.client_id }, res);
      const { payload, protectedHeader } = await jose.jwtVerify(tr.access_token, jwks, {
        issuer: srv.issuer, typ: 'at+jwt', algorithms: [alg],
      });
      await assertSigningKey(srv, protectedHeader.kid, alg);
      assertTokenClaims(payload, { issuer: srv.issuer, client: postClient, meta: postMeta,
        scope: 'read write', auth: 'client_secret_post' });
    });

    it('rejects a token whose signature was tampered with', async () => {
      const r = await tokenBasic(ctx.srv, ctx.basicClient);
      assert.equal(r.status, 200, show(r));
      const [h, p, s] = r.json.access_token.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length >> 1] ^= 0x01;
      await assert.rejects(jose.jwtVerify(`${h}.${p}.${sig.toString('base64url')}`, jwks,
        { issuer: ctx.srv.issuer, typ: 'at+jwt' }), /signature/i);
    });
  });
}

describe('client_credentials behaviour (default configuration)', { timeout: 60_000 }, () => {
  let ctx;
  before(async () => { ctx = await setup(); });
  after(() => ctx?.srv.stop());

  it('signs with ES256 by default, with a 10 minute lifetime', async () => {
    const r = await tokenBasic(ctx.srv, ctx.basicClient, { scope: 'write' });
    assert.equal(r.status, 200, show(r));
    const { header, payload } = { header: jose.decodeProtectedHeader(r.json.access_token),
      payload: jose.decodeJwt(r.json.access_token) };
    assert.equal(header.alg, 'ES256');
    assert.equal(payload.exp - payload.iat, 600);
    assert.ok(Math.abs(r.json.expires_in - 600) <= 1, `expires_in ${r.json.expires_in}`);
    assert.match(r.json.token_type, /^bearer$/i);
  });

  it('narrows to the requested scope and audience', async () => {
    const r = await tokenPost(ctx.srv, ctx.postClient, { scope: 'write', resource: API2 });
    assert.equal(r.status, 200, show(r));
    const p = jose.decodeJwt(r.json.access_token);
    assertTokenClaims(p, { issuer: ctx.srv.issuer, client: ctx.postClient, meta: ctx.postMeta,
      scope: 'write', resource: API2, auth: 'client_secret_post', ttl: 600 });
    assert.deepEqual(scopeSet(r.json.scope ?? p.scope), ['write']);
  });

  it('gives each token its own jti', async () => {
    const a = await tokenBasic(ctx.srv, ctx.basicClient);
    const b = await tokenBasic(ctx.srv, ctx.basicClient);
    assert.equal(a.status, 200, show(a));
    assert.equal(b.status, 200, show(b));
    assert.notEqual(jose.decodeJwt(a.json.access_token).jti, jose.decodeJwt(b.json.access_token).jti);
    assert.notEqual(a.json.access_token, b.json.access_token);
  });

  it('honours the client access_token_ttl metadata', async () => {
    const meta = agentMetadata({ client_name: 'Short lived', access_token_ttl: 120 });
    const c = createClient(ctx.srv, meta);
    assert.equal(c.access_token_ttl, 120);
    const r = await tokenBasic(ctx.srv, c);
    assert.equal(r.status, 200, show(r));
    const p = jose.decodeJwt(r.json.access_token);
    assert.equal(p.exp - p.iat, 120);
    assert.ok(Math.abs(r.json.expires_in - 120) <= 1);
  });

  it('issues an opaque token to a client with access_token_format opaque', async () => {
    const meta = agentMetadata({ client_name: 'Opaque one', access_token_format: 'opaque' });
    const c = createClient(ctx.srv, meta);
    assert.equal(c.access_token_format, 'opaque');
    const r = await tokenBasic(ctx.srv, c, { scope: 'read' });
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers.get('cache-control') || '', /\bno-store\b/i);
    assert.equal(typeof r.json.access_token, 'string');
    assert.ok(!looksLikeJwt(r.json.access_token), `opaque token is not a JWT: ${r.json.access_token}`);
    assert.ok(r.json.access_token.length >= 32, 'opaque token carries enough entropy');
    assert.match(r.json.token_type, /^bearer$/i);
    assert.ok(Math.abs(r.json.expires_in - 600) <= 1);
  });

  it('works with openid-client (discovery, client_secret_post)', async () => {
    const { srv, postClient, postMeta } = ctx;
    const config = await oidc.discovery(new URL(srv.issuer), postClient.client_id,
      postClient.client_secret, oidc.ClientSecretPost(postClient.client_secret),
      { algorithm: 'oauth2', execute: [oidc.allowInsecureRequests] });
    const tr = await oidc.clientCredentialsGrant(config, { scope: 'read write', resource: API });
    assert.equal(tr.token_type, 'bearer');
    const jwks = jose.createRemoteJWKSet(new URL(`${srv.issuer}/jwks`));
    const { payload } = await jose.jwtVerify(tr.access_token, jwks,
      { issuer: srv.issuer, audience: API, typ: 'at+jwt' });
    assertTokenClaims(payload, { issuer: srv.issuer, client: postClient, meta: postMeta,
      scope: 'read write', resource: API, auth: 'client_secret_post', ttl: 600 });
  });

  it('works with openid-client (discovery, client_secret_basic)', async () => {
    const { srv, basicClient } = ctx;
    const config = await oidc.discovery(new URL(srv.issuer), basicClient.client_id,
      basicClient.client_secret, oidc.ClientSecretBasic(basicClient.client_secret),
      { execute: [oidc.allowInsecureRequests] });
    const tr = await oidc.clientCredentialsGrant(config, { scope: 'read' });
    const p = jose.decodeJwt(tr.access_token);
    assert.equal(p.app.auth, 'client_secret_basic');
    assert.equal(p.client_id, basicClient.client_id);
  });
});

describe('token settings from configuration and environment', { timeout: 60_000 }, () => {
  let ctx;
  before(async () => {
    ctx = await setup({
      config: { tokens: { signing_alg: 'ES256', access_token_ttl: '5m' } },
      env: { MANDATE_TOKENS_SIGNING_ALG: 'PS256' },
    });
  });
  after(() => ctx?.srv.stop());

  it('takes access_token_ttl from the file and signing_alg from MANDATE_TOKENS_SIGNING_ALG', async () => {
    const r = await tokenBasic(ctx.srv, ctx.basicClient);
    assert.equal(r.status, 200, show(r));
    const jwks = jose.createRemoteJWKSet(new URL(`${ctx.srv.issuer}/jwks`));
    const { payload, protectedHeader } = await jose.jwtVerify(r.json.access_token, jwks,
      { issuer: ctx.srv.issuer, typ: 'at+jwt' });
    assert.equal(protectedHeader.alg, 'PS256', 'the environment overrides the file');
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(Math.abs(r.json.expires_in - 300) <= 1);
  });
});

describe('opaque tokens by configuration', { timeout: 60_000 }, () => {
  let ctx;
  before(async () => { ctx = await setup({ config: { tokens: { access_token_format: 'opaque' } } }); });
  after(() => ctx?.srv.stop());

  it('issues opaque tokens to every client, and JWTs to a client that asks for jwt', async () => {
    const r = await tokenPost(ctx.srv, ctx.postClient);
    assert.equal(r.status, 200, show(r));
    assert.ok(!looksLikeJwt(r.json.access_token), 'opaque by default');
    const c = createClient(ctx.srv, agentMetadata({ access_token_format: 'jwt' }));
    const j = await tokenBasic(ctx.srv, c);
    assert.equal(j.status, 200, show(j));
    assert.ok(looksLikeJwt(j.json.access_token), 'the client metadata wins');
  });
});
