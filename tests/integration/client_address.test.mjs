// The client address behind trusted proxies ([server] trusted_proxies): from
// a trusted peer, the rightmost X-Forwarded-For entry that is not itself a
// trusted proxy is the client, for login throttling, registration rate limits,
// the access log and audit records; from any other peer the header is ignored.
// On loopback, 127.0.0.1 plays the trusted proxy and 127.0.0.2 an untrusted
// host that connects directly.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createClient, startServer } from './lib/server.mjs';
import { agentMetadata, auditEvents, createFixtureScopes, eventBody, eventType, waitAudit } from './lib/oauth.mjs';

const PASSWORD = 'correct horse battery';
const PROXY = '127.0.0.1';
const DIRECT = '127.0.0.2';

/** One request with node:http (so that the source address can be chosen): {status, headers, text}. */
function request(srv, method, path, { headers = {}, body, from = PROXY } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: srv.port, method, path, localAddress: from, agent: false,
      headers: { ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
      timeout: 10_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** One login attempt: the form (for its CSRF cookie and token), then the POST. */
async function login(srv, username, password, opts = {}) {
  const form = await request(srv, 'GET', '/login', opts);
  assert.equal(form.status, 200, form.text);
  const token = /name="csrf_token" value="([^"]*)"/.exec(form.text)?.[1];
  const cookie = (form.headers['set-cookie'] || []).map((c) => c.split(';')[0]).join('; ');
  assert.ok(token && cookie, 'login form with a CSRF token and cookie');
  return request(srv, 'POST', '/login', {
    ...opts,
    headers: { ...(opts.headers || {}), cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password, csrf_token: token }).toString(),
  });
}

const xff = (v) => ({ headers: { 'x-forwarded-for': v } });
const events = (srv, type) => auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);

describe('client address behind a trusted proxy', { timeout: 90_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({
      config: {
        server: { trusted_proxies: `${PROXY}/32, 10.0.0.0/8` },
        users: { argon2_memory_kib: 8192, argon2_time_cost: 1 },
        web: { login_max_failures: 1000, login_max_failures_per_source: 3 },
        registration: { open: 'true', unverified_scopes: 'read', rate_per_source: 2 },
      },
    });
    for (const u of ['bob', 'carol', 'dave', 'erin']) {
      const r = srv.cli(['user', 'create', u, '--password-stdin'], { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    createFixtureScopes(srv);
  });
  after(() => srv?.stop());

  it('login throttling counts the client the proxy forwarded, not the proxy', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await login(srv, 'bob', `wrong ${i}`, xff('203.0.113.7'));
      assert.equal(r.status, 400, `attempt ${i + 1}: ${r.status}`);
    }
    const throttled = await login(srv, 'bob', 'wrong again', xff('203.0.113.7'));
    assert.equal(throttled.status, 429, 'the flooding client is throttled');
    // another person behind the same proxy signs in
    const ok = await login(srv, 'carol', PASSWORD, xff('203.0.113.8'));
    assert.equal(ok.status, 303, `another client behind the proxy is not throttled: ${ok.status}`);
    const failed = events(srv, 'user.login_failed').filter((e) => e.subject === 'bob');
    assert.equal(failed.length, 3);
    assert.ok(failed.every((e) => e.ip === '203.0.113.7'), JSON.stringify(failed));
    assert.ok(events(srv, 'user.login_throttled').some((e) => e.ip === '203.0.113.7'));
    assert.ok(events(srv, 'user.login').some((e) => e.subject === 'carol' && e.ip === '203.0.113.8'));
  });

  it('addresses a client writes to the left are ignored: it cannot escape the throttle by forging them', async () => {
    // the client sends "X-Forwarded-For: <forged>", the proxy appends the real address
    for (let i = 0; i < 3; i++) {
      const r = await login(srv, 'dave', `wrong ${i}`, xff(`198.51.100.${i + 1}, 203.0.113.20`));
      assert.equal(r.status, 400);
    }
    const r = await login(srv, 'dave', PASSWORD, xff('198.51.100.99, 203.0.113.20'));
    assert.equal(r.status, 429, 'still the same client');
    // a chain of trusted proxies (10.0.0.0/8) is skipped from the right
    const chained = await login(srv, 'dave', PASSWORD, xff('203.0.113.20, 10.1.2.3'));
    assert.equal(chained.status, 429, 'the client behind two trusted proxies');
    assert.ok(events(srv, 'user.login_failed').filter((e) => e.subject === 'dave').every((e) => e.ip === '203.0.113.20'));
  });

  it('an untrusted peer\'s X-Forwarded-For is ignored: it is the client', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await login(srv, 'erin', `wrong ${i}`, { from: DIRECT, ...xff(`198.51.100.${50 + i}`) });
      assert.equal(r.status, 400);
    }
    const r = await login(srv, 'erin', PASSWORD, { from: DIRECT, ...xff('198.51.100.77') });
    assert.equal(r.status, 429, 'a new forwarded address does not help a direct client');
    const failed = events(srv, 'user.login_failed').filter((e) => e.subject === 'erin');
    assert.ok(failed.length === 3 && failed.every((e) => e.ip === DIRECT), JSON.stringify(failed));
  });

  it('registration rate limits count the forwarded client', async () => {
    const body = (i) => JSON.stringify({ client_name: `agent ${i}`, redirect_uris: ['http://127.0.0.1:9/cb'], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none' });
    const json = { 'content-type': 'application/json' };
    const burst = [];
    for (let i = 0; i < 5; i++) {
      burst.push((await request(srv, 'POST', '/register', { headers: { ...json, 'x-forwarded-for': '203.0.113.30' }, body: body(i) })).status);
    }
    assert.ok(burst.includes(429), `the flooding client is limited: ${burst}`);
    const other = await request(srv, 'POST', '/register', { headers: { ...json, 'x-forwarded-for': '203.0.113.31' }, body: body('other') });
    assert.equal(other.status, 201, `another client behind the proxy registers: ${other.text}`);
  });

  it('audit records of token requests carry the forwarded client address', async () => {
    const c = createClient(srv, agentMetadata());
    const auth = `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: auth };
    const body = 'grant_type=client_credentials&scope=read';
    const via = await request(srv, 'POST', '/token', { headers: { ...form, 'x-forwarded-for': '6.6.6.6, 198.51.100.20' }, body });
    assert.equal(via.status, 200, via.text);
    const direct = await request(srv, 'POST', '/token', { from: DIRECT, headers: { ...form, 'x-forwarded-for': '198.51.100.21' }, body });
    assert.equal(direct.status, 200, direct.text);
    const evs = await waitAudit(srv, (all) => all.filter((e) => eventType(e) === 'token.issued').length >= 2);
    const ips = evs.map(eventBody).filter((e) => eventType(e) === 'token.issued').map((e) => e.ip);
    assert.deepEqual(ips.slice(-2), ['198.51.100.20', DIRECT]);
    // the access log names the client, and the proxy as the peer
    assert.match(srv.logs, /"ip":"198\.51\.100\.20","method":"POST","path":"\/token","status":200,[^\n]*"peer":"127\.0\.0\.1"/);
  });
});
