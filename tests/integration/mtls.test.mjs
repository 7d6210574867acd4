// RFC 8705: mutual-TLS client authentication (tls_client_auth with a test
// CA, self_signed_tls_client_auth with a key registered in jwks) and
// certificate-bound access tokens (cnf.x5t#S256), with Node's https module
// presenting client certificates made here with the openssl CLI; and the
// same certificates forwarded by a trusted proxy in X-Client-Cert, which
// an untrusted peer cannot do.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, createScope, startServer } from './lib/server.mjs';
import {
  REFUSAL_TYPES, assertOAuthError, auditEvents, basic, eventBody, eventType, jwtParts, post, show,
  waitAudit,
} from './lib/oauth.mjs';
import {
  escapedPem, makeCa, publicJwk, request, selfSigned, startTlsServer, x5tS256,
} from './lib/certs.mjs';
import { jwksServer } from './lib/assertions.mjs';

const DN = 'CN=agent-7,O=Example,C=SE';
const DN_SUBJ = '/C=SE/O=Example/CN=agent-7'; // the same DN in openssl's order

function agent(overrides) {
  return {
    client_name: 'Certificate agent', kind: 'agent', owner: 'alice', grant_types: ['client_credentials'],
    scope: 'read', ...overrides,
  };
}

/** The certificates every suite uses, made in dir. */
function makeCerts(dir) {
  const ca = makeCa(dir, 'client-ca');
  const otherCa = makeCa(dir, 'other-ca');
  return {
    ca,
    dn: ca.issue('agent-7', { subject: DN_SUBJ }),
    dnOtherCa: otherCa.issue('agent-7-other', { subject: DN_SUBJ }),
    dnWrong: ca.issue('agent-6', { subject: '/C=SE/O=Example/CN=agent-6' }),
    san: ca.issue('agent-8', { subject: '/CN=whatever', san: 'DNS:agent-8.example.com,URI:spiffe://example.com/a8' }),
    sanWrong: ca.issue('agent-9', { subject: '/CN=whatever', san: 'DNS:agent-9.example.com' }),
    self: selfSigned(dir, 'self-agent'),
    selfOther: selfSigned(dir, 'self-intruder'),
  };
}

/** Registers the clients the suites use. */
function makeClients(srv, certs) {
  createScope(srv, 'read', { description: 'Read things' });
  return {
    dn: createClient(srv, agent({
      token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: DN,
      tls_client_certificate_bound_access_tokens: true,
    })),
    dnOpaque: createClient(srv, agent({
      token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'cn=Agent-7, o=example, c=se',
      tls_client_certificate_bound_access_tokens: true, access_token_format: 'opaque',
    })),
    san: createClient(srv, agent({
      token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'agent-8.example.com',
    })),
    self: createClient(srv, agent({
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [publicJwk(certs.self.cert, 'self-1')] },
      tls_client_certificate_bound_access_tokens: true,
    })),
    secretBound: createClient(srv, agent({
      token_endpoint_auth_method: 'client_secret_basic', tls_client_certificate_bound_access_tokens: true,
    })),
  };
}

const refusals = (srv) => auditEvents(srv).filter((e) => REFUSAL_TYPES.has(eventType(e)));
const issued = (srv) => auditEvents(srv).filter((e) => eventType(e) === 'token.issued');

/**
 * Sends a refused request: the error and status, no token, one new refusal
 * event of the type named whose text includes every string of `reasons`.
 */
