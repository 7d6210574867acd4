// More than one node (SPEC §3.9): two Mandate processes serving one
// PostgreSQL database, as behind a load balancer (one issuer, the same master
// and audit keys). What one node issues, revokes, suspends, counts or
// rotates, the other sees on its next request; both append to one audit
// chain that verifies. Runs in the PostgreSQL pass of the suite.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { clientClaims, keyPair, sign, tokenWithAssertion } from './lib/assertions.mjs';
import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { authorizeCode, ensureScope, postAs, redeem, refresh } from './lib/grants.mjs';
import {
  agentMetadata, auditEvents, createFixtureScopes, eventType, get, post, show, tokenBasic, API,
} from './lib/oauth.mjs';
import { BACKEND } from './lib/pg.mjs';
import { cliJson, createClient, describeRun, sleep, startServer } from './lib/server.mjs';

const skip = BACKEND !== 'postgresql' && 'several nodes share a PostgreSQL database';
const LOAD_REQUESTS = 200;   // token requests spread over both nodes, in all
const LOAD_PARALLEL = 8;
const SEE_WITHIN_MS = 10_000; // how long a node may take to see another's key

const CONFIG = {
  users: FAST_ARGON2,
  registration: { open: 'true', unverified_scopes: 'read', rate_per_source: 3 },
};

