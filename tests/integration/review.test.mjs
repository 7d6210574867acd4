// Access reviews (SPEC §3.6, `mandate review`, /reviews) and the usage they
// read. A seeded database (rows aged with dbQuery, as time would) where
// `mandate review --json` finds each kind of finding; certify hides one until
// its date and it comes back after; revoke of each kind does what it says
// (the scope leaves the metadata, the credential expires and is refused at
// /token, the client is suspended and its tokens inactive, the refresh tokens
// are revoked); decisions in the audit log; failure paths (unknown id, a
// finding that no longer holds, bad until, no note, someone not allowed).
// Ownership: an owner must be an active user; disabling one flags their
// clients. An owner decides the findings of their own clients on /reviews in
// a browser and cannot decide another client's by posting its id. Usage: the
// batch is written every [usage] flush_interval and at shutdown, one row per
// (client, scope) and per (client, day) however many tokens.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callbackServer, createUsers, FAST_ARGON2, PASSWORD, signedIn } from './lib/authz.mjs';
import { csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import { authorizeCode, postAs, redeem, refresh } from './lib/grants.mjs';
import { agentMetadata, API, assertOAuthError, auditEvents, basic, eventBody, eventType, post, tokenBasic,
  createFixtureScopes } from './lib/oauth.mjs';
import { dbQuery } from './lib/pg.mjs';
import { cliJson, createClient, createScope, sleep, startServer } from './lib/server.mjs';

const DAY = 86400;
const now = () => Math.floor(Date.now() / 1000);

/** Runs `mandate review ...` expecting failure; its stderr. */
function reviewFails(srv, args, re) {
  const r = srv.cli(['review', ...args]);
  assert.notEqual(r.code, 0, `mandate review ${args.join(' ')} should fail`);
  assert.match(r.stderr, re);
  return r.stderr;
}

const findings = (srv) => cliJson(srv, ['review']);
const findingOf = (srv, kind, clientId) => findings(srv).find((f) => f.kind === kind && f.client_id === clientId);

/** Waits (bounded) until the usage batch is written: pred(rows of sql) holds. */
async function waitRows(srv, sql, pred, what) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = dbQuery(srv, sql).trim().split('\n').filter(Boolean).map((l) => l.split('|'));
    if (pred(rows)) return rows;
    if (Date.now() > deadline) assert.fail(`${what}: ${JSON.stringify(rows)}`);
    await sleep(200);
  }
}

