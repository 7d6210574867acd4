// SIGHUP re-reads the configuration file: [pdp], [webhooks] and [log] level apply at once
// without dropping connections; a file that does not load is refused as a whole and the
// running configuration kept, with the error logged naming file, line and key; a changed key
// that needs a restart is logged and ignored; every applied reload is audited.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, createScope, freePort, renderIni, sleep, startServer } from './lib/server.mjs';
import { agentMetadata, assertOAuthError, auditEvents, basic, eventBody, eventType, post, show } from './lib/oauth.mjs';

const RELOADED = /SIGHUP: \S+ reloaded/;

/** Writes the server's configuration file: its own server and storage, then sections. */
async function writeConf(srv, sections = {}) {
  await writeFile(srv.conf, renderIni({
    server: { listen: `127.0.0.1:${srv.port}`, issuer: srv.issuer },
    storage: { database: srv.database, data_dir: srv.dir },
    ...sections,
  }));
}

const count = (text, re) => (text.match(new RegExp(re.source, 'g')) || []).length;
const reloadEvents = (srv) => auditEvents(srv).map(eventBody).filter((e) => eventType(e) === 'config.reloaded');

/** Sends SIGHUP and waits (bounded) until the log has one more line matching re. */
async function hup(srv, re) {
  const before = count(srv.logs, re);
  process.kill(srv.pid, 'SIGHUP');
  for (let i = 0; i < 100 && count(srv.logs, re) === before; i++) await sleep(50);
  assert.ok(count(srv.logs, re) > before, `no log line ${re} after SIGHUP:\n${srv.logs.slice(-3000)}`);
}

/** GET path over one kept-alive connection; {status, port}: the local port tells the connection. */
function getKeptAlive(srv, agent, pathname) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${srv.url}${pathname}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, port: req.socket.localPort }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const ccToken = (srv, c, scope) => post(srv, '/token', { grant_type: 'client_credentials', scope },
  { headers: { authorization: basic(c.client_id, c.client_secret) } });

/** A webhook receiver answering 200. */
async function receiver(port) {
  const got = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { got.push(req.url); res.writeHead(200).end(); });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { got, port, close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }) };
}

