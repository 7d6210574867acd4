// The command line (SPEC §2.1): client and scope management against a running
// server, JSON output, exit codes and the one-line `mandate:` error.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createClient, createScope, describeRun, runMandate, sleep, startServer,
} from './lib/server.mjs';
import {
  API, agentMetadata, createFixtureScopes, show, tokenBasic,
} from './lib/oauth.mjs';

/** Asserts a failed command: non-zero exit, one `mandate: …` line on stderr, nothing on stdout. */
function assertCliError(r, pattern) {
  assert.notEqual(r.code, 0, describeRun(r));
  assert.equal(r.signal, null, describeRun(r));
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr: ${describeRun(r)}`);
  assert.match(lines[0], /^mandate: \S/, describeRun(r));
  if (pattern) assert.match(lines[0], pattern, describeRun(r));
  assert.equal(r.stdout.trim(), '', `nothing on stdout: ${describeRun(r)}`);
}

function ok(r) {
  assert.equal(r.code, 0, describeRun(r));
  return r;
}

describe('mandate client', { timeout: 90_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
  });
  after(() => srv?.stop());

  const show_ = (id) => ok(srv.cli(['client', 'show', id, '--json'])).json();
  const list = () => {
    const l = ok(srv.cli(['client', 'list', '--json'])).json();
    assert.ok(Array.isArray(l), 'client list --json prints an array');
    return l;
  };

  it('create prints the RFC 7591 registration response', () => {
    const meta = agentMetadata({ contacts: ['ops@example.com'], description: 'Files expenses',
      expires_at: '2099-01-01T00:00:00Z', max_delegation_depth: 1 });
    const now = Math.floor(Date.now() / 1000);
    const c = createClient(srv, meta);
    assert.equal(typeof c.client_id, 'string');
    assert.ok(c.client_id.length >= 8);
    assert.equal(typeof c.client_secret, 'string');
    assert.ok(Buffer.from(c.client_secret, 'base64url').length >= 32 || c.client_secret.length >= 43,
      'a secret of at least 256 bits');
    assert.ok(Number.isInteger(c.client_id_issued_at) && Math.abs(c.client_id_issued_at - now) <= 60,
      `client_id_issued_at ${c.client_id_issued_at}`);
    assert.equal(c.client_secret_expires_at, 0);
    for (const [k, v] of Object.entries(meta)) assert.deepEqual(c[k], v, `metadata ${k} echoed`);
  });

  it('gives every client its own id and secret', () => {
    const a = createClient(srv, agentMetadata());
    const b = createClient(srv, agentMetadata());
    assert.notEqual(a.client_id, b.client_id);
    assert.notEqual(a.client_secret, b.client_secret);
  });

  it('list shows clients, in JSON and for people', () => {
    const c = createClient(srv, agentMetadata({ client_name: 'Listed one' }));
    const item = list().find((x) => x.client_id === c.client_id);
    assert.ok(item, 'the new client is listed');
    assert.equal(item.client_name, 'Listed one');
    assert.equal(item.client_secret, undefined, 'no secret in the list');
    const human = ok(srv.cli(['client', 'list']));
    assert.ok(human.stdout.includes(c.client_id), 'human output names the client');
    assert.ok(!human.stdout.includes(c.client_secret));
  });

  it('show prints metadata, status and credentials, never the secret', async () => {
    const meta = agentMetadata({ client_name: 'Shown' });
    const c = createClient(srv, meta);
    const s = show_(c.client_id);
    assert.equal(s.client_id, c.client_id);
    for (const [k, v] of Object.entries(meta)) assert.deepEqual(s[k], v, `metadata ${k}`);
    assert.equal(s.status, 'active');
    assert.ok(!JSON.stringify(s).includes(c.client_secret), 'the secret is shown once only');
    assert.equal(s.client_secret, undefined);
    assert.ok(Array.isArray(s.credentials));
    assert.equal(s.credentials.length, 1, JSON.stringify(s.credentials));
    const [cred] = s.credentials;
    assert.deepEqual(Object.keys(cred).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'type']);
    assert.equal(cred.type, 'secret');
    assert.ok(cred.created_at, 'created_at set');
    assert.ok(!cred.expires_at, 'no expiry');
    assert.ok(!cred.last_used_at, 'never used yet');

    const r = await tokenBasic(srv, c);
    assert.equal(r.status, 200, show(r));
    const used = show_(c.client_id).credentials[0];
    assert.ok(used.last_used_at, `last_used_at set after use: ${JSON.stringify(used)}`);
  });

  it('update merges metadata, and entitlements take effect', async () => {
    const c = createClient(srv, agentMetadata({ client_name: 'Before' }));
    ok(srv.cli(['client', 'update', c.client_id, '--json'],
      { input: JSON.stringify({ client_name: 'After', scope: 'read' }) }));
    const s = show_(c.client_id);
    assert.equal(s.client_name, 'After');
    assert.equal(s.scope, 'read');
    assert.equal(s.kind, 'agent', 'other fields are kept');
    assert.deepEqual(s.resources, agentMetadata().resources);
    const r = await tokenBasic(srv, c, { scope: 'write' });
    assert.equal(r.status, 400, show(r));
    assert.equal(r.json?.error, 'invalid_scope');
    const okr = await tokenBasic(srv, c);
    assert.equal(okr.status, 200, show(okr));
    const claims = JSON.parse(Buffer.from(okr.json.access_token.split('.')[1], 'base64url'));
    assert.equal(claims.scope, 'read');
    assert.equal(claims.app.name, 'After');
  });

  it('update refuses bad metadata and changes nothing', () => {
    const c = createClient(srv, agentMetadata({ client_name: 'Stable' }));
    const r = srv.cli(['client', 'update', c.client_id],
      { input: JSON.stringify({ client_name: 'Changed', kind: 'robot' }) });
    assertCliError(r, /invalid_client_metadata/);
    assert.equal(show_(c.client_id).client_name, 'Stable');
  });

  it('suspend and resume', async () => {
    const c = createClient(srv, agentMetadata());
    ok(srv.cli(['client', 'suspend', c.client_id]));
    assert.equal(show_(c.client_id).status, 'suspended');
    const r = await tokenBasic(srv, c);
    assert.equal(r.status, 401, show(r));
    assert.equal(r.json?.error, 'invalid_client');
    ok(srv.cli(['client', 'resume', c.client_id]));
    assert.equal(show_(c.client_id).status, 'active');
    const r2 = await tokenBasic(srv, c);
    assert.equal(r2.status, 200, show(r2));
  });

  it('delete removes the client', async () => {
    const c = createClient(srv, agentMetadata());
    ok(srv.cli(['client', 'delete', c.client_id]));
    assertCliError(srv.cli(['client', 'show', c.client_id, '--json']));
    assert.ok(!list().some((x) => x.client_id === c.client_id));
    const r = await tokenBasic(srv, c);
    assert.equal(r.status, 401, show(r));
    assert.equal(r.json?.error, 'invalid_client');
    assertCliError(srv.cli(['client', 'delete', c.client_id]));
  });

  it('secret rotate without --keep invalidates the old secret at once', async () => {
    const c = createClient(srv, agentMetadata());
    const out = ok(srv.cli(['client', 'secret', 'rotate', c.client_id, '--json'])).json();
    assert.equal(typeof out.client_secret, 'string');
    assert.notEqual(out.client_secret, c.client_secret);
    const old = await tokenBasic(srv, c);
    assert.equal(old.status, 401, show(old));
    const fresh = await tokenBasic(srv, { ...c, client_secret: out.client_secret });
    assert.equal(fresh.status, 200, show(fresh));
  });

  it('secret rotate --keep keeps the old secret valid for that long', async () => {
    const c = createClient(srv, agentMetadata());
    const t0 = Date.now();
    const out = ok(srv.cli(['client', 'secret', 'rotate', c.client_id, '--keep', '3s', '--json'])).json();
    const next = { ...c, client_secret: out.client_secret };
    assert.equal((await tokenBasic(srv, c)).status, 200, 'old secret still valid');
    assert.equal((await tokenBasic(srv, next)).status, 200, 'new secret valid');
    const creds = show_(c.client_id).credentials;
    assert.equal(creds.length, 2, JSON.stringify(creds));
    assert.equal(creds.filter((x) => x.expires_at).length, 1, `the old one expires: ${JSON.stringify(creds)}`);
    assert.ok(!JSON.stringify(creds).includes(out.client_secret));
    // Expired within 3 s (+1 s of rounding to whole seconds, +2 s of slack).
    let status;
    while (Date.now() < t0 + 6000) {
      status = (await tokenBasic(srv, c)).status;
      if (status === 401) break;
      await sleep(250);
    }
    assert.equal(status, 401, 'the old secret expired');
    assert.ok(Date.now() >= t0 + 2000, 'but not before the --keep duration');
    assert.equal((await tokenBasic(srv, next)).status, 200);
  });

  it('secret rotate refuses a bad duration', () => {
    const c = createClient(srv, agentMetadata());
    assertCliError(srv.cli(['client', 'secret', 'rotate', c.client_id, '--keep', 'soon']));
  });

  describe('refuses invalid metadata with invalid_client_metadata, creating nothing', () => {
    const cases = {
      'unknown grant type': { grant_types: ['password'] },
      'bad token_endpoint_auth_method': { token_endpoint_auth_method: 'magic' },
      'unknown kind': { kind: 'robot' },
      'bad risk_tier': { risk_tier: 'extreme' },
      'scope not a string': { scope: 5 },
      'relative resource': { resources: ['not a uri'] },
      'bad access_token_format': { access_token_format: 'xml' },
      'bad expires_at': { expires_at: 'tomorrow' },
      'negative access_token_ttl': { access_token_ttl: -5 },
    };
    for (const [name, bad] of Object.entries(cases)) {
      it(name, () => {
        const before_ = list().length;
        const r = srv.cli(['client', 'create', '--json'], { input: JSON.stringify(agentMetadata(bad)) });
        assertCliError(r, /invalid_client_metadata/);
        assert.equal(list().length, before_, 'no client created');
      });
    }

    it('not JSON at all', () => {
      const before_ = list().length;
      assertCliError(srv.cli(['client', 'create', '--json'], { input: '{"client_name": ' }));
      assert.equal(list().length, before_);
    });

    it('a client_secret chosen by the caller is refused or ignored', async () => {
      const r = srv.cli(['client', 'create', '--json'],
        { input: JSON.stringify(agentMetadata({ client_secret: 'chosen-by-me' })) });
      if (r.code !== 0) return assertCliError(r);
      const c = r.json();
      assert.notEqual(c.client_secret, 'chosen-by-me', 'Mandate generates secrets');
      const t = await tokenBasic(srv, { ...c, client_secret: 'chosen-by-me' });
      assert.equal(t.status, 401, show(t));
    });
  });

  it('unknown client ids are errors', () => {
    for (const args of [['show', 'nope'], ['suspend', 'nope'], ['resume', 'nope'], ['delete', 'nope'],
      ['secret', 'rotate', 'nope']]) {
      assertCliError(srv.cli(['client', ...args]));
    }
    assertCliError(srv.cli(['client', 'update', 'nope'], { input: '{}' }));
  });

  it('unknown commands and options are errors', () => {
    assertCliError(srv.cli(['frobnicate']));
    assertCliError(srv.cli(['client', 'frobnicate']));
    assertCliError(srv.cli(['client', 'list', '--frobnicate']));
  });
});

describe('mandate scope', { timeout: 60_000 }, () => {
  let srv;
  before(async () => { srv = await startServer(); });
  after(() => srv?.stop());

  it('create and list, with description, sensitivity and resources', () => {
    const s = createScope(srv, 'expenses:write', {
      description: 'File expenses', sensitivity: 'approval', resources: [API, 'https://b.example.com'],
    });
    assert.equal(s.name, 'expenses:write');
    assert.equal(s.description, 'File expenses');
    assert.equal(s.sensitivity, 'approval');
    assert.deepEqual([...s.resources].sort(), [API, 'https://b.example.com'].sort());
    const plain = createScope(srv, 'expenses:read');
    assert.equal(plain.sensitivity, 'none', 'sensitivity defaults to none');

    const l = ok(srv.cli(['scope', 'list', '--json'])).json();
    assert.ok(Array.isArray(l));
    const item = l.find((x) => x.name === 'expenses:write');
    assert.ok(item, JSON.stringify(l));
    assert.equal(item.description, 'File expenses');
    assert.equal(item.sensitivity, 'approval');
    assert.ok(l.some((x) => x.name === 'expenses:read'));
    const human = ok(srv.cli(['scope', 'list']));
    assert.ok(human.stdout.includes('expenses:write'));
  });

  it('refuses duplicates and bad values', () => {
    createScope(srv, 'dup');
    assertCliError(srv.cli(['scope', 'create', 'dup', '--json']));
    assertCliError(srv.cli(['scope', 'create', 'x', '--sensitivity', 'extreme']));
    assertCliError(srv.cli(['scope', 'create', 'y', '--resource', 'not a uri']));
    assertCliError(srv.cli(['scope', 'create', 'has space']));
    const names = ok(srv.cli(['scope', 'list', '--json'])).json().map((x) => x.name);
    assert.ok(!names.includes('x') && !names.includes('y') && !names.includes('has space'), `${names}`);
  });
});

// Help: `mandate --help` lists every command; `mandate COMMAND... --help` and
// `mandate help COMMAND...` print the same text (usage, options, example),
// and need no configuration, data directory or server.
describe('mandate help', { timeout: 60_000 }, () => {
  const COMMANDS = {
    init: [''],
    serve: [''],
    client: ['create', 'list', 'show', 'update', 'suspend', 'resume', 'delete', 'secret rotate',
      'apikey create', 'apikey revoke', 'credential expire'],
    scope: ['create', 'list'],
    user: ['create', 'list', 'passwd', 'disable'],
    iat: ['create'],
    request: ['list', 'approve', 'deny'],
    keys: ['list', 'rotate'],
    audit: ['verify', 'export', 'tail'],
    'config-reference': [''],
  };
  const full = (group, sub) => (sub ? `${group} ${sub}` : group);
  let dir;
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-help-')); });
  after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });
  // in an empty directory: no ./mandate.conf, no data directory
  const run = (args) => runMandate(args, { cwd: dir });
  const help = (args) => {
    const r = run(args);
    assert.equal(r.code, 0, describeRun(r));
    assert.equal(r.stderr, '', describeRun(r));
    return r.stdout;
  };
  /** The help text of one command, from `usage:` to the blank line after its example. */
  const section = (text, cmd) => {
    const start = text.indexOf(`usage: mandate ${cmd}`);
    assert.ok(start >= 0, `usage line of ${cmd} in:\n${text}`);
    const next = text.indexOf('\nusage: ', start + 1);
    return text.slice(start, next < 0 ? undefined : next);
  };

  it('mandate --help lists every command, apikey and credential expire included', () => {
    const text = help(['--help']);
    assert.equal(help(['help']), text, 'mandate help prints the same');
    for (const [group, subs] of Object.entries(COMMANDS)) {
      for (const sub of subs) {
        assert.match(text, new RegExp(`^  mandate ${full(group, sub)}( |$)`, 'm'), `${full(group, sub)} is listed`);
      }
    }
    assert.match(text, /COMMAND\.\.\. --help/, 'it says how to get a command\'s help');
  });

  for (const [group, subs] of Object.entries(COMMANDS)) {
    it(`${group} --help and help ${group} print every command of the group with its options and an example`, () => {
      const text = help([group, '--help']);
      assert.equal(help(['help', group]), text, `mandate help ${group} prints the same`);
      assert.equal(help([group, '-h']), text, `-h is --help`);
      for (const sub of subs) {
        const cmd = full(group, sub);
        const part = section(text, cmd);
        assert.match(part, /\nexample:\n  .*mandate /, `an example for ${cmd}:\n${part}`);
        assert.ok(part.split('\nexample:')[1].includes(`mandate ${cmd}`), `the example runs ${cmd}:\n${part}`);
        // every option of the usage line is explained under options:
        const usageLine = part.split('\n')[0];
        for (const opt of usageLine.match(/--[a-z-]+/g) || []) {
          assert.match(part, new RegExp(`\\noptions:\\n(.*\\n)*  ${opt}\\b`), `${opt} of ${cmd} is explained:\n${part}`);
        }
        if (sub) {
          const one = help([group, ...sub.split(' '), '--help']);
          assert.equal(help(['help', group, ...sub.split(' ')]), one, `help ${cmd} is ${cmd} --help`);
          assert.equal(one.trimEnd(), part.trimEnd(), `${cmd} --help prints its part of the group's help`);
        }
      }
    });
  }

  it('arguments and options before --help are ignored; nothing runs', () => {
    const text = help(['client', 'apikey', 'create', 'some-client', '--expires', '90d', '--help']);
    assert.match(text, /^usage: mandate client apikey create ID/);
    assert.match(text, /--expires DURATION/);
    assert.match(help(['client', 'show', 'some-client', '--json', '--help']), /^usage: mandate client show ID/);
  });

  it('help for an unknown command is an error', () => {
    for (const args of [['help', 'nope'], ['nope', '--help']]) {
      const r = run(args);
      assertCliError(r, /unknown command 'nope'/);
    }
  });
});
