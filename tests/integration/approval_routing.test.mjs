// Approval routing (SPEC §3.5): [approvals] routing says who must approve a
// request — the person asked, the client's owner, any approver, or a quorum
// of N distinct approvers (never the client's owner) — and how long it may
// wait before it expires as denied. `mandate request approve|deny --by`
// goes through the same rule as the approvals inbox.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliJson, createScope, describeRun, prepare, runMandate, startServer } from './lib/server.mjs';
import { auditEvents, eventType, waitAudit } from './lib/oauth.mjs';
import { assertRegistered, register } from './lib/register.mjs';

const machine = (over = {}) => ({ grant_types: ['client_credentials'], ...over });
const requestOf = (srv, clientId) => cliJson(srv, ['request', 'list'])
  .find((r) => r.client_id === clientId);

const RULES = [
  { type: 'registration', scope: 'payments', approve: 'quorum', n: 2 },
  { type: 'registration', scope: 'brief', approve: 'approver', expires_in: 2 },
  { type: 'registration', risk_tier: 'low', approve: 'owner' },
];

describe('approval routing', { timeout: 120_000 }, () => {
  let srv;
  let dir;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-routing-'));
    await writeFile(path.join(dir, 'routing.json'), JSON.stringify(RULES));
    srv = await startServer({ config: {
      registration: { open: 'true', unverified_scopes: 'read', unverified_grant_types: 'client_credentials',
        rate_per_source: 1000 },
      approvals: { routing: path.join(dir, 'routing.json'), expiry_interval: '1s' } } });
    for (const s of ['read', 'payments', 'brief']) createScope(srv, s);
    for (const [name, role] of [['ann', 'approver'], ['bob', 'approver'], ['carol', 'admin'],
      ['mallory', 'approver'], ['pat', null]]) {
      const r = srv.cli(['user', 'create', name, ...(role ? ['--role', role] : []), '--password-stdin'],
        { input: 'correct horse battery\n' });
      assert.equal(r.code, 0, describeRun(r));
    }
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const pendingClient = async (over) => {
    const b = assertRegistered(await register(srv, machine(over)), 'pending');
    const req = requestOf(srv, b.client_id);
    assert.equal(req.status, 'pending');
    return { b, req };
  };

  it('a quorum of two needs two distinct approvers; one cannot count twice', async () => {
    const { b, req } = await pendingClient({ client_name: 'payer', scope: 'read payments' });
    assert.equal(req.approve, 'quorum');
    assert.equal(req.quorum, 2);
    const first = cliJson(srv, ['request', 'approve', req.id, '--by', 'ann', '--note', 'looks fine']);
    assert.equal(first.status, 'pending', 'one vote of two');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'pending');
    const again = srv.cli(['request', 'approve', req.id, '--by', 'ann']);
    assert.notEqual(again.code, 0, describeRun(again));
    assert.match(again.stderr, /conflict: ann has voted on req_\S+ already/);
    let listed = requestOf(srv, b.client_id);
    assert.equal(listed.status, 'pending');
    assert.deepEqual(listed.votes.map((v) => [v.approver, v.decision, v.note]), [['ann', 'allow', 'looks fine']]);
    const second = cliJson(srv, ['request', 'approve', req.id, '--by', 'bob']);
    assert.equal(second.status, 'approved');
    assert.equal(second.decided_by, 'bob');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'active');
    listed = requestOf(srv, b.client_id);
    assert.deepEqual(listed.votes.map((v) => v.approver), ['ann', 'bob']);
    const evs = await waitAudit(srv, (e) => e.some((x) => eventType(x) === 'request.approved'
      && JSON.stringify(x).includes(req.id)));
    const mine = (t) => evs.filter((x) => eventType(x) === t && JSON.stringify(x).includes(req.id));
    assert.equal(mine('request.voted').length, 2, 'every vote is audited');
    assert.equal(mine('request.approved').length, 1, 'the decision once');
  });

  it('under a quorum the owner of the client cannot vote on its request; nothing is recorded', async () => {
    const { b, req } = await pendingClient({ client_name: 'own', scope: 'read payments', owner: 'mallory' });
    for (const verb of ['approve', 'deny']) {
      const r = srv.cli(['request', verb, req.id, '--by', 'mallory']);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /access_denied: .*the owner of the client may not vote/);
    }
    const listed = requestOf(srv, b.client_id);
    assert.equal(listed.status, 'pending');
    assert.deepEqual(listed.votes, []);
    // a user without the approver role is no voter either
    const pat = srv.cli(['request', 'approve', req.id, '--by', 'pat']);
    assert.notEqual(pat.code, 0, describeRun(pat));
    assert.match(pat.stderr, /access_denied/);
    assert.deepEqual(requestOf(srv, b.client_id).votes, []);
  });

  it('one deny of a quorum is final', async () => {
    const { b, req } = await pendingClient({ client_name: 'refused', scope: 'read payments' });
    assert.equal(cliJson(srv, ['request', 'approve', req.id, '--by', 'ann']).status, 'pending');
    const d = cliJson(srv, ['request', 'deny', req.id, '--by', 'carol', '--note', 'no']);
    assert.equal(d.status, 'denied');
    assert.equal(d.decided_by, 'carol');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'suspended');
    const late = srv.cli(['request', 'approve', req.id, '--by', 'bob']);
    assert.notEqual(late.code, 0, describeRun(late));
    assert.match(late.stderr, /conflict: request req_\S+ is denied/);
    assert.equal(requestOf(srv, b.client_id).status, 'denied');
    assert.equal(requestOf(srv, b.client_id).votes.length, 2);
  });

  it('an owner rule does not let a registration approve itself: the owner it names is no decider', async () => {
    // the client claims a low risk tier and names its own owner: the rule for low-tier
    // clients says "owner", but a pending registration's owner is part of what is approved
    const { b, req } = await pendingClient({ client_name: 'self-approving', scope: 'read', risk_tier: 'low', owner: 'pat' });
    assert.equal(req.approve, 'approver', 'given to the approvers instead');
    const byOwner = srv.cli(['request', 'approve', req.id, '--by', 'pat']);
    assert.notEqual(byOwner.code, 0, describeRun(byOwner));
    assert.match(byOwner.stderr, /access_denied: .*only an approver or an admin may decide/);
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'pending');
    assert.equal(cliJson(srv, ['request', 'approve', req.id, '--by', 'ann']).status, 'approved');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'active');
  });

  it('a request that waits past expires_in is closed as expired and audited once', async () => {
    const { b, req } = await pendingClient({ client_name: 'brief', scope: 'read brief' });
    assert.ok(Date.parse(req.expires_at) - Date.parse(req.created_at) <= 2000, 'the rule caps the wait');
    const expired = (evs) => evs.filter((x) => eventType(x) === 'request.expired' && JSON.stringify(x).includes(req.id));
    await waitAudit(srv, (evs) => expired(evs).length > 0, { timeoutMs: 15_000, what: 'request.expired' });
    assert.equal(requestOf(srv, b.client_id).status, 'expired');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'suspended', 'expired counts as denied');
    const late = srv.cli(['request', 'approve', req.id, '--by', 'ann']);
    assert.notEqual(late.code, 0, describeRun(late));
    // further sweeps (every second) and a restart do not audit it again
    await srv.restart();
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(expired(auditEvents(srv)).length, 1);
  });
});

