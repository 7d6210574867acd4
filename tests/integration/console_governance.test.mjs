// The console's governance pages: one application's entitlements (static
// and dynamic, with the access request and its approver, and expiry), its
// usage (tokens per day as an inline SVG chart with a text alternative, and
// the last use of each scope), its recent decisions from the audit log and
// its review findings; an admin ends a dynamic entitlement through a
// confirmation step and the scope is refused at /token at once, while an
// auditor's POST and an admin's POST without the CSRF token are refused and
// change nothing; /console/reviews certifies and revokes findings (read-only
// for auditors); /console/audit filters by client, type and time, pages
// newest first, and shows hostile text of events escaped. Screenshots of
// each page go to tests/integration/artifacts/.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { createUsers, FAST_ARGON2, PASSWORD, signedIn } from './lib/authz.mjs';
import { launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import { assertOAuthError, auditEvents, basic, eventBody, eventType, post, show, tokenBasic } from './lib/oauth.mjs';
import { cliJson, createClient, createScope, sleep, startServer } from './lib/server.mjs';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SCOPE = 'payments:write';
const HOSTILE = '<script>alert(1)</script>';

const consoleCsrf = (jar) => createHmac('sha256', jar.cookies.get('mandate_session'))
  .update('mandate-csrf-v1:console').digest('base64url');

const agentMetadata = (overrides = {}) => ({
  client_name: 'Payment agent', kind: 'agent', owner: 'olivia',
  grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
  scope: 'read', ...overrides,
});

/** The seqs of the audit rows of a page, in order. */
const seqs = (html) => [...html.matchAll(/<tr class="audit-event" data-seq="(\d+)"/g)].map((m) => Number(m[1]));
const olderLink = (html) => {
  const m = /<a rel="next" class="older" href="([^"]*)"/.exec(html);
  return m ? m[1].replaceAll('&amp;', '&') : null;
};

