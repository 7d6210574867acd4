// Registration that holds under attack (SPEC §3.3): an approval approves
// exactly the metadata it showed (a pending client that changes what it asks
// for through RFC 7592 re-opens its request), and privileged members are
// set only by an admin, an initial access token's policy or the claims of a
// trusted software statement.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliJson, createScope, describeRun, startServer } from './lib/server.mjs';
import { basic, post, show } from './lib/oauth.mjs';
import { assertRegistered, clientIds, refusedRegistration, register, regUpdate } from './lib/register.mjs';
import { keyPair, now, sign } from './lib/assertions.mjs';

const requestsOf = (srv, clientId) => cliJson(srv, ['request', 'list'])
  .filter((r) => r.client_id === clientId);
const pendingOf = (srv, clientId) => requestsOf(srv, clientId).filter((r) => r.status === 'pending');
const ccToken = (srv, c, scope) => post(srv, '/token', { grant_type: 'client_credentials', scope },
  { headers: { authorization: basic(c.client_id, c.client_secret) } });
const machine = (over = {}) => ({ grant_types: ['client_credentials'], ...over });

describe('an approval approves exactly what it showed', { timeout: 90_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { open: 'true', unverified_scopes: 'read',
      unverified_grant_types: 'client_credentials', rate_per_source: 1000 } } });
    createScope(srv, 'read');
    createScope(srv, 'write');
    createScope(srv, 'admin');
  });
  after(() => srv?.stop());

  it('widening while pending re-opens the request: the old one cannot activate the new metadata', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'widener', scope: 'read write' })), 'pending');
    const [first] = pendingOf(srv, b.client_id);
    assert.equal(first.scope, 'read write');

    const up = await regUpdate(srv, b.client_id, b.registration_access_token,
      machine({ client_id: b.client_id, client_name: 'widener', scope: 'read write admin' }));
    assert.equal(up.status, 200, show(up));
    assert.equal(up.json.status, 'pending');

    const reqs = requestsOf(srv, b.client_id);
    const old = reqs.find((r) => r.id === first.id);
    assert.equal(old.status, 'denied', 'the request for the old metadata is closed');
    assert.equal(old.note, 'superseded');
    const open = reqs.filter((r) => r.status === 'pending');
    assert.equal(open.length, 1, 'one re-opened request');
    assert.equal(open[0].scope, 'read write admin', 'it shows the new metadata');
    assert.equal(open[0].metadata?.scope, 'read write admin', 'the metadata its approval approves');

    const stale = srv.cli(['request', 'approve', first.id]);
    assert.notEqual(stale.code, 0, describeRun(stale));
    assert.match(stale.stderr, /^mandate: /);
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'pending', 'still pending');
    assert.equal((await ccToken(srv, b, 'admin')).status, 401, 'no token for what nobody approved');

    cliJson(srv, ['request', 'approve', open[0].id]);
    const shown = cliJson(srv, ['client', 'show', b.client_id]);
    assert.equal(shown.status, 'active');
    assert.equal(shown.scope, 'read write admin', 'what was shown is what is active');
  });

  it('an update after the request was shown cannot ride on its approval', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'sly', scope: 'write' })), 'pending');
    const [req] = pendingOf(srv, b.client_id);
    // same scopes, other privileged metadata: still a change of what is approved
    const up = await regUpdate(srv, b.client_id, b.registration_access_token,
      machine({ client_id: b.client_id, client_name: 'sly', scope: 'write', contacts: ['x@example.com'] }));
    assert.equal(up.status, 200, show(up));
    const stale = srv.cli(['request', 'approve', req.id]);
    assert.notEqual(stale.code, 0, 'the request showed other metadata');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'pending');
    const open = pendingOf(srv, b.client_id);
    assert.equal(open.length, 1);
    assert.notEqual(open[0].id, req.id);
  });

  it('a pending client that updates to what it may get without approval is active and its request closed', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'modest', scope: 'write' })), 'pending');
    const up = await regUpdate(srv, b.client_id, b.registration_access_token,
      machine({ client_id: b.client_id, client_name: 'modest', scope: 'read' }));
    assert.equal(up.status, 200, show(up));
    assert.equal(up.json.status, 'active');
    assert.deepEqual(pendingOf(srv, b.client_id), []);
  });
});

const API = 'https://api.example.com';
const BILLING = 'https://billing.example.com';

