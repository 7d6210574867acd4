// Helpers shared by the protocol tests: discovery through oauth4webapi, raw
// token requests with fetch, and reading the audit log.
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { createScope, sleep } from './server.mjs';

/** oauth4webapi options for a loopback http issuer. */
export const insecure = { [oauth.allowInsecureRequests]: true };

/** The RFC 8414 metadata of the server, validated by oauth4webapi. */
export async function discover(srv, algorithm = 'oauth2') {
  const issuer = new URL(srv.issuer);
  const res = await oauth.discoveryRequest(issuer, { algorithm, ...insecure });
  return oauth.processDiscoveryResponse(issuer, res);
}

/** RFC 6749 §2.3.1: form-encode id and secret, then base64. */
export function basic(id, secret) {
  const enc = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/**
 * POSTs to a server path. body: URLSearchParams | string | Record | array of pairs.
 * Returns {status, headers, text, json} (json undefined when not JSON).
 */
export async function post(srv, pathname, body, { headers = {}, contentType } = {}) {
  let payload = body;
  if (body && typeof body === 'object' && !(body instanceof URLSearchParams)) {
    payload = new URLSearchParams(Array.isArray(body) ? body : Object.entries(body));
  }
  if (payload instanceof URLSearchParams) payload = payload.toString();
  const h = { 'content-type': contentType ?? 'application/x-www-form-urlencoded', ...headers };
  const res = await fetch(`${srv.url}${pathname}`, {
    method: 'POST', headers: h, body: payload, signal: AbortSignal.timeout(10_000),
  });
  return readResponse(res);
}

export async function get(srv, pathname, { headers = {} } = {}) {
  const res = await fetch(`${srv.url}${pathname}`, { headers, signal: AbortSignal.timeout(10_000) });
  return readResponse(res);
}

async function readResponse(res) {
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** Describes a response for assertion messages. */
export function show(r) {
  return `${r.status} ${JSON.stringify(Object.fromEntries(r.headers))} ${r.text.slice(0, 500)}`;
}

/** A client_credentials request authenticated with client_secret_basic. */
export function tokenBasic(srv, client, params = {}) {
  return post(srv, '/token', { grant_type: 'client_credentials', ...params },
    { headers: { authorization: basic(client.client_id, client.client_secret) } });
}

/** A client_credentials request authenticated with client_secret_post. */
export function tokenPost(srv, client, params = {}) {
  return post(srv, '/token', {
    grant_type: 'client_credentials',
    client_id: client.client_id,
    client_secret: client.client_secret,
    ...params,
  });
}

/** Asserts an RFC 6749 §5.2 error response. */
export function assertOAuthError(r, status, error) {
  assert.equal(r.status, status, `expected ${status} ${error}, got ${show(r)}`);
  assert.ok(r.json && typeof r.json === 'object', `error body is not JSON: ${show(r)}`);
  assert.equal(r.json.error, error, `wrong error code: ${show(r)}`);
  assert.match(r.headers.get('content-type') || '', /^application\/json/i, show(r));
  if (r.json.error_description !== undefined) {
    assert.equal(typeof r.json.error_description, 'string');
  }
  assert.equal(r.json.access_token, undefined, 'an error response carries no token');
}

/** The claims of a JWT without verifying it. */
export function jwtParts(token) {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

/** True when the string parses as a compact JWS. */
export function looksLikeJwt(token) {
  if (token.split('.').length !== 3) return false;
  try { jwtParts(token); return true; } catch { return false; }
}

// ---------------------------------------------------------------- audit

/** The audit log as an array of events (`audit export --json`, NDJSON or a JSON array). */
export function auditEvents(srv, extraArgs = []) {
  const r = srv.cli(['audit', 'export', ...extraArgs, '--json']);
  assert.equal(r.code, 0, `audit export failed: ${r.stderr}`);
  return parseEvents(r.stdout);
}

export function parseEvents(text) {
  const t = text.trim();
  if (t === '') return [];
  if (t.startsWith('[')) return JSON.parse(t);
  return t.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
}

/** The body of an event as an object (export may nest it or flatten it). */
export function eventBody(ev) {
  let b = ev.body;
  if (typeof b === 'string') { try { b = JSON.parse(b); } catch { /* keep */ } }
  return b && typeof b === 'object' ? { ...ev, ...b } : ev;
}

export function eventType(ev) {
  return ev.type ?? eventBody(ev).type;
}

/** Polls the audit log (bounded) until pred(events) is truthy; returns the events. */
export async function waitAudit(srv, pred, { timeoutMs = 5000, what = 'audit events' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let events = [];
  for (;;) {
    events = auditEvents(srv);
    if (pred(events)) return events;
    if (Date.now() > deadline) {
      assert.fail(`${what} not found within ${timeoutMs} ms; log:\n${events.map((e) => JSON.stringify(e)).join('\n')}`);
    }
    await sleep(100);
  }
}

export const REFUSAL_TYPES = new Set(['token.refused', 'client.auth_failed']);

// ---------------------------------------------------------------- fixtures

export const API = 'https://api.example.com';
export const API2 = 'https://billing.example.com/v1';

/** Metadata of a confidential agent client entitled to `read write` on API and API2. */
export function agentMetadata(overrides = {}) {
  return {
    client_name: 'Expense assistant',
    kind: 'agent',
    owner: 'alice',
    risk_tier: 'medium',
    software_id: 'expense-assistant',
    software_version: '1.4.2',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'read write',
    resources: [API, API2],
    ...overrides,
  };
}

/** Creates the scopes the fixtures use (read, write, admin) on a fresh server. */
export function createFixtureScopes(srv) {
  createScope(srv, 'read', { description: 'Read things' });
  createScope(srv, 'write', { description: 'Write things' });
  createScope(srv, 'admin', { description: 'Administer things' });
}

// ---------------------------------------------------------------- token claims

/** Scope strings compared as sets. */
export function scopeSet(s) {
  assert.equal(typeof s, 'string', `scope is a string: ${JSON.stringify(s)}`);
  return [...new Set(s.split(' ').filter(Boolean))].sort();
}

/** The `app` claim Mandate must put in tokens of this client (SPEC §2.5). */
export function expectedApp(meta, auth) {
  const app = { kind: meta.kind, name: meta.client_name, owner: meta.owner, auth, tier: meta.risk_tier,
    software_id: meta.software_id, software_version: meta.software_version };
  for (const k of Object.keys(app)) if (app[k] === undefined) delete app[k];
  return app;
}

/**
 * Asserts the claims of an access token (a JWT payload or an active
 * introspection response) for a client_credentials grant.
 * want: {issuer, client (registration response), scope, resource, auth, ttl}
 */
export function assertTokenClaims(c, want) {
  const id = want.client.client_id;
  assert.equal(c.iss, want.issuer, 'iss');
  assert.equal(c.sub, id, 'sub is the client_id when there is no user');
  assert.equal(c.client_id, id, 'client_id');
  assert.ok(c.aud !== undefined && c.aud !== null && c.aud !== '', 'aud present');
  if (want.resource) {
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    assert.deepEqual(aud, [want.resource], 'aud is the requested resource');
  }
  assert.ok(Number.isInteger(c.iat), 'iat is an integer');
  assert.ok(Number.isInteger(c.exp), 'exp is an integer');
  const now = Math.floor(Date.now() / 1000);
  assert.ok(Math.abs(c.iat - now) <= 60, `iat ${c.iat} is now (${now})`);
  if (want.ttl !== undefined) assert.equal(c.exp - c.iat, want.ttl, 'exp - iat is the configured ttl');
  else assert.ok(c.exp > c.iat, 'exp after iat');
  assert.equal(typeof c.jti, 'string', 'jti');
  assert.ok(c.jti.length >= 16, `jti long enough to be unique: ${c.jti}`);
  assert.deepEqual(scopeSet(c.scope), scopeSet(want.scope), 'scope');
  assert.ok(c.app && typeof c.app === 'object', 'app claim is an object');
  const app = expectedApp(want.meta ?? want.client, want.auth);
  for (const [k, v] of Object.entries(app)) assert.equal(c.app[k], v, `app.${k}`);
  assert.equal(c.app.approval, undefined, 'no app.approval without a human approval');
  const known = ['kind', 'name', 'owner', 'auth', 'tier', 'software_id', 'software_version'];
  for (const k of Object.keys(c.app)) assert.ok(known.includes(k), `unexpected app.${k}`);
}