describe('access reviews', { timeout: 300_000 }, () => {
  let srv;
  let cb;
  const c = {};

  const age = (clientId, days) => dbQuery(srv,
    `UPDATE clients SET created_at = created_at - ${days * DAY} WHERE client_id = '${clientId}';`);

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2, usage: { flush_interval: '1s' } } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice', 'bob', 'dave']);
    const r = srv.cli(['user', 'create', 'adam', '--role', 'admin', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(r.code, 0, r.stderr);
    cb = await callbackServer();
    c.noOwner = createClient(srv, agentMetadata({ client_name: 'Orphan', owner: undefined, scope: 'read' }));
    c.stale = createClient(srv, agentMetadata({ client_name: 'Stale', scope: 'read write' }));
    c.oldCred = createClient(srv, agentMetadata({ client_name: 'Old secret', owner: 'bob', scope: 'read' }));
    c.high = createClient(srv, agentMetadata({ client_name: 'High tier', risk_tier: 'high', scope: 'read' }));
    c.never = createClient(srv, agentMetadata({ client_name: 'Never used', owner: 'bob', scope: 'read' }));
    c.daves = createClient(srv, agentMetadata({ client_name: "Dave's", owner: 'dave', scope: 'read' }));
    c.web = createClient(srv, {
      kind: 'web', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'read', resources: [API], client_name: 'Web app',
      token_endpoint_auth_method: 'client_secret_basic',
    });
    c.rs = createClient(srv, agentMetadata({ client_name: 'API', owner: 'alice', kind: 'service', scope: 'read',
      resources: [API], introspection_for: [API] }));
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  test('an owner must be an existing, active user; self-chosen owners are refused', () => {
    for (const owner of ['nobody', 'dave2']) {
      const r = srv.cli(['client', 'create'], { input: JSON.stringify(agentMetadata({ owner })) });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /invalid_client_metadata: .*owner/);
    }
    const upd = srv.cli(['client', 'update', c.stale.client_id], { input: JSON.stringify({ owner: 'nobody' }) });
    assert.notEqual(upd.code, 0);
    assert.match(upd.stderr, /invalid_client_metadata: .*owner/);
    assert.equal(cliJson(srv, ['client', 'show', c.stale.client_id]).owner, 'alice', 'nothing changed');
  });

  test('the seeded database: `mandate review --json` finds each kind', async () => {
    // stale: used for read, never for write, and created long ago
    const t = await tokenBasic(srv, c.stale, { scope: 'read' });
    assert.equal(t.status, 200, t.text);
    await waitRows(srv, `SELECT scope FROM usage_scopes WHERE client_id = '${c.stale.client_id}';`,
      (rows) => rows.length === 1, 'the use of read is written');
    age(c.stale.client_id, 200);
    // old secret: its secret created 200 days ago (the client itself is young)
    dbQuery(srv, `UPDATE credentials SET created_at = created_at - ${200 * DAY} WHERE client_id = '${c.oldCred.client_id}';`);
    // never used, created 30 days ago
    age(c.never.client_id, 30);
    // dave is disabled: his client is flagged in the audit log and ownerless at once
    const d = srv.cli(['user', 'disable', 'dave']);
    assert.equal(d.code, 0, d.stderr);
    const flagged = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'client.owner_disabled');
    assert.deepEqual(flagged.map((e) => e.client_id), [c.daves.client_id]);
    assert.equal(flagged[0].subject, 'dave');

    const all = findings(srv);
    for (const f of all) {
      assert.deepEqual(Object.keys(f).sort(), ['client_id', 'detail', 'id', 'kind', 'since']);
      assert.match(f.id, /^fnd_[A-Za-z0-9_-]{43}$/);
    }
    const of = (kind, id) => all.filter((f) => f.kind === kind && f.client_id === id);
    assert.equal(of('ownerless', c.noOwner.client_id).length, 1);
    assert.match(of('ownerless', c.daves.client_id)[0].detail, /dave is disabled/);
    const unused = of('unused_entitlement', c.stale.client_id);
    assert.equal(unused.length, 1, 'write is unused; read was used');
    assert.match(unused[0].detail, /write/);
    assert.equal(of('old_credential', c.oldCred.client_id).length, 1);
    assert.equal(of('symmetric_on_high_tier', c.high.client_id).length, 1);
    assert.equal(of('never_authenticated', c.never.client_id).length, 1);
    assert.equal(of('never_authenticated', c.stale.client_id).length, 0, 'it authenticated');
    assert.equal(of('unused_entitlement', c.never.client_id).length, 0, 'younger than unused_after');
    // stable ids
    assert.deepEqual(findings(srv).map((f) => f.id), all.map((f) => f.id));
    // the human form is a table
    const human = srv.cli(['review']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^id\s+kind\s+client_id/);
  });

  test('an expired client still holding refresh tokens is found; revoke revokes them', async () => {
    const jar = await signedIn(srv, 'alice');
    const code = await redeem(srv, c.web, cb.uri, await authorizeCode(srv, jar, c.web, cb.uri));
    assert.equal(code.status, 200, code.text);
    assert.ok(code.json.refresh_token);
    assert.equal(findingOf(srv, 'expired_with_refresh_tokens', c.web.client_id), undefined);
    const until = new Date((now() + 2) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const u = srv.cli(['client', 'update', c.web.client_id], { input: JSON.stringify({ expires_at: until }) });
    assert.equal(u.code, 0, u.stderr);
    await sleep(3500);
    const f = findingOf(srv, 'expired_with_refresh_tokens', c.web.client_id);
    assert.ok(f, 'found once the client has expired');
    assert.match(f.detail, /1 usable refresh tokens/);
    const out = cliJson(srv, ['review', 'revoke', f.id, '--note', 'expired app']);
    assert.equal(out.action, 'refresh tokens revoked');
    const live = dbQuery(srv, `SELECT COUNT(*) FROM refresh_tokens WHERE client_id = '${c.web.client_id}' AND revoked_at = 0;`);
    assert.equal(live.trim(), '0');
    // the expired client cannot authenticate at all; the refresh token is revoked besides
    assertOAuthError(await refresh(srv, c.web, code.json.refresh_token), 401, 'invalid_client');
    assert.equal(findingOf(srv, 'expired_with_refresh_tokens', c.web.client_id), undefined);
  });

  test('certify hides a finding until its date; then it reappears', async () => {
    const f = findingOf(srv, 'symmetric_on_high_tier', c.high.client_id);
    const out = cliJson(srv, ['review', 'certify', f.id, '--note', 'migrating to private_key_jwt', '--until', '3s']);
    assert.equal(out.decision, 'certify');
    assert.equal(out.id, f.id);
    assert.equal(findings(srv).find((x) => x.id === f.id), undefined, 'quiet while certified');
    await sleep(4000);
    assert.ok(findings(srv).find((x) => x.id === f.id), 'back after its date');
    const ev = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'review.certified');
    assert.equal(ev.length, 1);
    assert.equal(ev[0].client_id, c.high.client_id);
    assert.equal(ev[0].data.id, f.id);
    assert.equal(ev[0].data.kind, 'symmetric_on_high_tier');
    assert.equal(ev[0].data.note, 'migrating to private_key_jwt');
  });

  test('failure paths change nothing', () => {
    const f = findingOf(srv, 'symmetric_on_high_tier', c.high.client_id);
    reviewFails(srv, ['certify', 'fnd_unknown', '--note', 'n', '--until', '1d'], /not_found: unknown finding/);
    reviewFails(srv, ['revoke', `fnd_${'A'.repeat(43)}`], /not_found: unknown finding/);
    reviewFails(srv, ['certify', f.id, '--note', 'n', '--until', 'tomorrow'], /--until/);
    reviewFails(srv, ['certify', f.id, '--note', 'n', '--until', '400d'], /max_certify/);
    reviewFails(srv, ['certify', f.id, '--until', '1d'], /note/);
    reviewFails(srv, ['certify', f.id, '--note', 'n', '--until', '1d', '--by', 'bob'], /access_denied/);
    reviewFails(srv, ['revoke', f.id, '--by', 'bob'], /access_denied/);
    reviewFails(srv, ['revoke', f.id, '--by', 'dave'], /access_denied/);
    reviewFails(srv, ['revoke', f.id, '--by', 'nobody'], /access_denied/);
    // an owner may not decide that their own client is ownerless (nor anyone's)
    const own = findingOf(srv, 'ownerless', c.noOwner.client_id);
    reviewFails(srv, ['revoke', own.id, '--by', 'alice'], /access_denied/);
    assert.ok(findings(srv).find((x) => x.id === f.id), 'still there');
    assert.equal(cliJson(srv, ['client', 'show', c.high.client_id]).status, 'active');
  });

  test('revoke does what each finding calls for, audited', async () => {
    // unused_entitlement: the scope leaves the metadata, and is refused at /token
    const unused = findingOf(srv, 'unused_entitlement', c.stale.client_id);
    let out = cliJson(srv, ['review', 'revoke', unused.id, '--by', 'adam', '--note', 'not needed']);
    assert.equal(out.action, 'scope removed from the client');
    assert.equal(cliJson(srv, ['client', 'show', c.stale.client_id]).scope, 'read');
    assertOAuthError(await tokenBasic(srv, c.stale, { scope: 'write' }), 400, 'invalid_scope');
    assert.equal((await tokenBasic(srv, c.stale, { scope: 'read' })).status, 200);
    // once done, the finding no longer holds: a second revoke is a conflict
    reviewFails(srv, ['revoke', unused.id], /conflict: .*no longer holds/);

    // old_credential: the credential expires now and is refused at /token
    assert.equal((await tokenBasic(srv, c.oldCred, { scope: 'read' })).status, 200);
    const old = findingOf(srv, 'old_credential', c.oldCred.client_id);
    out = cliJson(srv, ['review', 'revoke', old.id, '--by', 'bob']); // bob owns it
    assert.equal(out.action, 'credential expired');
    assert.equal(out.decided_by, 'bob');
    const creds = cliJson(srv, ['client', 'show', c.oldCred.client_id]).credentials;
    assert.ok(creds.every((x) => x.expires_at), 'expired');
    assertOAuthError(await tokenBasic(srv, c.oldCred, { scope: 'read' }), 401, 'invalid_client');

    // symmetric_on_high_tier: its secrets expire
    const high = findingOf(srv, 'symmetric_on_high_tier', c.high.client_id);
    out = cliJson(srv, ['review', 'revoke', high.id]);
    assert.equal(out.action, 'client secrets and API keys expired');
    assertOAuthError(await tokenBasic(srv, c.high, { scope: 'read' }), 401, 'invalid_client');

    // ownerless: suspended, and its live token inactive at introspection
    const tok = await tokenBasic(srv, c.daves, { scope: 'read', resource: API });
    assert.equal(tok.status, 200, tok.text);
    let intro = await postAs(srv, c.rs, '/introspect', { token: tok.json.access_token });
    assert.equal(intro.json.active, true, intro.text);
    const own = findingOf(srv, 'ownerless', c.daves.client_id);
    out = cliJson(srv, ['review', 'revoke', own.id, '--by', 'adam']);
    assert.equal(out.action, 'client suspended');
    assert.equal(cliJson(srv, ['client', 'show', c.daves.client_id]).status, 'suspended');
    intro = await postAs(srv, c.rs, '/introspect', { token: tok.json.access_token });
    assert.equal(intro.json.active, false, intro.text);

    // never_authenticated: suspended
    const never = findingOf(srv, 'never_authenticated', c.never.client_id);
    out = cliJson(srv, ['review', 'revoke', never.id]);
    assert.equal(cliJson(srv, ['client', 'show', c.never.client_id]).status, 'suspended');
    assert.equal(findingOf(srv, 'never_authenticated', c.never.client_id), undefined);

    const revoked = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'review.revoked');
    assert.deepEqual(revoked.map((e) => e.data.kind).sort(), ['expired_with_refresh_tokens', 'never_authenticated',
      'old_credential', 'ownerless', 'symmetric_on_high_tier', 'unused_entitlement']);
    assert.equal(revoked.find((e) => e.data.kind === 'old_credential').actor, 'bob');
    assert.equal(revoked.find((e) => e.data.kind === 'unused_entitlement').data.note, 'not needed');
    const types = new Set(auditEvents(srv).map(eventBody).map(eventType));
    for (const t of ['client.updated', 'client.credential_expired', 'client.suspended', 'client.refresh_tokens_revoked']) {
      assert.ok(types.has(t), `the remedy's own event ${t}`);
    }
  });

  test('an owner decides the findings of their own clients on /reviews, and no one else\'s', async () => {
    // fresh findings: two clients never used, one of alice's and one of bob's
    const mine = createClient(srv, agentMetadata({ client_name: "Alice's idle agent", owner: 'alice', scope: 'read' }));
    const bobs = createClient(srv, agentMetadata({ client_name: "Bob's idle agent", owner: 'bob', scope: 'read' }));
    age(mine.client_id, 10);
    age(bobs.client_id, 10);
    const fMine = findingOf(srv, 'never_authenticated', mine.client_id);
    const fBobs = findingOf(srv, 'never_authenticated', bobs.client_id);
    assert.ok(fMine && fBobs);

    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}/reviews`);
      assert.match(page.url(), /\/login\?return_to=%2Freviews$/);
      await submitLogin(page, 'alice', PASSWORD);
      await page.waitForURL(`${srv.url}/reviews`);
      const resp = await page.reload();
      assert.match(resp.headers()['content-security-policy'], /default-src 'none'/);
      const section = (id) => page.locator(`section.finding[id="${id}"]`);
      assert.equal(await section(fMine.id).count(), 1);
      assert.equal(await section(fBobs.id).count(), 0, "bob's client is not alice's to review");
      assert.equal(await page.locator('section.finding .finding-kind', { hasText: 'ownerless' }).count(), 0);
      await screenshot(page, 'reviews-owner');
      await section(fMine.id).getByLabel(/^Note/).fill('runs once a quarter');
      await section(fMine.id).getByLabel(/^Certified until/).fill('30d');
      await Promise.all([page.waitForNavigation(), section(fMine.id).getByRole('button', { name: 'Certify' }).click()]);
      assert.match(await page.locator('main').innerText(), /Certified until/);
      await screenshot(page, 'reviews-certified');
    } finally {
      await b.close();
    }
    assert.equal(findings(srv).find((x) => x.id === fMine.id), undefined, 'quiet now');
    const ev = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'review.certified' && e.data.id === fMine.id);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].actor, 'alice');

    // alice posts bob's finding id with her own valid form: refused, nothing changes
    const jar = await signedIn(srv, 'alice');
    const aliceMore = createClient(srv, agentMetadata({ client_name: 'Another of alice', owner: 'alice', scope: 'read' }));
    age(aliceMore.client_id, 10);
    const html = await (await jar.fetch(`${srv.url}/reviews`)).text();
    assert.ok(!html.includes(fBobs.id));
    const post = (fields) => jar.fetch(`${srv.url}/reviews`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    let r = await post({ csrf_token: csrfOf(html), finding: fBobs.id, decision: 'revoke' });
    assert.equal(r.status, 404, await r.text());
    assert.equal(cliJson(srv, ['client', 'show', bobs.client_id]).status, 'active');
    r = await post({ finding: fBobs.id, decision: 'revoke' });
    assert.equal(r.status, 403, 'no CSRF token');
    const fMore = findingOf(srv, 'never_authenticated', aliceMore.client_id);
    r = await post({ csrf_token: csrfOf(html), finding: fMore.id, decision: 'certify', until: '30d' });
    assert.equal(r.status, 400, 'a certification needs a note');
    r = await post({ csrf_token: csrfOf(html), finding: fMore.id, decision: 'certify', note: 'x', until: 'soon' });
    assert.equal(r.status, 400, 'a bad date');
    assert.ok(findingOf(srv, 'never_authenticated', aliceMore.client_id), 'nothing changed');
    r = await post({ csrf_token: csrfOf(html), finding: fMore.id, decision: 'revoke' });
    assert.equal(r.status, 200, await r.text());
    assert.equal(cliJson(srv, ['client', 'show', aliceMore.client_id]).status, 'suspended');
    const refused = auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'review.refused');
    assert.ok(refused.length >= 4, 'each refused post is audited');

    // an admin sees every finding, bob's too
    const adminHtml = await (await (await signedIn(srv, 'adam')).fetch(`${srv.url}/reviews`)).text();
    assert.ok(adminHtml.includes(fBobs.id));
  });
});

describe('access reviews of dynamic entitlements', { timeout: 120_000 }, () => {
  let srv;
  after(async () => { await srv?.stop(); });

  test('an approved access request left unused is found; revoke ends it and the scope is refused', async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createScope(srv, 'payments:write', { description: 'Make payments', sensitivity: 'approval' });
    createUsers(srv, ['alice']);
    const agent = createClient(srv, agentMetadata({ client_name: 'Payer', owner: 'alice', scope: 'read' }));
    const filed = await post(srv, '/access-requests',
      JSON.stringify({ scope: 'payments:write', justification: 'month-end run', duration: '30d' }),
      { contentType: 'application/json', headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assert.equal(filed.status, 201, filed.text);
    const approved = cliJson(srv, ['request', 'approve', filed.json.id, '--by', 'alice']);
    assert.equal(approved.status, 'approved');
    const ent = cliJson(srv, ['client', 'show', agent.client_id]).entitlements
      .find((e) => e.source === 'access_request');
    assert.ok(ent?.id?.startsWith('ent_'), JSON.stringify(ent));
    // granted more than [review] unused_after (90 days) ago, never used since
    dbQuery(srv, `UPDATE entitlements SET created_at = created_at - ${100 * DAY} WHERE id = '${ent.id}';
UPDATE clients SET created_at = created_at - ${100 * DAY} WHERE client_id = '${agent.client_id}';`);
    const unused = findings(srv).filter((f) => f.kind === 'unused_entitlement' && f.client_id === agent.client_id);
    assert.equal(unused.length, 2, JSON.stringify(unused)); // the static 'read' and the dynamic one
    const dyn = unused.find((f) => f.detail.includes('payments:write'));
    assert.ok(dyn, JSON.stringify(unused));
    assert.equal((await tokenBasic(srv, agent, { scope: 'payments:write' })).status, 200);

    const out = cliJson(srv, ['review', 'revoke', dyn.id, '--by', 'alice', '--note', 'run is over']);
    assert.equal(out.decided_by, 'alice');
    const r = await tokenBasic(srv, agent, { scope: 'payments:write' });
    assertOAuthError(r, 400, 'invalid_scope');
    assert.match(r.json.error_description, /\/access-requests/);
    assert.equal((await tokenBasic(srv, agent, { scope: 'read' })).status, 200, 'the static scope stays');
    assert.equal(cliJson(srv, ['client', 'show', agent.client_id]).entitlements
      .filter((e) => e.source === 'access_request').length, 0);
    reviewFails(srv, ['revoke', dyn.id], /conflict: .*no longer holds/);
    const types = auditEvents(srv).map(eventBody).map(eventType);
    assert.ok(types.includes('entitlement.revoked') && types.includes('review.revoked'), types.join(' '));
  });
});

describe('usage tracking', { timeout: 300_000 }, () => {
  let srv;
  after(async () => { await srv?.stop(); });

  test('written in batches: one row per (client, scope) and per day, however many tokens', async () => {
    srv = await startServer({ config: { usage: { flush_interval: '1s' } } });
    createFixtureScopes(srv);
    const app = createClient(srv, agentMetadata({ owner: 'ops', scope: 'read write' }));
    const id = app.client_id;
    const N = 2000;
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < N && Date.now() - started < 120_000) {
        const i = next++;
        const r = await tokenBasic(srv, app, { scope: i % 2 ? 'read write' : 'read' });
        assert.equal(r.status, 200, r.text);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    assert.equal(next, N, 'every request was made in time');
    const before = now();
    const days = await waitRows(srv, `SELECT day, tokens, last_used_at FROM usage_daily WHERE client_id = '${id}';`,
      (rows) => rows.reduce((s, r) => s + Number(r[1]), 0) === N, 'every token counted');
    assert.ok(days.length <= 2, 'one row per day (two only across midnight)');
    assert.ok(days.every((r) => Number(r[0]) >= Math.floor(started / 1000 / DAY)));
    const scopes = dbQuery(srv, `SELECT scope, last_used_at FROM usage_scopes WHERE client_id = '${id}' ORDER BY scope;`)
      .trim().split('\n').map((l) => l.split('|'));
    assert.deepEqual(scopes.map((r) => r[0]), ['read', 'write'], 'one row per scope');
    for (const [, last] of scopes) assert.ok(Number(last) >= Math.floor(started / 1000) - 1 && Number(last) <= before + 1);
    const count = dbQuery(srv, 'SELECT COUNT(*) FROM usage_scopes;').trim();
    assert.equal(count, '2');
  });

  test('the last batch is written at shutdown', async () => {
    const s = await startServer({ keepDir: true, config: { usage: { flush_interval: '1h' } } });
    try {
      createFixtureScopes(s);
      const app = createClient(s, agentMetadata({ owner: 'ops', scope: 'read' }));
      for (let i = 0; i < 3; i++) assert.equal((await tokenBasic(s, app, { scope: 'read' })).status, 200);
      await sleep(300);
      assert.equal(dbQuery(s, 'SELECT COUNT(*) FROM usage_daily;').trim(), '0', 'nothing written before the interval');
      await s.stop({ removeDir: false });
      assert.equal(dbQuery(s, `SELECT tokens FROM usage_daily WHERE client_id = '${app.client_id}';`).trim(), '3');
      assert.equal(dbQuery(s, `SELECT scope FROM usage_scopes WHERE client_id = '${app.client_id}';`).trim(), 'read');
    } finally {
      await s.stop({ check: false }).catch(() => {});
      await s.remove();
    }
  });
});
