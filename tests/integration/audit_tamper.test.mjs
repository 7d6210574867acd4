// The audit log against someone who can write the database file but not
// read the audit key kept beside the master key: every rewrite they can
// make — an edit recomputed with the plain SHA-256 formula, deleting the
// newest events, reordering, removing the anchor, forging a checkpoint —
// fails `audit verify`, which names the first event that does not verify.
// Signed checkpoints are written by the server and exported by the CLI; an
// unkeyed log written by an earlier version is carried over by an anchor.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { copyFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import {
  MANDATE_BIN, cliJson, createClient, describeRun, prepare, runMandate, sleep, startServer,
} from './lib/server.mjs';
import { agentMetadata, createFixtureScopes, show, tokenBasic } from './lib/oauth.mjs';
import { onlySqlite } from './lib/pg.mjs';

function sqlite(db, sql) {
  const r = spawnSync('sqlite3', ['-batch', db], { input: sql, encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `sqlite3 ${sql.slice(0, 200)}: ${r.stderr}`);
  return r.stdout;
}

/** The stored events, with the exact bytes of their bodies. */
function rows(db) {
  const out = sqlite(db, "SELECT seq, time, type, hex(body), hex(prev_hash), hex(hash) FROM audit_events ORDER BY seq;\n");
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [seq, time, type, body, prev, hash] = l.split('|');
    return {
      seq: Number(seq), time: BigInt(time), type,
      body: Buffer.from(body, 'hex'), prev: Buffer.from(prev, 'hex'), hash: Buffer.from(hash, 'hex'),
    };
  });
}

/** The documented unkeyed construction: SHA-256(prev || be64 seq || be64 time || type || 0 || body). */
function sha256Hash(prev, seq, time, type, body) {
  const be = Buffer.alloc(16);
  be.writeBigUInt64BE(BigInt(seq), 0);
  be.writeBigInt64BE(BigInt(time), 8);
  return crypto.createHash('sha256')
    .update(prev).update(be).update(Buffer.from(type, 'utf8')).update(Buffer.from([0])).update(body)
    .digest();
}

/** Rewrites events with the SHA-256 formula: what anyone without the key can compute. */
function writeRows(db, evs) {
  const sql = ['BEGIN;', 'DELETE FROM audit_events;'];
  for (const e of evs) {
    sql.push(`INSERT INTO audit_events (seq,time,type,body,prev_hash,hash) VALUES (${e.seq},${e.time},`
      + `'${e.type}',CAST(X'${e.body.toString('hex')}' AS TEXT),X'${e.prev.toString('hex')}',`
      + `X'${e.hash.toString('hex')}');`);
  }
  sql.push('COMMIT;');
  sqlite(db, sql.join('\n'));
}

function recompute(evs, fromIndex) {
  for (let i = fromIndex; i < evs.length; i++) {
    const e = evs[i];
    e.prev = i === 0 ? Buffer.alloc(32) : evs[i - 1].hash;
    e.hash = sha256Hash(e.prev, e.seq, e.time, e.type, e.body);
  }
  return evs;
}

function verify(srv, args = []) {
  return srv.cli(['audit', 'verify', ...args]);
}

function assertBroken(r, seq, what) {
  assert.notEqual(r.code, 0, `verify must fail (${what}): ${describeRun(r)}`);
  assert.match(r.stderr, /^mandate: /m, describeRun(r));
  assert.match(r.stderr, new RegExp(`seq ${seq}\\b`), `names seq ${seq} (${what}): ${describeRun(r)}`);
}

