// private_key_jwt (RFC 7523 §2.2, §3): oauth4webapi's PrivateKeyJwt doing
// client credentials with ES256 and RS256 keys registered as `jwks` or served
// from a `jwks_uri` by this test; every refusal the issue names answered with
// the uniform 401 invalid_client and recorded with its reason.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { cliJson, createClient, describeRun, ensureOwner, startServer, sleep } from './lib/server.mjs';
import {
  API, agentMetadata, assertTokenClaims, auditEvents, createFixtureScopes, discover, eventType, insecure,
  jwtParts, post, show,
} from './lib/oauth.mjs';
import { sendTogether } from './lib/grants.mjs';
import {
  clientClaims, expectRefusal, hmacWithPublicKey, jwksServer, keyPair, now, sign, tokenWithAssertion,
  unsignedJwt,
} from './lib/assertions.mjs';

const CLIENT_AUTH = {
  jwks_uri_allow_http: 'true',
  jwks_uri_allow_private: 'true',
  jwks_uri_timeout: '1s',
  jwks_uri_max_bytes: '4096',
  jwks_uri_refetch_interval: '6s', // long enough that a busy machine stays within it
};

function pkjMeta(over = {}) {
  return agentMetadata({ token_endpoint_auth_method: 'private_key_jwt', ...over });
}

/** client_credentials with oauth4webapi's PrivateKeyJwt; the processed token response. */
async function ccWithPkj(as, clientId, key, params = { scope: 'read' }) {
  const client = { client_id: clientId };
  const res = await oauth.clientCredentialsGrantRequest(as, client,
    oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }), params, insecure);
  return oauth.processClientCredentialsResponse(as, client, res);
}

