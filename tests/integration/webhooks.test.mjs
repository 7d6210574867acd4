// Webhook notifications (SPEC §3.5): each new pending approval request is
// POSTed to the configured webhooks, signed with HMAC-SHA256
// (Mandate-Signature: t=<unix time>,v1=<hex> over `t.body`), with an event
// id that receivers deduplicate by; delivered at least once from a
// persisted outbox (a receiver that is down gets it later, also across a
// restart of Mandate), retried with backoff, then dropped and audited;
// never on the thread of the request that created it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliJson, createScope, freePort, sleep, startServer } from './lib/server.mjs';
import { eventType, waitAudit } from './lib/oauth.mjs';
import { assertRegistered, register } from './lib/register.mjs';

const SECRET = 'webhook-secret-of-the-tests-0123456789';
const machine = (over = {}) => ({ grant_types: ['client_credentials'], ...over });

/** Verifies a notification as a receiver must; returns the parsed body. */
function verify(headers, body) {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(headers['mandate-signature'] ?? '');
  assert.ok(m, `Mandate-Signature: ${headers['mandate-signature']}`);
  const want = crypto.createHmac('sha256', SECRET).update(`${m[1]}.${body}`).digest('hex');
  assert.ok(crypto.timingSafeEqual(Buffer.from(want), Buffer.from(m[2])), 'the signature verifies');
  assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 300, 'the signed time is now');
  const doc = JSON.parse(body);
  assert.equal(headers['mandate-event-id'], doc.id);
  assert.equal(headers['content-type'], 'application/json');
  return doc;
}

