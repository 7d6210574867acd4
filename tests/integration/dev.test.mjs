// `mandate serve --dev`: zero configuration in ./var, init on its own, and on
// the first start a user admin (roles admin, approver) whose password is
// printed once. The listen address comes from the environment so that the
// test needs no fixed port.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
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
});
