// A server fault is visible: a real store failure (another process holds the
// database's write lock) answers 503 without its detail, is logged once at
// level error with its detail and the request id that X-Request-Id shows, is
// named in the access log line's "fault" field, and a token request refused
// by it is audited (reason: the public message) once the store is back. The
// server recovers by itself when the lock is released.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, startServer } from './lib/server.mjs';
import {
  agentMetadata, assertOAuthError, auditEvents, createFixtureScopes, eventBody, eventType, post, show,
  tokenBasic,
} from './lib/oauth.mjs';
import {
  authorizeUrl, createUsers, FAST_ARGON2, PASSWORD, pkce, signedIn,
} from './lib/authz.mjs';
import { CookieJar, csrfOf } from './lib/browser.mjs';
import { CLIENT_ASSERTION_TYPE, clientClaims, keyPair, sign } from './lib/assertions.mjs';
import { onlySqlite } from './lib/pg.mjs';

/** The JSON lines of the server's stderr. */
function logLines(srv) {
  return srv.logs.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try { return JSON.parse(l); } catch { return {}; }
  });
}

/** Polls (bounded) until pred(lines) returns a value; returns it. */
async function waitLog(srv, pred, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = pred(logLines(srv));
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`${what} not logged within ${timeoutMs} ms:\n${srv.logs.slice(-4000)}`);
    await sleep(20);
  }
}

