// `mandate db backup FILE`: an online copy of the SQLite database, taken
// while the server issues tokens. A server started on the copy (with the same
// master and audit keys) knows the clients and the live tokens, and the
// audit chain in the copy verifies. A destination that exists, a directory
// that does not, and a PostgreSQL deployment are refused with a clear error
// and leave nothing behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MANDATE_BIN, createClient, describeRun, startServer } from './lib/server.mjs';
import { agentMetadata, basic, createFixtureScopes, post, show, tokenBasic } from './lib/oauth.mjs';
import { onlySqlite } from './lib/pg.mjs';

const LOAD_REQUESTS = 300;   // token requests in flight around the backup, in all
const LOAD_PARALLEL = 8;
const MAX_COPIES = 20;    // backups taken while the load runs, at most
const exec = promisify(execFile);
const run = (args) => exec(MANDATE_BIN, args, { timeout: 30_000 });

async function introspect(srv, client, token) {
  const r = await post(srv, '/introspect', { token },
    { headers: { authorization: basic(client.client_id, client.client_secret) } });
  assert.equal(r.status, 200, show(r));
  return r.json;
}

describe('db backup', { skip: onlySqlite('db backup copies SQLite databases') }, () => {
  let srv; let client; let work;

  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata({ access_token_format: 'opaque' }));
    work = await mkdtemp(path.join(os.tmpdir(), 'mandate-backup-'));
  });
  after(async () => {
    await srv?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('copies the database while tokens are issued; a server on the copy knows them', async () => {
    const before = await tokenBasic(srv, client, { scope: 'read' });
    assert.equal(before.status, 200, show(before));

    // Bounded load around the backup: LOAD_REQUESTS requests, LOAD_PARALLEL at a time.
    let sent = 0; let ok = 0;
    const worker = async () => {
      while (sent < LOAD_REQUESTS) {
        sent++;
        const r = await tokenBasic(srv, client, { scope: 'read' });
        if (r.status === 200) ok++;
      }
    };
    const load = Promise.all(Array.from({ length: LOAD_PARALLEL }, worker));
    // Backups taken one after the other while the load runs (the CLI runs
    // asynchronously so that the requests keep flowing meanwhile).
    const copies = [];
    while (sent < LOAD_REQUESTS && copies.length < MAX_COPIES) {
      const dest = path.join(work, `copy-${copies.length}.db`);
      const { stdout } = await run(['--config', srv.conf, 'db', 'backup', dest, '--json']);
      assert.deepEqual(JSON.parse(stdout), { backup: dest });
      copies.push(dest);
    }
    await load;
    assert.ok(copies.length >= 1);
    assert.equal(ok, LOAD_REQUESTS, 'the server kept issuing tokens during the backups');
    const dest = path.join(work, 'copy.db');
    await run(['--config', srv.conf, 'db', 'backup', dest]);
    for (const c of copies) await rm(c);

    const st = await stat(dest);
    assert.equal(st.mode & 0o777, 0o600, 'the copy is owner-only');
    assert.deepEqual((await readdir(work)).sort(), ['copy.db'], 'no temporary file is left');

    // A second deployment on the copy: its own directory, the same keys.
    const dir2 = await mkdtemp(path.join(os.tmpdir(), 'mandate-restored-'));
    try {
      for (const f of ['master.key', 'audit.key']) await copyFile(path.join(srv.dir, f), path.join(dir2, f));
      await copyFile(dest, path.join(dir2, 'mandate.db'));
      const restored = await startServer({ dir: dir2, keepDir: true });
      const verify = restored.cli(['audit', 'verify', '--json']);
      assert.equal(verify.code, 0, `the audit chain in the copy verifies: ${describeRun(verify)}`);
      try {
        const info = await introspect(restored, client, before.json.access_token);
        assert.equal(info.active, true, 'a token issued before the backup is live on the copy');
        assert.equal(info.client_id, client.client_id);
        const again = await tokenBasic(restored, client, { scope: 'read' });
        assert.equal(again.status, 200, `the client's secret works on the copy: ${show(again)}`);
      } finally {
        await restored.stop({ removeDir: false });
      }
    } finally {
      await rm(dir2, { recursive: true, force: true });
    }
  });

  it('refuses a destination that exists and leaves it as it was', async () => {
    const dest = path.join(work, 'taken.db');
    await writeFile(dest, 'not a database, and not to be overwritten');
    const r = srv.cli(['db', 'backup', dest]);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /exists/);
    assert.equal(await readFile(dest, 'utf8'), 'not a database, and not to be overwritten');
    assert.ok(!(await readdir(work)).includes('taken.db.partial'));
  });

  it('refuses a directory that does not exist, and a missing or extra argument', () => {
    const r = srv.cli(['db', 'backup', path.join(work, 'no', 'such', 'dir', 'x.db')]);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /No such file or directory/);
    for (const args of [['db', 'backup'], ['db', 'backup', 'a.db', 'b.db'], ['db', 'restore', 'x']]) {
      const bad = srv.cli(args);
      assert.notEqual(bad.code, 0, describeRun(bad));
      assert.match(bad.stderr, /usage|unknown command/);
    }
  });

  it('sends a PostgreSQL deployment to pg_dump without echoing its URL', () => {
    const r = srv.cli(['db', 'backup', path.join(work, 'pg.db')], {
      env: { MANDATE_STORAGE_DATABASE: 'postgresql://mandate:s3cret-pw@db.invalid/mandate' },
    });
    assert.notEqual(r.code, 0, describeRun(r));
    assert.doesNotMatch(r.stderr, /s3cret-pw/);
  });
});
