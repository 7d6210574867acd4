// /consents: a signed-in person lists the applications they consented to
// and revokes one (CSRF-protected, audited as consent.revoked); the next
// authorization of that application shows the consent page again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as oidc from 'openid-client';

import {
  authorizeUrl, callbackServer, createUsers, FAST_ARGON2, PASSWORD, pkce, signedIn,
} from './lib/authz.mjs';
import { csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import {
  API, auditEvents, createFixtureScopes, eventBody, eventType,
} from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

describe('consents page', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let travel;
  let other;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice', 'erin']);
    cb = await callbackServer();
    const base = {
      kind: 'agent', owner: 'alice', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      scope: 'read write', resources: [API], token_endpoint_auth_method: 'none',
    };
    travel = createClient(srv, { ...base, client_name: 'Travel <b>agent</b>' });
    other = createClient(srv, { ...base, client_name: 'Other agent' });
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  async function authorizeIn(page, client, scope) {
    const { challenge } = await pkce();
    await page.goto(authorizeUrl(srv, {
      response_type: 'code', client_id: client.client_id, redirect_uri: cb.uri, scope,
      code_challenge: challenge, code_challenge_method: 'S256', state: oidc.randomState(),
    }));
  }

  test('browser: consent, list, revoke, and the consent page comes back', async () => {
    const b = await launchBrowser();
    const { page } = b;
    try {
      await page.goto(`${srv.url}/consents`);
      assert.equal(new URL(page.url()).pathname, '/login', 'signed out: to the login page');
      await submitLogin(page, 'alice', PASSWORD);
      await page.waitForURL((u) => u.pathname === '/consents');
      assert.match(await page.locator('main').innerText(), /not allowed any application/);

      for (const [client, scope] of [[travel, 'read write'], [other, 'read']]) {
        await authorizeIn(page, client, scope);
        await page.waitForURL((u) => u.pathname === '/consent');
        const got = cb.next();
        await page.locator('button[name="decision"][value="allow"]').click();
        assert.ok((await got).searchParams.get('code'));
      }
      // consented: straight back to the client
      let got = cb.next();
      await authorizeIn(page, travel, 'read');
      assert.ok((await got).searchParams.get('code'));

      await page.goto(`${srv.url}/consents`);
      const rows = page.locator('li.consent');
      assert.equal(await rows.count(), 2);
      const text = await page.locator('main').innerText();
      assert.match(text, /Travel <b>agent<\/b>/, 'the name, escaped, shown as text');
      assert.match(text, /read write/);
      assert.match(text, /Other agent/);
      assert.match(text, /\d{4}-\d\d-\d\dT/);
      assert.equal(await page.locator(`button[name="revoke"][value="${travel.client_id}"]`).count(), 1);
      await screenshot(page, 'consents-page');

      await page.locator(`button[name="revoke"][value="${travel.client_id}"]`).click();
      await page.waitForURL((u) => u.pathname === '/consents');
      assert.equal(await page.locator('li.consent').count(), 1);
      assert.doesNotMatch(await page.locator('main').innerText(), /Travel/);
      const ev = events(srv, 'consent.revoked').at(-1);
      assert.equal(ev.client_id, travel.client_id);
      assert.equal(ev.subject ?? ev.actor, 'alice');

      // the next authorization asks again; the other client does not
      await authorizeIn(page, travel, 'read');
      await page.waitForURL((u) => u.pathname === '/consent');
      got = cb.next();
      await authorizeIn(page, other, 'read');
      assert.ok((await got).searchParams.get('code'));
    } finally {
      await b.close();
    }
  });

  test('revocation without CSRF token: 403, nothing revoked; another person sees only theirs', async () => {
    const jar = await signedIn(srv, 'alice');
    const page = await (await jar.fetch(`${srv.url}/consents`)).text();
    assert.match(page, /Other agent/);
    const r = await jar.fetch(`${srv.url}/consents`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ revoke: other.client_id }).toString(),
    });
    assert.equal(r.status, 403);
    assert.match((await (await jar.fetch(`${srv.url}/consents`)).text()), /Other agent/, 'still there');
    assert.ok(events(srv, 'consent.refused').length >= 1);
    const unknown = await jar.fetch(`${srv.url}/consents`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(page), revoke: 'no-such-client' }).toString(),
    });
    assert.equal(unknown.status, 404);

    const erin = await signedIn(srv, 'erin');
    const hers = await (await erin.fetch(`${srv.url}/consents`)).text();
    assert.doesNotMatch(hers, /Other agent/);
    assert.match(hers, /not allowed any application/);
    // erin cannot revoke alice's consent: her form token is not alice's, and she has none
    const token = csrfOf(page);
    const r2 = await erin.fetch(`${srv.url}/consents`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: token, revoke: other.client_id }).toString(),
    });
    assert.equal(r2.status, 403);
  });
});
