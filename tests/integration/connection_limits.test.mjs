// Connection floods: one host holding thousands of slow connections cannot
// starve others. Connections per source address are capped
// ([server] max_connections_per_source, trusted proxies exempt) and a silent
// connection is closed after [server] connection_timeout. On loopback,
// 127.0.0.2 is the flooding host and 127.0.0.1 everyone else. The server and
// the flooding process run with a raised limit of open files (theirs only).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { sleep, startServer } from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const NOFILE = 16384;
const DEFAULT_PER_SOURCE = 256;
const SLACK = 16; // threads admitting at the same moment may each let one more in

/** Starts the flooding process; status() is its latest report; stop() ends it and its sockets. */
function flood(port, count, from) {
  const proc = spawn('bash', ['-c', `ulimit -Sn ${NOFILE} && exec "$0" "$@"`, process.execPath,
    path.join(here, 'lib/slow_clients.mjs'), String(port), String(count), from], { stdio: ['pipe', 'pipe', 'pipe'] });
  let last = null;
  let buf = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) if (l.trim()) last = JSON.parse(l);
  });
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  return {
    status: () => last,
    stderr: () => stderr,
    /** Polls (bounded) until pred(status) holds; returns the status. */
    async until(pred, what, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (last && pred(last)) return last;
        if (proc.exitCode !== null) break;
        await sleep(100);
      }
      assert.fail(`${what}: last report ${JSON.stringify(last)}; stderr: ${stderr}`);
    },
    async stop() {
      proc.stdin.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function healthy(srv) {
  const r = await fetch(`${srv.url}/healthz`, { signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.text() };
}

describe('4,000 slow connections from one address', { timeout: 120_000 }, () => {
  let srv;
  let attacker;
  before(async () => { srv = await startServer({ nofile: NOFILE }); });
  after(async () => { await attacker?.stop(); await srv?.stop(); });

  it('another address is still served; the flood holds at most max_connections_per_source; silence is closed', async () => {
    attacker = flood(srv.port, 4000, '127.0.0.2');
    const s = await attacker.until((x) => x.done && x.opened + x.failed === 4000
      && x.open <= DEFAULT_PER_SOURCE + SLACK, 'the server keeps at most the per-source limit of the flood');
    assert.ok(s.open >= DEFAULT_PER_SOURCE - SLACK, `the flood holds about the limit: ${JSON.stringify(s)}`);
    const h = await healthy(srv);
    assert.equal(h.status, 200, 'a request from another address succeeds during the flood');
    assert.match(srv.logs, /connection from 127\.0\.0\.2 refused: its source holds max_connections_per_source \(256\)/);
    // the default connection_timeout (10 s) closes the silent connections it kept
    await attacker.until((x) => x.open === 0, 'silent connections closed after connection_timeout', 30_000);
    await attacker.stop();
    attacker = null;
    assert.equal((await healthy(srv)).status, 200);
  });
});

describe('per-source limit and its exemption', { timeout: 90_000 }, () => {
  let srv;
  const floods = [];
  before(async () => {
    srv = await startServer({
      nofile: NOFILE,
      config: { server: { max_connections_per_source: 20, trusted_proxies: '127.0.0.3/32', connection_timeout: '60s' } },
    });
  });
  after(async () => { for (const f of floods) await f.stop(); await srv?.stop(); });

  it('the configured limit applies per source; a trusted proxy is exempt; closing frees the slots', async () => {
    const a = flood(srv.port, 100, '127.0.0.2');
    const p = flood(srv.port, 100, '127.0.0.3');
    floods.push(a, p);
    const sa = await a.until((x) => x.done && x.opened + x.failed === 100 && x.open <= 20 + SLACK, 'a source is capped at 20');
    const sp = await p.until((x) => x.done && x.opened === 100, 'the trusted proxy opens all 100');
    await sleep(500);
    assert.equal(p.status().open, 100, `a trusted proxy's connections are not refused: ${JSON.stringify(p.status())}`);
    assert.ok(a.status().open >= 20 - SLACK && a.status().open <= 20 + SLACK, JSON.stringify(sa));
    assert.equal((await healthy(srv)).status, 200, '127.0.0.1 is served');
    void sp;
    // once the flood ends, its source may connect again: the count went down
    await a.stop();
    floods.splice(floods.indexOf(a), 1);
    const again = flood(srv.port, 10, '127.0.0.2');
    floods.push(again);
    await again.until((x) => x.done && x.opened === 10, 'the source connects again', 10_000);
    await sleep(500);
    assert.equal(again.status().open, 10, `its new connections are kept: ${JSON.stringify(again.status())}`);
  });
});

describe('timeouts: a silent new connection, and a kept-alive one', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { server: { connection_timeout: '1s', keepalive_timeout: '8s' } } });
  });
  after(() => srv?.stop());

  /** A raw connection from 127.0.0.1 with its received text and whether the server closed it. */
  function connect() {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: srv.port });
      const c = { s, text: '', closed: false };
      s.setEncoding('latin1');
      s.on('data', (d) => { c.text += d; });
      s.on('close', () => { c.closed = true; });
      s.on('error', () => {});
      s.on('connect', () => resolve(c));
      s.on('error', reject);
    });
  }
  async function waitFor(pred, what, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) assert.fail(what);
      await sleep(50);
    }
  }
  const answers = (c) => (c.text.match(/HTTP\/1\.1 200 OK/g) || []).length;

  it('a connection that never sends its request is closed after connection_timeout', async () => {
    const c = await connect();
    c.s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await waitFor(() => c.closed, 'the silent connection was closed');
    assert.equal(c.text, '', 'nothing was answered');
  });

  it('between requests a kept-alive connection has keepalive_timeout, not connection_timeout', async () => {
    const c = await connect();
    try {
      c.s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => answers(c) === 1, 'first answer');
      await sleep(3000); // three times connection_timeout, well within keepalive_timeout
      assert.equal(c.closed, false, 'a kept-alive connection outlives connection_timeout');
      c.s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => answers(c) === 2, 'second answer on the same connection');
      await waitFor(() => c.closed, 'closed once keepalive_timeout passed', 30_000);
    } finally {
      c.s.destroy();
    }
  });
});
