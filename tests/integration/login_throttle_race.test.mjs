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
const SPARE = 3;         // extra rounds for the ones that straddle a window's end
const WINDOW_S = 900;    // the server's fixed 15-minute counting windows (same clock)

/** The counting window of now: a round that starts in one and ends in the next proves nothing. */
const windowNow = () => Math.floor(Date.now() / 1000 / WINDOW_S);

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
  const names = Array.from({ length: ROUNDS + SPARE }, (_, i) => `victim${i}`);

  before(async () => {
    srv = await startServer({
      config: {
        server: { threads: 16 },
        users: FAST_ARGON2,
        web: { login_max_failures: LIMIT, login_max_failures_per_source: 100000 },
      },
    });
    createUsers(srv, [...names, 'walter', 'wanda']);
  });
  after(async () => { await srv?.stop(); });

  test(`${CONCURRENT} concurrent wrong passwords against a limit of ${LIMIT}: at most ${LIMIT} evaluated, ${ROUNDS} rounds`, async () => {
    const counted = [];
    for (const name of names) {
      if (counted.length === ROUNDS) break;
      const form = await loginForm(srv);
      const w = windowNow();
      const statuses = await Promise.all(Array.from({ length: CONCURRENT },
        (_, i) => attempt(srv, form, name, `wrong password ${i}`)));
      const refusedAfter = await attempt(srv, form, name, PASSWORD);
      if (windowNow() !== w) continue; // the counters started again meanwhile
      counted.push(name);
      const evaluated = count(statuses, 400);
      assert.equal(evaluated + count(statuses, 429), CONCURRENT, `only 400 and 429: ${statuses}`);
      assert.ok(evaluated <= LIMIT, `${name}: ${evaluated} passwords checked (limit ${LIMIT}): ${statuses}`);
      assert.ok(evaluated >= 1, `${name}: the first attempts are checked: ${statuses}`);
      // the right password is refused too now, and nothing was checked for it
      assert.equal(refusedAfter, 429);
    }
    assert.equal(counted.length, ROUNDS, 'enough rounds within one window each');
    for (const name of counted) assert.ok(failedLogins(srv, name) <= LIMIT, `${name}: audited failures`);
  });

  test('a successful login gives its slot back: good logins never lock anyone out', async () => {
    for (const name of ['walter', 'wanda']) { // the second only if the first straddled a window's end
      const form = await loginForm(srv);
      const w = windowNow();
      const got = [];
      for (let i = 0; i < LIMIT - 1; i++) got.push(await attempt(srv, form, name, `wrong ${i}`));
      for (let i = 0; i < 3 * LIMIT; i++) got.push(await attempt(srv, form, name, PASSWORD));
      got.push(await attempt(srv, form, name, 'wrong again'));
      got.push(await attempt(srv, form, name, PASSWORD));
      if (windowNow() !== w) continue;
      const want = [...Array(LIMIT - 1).fill(400), ...Array(3 * LIMIT).fill(303), 400, 429];
      assert.deepEqual(got, want, `${LIMIT - 1} failures, good logins, failure ${LIMIT} still checked, then the limit holds`);
      return;
    }
    assert.fail('no attempt within one counting window');
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
    let statuses;
    let tries = 0;
    for (; tries < 2; tries++) { // again if the window ended meanwhile
      const w = windowNow();
      statuses = await Promise.all(names.map((n) => attempt(srv, form, n, `wrong password ${tries}`)));
      if (windowNow() === w) break;
    }
    const evaluated = count(statuses, 400);
    assert.equal(evaluated + count(statuses, 429), CONCURRENT, `only 400 and 429: ${statuses}`);
    assert.ok(evaluated <= LIMIT, `${evaluated} passwords checked: ${statuses}`);
    if (tries === 0) assert.ok(evaluated >= 1, `the first attempts are checked: ${statuses}`);
  });
});
