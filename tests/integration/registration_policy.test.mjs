// The registration policy (SPEC §3.3): what an unverified self-registered
// client gets, initial access tokens whose policy narrows and vouches,
// pending clients and their approval (`mandate request`), reduced scopes,
// rate limits per source and per token, and the expiry of registered clients
// that never authenticate.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { cliJson, createScope, describeRun, sleep, startServer } from './lib/server.mjs';
import { basic, eventType, jwtParts, post, show, waitAudit } from './lib/oauth.mjs';
import { assertRegistered, clientIds, refusedRegistration, register, regUpdate } from './lib/register.mjs';

const opts = { execute: [client.allowInsecureRequests] };
const token = (srv, c, scope) => post(srv, '/token', { grant_type: 'client_credentials', ...(scope ? { scope } : {}) },
  { headers: { authorization: basic(c.client_id, c.client_secret) } });

function scopes(srv) {
  createScope(srv, 'read', { description: 'Read things' });
  createScope(srv, 'write', { description: 'Write things' });
  createScope(srv, 'payments', { description: 'Move money', sensitivity: 'approval' });
}

const pendingFor = (srv, clientId) => cliJson(srv, ['request', 'list', '--status', 'pending'])
  .filter((r) => r.client_id === clientId);

describe('pending registrations and their approval', { timeout: 90_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { open: 'true', unverified_scopes: 'read', unverified_grant_types: 'client_credentials', rate_per_source: 1000 } } });
    scopes(srv);
    const u = srv.cli(['user', 'create', 'ann', '--role', 'approver', '--password-stdin'], { input: 'correct horse battery\n' });
    assert.equal(u.code, 0, describeRun(u));
    const v = srv.cli(['user', 'create', 'vic', '--password-stdin'], { input: 'correct horse battery\n' });
    assert.equal(v.code, 0, describeRun(v));
  });
  after(() => srv?.stop());

  it('an unverified client gets what unverified clients may get, active, with a capped lifetime', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'small', scope: 'read', expires_at: '2099-01-01T00:00:00Z' }), 'active');
    const days = (Date.parse(b.expires_at) - Date.now()) / 86400e3;
    assert.ok(days > 89 && days <= 90.01, `expires_at capped at unverified_max_lifetime (90d): ${b.expires_at}`);
    assert.equal((await token(srv, b, 'read')).status, 200);
    assert.deepEqual(pendingFor(srv, b.client_id), [], 'no approval request');
  });

  it('asking for more creates the client pending: invalid_client until approved, then a token', async () => {
    const config = await client.dynamicClientRegistration(new URL(srv.issuer), {
      client_name: 'Expense agent', kind: 'agent', token_endpoint_auth_method: 'client_secret_post', scope: 'read write',
    }, undefined, opts);
    const meta = config.clientMetadata();
    assert.equal(meta.status, 'pending');
    await assert.rejects(client.clientCredentialsGrant(config, { scope: 'read' }),
      (e) => e.status === 401 && (e.error === 'invalid_client'
        || (Array.isArray(e.cause) && e.cause.some((c) => c.parameters?.error === 'invalid_client'))),
      'a pending client gets 401 invalid_client');
    const [req] = pendingFor(srv, meta.client_id);
    assert.ok(req, 'an approval request of type registration');
    assert.deepEqual(Object.keys(req).filter((k) => ['id', 'type', 'status', 'client_id', 'subject', 'scope', 'resource',
      'binding_message', 'authorization_details', 'created_at', 'expires_at'].includes(k)).length, 11, 'the pinned item shape');
    assert.equal(req.type, 'registration');
    assert.match(req.id, /^req_/);
    assert.equal(req.scope, 'read write');

    const byVic = srv.cli(['request', 'approve', req.id, '--by', 'vic']);
    assert.equal(byVic.code, 1, 'a user who is neither approver, admin nor owner cannot approve');
    assert.match(byVic.stderr, /^mandate: /);
    const ok = cliJson(srv, ['request', 'approve', req.id, '--by', 'ann', '--note', 'known vendor', '--for', '30d']);
    assert.equal(ok.status, 'approved');
    assert.equal(ok.decided_by, 'ann');
    assert.equal(ok.note, 'known vendor');
    const again = srv.cli(['request', 'approve', req.id]);
    assert.equal(again.code, 1, 'a decided request cannot be decided again');

    const tok = await client.clientCredentialsGrant(config, { scope: 'read write' });
    assert.deepEqual(tok.scope.split(' ').sort(), ['read', 'write']);
    const shown = cliJson(srv, ['client', 'show', meta.client_id]);
    assert.equal(shown.status, 'active');
    const days = (Date.parse(shown.expires_at) - Date.now()) / 86400e3;
    assert.ok(days > 29 && days <= 30.01, `--for 30d: ${shown.expires_at}`);
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'request.approved' && e.actor === 'ann'
      && e.client_id === meta.client_id));
  });

  it('a scope of sensitivity approval makes the client pending even with nothing else asked', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'payer', scope: 'read payments' }), 'pending');
    const r = await token(srv, b, 'read');
    assert.equal(r.status, 401, show(r));
    assert.equal(r.json.error, 'invalid_client');
    assert.equal(pendingFor(srv, b.client_id).length, 1);
  });

  it('deny: the client stays unusable (suspended); the decision is recorded and audited', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'denied', scope: 'write' }), 'pending');
    const [req] = pendingFor(srv, b.client_id);
    const d = cliJson(srv, ['request', 'deny', req.id, '--note', 'unknown publisher']);
    assert.equal(d.status, 'denied');
    assert.equal(d.note, 'unknown publisher');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'suspended');
    assert.equal((await token(srv, b, 'write')).status, 401);
    const listed = cliJson(srv, ['request', 'list']).find((x) => x.id === req.id);
    assert.equal(listed.status, 'denied');
    assert.equal(listed.decided_by, 'cli');
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'request.denied' && e.client_id === b.client_id));
    // the denied client cannot reactivate itself through RFC 7592
    const up = await regUpdate(srv, b.client_id, b.registration_access_token, { client_id: b.client_id, scope: 'read' });
    assert.equal(up.status, 200, show(up));
    assert.equal(up.json.status, 'suspended');
  });

  it('an active client that asks for more through RFC 7592 becomes pending; keeping what it has does not', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'grower', scope: 'read' }), 'active');
    const same = await regUpdate(srv, b.client_id, b.registration_access_token, { client_id: b.client_id, client_name: 'grower 2', scope: 'read' });
    assert.equal(same.json.status, 'active', show(same));
    const more = await regUpdate(srv, b.client_id, b.registration_access_token, { client_id: b.client_id, scope: 'read write' });
    assert.equal(more.status, 200, show(more));
    assert.equal(more.json.status, 'pending');
    assert.equal(pendingFor(srv, b.client_id).length, 1);
  });
});

