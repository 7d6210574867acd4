// Dynamic client registration (RFC 7591) and client configuration (RFC 7592)
// with openid-client's dynamicClientRegistration and with raw requests: open
// registration, the registration access token, and every refusal the issue
// names (each with its error, nothing created, and an audit event).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { cliJson, createScope, sleep, startServer } from './lib/server.mjs';
import { auditEvents, basic, eventType, post, show, waitAudit } from './lib/oauth.mjs';
import {
  assertInvalidToken, assertRegistered, clientIds, refusedRegistration, regDelete, regRead,
  register, regUpdate,
} from './lib/register.mjs';

const OPEN = { registration: { open: 'true', unverified_scopes: 'read', unverified_grant_types: 'client_credentials', rate_per_source: 1000 } };
const opts = { execute: [client.allowInsecureRequests] };

describe('RFC 7591 open registration', { timeout: 90_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: OPEN });
    createScope(srv, 'read', { description: 'Read things' });
    createScope(srv, 'write', { description: 'Write things' });
  });
  after(() => srv?.stop());

  it('discovery advertises the registration endpoint', async () => {
    const r = await fetch(`${srv.url}/.well-known/oauth-authorization-server`);
    assert.equal((await r.json()).registration_endpoint, `${srv.issuer}/register`);
  });

  it('openid-client registers an agent that then gets a token', async () => {
    const config = await client.dynamicClientRegistration(new URL(srv.issuer), {
      client_name: 'MCP agent', kind: 'agent', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post', scope: 'read',
    }, undefined, opts);
    const meta = config.clientMetadata();
    assert.match(meta.client_id, /^mdt_/);
    assert.equal(typeof meta.client_secret, 'string');
    assert.equal(meta.status, 'active');
    assert.equal(typeof meta.registration_access_token, 'string');
    const tok = await client.clientCredentialsGrant(config, { scope: 'read' });
    assert.equal(tok.scope, 'read');
    const shown = cliJson(srv, ['client', 'show', meta.client_id]);
    assert.equal(shown.origin, 'dcr', 'client show reports the registration origin');
    assert.ok(shown.credentials.some((c) => c.type === 'registration'), 'the RAT is a credential');
    const events = await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'client.registered'
      && e.client_id === meta.client_id));
    const ev = events.find((e) => eventType(e) === 'client.registered' && e.client_id === meta.client_id);
    assert.equal(ev.actor, 'registration');
    assert.ok(!JSON.stringify(events).includes(meta.client_secret), 'no secret in the audit log');
    assert.ok(!JSON.stringify(events).includes(meta.registration_access_token), 'no RAT in the audit log');
  });

  it('the registration response is RFC 7591 and the RAT is not a client credential at /token', async () => {
    const r = await register(srv, { client_name: 'raw', scope: 'read', contacts: ['ops@example.com'] });
    const b = assertRegistered(r);
    assert.equal(b.client_secret_expires_at, 0);
    assert.deepEqual(b.grant_types, ['client_credentials']);
    assert.deepEqual(b.contacts, ['ops@example.com']);
    assert.ok(b.expires_at, 'an unverified client expires (unverified_max_lifetime)');
    assert.equal(b.owner, undefined, 'an unverified client names no owner');
    const viaRat = await post(srv, '/token', { grant_type: 'client_credentials' },
      { headers: { authorization: basic(b.client_id, b.registration_access_token) } });
    assert.equal(viaRat.status, 401, `the RAT does not authenticate at /token: ${show(viaRat)}`);
    const ok = await post(srv, '/token', { grant_type: 'client_credentials' },
      { headers: { authorization: basic(b.client_id, b.client_secret) } });
    assert.equal(ok.status, 200, show(ok));
  });

  it('private-use redirect URIs of native apps are accepted', async () => {
    const b = assertRegistered(await register(srv, {
      client_name: 'desktop', redirect_uris: ['com.example.agent:/callback', 'http://127.0.0.1:33418/cb'],
    }));
    assert.deepEqual(b.redirect_uris, ['com.example.agent:/callback', 'http://127.0.0.1:33418/cb']);
  });

  it('http redirect URIs on any loopback IP literal (127.0.0.0/8, [::1]) or localhost are accepted', async () => {
    const uris = ['http://127.0.0.2:33418/cb', 'http://127.255.0.1/cb', 'http://[::1]/cb', 'http://localhost:8080/cb'];
    const b = assertRegistered(await register(srv, { client_name: 'desktop', redirect_uris: uris }));
    assert.deepEqual(b.redirect_uris, uris);
  });

  it('RFC 7592: read, update and delete with the registration access token', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'managed', scope: 'read' }));
    const rat = b.registration_access_token;
    const read = await regRead(srv, b.client_id, rat);
    assert.equal(read.status, 200, show(read));
    assert.equal(read.headers.get('cache-control'), 'no-store');
    assert.equal(read.json.client_id, b.client_id);
    assert.equal(read.json.client_name, 'managed');
    assert.equal(read.json.client_secret, undefined, 'no secret on read');
    assert.equal(read.json.registration_access_token, undefined, 'the RAT is returned once');
    assert.equal(read.json.registration_client_uri, b.registration_client_uri);

    const mismatch = await regUpdate(srv, b.client_id, rat, { client_id: 'mdt_other', client_name: 'x' });
    assert.equal(mismatch.status, 400, show(mismatch));
    assert.equal(mismatch.json.error, 'invalid_client_metadata');

    const upd = await regUpdate(srv, b.client_id, rat, { client_id: b.client_id, client_name: 'renamed', scope: 'read' });
    assert.equal(upd.status, 200, show(upd));
    assert.equal(upd.json.client_name, 'renamed');
    assert.equal(upd.json.contacts, undefined);
    const bad = await regUpdate(srv, b.client_id, rat, { client_id: b.client_id, redirect_uris: ['https://x.example/cb#f'] });
    assert.equal(bad.status, 400, show(bad));
    assert.equal(bad.json.error, 'invalid_redirect_uri', 'updates go through the same validation');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).client_name, 'renamed');
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'client.updated' && e.client_id === b.client_id
      && e.actor === 'registration'));

    const del = await regDelete(srv, b.client_id, rat);
    assert.equal(del.status, 204, show(del));
    assert.ok(!clientIds(srv).includes(b.client_id), 'deleted');
    await waitAudit(srv, (evs) => evs.some((e) => eventType(e) === 'client.deleted' && e.client_id === b.client_id
      && e.actor === 'registration'));
    assertInvalidToken(await regRead(srv, b.client_id, rat));
  });

  it('a wrong registration access token -> 401 invalid_token, whether the client exists or not', async () => {
    const b = assertRegistered(await register(srv, { client_name: 'guarded' }));
    const other = assertRegistered(await register(srv, { client_name: 'other' }));
    for (const [id, rat] of [[b.client_id, other.registration_access_token], [b.client_id, 'x'.repeat(43)],
      ['mdt_doesnotexist', b.registration_access_token], [b.client_id, undefined]]) {
      const before_ = auditEvents(srv).filter((e) => eventType(e) === 'registration.refused').length;
      const r = await regRead(srv, id, rat);
      assertInvalidToken(r);
      assert.equal(r.json.error_description, (await regRead(srv, 'mdt_nobody', 'y'.repeat(43))).json.error_description,
        'the same answer for an unknown client');
      await waitAudit(srv, (evs) => evs.filter((e) => eventType(e) === 'registration.refused').length > before_);
    }
    assertInvalidToken(await regUpdate(srv, b.client_id, other.registration_access_token, { client_id: b.client_id }));
    assertInvalidToken(await regDelete(srv, b.client_id, other.registration_access_token));
    assert.ok(clientIds(srv).includes(b.client_id), 'not deleted with the wrong token');
  });

  describe('refusals: the right error, nothing created, an audit event', () => {
    const m = (extra) => ({ client_name: 'bad', ...extra });
    it('not JSON media type -> 415', async () => {
      await refusedRegistration(srv, () => register(srv, undefined, { raw: 'client_name=x', contentType: 'application/x-www-form-urlencoded' }),
        415, 'invalid_request');
    });
    it('malformed JSON -> 400 invalid_request', async () => {
      await refusedRegistration(srv, () => register(srv, undefined, { raw: '{"client_name": "x",' }), 400, 'invalid_request', /JSON/);
    });
    it('unknown grant type -> 400 invalid_client_metadata', async () => {
      await refusedRegistration(srv, () => register(srv, m({ grant_types: ['urn:example:magic'] })), 400, 'invalid_client_metadata', /grant_types/);
    });
    it('redirect URI with a fragment -> 400 invalid_redirect_uri', async () => {
      await refusedRegistration(srv, () => register(srv, m({ redirect_uris: ['https://app.example/cb#frag'] })), 400, 'invalid_redirect_uri');
    });
    it('http redirect URI on a non-loopback host -> 400 invalid_redirect_uri', async () => {
      await refusedRegistration(srv, () => register(srv, m({ redirect_uris: ['http://app.example/cb'] })), 400, 'invalid_redirect_uri');
    });
    for (const uri of ['http://128.0.0.1/cb', 'http://[::2]/cb', 'http://127.0.0.1.evil.example/cb', 'http://localhost.example.com/cb',
      'http://127.0.0.1@evil.example/cb', 'http://localhost./cb']) {
      it(`http redirect URI on a host that is not loopback (${uri}) -> 400 invalid_redirect_uri`, async () => {
        await refusedRegistration(srv, () => register(srv, m({ redirect_uris: [uri] })), 400, 'invalid_redirect_uri');
      });
    }
    it('a private-use scheme that is not reverse-domain -> 400 invalid_redirect_uri', async () => {
      await refusedRegistration(srv, () => register(srv, m({ redirect_uris: ['myapp:/cb'] })), 400, 'invalid_redirect_uri');
    });
    it('jwks and jwks_uri both set -> 400 invalid_client_metadata', async () => {
      const jwks = { keys: [{ kty: 'EC', crv: 'P-256', kid: 'k1', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] };
      await refusedRegistration(srv, () => register(srv, m({ token_endpoint_auth_method: 'private_key_jwt', jwks, jwks_uri: 'https://keys.example.com/jwks' })),
        400, 'invalid_client_metadata', /jwks and jwks_uri/);
    });
    for (const uri of ['https://10.1.2.3/jwks', 'https://127.0.0.1/jwks', 'https://[::1]/jwks', 'https://localhost/jwks', 'https://169.254.169.254/latest',
    // the local-use NAT64 prefix (RFC 8215) translates to whatever the network chose, internal addresses included
    'https://[64:ff9b:1::a00:1]/jwks', 'https://[64:ff9b:1:ffff::808:808]/jwks', 'https://[64:ff9b::a9fe:a9fe]/jwks']) {
      it(`jwks_uri pointing at a private address (${uri}) -> 400 invalid_client_metadata`, async () => {
        await refusedRegistration(srv, () => register(srv, m({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: uri })),
          400, 'invalid_client_metadata', /jwks_uri/);
      });
    }
    it('a scope that does not exist -> 400 invalid_client_metadata', async () => {
      await refusedRegistration(srv, () => register(srv, m({ scope: 'nonexistent' })), 400, 'invalid_client_metadata');
    });
    it('a software statement that is not a JWT -> 400 invalid_software_statement', async () => {
      await refusedRegistration(srv, () => register(srv, m({ software_statement: 'not-a-jwt' })), 400, 'invalid_software_statement');
    });
  });
});

