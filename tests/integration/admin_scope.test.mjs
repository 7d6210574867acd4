// mandate:admin, the scope of the admin API: it exists after `mandate init`
// with sensitivity approval, and nobody obtains it but through an admin.
// Self-registration cannot put it in a client's scope, whatever vouches for
// the registration (open registration, an initial access token's policy,
// the [registration] defaults for unverified clients, an RFC 7592 update);
// a person's consent never gives it: in the code flow a token carries it
// only when the client is entitled to it and the person has role admin at
// that moment, so a person who is not an admin is never even asked, and
// one who stops being an admin cannot refresh it.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { keyPair, now, sign } from './lib/assertions.mjs';
import { cibaMetadata, poll, started } from './lib/ciba.mjs';

import { callbackServer, createUsers, FAST_ARGON2, signedIn, authorizeUrl, pkce } from './lib/authz.mjs';
import { redeem, refresh } from './lib/grants.mjs';
import { jwtParts, show } from './lib/oauth.mjs';
import { register, regUpdate } from './lib/register.mjs';
import { cliJson, createClient, startServer } from './lib/server.mjs';

const PUBLISHER = 'https://publisher.example.com';

function assertRefusedMetadata(r) {
  assert.equal(r.status, 400, show(r));
  assert.equal(r.json.error, 'invalid_client_metadata', show(r));
  assert.match(r.json.error_description, /mandate:admin/);
}

