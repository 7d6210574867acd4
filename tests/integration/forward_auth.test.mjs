// /forward-auth called as reverse proxies call it (nginx auth_request,
// Traefik ForwardAuth, Envoy ext_authz in HTTP mode), from a trusted proxy
// on loopback: the access token checked for the resource the forwarded
// scheme, host and path belong to ([forward_auth] resources), with its
// binding (certificate, DPoP), the scopes the method needs and the PDP's
// decision; 200 with the identity headers, 401 with an RFC 6750 / RFC 9449
// challenge naming the RFC 9728 metadata, 403 for insufficient scope, a
// policy's deny, an unknown resource, and for any peer that is not a
// trusted proxy. And the RFC 9728 documents themselves.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { keyPair, now, sign } from './lib/assertions.mjs';
import { startAuthzenServer } from './lib/authzen_server.mjs';
import { escapedPem, makeCa, selfSigned, x5tS256 } from './lib/certs.mjs';
import { postAs } from './lib/grants.mjs';
import {
  API, API2, agentMetadata, auditEvents, basic, createFixtureScopes, eventBody, eventType, jwtParts,
  post, show, waitAudit,
} from './lib/oauth.mjs';
import { createClient, sleep, startServer } from './lib/server.mjs';

const MCP = `${API}/mcp`;
const HOST = 'api.example.com';
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const IDP = 'https://idp.example.test';
const META = `${API}/.well-known/oauth-protected-resource`;
const MCP_META = `${API}/.well-known/oauth-protected-resource/mcp`;

const RESOURCES = [
  { resource: API, resource_name: 'Orders API', match: `https://${HOST}:443/`,
    scopes: { GET: ['read'], POST: ['write'], '*': ['read'] } },
  { resource: MCP, resource_name: 'Example MCP server', match: `https://${HOST}:443/mcp`,
    scopes: { '*': ['read'] } },
  { resource: API2, match: 'https://billing.example.com:443/v1' },
];

/**
 * Asks srv's /forward-auth about a forwarded request, the nginx way by
 * default (X-Forwarded-*: the subrequest is a GET).
 */
