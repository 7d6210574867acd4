// The console for platform teams (/console): who may enter (admins read and
// act, auditors only read, anyone else signed in gets 403, nobody signed in
// goes through /login and back); the applications page with filters,
// sorting and pages of 50 over more than 50 clients; one application with
// its metadata (escaped), credentials and pending requests; suspension and
// resumption through a confirmation step, after which the client's live
// tokens (JWT and opaque) are inactive at introspection at once; an
// auditor's POST with a valid CSRF token of their own session, and an
// admin's POST without one, are refused and change nothing; the requests
// page approves a pending registration, and refuses, with routing's reason,
// a CIBA request that waits for the person it asks. Screenshots of each
// page go to tests/integration/artifacts/.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { createUsers, FAST_ARGON2, PASSWORD, signedIn } from './lib/authz.mjs';
import { launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import { cibaMetadata, PAYMENT, started } from './lib/ciba.mjs';
import {
  API, agentMetadata, auditEvents, basic, createFixtureScopes, eventBody, eventType, post, show,
  tokenBasic, tokenPost,
} from './lib/oauth.mjs';
import { assertRegistered, register } from './lib/register.mjs';
import { cliJson, createClient, createScope, startServer } from './lib/server.mjs';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const SEEDED = 60;
const KINDS = ['agent', 'service', 'web', 'native', 'cli'];
const TIERS = ['low', 'medium', 'high'];

/** The CSRF token of console forms for a session (the HMAC of its id, as the server computes it). */
const consoleCsrf = (jar) => createHmac('sha256', jar.cookies.get('mandate_session'))
  .update('mandate-csrf-v1:console').digest('base64url');

/** The client_ids of the rows of an applications page, in order. */
const rowIds = (html) => [...html.matchAll(/<tr class="client-row" data-client-id="([^"]*)"/g)].map((m) => m[1]);

/** The href of the link with rel (prev|next) on an applications page, decoded, or null. */
const relLink = (html, rel) => {
  const m = new RegExp(`<a rel="${rel}"[^>]* href="([^"]*)"`).exec(html);
  return m ? m[1].replaceAll('&amp;', '&') : null;
};

describe('the console', { timeout: 240_000 }, () => {
  let srv;
  let jwtClient;
  let opaqueClient;
  let rs;
  let marked;
  let admin;   // cookie jars
  let auditor;

  const introspect = async (token) => {
    const r = await post(srv, '/introspect', { token },
      { headers: { authorization: basic(rs.client_id, rs.client_secret) } });
    assert.equal(r.status, 200, show(r));
    return r.json;
  };
  const statusOf = (id) => cliJson(srv, ['client', 'show', id]).status;
  const clientPath = (id) => `/console/clients/${encodeURIComponent(id)}`;

  before(async () => {
    // Seeding clients runs the command line synchronously for many seconds (more under the
    // sanitizers), so the test's kept-alive connection sits idle meanwhile; a keep-alive
    // timeout longer than that keeps the server from closing it while the client cannot see
    // the close, which would fail the next request on that connection.
    srv = await startServer({
      config: {
        server: { keepalive_timeout: '10m' }, users: FAST_ARGON2,
        registration: { open: 'true', rate_per_source: 1000 },
      },
    });
    createFixtureScopes(srv);
    createScope(srv, 'payments', { description: 'Make payments' });
    for (const [name, role] of [['ada', 'admin'], ['audrey', 'auditor']]) {
      const r = srv.cli(['user', 'create', name, '--role', role, '--password-stdin'], { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    createUsers(srv, ['paul', 'alice', 'olivia']);
    jwtClient = createClient(srv, agentMetadata({ client_name: 'Ledger agent', owner: 'ada', risk_tier: 'high' }));
    opaqueClient = createClient(srv, agentMetadata({ client_name: 'Opaque agent', access_token_format: 'opaque',
      token_endpoint_auth_method: 'client_secret_post' }));
    rs = createClient(srv, agentMetadata({ client_name: 'API', kind: 'service', scope: 'read', resources: [API],
      introspection_for: [API] }));
    marked = createClient(srv, agentMetadata({ client_name: 'Evil <script>alert(1)</script> & "co"',
      description: '<img src=x onerror=alert(1)>', contacts: ['<b>ops</b>@example.com'] }));
    admin = await signedIn(srv, 'ada');
    auditor = await signedIn(srv, 'audrey');
  });
  after(async () => { await srv?.stop(); });

  test('nobody signed in goes through the login page, and /console leads to the applications', async () => {
    for (const [path, back] of [['/console/clients', '/console/clients'], ['/console/requests', '/console/requests'],
      [clientPath(jwtClient.client_id), clientPath(jwtClient.client_id)]]) {
      const r = await fetch(`${srv.url}${path}`, { redirect: 'manual' });
      assert.equal(r.status, 303, path);
      assert.equal(r.headers.get('location'), `/login?return_to=${encodeURIComponent(back)}`);
    }
    const r = await admin.fetch(`${srv.url}/console`);
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/console/clients');
    const p = await fetch(`${srv.url}${clientPath(jwtClient.client_id)}`, {
      method: 'POST', headers: FORM, body: 'action=suspend', redirect: 'manual',
    });
    assert.equal(p.status, 303, 'a POST without a session goes to the login page');
    assert.match(p.headers.get('location'), /^\/login\?return_to=/);
    assert.equal(statusOf(jwtClient.client_id), 'active');
  });

  test('a signed-in user who is neither admin nor auditor gets 403', async () => {
    const paul = await signedIn(srv, 'paul');
    for (const path of ['/console/clients', clientPath(jwtClient.client_id), '/console/requests']) {
      const r = await paul.fetch(`${srv.url}${path}`);
      assert.equal(r.status, 403, path);
      const html = await r.text();
      assert.match(html, /for administrators and auditors/);
      assert.ok(!html.includes(jwtClient.client_id), 'nothing of the applications is shown');
    }
    const r = await paul.fetch(`${srv.url}${clientPath(jwtClient.client_id)}`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ csrf_token: consoleCsrf(paul), action: 'suspend' }).toString(),
    });
    assert.equal(r.status, 403);
    assert.equal(statusOf(jwtClient.client_id), 'active');
  });

  test('an auditor sees the applications and one application, without any button; a forged POST is refused', async () => {
    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}/console`);
      assert.match(page.url(), /\/login\?return_to=%2Fconsole%2Fclients$/);
      await submitLogin(page, 'audrey', PASSWORD);
      await page.waitForURL(`${srv.url}/console/clients`);
      const resp = await page.reload();
      const csp = resp.headers()['content-security-policy'];
      assert.match(csp, /default-src 'none'/);
      assert.doesNotMatch(csp, /script-src|unsafe-inline/);
      assert.equal(resp.headers()['x-frame-options'], 'DENY');
      assert.equal(await page.locator('.console-username').innerText(), 'audrey');
      assert.equal(await page.locator('.console-role').innerText(), 'auditor');
      assert.equal(await page.locator('nav.console-nav a[aria-current="page"]').innerText(), 'Applications');
      const row = page.locator(`tr.client-row[data-client-id="${jwtClient.client_id}"]`);
      assert.equal(await row.locator('.client-name').innerText(), 'Ledger agent');
      assert.equal(await row.locator('.client-kind').innerText(), 'agent');
      assert.equal(await row.locator('.client-owner').innerText(), 'ada');
      assert.equal(await row.locator('.client-status').innerText(), 'active');
      assert.equal(await row.locator('.client-tier').innerText(), 'high');
      assert.equal(await page.locator('form[method="post"]').count(), 0, 'no form that changes anything');
      await screenshot(page, 'console-clients-auditor');

      await row.locator('.client-name').click();
      await page.waitForURL(`${srv.url}${clientPath(jwtClient.client_id)}`);
      const main = await page.locator('main').innerText();
      assert.match(main, /client_secret_basic/);
      assert.equal(await page.locator('table.credentials tbody tr').count(), 1);
      assert.equal(await page.locator('table.credentials .cred-type').innerText(), 'secret');
      assert.equal(await page.getByRole('button').count(), 0, 'no suspend button for an auditor');
      assert.equal(await page.locator('form[method="post"]').count(), 0);
      await screenshot(page, 'console-client-auditor');
      await page.goto(`${srv.url}${clientPath(jwtClient.client_id)}?confirm=suspend`);
      assert.equal(await page.getByRole('button').count(), 0, 'no confirmation form for an auditor');
    } finally {
      await b.close();
    }

    const token = (await tokenBasic(srv, jwtClient, { resource: API })).json.access_token;
    const before = auditEvents(srv).length;
    const r = await auditor.fetch(`${srv.url}${clientPath(jwtClient.client_id)}`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ csrf_token: consoleCsrf(auditor), action: 'suspend' }).toString(),
    });
    assert.equal(r.status, 403);
    assert.match(await r.text(), /read-only/);
    assert.equal(statusOf(jwtClient.client_id), 'active', 'nothing changed');
    assert.equal((await introspect(token)).active, true, 'its token is still active');
    const events = auditEvents(srv).slice(before);
    assert.deepEqual(events.map(eventType), ['console.refused']);
    assert.equal(eventBody(events[0]).actor, 'audrey');
    const d = await auditor.fetch(`${srv.url}/console/requests`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ csrf_token: consoleCsrf(auditor), request: 'req_x', decision: 'allow' }).toString(),
    });
    assert.equal(d.status, 403, 'an auditor decides nothing either');
  });

  test('an admin suspends an application through the confirmation step: its live tokens are inactive at once; then resumes it', async () => {
    const jwt = (await tokenBasic(srv, jwtClient, { resource: API })).json.access_token;
    const opaque = (await tokenPost(srv, opaqueClient, { resource: API })).json.access_token;
    assert.equal((await introspect(jwt)).active, true);
    assert.equal((await introspect(opaque)).active, true);
    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}/console/clients`);
      await submitLogin(page, 'ada', PASSWORD);
      await page.waitForURL(`${srv.url}/console/clients`);
      assert.equal(await page.locator('.console-role').innerText(), 'admin');
      await screenshot(page, 'console-clients-admin');
      for (const [client, token, shot] of [[jwtClient, jwt, 'jwt'], [opaqueClient, opaque, 'opaque']]) {
        await page.goto(`${srv.url}${clientPath(client.client_id)}`);
        if (shot === 'jwt') await screenshot(page, 'console-client-admin');
        await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Suspend application' }).click()]);
        assert.match(page.url(), /\?confirm=suspend$/);
        assert.match(await page.locator('main').innerText(),
          /revokes every token and refresh token of the client at once/);
        assert.equal(statusOf(client.client_id), 'active', 'the first button changes nothing');
        if (shot === 'jwt') await screenshot(page, 'console-client-suspend-confirm');
        await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Suspend application' }).click()]);
        assert.match(await page.locator('main').innerText(), /Suspended/);
        assert.equal(statusOf(client.client_id), 'suspended');
        assert.equal((await introspect(token)).active, false, `the ${shot} access token is inactive at once`);
        const refused = shot === 'jwt' ? await tokenBasic(srv, client, { resource: API })
          : await tokenPost(srv, client, { resource: API });
        assert.notEqual(refused.status, 200, 'no new token while suspended');
      }
      const suspended = auditEvents(srv).filter((e) => eventType(e) === 'client.suspended');
      assert.equal(eventBody(suspended.at(-1)).actor, 'ada');

      await page.goto(`${srv.url}${clientPath(jwtClient.client_id)}`);
      assert.equal(await page.locator('.client-status').first().innerText(), 'suspended');
      assert.equal(await page.getByRole('button', { name: 'Suspend application' }).count(), 0);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Resume application' }).click()]);
      assert.match(await page.locator('main').innerText(), /Tokens revoked by the suspension stay revoked|stay revoked/);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Resume application' }).click()]);
      assert.match(await page.locator('main').innerText(), /Resumed/);
    } finally {
      await b.close();
    }
    assert.equal(statusOf(jwtClient.client_id), 'active');
    assert.equal((await introspect(jwt)).active, false, 'a token revoked by the suspension stays revoked');
    const fresh = await tokenBasic(srv, jwtClient, { resource: API });
    assert.equal(fresh.status, 200, show(fresh));
    assert.equal((await introspect(fresh.json.access_token)).active, true);
    const r = srv.cli(['client', 'resume', opaqueClient.client_id]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('a POST without the CSRF token, or with a wrong one, is refused and changes nothing', async () => {
    for (const fields of [{ action: 'suspend' }, { action: 'suspend', csrf_token: consoleCsrf(auditor) }]) {
      const r = await admin.fetch(`${srv.url}${clientPath(jwtClient.client_id)}`, {
        method: 'POST', headers: FORM, body: new URLSearchParams(fields).toString(),
      });
      assert.equal(r.status, 403);
      assert.match(await r.text(), /expired or was not sent by this site/);
    }
    const other = await admin.fetch(`${srv.url}${clientPath(jwtClient.client_id)}`, {
      method: 'POST', headers: { ...FORM, origin: 'https://evil.example' },
      body: new URLSearchParams({ action: 'suspend', csrf_token: consoleCsrf(admin) }).toString(),
    });
    assert.equal(other.status, 403, 'a POST from another origin');
    assert.equal(statusOf(jwtClient.client_id), 'active');
    // an unknown action, an unknown client: errors, nothing changed
    const bad = await admin.fetch(`${srv.url}${clientPath(jwtClient.client_id)}`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ action: 'delete', csrf_token: consoleCsrf(admin) }).toString(),
    });
    assert.equal(bad.status, 400);
    assert.equal(statusOf(jwtClient.client_id), 'active');
    const gone = await admin.fetch(`${srv.url}${clientPath('mdt_nope')}`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ action: 'suspend', csrf_token: consoleCsrf(admin) }).toString(),
    });
    assert.equal(gone.status, 404);
    assert.equal((await admin.fetch(`${srv.url}${clientPath('mdt_nope')}`)).status, 404);
  });

  test('names and metadata with markup are shown as text', async () => {
    const list = await (await admin.fetch(`${srv.url}/console/clients?sort=name`)).text();
    assert.ok(list.includes('Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;'));
    assert.ok(!list.includes('<script>'));
    const one = await (await admin.fetch(`${srv.url}${clientPath(marked.client_id)}`)).text();
    assert.ok(!one.includes('<script>') && !one.includes('<img') && !one.includes('<b>ops'));
    assert.ok(one.includes('&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(one.includes('&lt;b&gt;ops&lt;/b&gt;@example.com'));
    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}${clientPath(marked.client_id)}`);
      await submitLogin(page, 'audrey', PASSWORD);
      await page.waitForURL(`${srv.url}${clientPath(marked.client_id)}`);
      assert.equal(await page.locator('main script, main img').count(), 0);
      assert.equal(await page.locator('h1').innerText(), 'Evil <script>alert(1)</script> & "co"');
    } finally {
      await b.close();
    }
  });

  test('filters, sorting and pages of 50 over more than 50 applications, links keeping the filters', async () => {
    const t0 = Date.now();
    for (let i = 0; i < SEEDED && Date.now() - t0 < 60_000; i++) {
      createClient(srv, {
        client_name: `Seeded ${String(i).padStart(2, '0')}`, kind: KINDS[i % KINDS.length],
        owner: i % 2 ? 'alice' : 'olivia', risk_tier: TIERS[i % TIERS.length],
        grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic', scope: 'read',
      });
    }
    const seconds = (Date.now() - t0) / 1000;
    assert.ok(seconds < 60, `${SEEDED} clients created in ${seconds}s`);
    const all = cliJson(srv, ['client', 'list']);
    const total = all.length;
    assert.ok(total > 50);

    const get = async (q) => {
      const r = await admin.fetch(`${srv.url}/console/clients${q}`);
      assert.equal(r.status, 200, q);
      return r.text();
    };
    // pages of 50, in client_id order by default
    const p1 = await get('');
    const ids1 = rowIds(p1);
    assert.equal(ids1.length, 50);
    assert.deepEqual(ids1, all.map((c) => c.client_id).sort().slice(0, 50));
    assert.match(p1, new RegExp(`Applications 1 to 50 of ${total}\\.`));
    assert.equal(relLink(p1, 'prev'), null);
    assert.equal(relLink(p1, 'next'), '/console/clients?page=2');
    const p2 = await get('?page=2');
    assert.deepEqual(rowIds(p2), all.map((c) => c.client_id).sort().slice(50));
    assert.equal(relLink(p2, 'next'), null);
    assert.equal(relLink(p2, 'prev'), '/console/clients');
    assert.equal(rowIds(await get('?page=9')).length, 0, 'past the end: an empty page');

    // filters combine; a link to the next page keeps the filters and the order
    const seededAgents = all.filter((c) => c.kind === 'agent');
    const agents = rowIds(await get('?kind=agent&sort=name&order=desc'));
    const byNameDesc = seededAgents.slice().sort((x, y) => (y.client_name || y.client_id).toLowerCase()
      .localeCompare((x.client_name || x.client_id).toLowerCase()) || x.client_id.localeCompare(y.client_id));
    assert.deepEqual(agents, byNameDesc.map((c) => c.client_id));
    const want = all.filter((c) => c.owner === 'alice' && c.risk_tier === 'low' && c.kind === 'service');
    assert.ok(want.length > 0);
    assert.deepEqual(rowIds(await get('?owner=alice&tier=low&kind=service')).sort(), want.map((c) => c.client_id).sort());
    const suspended = all.find((c) => c.client_name === 'Seeded 07');
    srv.cli(['client', 'suspend', suspended.client_id]);
    assert.deepEqual(rowIds(await get('?status=suspended')), [suspended.client_id]);
    const olivia = all.filter((c) => c.owner === 'olivia').sort((x, y) => x.client_id_issued_at - y.client_id_issued_at);
    const o1 = rowIds(await get('?owner=olivia&sort=created'));
    assert.equal(o1.length, Math.min(olivia.length, 50));
    assert.deepEqual(new Set(o1), new Set(olivia.map((c) => c.client_id).slice(0, o1.length)));
    const byTier = rowIds(await get('?sort=tier&order=desc&kind=web'));
    const rank = { low: 0, medium: 1, high: 2 };
    const tiers = byTier.map((id) => all.find((c) => c.client_id === id).risk_tier);
    assert.deepEqual(tiers, tiers.slice().sort((x, y) => rank[y] - rank[x]));
    // the next link of a filtered, sorted first page keeps everything
    const big = await get('?owner=&sort=created&order=desc');
    assert.equal(relLink(big, 'next'), '/console/clients?sort=created&order=desc&page=2');
    const withFilter = await get('?tier=medium&sort=name');
    assert.equal(relLink(withFilter, 'next'), null);
    assert.match(withFilter, /href="\/console\/clients\?tier=medium&amp;sort=name&amp;order=desc"/,
      'the sorted column links to the other order, keeping the filter');
    // bad parameters: 400 with the reason, no list
    for (const [q, why] of [['?kind=robot', /kind must be/], ['?sort=password', /sort must be/],
      ['?order=up', /order must be/], ['?page=0', /page must be/], ['?page=x', /page must be/],
      ['?tier=extreme', /tier must be/], ['?status=gone', /status must be/]]) {
      const r = await admin.fetch(`${srv.url}/console/clients${q}`);
      assert.equal(r.status, 400, q);
      const html = await r.text();
      assert.match(html, why);
      assert.equal(rowIds(html).length, 0);
    }
    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}/console/clients`);
      await submitLogin(page, 'ada', PASSWORD);
      await page.waitForURL(`${srv.url}/console/clients`);
      await page.getByLabel('Kind').selectOption('service');
      await page.getByLabel('Owner').fill('alice');
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Filter' }).click()]);
      const ids = await page.locator('tr.client-row').evaluateAll((rows) => rows.map((r) => r.dataset.clientId));
      assert.deepEqual(ids.sort(), all.filter((c) => c.kind === 'service' && c.owner === 'alice').map((c) => c.client_id).sort());
      await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: 'Created' }).click()]);
      assert.match(page.url(), /kind=service&owner=alice&sort=created$/);
      assert.equal(await page.locator('th[aria-sort="ascending"]').innerText(), 'Created ▲');
      await screenshot(page, 'console-clients-filtered');
    } finally {
      await b.close();
    }
  });

  test('the requests page: an admin approves a pending registration; a CIBA request waits for its person', async () => {
    const reg = assertRegistered(await register(srv, { client_name: 'Night <batch>', grant_types: ['client_credentials'],
      scope: 'payments' }), 'pending');
    const pending = cliJson(srv, ['request', 'list', '--status', 'pending']).find((q) => q.client_id === reg.client_id);
    assert.equal(pending.type, 'registration');
    const agent = createClient(srv, cibaMetadata());
    const ciba = await started(srv, agent, { login_hint: 'alice', binding_message: 'Pay <now>',
      authorization_details: JSON.stringify(PAYMENT) });

    // the application's page lists its pending request
    const one = await (await auditor.fetch(`${srv.url}${clientPath(reg.client_id)}`)).text();
    assert.ok(one.includes(pending.id));
    assert.ok(one.includes('Night &lt;batch&gt;'));

    // auditors read only
    const ro = await (await auditor.fetch(`${srv.url}/console/requests`)).text();
    assert.ok(ro.includes(pending.id) && ro.includes(ciba.request.id));
    assert.ok(!ro.includes('name="decision"'));
    assert.ok(ro.includes('Pay &lt;now&gt;'));
    assert.ok(ro.includes('ACME &lt;Inc&gt; &amp; &quot;Co&quot;'), 'the exact action, escaped');
    assert.ok(ro.includes('payment_initiation') && ro.includes('1.0865') && !ro.includes('0.1000000'));
    assert.ok(!ro.includes('<Inc>') && !ro.includes('<now>'));

    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}/console/requests`);
      await submitLogin(page, 'ada', PASSWORD);
      await page.waitForURL(`${srv.url}/console/requests`);
      assert.equal(await page.locator('nav.console-nav a[aria-current="page"]').innerText(), 'Requests');
      const item = page.locator(`section.console-request[id="${pending.id}"]`);
      assert.match(await item.innerText(), /registration/);
      const cibaItem = page.locator(`section.console-request[id="${ciba.request.id}"]`);
      assert.equal(await cibaItem.locator('button').count(), 0, 'routing does not let the admin decide it');
      assert.match(await cibaItem.innerText(), /Routing does not let you decide/);
      await screenshot(page, 'console-requests');
      await item.locator('textarea[name="note"]').fill('checked with the team');
      await Promise.all([page.waitForNavigation(), item.locator('button[name="decision"][value="allow"]').click()]);
      assert.match(await page.locator('main').innerText(), /Approved/);
    } finally {
      await b.close();
    }
    const decided = cliJson(srv, ['request', 'list']).find((q) => q.id === pending.id);
    assert.equal(decided.status, 'approved');
    assert.equal(decided.decided_by, 'ada');
    assert.equal(decided.note, 'checked with the team');
    assert.equal(statusOf(reg.client_id), 'active');

    // a decision routing does not allow: a clear 403, nothing recorded
    const r = await admin.fetch(`${srv.url}/console/requests`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ csrf_token: consoleCsrf(admin), request: ciba.request.id, decision: 'allow' }).toString(),
    });
    assert.equal(r.status, 403);
    assert.match(await r.text(), /You may not decide this request: only the person the request asks may decide it\./);
    assert.equal(cliJson(srv, ['request', 'list']).find((q) => q.id === ciba.request.id).status, 'pending');
    // decided twice, unknown: clear errors
    const again = await admin.fetch(`${srv.url}/console/requests`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ csrf_token: consoleCsrf(admin), request: pending.id, decision: 'deny' }).toString(),
    });
    assert.equal(again.status, 409);
    const unknown = await admin.fetch(`${srv.url}/console/requests`, {
      method: 'POST', headers: FORM,
      body: new URLSearchParams({ csrf_token: consoleCsrf(admin), request: 'req_unknown', decision: 'deny' }).toString(),
    });
    assert.equal(unknown.status, 404);
    assert.equal(cliJson(srv, ['request', 'list']).find((q) => q.id === pending.id).status, 'approved');
  });
});
