// Credential lifecycle (SPEC §1, §2.1): several credentials valid at once,
// `mandate client credential expire`, credentials derived from client
// metadata (registered keys, certificate bindings, workload identities)
// listed by `client show`, and what a change of authentication method does
// to secrets.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { createClient, describeRun, sleep, startServer } from './lib/server.mjs';
import {
  agentMetadata, assertOAuthError, auditEvents, createFixtureScopes, eventBody, eventType, show,
  tokenBasic, waitAudit,
} from './lib/oauth.mjs';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

async function publicJwk(alg = 'ES256') {
  const { publicKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(publicKey);
  return { ...jwk, alg, use: 'sig', kid: await jose.calculateJwkThumbprint(jwk) };
}

describe('credential lifecycle', { timeout: 90_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
  });
  after(() => srv?.stop());

  const ok = (r) => { assert.equal(r.code, 0, describeRun(r)); return r; };
  const showClient = (id) => ok(srv.cli(['client', 'show', id, '--json'])).json();
  const creds = (id) => showClient(id).credentials;
  const expire = (id, credId, ...args) => ok(srv.cli(['client', 'credential', 'expire', id, credId, ...args, '--json'])).json();
  const cliError = (args, pattern, opts) => {
    const r = srv.cli(args, opts);
    assert.notEqual(r.code, 0, describeRun(r));
    assert.equal(r.stderr.trim().split('\n').length, 1, describeRun(r));
    assert.match(r.stderr, /^mandate: \S/, describeRun(r));
    if (pattern) assert.match(r.stderr, pattern, describeRun(r));
    assert.equal(r.stdout, '', describeRun(r));
  };

  /** Every credential has the pinned fields, times in RFC 3339 or null. */
  function assertShape(list) {
    assert.ok(Array.isArray(list));
    for (const c of list) {
      for (const f of ['id', 'type', 'created_at', 'expires_at', 'last_used_at']) {
        assert.ok(f in c, `credential has ${f}: ${JSON.stringify(c)}`);
      }
      assert.match(c.id, /^cred_/);
      assert.ok(['secret', 'api_key', 'jwk', 'certificate', 'workload'].includes(c.type), c.type);
      assert.match(c.created_at, RFC3339);
      for (const f of ['expires_at', 'last_used_at']) assert.ok(c[f] === null || RFC3339.test(c[f]), `${f}: ${c[f]}`);
      for (const k of Object.keys(c)) {
        assert.ok(['id', 'type', 'name', 'created_at', 'expires_at', 'last_used_at'].includes(k), `unexpected ${k}`);
      }
    }
  }

  /** A refused token request with its client.auth_failed event. */
  async function refusedAuth(client, secret) {
    const before_ = auditEvents(srv).filter((e) => eventType(e) === 'client.auth_failed').length;
    const r = await tokenBasic(srv, { ...client, client_secret: secret });
    assertOAuthError(r, 401, 'invalid_client');
    await waitAudit(srv, (evs) => evs.filter((e) => eventType(e) === 'client.auth_failed').length > before_,
      { what: 'a client.auth_failed event' });
    const ev = eventBody(auditEvents(srv).filter((e) => eventType(e) === 'client.auth_failed').pop());
    assert.equal(ev.client_id, client.client_id);
    assert.ok(!JSON.stringify(ev).includes(secret), 'no secret in the audit log');
    return ev;
  }

  it('keeps several secrets valid at once during a rotation, and expires one on demand', async () => {
    const c = createClient(srv, agentMetadata());
    const oldId = creds(c.client_id)[0].id;
    const rot = ok(srv.cli(['client', 'secret', 'rotate', c.client_id, '--keep', '1h', '--json'])).json();
    assert.equal((await tokenBasic(srv, c)).status, 200, 'old secret still valid');
    assert.equal((await tokenBasic(srv, { ...c, client_secret: rot.client_secret })).status, 200, 'new one too');
    let list = creds(c.client_id);
    assertShape(list);
    assert.equal(list.filter((x) => x.type === 'secret').length, 2);
    const old = list.find((x) => x.id === oldId);
    assert.ok(Date.parse(old.expires_at) > Date.now() + 3000_000, `kept for an hour: ${old.expires_at}`);
    assert.ok(old.last_used_at, 'last_used_at of the old secret set');

    const out = expire(c.client_id, oldId);
    assert.equal(out.client_id, c.client_id);
    assert.equal(out.id, oldId);
    assert.equal(out.type, 'secret');
    assert.ok(Math.abs(Date.parse(out.expires_at) - Date.now()) < 5000, `expires now: ${out.expires_at}`);
    const ev = await refusedAuth(c, c.client_secret);
    assert.match(ev.reason, /invalid_client/);
    assert.equal((await tokenBasic(srv, { ...c, client_secret: rot.client_secret })).status, 200);
    list = creds(c.client_id);
    assert.equal(list.length, 2, 'the expired secret is still listed');
    assert.equal(list.find((x) => x.id === oldId).expires_at, out.expires_at);
    const expired = auditEvents(srv).filter((e) => eventType(e) === 'client.credential_expired').map(eventBody);
    assert.ok(expired.some((e) => e.client_id === c.client_id && JSON.stringify(e).includes(oldId)),
      `client.credential_expired audited: ${JSON.stringify(expired)}`);
  });

  it('credential expire --in retires a credential later', async () => {
    const c = createClient(srv, agentMetadata());
    const [cred] = creds(c.client_id);
    const t0 = Date.now();
    const out = expire(c.client_id, cred.id, '--in', '2s');
    assert.ok(Date.parse(out.expires_at) >= Math.floor(t0 / 1000) * 1000 + 1000, out.expires_at);
    assert.equal((await tokenBasic(srv, c)).status, 200, 'still valid before --in has passed');
    while (Date.now() < t0 + 3500) await sleep(250);
    await refusedAuth(c, c.client_secret);
    // human output
    const human = ok(srv.cli(['client', 'credential', 'expire', c.client_id, cred.id]));
    assert.match(human.stdout, /^type: secret$/m);
    assert.match(human.stdout, /^expires_at: \d{4}-/m);
  });

  it('client show lists the credentials derived from metadata', async () => {
    const k1 = await publicJwk('ES256');
    const k2 = await publicJwk('RS256');
    const jwt = createClient(srv, agentMetadata({ token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [k1, k2] } }));
    assert.equal(jwt.client_secret, undefined, 'no secret for private_key_jwt');
    assert.equal(jwt.client_secret_expires_at, undefined);
    let list = creds(jwt.client_id);
    assertShape(list);
    assert.deepEqual(list.map((x) => x.type), ['jwk', 'jwk']);
    assert.deepEqual(list.map((x) => x.name).sort(), [k1.kid, k2.kid].sort());
    for (const x of list) {
      assert.equal(x.expires_at, null);
      assert.equal(x.last_used_at, null);
    }

    const tls = createClient(srv, agentMetadata({ token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=agent.example.com,O=Example' }));
    assert.equal(tls.client_secret, undefined);
    list = creds(tls.client_id);
    assertShape(list);
    assert.equal(list.length, 1);
    assert.equal(list[0].type, 'certificate');
    assert.equal(list[0].name, 'subject_dn=CN=agent.example.com,O=Example');

    const wl = createClient(srv, agentMetadata({ token_endpoint_auth_method: 'private_key_jwt',
      workload_identity: { issuer: 'https://kubernetes.default.svc', subject: 'system:serviceaccount:ai:agent' } }));
    list = creds(wl.client_id);
    assertShape(list);
    assert.equal(list.length, 1);
    assert.equal(list[0].type, 'workload');
    assert.equal(list[0].name, 'https://kubernetes.default.svc system:serviceaccount:ai:agent');

    const uri = createClient(srv, agentMetadata({ token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks_uri: 'https://keys.example.com/jwks.json' }));
    list = creds(uri.client_id);
    assert.deepEqual(list.map((x) => [x.type, x.name]), [['jwk', 'https://keys.example.com/jwks.json']]);

    // human output lists them too
    const human = ok(srv.cli(['client', 'show', jwt.client_id]));
    assert.match(human.stdout, /^credentials:$/m);
    assert.ok(human.stdout.includes(`name=${k1.kid}`), human.stdout);
  });

  it('derived credentials follow metadata updates; a kept key keeps its row', async () => {
    const k1 = await publicJwk();
    const k2 = await publicJwk();
    const k3 = await publicJwk();
    const c = createClient(srv, agentMetadata({ token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [k1, k2] } }));
    const before_ = creds(c.client_id);
    const row2 = before_.find((x) => x.name === k2.kid);
    // an operator retires k2 ahead of time; the retirement survives updates
    const retired = expire(c.client_id, row2.id, '--in', '30d');
    ok(srv.cli(['client', 'update', c.client_id, '--json'], { input: JSON.stringify({ jwks: { keys: [k2, k3] } }) }));
    const after_ = creds(c.client_id);
    assertShape(after_);
    assert.deepEqual(after_.map((x) => x.name).sort(), [k2.kid, k3.kid].sort(), 'k1 removed, k3 added');
    assert.deepEqual(after_.find((x) => x.name === k2.kid), { ...row2, expires_at: retired.expires_at },
      'the row of a key that stays is kept as it was');
    ok(srv.cli(['client', 'update', c.client_id], { input: JSON.stringify({
      jwks: null, jwks_uri: 'https://keys.example.com/agent.json',
      workload_identity: { issuer: 'https://token.actions.githubusercontent.com', subject: 'repo:acme/agent:ref:refs/heads/main' },
    }) }));
    assert.deepEqual(creds(c.client_id).map((x) => x.type).sort(), ['jwk', 'workload']);
    ok(srv.cli(['client', 'update', c.client_id], { input: JSON.stringify({ workload_identity: null }) }));
    assert.deepEqual(creds(c.client_id).map((x) => [x.type, x.name]), [['jwk', 'https://keys.example.com/agent.json']]);
    const updated = auditEvents(srv).filter((e) => eventType(e) === 'client.updated' && eventBody(e).client_id === c.client_id);
    assert.ok(updated.length >= 3);
  });

  it('leaving a secret method expires the secrets; coming back issues one, shown once', async () => {
    const c = createClient(srv, agentMetadata());
    assert.equal((await tokenBasic(srv, c)).status, 200);
    const k = await publicJwk();
    const away = ok(srv.cli(['client', 'update', c.client_id, '--json'], { input: JSON.stringify({
      token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [k] } }) })).json();
    assert.equal(away.client_secret, undefined);
    await refusedAuth(c, c.client_secret);
    const secretRow = creds(c.client_id).find((x) => x.type === 'secret');
    assert.ok(secretRow.expires_at, 'the secret is expired, still listed');
    cliError(['client', 'secret', 'rotate', c.client_id], /invalid_request: the client does not authenticate with a secret/);

    const back = ok(srv.cli(['client', 'update', c.client_id, '--json'], { input: JSON.stringify({
      token_endpoint_auth_method: 'client_secret_basic', jwks: null }) })).json();
    assert.equal(typeof back.client_secret, 'string', 'a new secret, returned once');
    assert.equal(back.client_secret_expires_at, 0);
    const fresh = { ...c, client_secret: back.client_secret };
    const r = await tokenBasic(srv, fresh);
    assert.equal(r.status, 200, show(r));
    assert.equal(jose.decodeJwt(r.json.access_token).app.auth, 'client_secret_basic');
    assert.ok(!JSON.stringify(showClient(c.client_id)).includes(back.client_secret));
    // human output tells to store it
    const human = ok(srv.cli(['client', 'update', c.client_id], { input: JSON.stringify({
      token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'a.example.com' }) }));
    assert.doesNotMatch(human.stdout, /client_secret:/);
    const human2 = ok(srv.cli(['client', 'update', c.client_id], { input: JSON.stringify({
      token_endpoint_auth_method: 'client_secret_post', tls_client_auth_san_dns: null }) }));
    assert.match(human2.stdout, /^client_secret: /m);
    assert.match(human2.stdout, /not shown again/);
  });

  it('refuses unknown credentials, other clients\' credentials and bad durations', () => {
    const a = createClient(srv, agentMetadata());
    const b = createClient(srv, agentMetadata());
    const bCred = creds(b.client_id)[0].id;
    cliError(['client', 'credential', 'expire', a.client_id, 'cred_AAAAAAAAAAAAAAAA'], /unknown credential|has no credential/);
    cliError(['client', 'credential', 'expire', a.client_id, bCred], /has no credential/);
    cliError(['client', 'credential', 'expire', 'mdt_nope', bCred], /unknown client/);
    cliError(['client', 'credential', 'expire', a.client_id, bCred, '--in', 'soon'], /--in/);
    cliError(['client', 'credential', 'expire', a.client_id]);
    cliError(['client', 'credential', 'frobnicate', a.client_id, bCred]);
    assert.equal(creds(b.client_id)[0].expires_at, null, 'nothing changed');
  });
});