async function refused(srv, send, { status = 401, error = 'invalid_client', type = 'client.auth_failed', reasons = [] }) {
  const before_ = refusals(srv).length;
  const issuedBefore = issued(srv).length;
  const r = await send();
  // fetch (lib/oauth.mjs) gives Headers, node:https a plain object
  const headers = r.headers instanceof Headers ? r.headers : new Headers(r.headers);
  assertOAuthError({ ...r, headers }, status, error);
  if (status === 401) assert.ok(headers.get('www-authenticate'), `WWW-Authenticate on 401: ${r.text}`);
  assert.equal(r.json.error_description, status === 401 ? 'client authentication failed' : r.json.error_description,
    'a failed authentication does not say which part failed');
  const events = await waitAudit(srv, (evs) => evs.filter((e) => REFUSAL_TYPES.has(eventType(e))).length > before_,
    { what: `a refusal event for ${error}` });
  const fresh = events.filter((e) => REFUSAL_TYPES.has(eventType(e))).slice(before_);
  assert.equal(fresh.length, 1, JSON.stringify(fresh));
  assert.equal(eventType(fresh[0]), type, JSON.stringify(fresh));
  const text = JSON.stringify(eventBody(fresh[0]));
  assert.ok(text.includes(error), `the event names ${error}: ${text}`);
  for (const s of reasons) assert.ok(text.includes(s), `the event's reason mentions "${s}": ${text}`);
  assert.equal(issued(srv).length, issuedBefore, 'no token issued');
  return r;
}