describe('initial access token policies', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { rate_per_source: 1000 } } });
    scopes(srv);
  });
  after(() => srv?.stop());

  const policy = { grant_types: ['client_credentials'], scope: 'read write', kinds: ['agent'], owner: 'alice' };

  it('a policy narrows the client and vouches for its scopes; the owner is forced', async () => {
    const t = cliJson(srv, ['iat', 'create', '--max-uses', '10', '--policy', JSON.stringify(policy)]);
    assert.deepEqual(t.policy.scopes, ['read', 'write']);
    const b = assertRegistered(await register(srv, { client_name: 'team agent', kind: 'agent', owner: 'mallory', scope: 'read write' },
      { iat: t.initial_access_token }), 'active');
    assert.equal(b.owner, 'alice', 'owner forced to the policy owner');
    assert.equal(b.expires_at, undefined, 'a client vouched for by a token policy has no lifetime cap');
    const r = await token(srv, b, 'read write');
    assert.equal(r.status, 200, show(r));
    assert.equal(jwtParts(r.json.access_token).payload.app.owner, 'alice');
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'client.registered' && e.client_id === b.client_id
      && JSON.stringify(e).includes(t.id)));

    await refusedRegistration(srv, () => register(srv, { client_name: 'svc', kind: 'service', scope: 'read' }, { iat: t.initial_access_token }),
      400, 'invalid_client_metadata', /kind/);
    await refusedRegistration(srv, () => register(srv, { client_name: 'jb', kind: 'agent', grant_types: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] },
      { iat: t.initial_access_token }), 400, 'invalid_client_metadata', /grant type/);
    await refusedRegistration(srv, () => register(srv, { client_name: 'greedy', kind: 'agent', scope: 'read payments' }, { iat: t.initial_access_token }),
      400, 'invalid_client_metadata', /scope/);
  });

  it('an approval scope in the policy still needs approval', async () => {
    const t = cliJson(srv, ['iat', 'create', '--policy', '{"scopes":["read","payments"]}']);
    const b = assertRegistered(await register(srv, { client_name: 'payer', scope: 'read payments' }, { iat: t.initial_access_token }), 'pending');
    assert.equal(pendingFor(srv, b.client_id).length, 1);
  });

  it('a token without a policy vouches for the client: active, no lifetime cap', async () => {
    const t = cliJson(srv, ['iat', 'create']);
    const b = assertRegistered(await register(srv, { client_name: 'plain', scope: 'read' }, { iat: t.initial_access_token }), 'active');
    assert.equal(b.expires_at, undefined, 'vouched for by the admin who made the token: no lifetime cap');
    assert.equal((await token(srv, b, 'read')).status, 200);
  });
});

