// Login throttling counts before it checks (SPEC §3.4 brute-force
// throttling): an attempt takes a slot of its username's and its source's
// counters in one atomic step before the password is checked, so that
// concurrent wrong passwords cannot all pass a check made before any of
// them was counted; a successful login gives its slot back. "Evaluated" is
// observed without timing: every attempt whose password was checked is
// answered 400 (and audited user.login_failed), every other one 429.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createUsers, FAST_ARGON2, PASSWORD } from './lib/authz.mjs';
import { CookieJar, csrfOf } from './lib/browser.mjs';
import { auditEvents, eventBody, eventType } from './lib/oauth.mjs';
import { startServer } from './lib/server.mjs';

const ROUNDS = 8;        // the race, run again with a fresh username each time
const CONCURRENT = 40;   // attempts sent at once per round
const LIMIT = 5;

/** A jar holding the login form's pre-session cookie, and the form's CSRF token. */
async function loginForm(srv) {
  const jar = new CookieJar();
  const html = await (await jar.fetch(`${srv.url}/login`)).text();
  return { jar, token: csrfOf(html) };
}

async function attempt(srv, form, username, password) {
  const r = await form.jar.fetch(`${srv.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf_token: form.token, username, password }).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  await r.arrayBuffer();
  return r.status;
}

function count(statuses, s) {
  return statuses.filter((x) => x === s).length;
}

function failedLogins(srv, username) {
  return auditEvents(srv).map(eventBody)
    .filter((e) => eventType(e) === 'user.login_failed' && e.subject === username).length;
}

describe('login throttling under concurrent attempts', { timeout: 180_000 }, () => {
  let srv;
  const names = Array.from({ length: ROUNDS }, (_, i) => `victim${i}`);

  before(async () => {
    srv = await startServer({
      config: {
        server: { threads: 16 },
        users: FAST_ARGON2,
        web: { login_max_failures: LIMIT, login_max_failures_per_source: 100000 },
      },
    });
    createUsers(srv, [...names, 'walter']);
  });
  after(async () => { await srv?.stop(); });

  test(`${CONCURRENT} concurrent wrong passwords against a limit of ${LIMIT}: at most ${LIMIT} evaluated, ${ROUNDS} rounds`, async () => {
    for (const name of names) {
      const form = await loginForm(srv);
      const statuses = await Promise.all(Array.from({ length: CONCURRENT },
        (_, i) => attempt(srv, form, name, `wrong password ${i}`)));
      const evaluated = count(statuses, 400);
      assert.equal(evaluated + count(statuses, 429), CONCURRENT, `only 400 and 429: ${statuses}`);
      assert.ok(evaluated <= LIMIT, `${name}: ${evaluated} passwords checked (limit ${LIMIT}): ${statuses}`);
      assert.ok(evaluated >= 1, `${name}: the first attempts are checked: ${statuses}`);
      // the right password is refused too now, and nothing was checked for it
      assert.equal(await attempt(srv, form, name, PASSWORD), 429);
    }
    for (const name of names) assert.ok(failedLogins(srv, name) <= LIMIT, `${name}: audited failures`);
  });

  test('a successful login gives its slot back: good logins never lock anyone out', async () => {
    const form = await loginForm(srv);
    for (let i = 0; i < LIMIT - 1; i++) assert.equal(await attempt(srv, form, 'walter', `wrong ${i}`), 400);
    for (let i = 0; i < 3 * LIMIT; i++) {
      assert.equal(await attempt(srv, form, 'walter', PASSWORD), 303, `good login ${i + 1}`);
    }
    assert.equal(await attempt(srv, form, 'walter', 'wrong again'), 400, `failure ${LIMIT} is still checked`);
    assert.equal(await attempt(srv, form, 'walter', PASSWORD), 429, 'then the limit holds');
  });
});

describe('per-source throttling under concurrent attempts', { timeout: 120_000 }, () => {
  let srv;
  const names = Array.from({ length: CONCURRENT }, (_, i) => `user${i}`);

  before(async () => {
    srv = await startServer({
      config: {
        server: { threads: 16 },
        users: FAST_ARGON2,
        web: { login_max_failures: 100000, login_max_failures_per_source: LIMIT },
      },
    });
    createUsers(srv, names);
  });
  after(async () => { await srv?.stop(); });

  test(`${CONCURRENT} concurrent wrong passwords for as many usernames from one address: at most ${LIMIT} evaluated`, async () => {
    const form = await loginForm(srv);
    const statuses = await Promise.all(names.map((n) => attempt(srv, form, n, 'wrong password')));
    const evaluated = count(statuses, 400);
    assert.equal(evaluated + count(statuses, 429), CONCURRENT, `only 400 and 429: ${statuses}`);
    assert.ok(evaluated <= LIMIT && evaluated >= 1, `${evaluated} passwords checked: ${statuses}`);
  });
});
