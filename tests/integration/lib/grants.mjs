// Helpers of the tests on what a grant issued and how it ends (revocation,
// single use, public clients): codes obtained with fetch and a signed-in
// cookie jar, and the checks that tell whether a token still works.
import assert from 'node:assert/strict';

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
