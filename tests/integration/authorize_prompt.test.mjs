// prompt and max_age at /authorize (OpenID Connect Core §3.1.2.1): login
// forces a new sign-in even with a session, consent shows the consent page
// even when consented, none with a session but no consent answers
// consent_required, max_age=0 forces a new sign-in and the token's
// auth_time is that of the new one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import {
  authorizeUrl, callbackServer, consent, createUsers, FAST_ARGON2, login, pkce, signedIn,
} from './lib/authz.mjs';
import {
  API, auditEvents, createFixtureScopes, eventBody, eventType, post,
} from './lib/oauth.mjs';
import { createClient, sleep, startServer } from './lib/server.mjs';

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

describe('prompt and max_age', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let pub;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice', 'bob', 'dave']);
    cb = await callbackServer();
    pub = createClient(srv, {
      kind: 'agent', owner: 'alice', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      scope: 'read write', resources: [API], client_name: 'Prompt agent', token_endpoint_auth_method: 'none',
    });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  /** /authorize with jar: the 303's Location (a path or the client's URL). */
  async function start(jar, extra) {
    const p = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, {
      response_type: 'code', client_id: pub.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: p.challenge, code_challenge_method: 'S256', state: 'st', ...extra,
    }));
    assert.equal(r.status, 303, await r.text());
    return { loc: r.headers.get('location'), verifier: p.verifier };
  }

  /** Follows loc through consent (allowed) to the client: the callback URL. */
  async function finish(jar, loc) {
    let at = loc;
    if (at.startsWith('/authorize')) {
      const r = await jar.fetch(`${srv.url}${at}`);
      assert.equal(r.status, 303, await r.text());
      at = r.headers.get('location');
    }
    if (at.startsWith('/consent')) {
      const r = await consent(srv, jar, at);
      assert.equal(r.status, 303, await r.text());
      at = r.headers.get('location');
    }
    return new URL(at);
  }

  async function accessToken(back, verifier) {
    const code = back.searchParams.get('code');
    assert.ok(code, back.href);
    const t = await post(srv, '/token', {
      grant_type: 'authorization_code', client_id: pub.client_id, code, redirect_uri: cb.uri, code_verifier: verifier,
    });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    return jose.decodeJwt(t.json.access_token);
  }

  /** Signs in again through the /login?return_to=... of loc: the return_to. */
  async function loginAgain(jar, loc, username) {
    const u = new URL(loc, srv.url);
    assert.equal(u.pathname, '/login', loc);
    const back = u.searchParams.get('return_to');
    assert.match(back, /^\/authorize\?client_id=.*request_uri=/);
    const r = await login(srv, jar, username, back);
    assert.equal(r.status, 200, 'the page that moves on to return_to');
    return back;
  }

  test('prompt=login: a new sign-in even with a session; auth_time is the new one', async () => {
    const jar = await signedIn(srv, 'alice');
    const first = await start(jar, {});
    const t1 = await accessToken(await finish(jar, first.loc), first.verifier);
    await sleep(1100); // auth_time has a resolution of one second
    const again = await start(jar, { prompt: 'login' });
    assert.match(again.loc, /^\/login\?return_to=/, 'sent to the login page despite the session');
    const back = await loginAgain(jar, again.loc, 'alice');
    const t2 = await accessToken(await finish(jar, back), again.verifier);
    assert.ok(t2.auth_time > t1.auth_time, `auth_time ${t2.auth_time} after ${t1.auth_time}`);
    // without prompt=login the same session is used: no login page
    const plain = await start(jar, {});
    assert.ok(plain.loc.startsWith(cb.uri), plain.loc);
  });

  test('prompt=consent: the consent page even when consented', async () => {
    const jar = await signedIn(srv, 'bob');
    const first = await start(jar, {});
    assert.match(first.loc, /^\/consent\?request=/);
    await accessToken(await finish(jar, first.loc), first.verifier);
    const remembered = await start(jar, {});
    assert.ok(remembered.loc.startsWith(cb.uri), 'consent remembered');
    const forced = await start(jar, { prompt: 'consent' });
    assert.match(forced.loc, /^\/consent\?request=/, 'prompt=consent shows the page');
    const t = await accessToken(await finish(jar, forced.loc), forced.verifier);
    assert.equal(t.sub, 'bob');
    assert.equal(events(srv, 'consent.granted').filter((e) => e.subject === 'bob' || e.actor === 'bob').length, 2);
  });

  test('prompt=none with a session but no consent: consent_required at the redirect URI', async () => {
    const jar = await signedIn(srv, 'dave');
    const r = await start(jar, { prompt: 'none', state: 'st-none' });
    const u = new URL(r.loc);
    assert.equal(`${u.origin}${u.pathname}`, cb.uri);
    assert.equal(u.searchParams.get('error'), 'consent_required');
    assert.equal(u.searchParams.get('state'), 'st-none');
    assert.equal(u.searchParams.get('iss'), srv.issuer);
    assert.equal(u.searchParams.get('code'), null);
    assert.match(events(srv, 'authz.refused').at(-1).reason, /consent_required/);
    // prompt=none combined with another value is invalid
    const bad = await start(jar, { prompt: 'none login' });
    assert.equal(new URL(bad.loc).searchParams.get('error'), 'invalid_request');
  });

  test('max_age=0: a new sign-in, and the token carries its auth_time', async () => {
    const jar = await signedIn(srv, 'alice');
    await sleep(1100);
    const before = Math.floor(Date.now() / 1000);
    const r = await start(jar, { max_age: '0' });
    assert.match(r.loc, /^\/login\?return_to=/, 'max_age=0 sends to the login page');
    const back = await loginAgain(jar, r.loc, 'alice');
    await sleep(1100); // the return from /login may come in a later second: no loop
    const t = await accessToken(await finish(jar, back), r.verifier);
    assert.ok(t.auth_time >= before, `auth_time ${t.auth_time} is fresh (>= ${before})`);
    // a recent enough session passes max_age
    const ok = await start(jar, { max_age: '3600' });
    assert.ok(ok.loc.startsWith(cb.uri), ok.loc);
    // a malformed max_age is invalid_request
    const bad = await start(jar, { max_age: '-1' });
    assert.equal(new URL(bad.loc).searchParams.get('error'), 'invalid_request');
  });
});
