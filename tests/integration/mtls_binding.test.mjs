// RFC 8705 §3 certificate-bound access tokens from every grant: a client
// registered with tls_client_certificate_bound_access_tokens gets tokens
// bound to its certificate (cnf.x5t#S256) from the API key exchange and the
// JWT bearer grant too, or is refused (400 invalid_request) when it presents
// none; /userinfo accepts a bound token with that certificate only. The
// certificates come from a trusted proxy (X-Client-Cert) and from the TLS
// connection itself.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, startServer } from './lib/server.mjs';
import {
  agentMetadata, auditEvents, basic, createFixtureScopes, eventType, jwtParts, post, show,
} from './lib/oauth.mjs';
import { JWT_BEARER, expectRefusal, keyPair, now, sign } from './lib/assertions.mjs';
import {
  authorizeUrl, callbackServer, consent, createUsers, FAST_ARGON2, PASSWORD, pkce, signedIn,
} from './lib/authz.mjs';
import { csrfOf } from './lib/browser.mjs';
import {
  escapedPem, makeCa, request, selfSigned, startTlsServer, x5tS256,
} from './lib/certs.mjs';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TYPE = 'urn:mandate:token-type:api-key';
const IDP = 'https://idp.example.test';

const issuedCount = (srv) => auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;

/** Writes a [jwt_bearer] issuers file trusting idp (a keyPair) in dir; its path. */
async function jwtBearerIssuers(dir, idp) {
  await writeFile(path.join(dir, 'idp.json'), JSON.stringify({ keys: [idp.publicJwk] }));
  const file = path.join(dir, 'jwt-bearer.json');
  await writeFile(file, JSON.stringify([{ issuer: IDP, jwks_file: 'idp.json', max_lifetime: 600,
    rules: [{ subject_prefix: 'idp:', scopes: ['read'] }] }]));
  return file;
}

const bound = (over) => agentMetadata({ scope: 'read', tls_client_certificate_bound_access_tokens: true, ...over });