async function ask(srv, { method = 'GET', uri = '/orders', host = HOST, proto = 'https', token,
  scheme = 'Bearer', dpop, cert, via = 'GET', pathname = '/forward-auth', headers = {} } = {}) {
  const h = { ...headers };
  if (method !== null && !h['x-original-method']) h['x-forwarded-method'] = method;
  if (uri !== null && !h['x-original-uri']) h['x-forwarded-uri'] = uri;
  if (host !== null) h['x-forwarded-host'] = host;
  if (proto !== null) h['x-forwarded-proto'] = proto;
  if (token) h.authorization = `${scheme} ${token}`;
  if (dpop) h.dpop = dpop;
  if (cert) h['x-client-cert'] = escapedPem(cert.cert);
  const res = await fetch(`${srv.url}${pathname}`, { method: via, headers: h, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

const identity = (r) => ['x-mandate-subject', 'x-mandate-client', 'x-mandate-scope', 'x-mandate-act']
  .filter((h) => r.headers.get(h) !== null);

function refused(r, status, error, scheme = 'Bearer') {
  assert.equal(r.status, status, show(r));
  assert.deepEqual(identity(r), [], 'no identity header on a refusal');
  if (error) assert.equal(r.json?.error, error, show(r));
  if (status === 401 || error === 'insufficient_scope') {
    const h = r.headers.get('www-authenticate') ?? '';
    assert.ok(h.startsWith(`${scheme} `), h);
    if (error) assert.match(h, new RegExp(`error="${error}"`));
  }
}

async function clientToken(srv, client, params) {
  const r = await post(srv, '/token', { grant_type: 'client_credentials', ...params },
    { headers: { authorization: basic(client.client_id, client.client_secret) } });
  assert.equal(r.status, 200, show(r));
  return r.json.access_token;
}

const newKey = () => jose.generateKeyPair('ES256', { extractable: true });

/** A DPoP proof (RFC 9449 §4.2) of key for htm and htu, with ath of token. */
async function proof(key, { htm = 'GET', htu = `https://${HOST}/orders`, token, jti, jwkOf, nonce } = {}) {
  const claims = { htm, htu, iat: now(), jti: jti ?? crypto.randomBytes(16).toString('base64url') };
  if (nonce) claims.nonce = nonce;
  if (token) claims.ath = crypto.createHash('sha256').update(token).digest('base64url');
  const jwk = await jose.exportJWK((jwkOf ?? key).publicKey);
  return new jose.SignJWT(claims).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
    .sign(key.privateKey);
}

/** A DPoP-bound access token of client (client_credentials) for key. */
async function dpopToken(srv, client, key, params) {
  const r = await post(srv, '/token', { grant_type: 'client_credentials', ...params },
    { headers: { authorization: basic(client.client_id, client.client_secret),
      dpop: await proof(key, { htm: 'POST', htu: `${srv.issuer.replace(/\/$/, '')}/token` }) } });
  assert.equal(r.status, 200, show(r));
  assert.equal(r.json.token_type, 'DPoP');
  assert.ok(jwtParts(r.json.access_token).payload.cnf.jkt);
  return r.json.access_token;
}

/** Repeats send() (bounded) until check(response) holds. */
async function until(send, check, what) {
  let r;
  for (let i = 0; i < 60; i++) {
    r = await send();
    if (check(r)) return r;
    await sleep(100);
  }
  assert.fail(`${what}: ${show(r)}`);
}

describe('/forward-auth', { timeout: 240_000 }, () => {
  let dir; let srv; let agent; let reader; let bound; let certs; let idp;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-fwd-'));
    const file = path.join(dir, 'resources.json');
    await writeFile(file, JSON.stringify(RESOURCES));
    const ca = makeCa(dir, 'client-ca');
    certs = { mine: selfSigned(dir, 'agent-cert'), other: selfSigned(dir, 'intruder-cert') };
    idp = await keyPair('ES256');
    await writeFile(path.join(dir, 'idp.json'), JSON.stringify({ keys: [idp.publicJwk] }));
    const issuers = path.join(dir, 'te-issuers.json');
    await writeFile(issuers, JSON.stringify([{ issuer: IDP, jwks_file: 'idp.json', max_lifetime: 600,
      rules: [{ subject_prefix: 'idp:', scopes: ['read', 'write'] }] }]));
    srv = await startServer({ dir, config: {
      server: { trusted_proxies: '127.0.0.1/32', tls_client_ca: ca.certFile },
      forward_auth: { resources: file, audit: 'all' },
      token_exchange: { subject_issuers: issuers },
    } });
    createFixtureScopes(srv);
    const grants = ['client_credentials', TE];
    const resources = [API, MCP, API2];
    agent = createClient(srv, agentMetadata({ client_name: 'Agent', grant_types: grants, resources }));
    reader = createClient(srv, agentMetadata({ client_name: 'Reader', scope: 'read', resources }));
    bound = createClient(srv, agentMetadata({ client_name: 'Bound agent', resources,
      tls_client_certificate_bound_access_tokens: true }));
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a valid bearer token: 200 with the identity headers, and nothing else that leaks', async () => {
    const token = await clientToken(srv, agent, { scope: 'read write', resource: API });
    for (let i = 0; i < 3; i++) { // each thread verifies it at most twice, then keeps it
      const r = await ask(srv, { token });
      assert.equal(r.status, 200, show(r));
      assert.equal(r.headers.get('x-mandate-subject'), agent.client_id);
      assert.equal(r.headers.get('x-mandate-client'), agent.client_id);
      assert.equal(r.headers.get('x-mandate-scope'), 'read write');
      assert.equal(r.headers.get('x-mandate-act'), null);
      assert.equal(r.text, '');
      assert.match(r.headers.get('cache-control') ?? '', /no-store/);
    }
    // POST needs write; the longest prefix (/mcp) wins for /mcp/tools
    assert.equal((await ask(srv, { token, method: 'POST' })).status, 200);
    const m = await ask(srv, { token: await clientToken(srv, agent, { scope: 'read', resource: MCP }),
      uri: '/mcp/tools?x=1', method: 'POST' });
    assert.equal(m.status, 200, show(m));
  });

  test('the ways proxies forward: nginx X-Original-*, Traefik and Envoy methods, Envoy path_prefix', async () => {
    const token = await clientToken(srv, agent, { scope: 'read write', resource: API });
    const reading = await clientToken(srv, reader, { scope: 'read', resource: API });
    // nginx: X-Original-URI and X-Original-Method on a GET subrequest
    let r = await ask(srv, { token: reading, method: null, uri: null,
      headers: { 'x-original-uri': '/orders/7', 'x-original-method': 'POST' } });
    refused(r, 403, 'insufficient_scope');
    // Traefik: the original method itself
    r = await ask(srv, { token: reading, method: null, via: 'DELETE' });
    assert.equal(r.status, 200, show(r)); // "*" needs read
    r = await ask(srv, { token: reading, method: null, via: 'POST' });
    refused(r, 403, 'insufficient_scope');
    // Envoy: the original method and path after the path_prefix
    r = await ask(srv, { token, method: null, uri: null, via: 'POST', pathname: '/forward-auth/orders/7' });
    assert.equal(r.status, 200, show(r));
    const mcpReading = await clientToken(srv, reader, { scope: 'read', resource: MCP });
    r = await ask(srv, { token: mcpReading, method: null, uri: null, via: 'PUT', pathname: '/forward-auth/mcp' });
    assert.equal(r.status, 200, show(r));
    refused(await ask(srv, { token: reading, method: null, uri: null, via: 'PUT', pathname: '/forward-auth/mcp' }),
      401, 'invalid_token'); // the API's token is not the MCP server's
    r = await ask(srv, { token: reading, method: null, uri: null, via: 'POST', pathname: '/forward-auth/' });
    refused(r, 403, 'insufficient_scope');
  });

  test('no token: 401 with both challenges and the resource metadata URL', async () => {
    const r = await ask(srv, { uri: '/mcp/x' });
    refused(r, 401);
    const h = r.headers.get('www-authenticate');
    assert.match(h, /^Bearer resource_metadata="https:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"/);
    assert.match(h, /DPoP algs="[A-Za-z0-9 ]+", resource_metadata="https:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"$/);
    const root = await ask(srv, { uri: '/orders' });
    assert.ok(root.headers.get('www-authenticate').includes(`resource_metadata="${META}"`));
  });

  test('refused tokens: 401 invalid_token each (audience, expiry, revocation, kill switch, signature, issuer)', async () => {
    // another resource's token
    const other = await clientToken(srv, agent, { scope: 'read', resource: API2 });
    refused(await ask(srv, { token: other }), 401, 'invalid_token');
    assert.equal((await ask(srv, { token: other, host: 'billing.example.com', uri: '/v1/x' })).status, 200);
    // expired
    const brief = createClient(srv, agentMetadata({ client_name: 'Brief', resources: [API], access_token_ttl: 1 }));
    const short = await clientToken(srv, brief, { scope: 'read', resource: API });
    assert.equal((await ask(srv, { token: short })).status, 200);
    await until(() => ask(srv, { token: short }), (r) => r.status === 401, 'the expired token is refused');
    refused(await ask(srv, { token: short }), 401, 'invalid_token');
    // a bad signature, and a token of another issuer
    const good = await clientToken(srv, agent, { scope: 'read', resource: API });
    const [h, p, s] = good.split('.');
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
    refused(await ask(srv, { token: flipped }), 401, 'invalid_token');
    const stranger = await keyPair('ES256');
    const forged = await sign(stranger, { ...jwtParts(good).payload, iss: 'https://evil.example' },
      { typ: 'at+jwt' });
    refused(await ask(srv, { token: forged }), 401, 'invalid_token');
    const resigned = await sign(stranger, jwtParts(good).payload, { typ: 'at+jwt', kid: jwtParts(good).header.kid });
    refused(await ask(srv, { token: resigned }), 401, 'invalid_token');
    // the bad signature is audited alone as an attack signal
    await waitAudit(srv, (evs) => evs.map(eventBody).some((e) => eventType(e) === 'forward_auth.refused'),
      { what: 'forward_auth.refused' });
  });

  test('revocation and the kill switch end a cached token at once', async () => {
    const token = await clientToken(srv, agent, { scope: 'read', resource: API });
    for (let i = 0; i < 4; i++) assert.equal((await ask(srv, { token })).status, 200); // now cached
    const rev = await postAs(srv, agent, '/revoke', { token });
    assert.equal(rev.status, 200);
    // no delay is accepted: every thread's next answer refuses it
    for (let i = 0; i < 8; i++) refused(await ask(srv, { token }), 401, 'invalid_token');

    const victim = createClient(srv, agentMetadata({ client_name: 'Suspended', resources: [API] }));
    const vt = await clientToken(srv, victim, { scope: 'read', resource: API });
    for (let i = 0; i < 4; i++) assert.equal((await ask(srv, { token: vt })).status, 200);
    const s = srv.cli(['client', 'suspend', victim.client_id]);
    assert.equal(s.code, 0, s.stderr);
    await until(() => ask(srv, { token: vt }), (r) => r.status === 401, 'the suspended client\'s token is refused');
    for (let i = 0; i < 8; i++) refused(await ask(srv, { token: vt }), 401, 'invalid_token');
  });

  test('insufficient scope per method: 403 with the scope and the metadata URL', async () => {
    const token = await clientToken(srv, reader, { scope: 'read', resource: API });
    assert.equal((await ask(srv, { token })).status, 200);
    const r = await ask(srv, { token, method: 'POST' });
    refused(r, 403, 'insufficient_scope');
    assert.equal(r.headers.get('www-authenticate'),
      `Bearer error="insufficient_scope", scope="write", resource_metadata="${META}"`);
  });

  test('unknown resources, malformed forwards and untrusted peers', async () => {
    const token = await clientToken(srv, agent, { scope: 'read', resource: API });
    refused(await ask(srv, { token, host: 'other.example.com' }), 403, 'unknown_resource');
    refused(await ask(srv, { token, proto: 'http' }), 403, 'unknown_resource');
    refused(await ask(srv, { token, host: `${HOST}:8443` }), 403, 'unknown_resource');
    refused(await ask(srv, { token, host: 'billing.example.com', uri: '/v1x' }), 403, 'unknown_resource');
    for (const uri of ['/orders/../mcp', '/orders/%2e%2e/mcp', '/x/./y', '//mcp', '/a%2fb', '/%6Dcp', 'orders']) {
      refused(await ask(srv, { token, uri }), 400, 'invalid_request');
    }
    refused(await ask(srv, { token, uri: null }), 400, 'invalid_request');
    // a server whose trusted_proxies does not hold the caller answers 403 and nothing else
    const alone = await startServer({ config: { forward_auth: { resources: path.join(dir, 'resources.json') } } });
    try {
      createFixtureScopes(alone);
      const c = createClient(alone, agentMetadata({ client_name: 'Agent', resources: [API] }));
      const t = await clientToken(alone, c, { scope: 'read', resource: API });
      const r = await ask(alone, { token: t });
      refused(r, 403, 'access_denied');
      assert.equal(r.headers.get('www-authenticate'), null);
    } finally {
      await alone.stop();
    }
  });

  test('a certificate-bound token: only with the forwarded certificate', async () => {
    const t = await post(srv, '/token', { grant_type: 'client_credentials', scope: 'read', resource: API },
      { headers: { authorization: basic(bound.client_id, bound.client_secret),
        'x-client-cert': escapedPem(certs.mine.cert) } });
    assert.equal(t.status, 200, show(t));
    const token = t.json.access_token;
    assert.deepEqual(jwtParts(token).payload.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) });
    assert.equal((await ask(srv, { token, cert: certs.mine })).status, 200);
    refused(await ask(srv, { token }), 401, 'invalid_token');
    refused(await ask(srv, { token, cert: certs.other }), 401, 'invalid_token');
  });

  test('a token bound to a certificate and a key: both proven, as at the server\'s own APIs', async () => {
    const key = await newKey();
    const t = await post(srv, '/token', { grant_type: 'client_credentials', scope: 'read', resource: API },
      { headers: { authorization: basic(bound.client_id, bound.client_secret),
        'x-client-cert': escapedPem(certs.mine.cert),
        dpop: await proof(key, { htm: 'POST', htu: `${srv.issuer.replace(/\/$/, '')}/token` }) } });
    assert.equal(t.status, 200, show(t));
    const token = t.json.access_token;
    assert.deepEqual(Object.keys(jwtParts(token).payload.cnf).sort(), ['jkt', 'x5t#S256']);
    const ok = await ask(srv, { token, scheme: 'DPoP', cert: certs.mine, dpop: await proof(key, { token }) });
    assert.equal(ok.status, 200, show(ok));
    refused(await ask(srv, { token, scheme: 'DPoP', dpop: await proof(key, { token }) }), 401, 'invalid_token', 'DPoP');
    refused(await ask(srv, { token, scheme: 'DPoP', cert: certs.other, dpop: await proof(key, { token }) }),
      401, 'invalid_token', 'DPoP');
    refused(await ask(srv, { token, scheme: 'DPoP', cert: certs.mine }), 401, 'invalid_dpop_proof', 'DPoP');
  });

  test('a DPoP-bound token: only with the DPoP scheme and a fresh proof of its key for this request', async () => {
    const key = await newKey();
    const token = await dpopToken(srv, agent, key, { scope: 'read', resource: API });
    const ok = await ask(srv, { token, scheme: 'DPoP', dpop: await proof(key, { token }) });
    assert.equal(ok.status, 200, show(ok));
    assert.equal(ok.headers.get('x-mandate-client'), agent.client_id);
    // the proof's htu: query ignored, the default port and the host's case normalised
    const q = await ask(srv, { token, scheme: 'DPoP', uri: '/orders?page=2',
      dpop: await proof(key, { token, htu: `https://API.example.com:443/orders` }) });
    assert.equal(q.status, 200, show(q));
    // without proof, as a Bearer token, replayed, for another URI or method, of another key
    refused(await ask(srv, { token, scheme: 'DPoP' }), 401, 'invalid_dpop_proof', 'DPoP');
    refused(await ask(srv, { token }), 401, 'invalid_token', 'DPoP');
    refused(await ask(srv, { token, dpop: await proof(key, { token }) }), 401, 'invalid_token', 'DPoP');
    const once = await proof(key, { token });
    assert.equal((await ask(srv, { token, scheme: 'DPoP', dpop: once })).status, 200);
    refused(await ask(srv, { token, scheme: 'DPoP', dpop: once }), 401, 'invalid_dpop_proof', 'DPoP');
    refused(await ask(srv, { token, scheme: 'DPoP',
      dpop: await proof(key, { token, htu: `https://${HOST}/other` }) }), 401, 'invalid_dpop_proof', 'DPoP');
    refused(await ask(srv, { token, scheme: 'DPoP',
      dpop: await proof(key, { token, htu: `https://billing.example.com/orders` }) }), 401, 'invalid_dpop_proof', 'DPoP');
    refused(await ask(srv, { token, scheme: 'DPoP',
      dpop: await proof(key, { token, htm: 'POST' }) }), 401, 'invalid_dpop_proof', 'DPoP');
    refused(await ask(srv, { token, scheme: 'DPoP', dpop: await proof(key) }), 401, 'invalid_dpop_proof', 'DPoP');
    const thief = await newKey();
    refused(await ask(srv, { token, scheme: 'DPoP', dpop: await proof(thief, { token }) }), 401,
      'invalid_dpop_proof', 'DPoP');
    // an unbound token with the DPoP scheme
    const plain = await clientToken(srv, agent, { scope: 'read', resource: API });
    refused(await ask(srv, { token: plain, scheme: 'DPoP', dpop: await proof(key, { token: plain }) }),
      401, 'invalid_token', 'DPoP');
    // a refused proof is an attack signal, audited alone
    await waitAudit(srv, (evs) => evs.map(eventBody).some((e) => eventType(e) === 'forward_auth.refused'
      && /DPoP/i.test(e.reason ?? '')), { what: 'a refused DPoP proof audited' });
  });

  test('a delegation chain: X-Mandate-Act lists the actors, outermost first', async () => {
    const claims = { iss: IDP, sub: 'u-7', aud: srv.issuer, iat: now(), exp: now() + 300,
      jti: crypto.randomUUID(), scope: 'read' };
    const first = await postAs(srv, agent, '/token', { grant_type: TE, subject_token: await sign(idp, claims),
      subject_token_type: JWT, resource: API });
    assert.equal(first.status, 200, first.text);
    let r = await ask(srv, { token: first.json.access_token });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers.get('x-mandate-subject'), 'idp:u-7');
    assert.equal(r.headers.get('x-mandate-client'), agent.client_id);
    assert.equal(r.headers.get('x-mandate-act'), agent.client_id);
    const second = createClient(srv, agentMetadata({ client_name: 'Second hop',
      grant_types: ['client_credentials', TE], resources: [API] }));
    const next = await postAs(srv, second, '/token', { grant_type: TE, subject_token: first.json.access_token,
      subject_token_type: AT, resource: API });
    assert.equal(next.status, 200, next.text);
    assert.deepEqual(jose.decodeJwt(next.json.access_token).act, { sub: second.client_id, act: { sub: agent.client_id } });
    r = await ask(srv, { token: next.json.access_token });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers.get('x-mandate-subject'), 'idp:u-7');
    assert.equal(r.headers.get('x-mandate-act'), `${second.client_id},${agent.client_id}`);
  });

  test('decisions are audited (audit = all) with resource, method and status', async () => {
    const evs = await waitAudit(srv, (all) => all.map(eventBody)
      .filter((e) => eventType(e) === 'forward_auth.decision').length >= 5, { what: 'forward_auth.decision' });
    const mine = evs.map(eventBody).filter((e) => eventType(e) === 'forward_auth.decision');
    const allowed = mine.find((e) => e.decision === 'allow');
    assert.ok(allowed, JSON.stringify(mine.slice(0, 3)));
    const data = typeof allowed.data === 'string' ? JSON.parse(allowed.data) : allowed.data;
    assert.ok([API, MCP, API2].includes(data.resource), JSON.stringify(data));
    assert.equal(typeof data.status, 'number');
    assert.ok(mine.some((e) => e.decision === 'deny'));
    // and never a token in the log
    assert.ok(!JSON.stringify(auditEvents(srv)).includes('eyJ'));
  });

  test('RFC 9728 metadata: one document per resource, matched by host and path', async () => {
    const doc = async (p, host = HOST) => {
      const res = await fetch(`${srv.url}/.well-known/oauth-protected-resource${p}`,
        { headers: { 'x-forwarded-host': host }, signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
    };
    const algs = (j) => j.dpop_signing_alg_values_supported;
    let r = await doc('');
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.match(r.headers.get('cache-control'), /max-age=\d+/);
    assert.deepEqual(r.json, { resource: API, authorization_servers: [srv.issuer],
      scopes_supported: ['read', 'write'], bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: algs(r.json), resource_name: 'Orders API' });
    assert.ok(algs(r.json).includes('ES256') && !algs(r.json).some((a) => a.startsWith('HS') || a === 'none'));
    r = await doc('/mcp');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.resource, MCP);
    assert.deepEqual(r.json.scopes_supported, ['read']);
    assert.equal(r.json.resource_name, 'Example MCP server');
    r = await doc('/v1', 'billing.example.com');
    assert.equal(r.status, 200, show(r));
    assert.deepEqual(r.json, { resource: API2, authorization_servers: [srv.issuer], scopes_supported: [],
      bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: algs(r.json) });
    // another host: the one resource with that path
    assert.equal((await doc('/mcp', '127.0.0.1')).json.resource, MCP);
    for (const p of ['/nope', '/mc', '/mcp/x', 'x']) {
      const n = await fetch(`${srv.url}/.well-known/oauth-protected-resource${p}`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(n.status, 404, p);
      await n.text();
    }
    // the metadata URL a 401 names is this document's at the resource's origin
    const c = await ask(srv, { uri: '/mcp' });
    assert.ok(c.headers.get('www-authenticate').includes(`resource_metadata="${MCP_META}"`));
  });
});

