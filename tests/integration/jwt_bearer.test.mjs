// The JWT bearer grant (RFC 7523 §2.1): assertions of issuers trusted in the
// [jwt_bearer] issuers file, mapped to a subject and scopes by claim rules;
// the requesting client authenticates as usual (a secret or private_key_jwt).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { createClient, startServer } from './lib/server.mjs';
import {
  API, agentMetadata, basic, createFixtureScopes, discover, insecure, jwtParts, post, scopeSet, show,
} from './lib/oauth.mjs';
import { JWT_BEARER, expectRefusal, jwksServer, keyPair, now, sign } from './lib/assertions.mjs';

const IDP = 'https://idp.example.test';
const REMOTE = 'https://remote-idp.example.test';

describe('JWT bearer grant', { timeout: 90_000 }, () => {
  let dir;
  let srv;
  let web;
  let idp;
  let remote;
  let stranger;
  let client;
  let pkjClient;
  let pkjKey;
  let plain;
  let as;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-jb-'));
    web = await jwksServer();
    idp = await keyPair('ES256');
    remote = await keyPair('RS256');
    stranger = await keyPair('ES256');
    pkjKey = await keyPair('ES256'); // oauth4webapi 3.8 signs Ed25519 keys as alg "Ed25519" (RFC 9864)
    web.set('/remote.json', { jwks: { keys: [remote.publicJwk] } });
    await writeFile(path.join(dir, 'idp.json'), JSON.stringify({ keys: [idp.publicJwk] }));
    const issuers = path.join(dir, 'jwt-bearer.json');
    await writeFile(issuers, JSON.stringify([
      { issuer: IDP, jwks_file: 'idp.json', max_lifetime: 600,
        rules: [
          { match: { tenant: 'acme', email_verified: true }, subject_prefix: 'acme:', scopes: ['read'] },
          { match: { tenant: 'globex' }, subject_claim: 'email', scopes: ['read', 'write', 'admin'] },
        ] },
      { issuer: REMOTE, jwks_uri: web.url('/remote.json'), audience: 'urn:mandate:test', single_use: false,
        rules: [{ scopes: ['read'] }] },
    ]));
    srv = await startServer({ config: {
      jwt_bearer: { issuers },
      client_auth: { jwks_uri_allow_http: 'true', jwks_uri_allow_private: 'true' },
    } });
    createFixtureScopes(srv);
    const grants = ['client_credentials', JWT_BEARER];
    client = createClient(srv, agentMetadata({ client_name: 'federated', grant_types: grants, scope: 'read write' }));
    pkjClient = createClient(srv, agentMetadata({ client_name: 'federated pkj', grant_types: grants,
      token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [pkjKey.publicJwk] } }));
    plain = createClient(srv, agentMetadata({ client_name: 'not registered for the grant' }));
    as = await discover(srv);
  });
  after(async () => {
    await srv?.stop();
    await web?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function claims(over = {}) {
    const t = now();
    const c = { iss: IDP, sub: 'u-123', aud: srv.issuer, iat: t, exp: t + 300, jti: crypto.randomUUID(),
      tenant: 'acme', email_verified: true, email: 'alice@globex.example', ...over };
    for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
    return c;
  }

  const grant = (assertion, params = {}, c = client) => post(srv, '/token',
    { grant_type: JWT_BEARER, assertion, ...params },
    { headers: { authorization: basic(c.client_id, c.client_secret) } });

  it('is advertised in discovery', () => {
    assert.ok(as.grant_types_supported.includes(JWT_BEARER), JSON.stringify(as.grant_types_supported));
  });

  it('maps the first matching rule to subject and scopes', async () => {
    const r = await grant(await sign(idp, claims()), { resource: API });
    assert.equal(r.status, 200, show(r));
    const { payload } = jwtParts(r.json.access_token);
    assert.equal(payload.sub, 'acme:u-123');
    assert.equal(payload.client_id, client.client_id);
    assert.equal(payload.scope, 'read', 'the rule allows read only');
    assert.equal(payload.aud, API);
    assert.equal(payload.app.auth, 'client_secret_basic');
    assert.deepEqual(scopeSet(r.json.scope), ['read']);
  });

  it('uses the rule subject_claim and narrows to rule scopes ∩ client entitlements', async () => {
    const r = await grant(await sign(idp, claims({ tenant: 'globex' })));
    assert.equal(r.status, 200, show(r));
    const { payload } = jwtParts(r.json.access_token);
    assert.equal(payload.sub, 'alice@globex.example');
    assert.deepEqual(scopeSet(payload.scope), ['read', 'write'], 'admin is in the rule but not entitled');
    const w = await grant(await sign(idp, claims({ tenant: 'globex' })), { scope: 'write' });
    assert.equal(w.status, 200, show(w));
    assert.equal(jwtParts(w.json.access_token).payload.scope, 'write');
  });

  it('works with a client authenticated by private_key_jwt (oauth4webapi)', async () => {
    const c = { client_id: pkjClient.client_id };
    const res = await oauth.genericTokenEndpointRequest(as, c, oauth.PrivateKeyJwt({ key: pkjKey.privateKey, kid: pkjKey.kid }),
      JWT_BEARER, { assertion: await sign(idp, claims()) }, insecure);
    const tr = await oauth.processGenericTokenEndpointResponse(as, c, res);
    const { payload } = jwtParts(tr.access_token);
    assert.equal(payload.sub, 'acme:u-123');
    assert.equal(payload.client_id, pkjClient.client_id);
    assert.equal(payload.app.auth, 'private_key_jwt');
  });

  it('takes keys from a jwks_uri, a configured audience, and reusable assertions (single_use false)', async () => {
    const a = await sign(remote, { iss: REMOTE, sub: 'svc-7', aud: 'urn:mandate:test', exp: now() + 300 });
    const r = await grant(a);
    assert.equal(r.status, 200, show(r));
    assert.equal(jwtParts(r.json.access_token).payload.sub, 'svc-7');
    assert.equal((await grant(a)).status, 200, 'reusable');
    await expectRefusal(srv, async () => grant(await sign(remote, { iss: REMOTE, sub: 'svc-7', aud: srv.issuer, exp: now() + 300 })),
      { status: 400, error: 'invalid_grant', reason: /aud/ });
  });

  it('refuses an assertion whose aud names another party besides this server', async () => {
    for (const aud of [['https://other-as.example', srv.issuer], [`${srv.issuer}/token`, 'https://other-as.example']]) {
      await expectRefusal(srv, async () => grant(await sign(idp, claims({ aud }))),
        { status: 400, error: 'invalid_grant', reason: /aud names another audience/, clientId: client.client_id });
    }
    const both = await grant(await sign(idp, claims({ aud: [srv.issuer, `${srv.issuer}/token`] })));
    assert.equal(both.status, 200, show(both));
  });

  it('a request refused for its resource leaves a single-use assertion usable', async () => {
    const a = await sign(idp, claims());
    await expectRefusal(srv, () => grant(a, { resource: 'https://not-entitled.example' }),
      { status: 400, error: 'invalid_target', clientId: client.client_id });
    const r = await grant(a, { resource: API });
    assert.equal(r.status, 200, show(r));
    assert.equal((await grant(a)).status, 400, 'and used once');
  });

  it('refuses an untrusted issuer', async () => {
    await expectRefusal(srv, async () => grant(await sign(stranger, claims({ iss: 'https://stranger.example' }))),
      { status: 400, error: 'invalid_grant', reason: /not trusted/, clientId: client.client_id });
    // a trusted issuer's name with another key
    await expectRefusal(srv, async () => grant(await sign(stranger, claims(), { kid: idp.kid })),
      { status: 400, error: 'invalid_grant', reason: /bad signature/ });
  });

  it('refuses an assertion no rule matches', async () => {
    await expectRefusal(srv, async () => grant(await sign(idp, claims({ tenant: 'initech' }))),
      { status: 400, error: 'invalid_grant', reason: /no claim rule matches/ });
    // booleans match booleans only
    await expectRefusal(srv, async () => grant(await sign(idp, claims({ email_verified: 'true' }))),
      { status: 400, error: 'invalid_grant', reason: /no claim rule matches/ });
  });

  it('refuses a replayed jti', async () => {
    const a = await sign(idp, claims());
    assert.equal((await grant(a)).status, 200);
    await expectRefusal(srv, () => grant(a), { status: 400, error: 'invalid_grant', reason: /replayed jti/ });
  });

  it('refuses a scope beyond the rule', async () => {
    await expectRefusal(srv, async () => grant(await sign(idp, claims()), { scope: 'write' }),
      { status: 400, error: 'invalid_scope', reason: /write/ });
  });

  it('refuses expired, too long-lived and jti-less assertions and alg none', async () => {
    const t = now();
    await expectRefusal(srv, async () => grant(await sign(idp, claims({ iat: t - 900, exp: t - 600 }))),
      { status: 400, error: 'invalid_grant', reason: /expired/ });
    await expectRefusal(srv, async () => grant(await sign(idp, claims({ exp: t + 3600 }))),
      { status: 400, error: 'invalid_grant', reason: /too far ahead/ });
    await expectRefusal(srv, async () => grant(await sign(idp, claims({ jti: undefined }))),
      { status: 400, error: 'invalid_grant', reason: /jti missing/ });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`;
    await expectRefusal(srv, () => grant(none), { status: 400, error: 'invalid_grant', reason: /alg 'none' refused/ });
  });

  it('refuses a missing assertion and a client not registered for the grant', async () => {
    await expectRefusal(srv, () => post(srv, '/token', { grant_type: JWT_BEARER },
      { headers: { authorization: basic(client.client_id, client.client_secret) } }),
    { status: 400, error: 'invalid_request' });
    await expectRefusal(srv, async () => grant(await sign(idp, claims()), {}, plain),
      { status: 400, error: 'unauthorized_client' });
  });

  it('verifies access tokens of the grant with the published keys', async () => {
    const r = await grant(await sign(idp, claims()));
    const { payload } = await jose.jwtVerify(r.json.access_token, jose.createRemoteJWKSet(new URL(as.jwks_uri)),
      { issuer: srv.issuer, typ: 'at+jwt' });
    assert.equal(payload.sub, 'acme:u-123');
  });
});