describe('tamper-evident audit log', { timeout: 120_000, skip: onlySqlite('rewrites the SQLite file\'s rows byte by byte') }, () => {
  let srv;
  let db;
  let exported;
  let files;
  const restore = async () => {
    for (const f of (await readdir(srv.dir)).filter((x) => x.startsWith('mandate.db'))) {
      await rm(path.join(srv.dir, f));
    }
    for (const f of files) await copyFile(path.join(srv.dir, `orig-${f}`), path.join(srv.dir, f));
  };

  before(async () => {
    srv = await startServer({ config: { audit: { checkpoint_events: 4 } } });
    db = path.join(srv.dir, 'mandate.db');
    createFixtureScopes(srv);
    const client = createClient(srv, agentMetadata());
    for (let i = 0; i < 10; i++) {
      const r = await tokenBasic(srv, client, { scope: 'read' });
      assert.equal(r.status, 200, show(r));
    }
  });
  after(() => srv?.stop());

  it('a new log is keyed from its first event, the anchor, and verifies', () => {
    const v = cliJson(srv, ['audit', 'verify']);
    assert.equal(v.ok, true);
    assert.equal(v.keyed, true);
    assert.equal(v.anchor_seq, 1);
    const first = JSON.parse(srv.cli(['audit', 'export']).stdout.split('\n')[0]);
    assert.equal(first.type, 'audit.anchor');
    assert.equal(first.data.chain, 'hmac-sha256');
  });

  it('keeps the audit key beside the master key, owner-only, and out of the database', async () => {
    const keyFile = path.join(srv.dir, 'audit.key');
    const st = await stat(keyFile);
    assert.equal(st.mode & 0o777, 0o600);
    const chainKey = Buffer.from((await readFile(keyFile, 'utf8')).split('\n')[0], 'base64url');
    assert.equal(chainKey.length, 32);
    for (const f of (await readdir(srv.dir)).filter((x) => x.startsWith('mandate.db'))) {
      const bytes = await readFile(path.join(srv.dir, f));
      assert.equal(bytes.indexOf(chainKey), -1, `the chain key is not in ${f}`);
    }
    // Events are not the plain SHA-256 of their contents any more.
    const evs = rows(db);
    const e = evs[evs.length - 1];
    assert.notDeepEqual(sha256Hash(e.prev, e.seq, e.time, e.type, e.body), e.hash);
  });

  it('the server signs checkpoints every checkpoint_events events', async () => {
    const deadline = Date.now() + 10_000;
    let n = 0;
    while (Date.now() < deadline) {
      n = Number(sqlite(db, 'SELECT count(*) FROM audit_checkpoints;').trim());
      if (n >= 2) break;
      await sleep(100);
    }
    assert.ok(n >= 2, `at least two checkpoints after 10 events, got ${n}`);
  });

  it('checkpoint --json exports a checkpoint another system can check with the public key', async () => {
    exported = cliJson(srv, ['audit', 'checkpoint']);
    const last = Number(sqlite(db, 'SELECT max(seq) FROM audit_events;').trim());
    assert.equal(exported.seq, last, 'covers the head of the chain');
    const key = await jose.importJWK(exported.jwk, 'EdDSA');
    const { payload, protectedHeader } = await jose.compactVerify(exported.jws, key);
    assert.equal(protectedHeader.typ, 'audit-checkpoint');
    const signed = JSON.parse(new TextDecoder().decode(payload));
    assert.equal(signed.seq, exported.seq);
    assert.equal(signed.n, exported.n);
    assert.equal(signed.head, exported.head);
    const line = srv.cli(['audit', 'export']).stdout.trim().split('\n')
      .map((l) => JSON.parse(l)).find((e) => e.seq === exported.seq);
    assert.equal(line.hash, exported.head, 'the head is the hash of that event in the export');
    // Checkpoints chain: prev is the SHA-256 of the previous checkpoint's JWS.
    const prevJws = sqlite(db, `SELECT jws FROM audit_checkpoints WHERE n = ${exported.n - 1};`).trim();
    assert.equal(signed.prev, crypto.createHash('sha256').update(prevJws).digest('hex'));
    // A second call with nothing new prints the same checkpoint.
    assert.equal(cliJson(srv, ['audit', 'checkpoint']).n, exported.n);
    assert.equal(cliJson(srv, ['audit', 'verify', '--checkpoint', await saveCheckpoint()]).ok, true);
  });

  it('several writers at once store one sequence of checkpoints', async () => {
    const client = createClient(srv, agentMetadata({ client_name: 'concurrent' }));
    const run = () => new Promise((resolve) => {
      const p = spawn(MANDATE_BIN, ['--config', srv.conf, 'audit', 'checkpoint', '--json'], { cwd: srv.dir });
      let out = '';
      p.stdout.on('data', (d) => { out += d; });
      p.on('exit', (code) => resolve({ code, out }));
    });
    for (let round = 0; round < 3; round++) {
      const tokens = Array.from({ length: 4 }, () => tokenBasic(srv, client, { scope: 'read' }));
      const writers = await Promise.all(Array.from({ length: 6 }, run));
      for (const w of writers) assert.equal(w.code, 0, w.out);
      for (const t of await Promise.all(tokens)) assert.equal(t.status, 200, show(t));
    }
    const ns = sqlite(db, 'SELECT n FROM audit_checkpoints ORDER BY n;').trim().split('\n').map(Number);
    assert.deepEqual(ns, ns.map((_, i) => i + 1), 'numbered 1, 2, 3, ... without a gap or a twin');
    const v = cliJson(srv, ['audit', 'verify']);
    assert.equal(v.checkpoints, ns.length);
  });

  async function saveCheckpoint() {
    const f = path.join(srv.dir, 'exported-checkpoint.json');
    await writeFile(f, JSON.stringify(exported));
    return f;
  }

  it('detects every rewrite made without the key, naming the first broken event', async (t) => {
    // Events written after the export, so that truncation has something to cut.
    const more = createClient(srv, agentMetadata({ client_name: 'later' }));
    const r0 = await tokenBasic(srv, more, { scope: 'read' });
    assert.equal(r0.status, 200, show(r0));
    const cpFile = await saveCheckpoint();
    await srv.stop({ removeDir: false });
    files = (await readdir(srv.dir)).filter((f) => f.startsWith('mandate.db'));
    for (const f of files) await copyFile(path.join(srv.dir, f), path.join(srv.dir, `orig-${f}`));
    assert.equal(verify(srv).code, 0, describeRun(verify(srv)));
    const all = rows(db);
    const last = all[all.length - 1].seq;
    assert.ok(last > exported.seq + 1, 'events after the exported checkpoint');

    await t.test('an edit recomputed with the SHA-256 formula', async () => {
      await restore();
      const evs = rows(db);
      const k = 5;
      evs[k - 1].body = Buffer.from(evs[k - 1].body.toString().replace(/}$/, ',"edited":true}'));
      writeRows(db, recompute(evs, k - 1));
      assertBroken(verify(srv), k, 'edit and recompute');
    });

    await t.test('deleting the newest events that a stored checkpoint covers', async () => {
      await restore();
      const cpSeq = Number(sqlite(db, 'SELECT max(seq) FROM audit_checkpoints;').trim());
      sqlite(db, `DELETE FROM audit_events WHERE seq >= ${cpSeq - 1};`);
      assertBroken(verify(srv), cpSeq - 1, 'truncation under a stored checkpoint');
    });

    await t.test('deleting the newest events and the stored checkpoints, against an exported one', async () => {
      await restore();
      sqlite(db, `DELETE FROM audit_events WHERE seq > ${exported.seq - 2}; DELETE FROM audit_checkpoints;`);
      assertBroken(verify(srv, ['--checkpoint', cpFile]), exported.seq - 1, 'truncation under an exported checkpoint');
    });

    await t.test('deleting events after the exported checkpoint is not hidden by recomputing', async () => {
      await restore();
      const evs = rows(db).filter((e) => e.seq <= exported.seq);
      evs[2].body = Buffer.from(evs[2].body.toString().replace('"cli"', '"nobody"'));
      writeRows(db, recompute(evs, 2));
      sqlite(db, 'DELETE FROM audit_checkpoints;');
      assertBroken(verify(srv, ['--checkpoint', cpFile]), 3, 'recompute under an exported checkpoint');
    });

    await t.test('reordering two events and relinking them', async () => {
      await restore();
      const evs = rows(db);
      const [a, b] = [evs[3], evs[4]];
      [evs[3], evs[4]] = [{ ...b, seq: 4 }, { ...a, seq: 5 }];
      writeRows(db, recompute(evs, 3));
      assertBroken(verify(srv), 4, 'reorder');
    });

    await t.test('removing the anchor and recomputing the whole chain unkeyed', async () => {
      await restore();
      const evs = rows(db);
      evs[0].type = 'key.rotated';
      writeRows(db, recompute(evs, 0));
      sqlite(db, 'DELETE FROM audit_checkpoints;');
      assertBroken(verify(srv), 1, 'no anchor');
    });

    await t.test('a checkpoint edited in the database', async () => {
      await restore();
      sqlite(db, "UPDATE audit_checkpoints SET head = zeroblob(32) WHERE n = 1;");
      const r = verify(srv);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /checkpoint 1/, describeRun(r));
    });

    await t.test('a checkpoint signed by another key', async () => {
      await restore();
      const { privateKey } = await jose.generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const forged = { ...exported };
      forged.jws = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify({
        n: exported.n, seq: 3, head: exported.head, time: '2026-01-01T00:00:00Z', prev: '0'.repeat(64),
      }))).setProtectedHeader({ alg: 'EdDSA', typ: 'audit-checkpoint' }).sign(privateKey);
      const f = path.join(srv.dir, 'forged.json');
      await writeFile(f, JSON.stringify(forged));
      const r = verify(srv, ['--checkpoint', f]);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /signature/, describeRun(r));
    });

    await t.test('a checkpoint file that is not one', async () => {
      await restore();
      const f = path.join(srv.dir, 'not-a-checkpoint.json');
      await writeFile(f, '{"n": 1, "seq": 2}');
      let r = verify(srv, ['--checkpoint', f]);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /^mandate: audit verify: .*not an exported audit checkpoint/, describeRun(r));
      await writeFile(f, 'garbage');
      r = verify(srv, ['--checkpoint', f]);
      assert.notEqual(r.code, 0, describeRun(r));
      r = verify(srv, ['--checkpoint', path.join(srv.dir, 'missing.json')]);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /^mandate: audit verify: .*cannot read/, describeRun(r));
      r = srv.cli(['audit', 'export', '--checkpoint', f]);
      assert.notEqual(r.code, 0, describeRun(r));
    });

    await t.test('two writers: only the next checkpoint can be stored', async () => {
      await restore();
      const top = Number(sqlite(db, 'SELECT max(n) FROM audit_checkpoints;').trim());
      const r = spawnSync('sqlite3', [db, `INSERT INTO audit_checkpoints (n,seq,time,head,jws) `
        + `VALUES (${top}, 999999, 0, zeroblob(32), 'x');`], { encoding: 'utf8' });
      assert.notEqual(r.status, 0, 'the same number twice is refused by the store');
    });

    await t.test('a lost audit key is an error, never a silent new chain', async () => {
      await restore();
      const keyFile = path.join(srv.dir, 'audit.key');
      await copyFile(keyFile, path.join(srv.dir, 'audit.key.bak'));
      await rm(keyFile);
      try {
        let r = verify(srv);
        assert.notEqual(r.code, 0, describeRun(r));
        assert.match(r.stderr, /audit key/, describeRun(r));
        r = srv.cli(['scope', 'create', 'lost-key-scope']);
        assert.notEqual(r.code, 0, `appending without the key is refused: ${describeRun(r)}`);
        r = srv.cli(['init']);
        assert.notEqual(r.code, 0, `init does not make a new key for a keyed log: ${describeRun(r)}`);
        assert.match(r.stderr, /restore/, describeRun(r));
      } finally {
        await copyFile(path.join(srv.dir, 'audit.key.bak'), keyFile);
      }
      await restore();
      assert.equal(verify(srv).code, 0);
    });
  });
});