describe('private_key_jwt', { timeout: 120_000 }, () => {
  let srv;
  let as;
  let jwksRemote;
  let keys;
  let web;
  const clients = {};

  before(async () => {
    web = await jwksServer();
    srv = await startServer({ config: { client_auth: CLIENT_AUTH } });
    createFixtureScopes(srv);
    as = await discover(srv);
    jwksRemote = jose.createRemoteJWKSet(new URL(as.jwks_uri));
    keys = {
      es: await keyPair('ES256'), rs: await keyPair('RS256'), other: await keyPair('ES256'),
      uriEs: await keyPair('ES256'), uriRs: await keyPair('RS256'), rotated: await keyPair('ES256'),
      mixedRs: await keyPair('RS256'), ed: await keyPair('EdDSA'), ps: await keyPair('PS256'),
    };
    web.set('/es.json', { jwks: { keys: [keys.uriEs.publicJwk] } });
    web.set('/rs.json', { jwks: { keys: [keys.uriRs.publicJwk] } });
    web.set('/rotating.json', { jwks: { keys: [keys.uriEs.publicJwk] } });
    web.set('/slow.json', { jwks: { keys: [keys.uriEs.publicJwk] }, delayMs: 2500 });
    web.set('/huge.json', { body: JSON.stringify({ keys: [keys.uriEs.publicJwk], pad: 'x'.repeat(8000) }) });
    web.set('/notjwks.json', { body: '{"hello":"world"}' });
    web.set('/concurrent.json', { jwks: { keys: [keys.uriEs.publicJwk] }, delayMs: 200 });
    const mk = (name, over) => { clients[name] = createClient(srv, pkjMeta({ client_name: name, ...over })); };
    mk('es', { jwks: { keys: [keys.es.publicJwk] } });
    mk('rs', { jwks: { keys: [keys.rs.publicJwk] } });
    mk('other', { jwks: { keys: [keys.other.publicJwk] } });
    mk('uriEs', { jwks_uri: web.url('/es.json') });
    mk('uriRs', { jwks_uri: web.url('/rs.json') });
    mk('rotating', { jwks_uri: web.url('/rotating.json') });
    mk('slow', { jwks_uri: web.url('/slow.json') });
    mk('huge', { jwks_uri: web.url('/huge.json') });
    mk('notjwks', { jwks_uri: web.url('/notjwks.json') });
    mk('concurrent', { jwks_uri: web.url('/concurrent.json') });
    mk('esOnly', { jwks: { keys: [keys.es.publicJwk, keys.mixedRs.publicJwk] },
      token_endpoint_auth_signing_alg: 'ES256' });
    mk('ed', { jwks: { keys: [keys.ed.publicJwk] } });
    mk('ps', { jwks: { keys: [keys.ps.publicJwk] }, token_endpoint_auth_signing_alg: 'PS256' });
    clients.secret = createClient(srv, agentMetadata({ client_name: 'secret' }));
  });
  after(async () => {
    await srv?.stop();
    await web?.close();
  });

  it('is advertised in discovery with asymmetric signing algorithms only', () => {
    for (const k of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint']) {
      assert.ok(as[`${k}_auth_methods_supported`].includes('private_key_jwt'), k);
      assert.deepEqual([...as[`${k}_auth_signing_alg_values_supported`]].sort(),
        ['ES256', 'Ed25519', 'EdDSA', 'PS256', 'RS256'], k);
    }
  });

  it('fetches a jwks_uri once for concurrent first requests', async () => {
    const c = clients.concurrent.client_id;
    const rs = await Promise.all(Array.from({ length: 16 }, async () =>
      tokenWithAssertion(srv, await sign(keys.uriEs, clientClaims(srv, c)), { clientId: c })));
    for (const r of rs) assert.equal(r.status, 200, show(r));
    assert.equal(web.hits('/concurrent.json'), 1, 'one fetch shared by every waiting request');
  });

  it('registers no client_secret for a private_key_jwt client', () => {
    assert.equal(clients.es.client_secret, undefined, JSON.stringify(clients.es));
    assert.equal(clients.es.token_endpoint_auth_method, 'private_key_jwt');
  });

  for (const [name, label] of [['es', 'ES256 key from jwks'], ['rs', 'RS256 key from jwks'],
    ['uriEs', 'ES256 key from jwks_uri'], ['uriRs', 'RS256 key from jwks_uri']]) {
    it(`client_credentials with oauth4webapi PrivateKeyJwt, ${label}`, async () => {
      const c = clients[name];
      const key = { es: keys.es, rs: keys.rs, uriEs: keys.uriEs, uriRs: keys.uriRs }[name];
      const tr = await ccWithPkj(as, c.client_id, key, { scope: 'read', resource: API });
      const { payload } = await jose.jwtVerify(tr.access_token, jwksRemote,
        { issuer: srv.issuer, audience: API, typ: 'at+jwt' });
      assertTokenClaims(payload, { issuer: srv.issuer, client: c, scope: 'read', resource: API,
        auth: 'private_key_jwt' });
      assert.equal(payload.app.auth, 'private_key_jwt');
    });
  }

  it('client_credentials with oauth4webapi PrivateKeyJwt, Ed25519 key (alg "Ed25519", RFC 9864)', async () => {
    const c = clients.ed;
    const tr = await ccWithPkj(as, c.client_id, keys.ed, { scope: 'read', resource: API });
    const { payload } = await jose.jwtVerify(tr.access_token, jwksRemote,
      { issuer: srv.issuer, audience: API, typ: 'at+jwt' });
    assert.equal(payload.app.auth, 'private_key_jwt');
  });

  for (const name of ['ed', 'ps']) {
    it(`accepts ${name === 'ed' ? 'EdDSA' : 'PS256'} assertions (signed with jose)`, async () => {
      const c = clients[name].client_id;
      const r = await tokenWithAssertion(srv, await sign(keys[name], clientClaims(srv, c)), { clientId: c });
      assert.equal(r.status, 200, show(r));
      assert.equal(jwtParts(r.json.access_token).payload.app.auth, 'private_key_jwt');
    });
  }

  it('records the use of the registered key on its credential', () => {
    const shown = cliJson(srv, ['client', 'show', clients.es.client_id]);
    const jwk = shown.credentials.find((cr) => cr.type === 'jwk');
    assert.ok(jwk, `a jwk credential: ${JSON.stringify(shown.credentials)}`);
    assert.ok(jwk.last_used_at, `last_used_at set after use: ${JSON.stringify(jwk)}`);
    assert.equal(shown.credentials.filter((cr) => cr.type === 'secret').length, 0, 'no secret');
  });

  it('authenticates at /introspect with an assertion for the issuer', async () => {
    const tr = await ccWithPkj(as, clients.es.client_id, keys.es);
    const client = { client_id: clients.es.client_id };
    const res = await oauth.introspectionRequest(as, client,
      oauth.PrivateKeyJwt({ key: keys.es.privateKey, kid: keys.es.kid }), tr.access_token, insecure);
    const body = await oauth.processIntrospectionResponse(as, client, res);
    assert.equal(body.active, true);
    assert.equal(body.app.auth, 'private_key_jwt');
  });

  it('accepts the token endpoint URL as aud, and an assertion without kid', async () => {
    const c = clients.es.client_id;
    const a = await sign(keys.es, clientClaims(srv, c, { aud: `${srv.issuer}/token` }), { kid: null });
    const r = await tokenWithAssertion(srv, a, { clientId: c });
    assert.equal(r.status, 200, show(r));
    const both = await sign(keys.es, clientClaims(srv, c, { aud: [srv.issuer, `${srv.issuer}/token`] }));
    const rb = await tokenWithAssertion(srv, both, { clientId: c });
    assert.equal(rb.status, 200, show(rb));
    assert.equal(jwtParts(r.json.access_token).payload.app.auth, 'private_key_jwt');
    const b = await sign(keys.es, clientClaims(srv, c));
    const r2 = await tokenWithAssertion(srv, b); // no client_id: iss names the client
    assert.equal(r2.status, 200, show(r2));
  });

  it('refuses a replayed jti', async () => {
    const c = clients.es.client_id;
    const a = await sign(keys.es, clientClaims(srv, c));
    assert.equal((await tokenWithAssertion(srv, a, { clientId: c })).status, 200);
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }),
      { reason: /replayed jti/, clientId: c });
  });

  it('issues one token for an assertion sent many times at once; the others are refused as replays', async () => {
    // The jti is recorded in the group commit with the token.issued event: concurrent copies all
    // pass verification, and the commit lets one through and records the others' refusals.
    const c = clients.es.client_id;
    const a = await sign(keys.es, clientClaims(srv, c));
    const fields = { grant_type: 'client_credentials', client_assertion_type:
      'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a, client_id: c };
    const count = (type) => auditEvents(srv).filter((e) => eventType(e) === type
      && JSON.stringify(e).includes(c)).length;
    const issuedBefore = count('token.issued');
    const failedBefore = auditEvents(srv).filter((e) => eventType(e) === 'client.auth_failed').length;
    const answers = await sendTogether(srv, Array.from({ length: 8 }, () => ({ path: '/token', fields })));
    const ok = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 401);
    assert.equal(ok.length, 1, answers.map((r) => `${r.status} ${r.text}`).join('\n'));
    assert.equal(refused.length, 7);
    for (const r of refused) {
      assert.equal(r.json.error, 'invalid_client');
      assert.equal(r.json.error_description, 'client authentication failed');
    }
    assert.equal(count('token.issued'), issuedBefore + 1, 'one token.issued event');
    const failed = auditEvents(srv).filter((e) => eventType(e) === 'client.auth_failed').slice(failedBefore);
    assert.equal(failed.length, 7, 'a refusal recorded for each replay');
    for (const e of failed) {
      assert.match(e.body?.reason ?? e.reason, /replayed jti/);
      assert.ok(JSON.stringify(e).includes(c));
    }
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /replayed jti/, clientId: c });
  });

  it('refuses an expired assertion', async () => {
    const c = clients.es.client_id;
    const t = now();
    const a = await sign(keys.es, clientClaims(srv, c, { iat: t - 600, exp: t - 300 }));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /expired/, clientId: c });
  });

  it('refuses an assertion that lives longer than assertion_max_lifetime', async () => {
    const c = clients.es.client_id;
    const a = await sign(keys.es, clientClaims(srv, c, { exp: now() + 3600 }));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /too far ahead/ });
  });

  it('refuses an assertion without exp or without jti', async () => {
    const c = clients.es.client_id;
    const noExp = await sign(keys.es, clientClaims(srv, c, { exp: undefined }));
    await expectRefusal(srv, () => tokenWithAssertion(srv, noExp, { clientId: c }), { reason: /exp missing/ });
    const noJti = await sign(keys.es, clientClaims(srv, c, { jti: undefined }));
    await expectRefusal(srv, () => tokenWithAssertion(srv, noJti, { clientId: c }), { reason: /jti missing/ });
  });

  it('refuses a wrong aud', async () => {
    const c = clients.es.client_id;
    const a = await sign(keys.es, clientClaims(srv, c, { aud: 'https://other-as.example.com' }));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /aud/ });
  });

  it('refuses an aud array that names another party besides this server (audience injection)', async () => {
    const c = clients.es.client_id;
    const issued = () => auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;
    for (const aud of [['https://other-as.example.com', srv.issuer], [`${srv.issuer}/token`, 'https://x.example']]) {
      const before_ = issued();
      const a = await sign(keys.es, clientClaims(srv, c, { aud }));
      await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }),
        { reason: /aud names another audience besides this server/, clientId: c });
      assert.equal(issued(), before_, `no token for aud ${JSON.stringify(aud)}`);
    }
    // at /introspect too, and the URL of the endpoint called is not an accepted audience
    const tr = await ccWithPkj(as, c, keys.es);
    for (const aud of [['https://other-as.example.com', srv.issuer], `${srv.issuer}/introspect`]) {
      const a = await sign(keys.es, clientClaims(srv, c, { aud }));
      await expectRefusal(srv, () => post(srv, '/introspect', { token: tr.access_token,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a }),
      { reason: /aud/, clientId: c });
    }
  });

  it('refuses alg none', async () => {
    const c = clients.es.client_id;
    await expectRefusal(srv, () => tokenWithAssertion(srv, unsignedJwt(clientClaims(srv, c)), { clientId: c }),
      { reason: /alg 'none' refused/, clientId: c });
  });

  it('refuses HS256 signed with the public key as the HMAC secret', async () => {
    const c = clients.rs.client_id;
    const a = await hmacWithPublicKey(keys.rs, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /alg 'HS256' refused/ });
  });

  it('refuses an alg other than the registered token_endpoint_auth_signing_alg', async () => {
    const c = clients.esOnly.client_id;
    const ok = await sign(keys.es, clientClaims(srv, c));
    assert.equal((await tokenWithAssertion(srv, ok, { clientId: c })).status, 200);
    const a = await sign(keys.mixedRs, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }),
      { reason: /alg RS256 is not the registered ES256/ });
  });

  it('refuses an unknown kid', async () => {
    const c = clients.es.client_id;
    const a = await sign(keys.es, clientClaims(srv, c), { kid: 'no-such-key' });
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /unknown kid/ });
  });

  it('refuses an assertion for another client', async () => {
    const mine = clients.es.client_id;
    const theirs = clients.other.client_id;
    // signed by the other client with its own key, presented under my client_id
    const a = await sign(keys.other, clientClaims(srv, theirs));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: mine }),
      { reason: /neither the client_id/, clientId: mine });
    // naming me, but signed with the other client's key (its kid, then no kid)
    const b = await sign(keys.other, clientClaims(srv, mine));
    await expectRefusal(srv, () => tokenWithAssertion(srv, b, { clientId: mine }), { reason: /unknown kid/ });
    const b2 = await sign(keys.other, clientClaims(srv, mine), { kid: keys.es.kid });
    await expectRefusal(srv, () => tokenWithAssertion(srv, b2, { clientId: mine }), { reason: /bad signature/ });
    // iss me, sub the other client
    const d = await sign(keys.es, clientClaims(srv, mine, { sub: theirs }));
    await expectRefusal(srv, () => tokenWithAssertion(srv, d, { clientId: mine }), { reason: /sub mismatch/ });
  });

  it('a client whose registered key is replaced under the same kid: the old key is refused at once, the new one accepted', async () => {
    const a = await keyPair('ES256', 'swap-kid');
    const b = await keyPair('ES256', 'swap-kid');
    const c = createClient(srv, pkjMeta({ client_name: 'swap', jwks: { keys: [a.publicJwk] } })).client_id;
    // several requests: each server thread has read the first set
    for (let i = 0; i < 4; i++) {
      const r = await tokenWithAssertion(srv, await sign(a, clientClaims(srv, c)), { clientId: c });
      assert.equal(r.status, 200, show(r));
    }
    const upd = srv.cli(['client', 'update', c, '--json'], { input: JSON.stringify({ jwks: { keys: [b.publicJwk] } }) });
    assert.equal(upd.code, 0, upd.stderr);
    for (let i = 0; i < 4; i++) {
      await expectRefusal(srv, async () => tokenWithAssertion(srv, await sign(a, clientClaims(srv, c)), { clientId: c }),
        { reason: /bad signature/ });
      const r = await tokenWithAssertion(srv, await sign(b, clientClaims(srv, c)), { clientId: c });
      assert.equal(r.status, 200, show(r));
    }
  });

  it('refuses an assertion from a client registered for a secret', async () => {
    const c = clients.secret.client_id;
    const a = await sign(keys.es, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }),
      { reason: /registered for client_secret_basic/ });
  });

  it('refuses a wrong client_assertion_type and a malformed assertion', async () => {
    const c = clients.es.client_id;
    const a = await sign(keys.es, clientClaims(srv, c));
    await expectRefusal(srv, () => post(srv, '/token', { grant_type: 'client_credentials', client_id: c,
      client_assertion_type: 'urn:example:other', client_assertion: a }), { reason: /client_assertion_type/ });
    await expectRefusal(srv, () => tokenWithAssertion(srv, 'not.a.jwt', { clientId: c }), { reason: /malformed/ });
    await expectRefusal(srv, () => tokenWithAssertion(srv, `${a}${'A'.repeat(9000)}`, { clientId: c }),
      { reason: /malformed/ });
  });

  it('refetches a jwks_uri on an unknown kid at most once per refetch interval', async () => {
    const c = clients.rotating.client_id;
    const first = await sign(keys.uriEs, clientClaims(srv, c));
    assert.equal((await tokenWithAssertion(srv, first, { clientId: c })).status, 200);
    const fetched = web.hits('/rotating.json');
    assert.equal(fetched, 1, 'one fetch, then the cache');
    web.set('/rotating.json', { jwks: { keys: [keys.uriEs.publicJwk, keys.rotated.publicJwk] } });
    // within the refetch interval (6s) the new kid is unknown and nothing is fetched
    const early = await sign(keys.rotated, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, early, { clientId: c }), { reason: /unknown kid/ });
    const again = await sign(keys.rotated, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, again, { clientId: c }), { reason: /unknown kid/ });
    assert.ok(web.hits('/rotating.json') <= fetched + 1, `at most one refetch: ${web.hits('/rotating.json')}`);
    await sleep(7100);
    const later = await sign(keys.rotated, clientClaims(srv, c));
    const r = await tokenWithAssertion(srv, later, { clientId: c });
    assert.equal(r.status, 200, show(r));
    const afterRotation = web.hits('/rotating.json');
    // the known kid is now served from the cache
    const cached = await sign(keys.rotated, clientClaims(srv, c));
    assert.equal((await tokenWithAssertion(srv, cached, { clientId: c })).status, 200);
    assert.equal(web.hits('/rotating.json'), afterRotation, 'no fetch for a cached key');
  });

  it('refuses when the jwks_uri is slower than jwks_uri_timeout', async () => {
    const c = clients.slow.client_id;
    const a = await sign(keys.uriEs, clientClaims(srv, c));
    // the document comes after 2.5 s, beyond the timeout: the fetch gives up
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /jwks_uri: .*(timed out|within)/ });
    assert.equal(web.hits('/slow.json'), 1);
    // the failure is remembered for the refetch interval: refused again without a new fetch
    const b = await sign(keys.uriEs, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, b, { clientId: c }), { reason: /jwks_uri/ });
    assert.equal(web.hits('/slow.json'), 1, 'a recent failure answers without fetching again');
  });

  it('refuses when the jwks_uri document is larger than jwks_uri_max_bytes', async () => {
    const c = clients.huge.client_id;
    const a = await sign(keys.uriEs, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /jwks_uri: .*larger than 4096/ });
  });

  it('refuses when the jwks_uri does not serve a JWK Set', async () => {
    const c = clients.notjwks.client_id;
    const a = await sign(keys.uriEs, clientClaims(srv, c));
    await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: c }), { reason: /jwks_uri: not a JWK Set/ });
  });
});