/** Another process holding BEGIN EXCLUSIVE on the database: the sqlite3 shell. */
async function lockDatabase(file) {
  const proc = spawn('sqlite3', [file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let errText = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  proc.stderr.setEncoding('utf8').on('data', (d) => { errText += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  proc.stdin.write('.timeout 5000\nBEGIN EXCLUSIVE;\nSELECT \'locked\';\n');
  const deadline = Date.now() + 10_000;
  while (!out.includes('locked')) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      assert.fail(`sqlite3 could not lock the database: ${errText}`);
    }
    await sleep(20);
  }
  let released = null;
  return {
    release() {
      released ??= (async () => {
        proc.stdin.end('COMMIT;\n.quit\n');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      })();
      return released;
    },
  };
}

/** The first error line after the first `before` ones that reports a store fault. */
function storeFault(srv, before) {
  return waitLog(srv, (lines) => lines.filter((l) => l.level === 'error')
    .slice(before).find((l) => typeof l.msg === 'string' && l.msg.startsWith('unavailable: ')),
  'the store fault');
}

describe('server faults', { timeout: 90_000, skip: onlySqlite('holds SQLite\'s write lock with the sqlite3 shell; PostgreSQL faults: pg_outage.test.mjs') }, () => {
  let srv;
  let client;
  let pkj;
  let key;
  let lock;
  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    createUsers(srv, ['alice']);
    // opaque access tokens are written to the store with their audit event
    client = createClient(srv, agentMetadata({ client_name: 'Opaque', access_token_format: 'opaque' }));
    // a client assertion's jti is written to the store while the client authenticates
    key = await keyPair('ES256');
    pkj = createClient(srv, agentMetadata({
      client_name: 'Signed', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] },
    }));
  });

  /** client_credentials authenticated with a fresh private_key_jwt assertion. */
  async function tokenSigned() {
    return post(srv, '/token', {
      grant_type: 'client_credentials',
      client_id: pkj.client_id,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await sign(key, clientClaims(srv, pkj.client_id)),
    });
  }
  after(async () => {
    await lock?.release();
    await srv?.stop();
  });

  it('a store failure at /token: 503, logged once with the request id, access log fault, no token, then recovery', async () => {
    // a first token: the credential's use is recorded now, not during the fault
    const ok = await tokenBasic(srv, client);
    assert.equal(ok.status, 200, show(ok));

    lock = await lockDatabase(path.join(srv.dir, 'mandate.db'));
    const pending = tokenBasic(srv, client, {}).catch((e) => e);
    // the token's write fails after the store's busy wait: the fault is logged
    const errorLine = await waitLog(srv, (lines) => lines.find((l) => l.level === 'error'
      && typeof l.msg === 'string' && l.msg.startsWith('unavailable: ')), 'the store fault');
    // the store is back before the refusal's audit event gives up waiting
    assert.equal(await lock.release(), 0, 'sqlite3 released the lock');
    const r = await pending;
    assert.ok(!(r instanceof Error), `request failed: ${r}`);
    assertOAuthError(r, 503, 'temporarily_unavailable');
    assert.equal(r.json.error_description, 'the service is temporarily unavailable', show(r));
    assert.ok(!/locked|busy|token_insert/i.test(r.text), `no private detail in the answer: ${show(r)}`);
    assert.equal(r.headers.get('retry-after'), '1', show(r));

    const rid = r.headers.get('x-request-id');
    assert.ok(rid, show(r));
    assert.equal(errorLine.request_id, rid, `the error line carries the request id: ${JSON.stringify(errorLine)}`);
    assert.match(errorLine.msg, /token_insert|locked|busy|not durable/i, 'the error line carries the private detail');
    const access = await waitLog(srv, (lines) => lines.find((l) => l.type === 'access' && l.request_id === rid),
      'the access log line');
    assert.equal(access.status, 503);
    assert.equal(access.fault, errorLine.msg, `the access log names the fault: ${JSON.stringify(access)}`);
    const errors = logLines(srv).filter((l) => l.level === 'error' && l.request_id === rid);
    assert.equal(errors.length, 1, `logged once: ${JSON.stringify(errors)}`);

    // the opaque token's row is written with its token.issued event, in the
    // audit commit the store refused: neither is stored, and the token never
    // left (a refusal made by the client's own request is audited: below)
    const events = auditEvents(srv).map(eventBody).filter((e) => e.request_id === rid);
    assert.deepEqual(events.map(eventType), [], 'nothing recorded as issued');
    assert.ok(!/mdt_at_/.test(r.text), 'no token in the answer');

    // recovery by itself
    const again = await tokenBasic(srv, client);
    assert.equal(again.status, 200, show(again));
    assert.ok(again.json.access_token);
    const accessOk = await waitLog(srv, (lines) => lines.find((l) => l.type === 'access'
      && l.request_id === again.headers.get('x-request-id')), 'the access log line');
    assert.equal(accessOk.fault, undefined, 'no fault on a good answer');
  });

  it('a store failure while the client authenticates: 503, logged with the request id, audited', async () => {
    // At /introspect the assertion's jti is recorded while the client authenticates (at /token it
    // is recorded with the token's event: the case above).
    const ok = await tokenSigned();
    assert.equal(ok.status, 200, show(ok));
    const introspectSigned = async () => post(srv, '/introspect', {
      token: ok.json.access_token,
      client_id: pkj.client_id,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await sign(key, clientClaims(srv, pkj.client_id)),
    });
    assert.equal((await introspectSigned()).json.active, true);
    const faultsBefore = logLines(srv).filter((l) => l.level === 'error').length;

    lock = await lockDatabase(path.join(srv.dir, 'mandate.db'));
    const pending = introspectSigned().catch((e) => e);
    const errorLine = await storeFault(srv, faultsBefore);
    assert.equal(await lock.release(), 0, 'sqlite3 released the lock');
    const r = await pending;
    assert.ok(!(r instanceof Error), `request failed: ${r}`);
    assertOAuthError(r, 503, 'temporarily_unavailable');
    const rid = r.headers.get('x-request-id');
    assert.equal(errorLine.request_id, rid, JSON.stringify(errorLine));
    const access = await waitLog(srv, (lines) => lines.find((l) => l.type === 'access' && l.request_id === rid),
      'the access log line');
    assert.equal(access.status, 503);
    assert.equal(access.fault, errorLine.msg, JSON.stringify(access));

    // before, a fault during client authentication left no audit event
    const events = auditEvents(srv).map(eventBody).filter((e) => e.request_id === rid);
    assert.equal(events.length, 1, `the refusal is audited once: ${JSON.stringify(events)}`);
    assert.equal(events[0].client_id, pkj.client_id);
    assert.equal(events[0].decision, 'deny');
    assert.equal(events[0].reason, 'temporarily_unavailable: the service is temporarily unavailable');
    assert.ok(!/locked|busy|jti/i.test(JSON.stringify(events[0])), 'no private detail in the audit log');

    const again = await introspectSigned();
    assert.equal(again.status, 200, show(again));
    assert.equal(again.json.active, true);
  });

  it('a store failure when a private_key_jwt token commits: 503, nothing recorded, the assertion not spent', async () => {
    const assertion = await sign(key, clientClaims(srv, pkj.client_id));
    const send = () => post(srv, '/token', { grant_type: 'client_credentials', client_id: pkj.client_id,
      client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion });
    const faultsBefore = logLines(srv).filter((l) => l.level === 'error').length;
    lock = await lockDatabase(path.join(srv.dir, 'mandate.db'));
    const pending = send().catch((e) => e);
    await storeFault(srv, faultsBefore);
    assert.equal(await lock.release(), 0, 'sqlite3 released the lock');
    const r = await pending;
    assert.ok(!(r instanceof Error), `request failed: ${r}`);
    assertOAuthError(r, 503, 'temporarily_unavailable');
    const rid = r.headers.get('x-request-id');
    assert.deepEqual(auditEvents(srv).map(eventBody).filter((e) => e.request_id === rid), [],
      'nothing recorded: the jti and the token event commit together or not at all');
    const again = await send(); // no token was issued under it: the assertion still works once
    assert.equal(again.status, 200, show(again));
    const replay = await send();
    assertOAuthError(replay, 401, 'invalid_client');
  });

  it('a store failure at sign-in: the fault page, logged with the request id, access log fault', async () => {
    const jar = new CookieJar();
    const html = await (await jar.fetch(`${srv.url}/login`, { signal: AbortSignal.timeout(10_000) })).text();
    const token = csrfOf(html);
    const faultsBefore = logLines(srv).filter((l) => l.level === 'error').length;

    lock = await lockDatabase(path.join(srv.dir, 'mandate.db'));
    const pending = jar.fetch(`${srv.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: token, username: 'alice', password: PASSWORD }).toString(),
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    }).catch((e) => e);
    const errorLine = await storeFault(srv, faultsBefore);
    assert.equal(await lock.release(), 0, 'sqlite3 released the lock');
    const r = await pending;
    assert.ok(!(r instanceof Error), `request failed: ${r}`);
    const page = await r.text();
    assert.equal(r.status, 503, page.slice(0, 300));
    assert.match(page, /could not complete this request/);
    assert.ok(!/locked|busy/i.test(page), 'no private detail on the page');
    const rid = r.headers.get('x-request-id');
    assert.equal(errorLine.request_id, rid, JSON.stringify(errorLine));
    const access = await waitLog(srv, (lines) => lines.find((l) => l.type === 'access' && l.request_id === rid),
      'the access log line');
    assert.equal(access.status, 503);
    assert.equal(access.fault, errorLine.msg, JSON.stringify(access));
  });

  it('a store failure at /authorize: a fault page, never a redirect, logged with the request id', async () => {
    const jar = await signedIn(srv, 'alice');
    const web = createClient(srv, {
      client_name: 'Calendar', kind: 'web', owner: 'alice', grant_types: ['authorization_code'],
      redirect_uris: ['https://calendar.example/cb'], scope: 'read', token_endpoint_auth_method: 'client_secret_basic',
    });
    const p = await pkce();
    const pages = [
      [authorizeUrl(srv, {
        response_type: 'code', client_id: web.client_id, redirect_uri: 'https://calendar.example/cb', scope: 'read',
        code_challenge: p.challenge, code_challenge_method: 'S256', state: 'st',
      }), /The service could not/],
    ];
    for (const [url, text] of pages) {
      const faultsBefore = logLines(srv).filter((l) => l.level === 'error').length;
      lock = await lockDatabase(path.join(srv.dir, 'mandate.db'));
      const pending = jar.fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(30_000) }).catch((e) => e);
      const errorLine = await storeFault(srv, faultsBefore);
      assert.equal(await lock.release(), 0, 'sqlite3 released the lock');
      const r = await pending;
      assert.ok(!(r instanceof Error), `request failed: ${r}`);
      const page = await r.text();
      assert.equal(r.status, 503, `${url}: ${page.slice(0, 300)}`);
      assert.match(page, text);
      assert.ok(!r.headers.get('location'), 'never a redirect');
      assert.ok(!/locked|busy/i.test(page), 'no private detail on the page');
      const rid = r.headers.get('x-request-id');
      assert.equal(errorLine.request_id, rid, JSON.stringify(errorLine));
      const access = await waitLog(srv, (lines) => lines.find((l) => l.type === 'access' && l.request_id === rid),
        'the access log line');
      assert.equal(access.status, 503);
      assert.equal(access.fault, errorLine.msg, JSON.stringify(access));
    }
  });
});