describe('audit command line help', () => {
  it('prints the usage of every audit command with an example', async () => {
    const ctx = await prepare();
    try {
      for (const args of [['audit', '--help'], ['help', 'audit']]) {
        const r = runMandate(['--config', ctx.conf, ...args], { cwd: ctx.dir });
        assert.equal(r.code, 0, describeRun(r));
        for (const want of ['verify [--checkpoint FILE]', 'checkpoint [--json]', 'export [--since TIME]',
          'tail [--lines N]', 'example:']) {
          assert.ok(r.stdout.includes(want), `${args.join(' ')} shows ${want}: ${r.stdout}`);
        }
      }
      const v = runMandate(['--config', ctx.conf, 'audit', 'verify', '--help'], { cwd: ctx.dir });
      assert.equal(v.code, 0, describeRun(v));
      assert.match(v.stdout, /--checkpoint FILE +also check against a checkpoint exported earlier/);
      assert.match(v.stdout, /example:\n  mandate audit verify --checkpoint /);
      assert.equal(runMandate(['--config', ctx.conf, 'init'], { cwd: ctx.dir }).code, 0);
      const r = runMandate(['--config', ctx.conf, 'audit'], { cwd: ctx.dir });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^mandate: usage: mandate audit verify \[--checkpoint FILE\]\|checkpoint/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    } finally {
      await rm(ctx.dir, { recursive: true, force: true });
    }
  });
});

