// Ending what a person allowed (SPEC §3.4, §3.6): revoking a consent at
// /consents revokes the access tokens and refresh token families issued to
// that application for that person (and codes not yet redeemed), and
// disabling a person (`mandate user disable`) ends their sessions and makes
// their tokens inactive at introspection and /userinfo, as the kill switch
// does for a client. Other people's and other applications' tokens stay.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callbackServer, createUsers, FAST_ARGON2, PASSWORD, signedIn } from './lib/authz.mjs';
import { csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import {
  authorizeCode, ensureScope, postAs, redeem, refresh, userinfoStatus,
} from './lib/grants.mjs';
import { API, auditEvents, createFixtureScopes, eventBody, eventType } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

describe('revoking a consent and disabling a person end their tokens', { timeout: 180_000 }, () => {
  let srv;
  let cb;
  let app;      // JWT access tokens
  let opaque;   // opaque access tokens
  let other;    // another application of the same person

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    ensureScope(srv, 'openid', { description: 'Sign you in' });
    createUsers(srv, ['alice', 'bob', 'dave', 'erin']);
    cb = await callbackServer();
    const base = {
      kind: 'web', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'openid offline_access read', resources: [API],
      token_endpoint_auth_method: 'client_secret_basic',
    };
    app = createClient(srv, { ...base, client_name: 'Calendar app' });
    opaque = createClient(srv, { ...base, client_name: 'Notes app', access_token_format: 'opaque' });
    other = createClient(srv, { ...base, client_name: 'Mail app' });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  /** Code flow for username with client (consenting when asked): the token response. */
  async function tokens(jar, client) {
    const r = await redeem(srv, client, cb.uri, await authorizeCode(srv, jar, client, cb.uri, { scope: 'openid offline_access read' }));
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  async function active(client, token) {
    const r = await postAs(srv, client, '/introspect', { token });
    assert.equal(r.status, 200, r.text);
    return r.json.active;
  }

  test('browser: revoking a consent at /consents revokes the tokens issued under it', async () => {
    const jar = await signedIn(srv, 'alice');
    const first = await tokens(jar, app);
    const rotated = await refresh(srv, app, first.refresh_token);
    assert.equal(rotated.status, 200, rotated.text);
    const second = await tokens(jar, app);            // a second family under the same consent
    const pending = await authorizeCode(srv, jar, app, cb.uri); // issued, not yet redeemed
    const notes = await tokens(jar, opaque);
    const mail = await tokens(jar, other);
    const bobs = await tokens(await signedIn(srv, 'bob'), app);
    for (const t of [rotated.json, second]) assert.equal(await active(app, t.access_token), true);

    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}/login?return_to=%2Fconsents`);
      await submitLogin(page, 'alice', PASSWORD);
      await page.waitForURL((u) => u.pathname === '/consents');
      await screenshot(page, 'consents-before-revoking');
      await page.locator(`button[name="revoke"][value="${app.client_id}"]`).click();
      await page.waitForURL((u) => u.pathname === '/consents');
      assert.doesNotMatch(await page.locator('main').innerText(), /Calendar app/);
      assert.match(await page.locator('main').innerText(), /Mail app/);
    } finally {
      await b.close();
    }

    for (const t of [first, rotated.json, second]) {
      assert.equal(await active(app, t.access_token), false, 'access token revoked');
      assert.equal(await userinfoStatus(srv, t.access_token), 401);
    }
    for (const t of [rotated.json, second]) {
      assert.equal(await active(app, t.refresh_token), false, 'refresh token family revoked');
      const r = await refresh(srv, app, t.refresh_token);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error, 'invalid_grant');
    }
    const late = await redeem(srv, app, cb.uri, pending);
    assert.equal(late.status, 400, 'a code issued under the consent can no longer be redeemed');
    assert.equal(late.json.error, 'invalid_grant');
    // the person's other applications, and other people, keep theirs
    assert.equal(await active(opaque, notes.access_token), true);
    assert.equal(await active(other, mail.access_token), true);
    assert.equal(await active(other, mail.refresh_token), true);
    assert.equal(await active(app, bobs.access_token), true, "bob's token for the same application");
    assert.equal((await refresh(srv, app, bobs.refresh_token)).status, 200);
    assert.equal(events(srv, 'consent.revoked').at(-1).client_id, app.client_id);
    // consenting again starts a new grant that works
    const again = await tokens(jar, app);
    assert.equal(await active(app, again.access_token), true);
    assert.equal((await refresh(srv, app, again.refresh_token)).status, 200);
  });

  test('opaque access tokens too; a refused revocation (no CSRF token, unknown client) changes nothing', async () => {
    const jar = await signedIn(srv, 'erin');
    const notes = await tokens(jar, opaque);
    const page = await (await jar.fetch(`${srv.url}/consents`)).text();
    const post = (fields) => jar.fetch(`${srv.url}/consents`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    assert.equal((await post({ revoke: opaque.client_id })).status, 403);
    assert.equal((await post({ csrf_token: csrfOf(page), revoke: app.client_id })).status, 404);
    assert.equal(await active(opaque, notes.access_token), true, 'nothing revoked');
    assert.equal(await active(opaque, notes.refresh_token), true);
    const ok = await post({ csrf_token: csrfOf(page), revoke: opaque.client_id });
    assert.equal(ok.status, 303);
    assert.equal(await active(opaque, notes.access_token), false);
    assert.equal(await userinfoStatus(srv, notes.access_token), 401);
    assert.equal(await active(opaque, notes.refresh_token), false);
  });

  test('disabling a person ends their sessions and makes their tokens inactive', async () => {
    const jar = await signedIn(srv, 'dave');
    const cal = await tokens(jar, app);
    const notes = await tokens(jar, opaque);
    const bobs = await tokens(await signedIn(srv, 'bob'), other);
    assert.equal(await userinfoStatus(srv, cal.access_token), 200);
    assert.equal((await jar.fetch(`${srv.url}/consents`)).status, 200, 'signed in');

    const r = srv.cli(['user', 'disable', 'dave']);
    assert.equal(r.code, 0, r.stderr);

    for (const [client, t] of [[app, cal], [opaque, notes]]) {
      assert.equal(await active(client, t.access_token), false, `${client.client_name}: access token`);
      assert.equal(await userinfoStatus(srv, t.access_token), 401);
      assert.equal(await active(client, t.refresh_token), false, `${client.client_name}: refresh token`);
      const used = await refresh(srv, client, t.refresh_token);
      assert.equal(used.status, 400);
      assert.equal(used.json.error, 'invalid_grant');
    }
    const page = await jar.fetch(`${srv.url}/consents`);
    assert.equal(page.status, 303, 'the session is over');
    assert.match(page.headers.get('location'), /^\/login/);
    const login = await jar.fetch(`${srv.url}/login`);
    const again = await jar.fetch(`${srv.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(await login.text()), username: 'dave', password: PASSWORD }).toString(),
    });
    assert.equal(again.status, 400, 'a disabled person cannot sign in');
    // others keep theirs; disabling again is harmless
    assert.equal(await active(other, bobs.access_token), true);
    assert.equal(await userinfoStatus(srv, bobs.access_token), 200);
    assert.equal(srv.cli(['user', 'disable', 'dave']).code, 0);
    assert.equal(events(srv, 'user.disabled').filter((e) => e.subject === 'dave' || e.actor === 'dave' || JSON.stringify(e).includes('dave')).length, 1);
  });
});
