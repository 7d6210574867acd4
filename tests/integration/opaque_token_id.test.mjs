// Opaque access tokens carry an id that grows with time; their row is keyed
// by it (so that each new token appends to the store's indexes) and found by
// it, then the hash of the whole token is compared in constant time. Tokens
// issued before ids (the prefix and 43 characters, their row without id) are
// still found by hash, introspected and revoked until they expire. A token
// with a known id and a wrong secret, or a malformed one, is inactive and
// changes nothing.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createClient, startServer } from './lib/server.mjs';
import {
  agentMetadata, assertOAuthError, basic, createFixtureScopes, post, show, tokenBasic,
} from './lib/oauth.mjs';
import { BACKEND, dbQuery } from './lib/pg.mjs';

const NEW_FORMAT = /^mdt_at_[A-Za-z0-9_-]{22}[A-Za-z0-9_-]{43}$/;

function blob(hex) {
  return BACKEND === 'sqlite' ? `X'${hex}'` : `'\\x${hex}'::bytea`;
}

function hex(col) {
  return BACKEND === 'sqlite' ? `lower(hex(${col}))` : `encode(${col}, 'hex')`;
}

function sha256hex(s) {
  return crypto.createHash('sha256').update(s).digest('hex');
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

async function introspect(srv, caller, token) {
  const r = await post(srv, '/introspect', { token },
    { headers: { authorization: basic(caller.client_id, caller.client_secret) } });
  assert.equal(r.status, 200, show(r));
  return r.json;
}

async function revoke(srv, caller, token) {
  const r = await post(srv, '/revoke', { token },
    { headers: { authorization: basic(caller.client_id, caller.client_secret) } });
  assert.equal(r.status, 200, show(r));
}

/** The row of a token, found by the hash of its value: {id, revoked_at} or undefined. */
function row(srv, token) {
  const out = dbQuery(srv, `SELECT COALESCE(${hex('id')}, ''), revoked_at FROM tokens `
    + `WHERE hash=${blob(sha256hex(token))};`).trim();
  if (!out) return undefined;
  const [id, revokedAt] = out.split('|');
  return { id, revokedAt: Number(revokedAt) };
}

function rows(srv) {
  return dbQuery(srv, `SELECT ${hex('COALESCE(id, hash)')}, revoked_at FROM tokens ORDER BY 1;`);
}

describe('opaque tokens found by the id they carry', { timeout: 90_000 }, () => {
  let srv;
  let opaque;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    opaque = createClient(srv, agentMetadata({ client_name: 'Opaque', access_token_format: 'opaque' }));
  });
  after(() => srv?.stop());

  async function issue() {
    const r = await tokenBasic(srv, opaque, { scope: 'read' });
    assert.equal(r.status, 200, show(r));
    return r.json.access_token;
  }

  it('a new token carries its id, its row is keyed by it, and ids grow in issue order', async () => {
    const tokens = [];
    for (let i = 0; i < 5; i++) tokens.push(await issue());
    const ids = [];
    for (const t of tokens) {
      assert.match(t, NEW_FORMAT);
      const r = row(srv, t);
      assert.ok(r, 'the row is stored');
      const id = Buffer.from(t.slice(7, 29), 'base64url').toString('hex');
      assert.equal(r.id, id, 'the row is keyed by the id the token carries');
      ids.push(id);
    }
    assert.deepEqual([...ids].sort(), ids, 'each id is greater than the one before');
    assert.equal(new Set(ids).size, ids.length);
  });

  it('a new token is introspected, revoked, then inactive', async () => {
    const t = await issue();
    const info = await introspect(srv, opaque, t);
    assert.equal(info.active, true, JSON.stringify(info));
    assert.equal(info.client_id, opaque.client_id);
    await revoke(srv, opaque, t);
    assert.ok(row(srv, t).revokedAt > 0, 'the row is revoked');
    assert.deepEqual(await introspect(srv, opaque, t), { active: false });
  });

  it('a token issued before ids (its row without id) is introspected and revoked', async () => {
    // a row as the previous release stored it: keyed by the hash of a token of
    // the prefix and 43 characters; its claims are those of a token just issued
    const source = await issue();
    const old = `mdt_at_${b64url(crypto.randomBytes(32))}`;
    assert.equal(old.length, 50);
    dbQuery(srv, 'INSERT INTO tokens (hash,jti,client_id,kind,claims,issued_at,expires_at,revoked_at) '
      + `SELECT ${blob(sha256hex(old))},jti,client_id,kind,claims,issued_at,expires_at,0 FROM tokens `
      + `WHERE hash=${blob(sha256hex(source))};\n`
      + `DELETE FROM tokens WHERE hash=${blob(sha256hex(source))};`);
    assert.deepEqual(row(srv, old), { id: '', revokedAt: 0 });

    const info = await introspect(srv, opaque, old);
    assert.equal(info.active, true, JSON.stringify(info));
    assert.equal(info.client_id, opaque.client_id);
    assert.equal(info.scope, 'read');
    assert.deepEqual(await introspect(srv, opaque, source), { active: false }, 'its row is gone');

    // an unknown token of the old form
    assert.deepEqual(await introspect(srv, opaque, `mdt_at_${b64url(crypto.randomBytes(32))}`), { active: false });

    await revoke(srv, opaque, old);
    assert.ok(row(srv, old).revokedAt > 0, 'the old row is revoked');
    assert.deepEqual(await introspect(srv, opaque, old), { active: false });
  });

  it('a known id with a wrong secret is inactive, and revoking it changes nothing', async () => {
    const t = await issue();
    const other = await issue();
    const forged = [
      t.slice(0, 29) + b64url(crypto.randomBytes(32)),  // the id, another secret
      t.slice(0, 29) + other.slice(29),                  // the id, another token's secret
      t.slice(0, 71) + (t[71] === 'A' ? 'B' : 'A'),      // the last character changed
    ];
    const before = rows(srv);
    for (const f of forged) {
      assert.match(f, NEW_FORMAT);
      assert.notEqual(f, t);
      assert.deepEqual(await introspect(srv, opaque, f), { active: false }, f);
      await revoke(srv, opaque, f);
    }
    assert.equal(rows(srv), before, 'no row changed');
    for (const x of [t, other]) {
      const info = await introspect(srv, opaque, x);
      assert.equal(info.active, true, JSON.stringify(info));
    }
  });

  it('an id already taken (by another node) fails that request with 503, and the other token stands', async () => {
    const victim = await issue();
    const vhash = blob(sha256hex(victim));
    const before = rows(srv);
    // the database holds the id when the new row arrives: on SQLite a row of
    // another node is inserted under the new token's id just before it (and
    // rolled back with the refused statement), on PostgreSQL the new row is
    // given the id of an existing token
    if (BACKEND === 'sqlite') {
      dbQuery(srv, 'CREATE TRIGGER same_id BEFORE INSERT ON tokens WHEN NEW.id IS NOT NULL BEGIN '
        + 'INSERT INTO tokens (id,hash,jti,client_id,kind,claims,issued_at,expires_at,revoked_at) '
        + "VALUES (NEW.id, randomblob(32), 'other-node', NEW.client_id, NEW.kind, NEW.claims, "
        + 'NEW.issued_at, NEW.expires_at, 0); END;');
    } else {
      dbQuery(srv, 'CREATE FUNCTION same_id() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN '
        + `NEW.id := (SELECT id FROM tokens WHERE hash=${vhash}); RETURN NEW; END $$;\n`
        + 'CREATE TRIGGER same_id BEFORE INSERT ON tokens FOR EACH ROW EXECUTE FUNCTION same_id();');
    }
    try {
      const r = await tokenBasic(srv, opaque, { scope: 'read' });
      assertOAuthError(r, 503, 'temporarily_unavailable');
      assert.ok(!/mdt_at_/.test(r.text), `no token in the answer: ${show(r)}`);
    } finally {
      dbQuery(srv, BACKEND === 'sqlite' ? 'DROP TRIGGER same_id;'
        : 'DROP TRIGGER same_id ON tokens;\nDROP FUNCTION same_id();');
    }
    assert.equal(rows(srv), before, 'no row added, none changed');
    const info = await introspect(srv, opaque, victim);
    assert.equal(info.active, true, JSON.stringify(info));
    const next = await issue();
    assert.equal((await introspect(srv, opaque, next)).active, true);
  });

  it('malformed tokens are inactive, and revoking them changes nothing', async () => {
    const t = await issue();
    const before = rows(srv);
    const malformed = [
      'mdt_at_',
      `mdt_at_${t.slice(7, 71)}`,                    // one character short
      `${t}A`,                                       // one character more
      `mdt_at_${'!'.repeat(22)}${t.slice(29)}`,      // an id outside base64url
      `mdt_at_${t.slice(7, 28)}=${t.slice(29)}`,     // padding in the id
      `mdt_at_${'A'.repeat(22)}${t.slice(29)}`,      // an id no token has, the secret of one
      `xdt_at_${t.slice(7)}`,                        // another prefix
      `mdt_at_${t.slice(7, 29)}.${t.slice(29)}`,     // a separator
    ];
    for (const m of malformed) {
      assert.deepEqual(await introspect(srv, opaque, m), { active: false }, m);
      await revoke(srv, opaque, m);
    }
    assert.equal(rows(srv), before, 'no row changed');
    const info = await introspect(srv, opaque, t);
    assert.equal(info.active, true, JSON.stringify(info));
  });
});