describe('private_key_jwt: jwks_uri fetch policy', { timeout: 60_000 }, () => {
  let web;
  let key;
  before(async () => {
    web = await jwksServer();
    key = await keyPair('ES256');
    web.set('/k.json', { jwks: { keys: [key.publicJwk] } });
  });
  after(() => web?.close());

  /** A server with these [client_auth] keys and one client of jwks_uri (created with http allowed). */
  async function serverWith(clientAuth) {
    const srv = await startServer({ config: { client_auth: clientAuth } });
    ensureOwner(srv, 'alice');
    const r = srv.cli(['client', 'create', '--json'], { input: JSON.stringify(pkjMeta({ jwks_uri: web.url('/k.json'), scope: undefined })),
      env: { MANDATE_CLIENT_AUTH_JWKS_URI_ALLOW_HTTP: 'true' } });
    assert.equal(r.code, 0, describeRun(r));
    return { srv, client: r.json() };
  }

  it('refuses a jwks_uri that is not https (jwks_uri_allow_http false)', async () => {
    const { srv, client } = await serverWith({ jwks_uri_allow_private: 'true' });
    try {
      const a = await sign(key, clientClaims(srv, client.client_id));
      await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: client.client_id }),
        { reason: /jwks_uri: .*http URL refused/ });
      assert.equal(web.hits('/k.json'), 0, 'nothing fetched');
    } finally {
      await srv.stop();
    }
  });

  it('refuses a jwks_uri on a loopback address (jwks_uri_allow_private false)', async () => {
    const { srv, client } = await serverWith({ jwks_uri_allow_http: 'true' });
    try {
      const a = await sign(key, clientClaims(srv, client.client_id));
      await expectRefusal(srv, () => tokenWithAssertion(srv, a, { clientId: client.client_id }),
        { reason: /jwks_uri: .*refused address \(127\.0\.0\.1: loopback \(RFC 1122\)\)/ });
      assert.equal(web.hits('/k.json'), 0, 'no connection made');
    } finally {
      await srv.stop();
    }
  });
});
