// Mandate on PostgreSQL, over real sockets: a throw-away cluster of Debian's
// postgresql package (scripts/pg.sh: a Unix socket in a temporary directory),
// one fresh database per server. Tokens are issued and introspected, the audit
// chain verifies; an unreachable database at start is a clear error that names
// the URL without its password; a database lost during operation answers 503
// and the server recovers by itself when it is back.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createClient, describeRun, prepare, runMandate, startServer } from './lib/server.mjs';
import { agentMetadata, basic, createFixtureScopes, get, post, show, tokenBasic } from './lib/oauth.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PG_SH = path.resolve(here, '../../scripts/pg.sh');

function pg(...args) {
  return execFileSync(PG_SH, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function havePostgres() {
  try {
    execFileSync('bash', ['-c', 'command -v pg_config >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null'],
      { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A client_credentials request on a new TCP connection (so that the server's worker
 * threads, each with its own database connection, all get requests). */
function tokenOnNewConnection(srv, client) {
  const body = 'grant_type=client_credentials';
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.url}/token`, {
      method: 'POST',
      agent: false,
      headers: {
        authorization: basic(client.client_id, client.client_secret),
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
      },
      timeout: 10_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const ROUNDS = 16;

describe('PostgreSQL storage', { timeout: 180_000, skip: !havePostgres() && 'postgresql not installed' }, () => {
  let dir;
  let n = 0;
  const servers = [];

  /** A server on a fresh database of the cluster. */
  async function pgServer() {
    const name = `it_${process.pid}_${++n}`;
    pg('createdb', dir, name);
    const srv = await startServer({
      config: { server: { threads: 4 }, storage: { database: pg('url', dir, name) } },
    });
    servers.push(srv);
    createFixtureScopes(srv);
    return srv;
  }

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mandate-pg-it-'));
    pg('start', dir);
  });

  after(async () => {
    for (const srv of servers) await srv.stop({ check: false });
    pg('destroy', dir);
  });

  it('issues, introspects and revokes tokens; the audit chain verifies', async () => {
    const srv = await pgServer();
    const client = createClient(srv, agentMetadata());
    const r = await tokenBasic(srv, client);
    assert.equal(r.status, 200, show(r));
    const token = r.json.access_token;
    const auth = { headers: { authorization: basic(client.client_id, client.client_secret) } };
    let i = await post(srv, '/introspect', { token }, auth);
    assert.equal(i.status, 200, show(i));
    assert.equal(i.json.active, true);
    assert.equal((await post(srv, '/revoke', { token }, auth)).status, 200);
    i = await post(srv, '/introspect', { token }, auth);
    assert.equal(i.json.active, false, 'revoked');
    // a replayed client assertion identifier, a rate counter, a consumed code: the
    // single-use paths are the conformance suite's; here the chain over the server's writes
    const v = srv.cli(['audit', 'verify']);
    assert.equal(v.code, 0, describeRun(v));
  });

  it('an unreachable database stops serve with an error naming the URL without its password', async () => {
    const ctx = await prepare({
      config: { storage: { database: 'postgresql://alice:hunter2@/mandate?host=/nonexistent-mandate-pg&password=s3cond' } },
    });
    const r = runMandate(['--config', ctx.conf, 'serve'], { cwd: ctx.dir });
    await rm(ctx.dir, { recursive: true, force: true });
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /postgresql:\/\/alice:\*\*\*@\/mandate\?host=\/nonexistent-mandate-pg&password=\*\*\*/);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2|s3cond/);
  });

  it('a database lost during operation answers 503, and the server recovers by itself', async () => {
    const srv = await pgServer();
    const client = createClient(srv, agentMetadata());
    for (let k = 0; k < ROUNDS; k++) { // every worker thread opens its connection
      const r = await tokenOnNewConnection(srv, client);
      assert.equal(r.status, 200, r.text);
    }
    pg('stop', dir);
    try {
      const r = await tokenBasic(srv, client);
      assert.equal(r.status, 503, show(r));
      assert.equal(r.json.error, 'temporarily_unavailable');
      assert.equal((await get(srv, '/readyz')).status, 503);
    } finally {
      pg('start', dir);
    }
    // every worker thread's connection was closed by the restart: none may fail now
    for (let k = 0; k < ROUNDS; k++) {
      const r = await tokenOnNewConnection(srv, client);
      assert.equal(r.status, 200, `request ${k} after the restart: ${r.status} ${r.text}`);
    }
    assert.equal((await get(srv, '/readyz')).status, 200);
    assert.doesNotMatch(srv.logs, /password=[^*&\s]/);
  });
});