describe('certificate-bound tokens from every grant, behind a trusted proxy', { timeout: 120_000 }, () => {
  let dir; let srv; let cb; let idp; let certs; const c = {};
  const withCert = (cert, headers = {}) => (cert ? { ...headers, 'x-client-cert': escapedPem(cert.cert) } : headers);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-bound-'));
    const ca = makeCa(dir, 'client-ca');
    certs = { mine: selfSigned(dir, 'agent-cert'), other: selfSigned(dir, 'intruder-cert') };
    idp = await keyPair('ES256');
    cb = await callbackServer();
    srv = await startServer({ config: {
      server: { trusted_proxies: '127.0.0.1/32', tls_client_ca: ca.certFile },
      jwt_bearer: { issuers: await jwtBearerIssuers(dir, idp) },
      users: FAST_ARGON2,
    } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    c.key = createClient(srv, bound({ client_name: 'API key caller' }));
    c.keyPlain = createClient(srv, agentMetadata({ client_name: 'API key caller, unbound', scope: 'read' }));
    c.jb = createClient(srv, bound({ client_name: 'Federated', grant_types: ['client_credentials', JWT_BEARER] }));
    const web = { kind: 'web', grant_types: ['authorization_code'], redirect_uris: [cb.uri], scope: 'openid profile read' };
    c.web = createClient(srv, bound({ client_name: 'Bound web app', ...web }));
    c.webPlain = createClient(srv, agentMetadata({ client_name: 'Unbound web app', ...web }));
  });
  after(async () => {
    await srv?.stop();
    await cb?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const apiKey = (client) => {
    const r = srv.cli(['client', 'apikey', 'create', client.client_id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return r.json().api_key;
  };
  const exchange = (key, cert) => post(srv, '/token',
    { grant_type: TOKEN_EXCHANGE, subject_token: key, subject_token_type: API_KEY_TYPE }, { headers: withCert(cert) });
  const jwtBearer = (assertion, cert) => post(srv, '/token', { grant_type: JWT_BEARER, assertion },
    { headers: withCert(cert, { authorization: basic(c.jb.client_id, c.jb.client_secret) }) });
  const introspect = (client, token) => post(srv, '/introspect', { token },
    { headers: { authorization: basic(client.client_id, client.client_secret) } });

  /** A refused token request: 400 invalid_request naming the certificate, no token issued. */
  async function refusedWithoutCert(send) {
    const before_ = issuedCount(srv);
    await expectRefusal(srv, send, { status: 400, error: 'invalid_request', reason: /client certificate/ });
    assert.equal(issuedCount(srv), before_, 'no token issued');
  }

  it('API key exchange: the token is bound to the certificate presented', async () => {
    const key = apiKey(c.key);
    const r = await exchange(key, certs.mine);
    assert.equal(r.status, 200, show(r));
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.app.auth, 'api_key');
    assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) });
    const i = await introspect(c.key, r.json.access_token);
    assert.deepEqual(i.json.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) }, show(i));
  });

  it('API key exchange without a certificate -> 400 invalid_request, no token', async () => {
    await refusedWithoutCert(() => exchange(apiKey(c.key), undefined));
    // a client that did not ask for binding still gets an unbound token
    const r = await exchange(apiKey(c.keyPlain), undefined);
    assert.equal(r.status, 200, show(r));
    assert.equal(jwtParts(r.json.access_token).payload.cnf, undefined);
  });

  it('JWT bearer grant: bound with a certificate; refused without, and the assertion stays usable', async () => {
    const t = now();
    const assertion = await sign(idp, { iss: IDP, sub: 'u-7', aud: srv.issuer, iat: t, exp: t + 300,
      jti: crypto.randomUUID() });
    await refusedWithoutCert(() => jwtBearer(assertion, undefined));
    const r = await jwtBearer(assertion, certs.mine);
    assert.equal(r.status, 200, show(r));
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.sub, 'idp:u-7');
    assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) });
  });

  /** Signs alice in, consents, redeems the code (with cert, if any): the token response. */
  async function codeFlow(client, cert) {
    const jar = await signedIn(srv, 'alice');
    const { verifier, challenge } = await pkce();
    let r = await jar.fetch(authorizeUrl(srv, { response_type: 'code', client_id: client.client_id,
      redirect_uri: cb.uri, scope: 'openid profile', state: 's', code_challenge: challenge,
      code_challenge_method: 'S256' }));
    assert.equal(r.status, 303, await r.text());
    let loc = r.headers.get('location');
    if (loc.startsWith('/consent')) {
      r = await consent(srv, jar, loc);
      loc = r.headers.get('location');
    }
    const code = new URL(loc).searchParams.get('code');
    assert.ok(code, loc);
    const t = await post(srv, '/token', { grant_type: 'authorization_code', code, redirect_uri: cb.uri,
      code_verifier: verifier }, { headers: withCert(cert, { authorization: basic(client.client_id, client.client_secret) }) });
    assert.equal(t.status, 200, show(t));
    return t.json;
  }

  const userinfo = (token, headers = {}) => fetch(`${srv.url}/userinfo`,
    { headers: { authorization: `Bearer ${token}`, ...headers }, signal: AbortSignal.timeout(10_000) });

  async function assertInvalidToken(res) {
    assert.equal(res.status, 401, await res.clone().text());
    assert.match(res.headers.get('www-authenticate') || '', /^Bearer error="invalid_token"/);
    const body = await res.json();
    assert.equal(body.error, 'invalid_token');
    assert.equal(body.sub, undefined, 'no claims');
  }

  it('/userinfo accepts a bound token with its certificate, and refuses it without or with another', async () => {
    const tokens = await codeFlow(c.web, certs.mine);
    assert.deepEqual(jwtParts(tokens.access_token).payload.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) });
    const ok = await userinfo(tokens.access_token, { 'x-client-cert': escapedPem(certs.mine.cert) });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal((await ok.json()).sub, 'alice');
    await assertInvalidToken(await userinfo(tokens.access_token));
    await assertInvalidToken(await userinfo(tokens.access_token, { 'x-client-cert': escapedPem(certs.other.cert) }));
    await assertInvalidToken(await userinfo(tokens.access_token, { 'x-client-cert': 'not%20a%20certificate' }));
  });

  it('/userinfo: an unbound token needs no certificate, and a certificate does not hurt', async () => {
    const tokens = await codeFlow(c.webPlain, undefined);
    assert.equal(jwtParts(tokens.access_token).payload.cnf, undefined);
    for (const headers of [{}, { 'x-client-cert': escapedPem(certs.other.cert) }]) {
      const r = await userinfo(tokens.access_token, headers);
      assert.equal(r.status, 200, await r.clone().text());
      assert.equal((await r.json()).sub, 'alice');
    }
  });
});

