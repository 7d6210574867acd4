// PostgreSQL going away and coming back (SPEC §4 Faults): on a cluster of
// its own, which the test stops and starts. Unreachable at start, `serve`
// exits with an error that names the URL without its password; lost during
// operation, requests are answered 503 temporarily_unavailable and /readyz
// says so; when the database is back the same server process serves again
// by itself. Runs in the PostgreSQL pass of the suite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { agentMetadata, basic, createFixtureScopes, get, post, show, tokenBasic } from './lib/oauth.mjs';
import { BACKEND } from './lib/pg.mjs';
import { createClient, describeRun, runMandate, sleep, startServer } from './lib/server.mjs';

const skip = BACKEND !== 'postgresql' && 'needs a PostgreSQL cluster of its own (the PostgreSQL pass)';
const PG_SH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/pg.sh');
const RECOVER_WITHIN_MS = 20_000;
const THREADS = 4;        // the server's workers, each with its own connection to the database
const AFTER_RECOVERY = 48; // requests (on new connections, 8 at a time) that must all succeed once it is back

/** A token request on a connection of its own (so that requests reach every worker). */
function tokenOnNewConnection(srv, client) {
  const body = 'grant_type=client_credentials&scope=read';
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.url}/token`, {
      method: 'POST', agent: false, timeout: 10_000,
      headers: {
        authorization: basic(client.client_id, client.client_secret),
        'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length, connection: 'close',
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

/** n requests on new connections, at most 8 at a time: their statuses. */
async function burst(srv, client, n) {
  const out = [];
  for (let i = 0; i < n; i += 8) {
    out.push(...await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => tokenOnNewConnection(srv, client))));
  }
  return out;
}

function pg(...args) {
  const r = spawnSync(PG_SH, args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `pg.sh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('PostgreSQL outages', { skip, timeout: 180_000 }, () => {
  let dir; let srv; let client;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-pg-own-'));
    pg('start', dir);
    srv = await startServer({
      config: { server: { threads: THREADS }, storage: { database: pg('url', dir, 'mandate') } },
    });
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata({ access_token_format: 'opaque' }));
  });
  after(async () => {
    await srv?.stop();
    if (dir) {
      pg('destroy', dir);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('unreachable at start: serve and the CLI exit naming the URL without its password', () => {
    const url = `postgresql://mandate:Hunter2-secret@/mandate?host=${path.join(dir, 'nowhere')}`;
    for (const args of [['serve'], ['client', 'list'], ['init']]) {
      const r = runMandate(args, { env: { MANDATE_STORAGE_DATABASE: url, MANDATE_SERVER_LISTEN: '127.0.0.1:9' } });
      assert.notEqual(r.code, 0, describeRun(r));
      assert.doesNotMatch(r.stderr + r.stdout, /Hunter2-secret/, 'the password is never shown');
      assert.match(r.stderr, /postgresql:\/\/mandate:\*\*\*@\/mandate\?host=/, `names the URL: ${r.stderr}`);
    }
  });

  it('a restart of the database between requests costs no request', async () => {
    // Every worker (and the audit writer) holds a connection the restart closes.
    assert.deepEqual([...new Set((await burst(srv, client, 32)).map((r) => r.status))], [200]);
    pg('stop', dir);
    pg('start', dir);
    const statuses = (await burst(srv, client, AFTER_RECOVERY)).map((r) => r.status);
    assert.deepEqual(statuses.filter((x) => x !== 200), [], `after the restart: ${statuses}`);
  });

  it('lost during operation: 503, then the same process serves again by itself', async () => {
    const t = await tokenBasic(srv, client, { scope: 'read' });
    assert.equal(t.status, 200, show(t));
    // Every worker opens its connection to the database.
    assert.deepEqual([...new Set((await burst(srv, client, 32)).map((r) => r.status))], [200]);
    const pid = srv.pid;

    pg('stop', dir);
    for (let i = 0; i < 2; i++) {
      const r = await tokenBasic(srv, client, { scope: 'read' });
      assert.equal(r.status, 503, `token while the database is down: ${show(r)}`);
      assert.equal(r.json.error, 'temporarily_unavailable');
    }
    const intro = await post(srv, '/introspect', { token: t.json.access_token },
      { headers: { authorization: basic(client.client_id, client.client_secret) } });
    assert.equal(intro.status, 503, show(intro));
    assert.equal((await get(srv, '/readyz')).status, 503);
    assert.match(srv.logs, /"fault"|store|database/i, 'the fault is logged');
    assert.doesNotMatch(srv.logs, /password=|:[^@/]*@\/mandate/, 'no password in the logs');

    pg('start', dir);
    const deadline = Date.now() + RECOVER_WITHIN_MS;
    let ready = 0;
    while (Date.now() < deadline && ready !== 200) {
      ready = (await get(srv, '/readyz')).status;
      if (ready !== 200) await sleep(200);
    }
    assert.equal(ready, 200, 'ready again once the database is back');
    // Every worker's connection was closed by the restart: none may fail a request for it.
    const statuses = (await burst(srv, client, AFTER_RECOVERY)).map((r) => r.status);
    assert.deepEqual(statuses.filter((x) => x !== 200), [], `after recovery: ${statuses}`);
    const again = await post(srv, '/introspect', { token: t.json.access_token },
      { headers: { authorization: basic(client.client_id, client.client_secret) } });
    assert.equal(again.json.active, true, 'the token issued before the outage is still known');
    assert.equal(srv.pid, pid, 'no restart of Mandate was needed');
  });
});
