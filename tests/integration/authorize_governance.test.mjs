// Who may use /authorize, and what a stored authorization request allows.
// Only an active client registered for the authorization_code grant gets a
// redirect from /authorize (or after sign-out, or through return_to after
// sign-in); any other client gets an error page, so that a self-registered
// client cannot turn Mandate into an open redirector. The sign-in
// requirements of a stored request (prompt=login, max_age) hold at /consent
// too, and a stored request yields one code however often it is answered.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { csrfOf, CookieJar } from './lib/browser.mjs';
import {
  authorizeUrl, callbackServer, createUsers, FAST_ARGON2, login, PASSWORD, pkce, signedIn,
} from './lib/authz.mjs';
import {
  auditEvents, basic, createFixtureScopes, eventBody, eventType, post,
} from './lib/oauth.mjs';
import { assertRegistered, register } from './lib/register.mjs';
import { createClient, sleep, startServer } from './lib/server.mjs';

const PREFIX = 'urn:ietf:params:oauth:request_uri:';
const EVIL = 'https://attacker.example/landing';

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

/** The parameters of a code request for client c to redirect_uri. */
async function codeRequest(c, redirectUri, extra = {}) {
  const p = await pkce();
  return {
    verifier: p.verifier,
    params: {
      response_type: 'code', client_id: c.client_id, redirect_uri: redirectUri, scope: 'read',
      code_challenge: p.challenge, code_challenge_method: 'S256', state: 'st', ...extra,
    },
  };
}

/** The consent form of the page at loc: {csrf, request}. */
async function consentForm(srv, jar, loc) {
  const r = await jar.fetch(`${srv.url}${loc}`);
  const html = await r.text();
  assert.equal(r.status, 200, html);
  return { csrf: csrfOf(html), request: /name="request" value="([^"]*)"/.exec(html)[1] };
}

function postConsent(srv, jar, form, decision = 'allow') {
  return jar.fetch(`${srv.url}/consent`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf_token: form.csrf, request: form.request, decision }).toString(),
  });
}