describe('privileged members are not self-chosen', { timeout: 120_000 }, () => {
  let srv;
  let dir;
  let pub;
  const PUBLISHER = 'https://publisher.example.com';
  before(async () => {
    pub = await keyPair('ES256');
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-priv-'));
    await writeFile(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [pub.publicJwk] }));
    await writeFile(path.join(dir, 'publishers.json'), JSON.stringify([{ issuer: PUBLISHER, jwks_file: 'jwks.json' }]));
    srv = await startServer({ config: { registration: { open: 'true', unverified_scopes: 'read',
      unverified_grant_types: 'client_credentials', unverified_resources: API, rate_per_source: 1000,
      software_statement_issuers: path.join(dir, 'publishers.json') } } });
    createScope(srv, 'read');
    createScope(srv, 'write');
    for (const [name, role] of [['ann', 'approver'], ['mallory', null]]) {
      const r = srv.cli(['user', 'create', name, ...(role ? ['--role', role] : []), '--password-stdin'],
        { input: 'correct horse battery\n' });
      assert.equal(r.code, 0, describeRun(r));
    }
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an unvouched client gets the [registration] values of unverified clients', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'plain', scope: 'read' })), 'active');
    assert.equal(b.kind, 'agent');
    assert.equal(b.risk_tier, 'high');
    assert.equal(b.max_delegation_depth, 1);
    assert.deepEqual(b.resources, [API], 'unverified_resources');
    assert.equal(b.owner, undefined);
    assert.equal(b.access_token_ttl, undefined);
    const within = assertRegistered(await register(srv, machine({ client_name: 'within', scope: 'read',
      resources: [API], risk_tier: 'high', max_delegation_depth: 0, access_token_ttl: 60 })), 'active');
    assert.equal(within.access_token_ttl, 60, 'a shorter token lifetime narrows');
  });

  for (const [member, value] of [['resources', [API, BILLING]], ['risk_tier', 'low'], ['access_token_ttl', 86400],
    ['max_delegation_depth', 5], ['kind', 'service'], ['owner', 'mallory']]) {
    it(`asking for ${member} beyond what unverified clients get makes the client pending`, async () => {
      const b = assertRegistered(await register(srv, machine({ client_name: `greedy ${member}`, scope: 'read',
        [member]: value })), 'pending');
      assert.deepEqual(b[member], value, 'the request shows what was asked');
      const r = await ccToken(srv, b, 'read');
      assert.equal(r.status, 401, show(r));
      assert.equal(pendingOf(srv, b.client_id).length, 1);
    });
  }

  it('the owner a client names for itself cannot approve it', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'self-owned', scope: 'read write', owner: 'mallory' })), 'pending');
    const [req] = pendingOf(srv, b.client_id);
    const byOwner = srv.cli(['request', 'approve', req.id, '--by', 'mallory']);
    assert.notEqual(byOwner.code, 0, describeRun(byOwner));
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'pending');
    const ok = cliJson(srv, ['request', 'approve', req.id, '--by', 'ann']);
    assert.equal(ok.status, 'approved');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).owner, 'mallory', 'approved as shown');
  });

  it('an RFC 7592 update cannot widen privileged members of an active client', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'grower', scope: 'read' })), 'active');
    const up = await regUpdate(srv, b.client_id, b.registration_access_token,
      machine({ client_id: b.client_id, client_name: 'grower', scope: 'read', resources: [BILLING], risk_tier: 'low' }));
    assert.equal(up.status, 200, show(up));
    assert.equal(up.json.status, 'pending');
    assert.equal((await ccToken(srv, b, 'read')).status, 401);
  });

  it('workload_identity is never set by self-registration', async () => {
    await refusedRegistration(srv, () => register(srv, machine({ client_name: 'wl', scope: 'read',
      workload_identity: { issuer: 'https://k8s.example.com', subject: 'system:serviceaccount:ns:sa' } })),
    400, 'invalid_client_metadata', /workload_identity/);
    const statement = await sign(pub, { iss: PUBLISHER, iat: now(), exp: now() + 600, software_id: 'wl',
      workload_identity: { issuer: 'https://k8s.example.com', subject: 'system:serviceaccount:ns:sa' } });
    await refusedRegistration(srv, () => register(srv, machine({ client_name: 'wl2', software_statement: statement })),
      400, 'invalid_client_metadata', /workload_identity/);
  });

  it('a workload_identity is bound to one client only', () => {
    const wi = { issuer: 'https://k8s.example.com', subject: 'system:serviceaccount:ns:one' };
    const a = srv.cli(['client', 'create', '--json'], { input: JSON.stringify({ client_name: 'wa', token_endpoint_auth_method: 'private_key_jwt', workload_identity: wi }) });
    assert.equal(a.code, 0, describeRun(a));
    const before_ = clientIds(srv);
    const b = srv.cli(['client', 'create', '--json'], { input: JSON.stringify({ client_name: 'wb', token_endpoint_auth_method: 'private_key_jwt', workload_identity: wi }) });
    assert.notEqual(b.code, 0, describeRun(b));
    assert.match(b.stderr, /workload_identity/);
    assert.deepEqual(clientIds(srv), before_, 'nothing created');
    const other = cliJson(srv, ['client', 'create'], { input: JSON.stringify({ client_name: 'wc' }) });
    const u = srv.cli(['client', 'update', other.client_id],
      { input: JSON.stringify({ token_endpoint_auth_method: 'private_key_jwt', workload_identity: wi }) });
    assert.notEqual(u.code, 0, describeRun(u));
  });

  it('a statement vouches only for the claims it signs: unsigned members beside it are unvouched', async () => {
    const statement = await sign(pub, { iss: PUBLISHER, iat: now(), exp: now() + 600, software_id: 'stmt-a',
      scope: 'read', resources: [API, BILLING] });
    // signed resources: active with them
    const ok = assertRegistered(await register(srv, machine({ client_name: 's', software_statement: statement })), 'active');
    assert.deepEqual(ok.resources, [API, BILLING]);
    // unsigned owner and scope beside a valid statement: not believed
    for (const extra of [{ owner: 'mallory' }, { risk_tier: 'low' }, { scope: 'read write' }]) {
      const stmt = await sign(pub, { iss: PUBLISHER, iat: now(), exp: now() + 600, software_id: 'stmt-b' });
      const b = assertRegistered(await register(srv, machine({ client_name: 'u', software_statement: stmt, ...extra })), 'pending');
      assert.equal(pendingOf(srv, b.client_id).length, 1, JSON.stringify(extra));
    }
  });

  it('many instances may register with one statement and one software_id', async () => {
    const statement = await sign(pub, { iss: PUBLISHER, iat: now(), exp: now() + 600, software_id: 'multi', scope: 'read' });
    const a = assertRegistered(await register(srv, machine({ software_statement: statement })), 'active');
    const b = assertRegistered(await register(srv, machine({ software_statement: statement })), 'active');
    assert.notEqual(a.client_id, b.client_id);
  });

  it('an initial access token policy may set privileged members; beyond it is refused', async () => {
    const t = cliJson(srv, ['iat', 'create', '--max-uses', '5', '--policy',
      JSON.stringify({ resources: [API, BILLING], risk_tier: 'medium', max_delegation_depth: 3 })]);
    const b = assertRegistered(await register(srv, machine({ client_name: 'team', scope: 'read write',
      resources: [BILLING], risk_tier: 'medium', max_delegation_depth: 3 }), { iat: t.initial_access_token }), 'active');
    assert.deepEqual(b.resources, [BILLING]);
    await refusedRegistration(srv, () => register(srv, machine({ client_name: 'over', resources: ['https://other.example.com'] }),
      { iat: t.initial_access_token }), 400, 'invalid_client_metadata', /resources/);
    await refusedRegistration(srv, () => register(srv, machine({ client_name: 'low', risk_tier: 'low' }),
      { iat: t.initial_access_token }), 400, 'invalid_client_metadata', /risk_tier/);
  });
});

