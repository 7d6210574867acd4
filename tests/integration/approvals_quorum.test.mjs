// A quorum in the approvals inbox, with real browsers: [approvals] routing
// asks two distinct approvers for a CIBA payment, after the person it asks
// (whose allow is their consent: the token and ID token name them). Until
// the person allowed, approvers are not offered it; their allow is then
// recorded and the request keeps waiting (the agent still polls
// authorization_pending); an approver who voted is no longer offered it and
// cannot vote twice; the client's owner, an approver too, never sees it.
// The second approver's allow decides it: the token carries the approval.
// A request nobody decided within its rule's expires_in expires as denied:
// gone from the inbox, expired_token at the token endpoint, and audited.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createUsers, FAST_ARGON2, PASSWORD } from './lib/authz.mjs';
import { launchBrowser, submitLogin } from './lib/browser.mjs';
import { cibaMetadata, poll, started } from './lib/ciba.mjs';
import { assertOAuthError, auditEvents, eventBody, eventType, jwtParts, show, waitAudit } from './lib/oauth.mjs';
import { cliJson, createClient, createScope, sleep, startServer } from './lib/server.mjs';

const RULES = [
  { type: 'ciba', scope: 'payments', approve: 'quorum', n: 2 },
  { type: 'ciba', approve: 'user', expires_in: '2s' },
];

describe('a quorum of approvers in the inbox', { timeout: 180_000 }, () => {
  let dir;
  let srv;
  let agent;
  const browsers = {};

  const statusOf = (id) => cliJson(srv, ['request', 'list']).find((q) => q.id === id);
  const section = (who, id) => browsers[who].page.locator(`section.approval[id="${id}"]`);

  async function signIn(who) {
    const b = await launchBrowser();
    browsers[who] = b;
    await b.page.goto(`${srv.url}/approvals`);
    await submitLogin(b.page, who, PASSWORD);
    await b.page.waitForURL(`${srv.url}/approvals`);
  }

  async function allow(who, id) {
    const { page } = browsers[who];
    await page.goto(`${srv.url}/approvals`);
    assert.equal(await section(who, id).count(), 1, `${who} is offered ${id}`);
    await Promise.all([page.waitForNavigation(),
      section(who, id).locator('button[name="decision"][value="allow"]').click()]);
    return page.locator('main').innerText();
  }

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-quorum-'));
    await writeFile(path.join(dir, 'routing.json'), JSON.stringify(RULES));
    srv = await startServer({ config: { users: FAST_ARGON2,
      ciba: { interval: '1s' },
      approvals: { routing: path.join(dir, 'routing.json'), expiry_interval: '1s' } } });
    createScope(srv, 'payments', { description: 'Make payments from your account' });
    createUsers(srv, ['alice']);
    for (const who of ['ann', 'bob', 'olivia']) {
      const r = srv.cli(['user', 'create', who, '--role', 'approver', '--password-stdin'], { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    agent = createClient(srv, cibaMetadata()); // owned by olivia
    for (const who of ['ann', 'bob', 'olivia', 'alice']) await signIn(who);
  });
  after(async () => {
    for (const b of Object.values(browsers)) await b.close();
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the person, then two distinct approvers; one vote each; not the owner', async () => {
    const s = await started(srv, agent, { login_hint: 'alice', binding_message: 'Pay 120 EUR to ACME' });
    const id = s.request.id;

    // approvers wait for the person's decision; the owner of the client never votes
    for (const who of ['ann', 'olivia']) {
      await browsers[who].page.goto(`${srv.url}/approvals`);
      assert.equal(await section(who, id).count(), 0, `${who} is not offered it yet`);
    }
    const early = srv.cli(['request', 'approve', id, '--by', 'ann']);
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /waits for the decision of the person it asks/);

    assert.match(await allow('alice', id), /still waits for more approvers/);
    assert.equal(statusOf(id).status, 'pending');
    await browsers.alice.page.goto(`${srv.url}/approvals`);
    assert.equal(await section('alice', id).count(), 0, 'the person decided already');
    await browsers.olivia.page.goto(`${srv.url}/approvals`);
    assert.equal(await section('olivia', id).count(), 0, 'the owner may not vote under a quorum');

    assert.match(await allow('ann', id), /still waits for more approvers/);
    assert.equal(statusOf(id).status, 'pending');
    assert.deepEqual(statusOf(id).votes.map((v) => [v.approver, v.decision]),
      [['alice', 'allow'], ['ann', 'allow']]);
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'authorization_pending');

    // ann has voted: no longer offered, and a second vote changes nothing
    await browsers.ann.page.goto(`${srv.url}/approvals`);
    assert.equal(await section('ann', id).count(), 0);
    assert.notEqual(srv.cli(['request', 'approve', id, '--by', 'ann']).code, 0);
    assert.equal(statusOf(id).votes.length, 2);

    assert.match(await allow('bob', id), /Approved/);
    const done = statusOf(id);
    assert.equal(done.status, 'approved');
    assert.deepEqual(done.votes.map((v) => v.approver).sort(), ['alice', 'ann', 'bob']);
    await sleep(1100); // the poll interval
    const r = await poll(srv, agent, s.auth_req_id);
    assert.equal(r.status, 200, show(r));
    assert.equal(jwtParts(r.json.access_token).payload.app.approval, id);
    assert.equal(jwtParts(r.json.access_token).payload.sub, 'alice');
    const voted = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'request.voted');
    assert.ok(voted.some((e) => e.actor === 'ann'), 'the votes are audited');
  });

  test('the person denies: final, whatever the quorum', async () => {
    const s = await started(srv, agent, { login_hint: 'alice', binding_message: 'Pay 9000 EUR to ACME' });
    const { page } = browsers.alice;
    await page.goto(`${srv.url}/approvals`);
    await Promise.all([page.waitForNavigation(),
      section('alice', s.request.id).locator('button[name="decision"][value="deny"]').click()]);
    assert.match(await page.locator('main').innerText(), /Denied/);
    assert.equal(statusOf(s.request.id).status, 'denied');
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'access_denied');
  });

  test('undecided past its expires_in: expires as denied, leaves the inbox, expired_token', async () => {
    const s = await started(srv, agent, { login_hint: 'alice', scope: 'openid' });
    const id = s.request.id;
    const { page } = browsers.alice;
    await page.goto(`${srv.url}/approvals`);
    assert.equal(await section('alice', id).count(), 1, `the person asked is offered it: ${JSON.stringify(statusOf(id))}`);
    // bounded wait: the rule gives it 2 s, the server closes expired requests every second
    for (let i = 0; i < 60 && statusOf(id).status === 'pending'; i++) await sleep(100);
    assert.equal(statusOf(id).status, 'expired');
    await page.goto(`${srv.url}/approvals`);
    assert.equal(await section('alice', id).count(), 0, 'an expired request is not offered');
    assertOAuthError(await poll(srv, agent, s.auth_req_id), 400, 'expired_token');
    const expired = (evs) => evs.filter((x) => eventType(x) === 'request.expired' && JSON.stringify(x).includes(id));
    await waitAudit(srv, (evs) => expired(evs).length > 0, { timeoutMs: 15_000, what: 'request.expired' });
    await sleep(1500); // another round of the sweep
    assert.equal(expired(auditEvents(srv)).length, 1, 'audited once');
  });
});