describe('a bad routing file stops mandate serve, naming the file', { timeout: 60_000 }, () => {
  const cases = [
    ['not JSON', '[', /routing\.json: must be a JSON array/],
    ['an unknown approver kind', JSON.stringify([{ approve: 'anyone' }]), /routing\.json: rule 1: approve must be user, owner, approver or quorum/],
    ['a quorum without n', JSON.stringify([{ scope: 'x', approve: 'approver' }, { approve: 'quorum' }]), /routing\.json: rule 2: a quorum needs n/],
    ['an unknown member', JSON.stringify([{ approve: 'user', scopes: ['x'] }]), /routing\.json: rule 1: unknown member/],
    ['a bad expires_in', JSON.stringify([{ approve: 'user', expires_in: 'soon' }]), /rule 1: expires_in must be/],
  ];
  for (const [name, text, pattern] of cases) {
    it(`refused: ${name}`, async () => {
      const ctx = await prepare({ config: {} });
      try {
        const file = path.join(ctx.dir, 'routing.json');
        await writeFile(file, text);
        await writeFile(ctx.conf, `${await readFile(ctx.conf, 'utf8')}\n[approvals]\nrouting = ${file}\n`);
        const init = runMandate(['--config', ctx.conf, 'init'], { cwd: ctx.dir });
        assert.equal(init.code, 0, describeRun(init));
        const r = runMandate(['--config', ctx.conf, 'serve'], { cwd: ctx.dir });
        assert.notEqual(r.code, 0, describeRun(r));
        assert.match(r.stderr, pattern, describeRun(r));
        const cli = runMandate(['--config', ctx.conf, 'request', 'list'], { cwd: ctx.dir });
        assert.notEqual(cli.code, 0, describeRun(cli));
        assert.match(cli.stderr, pattern, describeRun(cli));
      } finally {
        await ctx.remove();
      }
    });
  }
});
