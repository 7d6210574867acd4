// Software statements (RFC 7591 §2.3) at POST /register: a statement signed
// by a publisher of [registration] software_statement_issuers (its JWK Set in
// a file this test writes) pre-fills the metadata, wins over the request's
// values and vouches for the client, which then gets what an unverified
// client would not; an untrusted publisher, a bad signature, alg none and an
// expired statement are refused with the RFC 7591 §3.2.2 error codes, create
// nothing and are audited; a bad publishers file stops `mandate serve`.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  cliJson, describeRun, prepare, runMandate, startServer,
} from './lib/server.mjs';
import {
  assertOAuthError, auditEvents, createFixtureScopes, eventType, jwtParts, post, scopeSet, show,
  tokenBasic, waitAudit,
} from './lib/oauth.mjs';
import { keyPair, now, sign, unsignedJwt } from './lib/assertions.mjs';

const PUBLISHER = 'https://publisher.example.com';

/** POST /register with a JSON body. */
function register(srv, metadata) {
  return post(srv, '/register', JSON.stringify(metadata), { contentType: 'application/json' });
}

/** The registration request of a confidential agent, with the request's own values. */
function request(over = {}) {
  return {
    client_name: 'Name from the request',
    software_id: 'request-software',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'read',
    ...over,
  };
}

function statementClaims(over = {}) {
  const t = now();
  const c = {
    iss: PUBLISHER,
    iat: t,
    exp: t + 600,
    client_name: 'Statement-based agent',
    software_id: 'stmt-agent',
    software_version: '3.0.1',
    scope: 'read write',
    ...over,
  };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

function clientCount(srv) {
  return cliJson(srv, ['client', 'list']).length;
}

/** A refused registration: status 400 with the code, nothing created, and an audit event. */
async function expectRefused(srv, body, error, reason) {
  const before = clientCount(srv);
  const refusalsBefore = auditEvents(srv).filter((e) => eventType(e) === 'registration.refused').length;
  const r = await register(srv, body);
  assertOAuthError(r, 400, error);
  assert.equal(r.json.client_id, undefined, show(r));
  assert.equal(clientCount(srv), before, 'nothing was created');
  const events = await waitAudit(srv,
    (evs) => evs.filter((e) => eventType(e) === 'registration.refused').length > refusalsBefore,
    { what: `a registration.refused event (${error})` });
  const ev = events.filter((e) => eventType(e) === 'registration.refused').at(-1);
  if (reason) assert.match(JSON.stringify(ev), reason, JSON.stringify(ev));
  return r;
}

describe('software statements', { timeout: 120_000 }, () => {
  let srv;
  let dir;
  let pub;
  let rogue;

  before(async () => {
    pub = await keyPair('ES256');
    rogue = await keyPair('ES256');
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-publishers-'));
    await writeFile(path.join(dir, 'publisher-jwks.json'), JSON.stringify({ keys: [pub.publicJwk] }));
    const publishers = path.join(dir, 'publishers.json');
    await writeFile(publishers, JSON.stringify([{ issuer: PUBLISHER, jwks_file: 'publisher-jwks.json' }]));
    srv = await startServer({
      config: {
        registration: {
          open: 'true',
          rate_per_source: '1000',
          software_statement_issuers: publishers,
          unverified_scopes: 'read',
          unverified_grant_types: 'client_credentials',
        },
      },
    });
    createFixtureScopes(srv);
  });

  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a trusted publisher\'s statement wins over the request and vouches for the client', async () => {
    const statement = await sign(pub, statementClaims());
    const r = await register(srv, request({ software_statement: statement, scope: 'read' }));
    assert.equal(r.status, 201, show(r));
    const c = r.json;
    // the statement's values over the request's
    assert.equal(c.client_name, 'Statement-based agent');
    assert.equal(c.software_id, 'stmt-agent');
    assert.equal(c.software_version, '3.0.1');
    assert.deepEqual(scopeSet(c.scope), ['read', 'write']);
    // vouched: active with `write`, which an unverified client only gets after approval
    assert.equal(c.status, 'active', show(r));
    assert.ok(c.client_secret, 'a secret for client_secret_basic');
    const tok = await tokenBasic(srv, c, { scope: 'read write' });
    assert.equal(tok.status, 200, show(tok));
    assert.deepEqual(scopeSet(jwtParts(tok.json.access_token).payload.scope), ['read', 'write']);
    // who vouched is recorded on the client and in its registration event
    const shown = cliJson(srv, ['client', 'show', c.client_id]);
    assert.equal(shown.vouched_by, PUBLISHER, JSON.stringify(shown));
    assert.equal(shown.status, 'active');
    const registered = auditEvents(srv).filter((e) => eventType(e) === 'client.registered'
      && JSON.stringify(e).includes(c.client_id));
    assert.equal(registered.length, 1, JSON.stringify(registered));
    assert.ok(JSON.stringify(registered[0]).includes(PUBLISHER), JSON.stringify(registered[0]));
  });

  it('without a statement the same request for `write` is not granted as is', async () => {
    const r = await register(srv, request({ scope: 'read write' }));
    assert.equal(r.status, 201, show(r));
    assert.equal(r.json.status, 'pending', show(r));
    const tok = await tokenBasic(srv, r.json, { scope: 'read' });
    assertOAuthError(tok, 401, 'invalid_client');
  });

  it('a statement never sets client_id, client_secret or status', async () => {
    const statement = await sign(pub, statementClaims({
      client_id: 'chosen-by-the-statement', client_secret: 'chosen-secret', status: 'active',
      registration_access_token: 'chosen-rat', scope: 'read',
    }));
    const r = await register(srv, request({ software_statement: statement }));
    assert.equal(r.status, 201, show(r));
    assert.notEqual(r.json.client_id, 'chosen-by-the-statement');
    assert.notEqual(r.json.client_secret, 'chosen-secret');
    assert.notEqual(r.json.registration_access_token, 'chosen-rat');
  });

  it('refuses a statement from an untrusted publisher: unapproved_software_statement', async () => {
    const statement = await sign(rogue, statementClaims({ iss: 'https://rogue.example' }));
    await expectRefused(srv, request({ software_statement: statement }),
      'unapproved_software_statement', /rogue\.example|untrusted|trusted publisher/);
  });

  it('refuses a bad signature, alg none and an expired statement: invalid_software_statement', async () => {
    const forged = await sign(rogue, statementClaims(), { kid: pub.kid });
    await expectRefused(srv, request({ software_statement: forged }), 'invalid_software_statement',
      /bad signature/);
    const unknownKey = await sign(rogue, statementClaims());
    await expectRefused(srv, request({ software_statement: unknownKey }), 'invalid_software_statement',
      /kid/);
    await expectRefused(srv, request({ software_statement: unsignedJwt(statementClaims()) }),
      'invalid_software_statement', /asymmetric only/);
    const t = now();
    const expired = await sign(pub, statementClaims({ iat: t - 7200, exp: t - 3600 }));
    await expectRefused(srv, request({ software_statement: expired }), 'invalid_software_statement',
      /expired/);
    await expectRefused(srv, request({ software_statement: 'not-a-jwt' }), 'invalid_software_statement');
  });
});

