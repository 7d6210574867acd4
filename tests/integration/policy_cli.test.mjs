// `mandate policy`: the Cedar policies of the embedded PDP kept in the
// database (add, --replace, list, show, remove, validate) and `policy eval`
// (SPEC §2.1, pinned): one AuthZEN evaluation request on standard input,
// decided with policy and entity files, or with the server's stored
// policies over Mandate's own data (a real client's attributes, a user's
// roles, scopes, and the entity files of [policy] entities). Bad input —
// a parse error (named by line and column), a bad id, an unknown id, a
// policy id used twice — is refused with a clear error and changes
// nothing; every change is audited with the text's SHA-256. A running
// server decides with a policy the command line added within about a
// second, without a restart.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { parseEvents, show, tokenBasic } from './lib/oauth.mjs';
import {
  cliJson, createClient, createScope, describeRun, ensureOwner, prepare, runMandate, sleep, startServer,
} from './lib/server.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const req = (subject, action, resource, context) => JSON.stringify({
  subject: { type: subject[0], id: subject[1], ...(subject[2] ? { properties: subject[2] } : {}) },
  action: { name: action },
  resource: { type: resource[0], id: resource[1] },
  ...(context ? { context } : {}),
});

describe('mandate policy', { timeout: 180_000 }, () => {
  let srv;
  let dir;
  let agent; // a real client: kind agent, high tier, owned by ann, secret-authenticated

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-policy-cli-'));
    await writeFile(path.join(dir, 'teams.json'), JSON.stringify([
      { uid: { type: 'Team', id: 'finance' }, attrs: { budget: 1000 }, parents: [] },
    ]));
    srv = await startServer({ config: { policy: { entities: path.join(dir, 'teams.json') } } });
    createScope(srv, 'payments', { description: 'Move money', sensitivity: 'approval' });
    ensureOwner(srv, 'ann');
    agent = createClient(srv, { client_name: 'Payment agent', kind: 'agent', risk_tier: 'high',
      owner: 'ann', grant_types: ['client_credentials'], scope: 'payments',
      token_endpoint_auth_method: 'client_secret_basic' });
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cli = (args, input) => srv.cli(args, { input });
  const fails = (r, re) => {
    assert.equal(r.code, 1, describeRun(r));
    assert.equal(r.stdout, '', describeRun(r));
    assert.match(r.stderr, re, describeRun(r));
  };
  const ids = () => cliJson(srv, ['policy', 'list']).map((p) => p.id);
  const audited = (type) => parseEvents(cli(['audit', 'export']).stdout).filter((e) => e.type === type);

  test('add, list, show, replace, remove: stored, listed with the ids of its policies, audited with the SHA-256', () => {
    const text = 'forbid(principal is Client, action == Action::"token.issue", resource is Scope)\n'
      + '  when { principal.risk_tier == "high" && resource.sensitivity == "approval" };\n';
    let r = cli(['policy', 'add', 'no-high-tier', '--description', 'High tier: no approval scope'], text);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /policy no-high-tier added/);
    const multi = '@id("ops-read")\npermit(principal, action == Action::"read", resource);\n'
      + 'permit(principal, action == Action::"list", resource);\n';
    const file = path.join(dir, 'multi.cedar');
    return writeFile(file, multi).then(() => {
      const doc = cliJson(srv, ['policy', 'add', 'ops', '--file', file]);
      assert.deepEqual(doc.policies, ['ops-read', 'ops.1']);
      assert.equal(doc.sha256, sha256(multi));
      const list = cliJson(srv, ['policy', 'list']);
      assert.deepEqual(list.map((p) => p.id), ['no-high-tier', 'ops']);
      const one = list[0];
      assert.deepEqual(Object.keys(one).sort(),
        ['created_at', 'created_by', 'description', 'id', 'policies', 'sha256', 'updated_at']);
      assert.equal(one.description, 'High tier: no approval scope');
      assert.deepEqual(one.policies, ['no-high-tier']);
      assert.equal(one.sha256, sha256(text));
      assert.match(one.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const shown = cliJson(srv, ['policy', 'show', 'no-high-tier']);
      assert.equal(shown.text, text);
      r = cli(['policy', 'show', 'no-high-tier']);
      assert.equal(r.code, 0, describeRun(r));
      assert.ok(r.stdout.includes('principal.risk_tier == "high"'), r.stdout);

      const added = audited('policy.added').map((e) => e.data);
      assert.deepEqual(added.find((d) => d.id === 'ops'), { id: 'ops', sha256: sha256(multi) });

      // --replace replaces (created_at kept), audited as replaced
      const next = 'permit(principal, action == Action::"read", resource);';
      r = cli(['policy', 'add', 'ops', '--replace'], next);
      assert.equal(r.code, 0, describeRun(r));
      assert.match(r.stdout, /policy ops replaced/);
      const replaced = cliJson(srv, ['policy', 'show', 'ops']);
      assert.equal(replaced.text, next);
      assert.deepEqual(replaced.policies, ['ops']);
      assert.equal(replaced.created_at, doc.created_at);
      assert.deepEqual(audited('policy.replaced').map((e) => e.data), [{ id: 'ops', sha256: sha256(next) }]);

      r = cli(['policy', 'remove', 'ops']);
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(ids(), ['no-high-tier']);
      assert.deepEqual(audited('policy.removed').map((e) => e.data), [{ id: 'ops', sha256: sha256(next) }]);
      assert.ok(audited('policy.removed').every((e) => e.actor === 'cli'));
    });
  });

  test('bad input is refused with a clear error and changes nothing', () => {
    const before_ = cliJson(srv, ['policy', 'list']);
    const events = parseEvents(cli(['audit', 'export']).stdout).length;
    // a parse error names line and column
    fails(cli(['policy', 'add', 'broken'], 'permit(principal, action, resource)\n  when { principal.x == };'),
      /line 2, column \d+/);
    // bad ids
    fails(cli(['policy', 'add', 'has space'], 'permit(principal, action, resource);'), /policy id/);
    fails(cli(['policy', 'add', 'x'.repeat(129)], 'permit(principal, action, resource);'), /policy id/);
    fails(cli(['policy', 'add', 'a/b'], 'permit(principal, action, resource);'), /policy id/);
    // an empty text
    fails(cli(['policy', 'add', 'empty'], ''), /empty/);
    // the id exists without --replace
    fails(cli(['policy', 'add', 'no-high-tier'], 'permit(principal, action, resource);'), /already exists/);
    // a policy id used twice across the stored set (an @id equal to another text's policy)
    fails(cli(['policy', 'add', 'dup'], '@id("no-high-tier")\npermit(principal, action, resource);'),
      /duplicate policy id no-high-tier/);
    // or with a shipped policy of [policy] builtin (the baseline is on by default)
    fails(cli(['policy', 'add', 'mandate.baseline'], 'permit(principal, action, resource);'),
      /duplicate policy id mandate\.baseline/);
    // unknown ids
    fails(cli(['policy', 'show', 'nope']), /not_found: no policy nope/);
    fails(cli(['policy', 'remove', 'nope']), /not_found: no policy nope/);
    // a missing file
    fails(cli(['policy', 'add', 'f', '--file', path.join(dir, 'missing.cedar')]), /missing\.cedar/);
    assert.deepEqual(cliJson(srv, ['policy', 'list']), before_);
    assert.equal(parseEvents(cli(['audit', 'export']).stdout).length, events, 'nothing audited');
  });

  test('validate parses without storing: the ids of its policies, or the error with its position (exit 1)', () => {
    let r = cli(['policy', 'validate'], 'permit(principal, action, resource);\n@id("x") forbid(principal, action, resource);');
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(r.stdout.trim().split('\n'), ['policy0', 'x']);
    r = cli(['policy', 'validate', '--json'], 'permit(principal, action, resource);');
    assert.deepEqual(r.json(), { policies: ['policy0'] });
    fails(cli(['policy', 'validate'], '\n\n   permit(principal action, resource);'), /line 3, column \d+/);
    assert.deepEqual(ids(), ['no-high-tier']);
    // validate needs no database: it runs with built-in defaults anywhere
    r = runMandate(['--config', '', 'policy', 'validate'], { input: 'permit(principal, action, resource);', cwd: dir });
    assert.equal(r.code, 0, describeRun(r));
  });

  test('eval with policy and entity files: the AuthZEN answer, properties as attributes', async () => {
    const pol = path.join(dir, 'eval.cedar');
    const ent = path.join(dir, 'eval.json');
    await writeFile(pol, 'permit(principal in Group::"staff", action == Action::"read", resource)\n'
      + '  when { context.hour < 18 };\n'
      + 'forbid(principal, action, resource) when { principal.blocked };\n'
      + 'permit(principal, action == Action::"write", resource) when { principal.level > 3 };\n');
    await writeFile(ent, JSON.stringify([
      { uid: { type: 'User', id: 'bo' }, attrs: { blocked: false, level: 1 }, parents: [{ type: 'Group', id: 'staff' }] },
      { uid: { type: 'Group', id: 'staff' }, attrs: {}, parents: [] },
    ]));
    const ev = (input, extra = []) => cli(['policy', 'eval', '--policies', pol, '--entities', ent, '--json', ...extra], input);
    let r = ev(req(['User', 'bo'], 'read', ['Doc', 'd1'], { hour: 9 }));
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(r.json(), { decision: true, context: { reasons: ['policy0'], errors: [] } });
    r = ev(req(['User', 'bo'], 'read', ['Doc', 'd1'], { hour: 20 }));
    assert.deepEqual(r.json(), { decision: false, context: { reasons: [], errors: [] } });
    // an unknown principal: no attributes, the forbid errs and is reported (the write permit's scope
    // does not match: it is not evaluated)
    r = ev(req(['User', 'zed'], 'read', ['Doc', 'd1'], { hour: 9 }));
    assert.deepEqual(r.json(), { decision: false, context: { reasons: [], errors: ['policy1'] } });
    // the subject's properties are its attributes, before the file's
    r = ev(req(['User', 'bo', { blocked: true, level: 5 }], 'write', ['Doc', 'd1']));
    assert.deepEqual(r.json(), { decision: false, context: { reasons: ['policy1'], errors: [] } });
    r = ev(req(['User', 'bo', { blocked: false, level: 5 }], 'write', ['Doc', 'd1']));
    assert.deepEqual(r.json(), { decision: true, context: { reasons: ['policy2'], errors: [] } });
    // bad requests
    fails(ev('{"subject":{"type":"User"},"action":{"name":"read"},"resource":{"type":"Doc","id":"d"}}'),
      /subject type and id are required/);
    fails(ev('not json'), /JSON object/);
    fails(cli(['policy', 'eval', '--policies', pol, '--entities', ent], req(['User', 'bo'], 'read', ['Doc', 'd1'])),
      /usage: mandate policy eval/);
    fails(cli(['policy', 'eval', '--policies', path.join(dir, 'missing.cedar'), '--entities', ent, '--json'],
      req(['User', 'bo'], 'read', ['Doc', 'd1'])), /missing\.cedar/);
  });

  test('eval over the server\'s policies and data: a real client\'s attributes, its owner, scopes, entity files', async () => {
    const base = req(['Client', agent.client_id], 'token.issue', ['Scope', 'payments']);
    let r = cli(['policy', 'eval', '--json'], base);
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(r.json(), { decision: false, context: { reasons: ['no-high-tier'], errors: [] } });

    // every attribute of the team's entity table, with the policies of a file
    const attrs = path.join(dir, 'attrs.cedar');
    await writeFile(attrs, [
      'permit(principal, action, resource) when { principal.kind == "agent" };',
      'permit(principal, action, resource) when { principal.risk_tier == "high" };',
      'permit(principal, action, resource) when { principal.status == "active" };',
      'permit(principal, action, resource) when { principal.owner == User::"ann" };',
      'permit(principal, action, resource) when { principal.token_endpoint_auth_method == "client_secret_basic" };',
      'permit(principal, action, resource) when { principal.verified };',
      'permit(principal, action, resource) when { principal.origin == "admin" };',
      'permit(principal, action, resource) when { principal has software_id };',
      'permit(principal, action, resource) when { resource.sensitivity == "approval" && resource.description == "Move money" };',
      'permit(principal, action, resource) when { principal.owner.status == "active" };',
      'permit(principal, action, resource) when { Team::"finance".budget == 1000 };',
    ].join('\n'));
    r = cli(['policy', 'eval', '--policies', attrs, '--json'], base);
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(r.json().context.reasons,
      ['policy0', 'policy1', 'policy2', 'policy3', 'policy4', 'policy5', 'policy6', 'policy8', 'policy9', 'policy10']);
    assert.deepEqual(r.json().context.errors, []);

    // a person: roles as a set and as parents
    r = srv.cli(['user', 'create', 'rita', '--role', 'approver', '--password-stdin'], { input: 'correct horse battery\n' });
    assert.equal(r.code, 0, describeRun(r));
    const people = path.join(dir, 'people.cedar');
    await writeFile(people, 'permit(principal in Role::"approver", action, resource) when { principal.roles.contains("approver") && context.user.status == "active" };');
    r = cli(['policy', 'eval', '--policies', people, '--json'],
      req(['User', 'rita'], 'approve', ['Scope', 'payments'], { user: { __entity: { type: 'User', id: 'rita' } } }));
    assert.deepEqual(r.json(), { decision: true, context: { reasons: ['policy0'], errors: [] } });

    // suspended: its status changes what the stored policies see
    r = cli(['client', 'suspend', agent.client_id]);
    assert.equal(r.code, 0, describeRun(r));
    r = cli(['policy', 'eval', '--policies', attrs, '--json'], base);
    assert.ok(!r.json().context.reasons.includes('policy2'), r.stdout);
    assert.equal(cli(['client', 'resume', agent.client_id]).code, 0);
  });

  test('a running server decides with a policy the command line added, within about a second', async () => {
    const admin = createClient(srv, { client_name: 'Ops', kind: 'service', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'mandate:admin' });
    const t = await tokenBasic(srv, admin, { scope: 'mandate:admin' });
    assert.equal(t.status, 200, show(t));
    const evaluate = async () => {
      const res = await fetch(`${srv.url}/admin/v1/policies/evaluate`, {
        method: 'POST', signal: AbortSignal.timeout(10_000),
        headers: { authorization: `Bearer ${t.json.access_token}`, 'content-type': 'application/json' },
        body: req(['Client', admin.client_id], 'report', ['Scope', 'payments']),
      });
      assert.equal(res.status, 200);
      return res.json();
    };
    assert.equal((await evaluate()).decision, false);
    const r = cli(['policy', 'add', 'reports'], 'permit(principal is Client, action == Action::"report", resource);');
    assert.equal(r.code, 0, describeRun(r));
    const start = Date.now();
    let got;
    for (let i = 0; i < 50 && Date.now() - start < 10_000; i++) { // bounded: ~1 s expected
      got = await evaluate();
      if (got.decision) break;
      await sleep(100);
    }
    assert.deepEqual(got, { decision: true, context: { reasons: ['reports'], errors: [] } });
    assert.equal(cli(['policy', 'remove', 'reports']).code, 0);
    for (let i = 0; i < 50 && Date.now() - start < 20_000; i++) {
      got = await evaluate();
      if (!got.decision) break;
      await sleep(100);
    }
    assert.equal(got.decision, false);
  });
});

