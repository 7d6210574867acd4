// Helpers of the authorization code tests (par, authorize_prompt, consents):
// a callback server, a signed-in cookie jar, /authorize driven with fetch.
import assert from 'node:assert/strict';
import http from 'node:http';

import * as oidc from 'openid-client';

import { CookieJar, csrfOf } from './browser.mjs';

export const PASSWORD = 'correct horse battery';
export const FAST_ARGON2 = { argon2_memory_kib: 8192, argon2_time_cost: 1 };

/** A tiny http server on 127.0.0.1 that records the query of every /cb hit. */
export async function callbackServer() {
  const hits = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname === '/cb') {
      hits.push(u);
      waiters.splice(0).forEach((w) => w(u));
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('callback received');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const uri = `http://127.0.0.1:${server.address().port}/cb`;
  return {
    uri,
    hits,
    next: (ms = 10_000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no callback')), ms);
      waiters.push((u) => { clearTimeout(t); resolve(u); });
    }),
    close: () => new Promise((r) => server.close(r)),
  };
}

export function createUsers(srv, names) {
  for (const u of names) {
    const r = srv.cli(['user', 'create', u, '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(r.code, 0, r.stderr);
  }
}

/** Posts the login form with jar (return_to optional); the response. */
export async function login(srv, jar, username, returnTo) {
  const q = returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : '';
  const form = await (await jar.fetch(`${srv.url}/login${q}`)).text();
  const fields = { csrf_token: csrfOf(form), username, password: PASSWORD };
  if (returnTo) fields.return_to = returnTo;
  return jar.fetch(`${srv.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

/** A cookie jar signed in as username. */
export async function signedIn(srv, username) {
  const jar = new CookieJar();
  const r = await login(srv, jar, username);
  assert.equal(r.status, 303, await r.text());
  return jar;
}

export function authorizeUrl(srv, params) {
  const u = new URL(`${srv.url}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

/** Posts the consent form of the page at loc (a /consent path): the response. */
export async function consent(srv, jar, loc, decision = 'allow') {
  const page = await (await jar.fetch(`${srv.url}${loc}`)).text();
  const request = /name="request" value="([^"]*)"/.exec(page)[1];
  return jar.fetch(`${srv.url}/consent`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf_token: csrfOf(page), request, decision }).toString(),
  });
}

export async function pkce() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
}
