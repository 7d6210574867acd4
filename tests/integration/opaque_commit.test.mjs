// An opaque access token's row is stored in the same transaction as its
// token.issued audit event (the audit log's group commit, which the response
// waits for): the token leaves only when both are durable, and when that
// commit fails neither the token nor its row exists. A row refused on its own
// fails only its own request, not the others committed in the same group.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, startServer } from './lib/server.mjs';
import {
  agentMetadata, assertOAuthError, auditEvents, basic, createFixtureScopes, eventBody, eventType, post,
  show, tokenBasic,
} from './lib/oauth.mjs';
import { BACKEND, dbQuery } from './lib/pg.mjs';

/** Makes inserts into table fail (the database refuses them) when the SQL condition on NEW holds. */
function refuseInserts(srv, table, when) {
  if (BACKEND === 'sqlite') {
    dbQuery(srv, `CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} WHEN ${when} `
      + "BEGIN SELECT RAISE(ABORT, 'refused'); END;");
  } else {
    dbQuery(srv, `CREATE FUNCTION refuse_${table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN `
      + `IF ${when} THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;\n`
      + `CREATE TRIGGER refuse_${table} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION refuse_${table}();`);
  }
}

function allowInserts(srv, table) {
  dbQuery(srv, `DROP TRIGGER refuse_${table}${BACKEND === 'sqlite' ? '' : ` ON ${table}`};`
    + (BACKEND === 'sqlite' ? '' : `\nDROP FUNCTION refuse_${table}();`));
}

/** The client's rows in the tokens table. */
function tokenRows(srv, clientId) {
  return Number(dbQuery(srv, `SELECT COUNT(*) FROM tokens WHERE client_id='${clientId}';`).trim());
}

async function introspect(srv, caller, token) {
  const r = await post(srv, '/introspect', { token },
    { headers: { authorization: basic(caller.client_id, caller.client_secret) } });
  assert.equal(r.status, 200, show(r));
  return r.json;
}

describe('opaque tokens committed with their audit event', { timeout: 90_000 }, () => {
  let srv;
  let opaque;
  let other;
  let jwt;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    opaque = createClient(srv, agentMetadata({ client_name: 'Opaque', access_token_format: 'opaque' }));
    other = createClient(srv, agentMetadata({ client_name: 'Opaque too', access_token_format: 'opaque' }));
    jwt = createClient(srv, agentMetadata({ client_name: 'Signed tokens' }));
  });
  after(() => srv?.stop());

  it('when the token.issued event cannot be committed, no token leaves and no row is stored', async () => {
    const ok = await tokenBasic(srv, opaque, { scope: 'read' });
    assert.equal(ok.status, 200, show(ok));
    const rowsBefore = tokenRows(srv, opaque.client_id);
    assert.equal(rowsBefore, 1);

    refuseInserts(srv, 'audit_events', "NEW.type = 'token.issued'");
    try {
      const r = await tokenBasic(srv, opaque, { scope: 'read' });
      assertOAuthError(r, 503, 'temporarily_unavailable');
      assert.equal(r.json.access_token, undefined, show(r));
      assert.ok(!/mdt_at_/.test(r.text), `no token in the answer: ${show(r)}`);
      assert.equal(tokenRows(srv, opaque.client_id), rowsBefore, 'no row for a token that did not leave');
    } finally {
      allowInserts(srv, 'audit_events');
    }

    // the next token is stored with its event, and is active at once
    const again = await tokenBasic(srv, opaque, { scope: 'read' });
    assert.equal(again.status, 200, show(again));
    assert.equal(tokenRows(srv, opaque.client_id), rowsBefore + 1);
    const info = await introspect(srv, opaque, again.json.access_token);
    assert.equal(info.active, true, JSON.stringify(info));
    const issued = auditEvents(srv).map(eventBody)
      .filter((e) => eventType(e) === 'token.issued' && e.client_id === opaque.client_id);
    assert.equal(issued.length, 2, 'one event per token that left');
    const jti = dbQuery(srv, `SELECT jti FROM tokens WHERE client_id='${opaque.client_id}' ORDER BY issued_at DESC, jti;`)
      .trim().split('\n');
    assert.ok(jti.includes(issued[1].data.jti), 'the event names the stored token');
    assert.equal(issued[1].data.format, 'opaque');
  });

  it('a row refused on its own fails its request only, not the others committed with it', async () => {
    const rowsOther = tokenRows(srv, other.client_id);
    refuseInserts(srv, 'tokens', `NEW.client_id = '${opaque.client_id}'`);
    let results;
    try {
      // bounded: 3 rounds of 8 concurrent requests from three clients
      results = [];
      for (let round = 0; round < 3; round++) {
        const batch = [];
        for (let i = 0; i < 8; i++) {
          const c = [opaque, other, jwt][i % 3];
          batch.push(tokenBasic(srv, c, { scope: 'read' }).then((r) => ({ c, r })));
        }
        results.push(...await Promise.all(batch));
      }
    } finally {
      allowInserts(srv, 'tokens');
    }
    for (const { c, r } of results) {
      if (c === opaque) assertOAuthError(r, 503, 'temporarily_unavailable');
      else assert.equal(r.status, 200, `${c.client_name}: ${show(r)}`);
    }
    const issuedOther = results.filter(({ c }) => c === other).length;
    assert.equal(tokenRows(srv, other.client_id), rowsOther + issuedOther, 'every token that left has its row');
    for (const { c, r } of results.filter(({ c: x }) => x !== opaque)) {
      const info = await introspect(srv, c, r.json.access_token);
      assert.equal(info.active, true, `${c.client_name}: ${JSON.stringify(info)}`);
    }
  });
});