describe('the console: entitlements, usage, decisions, reviews and the audit log', { timeout: 300_000 }, () => {
  let srv;
  let admin;
  let auditor;
  const clientPath = (id) => `/console/clients/${encodeURIComponent(id)}`;
  const page = async (jar, path) => {
    const r = await jar.fetch(`${srv.url}${path}`);
    return { status: r.status, html: await r.text(), headers: r.headers };
  };
  const postForm = async (jar, path, fields) => {
    const r = await jar.fetch(`${srv.url}${path}`, {
      method: 'POST', headers: FORM, body: new URLSearchParams(fields).toString(), redirect: 'manual',
    });
    return { status: r.status, html: await r.text() };
  };
  const dynamicEnts = (id) => cliJson(srv, ['client', 'show', id]).entitlements
    .filter((e) => e.source === 'access_request');

  /** Files an access request for SCOPE and approves it as ada; the request id. */
  const grant = async (agent) => {
    const filed = await post(srv, '/access-requests',
      JSON.stringify({ scope: SCOPE, justification: `Nightly run ${HOSTILE}`, duration: '1h' }), {
        contentType: 'application/json', headers: { authorization: basic(agent.client_id, agent.client_secret) },
      });
    assert.equal(filed.status, 201, show(filed));
    const approved = cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'ada']);
    assert.equal(approved.status, 'approved');
    return filed.json.id;
  };

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2, usage: { flush_interval: '1s' } } });
    createScope(srv, 'read', { description: 'Read things' });
    createScope(srv, SCOPE, { description: 'Make payments', sensitivity: 'approval' });
    for (const [name, role] of [['ada', 'admin'], ['audrey', 'auditor']]) {
      const r = srv.cli(['user', 'create', name, '--role', role, '--password-stdin'], { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    createUsers(srv, ['olivia']);
    admin = await signedIn(srv, 'ada');
    auditor = await signedIn(srv, 'audrey');
  });
  after(async () => { await srv?.stop(); });

  test('nobody signed in goes through the login page; someone without a console role gets 403', async () => {
    for (const path of ['/console/reviews', '/console/audit']) {
      const r = await fetch(`${srv.url}${path}`, { redirect: 'manual' });
      assert.equal(r.status, 303, path);
      assert.equal(r.headers.get('location'), `/login?return_to=${encodeURIComponent(path)}`);
      const o = await page(await signedIn(srv, 'olivia'), path);
      assert.equal(o.status, 403, path);
    }
  });

  test('an application shows its dynamic entitlement, usage chart and decisions; an admin ends the entitlement, an auditor cannot', async () => {
    const agent = createClient(srv, agentMetadata());
    for (let i = 0; i < 2; i++) assert.equal((await tokenBasic(srv, agent, { scope: 'read' })).status, 200);
    assertOAuthError(await tokenBasic(srv, agent, { scope: SCOPE }), 400, 'invalid_scope');
    const reqId = await grant(agent);
    const granted = await tokenBasic(srv, agent, { scope: SCOPE });
    assert.equal(granted.status, 200, show(granted));
    const [ent] = dynamicEnts(agent.client_id);
    assert.ok(ent?.id, 'the approval made an entitlement');

    // usage is written every second: wait (bounded) until the page counts the 3 tokens
    let view;
    for (let i = 0; i < 50; i++) {
      view = await page(auditor, clientPath(agent.client_id));
      if (/<p class="usage-total">3 tokens/.test(view.html)) break;
      await sleep(200);
    }
    assert.equal(view.status, 200);
    assert.match(view.html, /<p class="usage-total">3 tokens in the last 30 days/, 'the usage was counted');
    const csp = view.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /script-src|unsafe-inline/);
    assert.match(view.html, /<svg class="usage-chart" role="img" aria-labelledby="usage-title usage-desc"/);
    assert.match(view.html, /<title id="usage-title">Tokens per day, last 30 days<\/title>/);
    assert.equal([...view.html.matchAll(/<rect class="usage-bar"/g)].length, 30);
    assert.match(view.html, /<rect class="usage-bar"[^>]*height="96"[^>]*><title>\d{4}-\d\d-\d\d: 3 tokens<\/title>/);
    assert.doesNotMatch(view.html, /style=/, 'no style attribute: the CSP allows none');
    assert.match(view.html, /<td class="usage-scope">payments:write<\/td>/);
    assert.match(view.html, /<td class="usage-scope">read<\/td>/);
    // the entitlements: the static one and the dynamic one with its request and approver
    assert.match(view.html, /<tr class="entitlement source-static" data-scope="read">/);
    const row = new RegExp(`<tr class="entitlement source-dynamic" data-scope="payments:write">.*?</tr>`, 's').exec(view.html)?.[0];
    assert.ok(row, view.html);
    assert.ok(row.includes(`<code class="ent-request">${reqId}</code>`));
    assert.ok(row.includes('<span class="ent-approver">ada</span>'));
    assert.ok(row.includes(`<td class="ent-expires">${ent.expires_at}</td>`));
    assert.doesNotMatch(row, /confirm|<button/, 'an auditor sees no button');
    // recent decisions, newest first, about this client only
    const recent = seqs(view.html);
    assert.ok(recent.length >= 4, view.html);
    assert.deepEqual(recent, [...recent].sort((a, b) => b - a));
    assert.match(view.html, /<td class="ev-type">token.issued<\/td>/);
    assert.match(view.html, /<td class="ev-type">token.refused<\/td>/);
    assert.match(view.html, /<td class="ev-type">request.approved<\/td>|<td class="ev-type">request.created<\/td>/);
    assert.ok(!view.html.includes(HOSTILE), 'the justification is escaped');

    // an auditor's POST with a valid token of their own session: 403, nothing changed
    const byAuditor = await postForm(auditor, clientPath(agent.client_id),
      { csrf_token: consoleCsrf(auditor), action: 'end', entitlement: ent.id });
    assert.equal(byAuditor.status, 403);
    assert.match(byAuditor.html, /read-only/);
    // an admin's forged POST (no CSRF token): 403, nothing changed
    const forged = await postForm(admin, clientPath(agent.client_id), { action: 'end', entitlement: ent.id });
    assert.equal(forged.status, 403);
    assert.equal(dynamicEnts(agent.client_id).length, 1);
    assert.equal((await tokenBasic(srv, agent, { scope: SCOPE })).status, 200, 'the scope is still granted');
    // an unknown entitlement: 404, nothing changed
    const unknown = await postForm(admin, clientPath(agent.client_id),
      { csrf_token: consoleCsrf(admin), action: 'end', entitlement: 'ent_nope' });
    assert.equal(unknown.status, 404);
    assert.equal((await page(admin, `${clientPath(agent.client_id)}?confirm=end&entitlement=ent_nope`)).status, 404);
    assert.equal(dynamicEnts(agent.client_id).length, 1);

    // the admin ends it in a browser, through the confirmation step
    const b = await launchBrowser();
    try {
      const p = b.page;
      await p.goto(`${srv.url}${clientPath(agent.client_id)}`);
      await submitLogin(p, 'ada', PASSWORD);
      await p.waitForURL(`${srv.url}${clientPath(agent.client_id)}`);
      await screenshot(p, 'console-application-governance');
      await p.locator('tr.source-dynamic').getByRole('button', { name: 'End' }).click();
      await p.waitForURL(/confirm=end/);
      assert.match(await p.locator('.lead').innerText(), /End the entitlement/);
      await screenshot(p, 'console-entitlement-end-confirm');
      await p.getByRole('button', { name: 'End entitlement' }).click();
      await p.waitForLoadState();
      assert.match(await p.locator('.console-message').innerText(), /^Ended/);
    } finally {
      await b.close();
    }
    assert.equal(dynamicEnts(agent.client_id).length, 0);
    assertOAuthError(await tokenBasic(srv, agent, { scope: SCOPE }), 400, 'invalid_scope');
    const revoked = auditEvents(srv).map(eventBody).find((e) => eventType(e) === 'entitlement.revoked');
    assert.equal(revoked?.actor, 'ada');
    const after = await page(admin, clientPath(agent.client_id));
    assert.match(after.html, /<td class="ev-type">entitlement.revoked<\/td>/);
    assert.doesNotMatch(after.html, /source-dynamic/);
  });

  test('the reviews page: an auditor reads, an admin certifies one finding and revokes another', async () => {
    const certified = createClient(srv, agentMetadata({ client_name: 'Nobody owns me', owner: undefined }));
    const revoked = createClient(srv, agentMetadata({ client_name: 'Nobody owns me either', owner: undefined }));
    const findingOf = (html, clientId) => html.split('<section class="finding" id="').slice(1)
      .filter((sec) => sec.includes(`<a class="finding-client" href="${clientPath(clientId)}">`))
      .map((sec) => sec.slice(0, sec.indexOf('"')))[0];
    const ro = await page(auditor, '/console/reviews?kind=ownerless');
    assert.equal(ro.status, 200);
    assert.match(ro.html, /<a href="\/console\/reviews" aria-current="page">Reviews<\/a>/);
    const fc = findingOf(ro.html, certified.client_id);
    const fr = findingOf(ro.html, revoked.client_id);
    assert.ok(fc && fr, ro.html);
    assert.doesNotMatch(ro.html, /name="decision"/, 'no form for an auditor');
    assert.doesNotMatch(ro.html, /<span class="finding-kind">(?!ownerless)/, 'only the kind asked for');
    // the application's page shows its finding too
    assert.ok((await page(auditor, clientPath(certified.client_id))).html.includes(`<code class="finding-id">${fc}</code>`));

    const byAuditor = await postForm(auditor, '/console/reviews',
      { csrf_token: consoleCsrf(auditor), finding: fc, decision: 'revoke' });
    assert.equal(byAuditor.status, 403);
    const forged = await postForm(admin, '/console/reviews', { finding: fr, decision: 'revoke' });
    assert.equal(forged.status, 403);
    const noNote = await postForm(admin, '/console/reviews',
      { csrf_token: consoleCsrf(admin), finding: fc, decision: 'certify', until: '30d' });
    assert.equal(noNote.status, 400);
    const unknown = await postForm(admin, '/console/reviews',
      { csrf_token: consoleCsrf(admin), finding: 'fnd_nope', decision: 'revoke' });
    assert.equal(unknown.status, 404);
    assert.equal(cliJson(srv, ['client', 'show', revoked.client_id]).status, 'active', 'nothing changed');
    assert.ok(findingOf((await page(admin, '/console/reviews')).html, certified.client_id));

    const b = await launchBrowser();
    try {
      const p = b.page;
      await p.goto(`${srv.url}/console/reviews?kind=ownerless`);
      await submitLogin(p, 'ada', PASSWORD);
      await p.waitForURL(/\/console\/reviews/);
      await screenshot(p, 'console-reviews');
      const sec = p.locator(`section[id="${fc}"]`);
      await sec.getByLabel('Note (required to certify)').fill('Platform team owns it; owner to be named');
      await sec.getByLabel(/Certified until/).fill('30d');
      await sec.getByRole('button', { name: 'Certify' }).click();
      await p.waitForLoadState();
      assert.match(await p.locator('.console-message').innerText(), /^Certified until /);
      await p.goto(`${srv.url}/console/reviews?kind=ownerless`);
      await p.locator(`section[id="${fr}"]`).getByRole('button', { name: 'Revoke' }).click();
      await p.waitForLoadState();
      assert.match(await p.locator('.console-message').innerText(), /^Revoked: /);
    } finally {
      await b.close();
    }
    const left = (await page(admin, '/console/reviews')).html;
    assert.equal(findingOf(left, certified.client_id), undefined, 'a certified finding is quiet');
    assert.equal(cliJson(srv, ['client', 'show', revoked.client_id]).status, 'suspended', 'the remedy: suspended');
    const decided = auditEvents(srv).map(eventBody).filter((e) => eventType(e).startsWith('review.'));
    assert.deepEqual(decided.map((e) => [eventType(e), e.actor]),
      [['review.certified', 'ada'], ['review.revoked', 'ada']]);
  });

  test('the audit log page filters by client, type and time, pages newest first, and escapes what events hold', async () => {
    const busy = createClient(srv, agentMetadata({ client_name: 'Busy agent' }));
    for (let i = 0; i < 55; i++) assert.equal((await tokenBasic(srv, busy, { scope: 'read' })).status, 200);
    const bad = await tokenBasic(srv, busy, { scope: `read ${HOSTILE}` });
    assert.equal(bad.status, 400);
    await grant(busy);

    const all = await page(auditor, '/console/audit');
    assert.equal(all.status, 200);
    assert.match(all.html, /<a href="\/console\/audit" aria-current="page">Audit<\/a>/);
    assert.equal(seqs(all.html).length, 50);
    assert.ok(!all.html.includes(HOSTILE), 'hostile text is escaped');
    assert.ok(all.html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));

    const q = `client=${encodeURIComponent(busy.client_id)}&type=token.`;
    const first = await page(auditor, `/console/audit?${q}`);
    const s1 = seqs(first.html);
    assert.equal(s1.length, 50);
    assert.deepEqual(s1, [...s1].sort((a, b) => b - a), 'newest first');
    assert.doesNotMatch(first.html, /<td class="ev-type">(?!token\.)/, 'only token events');
    assert.doesNotMatch(first.html, new RegExp(`<td class="ev-client">(?!${busy.client_id}<)`), 'only this client');
    assert.match(first.html, /<td class="ev-type">token.refused<\/td>/);
    const next = olderLink(first.html);
    assert.ok(next, 'a link to older events');
    const second = await page(auditor, next);
    const s2 = seqs(second.html);
    assert.ok(s2.length >= 6, second.html);
    assert.ok(Math.max(...s2) < Math.min(...s1), 'older events, none repeated');
    let total = s1.length + s2.length;
    for (let link = olderLink(second.html), i = 0; link && i < 10; i++) {
      const more = await page(auditor, link);
      total += seqs(more.html).length;
      link = olderLink(more.html);
    }
    assert.equal(total, 56, 'every token event of the client: 55 issued, 1 refused');

    const refused = await page(auditor, `/console/audit?client=${encodeURIComponent(busy.client_id)}&type=token.refused`);
    assert.equal(seqs(refused.html).length, 1);
    const future = await page(auditor, '/console/audit?since=2999-01-01T00:00:00Z');
    assert.equal(seqs(future.html).length, 0);
    assert.match(future.html, /No event matches/);
    for (const bad of ['since=yesterday', 'before=-3', 'before=abc']) {
      assert.equal((await page(auditor, `/console/audit?${bad}`)).status, 400, bad);
    }
    const posted = await postForm(admin, '/console/audit', { csrf_token: consoleCsrf(admin) });
    assert.equal(posted.status, 405, 'read-only');

    const b = await launchBrowser();
    try {
      const p = b.page;
      await p.goto(`${srv.url}/console/audit`);
      await submitLogin(p, 'audrey', PASSWORD);
      await p.waitForURL(/\/console\/audit/);
      await p.getByLabel('Client').fill(busy.client_id);
      await p.getByLabel('Type starts with').fill('token.refused');
      await p.getByRole('button', { name: 'Filter' }).click();
      await p.waitForURL(/type=token.refused/);
      assert.equal(await p.locator('tr.audit-event').count(), 1);
      assert.ok((await p.locator('tr.audit-event .ev-reason').innerText()).includes(HOSTILE),
        'shown as text');
      await screenshot(p, 'console-audit');
    } finally {
      await b.close();
    }
  });
});