describe('two nodes on one PostgreSQL database', { skip, timeout: 240_000 }, () => {
  let a; let b; let cb; let web;

  before(async () => {
    a = await startServer({ config: CONFIG });
    // The second node: its own directory and port, the first's database,
    // issuer and keys.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-node-b-'));
    for (const f of ['master.key', 'audit.key']) await copyFile(path.join(a.dir, f), path.join(dir, f));
    b = await startServer({
      dir, config: { ...CONFIG, server: { issuer: a.issuer }, storage: { database: a.database } },
    });
    createFixtureScopes(a);
    ensureScope(a, 'openid', { description: 'Sign you in' });
    createUsers(a, ['alice']);
    cb = await callbackServer();
    web = createClient(a, {
      client_name: 'Calendar app', kind: 'web', owner: 'alice',
      grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [cb.uri],
      scope: 'openid offline_access read', resources: [API], access_token_format: 'opaque',
      token_endpoint_auth_method: 'client_secret_basic',
    });
  });
  after(async () => {
    await cb?.close();
    await b?.stop();
    await a?.stop();
  });

  const active = async (srv, client, token) => {
    const r = await postAs(srv, client, '/introspect', { token });
    assert.equal(r.status, 200, show(r));
    return r.json.active;
  };

  it('a token issued at one node is introspected, refreshed and revoked at the other', async () => {
    const jar = await signedIn(a, 'alice');
    const code = await authorizeCode(a, jar, web, cb.uri, { scope: 'openid offline_access read' });
    const first = await redeem(a, web, cb.uri, code);
    assert.equal(first.status, 200, show(first));
    assert.equal(await active(b, web, first.json.access_token), true, 'introspected at the other node');

    const rotated = await refresh(b, web, first.json.refresh_token);
    assert.equal(rotated.status, 200, `refreshed at the other node: ${show(rotated)}`);
    const replay = await refresh(a, web, first.json.refresh_token);
    assert.equal(replay.status, 400, `the used refresh token is refused at the first node: ${show(replay)}`);
    assert.equal(replay.json.error, 'invalid_grant');
    // The reuse revoked the family at both nodes.
    assert.equal(await active(b, web, rotated.json.access_token), false);

    const again = await redeem(a, web, cb.uri,
      await authorizeCode(a, jar, web, cb.uri, { scope: 'openid offline_access read' }));
    assert.equal(again.status, 200, show(again));
    const rv = await postAs(b, web, '/revoke', { token: again.json.access_token });
    assert.equal(rv.status, 200, show(rv));
    assert.equal(await active(a, web, again.json.access_token), false, 'revoked at B, inactive at A');
    const codeReplay = await redeem(b, web, cb.uri, code);
    assert.equal(codeReplay.status, 400, `a code used at A is refused at B: ${show(codeReplay)}`);
  });

  it('delegation: a chain built at one node ends at the other when its origin is revoked or the person signs out', async () => {
    const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
    const AT = 'urn:ietf:params:oauth:token-type:access_token';
    const agent = createClient(a, agentMetadata({ client_name: 'Delegate', grant_types: [TE], resources: [API] }));
    const exchange = (srv, token) => postAs(srv, agent, '/token', {
      grant_type: TE, subject_token: token, subject_token_type: AT,
    });
    const jar = await signedIn(a, 'alice');
    for (const end of ['revoke', 'logout']) {
      const person = await redeem(a, web, cb.uri, await authorizeCode(a, jar, web, cb.uri, { scope: 'openid read' }));
      assert.equal(person.status, 200, show(person));
      const d = await exchange(b, person.json.access_token);
      assert.equal(d.status, 200, `delegated at B: ${show(d)}`);
      assert.equal(await active(a, agent, d.json.access_token), true);
      if (end === 'revoke') {
        assert.equal((await postAs(a, web, '/revoke', { token: person.json.access_token })).status, 200);
      } else {
        const page = await (await jar.fetch(`${a.url}/logout`)).text();
        const out = await jar.fetch(`${a.url}/logout`, {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf_token: /name="csrf_token" value="([^"]*)"/.exec(page)[1] }).toString(),
        });
        assert.equal(out.status, 200, await out.text());
      }
      assert.equal(await active(b, agent, d.json.access_token), false, `${end} at A ends the chain at B`);
    }
  });

  it('a client suspended through one node is refused at the other on its next request', async () => {
    const c = createClient(a, agentMetadata({ client_name: 'Suspended later', access_token_format: 'opaque' }));
    const t = await tokenBasic(b, c, { scope: 'read' });
    assert.equal(t.status, 200, show(t));
    const s = a.cli(['client', 'suspend', c.client_id]);
    assert.equal(s.code, 0, describeRun(s));
    const refused = await tokenBasic(b, c, { scope: 'read' });
    assert.equal(refused.status, 401, show(refused));
    assert.equal(refused.json.error, 'invalid_client');
    const info = await postAs(b, c, '/introspect', { token: t.json.access_token });
    assert.notEqual(info.json?.active, true, 'its token is inactive at the other node');
    assert.equal(a.cli(['client', 'resume', c.client_id]).code, 0);
    const back = await tokenBasic(b, c, { scope: 'read' });
    assert.equal(back.status, 200, `resumed through A, served by B: ${show(back)}`);
  });

  it('replay caches are shared: an assertion used at one node is refused at the other', async () => {
    const key = await keyPair('ES256');
    const c = createClient(a, agentMetadata({
      client_name: 'Signed agent', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] },
    }));
    const assertion = await sign(key, clientClaims(a, c.client_id));
    const first = await tokenWithAssertion(a, assertion, { params: { scope: 'read' } });
    assert.equal(first.status, 200, show(first));
    const replay = await tokenWithAssertion(b, assertion, { params: { scope: 'read' } });
    assert.equal(replay.status, 401, `replayed at the other node: ${show(replay)}`);
    assert.equal(replay.json.error, 'invalid_client');
  });

  it('rate limits are shared: registrations count at both nodes together', async () => {
    const register = (srv, n) => post(srv, '/register', JSON.stringify({
      client_name: `Public agent ${n}`, redirect_uris: [cb.uri], token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'], response_types: ['code'], scope: 'read',
    }), { contentType: 'application/json' });
    const statuses = [];
    for (const [srv, n] of [[a, 1], [b, 2], [a, 3], [b, 4]]) statuses.push((await register(srv, n)).status);
    assert.deepEqual(statuses, [201, 201, 201, 429], 'the fourth registration in the minute is over the limit of 3');
  });

  it('both nodes append to one audit chain under load, and it verifies', async () => {
    const c = createClient(a, agentMetadata({ client_name: 'Busy agent' }));
    const before = auditEvents(a).length;
    let sent = 0; let ok = 0;
    const worker = async (i) => {
      while (sent < LOAD_REQUESTS) {
        sent++;
        const r = await tokenBasic(i % 2 ? b : a, c, { scope: 'read' });
        if (r.status === 200) ok++;
      }
    };
    await Promise.all(Array.from({ length: LOAD_PARALLEL }, (_, i) => worker(i)));
    assert.equal(ok, LOAD_REQUESTS);
    const evs = auditEvents(b);
    const seqs = evs.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'one sequence without gaps');
    const issued = evs.slice(before).filter((e) => eventType(e) === 'token.issued').length;
    assert.ok(issued >= LOAD_REQUESTS, `every issuance is recorded once in the one chain (${issued})`);
    const v = a.cli(['audit', 'verify', '--json']);
    assert.equal(v.code, 0, describeRun(v));
    assert.equal(b.cli(['audit', 'verify']).code, 0);
  });

  it('a key rotated through one node is published by the other', async () => {
    const { kid } = cliJson(a, ['keys', 'rotate']);
    const deadline = Date.now() + SEE_WITHIN_MS;
    let kids = [];
    while (Date.now() < deadline) {
      kids = (await get(b, '/jwks')).json.keys.map((k) => k.kid);
      if (kids.includes(kid)) break;
      await sleep(200);
    }
    assert.ok(kids.includes(kid), `the other node publishes ${kid}: ${kids}`);
    assert.ok((await get(a, '/jwks')).json.keys.some((k) => k.kid === kid));
  });
});
