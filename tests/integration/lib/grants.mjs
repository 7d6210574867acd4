// Helpers of the tests on what a grant issued and how it ends (revocation,
// single use, public clients): codes obtained with fetch and a signed-in
// cookie jar, and the checks that tell whether a token still works.
import assert from 'node:assert/strict';
import net from 'node:net';

import { authorizeUrl, consent, pkce } from './authz.mjs';
import { basic, post } from './oauth.mjs';
import { cliJson, createScope } from './server.mjs';

/** Creates the scope unless the server has it already (init may create the OpenID ones). */
export function ensureScope(srv, name, opts = {}) {
  const have = cliJson(srv, ['scope', 'list']).some((s) => s.name === name);
  if (!have) createScope(srv, name, opts);
}

/**
 * Runs /authorize for client with the signed-in jar, consenting when asked:
 * {code, verifier}. params are added to the request (scope defaults to read).
 */
export async function authorizeCode(srv, jar, client, redirectUri, params = {}) {
  const p = await pkce();
  let r = await jar.fetch(authorizeUrl(srv, {
    response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, scope: 'read',
    code_challenge: p.challenge, code_challenge_method: 'S256', state: 'st', ...params,
  }));
  assert.equal(r.status, 303, await r.text());
  let loc = r.headers.get('location');
  if (loc.startsWith('/consent')) {
    r = await consent(srv, jar, loc);
    assert.equal(r.status, 303, await r.text());
    loc = r.headers.get('location');
  }
  const code = new URL(loc).searchParams.get('code');
  assert.ok(code, `a code in ${loc}`);
  return { code, verifier: p.verifier };
}

/** The client's authentication for a form post: Basic for confidential clients, client_id for public ones. */
export function clientAuth(client) {
  if (client.client_secret) return { headers: { authorization: basic(client.client_id, client.client_secret) }, fields: {} };
  return { headers: {}, fields: { client_id: client.client_id } };
}

/** POSTs fields to path as client. */
export function postAs(srv, client, path, fields) {
  const a = clientAuth(client);
  return post(srv, path, { ...a.fields, ...fields }, { headers: a.headers });
}

/** Redeems a code at /token as client. */
export function redeem(srv, client, redirectUri, { code, verifier }) {
  return postAs(srv, client, '/token', {
    grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier,
  });
}

/** Uses a refresh token at /token as client. */
export function refresh(srv, client, refreshToken) {
  return postAs(srv, client, '/token', { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/** The status of GET /userinfo with the access token (200 active with openid, 401 not active). */
export async function userinfoStatus(srv, accessToken) {
  const r = await fetch(`${srv.url}/userinfo`, {
    headers: { authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(10_000),
  });
  await r.arrayBuffer();
  return r.status;
}

/**
 * Sends form posts so that they reach the server at once: each on its own
 * connection, all but the last byte written first, then the last bytes of
 * all of them in one go ("last-byte synchronisation"). requests: [{path,
 * headers, fields}]. Resolves [{status, text, json}] in the same order.
 */
export async function sendTogether(srv, requests, { timeoutMs = 30_000 } = {}) {
  const { port } = new URL(srv.url);
  const sockets = await Promise.all(requests.map(() => new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: Number(port) }, () => resolve(s));
    s.once('error', reject);
  })));
  const answers = sockets.map((s) => new Promise((resolve, reject) => {
    const chunks = [];
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer')); }, timeoutMs);
    s.on('data', (d) => chunks.push(d));
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('close', () => { clearTimeout(timer); resolve(parseHttp(Buffer.concat(chunks).toString('utf8'))); });
  }));
  const raw = requests.map(({ path, headers = {}, fields }) => {
    const body = new URLSearchParams(fields).toString();
    const head = [`POST ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close',
      'Content-Type: application/x-www-form-urlencoded', `Content-Length: ${Buffer.byteLength(body)}`,
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    return Buffer.from(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
  await Promise.all(sockets.map((s, i) => new Promise((r) => s.write(raw[i].subarray(0, -1), r))));
  await new Promise((r) => setTimeout(r, 100)); // let the server read the beginnings
  sockets.forEach((s, i) => s.write(raw[i].subarray(-1)));
  return Promise.all(answers);
}

function parseHttp(text) {
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  const at = text.indexOf('\r\n\r\n');
  let body = at >= 0 ? text.slice(at + 4) : '';
  if (/\r\ntransfer-encoding: *chunked/i.test(text.slice(0, at))) body = unchunk(body);
  let json;
  try { json = JSON.parse(body); } catch { json = undefined; }
  return { status, text: body, json };
}

function unchunk(body) {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const n = parseInt(rest.slice(0, nl), 16);
    if (!n) return out;
    out += rest.slice(nl + 2, nl + 2 + n);
    rest = rest.slice(nl + 2 + n + 2);
  }
}
