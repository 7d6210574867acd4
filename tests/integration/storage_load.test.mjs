// Sustained load on the SQLite store: the write-ahead log stays bounded while
// 100,000 client_credentials tokens (half JWT, half opaque) are issued over
// parallel keep-alive connections, and the server's memory does not grow with
// the number of tokens. The WAL file and the server's RSS are sampled while
// the load runs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, createScope, sleep, startServer } from './lib/server.mjs';
import { onlySqlite } from './lib/pg.mjs';

const TOKENS = Number(process.env.MANDATE_LOAD_TOKENS || 100_000);
const CONNECTIONS = 32;
// the load stops here even if not all tokens were issued (generous: sanitizer
// builds and shared machines are several times slower)
const LOAD_DEADLINE_MS = 900_000;
const WAL_LIMIT = 64 * 1024 * 1024;
const MIB = 1024 * 1024;

function walBytes(srv) {
  try {
    return statSync(path.join(srv.dir, 'mandate.db-wal')).size;
  } catch (e) {
    if (e.code === 'ENOENT') return 0;
    throw e;
  }
}

function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** POST /token with Basic credentials on a keep-alive agent; resolves the status. */
function requestToken(agent, url, basic) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/token`, {
      method: 'POST', agent,
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      timeout: 30_000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('token request timed out')));
    req.on('error', reject);
    req.end('grant_type=client_credentials&scope=read');
  });
}

describe('the write-ahead log under sustained token issuance', { timeout: LOAD_DEADLINE_MS + 120_000, skip: onlySqlite('SQLite\'s write-ahead log') }, () => {
  let srv;
  let basics;
  before(async () => {
    srv = await startServer({ config: { log: { access_log: 'false', level: 'warn' } } });
    createScope(srv, 'read', { description: 'Read things' });
    const meta = (extra) => ({ kind: 'service', owner: 'alice', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'read',
      resources: ['https://api.example.com'], ...extra });
    const basic = (c) => Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64');
    basics = [
      basic(createClient(srv, meta({ client_name: 'JWT load' }))),
      basic(createClient(srv, meta({ client_name: 'Opaque load', access_token_format: 'opaque' }))),
    ];
  });
  after(async () => { await srv?.stop(); });

  it(`stays under 64 MiB while ${TOKENS} JWT and opaque tokens are issued, with bounded memory`, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
    const deadline = Date.now() + LOAD_DEADLINE_MS;
    const statuses = new Map();
    let next = 0;
    let issued = 0;
    let running = true;
    let peakWal = 0;
    let peakRss = 0;
    let rssAtHalf = 0;
    let samples = 0;
    const sampler = (async () => {
      while (running) {
        peakWal = Math.max(peakWal, walBytes(srv));
        const rss = rssBytes(srv.pid);
        peakRss = Math.max(peakRss, rss);
        if (!rssAtHalf && issued >= TOKENS / 2) rssAtHalf = rss;
        samples++;
        await sleep(20);
      }
    })();
    const worker = async () => {
      while (next < TOKENS && Date.now() < deadline) {
        const i = next++;
        const status = await requestToken(agent, srv.url, basics[i % 2]);
        statuses.set(status, (statuses.get(status) || 0) + 1);
        if (status === 200) issued++;
      }
    };
    try {
      await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    } finally {
      running = false;
      await sampler;
      agent.destroy();
    }
    const figures = `issued ${issued}/${TOKENS}, statuses ${JSON.stringify(Object.fromEntries(statuses))}, `
      + `peak WAL ${(peakWal / MIB).toFixed(1)} MiB, RSS ${(rssAtHalf / MIB).toFixed(1)} MiB at half-way, `
      + `peak ${(peakRss / MIB).toFixed(1)} MiB, ${samples} samples`;
    console.log(`# ${figures}`);
    assert.equal(issued, TOKENS, `every token was issued before the deadline: ${figures}`);
    assert.ok(samples >= 20, `the WAL was sampled while the load ran: ${figures}`);
    assert.ok(peakWal < WAL_LIMIT, `the WAL stayed under 64 MiB: ${figures}`);
    // The page caches, arenas and client caches are bounded: the server's
    // memory does not grow with the number of tokens issued. (Compared with
    // itself, not with a fixed size: a sanitizer build starts far higher and
    // fills its quarantine early on.)
    assert.ok(rssAtHalf > 0, `RSS was sampled half-way: ${figures}`);
    assert.ok(peakRss - rssAtHalf < 48 * MIB,
      `the server's RSS did not keep growing in the second half of the load: ${figures}`);

    // Once the load stops, the log is emptied: the file does not keep its peak size.
    let wal = walBytes(srv);
    for (let i = 0; i < 100 && wal > 4 * MIB; i++) {
      await sleep(50);
      wal = walBytes(srv);
    }
    assert.ok(wal <= 4 * MIB, `the WAL shrank after the load: ${(wal / MIB).toFixed(1)} MiB`);
    const verify = srv.cli(['audit', 'verify']);
    assert.equal(verify.code, 0, `the audit chain verifies after the load: ${verify.stderr}`);
  });
  it('a reader that holds the database open only delays the emptying of the log, and no request fails', async () => {
    // The sqlite3 shell in a read transaction: the log cannot restart under it.
    const reader = spawn('sqlite3', [path.join(srv.dir, 'mandate.db')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    reader.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    const readerExited = new Promise((resolve) => { reader.on('exit', resolve); reader.on('error', resolve); });
    try {
      reader.stdin.write('BEGIN;\nSELECT count(*) FROM audit_events;\n');
      for (let i = 0; i < 200 && !/\d/.test(out); i++) await sleep(25);
      assert.match(out, /\d/, 'the reader is in its transaction');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const statuses = new Map();
      let next = 0;
      const N = 4000;
      const deadline = Date.now() + 300_000;
      const worker = async () => {
        while (next < N && Date.now() < deadline) {
          const status = await requestToken(agent, srv.url, basics[next++ % 2]);
          statuses.set(status, (statuses.get(status) || 0) + 1);
        }
      };
      try {
        await Promise.all(Array.from({ length: 8 }, worker));
      } finally {
        agent.destroy();
      }
      assert.deepEqual(Object.fromEntries(statuses), { 200: N }, 'every token was issued while the reader held the log');
      assert.ok(walBytes(srv) > 4 * MIB, `the log grew while the reader held it: ${walBytes(srv)} bytes`);
    } finally {
      reader.stdin.end('COMMIT;\n.quit\n');
      await readerExited;
    }
    // once the reader is gone, the next attempts (at most 4 s apart) empty the file
    let wal = walBytes(srv);
    for (let i = 0; i < 200 && wal > 4 * MIB; i++) {
      await sleep(50);
      wal = walBytes(srv);
    }
    assert.ok(wal <= 4 * MIB, `the WAL was emptied after the reader finished: ${(wal / MIB).toFixed(1)} MiB`);
  });
});