describe('mutual TLS on the TLS listener', { timeout: 120_000 }, () => {
  let srv; let certs; let clients; let dir;
  const tls = (path, body, { cert, headers } = {}) => request(`${srv.url}${path}`, {
    method: 'POST', body, headers, ca: srv.serverCa.cert, cert: cert?.cert, key: cert?.key,
  });
  const token = (client, cert, extra = {}) => tls('/token',
    { grant_type: 'client_credentials', client_id: client.client_id, ...extra }, { cert });

  before(async () => {
    // The CA bundle is written before the server starts: the listener loads it.
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-mtls-'));
    certs = makeCerts(dir);
    // trusted_proxies names a network the test's peer (127.0.0.1) is not in.
    srv = await startTlsServer({ config: { server: { tls_client_ca: certs.ca.certFile, trusted_proxies: '10.0.0.0/8' } } });
    clients = makeClients(srv, certs);
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('discovery lists both methods and certificate-bound tokens', async () => {
    const r = await request(`${srv.url}/.well-known/oauth-authorization-server`, { ca: srv.serverCa.cert });
    assert.equal(r.status, 200, r.text);
    for (const m of ['tls_client_auth', 'self_signed_tls_client_auth']) {
      assert.ok(r.json.token_endpoint_auth_methods_supported.includes(m), `lists ${m}: ${r.text}`);
    }
    assert.equal(r.json.tls_client_certificate_bound_access_tokens, true);
    assert.equal(r.json.mtls_endpoint_aliases, undefined, 'one listener: no aliases');
  });

  it('tls_client_auth by subject DN: a token bound to the certificate, and introspection says so', async () => {
    const r = await token(clients.dn, certs.dn);
    assert.equal(r.status, 200, r.text);
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.client_id, clients.dn.client_id);
    assert.equal(claims.app.auth, 'tls_client_auth');
    assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(certs.dn.cert) });
    const i = await tls('/introspect', { token: r.json.access_token, client_id: clients.dn.client_id },
      { cert: certs.dn });
    assert.equal(i.status, 200, i.text);
    assert.equal(i.json.active, true);
    assert.deepEqual(i.json.cnf, { 'x5t#S256': x5tS256(certs.dn.cert) });
  });

  it('opaque tokens are bound too; introspection returns cnf (DN registered with other case and spacing)', async () => {
    const r = await token(clients.dnOpaque, certs.dn);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.json.access_token.startsWith('mdt_at_'), r.json.access_token);
    const i = await tls('/introspect', { token: r.json.access_token, client_id: clients.dnOpaque.client_id },
      { cert: certs.dn });
    assert.equal(i.status, 200, i.text);
    assert.equal(i.json.active, true);
    assert.equal(i.json.app.auth, 'tls_client_auth');
    assert.deepEqual(i.json.cnf, { 'x5t#S256': x5tS256(certs.dn.cert) });
  });

  it('tls_client_auth by DNS SAN; no binding when the client did not ask for it', async () => {
    const r = await token(clients.san, certs.san);
    assert.equal(r.status, 200, r.text);
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.app.auth, 'tls_client_auth');
    assert.equal(claims.cnf, undefined);
  });

  it('self_signed_tls_client_auth: the certificate key is in jwks; the token is bound', async () => {
    const r = await token(clients.self, certs.self);
    assert.equal(r.status, 200, r.text);
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.app.auth, 'self_signed_tls_client_auth');
    assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(certs.self.cert) });
  });

  it('binding works with a secret too, as long as a certificate is presented', async () => {
    const r = await tls('/token', { grant_type: 'client_credentials' }, {
      cert: certs.selfOther,
      headers: { authorization: basic(clients.secretBound.client_id, clients.secretBound.client_secret) },
    });
    assert.equal(r.status, 200, r.text);
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.app.auth, 'client_secret_basic');
    assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(certs.selfOther.cert) });
  });

  it('a client that wants bound tokens and presents no certificate -> 400 invalid_request', async () => {
    await refused(srv, () => tls('/token', { grant_type: 'client_credentials' }, {
      headers: { authorization: basic(clients.secretBound.client_id, clients.secretBound.client_secret) },
    }), { status: 400, error: 'invalid_request', type: 'token.refused', reasons: ['client certificate'] });
  });

  it('certificate from another CA -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.dn, certs.dnOtherCa), { reasons: ['not trusted', 'local issuer'] });
  });

  it('subject DN mismatch -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.dn, certs.dnWrong), { reasons: ['does not match', 'agent-6'] });
  });

  it('SAN mismatch -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.san, certs.sanWrong), { reasons: ['does not match', 'san_dns'] });
  });

  it('a self-signed certificate for a tls_client_auth client -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.dn, certs.self), { reasons: ['not trusted'] });
  });

  it('no certificate -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.dn, undefined), { reasons: ['no client credentials'] });
  });

  it('self-signed certificate whose key is not in jwks -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.self, certs.selfOther), { reasons: ['not in the client'] });
  });

  it('a CA-issued certificate for a self-signed client is judged by its key -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.self, certs.dn), { reasons: ['not in the client'] });
  });

  it('a certificate for a secret client without its secret -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.secretBound, certs.dn), { reasons: ['client_secret_basic'] });
  });

  it('the certificate of another client -> 401 invalid_client', async () => {
    await refused(srv, () => token(clients.dn, certs.san), { reasons: ['does not match'] });
  });

  it('the certificate binding and the key are credentials: used, listed, and refused once expired', async () => {
    const cases = [
      { meta: { token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: DN },
        cert: certs.dn, type: 'certificate', name: `subject_dn=${DN}` },
      { meta: { token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [publicJwk(certs.self.cert, 'self-1')] } }, cert: certs.self, type: 'jwk', name: 'self-1' },
    ];
    for (const c of cases) {
      const client = createClient(srv, agent({ client_name: `expiring ${c.type}`, ...c.meta }));
      assert.equal(client.client_secret, undefined, 'no secret for a certificate client');
      const ok = await token(client, c.cert);
      assert.equal(ok.status, 200, ok.text);
      const shown = srv.cli(['client', 'show', client.client_id, '--json']);
      assert.equal(shown.code, 0, shown.stderr);
      const cred = shown.json().credentials.find((x) => x.type === c.type);
      assert.ok(cred, `a ${c.type} credential: ${shown.stdout}`);
      assert.equal(cred.name, c.name);
      assert.ok(cred.last_used_at, `last_used_at recorded: ${JSON.stringify(cred)}`);
      const exp = srv.cli(['client', 'credential', 'expire', client.client_id, cred.id, '--in', '0']);
      assert.equal(exp.code, 0, exp.stderr);
      await refused(srv, () => token(client, c.cert), { reasons: ['has expired', cred.id] });
    }
  });

  it('X-Client-Cert from a peer that is not a trusted proxy is ignored', async () => {
    // A valid certificate of the client in the header, none on the connection.
    await refused(srv, () => tls('/token', { grant_type: 'client_credentials', client_id: clients.dn.client_id },
      { headers: { 'x-client-cert': escapedPem(certs.dn.cert) } }), { reasons: ['no client credentials'] });
    // And the header does not replace the connection's certificate either.
    await refused(srv, () => tls('/token', { grant_type: 'client_credentials', client_id: clients.dn.client_id },
      { cert: certs.dnWrong, headers: { 'x-client-cert': escapedPem(certs.dn.cert) } }),
    { reasons: ['does not match', 'agent-6'] });
  });
});