describe('/forward-auth asks the PDP', { timeout: 120_000 }, () => {
  let dir; let srv; let agent; let token;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-fwd-pdp-'));
    const file = path.join(dir, 'resources.json');
    await writeFile(file, JSON.stringify(RESOURCES));
    srv = await startServer({ dir, config: {
      server: { trusted_proxies: '127.0.0.1/32' },
      forward_auth: { resources: file },
      pdp: { mode: 'embedded' },
    } });
    createFixtureScopes(srv);
    agent = createClient(srv, agentMetadata({ client_name: 'Agent', resources: [API, MCP] }));
    token = await clientToken(srv, agent, { scope: 'read write', resource: MCP });
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a Cedar forbid of POST to /mcp for a client: 403, and 200 again once removed', async () => {
    assert.equal((await ask(srv, { token, uri: '/mcp', method: 'POST' })).status, 200);
    const add = srv.cli(['policy', 'add', 'no-mcp-post'], { input:
      `forbid (principal == Client::"${agent.client_id}", action == Action::"POST", resource)
       when { context.path like "/mcp*" && context.resource == "${MCP}" };` });
    assert.equal(add.code, 0, add.stderr);
    const r = await until(() => ask(srv, { token, uri: '/mcp', method: 'POST' }), (x) => x.status === 403,
      'the policy denies');
    refused(r, 403, 'access_denied');
    assert.equal((await ask(srv, { token, uri: '/mcp/tools', method: 'POST' })).status, 403);
    assert.equal((await ask(srv, { token, uri: '/mcp', method: 'GET' })).status, 200);
    const rm1 = srv.cli(['policy', 'remove', 'no-mcp-post']);
    assert.equal(rm1.code, 0, rm1.stderr);
    await until(() => ask(srv, { token, uri: '/mcp', method: 'POST' }), (x) => x.status === 200,
      'allowed again');
  });

  test('decisions are aggregated: one forward_auth.decisions event per minute, counts per resource and outcome', async () => {
    const decisions = () => auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'forward_auth.decisions');
    assert.equal(auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'forward_auth.decision').length, 0,
      'not one event per decision');
    // the event of a minute is written by the first decision after it: ask once a second (at most 75 times)
    let evs = [];
    for (let i = 0; i < 75 && evs.length === 0; i++) {
      await ask(srv, { token, uri: '/mcp', method: 'GET' });
      evs = decisions();
      if (evs.length === 0) await sleep(1000);
    }
    assert.ok(evs.length >= 1, 'a minute was recorded');
    const data = typeof evs[0].data === 'string' ? JSON.parse(evs[0].data) : evs[0].data;
    assert.equal(data.minute % 60, 0);
    const mcp = data.counts.find((c) => c.resource === MCP);
    assert.ok(mcp, JSON.stringify(data));
    assert.ok(mcp.allow >= 1, JSON.stringify(mcp));
    for (const k of ['allow', 'unauthorized', 'forbidden', 'error']) assert.equal(typeof mcp[k], 'number');
  });
});

