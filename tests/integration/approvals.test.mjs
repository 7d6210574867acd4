// The approvals inbox /approvals, driven with a real browser (playwright-core
// and chromium) where a person acts: sign-in and back; a CIBA request with
// authorization_details shown exactly (binding message, the action, the
// scopes with their descriptions, who asks) and approved with a note, after
// which the token carries exactly that authorization_details and
// app.approval; a denial gives access_denied; an expired request is no
// longer offered and polls expired_token. A person sees only what they may
// decide, and cannot decide another person's request by posting its id; an
// approver does not see a CIBA request that asks someone else but sees pending registrations;
// a post without the form's CSRF
// token changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createUsers, FAST_ARGON2, PASSWORD, signedIn } from './lib/authz.mjs';
import { csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import { bcAuthorize, cibaMetadata, PAYMENT, poll, started } from './lib/ciba.mjs';
import { assertOAuthError, auditEvents, eventBody, eventType, jwtParts, show } from './lib/oauth.mjs';
import { assertRegistered, register } from './lib/register.mjs';
import { cliJson, createClient, createScope, sleep, startServer } from './lib/server.mjs';

describe('the approvals inbox', { timeout: 180_000 }, () => {
  let srv;
  let agent;
  let b;        // one browser, signed in as alice by the first test

  const statusOf = (id) => cliJson(srv, ['request', 'list']).find((q) => q.id === id);

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2, registration: { open: 'true', rate_per_source: 1000 } } });
    createScope(srv, 'payments', { description: 'Make payments from your account' });
    createUsers(srv, ['alice', 'bob', 'olivia', 'frank']);
    const r = srv.cli(['user', 'create', 'carol', '--role', 'approver', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(r.code, 0, r.stderr);
    agent = createClient(srv, cibaMetadata());
    b = await launchBrowser();
  });
  after(async () => { await b?.close(); await srv?.stop(); });

  /** The <section> of request id on the inbox page. */
  const section = (id) => b.page.locator(`section.approval[id="${id}"]`);

  test('sign-in comes back to the inbox', async () => {
    const { page } = b;
    await page.goto(`${srv.url}/approvals`);
    assert.match(page.url(), /\/login\?return_to=%2Fapprovals$/);
    await submitLogin(page, 'alice', PASSWORD);
    await page.waitForURL(`${srv.url}/approvals`);
    assert.match(await page.locator('main').innerText(), /Nothing waits for your decision/);
  });

  test('a CIBA request shows exactly what it asks; approved, the token carries exactly that', async () => {
    const { page } = b;
    const s = await started(srv, agent, {
      login_hint: 'alice', binding_message: 'Pay 120 EUR to ACME <now>', authorization_details: JSON.stringify(PAYMENT),
    });
    const resp = await page.goto(`${srv.url}/approvals`);
    assert.match(resp.headers()['content-security-policy'], /default-src 'none'/);
    assert.equal(resp.headers()['x-frame-options'], 'DENY');
    const item = section(s.request.id);
    assert.equal(await item.count(), 1);
    const text = await item.innerText();
    assert.match(text, /Payment agent/);
    assert.match(await item.locator('.binding-message').innerText(), /Pay 120 EUR to ACME <now>/);
    assert.equal(await item.locator('.client-kind').innerText(), 'agent');
    assert.equal(await item.locator('.client-owner').innerText(), 'olivia');
    assert.equal(await item.locator('.client-auth').innerText(), 'client_secret_basic');
    assert.match(await item.locator('.client-verified').innerText(), /^yes/);
    assert.equal(await item.locator('.subject').innerText(), 'alice');
    assert.match(text, /Make payments from your account/);
    const detail = item.locator('.authorization-detail');
    assert.equal(await detail.count(), 1);
    const dt = await detail.innerText();
    for (const want of ['payment_initiation', 'EUR', '120.00', 'ACME <Inc> & "Co"', 'initiate', '0.1', '1.0865']) {
      assert.ok(dt.includes(want), `the action shows ${want}: ${dt}`);
    }
    assert.doesNotMatch(dt, /0\.1000000|1\.08649999/, 'numbers are shown as sent');
    // values are text, never markup
    assert.equal(await item.locator('inc, now').count(), 0);
    assert.ok(await item.locator('.expires time').getAttribute('datetime'));
    await screenshot(page, 'approvals-ciba');
    await item.locator('textarea[name="note"]').fill('ok, this once');
    await Promise.all([page.waitForNavigation(), item.locator('button[name="decision"][value="allow"]').click()]);
    assert.match(await page.locator('main').innerText(), /Approved/);
    const decided = statusOf(s.request.id);
    assert.equal(decided.status, 'approved');
    assert.equal(decided.decided_by, 'alice');
    assert.equal(decided.note, 'ok, this once');
    const r = await poll(srv, agent, s.auth_req_id);
    assert.equal(r.status, 200, show(r));
    const at = jwtParts(r.json.access_token).payload;
    assert.deepEqual(at.authorization_details, PAYMENT);
    assert.equal(at.app.approval, s.request.id);
    assert.equal(at.sub, 'alice');
    await page.goto(`${srv.url}/approvals`);
    assert.equal(await section(s.request.id).count(), 0, 'a decided request is no longer offered');
  });

  test('denied in the inbox: access_denied', async () => {
    const { page } = b;
    const s = await started(srv, agent, { login_hint: 'alice', binding_message: 'Delete everything' });
    await page.goto(`${srv.url}/approvals`);
    await Promise.all([page.waitForNavigation(),
      section(s.request.id).locator('button[name="decision"][value="deny"]').click()]);
    assert.match(await page.locator('main').innerText(), /Denied/);
    assert.equal(statusOf(s.request.id).status, 'denied');
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'access_denied');
  });

  test('an expired request is no longer offered and polls expired_token', async () => {
    const { page } = b;
    const s = await started(srv, agent, { login_hint: 'alice', requested_expiry: '1' });
    await sleep(2100);
    await page.goto(`${srv.url}/approvals`);
    assert.equal(await section(s.request.id).count(), 0);
    assert.equal(statusOf(s.request.id).status, 'expired');
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'expired_token');
  });

  test("a person sees only what they may decide, and cannot decide another's request by its id", async () => {
    const { page } = b;
    const mine = await started(srv, agent, { login_hint: 'alice', binding_message: 'for alice' });
    const bobs = await started(srv, agent, { login_hint: 'bob', binding_message: 'for bob' });
    await page.goto(`${srv.url}/approvals`);
    assert.equal(await section(mine.request.id).count(), 1);
    assert.equal(await section(bobs.request.id).count(), 0);
    assert.doesNotMatch(await page.locator('main').innerText(), /for bob/);
    // a post of bob's request id with alice's own valid form
    const jar = await signedIn(srv, 'alice');
    const html = await (await jar.fetch(`${srv.url}/approvals`)).text();
    assert.ok(html.includes(mine.request.id) && !html.includes(bobs.request.id));
    const post = (fields) => jar.fetch(`${srv.url}/approvals`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    let r = await post({ csrf_token: csrfOf(html), request: bobs.request.id, decision: 'allow' });
    assert.equal(r.status, 404, await r.text());
    assert.equal(statusOf(bobs.request.id).status, 'pending');
    assertOAuthError(await poll(srv, agent, bobs.auth_req_id), 400, 'authorization_pending');
    // without the form's CSRF token nothing is decided
    r = await post({ request: mine.request.id, decision: 'allow' });
    assert.equal(r.status, 403, await r.text());
    r = await post({ csrf_token: csrfOf(html), request: mine.request.id, decision: 'maybe' });
    assert.equal(r.status, 400, await r.text());
    r = await post({ csrf_token: csrfOf(html), request: mine.request.id, decision: 'allow', note: 'n'.repeat(1001) });
    assert.equal(r.status, 400, await r.text());
    assert.equal(statusOf(mine.request.id).status, 'pending');
    const refusals = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'approval.refused');
    assert.ok(refusals.length >= 4, 'each refused post is audited');
    // bob decides his own; then alice's post finds it no longer pending
    const bobJar = await signedIn(srv, 'bob');
    const bobHtml = await (await bobJar.fetch(`${srv.url}/approvals`)).text();
    assert.ok(bobHtml.includes(bobs.request.id) && !bobHtml.includes(mine.request.id));
    r = await bobJar.fetch(`${srv.url}/approvals`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(bobHtml), request: bobs.request.id, decision: 'deny' }).toString(),
    });
    assert.equal(r.status, 200, await r.text());
    assert.equal(statusOf(bobs.request.id).status, 'denied');
  });

  test('a CIBA request is for the person it asks: an approver does not see it', async () => {
    const s = await started(srv, agent, { login_hint: 'bob', binding_message: 'approver view' });
    const jar = await signedIn(srv, 'carol');
    const html = await (await jar.fetch(`${srv.url}/approvals`)).text();
    assert.ok(!html.includes(s.request.id), 'carol (approver) does not decide for bob');
    const bob = await signedIn(srv, 'bob');
    assert.ok((await (await bob.fetch(`${srv.url}/approvals`)).text()).includes(s.request.id));
    const alice = await signedIn(srv, 'alice');
    assert.ok(!(await (await alice.fetch(`${srv.url}/approvals`)).text()).includes(s.request.id));
  });

  test('a pending registration waits in the inbox of approvers, with what its approval approves', async () => {
    const reg = assertRegistered(await register(srv, { client_name: 'Night <batch>', grant_types: ['client_credentials'],
      scope: 'payments' }), 'pending');
    const pending = cliJson(srv, ['request', 'list', '--status', 'pending']).find((q) => q.client_id === reg.client_id);
    assert.equal(pending.type, 'registration');
    const alice = await signedIn(srv, 'alice');
    assert.ok(!(await (await alice.fetch(`${srv.url}/approvals`)).text()).includes(pending.id), 'not for alice');
    const jar = await signedIn(srv, 'carol');
    const html = await (await jar.fetch(`${srv.url}/approvals`)).text();
    const item = html.slice(html.indexOf(`id="${pending.id}"`), html.indexOf('</section>', html.indexOf(`id="${pending.id}"`)));
    assert.ok(item.length > 0, 'carol (approver) sees the registration');
    assert.match(item, /Night &lt;batch&gt;/);
    assert.match(item, /client-verified">no/);
    assert.match(item, /<h3>Details<\/h3>/);
    assert.match(item, /client_credentials/);
    const r = await jar.fetch(`${srv.url}/approvals`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(html), request: pending.id, decision: 'allow', note: 'checked' }).toString(),
    });
    assert.equal(r.status, 200, await r.text());
    assert.equal(cliJson(srv, ['client', 'show', reg.client_id]).status, 'active');
    const decided = statusOf(pending.id);
    assert.equal(decided.decided_by, 'carol');
    assert.equal(decided.note, 'checked');
  });

  test('a long inbox shows the oldest 50 and says how many more wait', async () => {
    for (let i = 0; i < 51; i++) { // bounded: 51 requests
      const r = await bcAuthorize(srv, agent, { login_hint: 'frank', binding_message: `item ${i}` });
      assert.equal(r.status, 200, show(r));
    }
    const jar = await signedIn(srv, 'frank');
    const r = await jar.fetch(`${srv.url}/approvals`);
    assert.equal(r.status, 200);
    const html = await r.text();
    assert.equal(html.match(/<section class="approval"/g).length, 50);
    assert.match(html, /1 more wait after these/);
  });
});
