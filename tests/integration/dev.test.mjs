// `mandate serve --dev`: zero configuration in ./var, init on its own, and on
// the first start a user admin (roles admin, approver) whose password is
// printed once. The listen address comes from the environment so that the
// test needs no fixed port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MANDATE_BIN, freePort, runMandate, sleep } from './lib/server.mjs';

async function devServer(dir, env) {
  const proc = spawn(MANDATE_BIN, ['serve', '--dev'], { cwd: dir, env: { ...process.env, ...env } });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://${env.MANDATE_SERVER_LISTEN}/readyz`, { signal: AbortSignal.timeout(500) });
      if (r.status === 200) break;
    } catch { /* not yet */ }
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  return {
    get stderr() { return stderr; },
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

describe('mandate serve --dev', () => {
  let dir; let env;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-dev-'));
    const port = await freePort();
    env = { MANDATE_SERVER_LISTEN: `127.0.0.1:${port}`, MANDATE_SERVER_ISSUER: `http://127.0.0.1:${port}` };
  });
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  it('initialises ./var, creates admin once and prints the password once', async () => {
    const first = await devServer(dir, env);
    const r = await fetch(`http://${env.MANDATE_SERVER_LISTEN}/.well-known/oauth-authorization-server`);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).issuer, env.MANDATE_SERVER_ISSUER);
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
    const m = first.stderr.match(/mandate: created user admin with password (\S+) \(shown once\)/);
    assert.ok(m, first.stderr);
    assert.ok(m[1].length >= 24, 'a long random password');
    assert.equal((await stat(path.join(dir, 'var', 'master.key'))).mode & 0o777, 0o600);

    const users = runMandate(['--config', '', 'user', 'list', '--json'], { cwd: dir, env: { MANDATE_STORAGE_DATA_DIR: 'var' } });
    assert.equal(users.code, 0, users.stderr);
    const admin = users.json().find((u) => u.username === 'admin');
    assert.ok(admin, users.stdout);
    assert.deepEqual([...admin.roles].sort(), ['admin', 'approver']);

    const second = await devServer(dir, env);
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    assert.doesNotMatch(second.stderr, /created user admin/, 'the password is shown on the first start only');
    assert.doesNotMatch(second.stderr, new RegExp(m[1]), 'and never again');
  });

  it('reads ./mandate.conf when present: the file wins, --dev fills the rest, and says so', async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'mandate-devconf-'));
    try {
      await writeFile(path.join(d, 'mandate.conf'), '[tokens]\naccess_token_ttl = 2m\n');
      const srv = await devServer(d, env);
      try {
        assert.match(srv.stderr, /development server on .* configuration: mandate\.conf/);
        const c = runMandate(['client', 'create', '--json'], {
          cwd: d, input: JSON.stringify({ client_name: 'conf', scope: '' }),
        });
        assert.equal(c.code, 0, c.stderr);
        const { client_id, client_secret } = c.json();
        const r = await fetch(`http://${env.MANDATE_SERVER_LISTEN}/token`, {
          method: 'POST',
          headers: { authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}` },
          body: new URLSearchParams({ grant_type: 'client_credentials' }),
        });
        assert.equal(r.status, 200);
        assert.equal((await r.json()).expires_in, 120, 'the file\'s access_token_ttl applies');
      } finally {
        assert.deepEqual(await srv.stop(), { code: 0, signal: null });
      }
      const noConf = await devServer(dir, env);
      assert.deepEqual(await noConf.stop(), { code: 0, signal: null });
      assert.match(noConf.stderr, /configuration: built-in defaults/);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe('the command line names the configuration and data it uses when it finds none', () => {
  let dir;
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-nodata-')); });
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  it('no data directory: one line naming the configuration, database and data directory', () => {
    const r = runMandate(['client', 'list'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^mandate: .*configuration: built-in defaults .*database: sqlite:var\/mandate\.db; data directory: var .*mandate init/);
  });

  it('a data directory that was never initialised is refused, naming the configuration file', async () => {
    await mkdir(path.join(dir, 'data'));
    await writeFile(path.join(dir, 'mandate.conf'), '[storage]\ndatabase = sqlite:data/m.db\ndata_dir = data\n');
    for (const args of [['client', 'list'], ['scope', 'create', 'x']]) {
      const r = runMandate(args, { cwd: dir });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^mandate: the database is not initialised; configuration: mandate\.conf; database: sqlite:data\/m\.db; data directory: data/);
      assert.doesNotMatch(r.stderr, /no such table/);
    }
    const init = runMandate(['init'], { cwd: dir });
    assert.equal(init.code, 0, init.stderr);
    const ok = runMandate(['client', 'list', '--json'], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.json(), []);
  });
});