describe('software statements without publishers', { timeout: 60_000 }, () => {
  it('refuses every statement as unapproved', async () => {
    const srv = await startServer({ config: { registration: { open: 'true' } } });
    try {
      createFixtureScopes(srv);
      const pub = await keyPair('ES256');
      const statement = await sign(pub, statementClaims());
      await expectRefused(srv, request({ software_statement: statement }),
        'unapproved_software_statement');
    } finally {
      await srv.stop();
    }
  });
});

describe('software statement publishers file errors', { timeout: 60_000 }, () => {
  const cases = [
    ['not JSON', '[', /publishers\.json:1:/],
    ['an audience', JSON.stringify([{ issuer: PUBLISHER, jwks_uri: 'https://p/jwks', audience: 'x' }]),
      /publishers\.json: issuer 1: unknown member 'audience'/],
    ['no keys', JSON.stringify([{ issuer: PUBLISHER }]), /issuer 1: exactly one of jwks_file and jwks_uri/],
    ['missing jwks_file', JSON.stringify([{ issuer: PUBLISHER, jwks_file: 'nope.json' }]),
      /issuer 1: jwks_file .*nope\.json/],
  ];
  for (const [name, text, pattern] of cases) {
    it(`stops mandate serve: ${name}`, async () => {
      const ctx = await prepare({ config: {} });
      try {
        const file = path.join(ctx.dir, 'publishers.json');
        await writeFile(file, text);
        await writeFile(ctx.conf,
          `${await readFile(ctx.conf, 'utf8')}\n[registration]\nsoftware_statement_issuers = ${file}\n`);
        const init = runMandate(['--config', ctx.conf, 'init'], { cwd: ctx.dir });
        assert.equal(init.code, 0, describeRun(init));
        const r = runMandate(['--config', ctx.conf, 'serve'], { cwd: ctx.dir });
        assert.notEqual(r.code, 0, describeRun(r));
        assert.match(r.stderr, /^mandate: /m, describeRun(r));
        assert.match(r.stderr, pattern, describeRun(r));
      } finally {
        await rm(ctx.dir, { recursive: true, force: true });
      }
    });
  }
});
