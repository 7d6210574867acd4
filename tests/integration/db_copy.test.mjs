// `mandate db copy --to postgresql://...`: a SQLite deployment moved into an
// empty PostgreSQL database. A server on the copy (same issuer, master key
// and audit key) knows the clients and their secrets and keys, the person and
// her consent, the live access tokens (opaque and JWT) and refresh tokens,
// and the audit chain in it is the source's, event for event, and verifies.
// A source that is not SQLite, a destination that is not PostgreSQL, one that
// cannot be reached and one that holds rows are refused with a clear error,
// nothing written, and the destination's password is never shown. On a
// cluster of its own; runs in the SQLite pass of the suite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { clientClaims, keyPair, sign, tokenWithAssertion } from './lib/assertions.mjs';
import { authorizeUrl, callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { authorizeCode, ensureScope, postAs, redeem, refresh } from './lib/grants.mjs';
import { agentMetadata, auditEvents, createFixtureScopes, show, tokenBasic, API } from './lib/oauth.mjs';
import { BACKEND, psql } from './lib/pg.mjs';
import { createClient, describeRun, runMandate, startServer } from './lib/server.mjs';

const skip = BACKEND === 'postgresql' && 'copies a SQLite deployment (the SQLite pass)';
const PG_SH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/pg.sh');
const SECRET = 'Copy-pw-7f3a'; // in the destination URL: never printed
const CONFIG = { users: FAST_ARGON2 };

function pg(...args) {
  const r = spawnSync(PG_SH, args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `pg.sh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A fresh database on the test's cluster; its URL, with a password libpq sends and trust ignores. */
function freshDatabase(dir, name) {
  pg('createdb', dir, name);
  return `${pg('url', dir, name)}&password=${SECRET}`;
}

const tables = (url) => psql("SELECT string_agg(table_name::text, ',' ORDER BY table_name) "
  + 'FROM information_schema.tables WHERE table_schema=current_schema()', url).trim();

function refused(r, pattern) {
  assert.notEqual(r.code, 0, describeRun(r));
  assert.match(r.stderr, pattern, describeRun(r));
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET), 'the password is never shown');
}

describe('db copy from SQLite to PostgreSQL', { skip, timeout: 240_000 }, () => {
  let pgDir; let srv; let cb; let web; let agent; let signer; let signerKey;
  let first; let jwt; let sourceEvents;

  before(async () => {
    pgDir = await mkdtemp(path.join(os.tmpdir(), 'mandate-pg-copy-'));
    pg('start', pgDir);
    srv = await startServer({ config: CONFIG, keepDir: true });
    createFixtureScopes(srv);
    ensureScope(srv, 'openid', { description: 'Sign you in' });
    ensureScope(srv, 'offline_access', { description: 'Stay signed in' });
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    web = createClient(srv, {
      client_name: 'Calendar app', kind: 'web', owner: 'alice',
      grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [cb.uri],
      scope: 'openid offline_access read', resources: [API], access_token_format: 'opaque',
      token_endpoint_auth_method: 'client_secret_basic',
    });
    agent = createClient(srv, agentMetadata({ access_token_format: 'jwt' }));
    signerKey = await keyPair('ES256');
    signer = createClient(srv, agentMetadata({
      client_name: 'Signed agent', token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [signerKey.publicJwk] },
    }));

    // A consent from a code flow, a live refresh token and an opaque access token.
    const jar = await signedIn(srv, 'alice');
    const code = await authorizeCode(srv, jar, web, cb.uri, { scope: 'openid offline_access read' });
    first = await redeem(srv, web, cb.uri, code);
    assert.equal(first.status, 200, show(first));
    assert.ok(first.json.refresh_token);
    // A JWT access token.
    jwt = await tokenBasic(srv, agent, { scope: 'read' });
    assert.equal(jwt.status, 200, show(jwt));
    assert.equal(jwt.json.access_token.split('.').length, 3);
    const signed = await tokenWithAssertion(srv, await sign(signerKey, clientClaims(srv, signer.client_id)),
      { params: { scope: 'read' } });
    assert.equal(signed.status, 200, show(signed));

    // The operator stops the server, then copies.
    await srv.stop({ removeDir: false });
    sourceEvents = auditEvents(srv);
    assert.ok(sourceEvents.length > 5);
  });
  after(async () => {
    await cb?.close();
    await srv?.stop({ removeDir: true, check: false });
    if (pgDir) {
      pg('destroy', pgDir);
      await rm(pgDir, { recursive: true, force: true });
    }
  });

  it('refuses a destination that is not PostgreSQL', () => {
    refused(srv.cli(['db', 'copy', '--to', `sqlite:${path.join(pgDir, 'x.db')}`]), /postgresql:\/\//);
    refused(srv.cli(['db', 'copy']), /usage/);
  });

  it('refuses a destination it cannot reach, naming it without its password', () => {
    const url = `postgresql://mandate:${SECRET}@/mandate?host=${path.join(pgDir, 'nowhere')}`;
    const r = srv.cli(['db', 'copy', '--to', url]);
    refused(r, /PostgreSQL at .*failed/);
    assert.match(r.stderr, /postgresql:\/\/mandate:\*\*\*@\/mandate\?host=/);
  });

  it('refuses a source that is not SQLite', () => {
    const source = freshDatabase(pgDir, 'pg_source');
    const env = { MANDATE_STORAGE_DATABASE: source };
    const init = runMandate(['--config', srv.conf, 'init'], { cwd: srv.dir, env });
    assert.equal(init.code, 0, describeRun(init));
    const dest = freshDatabase(pgDir, 'unused');
    refused(runMandate(['--config', srv.conf, 'db', 'copy', '--to', dest], { cwd: srv.dir, env }),
      /reads a SQLite database/);
    assert.equal(tables(dest), '', 'nothing written');
  });

  it('refuses a destination that holds rows, before writing anything', () => {
    const dest = freshDatabase(pgDir, 'busy');
    psql('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (\'keep me\')', dest);
    refused(srv.cli(['db', 'copy', '--to', dest]), /table notes holds rows/);
    assert.equal(tables(dest), 'notes', 'not migrated');
    assert.equal(psql('SELECT body FROM notes', dest).trim(), 'keep me');
  });

  it('copies everything; a server on the copy carries on', async () => {
    const dest = freshDatabase(pgDir, 'copy');
    const r = srv.cli(['db', 'copy', '--to', dest, '--json']);
    assert.equal(r.code, 0, describeRun(r));
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(SECRET));
    const out = r.json();
    assert.match(out.to, /password=\*\*\*/);
    assert.ok(out.rows > sourceEvents.length);
    assert.equal(Number(psql('SELECT MAX(version) FROM schema_migrations', dest)), out.schema_version);
    const hashes = psql('SELECT seq, encode(hash, \'hex\') FROM audit_events ORDER BY seq', dest);
    assert.equal(hashes.trim().split('\n').length, sourceEvents.length, 'every audit event');

    const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-on-pg-'));
    for (const f of ['master.key', 'audit.key']) await copyFile(path.join(srv.dir, f), path.join(dir, f));
    const copy = await startServer({
      dir, config: { ...CONFIG, server: { issuer: srv.issuer }, storage: { database: dest } },
    });
    try {
      const verify = copy.cli(['audit', 'verify', '--json']);
      assert.equal(verify.code, 0, `the audit chain verifies on PostgreSQL: ${describeRun(verify)}`);
      const copied = auditEvents(copy).slice(0, sourceEvents.length);
      assert.deepEqual(copied, sourceEvents, 'the same events, in the same order');

      const active = async (client, token) => {
        const res = await postAs(copy, client, '/introspect', { token });
        assert.equal(res.status, 200, `the client secret is accepted: ${show(res)}`);
        return res.json.active;
      };
      assert.equal(await active(web, first.json.access_token), true, 'the opaque access token');
      assert.equal(await active(agent, jwt.json.access_token), true, 'the JWT access token');

      const rotated = await refresh(copy, web, first.json.refresh_token);
      assert.equal(rotated.status, 200, `the refresh token: ${show(rotated)}`);
      assert.equal(await active(web, rotated.json.access_token), true);

      const signed = await tokenWithAssertion(copy, await sign(signerKey, clientClaims(copy, signer.client_id)),
        { params: { scope: 'read' } });
      assert.equal(signed.status, 200, `private_key_jwt: ${show(signed)}`);

      // alice's password and her consent: no consent page this time.
      const jar = await signedIn(copy, 'alice');
      const a = await jar.fetch(authorizeUrl(copy, {
        response_type: 'code', client_id: web.client_id, redirect_uri: cb.uri, scope: 'openid read',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's',
      }));
      assert.equal(a.status, 303, await a.text());
      assert.ok(a.headers.get('location').startsWith(cb.uri), a.headers.get('location'));
    } finally {
      await copy.stop({ removeDir: true });
    }

    // A second copy into the same database is refused, and changes nothing.
    const count = () => psql('SELECT COUNT(*) FROM audit_events', dest).trim();
    const n = count();
    refused(srv.cli(['db', 'copy', '--to', dest]), /holds rows/);
    assert.equal(count(), n);
  });
});