describe('checkpoints by time', { timeout: 60_000, skip: onlySqlite('reads the SQLite file') }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { audit: { checkpoint_events: 100000, checkpoint_interval: '1s' } } });
  });
  after(() => srv?.stop());

  it('an idle server signs a checkpoint of new events after checkpoint_interval', async () => {
    const db = path.join(srv.dir, 'mandate.db');
    createFixtureScopes(srv);
    const client = createClient(srv, agentMetadata());
    const r = await tokenBasic(srv, client, { scope: 'read' });
    assert.equal(r.status, 200, show(r));
    const issued = Number(sqlite(db, "SELECT max(seq) FROM audit_events WHERE type = 'token.issued';").trim());
    const deadline = Date.now() + 10_000;
    let covered = 0;
    while (Date.now() < deadline) {
      covered = Number(sqlite(db, 'SELECT coalesce(max(seq), 0) FROM audit_checkpoints;').trim());
      if (covered >= issued) break;
      await sleep(100);
    }
    assert.ok(covered >= issued, `a checkpoint covers the token event ${issued}, got ${covered}`);
    assert.equal(cliJson(srv, ['audit', 'verify']).ok, true);
  });
});

describe('upgrade of an unkeyed log', { timeout: 60_000, skip: onlySqlite('writes a log of an earlier version into the SQLite file') }, () => {
  let ctx;
  after(async () => { if (ctx) await rm(ctx.dir, { recursive: true, force: true }); });

  it('carries the old chain over with an anchor that records its head', async () => {
    ctx = await prepare();
    const cli = (args) => runMandate(['--config', ctx.conf, ...args], { cwd: ctx.dir });
    const db = path.join(ctx.dir, 'mandate.db');
    let r = cli(['init']);
    assert.equal(r.code, 0, describeRun(r));
    // Make it the database of a version before keyed audit: no audit key, no
    // checkpoint, and an unkeyed chain of five events. (Later migrations stay:
    // the keyed chain depends on the key and the anchor, not on the schema.)
    await rm(path.join(ctx.dir, 'audit.key'));
    const old = [];
    for (let seq = 1; seq <= 5; seq++) {
      const time = 1767225600n + BigInt(seq);
      const body = Buffer.from(JSON.stringify({
        time: new Date(Number(time) * 1000).toISOString().replace('.000', ''), type: 'token.issued',
        actor: 'server', client_id: `c${seq}`, decision: 'allow',
      }));
      old.push({ seq, time, type: 'token.issued', body });
    }
    writeRows(db, recompute(old, 0));
    sqlite(db, 'DELETE FROM audit_checkpoints;');
    const oldHead = old[4].hash.toString('hex');

    // Before the upgrade runs: the unkeyed chain verifies as such, and
    // there is nothing to sign checkpoints with yet.
    r = cli(['audit', 'verify']);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /not keyed/);
    r = cli(['audit', 'checkpoint']);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /^mandate: .*no audit key/, describeRun(r));

    r = cli(['init']);
    assert.equal(r.code, 0, describeRun(r));
    const evs = runMandate(['--config', ctx.conf, 'audit', 'export'], { cwd: ctx.dir }).stdout
      .trim().split('\n').map((l) => JSON.parse(l));
    const anchor = evs.find((e) => e.type === 'audit.anchor');
    assert.equal(anchor.seq, 6, 'the anchor follows the old chain');
    assert.equal(anchor.prev_hash, oldHead, 'and records its head');
    r = cli(['audit', 'verify', '--json']);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.json().anchor_seq, 6);
    assert.equal(r.json().events, evs.length);

    // The old part is still checked: an edit recomputed there breaks the
    // link to the anchor, which cannot be recomputed without the key.
    const now = rows(db);
    now[2].body = Buffer.from(now[2].body.toString().replace('c3', 'cX'));
    recompute(now.slice(0, 5), 2); // the same objects: the old part only
    writeRows(db, now);
    r = cli(['audit', 'verify']);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /seq 6\b/, `names the anchor, whose recorded head no longer matches: ${describeRun(r)}`);
  });
});