describe('SIGHUP', { timeout: 120_000 }, () => {
  let srv, agent, keep, hook;
  before(async () => {
    srv = await startServer();
    createScope(srv, 'read', { description: 'Read things' });
    createScope(srv, 'pay', { description: 'Make payments' });
    createScope(srv, 'payments:write', { description: 'Payments', sensitivity: 'approval' });
    agent = createClient(srv, agentMetadata({ scope: 'read pay' }));
    // stored policies: ignored while [pdp] mode is off
    for (const [id, text] of [['all', 'permit (principal, action, resource);'],
      ['no-pay', `forbid (principal == Client::"${agent.client_id}", action == Action::"token.issue", resource == Scope::"pay");`]]) {
      const r = srv.cli(['policy', 'add', id], { input: text });
      assert.equal(r.code, 0, r.stderr);
    }
    keep = new http.Agent({ keepAlive: true, maxSockets: 1 });
    hook = await receiver(await freePort());
  });
  after(async () => {
    keep?.destroy();
    await srv?.stop();
    await hook?.close();
  });

  it('turns the PDP on: a forbidden scope is refused; a kept-alive connection keeps working', async () => {
    const first = await getKeptAlive(srv, keep, '/healthz');
    assert.equal(first.status, 200);
    assert.equal((await ccToken(srv, agent, 'read pay')).status, 200, 'PDP off: issued');

    await writeConf(srv, { pdp: { mode: 'embedded' } });
    await hup(srv, RELOADED);

    const again = await getKeptAlive(srv, keep, '/healthz');
    assert.equal(again.status, 200);
    assert.equal(again.port, first.port, 'the same connection, opened before the SIGHUP');
    let r;
    for (let i = 0; i < 40; i++) { // the policies' data is picked up within about a second
      r = await ccToken(srv, agent, 'read pay');
      if (r.status === 400) break;
      await sleep(100);
    }
    assertOAuthError(r, 400, 'invalid_scope');
    assert.equal(r.json.error_description, "scope 'pay' is refused by policy");
    assert.equal((await ccToken(srv, agent, 'read')).status, 200, 'a permitted scope still is');

    const [ev] = reloadEvents(srv);
    assert.ok(ev, 'config.reloaded audited');
    const data = typeof ev.data === 'string' ? JSON.parse(ev.data) : ev.data;
    assert.deepEqual(data.changed, ['[pdp] mode']);
    assert.equal(data.file, srv.conf);
  });

  it('[pdp] on_deny = drop applies to the next request', async () => {
    await writeConf(srv, { pdp: { mode: 'embedded', on_deny: 'drop' } });
    await hup(srv, RELOADED);
    const r = await ccToken(srv, agent, 'read pay');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'read', 'the forbidden scope dropped');
  });

  it('refuses a bad file as a whole and keeps the running configuration', async () => {
    const bad = [
      [{ pdp: { mode: 'off', on_deny: 'sometimes' } }, /refused.*mandate\.conf:\d+: \[pdp\] on_deny/],
      [{ pdp: { mode: 'off', frobnicate: '1' } }, /refused.*mandate\.conf:\d+: \[pdp\] frobnicate/],
      [{ pdp: { mode: 'off' }, forward_auth: { resources: path.join(srv.dir, 'missing.json') } }, /refused.*missing\.json/],
    ];
    const reloads = reloadEvents(srv).length;
    for (const [sections, why] of bad) {
      await writeConf(srv, sections);
      await hup(srv, why);
      // still on, still dropping: mode=off and the rest were not applied
      const r = await ccToken(srv, agent, 'read pay');
      assert.equal(r.status, 200, show(r));
      assert.equal(r.json.scope, 'read', 'the running configuration is kept');
    }
    assert.equal(reloadEvents(srv).length, reloads, 'nothing audited as reloaded');
  });

  it('logs a key that needs a restart and keeps its running value', async () => {
    await writeConf(srv, { pdp: { mode: 'embedded', on_deny: 'drop' }, tokens: { access_token_ttl: '5m' } });
    await hup(srv, /\[tokens\] access_token_ttl changed at \S*mandate\.conf:\d+: it needs a restart/);
    const r = await ccToken(srv, agent, 'read');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.expires_in, 600, 'the running access_token_ttl');
    const ev = reloadEvents(srv).at(-1);
    const data = typeof ev.data === 'string' ? JSON.parse(ev.data) : ev.data;
    assert.deepEqual(data.needs_restart, ['[tokens] access_token_ttl']);
  });

  it('adds a webhook: the next pending request is notified', async () => {
    const hooks = path.join(srv.dir, 'hooks.json');
    await writeFile(path.join(srv.dir, 'hook.secret'), 'webhook-secret-of-the-reload-tests-01234\n');
    await writeFile(hooks, JSON.stringify([{ url: `http://127.0.0.1:${hook.port}/hooks`, secret_file: 'hook.secret' }]));
    await writeConf(srv, { pdp: { mode: 'embedded', on_deny: 'drop' }, webhooks: { endpoints: hooks } });
    await hup(srv, RELOADED);
    const filed = await post(srv, '/access-requests', JSON.stringify({ scope: 'payments:write', justification: 'reload' }), {
      contentType: 'application/json', headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assert.equal(filed.status, 201, show(filed));
    for (let i = 0; i < 200 && hook.got.length === 0; i++) await sleep(50);
    assert.deepEqual(hook.got, ['/hooks']);
  });

  it('[forward_auth] resources: the RFC 9728 metadata follows the file, re-read under the same name', async () => {
    const meta = async (p) => {
      const res = await fetch(`${srv.url}/.well-known/oauth-protected-resource${p}`, { signal: AbortSignal.timeout(10_000) });
      const text = await res.text();
      return { status: res.status, json: res.status === 200 ? JSON.parse(text) : undefined };
    };
    const file = path.join(srv.dir, 'resources.json');
    const resource = (p) => ({ resource: `https://api.example.com${p}`, resource_name: `API ${p}`,
      match: `https://api.example.com:443${p}`, scopes: { '*': ['read'] } });
    assert.equal((await meta('/mcp')).status, 404, 'no resources yet');
    await writeFile(file, JSON.stringify([resource('/mcp')]));
    await writeConf(srv, { pdp: { mode: 'embedded', on_deny: 'drop' }, forward_auth: { resources: file } });
    await hup(srv, RELOADED);
    const r = await meta('/mcp');
    assert.equal(r.status, 200);
    assert.equal(r.json.resource, 'https://api.example.com/mcp');
    // the same file name, another content
    await writeFile(file, JSON.stringify([resource('/v2')]));
    await hup(srv, RELOADED);
    assert.equal((await meta('/mcp')).status, 404);
    assert.equal((await meta('/v2')).json?.resource, 'https://api.example.com/v2');
    // a file that no longer parses: refused, /v2 stays
    await writeFile(file, '[{"resource": ');
    await hup(srv, /refused.*resources\.json/);
    assert.equal((await meta('/v2')).status, 200);
  });

  it('[log] level: lines below it are no longer written', async () => {
    const reloads = reloadEvents(srv).length;
    const infoLines = count(srv.logs, RELOADED);
    await writeFile(path.join(srv.dir, 'resources.json'), '[]');
    await writeConf(srv, { pdp: { mode: 'embedded', on_deny: 'drop' }, log: { level: 'warn' } });
    process.kill(srv.pid, 'SIGHUP');
    for (let i = 0; i < 100 && reloadEvents(srv).length === reloads; i++) await sleep(50);
    assert.equal(reloadEvents(srv).length, reloads + 1, 'reloaded (audited)');
    assert.equal(count(srv.logs, RELOADED), infoLines, 'its own info line is not written');
    // and back to info: written again
    await writeConf(srv, { pdp: { mode: 'embedded', on_deny: 'drop' }, log: { level: 'info' } });
    await hup(srv, RELOADED);
  });
});
