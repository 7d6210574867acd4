// Helpers of the RFC 7523 tests (private_key_jwt, workload identity, JWT
// bearer grant): key pairs, signed and deliberately broken assertions, a
// JWK Set server on loopback the tests control, and refusal checks that
// find the audit event of each refusal with its reason.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import * as jose from 'jose';
import { assertOAuthError, auditEvents, eventType, post, show, waitAudit } from './oauth.mjs';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export const now = () => Math.floor(Date.now() / 1000);

/** A signing key pair: {alg, kid, privateKey, publicKey, publicJwk (with kid, alg, use)}. */
export async function keyPair(alg, kid = `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`) {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk };
}

/** Signs claims with key; header overrides (kid: null drops the kid). */
export async function sign(key, claims, header = {}) {
  const h = { alg: key.alg, kid: key.kid, ...header };
  if (h.kid === null) delete h.kid;
  return new jose.SignJWT(claims).setProtectedHeader(h).sign(key.privateKey);
}

/** Claims of a private_key_jwt assertion for clientId at the server. */
export function clientClaims(srv, clientId, over = {}) {
  const t = now();
  const c = { iss: clientId, sub: clientId, aud: srv.issuer, jti: crypto.randomUUID(), iat: t, exp: t + 60, ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

/** An unsigned JWT (alg none). */
export function unsignedJwt(claims) {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

/** HS256 with the public key's PEM as the HMAC secret: the classic key-confusion attack. */
export async function hmacWithPublicKey(key, claims) {
  const pem = await jose.exportSPKI(key.publicKey);
  const input = `${b64({ alg: 'HS256', kid: key.kid })}.${b64(claims)}`;
  return `${input}.${crypto.createHmac('sha256', pem).update(input).digest('base64url')}`;
}

/** A client_credentials request authenticated by a client assertion (raw HTTP). */
export function tokenWithAssertion(srv, assertion, { clientId, params = {} } = {}) {
  const body = { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion, ...params };
  if (clientId) body.client_id = clientId;
  return post(srv, '/token', body);
}

/**
 * A JWK Set server on 127.0.0.1. Routes: set(path, {jwks | body, delayMs, status}).
 * hits(path) counts requests. close() stops it.
 */
export async function jwksServer() {
  const routes = new Map();
  const counts = new Map();
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    counts.set(path, (counts.get(path) || 0) + 1);
    const r = routes.get(path);
    if (!r) { res.writeHead(404).end(); return; }
    const body = r.body ?? JSON.stringify(r.jwks);
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(r.status ?? 200, { 'content-type': 'application/jwk-set+json' });
      res.end(body);
    };
    if (r.delayMs) setTimeout(send, r.delayMs).unref(); else send();
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    url: (path) => `${base}${path}`,
    set(path, route) { routes.set(path, route); },
    hits: (path) => counts.get(path) || 0,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Audit events of the refusal types, in order. */
function refusalsOf(srv, type) {
  return auditEvents(srv).filter((e) => eventType(e) === type);
}

/**
 * Sends a request that must be refused with status/error, and asserts that a
 * new audit event of type records it with a reason matching reason.
 * Returns the event.
 */
export async function expectRefusal(srv, send, { status = 401, error = 'invalid_client',
  type = status === 401 ? 'client.auth_failed' : 'token.refused', reason, clientId } = {}) {
  const before = refusalsOf(srv, type).length;
  const r = await send();
  assertOAuthError(r, status, error);
  if (status === 401) assert.ok(r.headers.get('www-authenticate'), `WWW-Authenticate on 401: ${show(r)}`);
  if (error === 'invalid_client') {
    assert.equal(r.json.error_description, 'client authentication failed',
      'the answer never says which part failed');
  }
  const events = await waitAudit(srv, (evs) => evs.filter((e) => eventType(e) === type).length > before,
    { what: `a ${type} event (${error})` });
  const ev = events.filter((e) => eventType(e) === type).slice(before).at(-1);
  const text = JSON.stringify(ev);
  assert.ok(ev.body?.reason ?? ev.reason, `the event has a reason: ${text}`);
  if (reason) assert.match(ev.body?.reason ?? ev.reason, reason, `audit reason: ${text}`);
  if (clientId) assert.ok(text.includes(clientId), `the event names the client ${clientId}: ${text}`);
  return ev;
}