describe('excess = reduce', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { open: 'true', unverified_scopes: 'read', unverified_grant_types: 'client_credentials', excess: 'reduce', rate_per_source: 1000 } } });
    scopes(srv);
  });
  after(() => srv?.stop());

  it('the client is created active with what it may get', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'reduced', scope: 'read write payments' }), 'active');
    assert.equal(b.scope, 'read');
    assert.equal((await token(srv, b, 'read')).status, 200);
    const w = await token(srv, b, 'write');
    assert.equal(w.status, 400, show(w));
    assert.equal(w.json.error, 'invalid_scope');
  });

  it('a reduction that leaves no grant type is refused', async () => {
    await refusedRegistration(srv, () => register(srv, { client_name: 'jb only', grant_types: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] }),
      400, 'invalid_client_metadata', /grant type/);
  });
});

describe('rate limits', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { open: 'true', rate_per_source: 3, rate_per_iat: 2 } } });
  });
  after(() => srv?.stop());

  it('per source: one too many in a minute -> 429 with Retry-After, nothing created, audited', async () => {
    // 2 x limit + 1 requests: whatever minute boundary falls between them, one window overflows.
    const before_ = clientIds(srv).length;
    const rs = [];
    for (let i = 0; i < 7; i++) rs.push(await register(srv, { client_name: `burst ${i}` }));
    const limited = rs.filter((r) => r.status === 429);
    assert.ok(limited.length >= 1, `429 after 3 per minute: ${rs.map((r) => r.status)}`);
    const r = limited[0];
    const retry = Number(r.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${r.headers.get('retry-after')}`);
    assert.equal(r.json.error, 'rate_limited');
    assert.equal(clientIds(srv).length - before_, rs.filter((x) => x.status === 201).length, 'a refused request creates nothing');
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'registration.refused' && /rate_limited/.test(e.reason)));
  });
});

describe('per initial access token rate limit', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { rate_per_source: 1000, rate_per_iat: 2 } } });
  });
  after(() => srv?.stop());

  it('one too many registrations with the same token in a minute -> 429', async () => {
    const t = cliJson(srv, ['iat', 'create', '--max-uses', '100']);
    const rs = [];
    for (let i = 0; i < 5; i++) rs.push(await register(srv, { client_name: `iat burst ${i}` }, { iat: t.initial_access_token }));
    assert.ok(rs.some((r) => r.status === 429), `429 after 2 per minute per token: ${rs.map((r) => r.status)}`);
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'registration.refused' && /rate_limited/.test(e.reason)
      && JSON.stringify(e).includes(t.id)));
  });
});

describe('registered clients that never authenticate expire', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { open: 'true', inactive_expiry: '2s', unverified_grant_types: 'client_credentials', rate_per_source: 1000 } } });
  });
  after(() => srv?.stop());

  it('after inactive_expiry a never-used client is expired; a used one is not', async () => {
    const idle = assertRegistered(await register(srv, { client_name: 'idle' }));
    const used = assertRegistered(await register(srv, { client_name: 'used' }));
    assert.equal((await token(srv, used)).status, 200);
    const adminMade = cliJson(srv, ['client', 'create'], { input: JSON.stringify({ client_name: 'by admin' }) });
    await sleep(3000);
    assert.equal(cliJson(srv, ['client', 'show', idle.client_id]).status, 'expired', 'client show reports it expired');
    assert.equal(cliJson(srv, ['client', 'list']).find((c) => c.client_id === idle.client_id).status, 'expired');
    const r = await token(srv, idle);
    assert.equal(r.status, 401, show(r));
    assert.equal(r.json.error, 'invalid_client');
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'client.auth_failed' && e.client_id === idle.client_id
      && /expired/.test(e.reason)));
    assert.equal(cliJson(srv, ['client', 'show', used.client_id]).status, 'active');
    assert.equal((await token(srv, used)).status, 200, 'a client that authenticated stays');
    assert.equal(cliJson(srv, ['client', 'show', adminMade.client_id]).status, 'active', 'admin-created clients are not concerned');
    const resume = srv.cli(['client', 'resume', idle.client_id]);
    assert.notEqual(resume.code, 0, `an expired client cannot be resumed: ${resume.stdout} ${resume.stderr}`);
    assert.match(resume.stderr, /^mandate: .*expired/);
    assert.equal(cliJson(srv, ['client', 'show', idle.client_id]).status, 'expired');
  });
});
