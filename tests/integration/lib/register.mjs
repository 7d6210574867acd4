// Raw RFC 7591 / RFC 7592 requests and the checks the registration tests share.
import assert from 'node:assert/strict';
import { cliJson } from './server.mjs';
import { auditEvents, eventType, show, waitAudit } from './oauth.mjs';

async function send(srv, method, pathname, { body, token, contentType = 'application/json', raw } = {}) {
  const headers = {};
  if (body !== undefined || raw !== undefined) headers['content-type'] = contentType;
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${srv.url}${pathname}`, {
    method,
    headers,
    body: raw !== undefined ? raw : body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** POST /register with metadata (an object) or a raw body; opts.iat: the initial access token. */
export function register(srv, metadata, { iat, raw, contentType } = {}) {
  return send(srv, 'POST', '/register', { body: metadata, raw, token: iat, contentType });
}

/** GET, PUT, DELETE of the client configuration endpoint (RFC 7592). */
export function regRead(srv, clientId, rat) {
  return send(srv, 'GET', `/register/${clientId}`, { token: rat });
}
export function regUpdate(srv, clientId, rat, metadata) {
  return send(srv, 'PUT', `/register/${clientId}`, { body: metadata, token: rat });
}
export function regDelete(srv, clientId, rat) {
  return send(srv, 'DELETE', `/register/${clientId}`, { token: rat });
}

/** Asserts a 201 RFC 7591 registration response and returns its body. */
export function assertRegistered(r, status = 'active') {
  assert.equal(r.status, 201, `registration: ${show(r)}`);
  assert.equal(r.headers.get('cache-control'), 'no-store', 'Cache-Control: no-store');
  const b = r.json;
  assert.equal(typeof b.client_id, 'string');
  assert.ok(Number.isInteger(b.client_id_issued_at), 'client_id_issued_at');
  assert.equal(typeof b.registration_access_token, 'string', 'registration_access_token');
  assert.ok(b.registration_access_token.length >= 43, 'a registration access token of 256 bits');
  assert.match(b.registration_client_uri, new RegExp(`/register/${b.client_id}$`));
  assert.equal(b.status, status, `status ${status}: ${show(r)}`);
  return b;
}

/** An invalid_token refusal of RFC 6750 (401 and its challenge). */
export function assertInvalidToken(r) {
  assert.equal(r.status, 401, show(r));
  assert.equal(r.json?.error, 'invalid_token', show(r));
  assert.match(r.headers.get('www-authenticate') || '', /^Bearer .*error="invalid_token"/, show(r));
}

export const clientIds = (srv) => cliJson(srv, ['client', 'list']).map((c) => c.client_id).sort();
export const refusedEvents = (srv) => auditEvents(srv).filter((e) => eventType(e) === 'registration.refused');

/**
 * Runs a refused registration: right status and error, no client created, a
 * registration.refused event (whose reason contains `reason` when given).
 */
export async function refusedRegistration(srv, sendIt, status, error, reason) {
  const clientsBefore = clientIds(srv);
  const before = refusedEvents(srv).length;
  const r = await sendIt();
  assert.equal(r.status, status, `expected ${status} ${error}: ${show(r)}`);
  assert.equal(r.json?.error, error, `error code: ${show(r)}`);
  assert.equal(r.json?.client_id, undefined, 'no client in a refusal');
  assert.deepEqual(clientIds(srv), clientsBefore, 'nothing created');
  const events = await waitAudit(srv, (evs) => evs.filter((e) => eventType(e) === 'registration.refused').length > before,
    { what: `a registration.refused event for ${error}` });
  const fresh = events.filter((e) => eventType(e) === 'registration.refused').slice(before);
  if (reason) assert.ok(JSON.stringify(fresh).match(reason), `refusal reason ${reason}: ${JSON.stringify(fresh)}`);
  return r;
}
