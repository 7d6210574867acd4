// The audit log: issuance and refusals are recorded with their reason, never
// with a secret or a token; `audit verify` accepts the chain as written and
// names the first record that was edited by hand.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dbQuery } from './lib/pg.mjs';
import { createClient, describeRun, startServer } from './lib/server.mjs';
import {
  agentMetadata, auditEvents, basic, createFixtureScopes, eventBody, eventType, post, show,
  tokenBasic, waitAudit,
} from './lib/oauth.mjs';

describe('audit log', { timeout: 90_000 }, () => {
  let srv;
  let client;
  let token;
  const sql = (text) => dbQuery(srv, text);
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata());
    const ok = await tokenBasic(srv, client, { scope: 'read' });
    assert.equal(ok.status, 200, show(ok));
    token = ok.json.access_token;
    const scope = await tokenBasic(srv, client, { scope: 'admin' });
    assert.equal(scope.status, 400, show(scope));
    const auth = await post(srv, '/token', { grant_type: 'client_credentials' },
      { headers: { authorization: basic(client.client_id, 'wrong-secret') } });
    assert.equal(auth.status, 401, show(auth));
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'client.auth_failed'),
      { what: 'client.auth_failed' });
  });
  after(() => srv?.stop());

  it('records issuance with client, scope and decision context', () => {
    const issued = auditEvents(srv).filter((e) => eventType(e) === 'token.issued').map(eventBody);
    assert.equal(issued.length, 1, JSON.stringify(issued));
    const text = JSON.stringify(issued[0]);
    assert.ok(text.includes(client.client_id), `names the client: ${text}`);
    assert.ok(text.includes('read'), `names the scope: ${text}`);
  });

  it('records the issued token as it was issued: grant, jti, format, lifetime, scope', async () => {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    const whole = await tokenBasic(srv, client, {}); /* no scope: every registered one */
    assert.equal(whole.status, 200, show(whole));
    assert.equal(whole.json.scope, 'read write');
    const evs = await waitAudit(srv, (all) => all.filter((e) => eventType(e) === 'token.issued').length >= 2,
      { what: 'two token.issued events' });
    const data = evs.filter((e) => eventType(e) === 'token.issued').map(eventBody)
      .map((b) => (typeof b.data === 'string' ? JSON.parse(b.data) : b.data));
    assert.deepEqual(Object.keys(data[0]).slice(0, 5), ['grant_type', 'jti', 'format', 'expires_in', 'scope']);
    assert.equal(data[0].grant_type, 'client_credentials');
    assert.equal(data[0].jti, payload.jti);
    assert.equal(data[0].format, 'jwt');
    assert.equal(data[0].expires_in, payload.exp - payload.iat);
    assert.equal(data[0].scope, 'read');
    assert.equal(data[1].scope, 'read write');
    assert.equal(data[1].expires_in, whole.json.expires_in);
  });

  it('records refusals with their reason', () => {
    const evs = auditEvents(srv).map((e) => ({ type: eventType(e), body: eventBody(e) }));
    const scope = evs.find((e) => e.type === 'token.refused' && JSON.stringify(e.body).includes('invalid_scope'));
    assert.ok(scope, `a token.refused event with invalid_scope: ${JSON.stringify(evs)}`);
    assert.ok(JSON.stringify(scope.body).includes(client.client_id), 'names the client');
    assert.ok(scope.body.reason, `has a reason: ${JSON.stringify(scope.body)}`);
    const auth = evs.find((e) => e.type === 'client.auth_failed');
    assert.ok(auth.body.reason, `has a reason: ${JSON.stringify(auth.body)}`);
    assert.ok(JSON.stringify(auth.body).includes(client.client_id), 'names the client that failed');
  });

  it('never records a secret or a token', () => {
    const r = srv.cli(['audit', 'export', '--json']);
    assert.equal(r.code, 0, describeRun(r));
    for (const s of [client.client_secret, token, 'wrong-secret']) {
      assert.ok(!r.stdout.includes(s), `the audit log contains ${s.slice(0, 12)}…`);
    }
  });

  it('exports NDJSON with consecutive sequence numbers', () => {
    const r = srv.cli(['audit', 'export']);
    assert.equal(r.code, 0, describeRun(r));
    const lines = r.stdout.trim().split('\n');
    assert.ok(lines.length >= 4, `several events: ${r.stdout}`);
    const evs = lines.map((l) => JSON.parse(l));
    evs.forEach((e, i) => {
      assert.equal(e.seq, i + 1, `seq of line ${i + 1}: ${JSON.stringify(e)}`);
      assert.equal(typeof e.type, 'string');
      assert.ok(e.time, 'time');
    });
  });

  it('export --since filters by time', () => {
    const all = auditEvents(srv);
    assert.equal(auditEvents(srv, ['--since', '2000-01-01T00:00:00Z']).length, all.length);
    assert.equal(auditEvents(srv, ['--since', '2999-01-01T00:00:00Z']).length, 0);
    const bad = srv.cli(['audit', 'export', '--since', 'yesterday-ish']);
    assert.notEqual(bad.code, 0, describeRun(bad));
    assert.match(bad.stderr, /^mandate: /);
  });

  it('verify accepts the chain, then names the first record edited by hand', async () => {
    const v = srv.cli(['audit', 'verify']);
    assert.equal(v.code, 0, describeRun(v));
    await srv.stop({ removeDir: false });

    // Keep a copy of the intact log to put back.
    sql('CREATE TABLE orig_audit_events AS SELECT * FROM audit_events;');
    const restore = async () => {
      sql('DELETE FROM audit_events; INSERT INTO audit_events SELECT * FROM orig_audit_events;');
    };

    const count = Number(sql('SELECT count(*) FROM audit_events;').trim());
    assert.ok(count >= 4, `at least 4 events, got ${count}`);

    sql('UPDATE audit_events SET body = \'{"type":"token.issued","tampered":true}\' WHERE seq = 3;');
    let r = srv.cli(['audit', 'verify']);
    assert.notEqual(r.code, 0, `verify must fail after an edit: ${describeRun(r)}`);
    assert.match(`${r.stdout}\n${r.stderr}`, /\b3\b/, `names seq 3: ${describeRun(r)}`);
    assert.match(r.stderr, /^mandate: /m);

    await restore();
    r = srv.cli(['audit', 'verify']);
    assert.equal(r.code, 0, `the intact copy verifies again: ${describeRun(r)}`);

    sql('DELETE FROM audit_events WHERE seq = 2;');
    r = srv.cli(['audit', 'verify']);
    assert.notEqual(r.code, 0, `verify must fail after a deletion: ${describeRun(r)}`);
    assert.match(`${r.stdout}\n${r.stderr}`, /\b[23]\b/, `names the gap: ${describeRun(r)}`);

    await restore();
    sql('UPDATE audit_events SET seq = -seq WHERE seq IN (2, 3); '
      + 'UPDATE audit_events SET seq = 3 WHERE seq = -2; UPDATE audit_events SET seq = 2 WHERE seq = -3;');
    r = srv.cli(['audit', 'verify']);
    assert.notEqual(r.code, 0, `verify must fail after a reordering: ${describeRun(r)}`);

    await restore();
    sql('UPDATE audit_events SET time = time + 1 WHERE seq = 4;');
    r = srv.cli(['audit', 'verify']);
    assert.notEqual(r.code, 0, `verify must fail after a change of time: ${describeRun(r)}`);
    assert.match(`${r.stdout}\n${r.stderr}`, /\b4\b/, `names seq 4: ${describeRun(r)}`);
  });
});