describe('certificate-bound tokens from every grant, on the TLS listener', { timeout: 120_000 }, () => {
  let dir; let srv; let idp; let certs; const c = {};
  const REDIRECT = 'http://127.0.0.1:9/cb'; // never followed: the code is read from Location

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-bound-tls-'));
    const ca = makeCa(dir, 'client-ca');
    certs = { mine: selfSigned(dir, 'agent-cert'), other: selfSigned(dir, 'intruder-cert') };
    idp = await keyPair('ES256');
    // trusted_proxies names a network the test's peer (127.0.0.1) is not in.
    srv = await startTlsServer({ config: {
      server: { tls_client_ca: ca.certFile, trusted_proxies: '10.0.0.0/8' },
      jwt_bearer: { issuers: await jwtBearerIssuers(dir, idp) },
      users: FAST_ARGON2,
    } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    c.key = createClient(srv, bound({ client_name: 'API key caller' }));
    c.jb = createClient(srv, bound({ client_name: 'Federated', grant_types: ['client_credentials', JWT_BEARER] }));
    c.web = createClient(srv, bound({ client_name: 'Bound web app', kind: 'web', grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT], scope: 'openid read' }));
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tls = (body, { cert, headers } = {}) => request(`${srv.url}/token`, {
    method: 'POST', body, headers, ca: srv.serverCa.cert, cert: cert?.cert, key: cert?.key,
  });

  /** A request over TLS with the cookies of jar (a Map), recording the ones it sets. */
  async function tlsWithJar(jar, pathname, { method = 'GET', body, headers = {}, cert } = {}) {
    const h = { ...headers };
    if (jar.size) h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await request(`${srv.url}${pathname}`, {
      method, body, headers: h, ca: srv.serverCa.cert, cert: cert?.cert, key: cert?.key,
    });
    for (const sc of [].concat(r.headers['set-cookie'] || [])) {
      const [pair, ...attrs] = sc.split(';');
      const name = pair.slice(0, pair.indexOf('=')).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) jar.delete(name);
      else jar.set(name, pair.slice(pair.indexOf('=') + 1).trim());
    }
    return r;
  }

  it('/userinfo takes the certificate of the TLS connection for a bound token', async () => {
    const jar = new Map();
    const form = await tlsWithJar(jar, '/login');
    let r = await tlsWithJar(jar, '/login', { method: 'POST',
      body: { csrf_token: csrfOf(form.text), username: 'alice', password: PASSWORD } });
    assert.equal(r.status, 303, r.text);
    const { verifier, challenge } = await pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: c.web.client_id, redirect_uri: REDIRECT,
      scope: 'openid', state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    r = await tlsWithJar(jar, `/authorize?${q}`);
    assert.equal(r.status, 303, r.text);
    if (r.headers.location.startsWith('/consent')) {
      const page = await tlsWithJar(jar, r.headers.location);
      const req = /name="request" value="([^"]*)"/.exec(page.text)[1];
      r = await tlsWithJar(jar, '/consent', { method: 'POST',
        body: { csrf_token: csrfOf(page.text), request: req, decision: 'allow' } });
      assert.equal(r.status, 303, r.text);
    }
    const code = new URL(r.headers.location).searchParams.get('code');
    assert.ok(code, r.headers.location);
    const t = await tls({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier },
      { cert: certs.mine, headers: { authorization: basic(c.web.client_id, c.web.client_secret) } });
    assert.equal(t.status, 200, t.text);
    assert.deepEqual(jwtParts(t.json.access_token).payload.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) });
    const userinfo = (cert) => request(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${t.json.access_token}` },
      ca: srv.serverCa.cert, cert: cert?.cert, key: cert?.key });
    const ok = await userinfo(certs.mine);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.sub, 'alice');
    for (const cert of [undefined, certs.other]) {
      const no = await userinfo(cert);
      assert.equal(no.status, 401, no.text);
      assert.equal(no.json.error, 'invalid_token');
      assert.match(no.headers['www-authenticate'] || '', /error="invalid_token"/);
    }
    // X-Client-Cert from a peer that is not a trusted proxy does not stand in for the connection's
    const forged = await request(`${srv.url}/userinfo`, { ca: srv.serverCa.cert, headers: {
      authorization: `Bearer ${t.json.access_token}`, 'x-client-cert': escapedPem(certs.mine.cert) } });
    assert.equal(forged.status, 401, forged.text);
  });

  it('API key exchange and JWT bearer bind to the connection\'s certificate, or refuse without one', async () => {
    const key = JSON.parse(srv.cli(['client', 'apikey', 'create', c.key.client_id, '--json']).stdout).api_key;
    const ex = { grant_type: TOKEN_EXCHANGE, subject_token: key, subject_token_type: API_KEY_TYPE };
    const t = now();
    const assertion = await sign(idp, { iss: IDP, sub: 'u-8', aud: srv.issuer, iat: t, exp: t + 300,
      jti: crypto.randomUUID() });
    const jb = { grant_type: JWT_BEARER, assertion };
    const auth = { authorization: basic(c.jb.client_id, c.jb.client_secret) };
    for (const [body, headers] of [[ex, {}], [jb, auth]]) {
      const before_ = issuedCount(srv);
      const no = await tls(body, { headers });
      assert.equal(no.status, 400, no.text);
      assert.equal(no.json.error, 'invalid_request', no.text);
      assert.equal(issuedCount(srv), before_, 'no token issued');
      const yes = await tls(body, { headers, cert: certs.mine });
      assert.equal(yes.status, 200, yes.text);
      assert.deepEqual(jwtParts(yes.json.access_token).payload.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) });
    }
  });
});