describe('privileged members under excess = reduce', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { open: 'true', unverified_scopes: 'read', excess: 'reduce',
      unverified_grant_types: 'client_credentials', rate_per_source: 1000 } } });
    createScope(srv, 'read');
  });
  after(() => srv?.stop());

  it('they are reduced to the values of unverified clients', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'r', scope: 'read', resources: [API],
      risk_tier: 'low', owner: 'someone', access_token_ttl: 86400 })), 'active');
    assert.equal(b.resources, undefined);
    assert.equal(b.risk_tier, 'high');
    assert.equal(b.owner, undefined);
    assert.equal(b.access_token_ttl, undefined);
  });
});

describe('a publisher may allow one instance per software_id', { timeout: 60_000 }, () => {
  let srv;
  let dir;
  let pub;
  const ONE = 'https://single.example.com';
  before(async () => {
    pub = await keyPair('ES256');
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-single-'));
    await writeFile(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [pub.publicJwk] }));
    await writeFile(path.join(dir, 'publishers.json'),
      JSON.stringify([{ issuer: ONE, jwks_file: 'jwks.json', single_instance: true }]));
    srv = await startServer({ config: { registration: { open: 'true', unverified_grant_types: 'client_credentials',
      rate_per_source: 1000, software_statement_issuers: path.join(dir, 'publishers.json') } } });
    createScope(srv, 'read');
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a second registration of the same software_id is refused; another software_id is not', async () => {
    const st = await sign(pub, { iss: ONE, iat: now(), exp: now() + 600, software_id: 'solo', scope: 'read' });
    assertRegistered(await register(srv, machine({ software_statement: st })), 'active');
    await refusedRegistration(srv, () => register(srv, machine({ software_statement: st })),
      400, 'invalid_software_statement', /solo/);
    const other = await sign(pub, { iss: ONE, iat: now(), exp: now() + 600, software_id: 'duo', scope: 'read' });
    assertRegistered(await register(srv, machine({ software_statement: other })), 'active');
  });

  it('an expired statement or one issued in the future is refused', async () => {
    const old = await sign(pub, { iss: ONE, iat: now() - 7200, exp: now() - 3600, software_id: 'old' });
    await refusedRegistration(srv, () => register(srv, machine({ software_statement: old })),
      400, 'invalid_software_statement', /expired/);
    const future = await sign(pub, { iss: ONE, iat: now() + 3600, exp: now() + 7200, software_id: 'future' });
    await refusedRegistration(srv, () => register(srv, machine({ software_statement: future })),
      400, 'invalid_software_statement', /iat/);
  });
});