describe('the mandate:admin scope', { timeout: 120_000 }, () => {
  let srv;
  let cb;
  let app; // an admin-made web client entitled to openid and mandate:admin
  let pub; // a trusted software statement publisher
  let dir;

  before(async () => {
    pub = await keyPair('ES256');
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-admin-scope-'));
    await writeFile(path.join(dir, 'publisher-jwks.json'), JSON.stringify({ keys: [pub.publicJwk] }));
    await writeFile(path.join(dir, 'publishers.json'),
      JSON.stringify([{ issuer: PUBLISHER, jwks_file: 'publisher-jwks.json' }]));
    srv = await startServer({ config: { users: FAST_ARGON2, registration: { open: true,
      software_statement_issuers: path.join(dir, 'publishers.json') } } });
    cb = await callbackServer();
    createUsers(srv, ['alice']);
    assert.equal(srv.cli(['user', 'create', 'root', '--role', 'admin', '--password-stdin'],
      { input: 'correct horse battery\n' }).code, 0);
    app = createClient(srv, { client_name: 'Ops console', kind: 'web',
      grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [cb.uri],
      scope: 'openid offline_access mandate:admin', token_endpoint_auth_method: 'client_secret_basic' });
  });
  after(async () => {
    await cb?.close();
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('exists after init with sensitivity approval, and init again leaves it so', () => {
    const find = () => cliJson(srv, ['scope', 'list']).filter((s) => s.name === 'mandate:admin');
    assert.equal(find().length, 1);
    assert.equal(find()[0].sensitivity, 'approval');
    assert.match(find()[0].description, /admin API/);
    assert.equal(srv.cli(['init']).code, 0);
    assert.equal(find().length, 1);
  });

  test('self-registration can never hold it', async () => {
    const clients = cliJson(srv, ['client', 'list']).length;
    const meta = { client_name: 'Sneaky agent', grant_types: ['authorization_code'], redirect_uris: [cb.uri],
      token_endpoint_auth_method: 'none' };
    assertRefusedMetadata(await register(srv, { ...meta, scope: 'openid mandate:admin' }));
    assertRefusedMetadata(await register(srv, { ...meta, grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'mandate:admin' }));
    // an initial access token whose policy names the scope does not vouch for it
    const iat = cliJson(srv, ['iat', 'create', '--policy', JSON.stringify({ scopes: ['openid', 'mandate:admin'] })]);
    assertRefusedMetadata(await register(srv, { ...meta, scope: 'mandate:admin' }, { iat: iat.initial_access_token }));
    // an RFC 7592 update cannot add it
    const ok = await register(srv, { ...meta, scope: 'openid' });
    assert.equal(ok.status, 201, show(ok));
    const upd = await regUpdate(srv, ok.json.client_id, ok.json.registration_access_token,
      { ...meta, client_id: ok.json.client_id, scope: 'openid mandate:admin' });
    assertRefusedMetadata(upd);
    assert.equal(cliJson(srv, ['client', 'show', ok.json.client_id]).scope, 'openid');
    assert.equal(cliJson(srv, ['client', 'list']).length, clients + 1, 'only the honest client exists');
  });

  test('a trusted publisher\'s software statement cannot vouch for it', async () => {
    const t = now();
    const statement = await sign(pub, { iss: PUBLISHER, iat: t, exp: t + 600, software_id: 'ops-bot',
      client_name: 'Ops bot', scope: 'mandate:admin' });
    const clients = cliJson(srv, ['client', 'list']).length;
    assertRefusedMetadata(await register(srv, { grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', software_statement: statement }));
    assert.equal(cliJson(srv, ['client', 'list']).length, clients);
  });

  test('CIBA: a person who is not an admin approving does not give it; an admin does', async () => {
    const agent = createClient(srv, cibaMetadata({ owner: 'alice', scope: 'openid mandate:admin', resources: undefined }));
    const s = await started(srv, agent, { login_hint: 'alice', scope: 'openid mandate:admin', binding_message: 'Admin things' });
    assert.equal(cliJson(srv, ['request', 'approve', s.request.id, '--by', 'alice']).status, 'approved');
    const r = await poll(srv, agent, s.auth_req_id);
    assert.equal(r.status, 400, show(r));
    assert.equal(r.json.error, 'invalid_scope');
    assert.equal(r.json.access_token, undefined);
    const s2 = await started(srv, agent, { login_hint: 'root', scope: 'openid mandate:admin', binding_message: 'Admin things' });
    assert.equal(cliJson(srv, ['request', 'approve', s2.request.id, '--by', 'root']).status, 'approved');
    const ok = await poll(srv, agent, s2.auth_req_id);
    assert.equal(ok.status, 200, show(ok));
    assert.match(ok.json.scope, /mandate:admin/);
  });

  test('[registration] defaults that name it do not give it either', async () => {
    const other = await startServer({ config: { registration: { open: true, unverified_scopes: 'mandate:admin',
      unverified_grant_types: 'client_credentials' } } });
    try {
      const r = await register(other, { client_name: 'Defaulted', grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic' });
      assert.ok(r.status === 400 || !(r.json.scope || '').includes('mandate:admin'), show(r));
      for (const c of cliJson(other, ['client', 'list'])) assert.ok(!(c.scope || '').includes('mandate:admin'));
    } finally {
      await other.stop();
    }
  });

  /** The code flow as username for scope: {page (consent page text or ''), token response}. */
  async function codeFlow(username, scope) {
    const jar = await signedIn(srv, username);
    const p = await pkce();
    let r = await jar.fetch(authorizeUrl(srv, { response_type: 'code', client_id: app.client_id,
      redirect_uri: cb.uri, scope, code_challenge: p.challenge, code_challenge_method: 'S256', state: 's' }));
    assert.equal(r.status, 303, await r.text());
    let loc = r.headers.get('location');
    let page = '';
    if (loc.startsWith('/consent')) {
      page = await (await jar.fetch(`${srv.url}${loc}`)).text();
      const request = /name="request" value="([^"]*)"/.exec(page)[1];
      const csrf = /name="csrf_token" value="([^"]*)"/.exec(page)[1];
      r = await jar.fetch(`${srv.url}/consent`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf_token: csrf, request, decision: 'allow' }).toString() });
      assert.equal(r.status, 303, await r.text());
      loc = r.headers.get('location');
    }
    const code = new URL(loc).searchParams.get('code');
    assert.ok(code, loc);
    const t = await redeem(srv, app, cb.uri, { code, verifier: p.verifier });
    assert.equal(t.status, 200, show(t));
    return { page, token: t.json };
  }

  test('a person who is not an admin is never asked for it and never gets it, even with a remembered consent', async () => {
    const first = await codeFlow('alice', 'openid mandate:admin');
    assert.ok(first.page.length > 0, 'consent was asked');
    assert.doesNotMatch(first.page, /mandate:admin/);
    assert.equal(first.token.scope, 'openid');
    assert.doesNotMatch(jwtParts(first.token.access_token).payload.scope, /mandate:admin/);
    const again = await codeFlow('alice', 'openid mandate:admin');
    assert.equal(again.page, '', 'the remembered consent covers openid');
    assert.equal(again.token.scope, 'openid');
    const r = await fetch(`${srv.url}/admin/v1/clients`, { headers: { authorization: `Bearer ${again.token.access_token}` } });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
  });

  test('an admin gets it through an entitled client, and loses it with the role', async () => {
    const { page, token } = await codeFlow('root', 'openid offline_access mandate:admin');
    assert.match(page, /mandate:admin/, 'the admin is shown what they grant');
    assert.equal(token.scope.split(' ').sort().join(' '), 'mandate:admin offline_access openid');
    let r = await fetch(`${srv.url}/admin/v1/users`, { headers: { authorization: `Bearer ${token.access_token}` } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    const rt = await refresh(srv, app, token.refresh_token);
    assert.equal(rt.status, 200, show(rt));
    // no longer an admin (the CLI has no role edit: the admin API is how roles change)
    const ops = createClient(srv, { client_name: 'Automation', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'mandate:admin' });
    const tr = await fetch(`${srv.url}/token`, { method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${ops.client_id}:${ops.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    const opsToken = (await tr.json()).access_token;
    r = await fetch(`${srv.url}/admin/v1/users/root`, { method: 'PATCH',
      headers: { authorization: `Bearer ${opsToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ roles: ['approver'] }) });
    assert.equal(r.status, 200, await r.text());
    const refused = await refresh(srv, app, rt.json.refresh_token);
    assert.equal(refused.status, 400, show(refused));
    assert.equal(refused.json.error, 'invalid_scope');
    r = await fetch(`${srv.url}/admin/v1/users`, { headers: { authorization: `Bearer ${rt.json.access_token}` } });
    assert.equal(r.status, 403);
    await r.arrayBuffer();
  });
});