describe('/forward-auth asks an external AuthZEN PDP without holding a thread', { timeout: 120_000 }, () => {
  let dir; let srv; let pdp; let agent; let token; let dpopKey; let bound;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-fwd-ext-'));
    const file = path.join(dir, 'resources.json');
    await writeFile(file, JSON.stringify(RESOURCES));
    pdp = await startAuthzenServer({ policies: {
      baseline: 'permit (principal, action, resource) when { action == Action::"token.issue" || resource is Path };',
      'no-mcp-post': 'forbid (principal is Client, action == Action::"POST", resource) '
        + 'when { context.path like "/mcp*" && context.cnf == "none" };',
    } });
    srv = await startServer({ dir, config: {
      server: { trusted_proxies: '127.0.0.1/32', threads: 1 },
      forward_auth: { resources: file },
      pdp: { mode: 'off', url: pdp.url, timeout: '1s', cache_ttl: '0' },
    } });
    createFixtureScopes(srv);
    agent = createClient(srv, agentMetadata({ client_name: 'Agent', resources: [API, MCP] }));
    token = await clientToken(srv, agent, { scope: 'read write', resource: MCP });
    // a DPoP-bound token issued before the PDP is on (its questions at /token are not this test's)
    dpopKey = await newKey();
    bound = await dpopToken(srv, agent, dpopKey, { scope: 'read', resource: MCP });
    const conf = await readFile(srv.conf, 'utf8');
    assert.match(conf, /mode = off/);
    await writeFile(srv.conf, conf.replace('mode = off', 'mode = authzen'));
    await srv.restart();
  });
  after(async () => {
    await srv?.stop();
    await pdp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the PDP is asked (subject, action, resource, context) and its decision applied; no answer fails closed', async () => {
    const before = pdp.calls;
    const ok = await ask(srv, { token, uri: '/mcp/tools', method: 'GET' });
    assert.equal(ok.status, 200, show(ok));
    assert.equal(pdp.calls, before + 1);
    const q = pdp.bodies.at(-1).body;
    const ev = { subject: q.subject, action: q.action, resource: q.resource, context: q.context,
      ...(q.evaluations?.[0] ?? {}) };
    assert.deepEqual(ev.subject, { type: 'Client', id: agent.client_id });
    assert.deepEqual(ev.action, { name: 'GET' });
    assert.deepEqual(ev.resource, { type: 'Path', id: '/mcp/tools' });
    assert.equal(ev.context.resource, MCP);
    assert.equal(ev.context.path, '/mcp/tools');
    assert.equal(ev.context.host, HOST);
    assert.equal(ev.context.scope, 'read write');
    assert.equal(ev.context.cnf, 'none');
    assert.equal(ev.context.tier, 'medium');
    assert.equal(ev.context.auth_method, 'client_secret_basic');
    assert.equal(typeof ev.context.risk, 'object');
    refused(await ask(srv, { token, uri: '/mcp', method: 'POST' }), 403, 'access_denied');
    pdp.behave('hang');
    const r = await ask(srv, { token, uri: '/mcp', method: 'GET' });
    assert.equal(r.status, 503, show(r));
    assert.deepEqual(identity(r), []);
    pdp.behave('normal');
    assert.equal((await ask(srv, { token, uri: '/mcp', method: 'GET' })).status, 200);
  });

  test('a DPoP proof checked before the PDP is not a replay when the request runs again', async () => {
    const before = pdp.calls;
    const once = await proof(dpopKey, { token: bound, htu: `https://${HOST}/mcp` });
    const r = await ask(srv, { token: bound, scheme: 'DPoP', uri: '/mcp', dpop: once });
    assert.equal(r.status, 200, show(r));
    assert.equal(pdp.calls, before + 1);
    refused(await ask(srv, { token: bound, scheme: 'DPoP', uri: '/mcp', dpop: once }), 401,
      'invalid_dpop_proof', 'DPoP');
  });
});