describe('[policy] entities', { timeout: 60_000 }, () => {
  test('a bad entity file stops the start, named', async () => {
    const ctx = await prepare();
    try {
      const bad = path.join(ctx.dir, 'bad-entities.json');
      await writeFile(bad, '[{"uid": {"type": "Team"}}]');
      const conf = () => ['--config', ctx.conf];
      assert.equal(runMandate([...conf(), 'init'], { cwd: ctx.dir }).code, 0);
      for (const [file, re] of [[bad, /bad-entities\.json/], [path.join(ctx.dir, 'none.json'), /none\.json/]]) {
        const r = runMandate([...conf(), 'serve'], { cwd: ctx.dir, env: { MANDATE_POLICY_ENTITIES: file } });
        assert.equal(r.code, 1, describeRun(r));
        assert.match(r.stderr, re, describeRun(r));
        // the command line that decides with the server's data says the same
        const e = runMandate([...conf(), 'policy', 'eval', '--json'], { cwd: ctx.dir, env: { MANDATE_POLICY_ENTITIES: file },
          input: req(['User', 'a'], 'read', ['Doc', 'd']) });
        assert.equal(e.code, 1, describeRun(e));
        assert.match(e.stderr, re, describeRun(e));
      }
    } finally {
      await ctx.remove();
    }
  });
});