/** A receiver on port: mode 'ok' answers 200, 'fail' 500, 'hang' never answers, a URL redirects there. */
async function receiver(port, mode = 'ok') {
  const got = [];
  const hung = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (mode === 'hang') { hung.push(res); return; }
      got.push({ headers: req.headers, body, doc: verify(req.headers, body) });
      if (mode.startsWith('http')) res.writeHead(307, { location: mode }).end();
      else res.writeHead(mode === 'ok' ? 200 : 500).end();
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    got,
    async close() {
      for (const r of hung) r.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function until(pred, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function setup(port, webhooks = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-hooks-'));
  await writeFile(path.join(dir, 'hook.secret'), `${SECRET}\n`);
  await writeFile(path.join(dir, 'hooks.json'),
    JSON.stringify([{ url: `http://127.0.0.1:${port}/hooks/mandate`, secret_file: 'hook.secret' }]));
  const srv = await startServer({ config: {
    registration: { open: 'true', unverified_scopes: 'read', unverified_grant_types: 'client_credentials',
      rate_per_source: 1000 },
    webhooks: { endpoints: path.join(dir, 'hooks.json'), retry_initial: '1s', ...webhooks } } });
  createScope(srv, 'read');
  createScope(srv, 'write');
  return { srv, dir };
}

const pending = async (srv, name) => {
  const b = assertRegistered(await register(srv, machine({ client_name: name, scope: 'read write' })), 'pending');
  const req = cliJson(srv, ['request', 'list']).find((r) => r.client_id === b.client_id);
  return { b, req };
};

describe('webhook notifications', { timeout: 120_000 }, () => {
  let srv, dir, hook;
  before(async () => {
    const port = await freePort();
    hook = await receiver(port);
    ({ srv, dir } = await setup(port));
  });
  after(async () => {
    await srv?.stop();
    await hook?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a new pending request is posted, signed, with the request as `request list --json` shows it', async () => {
    const { b, req } = await pending(srv, 'notified');
    await until(() => hook.got.some((g) => g.doc.item.id === req.id), 'the notification');
    const [n] = hook.got.filter((g) => g.doc.item.id === req.id);
    assert.match(n.doc.id, /^evt_/);
    assert.equal(n.doc.type, 'request.pending');
    assert.match(n.doc.time, /^\d{4}-\d\d-\d\dT/);
    for (const k of ['id', 'type', 'status', 'client_id', 'scope', 'created_at', 'expires_at']) {
      assert.deepEqual(n.doc.item[k], req[k], k);
    }
    assert.equal(n.doc.item.client_id, b.client_id);
    assert.equal(n.doc.item.status, 'pending');
    assert.deepEqual(n.doc.item.votes, []);
    assert.equal(n.doc.item.approve, req.approve);
    assert.equal(n.doc.item.metadata.client_name, 'notified', 'what approvers are shown');
    assert.ok(!n.body.includes(SECRET), 'the secret is not in the body');
    assert.ok(!srv.logs.includes(SECRET), 'nor in the log');
    // delivered: the outbox is empty again
    await sleep(300);
    assert.equal(hook.got.filter((g) => g.doc.item.id === req.id).length, 1);
  });

  it('an access request is notified with its justification and duration', async () => {
    createScope(srv, 'payments:write', { sensitivity: 'approval' });
    cliJson(srv, ['user', 'create', 'olivia', '--password-stdin'], { input: 'a long enough password\n' });
    const agent = cliJson(srv, ['client', 'create'], { input: JSON.stringify({
      client_name: 'Payer', kind: 'agent', owner: 'olivia', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'read' }) });
    const r = await fetch(`${srv.url}/access-requests`, {
      method: 'POST',
      headers: { 'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${agent.client_id}:${agent.client_secret}`).toString('base64')}` },
      body: JSON.stringify({ scope: 'payments:write', justification: 'month-end run', duration: '2h' }),
    });
    assert.equal(r.status, 201, await r.clone().text());
    const { id } = await r.json();
    await until(() => hook.got.some((g) => g.doc.item.id === id), 'the notification');
    const [n] = hook.got.filter((g) => g.doc.item.id === id);
    assert.equal(n.doc.type, 'request.pending');
    assert.equal(n.doc.item.type, 'access_request');
    assert.equal(n.doc.item.client_id, agent.client_id);
    assert.equal(n.doc.item.scope, 'payments:write');
    assert.equal(n.doc.item.justification, 'month-end run');
    assert.equal(n.doc.item.duration, 7200);
  });

  it('a forged or altered notification does not verify', () => {
    const [n] = hook.got;
    assert.throws(() => verify(n.headers, n.body.replace('pending', 'approved')), /signature verifies/);
  });
});

describe('a receiver that is down gets the notification later, also across a restart', { timeout: 120_000 }, () => {
  let srv, dir, hook;
  after(async () => {
    await srv?.stop();
    await hook?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('retries until the receiver is up, with the same event id', async () => {
    const port = await freePort();
    ({ srv, dir } = await setup(port));
    const { req } = await pending(srv, 'later');
    // the first attempts fail (nothing listens); the log says so
    await until(() => /webhook notification evt_\S+ to \S+ failed/.test(srv.logs), 'a failed attempt', 15_000);
    await srv.restart();
    hook = await receiver(port);
    await until(() => hook.got.some((g) => g.doc.item.id === req.id), 'the notification after the restart', 30_000);
    const ids = new Set(hook.got.filter((g) => g.doc.item.id === req.id).map((g) => g.doc.id));
    assert.equal(ids.size, 1, 'one event, whatever the attempts');
  });
});

describe('a receiver that keeps failing: dropped after retry_for, and audited', { timeout: 120_000 }, () => {
  let srv, dir, hook;
  after(async () => {
    await srv?.stop();
    await hook?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('dropped', async () => {
    const port = await freePort();
    hook = await receiver(port, 'fail');
    ({ srv, dir } = await setup(port, { retry_for: '3s' }));
    await pending(srv, 'refused');
    const evs = await waitAudit(srv, (e) => e.some((x) => eventType(x) === 'webhook.dropped'),
      { timeoutMs: 30_000, what: 'webhook.dropped' });
    const dropped = evs.filter((x) => eventType(x) === 'webhook.dropped');
    assert.equal(dropped.length, 1);
    assert.ok(hook.got.length >= 2, 'retried before giving up');
    assert.ok(!JSON.stringify(dropped).includes(SECRET));
  });
});

describe('a receiver that never answers does not hold up the request that created the item', { timeout: 120_000 }, () => {
  let srv, dir, hook;
  after(async () => {
    await srv?.stop(); // a delivery in progress does not stop a clean shutdown
    await hook?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('registrations complete while deliveries hang', async () => {
    const port = await freePort();
    hook = await receiver(port, 'hang');
    ({ srv, dir } = await setup(port, { timeout: '300s', max_concurrent: 1 }));
    // register() aborts after 10 s: each of these must complete well before
    for (let i = 0; i < 3; i++) {
      const { req } = await pending(srv, `hung ${i}`);
      assert.equal(req.status, 'pending');
    }
  });
});

describe('a receiver that accepts and never answers is bounded by [webhooks] timeout', { timeout: 120_000 }, () => {
  let srv, dir, sock, conns = 0;
  after(async () => {
    await srv?.stop();
    sock?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the attempt times out and is retried', async () => {
    const port = await freePort();
    const held = [];
    sock = net.createServer((c) => { conns++; held.push(c); c.on('error', () => {}); });
    await new Promise((resolve) => sock.listen(port, '127.0.0.1', resolve));
    ({ srv, dir } = await setup(port, { timeout: '1s' }));
    await pending(srv, 'timed out');
    await until(() => conns >= 2, 'a second attempt after the first timed out', 20_000);
    for (const c of held) c.destroy();
  });
});

describe('a webhook that redirects is not followed', { timeout: 120_000 }, () => {
  let srv, dir, hook, elsewhere;
  after(async () => {
    await srv?.stop();
    await hook?.close();
    await elsewhere?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a redirect is a failed attempt, retried at the configured URL only', async () => {
    const [port, other] = [await freePort(), await freePort()];
    elsewhere = await receiver(other);
    hook = await receiver(port, `http://127.0.0.1:${other}/stolen`);
    ({ srv, dir } = await setup(port));
    await pending(srv, 'redirected');
    await until(() => hook.got.length >= 2, 'a retry after the redirect');
    assert.equal(elsewhere.got.length, 0, 'the redirect was not followed');
  });
});