describe('/forward-auth with [dpop] nonce = all', { timeout: 120_000 }, () => {
  let dir; let srv; let agent;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-fwd-nonce-'));
    const file = path.join(dir, 'resources.json');
    await writeFile(file, JSON.stringify(RESOURCES));
    srv = await startServer({ dir, config: {
      server: { trusted_proxies: '127.0.0.1/32' },
      forward_auth: { resources: file },
      dpop: { nonce: 'all' },
    } });
    createFixtureScopes(srv);
    agent = createClient(srv, agentMetadata({ client_name: 'Agent', resources: [API] }));
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a proof without the server\'s nonce: 401 use_dpop_nonce with DPoP-Nonce; with it: 200', async () => {
    const key = await newKey();
    // the token endpoint wants a nonce too: learn it there
    const tokenUrl = `${srv.issuer.replace(/\/$/, '')}/token`;
    const form = { grant_type: 'client_credentials', scope: 'read', resource: API };
    const auth = basic(agent.client_id, agent.client_secret);
    const first = await post(srv, '/token', form,
      { headers: { authorization: auth, dpop: await proof(key, { htm: 'POST', htu: tokenUrl }) } });
    assert.equal(first.json?.error, 'use_dpop_nonce', show(first));
    let nonce = first.headers.get('dpop-nonce');
    const t = await post(srv, '/token', form,
      { headers: { authorization: auth, dpop: await proof(key, { htm: 'POST', htu: tokenUrl, nonce }) } });
    assert.equal(t.status, 200, show(t));
    const token = t.json.access_token;
    const r = await ask(srv, { token, scheme: 'DPoP', dpop: await proof(key, { token }) });
    refused(r, 401, 'use_dpop_nonce', 'DPoP');
    assert.ok(r.headers.get('dpop-nonce'));
    nonce = r.headers.get('dpop-nonce');
    const ok = await ask(srv, { token, scheme: 'DPoP', dpop: await proof(key, { token, nonce }) });
    assert.equal(ok.status, 200, show(ok));
    assert.ok(ok.headers.get('dpop-nonce'), 'the current nonce on every answer');
    refused(await ask(srv, { token, scheme: 'DPoP', dpop: await proof(key, { token, nonce: 'made-up' }) }),
      401, undefined, 'DPoP');
  });
});

describe('/forward-auth with [forward_auth] audit = sampled', { timeout: 120_000 }, () => {
  let dir; let srv; let agent;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-fwd-sampled-'));
    const file = path.join(dir, 'resources.json');
    await writeFile(file, JSON.stringify(RESOURCES));
    srv = await startServer({ dir, config: {
      server: { trusted_proxies: '127.0.0.1/32' },
      forward_auth: { resources: file, audit: 'sampled', audit_sample: 4 },
    } });
    createFixtureScopes(srv);
    agent = createClient(srv, agentMetadata({ client_name: 'Agent', resources: [API] }));
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('one decision in audit_sample is audited alone', async () => {
    const token = await clientToken(srv, agent, { scope: 'read', resource: API });
    for (let i = 0; i < 12; i++) assert.equal((await ask(srv, { token })).status, 200);
    const alone = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'forward_auth.decision');
    assert.equal(alone.length, 3);
    assert.ok(alone.every((e) => e.decision === 'allow' && e.client_id === agent.client_id));
  });
});