describe('only clients registered for sign-in use /authorize', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let noCode; // self-registered, active, client_credentials only, redirect URI of the attacker
  let suspended;

  before(async () => {
    srv = await startServer({
      config: { users: FAST_ARGON2, registration: { open: 'true', unverified_scopes: 'read', unverified_grant_types: 'client_credentials', rate_per_source: 1000 } },
    });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    noCode = assertRegistered(await register(srv, {
      client_name: 'Redirector', grant_types: ['client_credentials'], redirect_uris: [EVIL],
      post_logout_redirect_uris: [EVIL], token_endpoint_auth_method: 'client_secret_basic', scope: 'read',
    }), 'active');
    suspended = createClient(srv, {
      kind: 'agent', owner: 'alice', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      scope: 'read', client_name: 'Suspended agent', token_endpoint_auth_method: 'none',
    });
    const r = srv.cli(['client', 'suspend', suspended.client_id]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  test('the attack: an active self-registered client without authorization_code is no open redirector', async () => {
    // a working client of its own (client_credentials) ...
    const t = await post(srv, '/token', { grant_type: 'client_credentials', scope: 'read' },
      { headers: { authorization: basic(noCode.client_id, noCode.client_secret) } });
    assert.equal(t.status, 200, JSON.stringify(t.json));
    // ... whose redirect URI /authorize must not send anyone to
    for (const extra of [{}, { response_type: 'token' }, { prompt: 'none' }, { scope: 'nope' }]) {
      const { params } = await codeRequest(noCode, EVIL, extra);
      const r = await fetch(authorizeUrl(srv, params), { redirect: 'manual' });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.equal(r.headers.get('location'), null);
      assert.match(await r.text(), /not registered to sign people in/);
    }
    // the same through a signed-in browser (cookie jar), GET and POST
    const jar = await signedIn(srv, 'alice');
    const { params } = await codeRequest(noCode, EVIL);
    const g = await jar.fetch(authorizeUrl(srv, params));
    assert.equal(g.status, 400);
    assert.equal(g.headers.get('location'), null);
    const p = await jar.fetch(`${srv.url}/authorize`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    assert.equal(p.status, 400);
    assert.equal(p.headers.get('location'), null);
    const refused = events(srv, 'authz.refused').at(-1);
    assert.equal(refused.client_id, noCode.client_id);
  });

  test('a suspended client: error page, no redirect', async () => {
    const { params } = await codeRequest(suspended, cb.uri, { response_type: 'token' });
    const r = await fetch(authorizeUrl(srv, params), { redirect: 'manual' });
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
    assert.match(await r.text(), /unknown or not active/);
    assert.equal(cb.hits.length, 0);
  });

  test('login with return_to through /authorize of such a client is refused before the form', async () => {
    const jar = new CookieJar();
    for (const c of [noCode, suspended, { client_id: 'no-such-client' }]) {
      const back = `/authorize?client_id=${encodeURIComponent(c.client_id)}&response_type=code&redirect_uri=${encodeURIComponent(EVIL)}`;
      const g = await jar.fetch(`${srv.url}/login?return_to=${encodeURIComponent(back)}`);
      assert.equal(g.status, 400, c.client_id);
      assert.match(await g.text(), /not registered to sign people in/);
      // and posting the form with it does not sign in
      const fresh = new CookieJar();
      const form = await (await fresh.fetch(`${srv.url}/login`)).text();
      const r = await fresh.fetch(`${srv.url}/login`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf_token: csrfOf(form), username: 'alice', password: PASSWORD,
          return_to: back }).toString(),
      });
      assert.equal(r.status, 400);
      assert.equal(r.headers.get('set-cookie')?.includes('mandate_session=') ?? false, false, 'no session');
      const html = await r.text();
      assert.doesNotMatch(html, /http-equiv="refresh"/);
      assert.doesNotMatch(html, /attacker/);
    }
    // a return_to with client_id twice or spelled with escapes is checked the same way
    for (const back of [
      `/%61uthorize?client_id=${noCode.client_id}`,
      `/authorize?client_id=x&client_id=${noCode.client_id}`,
      `/authorize?client%5Fid=${noCode.client_id}`,
      '/authorize',
    ]) {
      const g = await jar.fetch(`${srv.url}/login?return_to=${encodeURIComponent(back)}`);
      assert.equal(g.status, 400, back);
    }
    // other pages of this server stay fine as return_to
    const ok = await jar.fetch(`${srv.url}/login?return_to=${encodeURIComponent('/consents')}`);
    assert.equal(ok.status, 200);
  });

  test('post_logout_redirect_uri of a client without sign-in is not followed', async () => {
    const jar = await signedIn(srv, 'alice');
    const u = new URL(`${srv.url}/logout`);
    u.searchParams.set('client_id', noCode.client_id);
    u.searchParams.set('post_logout_redirect_uri', EVIL);
    const r = await jar.fetch(u.href);
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
    assert.match(await r.text(), /cannot redirect after sign-out/);
    // a POST naming it is refused too, and the session stays
    const page = await (await jar.fetch(`${srv.url}/logout`)).text();
    const p = await jar.fetch(`${srv.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(page), client_id: noCode.client_id,
        post_logout_redirect_uri: EVIL }).toString(),
    });
    assert.equal(p.status, 400);
    assert.equal(p.headers.get('location'), null);
    const still = await jar.fetch(`${srv.url}/login`);
    assert.match(await still.text(), /signed in as/i);
  });
});

describe('a stored authorization request: its sign-in rules, and one code', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let pub;
  let conf;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice', 'bob']);
    cb = await callbackServer();
    pub = createClient(srv, {
      kind: 'agent', owner: 'alice', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      scope: 'read write', client_name: 'Once agent', token_endpoint_auth_method: 'none',
    });
    conf = createClient(srv, {
      kind: 'web', owner: 'alice', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      scope: 'read write', client_name: 'Pushing app', token_endpoint_auth_method: 'client_secret_basic',
    });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  const codes = () => events(srv, 'authz.code_issued').length;

  test('prompt=login cannot be skipped by going to /consent?request=ID', async () => {
    const jar = await signedIn(srv, 'alice');
    await sleep(1100); // prompt=login asks for a sign-in later than the request, to the second
    const { params } = await codeRequest(pub, cb.uri, { prompt: 'login', scope: 'write' });
    const r = await jar.fetch(authorizeUrl(srv, params));
    assert.equal(r.status, 303);
    const loc = new URL(r.headers.get('location'), srv.url);
    assert.equal(loc.pathname, '/login');
    const id = loc.searchParams.get('return_to').split(encodeURIComponent(PREFIX))[1];
    assert.ok(id, loc.href);
    const before = codes();
    // straight to the consent page with the old session: sent to sign in
    const page = await jar.fetch(`${srv.url}/consent?request=${id}`);
    assert.equal(page.status, 303);
    const to = new URL(page.headers.get('location'), srv.url);
    assert.equal(to.pathname, '/login');
    assert.equal(to.searchParams.get('return_to'), `/consent?request=${id}`);
    // and a consent form (from another page of the session) posted for it
    const other = await jar.fetch(authorizeUrl(srv, (await codeRequest(pub, cb.uri, { scope: 'write' })).params));
    const form = await consentForm(srv, jar, other.headers.get('location'));
    const post1 = await postConsent(srv, jar, { ...form, request: id });
    assert.equal(post1.status, 303);
    assert.equal(new URL(post1.headers.get('location'), srv.url).pathname, '/login');
    assert.equal(codes(), before, 'no code without the new sign-in');
    // after the new sign-in the consent page shows and the code follows
    const again = await login(srv, jar, 'alice', `/consent?request=${id}`);
    assert.equal(again.status, 200);
    const f2 = await consentForm(srv, jar, `/consent?request=${id}`);
    const ok = await postConsent(srv, jar, f2);
    assert.equal(ok.status, 303);
    assert.ok(new URL(ok.headers.get('location')).searchParams.get('code'));
  });

  test('max_age cannot be skipped by going to /consent?request=ID', async () => {
    const jar = await signedIn(srv, 'alice');
    const { params } = await codeRequest(pub, cb.uri, { max_age: '1', scope: 'read write' });
    // a fresh session satisfies max_age=1: the consent page (write is not consented yet)
    const r = await jar.fetch(authorizeUrl(srv, params));
    assert.equal(r.status, 303);
    const loc = r.headers.get('location');
    assert.match(loc, /^\/consent\?request=/);
    const form = await consentForm(srv, jar, loc);
    await sleep(2200); // the sign-in is now older than max_age
    const before = codes();
    const page = await jar.fetch(`${srv.url}${loc}`);
    assert.equal(page.status, 303);
    assert.equal(new URL(page.headers.get('location'), srv.url).pathname, '/login');
    const late = await postConsent(srv, jar, form);
    assert.equal(late.status, 303);
    assert.equal(new URL(late.headers.get('location'), srv.url).pathname, '/login');
    assert.equal(codes(), before);
  });

  test('posting Allow twice mints one code; the second answer is an error page', async () => {
    const jar = await signedIn(srv, 'bob');
    const { params } = await codeRequest(pub, cb.uri, { prompt: 'consent' });
    const r = await jar.fetch(authorizeUrl(srv, params));
    const form = await consentForm(srv, jar, r.headers.get('location'));
    const before = codes();
    const first = await postConsent(srv, jar, form);
    assert.equal(first.status, 303);
    assert.ok(new URL(first.headers.get('location')).searchParams.get('code'));
    const second = await postConsent(srv, jar, form);
    assert.equal(second.status, 400);
    assert.equal(second.headers.get('location'), null);
    assert.match(await second.text(), /already answered/);
    const deny = await postConsent(srv, jar, form, 'deny');
    assert.equal(deny.status, 400);
    assert.equal(deny.headers.get('location'), null);
    assert.equal(codes(), before + 1);
  });

  test('concurrent Allow posts of one request: one code', async () => {
    for (let round = 0; round < 5; round++) {
      const jar = await signedIn(srv, 'bob');
      const { params } = await codeRequest(pub, cb.uri, { prompt: 'consent' });
      const r = await jar.fetch(authorizeUrl(srv, params));
      const form = await consentForm(srv, jar, r.headers.get('location'));
      const answers = await Promise.all(Array.from({ length: 8 }, () => postConsent(srv, jar, form)));
      const withCode = answers.filter((a) => a.status === 303
        && new URL(a.headers.get('location')).searchParams.get('code'));
      assert.equal(withCode.length, 1, `round ${round}: ${answers.map((a) => a.status)}`);
      assert.equal(answers.filter((a) => a.status === 400).length, 7);
    }
  });

  test('a pushed request resumed after sign-in yields one code (RFC 9126 §7.3)', async () => {
    const jar = await signedIn(srv, 'alice');
    await (async () => { // alice consents to read once, so that no consent page interrupts
      const { params } = await codeRequest(conf, cb.uri, {});
      const a = await jar.fetch(authorizeUrl(srv, params));
      const f = await consentForm(srv, jar, a.headers.get('location'));
      assert.equal((await postConsent(srv, jar, f)).status, 303);
    })();
    await sleep(1100);
    const { params } = await codeRequest(conf, cb.uri, { prompt: 'login' });
    delete params.client_id;
    const pushed = await post(srv, '/par', params,
      { headers: { authorization: basic(conf.client_id, conf.client_secret) } });
    assert.equal(pushed.status, 201, JSON.stringify(pushed.json));
    const start = await jar.fetch(authorizeUrl(srv, { client_id: conf.client_id, request_uri: pushed.json.request_uri }));
    assert.equal(start.status, 303);
    const back = new URL(start.headers.get('location'), srv.url).searchParams.get('return_to');
    assert.match(back, /^\/authorize\?client_id=.*request_uri=/);
    assert.equal((await login(srv, jar, 'alice', back)).status, 200);
    const before = codes();
    const once = await jar.fetch(`${srv.url}${back}`);
    assert.equal(once.status, 303);
    assert.ok(new URL(once.headers.get('location')).searchParams.get('code'));
    const twice = await jar.fetch(`${srv.url}${back}`);
    assert.equal(twice.status, 303, 'invalid_request_uri to the client');
    const u = new URL(twice.headers.get('location'));
    assert.equal(u.searchParams.get('error'), 'invalid_request_uri');
    assert.equal(u.searchParams.get('code'), null);
    assert.equal(codes(), before + 1);
  });
});
