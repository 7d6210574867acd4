// The web pages for people (SPEC §2.6, §3.4): /login, /logout and their
// security properties, in a real browser (playwright-core + chromium) and
// with raw requests.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { CookieJar, csrfOf, launchBrowser, screenshot, submitLogin } from './lib/browser.mjs';
import { auditEvents, eventBody, eventType, waitAudit } from './lib/oauth.mjs';
import { freePort, startServer } from './lib/server.mjs';

const PASSWORD = 'correct horse battery';
const FAST_ARGON2 = { argon2_memory_kib: 8192, argon2_time_cost: 1 };
const XSS_NAME = '<script>alert("xss1")</script><img src=x onerror="alert(\'xss2\')">';

function createUser(srv, username, { name, password = PASSWORD } = {}) {
  const args = ['user', 'create', username, '--password-stdin'];
  if (name !== undefined) args.push('--name', name);
  const r = srv.cli(args, { input: `${password}\n` });
  assert.equal(r.code, 0, r.stderr);
}

/** GET /login with the jar: {resp, html, token}. */
async function loginForm(srv, jar) {
  const resp = await jar.fetch(`${srv.url}/login`);
  const html = await resp.text();
  return { resp, html, token: csrfOf(html) };
}

/** POST /login as a form with the jar. */
async function postLogin(srv, jar, fields, headers = {}) {
  return jar.fetch(`${srv.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
}

function sessionCookieSet(resp) {
  return resp.headers.getSetCookie().some((c) => /^mandate_session=[^;]+/.test(c) && !/Max-Age=0/i.test(c));
}

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

describe('login and logout', () => {
  let srv;

  before(async () => {
    srv = await startServer({
      config: { users: FAST_ARGON2, web: { login_max_failures: 100, login_max_failures_per_source: 1000 } },
    });
    createUser(srv, 'alice', { name: 'Alice Liddell' });
    createUser(srv, 'mallory', { name: XSS_NAME });
  });
  after(async () => { await srv?.stop(); });

  test('a person logs in with the browser: signed-in page, HttpOnly SameSite=Lax session cookie', async () => {
    const b = await launchBrowser();
    try {
      const { page, context } = b;
      const first = await page.goto(`${srv.url}/login`);
      assert.equal(first.status(), 200);
      await assert.doesNotReject(page.getByLabel('Username').waitFor());
      assert.equal(await page.getByLabel('Password').getAttribute('autocomplete'), 'current-password');
      // the stylesheet is served and applied (CSP allows 'self' styles)
      const css = await fetch(`${srv.url}/static/mandate.css`);
      assert.equal(css.status, 200);
      assert.match(css.headers.get('content-type'), /^text\/css/);
      assert.match(css.headers.get('cache-control'), /max-age=\d{5,}/);
      await screenshot(page, 'login-page');

      const resp = await submitLogin(page, 'alice', PASSWORD);
      assert.equal(resp.status(), 200);
      assert.equal(new URL(page.url()).pathname, '/login');
      await page.getByRole('heading', { name: 'Signed in' }).waitFor();
      assert.match(await page.locator('main').innerText(), /signed in as Alice Liddell \(alice\)/);
      const cookie = (await context.cookies(srv.url)).find((c) => c.name === 'mandate_session');
      assert.ok(cookie, 'session cookie set');
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      assert.equal(cookie.secure, false, 'loopback http issuer: no Secure');
      assert.equal(cookie.path, '/');
      assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/);
      await screenshot(page, 'signed-in-page');
      await waitAudit(srv, (evs) => evs.map(eventBody).some((e) => eventType(e) === 'user.login'
        && e.subject === 'alice' && e.decision === 'allow'), { what: 'user.login' });
    } finally {
      await b.close();
    }
  });

  test('a wrong password shows a clear error and creates no session; the audit names the reason, never the password', async () => {
    const b = await launchBrowser();
    try {
      const { page, context } = b;
      await page.goto(`${srv.url}/login`);
      const resp = await submitLogin(page, 'alice', 'not the password at all');
      assert.equal(resp.status(), 400);
      await page.getByRole('alert').waitFor();
      assert.equal(await page.getByRole('alert').innerText(), 'Wrong username or password.');
      assert.equal(await page.getByLabel('Username').inputValue(), 'alice');
      assert.equal((await context.cookies(srv.url)).some((c) => c.name === 'mandate_session'), false);
    } finally {
      await b.close();
    }
    const failed = events(srv, 'user.login_failed').filter((e) => e.subject === 'alice');
    assert.ok(failed.length >= 1);
    assert.match(failed.at(-1).reason, /password/i);
    assert.equal(JSON.stringify(auditEvents(srv)).includes('not the password at all'), false);
  });

  test('a POST without the right CSRF token is refused with 403 and creates no session', async () => {
    const jar = new CookieJar();
    const { token } = await loginForm(srv, jar);
    assert.ok(token && jar.cookies.has('mandate_csrf'));
    const creds = { username: 'alice', password: PASSWORD };

    const missing = await postLogin(srv, jar, creds);
    assert.equal(missing.status, 403);
    assert.equal(sessionCookieSet(missing), false);
    assert.match(await missing.text(), /expired or was not sent by this site/);

    const wrong = await postLogin(srv, jar, { ...creds, csrf_token: `${token.slice(0, -2)}AA` });
    assert.equal(wrong.status, 403);
    assert.equal(sessionCookieSet(wrong), false);

    // the token of another browser (bound to its own pre-session cookie)
    const other = new CookieJar();
    const { token: otherToken } = await loginForm(srv, other);
    const foreign = await postLogin(srv, jar, { ...creds, csrf_token: otherToken });
    assert.equal(foreign.status, 403);

    // the right token without its cookie
    const bare = new CookieJar();
    const noCookie = await postLogin(srv, bare, { ...creds, csrf_token: token });
    assert.equal(noCookie.status, 403);

    // the right token and cookie, posted from another origin
    const crossOrigin = await postLogin(srv, jar, { ...creds, csrf_token: token },
      { origin: 'http://evil.example' });
    assert.equal(crossOrigin.status, 403);
    assert.equal(sessionCookieSet(crossOrigin), false);

    // control: the same request with the right token logs in
    const ok = await postLogin(srv, jar, { ...creds, csrf_token: token });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/login');
    assert.ok(sessionCookieSet(ok));

    const reasons = events(srv, 'user.login_failed').map((e) => e.reason);
    for (const r of ['csrf: token missing', 'csrf: token wrong', 'csrf: mandate_csrf cookie missing', 'csrf: cross-origin post from http://evil.example']) {
      assert.ok(reasons.includes(r), `audit reason ${r} in ${JSON.stringify(reasons)}`);
    }
  });

  test('return_to: a same-origin path is followed after login, anything else is refused', async () => {
    for (const bad of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '/%2F%2Fevil.example', '/%5Cevil']) {
      const r = await fetch(`${srv.url}/login?return_to=${encodeURIComponent(bad)}`);
      assert.equal(r.status, 400, bad);
      assert.match(await r.text(), /must be a path on this server/);
      const jar = new CookieJar();
      const { token } = await loginForm(srv, jar);
      const p = await postLogin(srv, jar, { username: 'alice', password: PASSWORD, csrf_token: token, return_to: bad });
      assert.equal(p.status, 400, `POST ${bad}`);
      assert.equal(sessionCookieSet(p), false);
    }
    const jar = new CookieJar();
    const form = await jar.fetch(`${srv.url}/login?return_to=${encodeURIComponent('/somewhere?x=1&y="2"')}`);
    const html = await form.text();
    assert.match(html, /name="return_to" value="\/somewhere\?x=1&amp;y=&quot;2&quot;"/);
    const p = await postLogin(srv, jar, { username: 'alice', password: PASSWORD, csrf_token: csrfOf(html), return_to: '/somewhere?x=1&y="2"' });
    // a page that moves on by itself (a 303 would stay a form submission, which CSP
    // form-action stops at the first redirect to a client's origin)
    assert.equal(p.status, 200);
    assert.equal(sessionCookieSet(p), true);
    const body = await p.text();
    assert.match(body, /<meta http-equiv="refresh" content="0;url=\/somewhere\?x=1&amp;y=&quot;2&quot;">/);
    assert.match(body, /<a href="\/somewhere\?x=1&amp;y=&quot;2&quot;">Continue<\/a>/);
  });

  test('logout ends the session on the server: the old cookie no longer works', async () => {
    const b = await launchBrowser();
    try {
      const { page, context } = b;
      await page.goto(`${srv.url}/login`);
      await submitLogin(page, 'alice', PASSWORD);
      await page.getByRole('heading', { name: 'Signed in' }).waitFor();
      const old = (await context.cookies(srv.url)).find((c) => c.name === 'mandate_session').value;
      const replay = new CookieJar();
      replay.cookies.set('mandate_session', old);
      assert.match(await (await replay.fetch(`${srv.url}/login`)).text(), /Signed in/);

      // POST /logout without the token: refused, the session lives on
      const noCsrf = await replay.fetch(`${srv.url}/logout`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '',
      });
      assert.equal(noCsrf.status, 403);
      assert.match(await (await replay.fetch(`${srv.url}/login`)).text(), /Signed in/);

      await page.goto(`${srv.url}/logout`);
      await page.getByRole('heading', { name: 'Sign out' }).waitFor();
      const [resp] = await Promise.all([
        page.waitForNavigation(),
        page.getByRole('button', { name: 'Sign out' }).click(),
      ]);
      assert.equal(resp.status(), 200);
      assert.match(await page.locator('main').innerText(), /You are signed out/);
      assert.equal((await context.cookies(srv.url)).some((c) => c.name === 'mandate_session'), false);

      // the old cookie, replayed: not signed in any more
      const after1 = await (await replay.fetch(`${srv.url}/login`)).text();
      assert.doesNotMatch(after1, /Signed in/);
      assert.match(after1, /autocomplete="current-password"/);
      assert.match(await (await replay.fetch(`${srv.url}/logout`)).text(), /You are not signed in/);
    } finally {
      await b.close();
    }
    await waitAudit(srv, (evs) => evs.map(eventBody).some((e) => eventType(e) === 'user.logout' && e.subject === 'alice'),
      { what: 'user.logout' });
    assert.ok(events(srv, 'user.logout_refused').some((e) => e.reason === 'csrf: token missing'));
  });

  test('the login page refuses to be framed by another origin', async () => {
    const r = await fetch(`${srv.url}/login`);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /form-action 'self'/);
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('cache-control'), 'no-store');

    const port = await freePort();
    const evil = http.createServer((req, res) => {
      res.setHeader('content-type', 'text/html');
      if (req.url === '/plain') { res.end('<p id="plain">framed fine</p>'); return; }
      res.end(`<h1>evil</h1><iframe id="victim" src="${srv.url}/login"></iframe>`
        + '<iframe id="control" src="/plain"></iframe>');
    });
    await new Promise((resolve) => evil.listen(port, '127.0.0.1', resolve));
    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
      // control: an ordinary page does render inside a frame here
      const control = await page.locator('#control').elementHandle();
      assert.equal(await (await control.contentFrame()).locator('#plain').innerText(), 'framed fine');
      const victim = await (await page.locator('#victim').elementHandle()).contentFrame();
      let fields = 0;
      try {
        fields = await victim.locator('input[autocomplete="current-password"]').count();
      } catch { fields = 0; }
      assert.equal(fields, 0, 'the login form must not render in a cross-origin frame');
      assert.doesNotMatch(victim.url(), /\/login$/, `frame url ${victim.url()}`);
    } finally {
      await b.close();
      await new Promise((resolve) => evil.close(resolve));
    }
  });

  test('a display name holding markup is shown escaped, and no script runs', async () => {
    const b = await launchBrowser();
    const dialogs = [];
    try {
      const { page } = b;
      page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
      await page.goto(`${srv.url}/login`);
      await submitLogin(page, 'mallory', PASSWORD);
      await page.getByRole('heading', { name: 'Signed in' }).waitFor();
      assert.equal(await page.locator('strong.who').innerText(), XSS_NAME);
      assert.equal(await page.locator('main script').count(), 0);
      assert.equal(await page.locator('main img').count(), 0);
      const html = await page.content();
      assert.ok(html.includes('&lt;script&gt;alert("xss1")&lt;/script&gt;'), 'escaped in the markup');
      await page.waitForTimeout(300);
      assert.deepEqual(dialogs, []);
    } finally {
      await b.close();
    }
  });
});

describe('login throttling', () => {
  let srv;

  before(async () => {
    srv = await startServer({
      config: { users: FAST_ARGON2, web: { login_max_failures: 3, login_max_failures_per_source: 5 } },
    });
    createUser(srv, 'bob');
    createUser(srv, 'carol');
  });
  after(async () => { await srv?.stop(); });

  test('after N wrong passwords a user is throttled (429, clear message), even with the right password', async () => {
    const b = await launchBrowser();
    try {
      const { page } = b;
      await page.goto(`${srv.url}/login`);
      for (let i = 0; i < 3; i++) {
        const r = await submitLogin(page, 'bob', `wrong password ${i}`);
        assert.equal(r.status(), 400, `attempt ${i + 1}`);
      }
      const r = await submitLogin(page, 'bob', 'wrong password 4');
      assert.equal(r.status(), 429);
      assert.match(await page.getByRole('alert').innerText(), /^Too many attempts; try again in \d+ minutes?\.$/);
      await screenshot(page, 'login-throttled');
    } finally {
      await b.close();
    }
    // raw: the right password is refused too while throttled (another case of the name)
    const jar = new CookieJar();
    const { token } = await loginForm(srv, jar);
    const raw = await postLogin(srv, jar, { username: 'BOB', password: PASSWORD, csrf_token: token });
    assert.equal(raw.status, 429);
    assert.match(raw.headers.get('retry-after'), /^\d+$/);
    assert.ok(Number(raw.headers.get('retry-after')) > 0);
    assert.equal(sessionCookieSet(raw), false);
    assert.match(await raw.text(), /Too many attempts; try again in \d+ minutes?/);
    const throttled = events(srv, 'user.login_throttled');
    assert.ok(throttled.some((e) => e.subject === 'bob' && e.decision === 'deny'));

    // another user from the same address: allowed until the per-source limit (5) is reached
    const ok = await postLogin(srv, jar, { username: 'carol', password: PASSWORD, csrf_token: token });
    assert.equal(ok.status, 303);
    const w1 = await postLogin(srv, jar, { username: 'carol', password: 'wrong password', csrf_token: token });
    assert.equal(w1.status, 400);
    const w2 = await postLogin(srv, jar, { username: 'carol', password: 'wrong password', csrf_token: token });
    assert.equal(w2.status, 400);
    const bySource = await postLogin(srv, jar, { username: 'carol', password: PASSWORD, csrf_token: token });
    assert.equal(bySource.status, 429, 'the source address made 5 failures');
  });
});