describe('mutual TLS behind a trusted proxy (X-Client-Cert)', { timeout: 120_000 }, () => {
  let srv; let certs; let clients; let dir; let web;
  const viaProxy = (client, pem, headers = {}) => post(srv, '/token',
    { grant_type: 'client_credentials', client_id: client.client_id },
    { headers: pem === undefined ? headers : { 'x-client-cert': pem, ...headers } });

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-mtls-proxy-'));
    certs = makeCerts(dir);
    // Plain HTTP: the proxy terminates TLS; the test's peer address is the proxy.
    srv = await startServer({ config: {
      server: { trusted_proxies: '127.0.0.1/32', tls_client_ca: certs.ca.certFile },
      client_auth: { jwks_uri_allow_http: true, jwks_uri_allow_private: true },
    } });
    clients = makeClients(srv, certs);
    web = await jwksServer();
    web.set('/self.json', { jwks: { keys: [publicJwk(certs.self.cert, 'self-uri')] } });
    clients.selfUri = createClient(srv, agent({
      token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks_uri: web.url('/self.json'),
      tls_client_certificate_bound_access_tokens: true,
    }));
  });
  after(async () => {
    await srv?.stop();
    await web?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('self_signed_tls_client_auth with the key published at the client\'s jwks_uri', async () => {
    const r = await viaProxy(clients.selfUri, escapedPem(certs.self.cert));
    assert.equal(r.status, 200, show(r));
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.app.auth, 'self_signed_tls_client_auth');
    assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(certs.self.cert) });
    await refused(srv, () => viaProxy(clients.selfUri, escapedPem(certs.selfOther.cert)),
      { reasons: ['not in the client\'s jwks_uri'] });
  });

  it('tls_client_auth with the certificate the proxy forwards; the token is bound to it', async () => {
    const r = await viaProxy(clients.dn, escapedPem(certs.dn.cert));
    assert.equal(r.status, 200, show(r));
    const claims = jwtParts(r.json.access_token).payload;
    assert.equal(claims.app.auth, 'tls_client_auth');
    assert.deepEqual(claims.cnf, { 'x5t#S256': x5tS256(certs.dn.cert) });
    const i = await post(srv, '/introspect', { token: r.json.access_token, client_id: clients.dn.client_id },
      { headers: { 'x-client-cert': escapedPem(certs.dn.cert) } });
    assert.equal(i.status, 200, show(i));
    assert.deepEqual(i.json.cnf, { 'x5t#S256': x5tS256(certs.dn.cert) });
  });

  it('self_signed_tls_client_auth through the proxy; "+" left unescaped still decodes', async () => {
    const pem = escapedPem(certs.self.cert).replace(/%2B/g, '+');
    const r = await viaProxy(clients.self, pem);
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(jwtParts(r.json.access_token).payload.cnf, { 'x5t#S256': x5tS256(certs.self.cert) });
  });

  it('a forwarded certificate from another CA is still verified -> 401 invalid_client', async () => {
    await refused(srv, () => viaProxy(clients.dn, escapedPem(certs.dnOtherCa.cert)), { reasons: ['not trusted'] });
  });

  it('a forwarded certificate with the wrong DN -> 401 invalid_client', async () => {
    await refused(srv, () => viaProxy(clients.dn, escapedPem(certs.dnWrong.cert)), { reasons: ['does not match'] });
  });

  it('a malformed header -> 401 invalid_client', async () => {
    await refused(srv, () => viaProxy(clients.dn, 'not%20a%20certificate'), { reasons: ['X-Client-Cert'] });
    await refused(srv, () => viaProxy(clients.dn, '%ZZ'), { reasons: ['percent-encoding'] });
  });

  it('no header -> 401 invalid_client', async () => {
    await refused(srv, () => viaProxy(clients.dn, undefined), { reasons: ['no client credentials'] });
  });
});