describe('registration without open registration needs an initial access token', { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { rate_per_source: 1000, unverified_scopes: 'read' } } });
    createScope(srv, 'read');
  });
  after(() => srv?.stop());

  it('iat create --json prints the pinned shape', () => {
    const t = cliJson(srv, ['iat', 'create', '--max-uses', '3', '--expires', '1h']);
    assert.equal(typeof t.initial_access_token, 'string');
    assert.ok(t.initial_access_token.length >= 43);
    assert.equal(t.max_uses, 3);
    assert.ok(Math.abs(Date.parse(t.expires_at) / 1000 - (Date.now() / 1000 + 3600)) < 60, 'expires_at in an hour');
    const plain = srv.cli(['iat', 'create']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /initial_access_token/);
    assert.equal(srv.cli(['iat', 'create', '--max-uses', '0']).code, 1);
    assert.equal(srv.cli(['iat', 'create', '--policy', '{"grant_types":["password"]}']).code, 1);
    assert.equal(srv.cli(['iat', 'create', '--policy', '{"scopes":["nope"]}']).code, 1, 'policy scopes must exist');
  });

  it('no token -> 401 invalid_token', async () => {
    const r = await refusedRegistration(srv, () => register(srv, { client_name: 'x' }), 401, 'invalid_token', /no initial access token/);
    assertInvalidToken(r);
  });

  it('an unknown token -> 401 invalid_token', async () => {
    assertInvalidToken(await refusedRegistration(srv, () => register(srv, { client_name: 'x' }, { iat: 'A'.repeat(43) }),
      401, 'invalid_token', /unknown/));
  });

  it('openid-client registers with an initial access token; an exhausted token -> 401', async () => {
    const t = cliJson(srv, ['iat', 'create', '--max-uses', '1']);
    const config = await client.dynamicClientRegistration(new URL(srv.issuer),
      { client_name: 'with iat', token_endpoint_auth_method: 'client_secret_post', scope: 'read' }, undefined,
      { ...opts, initialAccessToken: t.initial_access_token });
    assert.equal(config.clientMetadata().status, 'active');
    await client.clientCredentialsGrant(config, { scope: 'read' });
    const r = await refusedRegistration(srv, () => register(srv, { client_name: 'again' }, { iat: t.initial_access_token }),
      401, 'invalid_token', /used up/);
    assertInvalidToken(r);
  });

  it('an expired token -> 401 invalid_token', async () => {
    const t = cliJson(srv, ['iat', 'create', '--max-uses', '5', '--expires', '1s']);
    await sleep(2100);
    assertInvalidToken(await refusedRegistration(srv, () => register(srv, { client_name: 'late' }, { iat: t.initial_access_token }),
      401, 'invalid_token', /expired/));
  });

  it('concurrent registrations never consume more uses than the token has', async () => {
    const t = cliJson(srv, ['iat', 'create', '--max-uses', '3']);
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => register(srv, { client_name: `race ${i}` }, { iat: t.initial_access_token })));
    assert.equal(rs.filter((r) => r.status === 201).length, 3, rs.map((r) => r.status).join(','));
    assert.ok(rs.filter((r) => r.status !== 201).every((r) => r.status === 401));
  });
});
