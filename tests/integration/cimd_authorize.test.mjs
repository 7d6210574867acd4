// Client ID metadata documents of clients that sign people in, as MCP
// clients use them: a public client (token_endpoint_auth_method none) whose
// client_id is the https URL of its document goes to /authorize first;
// Mandate fetches the document there (over https, from a host of a test
// CA: [server] outbound_ca_file), applies it as it would at /token, shows
// the consent page, and the code is redeemed at /token with the client_id
// and the PKCE verifier alone. Refused: a document that cannot be fetched
// (an error page, no redirect, no client), a redirect URI the document does
// not list, a public document at a grant that needs client authentication,
// and a document of a key-authenticated client presenting its client_id
// alone (nothing registered).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  authorizeUrl, callbackServer, consent, FAST_ARGON2, pkce, signedIn,
} from './lib/authz.mjs';
import { expectRefusal, keyPair } from './lib/assertions.mjs';
import { httpsDocServer } from './lib/https_docs.mjs';
import { jwtParts, post, show } from './lib/oauth.mjs';
import { cliJson, createScope, describeRun, startServer } from './lib/server.mjs';

describe('client ID metadata documents at /authorize', { timeout: 120_000 }, () => {
  let srv;
  let docs;
  let cb;

  before(async () => {
    docs = await httpsDocServer();
    srv = await startServer({ config: {
      server: { outbound_ca_file: docs.caFile },
      users: FAST_ARGON2,
      registration: { client_id_metadata_documents: 'true', rate_per_source: 1000 },
      client_auth: { jwks_uri_allow_private: 'true', jwks_uri_timeout: '3s' },
      web: { login_max_failures: 100, login_max_failures_per_source: 1000 },
    } });
    createScope(srv, 'read', { description: 'Read your notes' });
    const u = srv.cli(['user', 'create', 'alice', '--password-stdin'], { input: 'correct horse battery\n' });
    assert.equal(u.code, 0, describeRun(u));
    cb = await callbackServer();
  });
  after(async () => {
    await cb?.close();
    await srv?.stop();
    await docs?.close();
  });

  const publicDoc = (over = {}) => ({
    client_name: 'Notes MCP client', redirect_uris: [cb.uri], grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'], token_endpoint_auth_method: 'none', ...over,
  });

  async function ask(jar, clientId, params = {}) {
    const { verifier, challenge } = await pkce();
    const r = await jar.fetch(authorizeUrl(srv, { client_id: clientId, response_type: 'code', redirect_uri: cb.uri,
      code_challenge: challenge, code_challenge_method: 'S256', state: 's1', scope: 'read', ...params }));
    return { r, verifier };
  }

  const showClient = (id) => srv.cli(['client', 'show', id, '--json']);

  it('a public client\'s document: consent, then the code redeemed with the verifier alone', async () => {
    const url = docs.url('/notes-client.json');
    docs.set('/notes-client.json', { doc: publicDoc(), headers: { 'cache-control': 'max-age=300' } });
    const jar = await signedIn(srv, 'alice');
    const { r, verifier } = await ask(jar, url);
    assert.equal(r.status, 303, await r.text());
    assert.match(r.headers.get('location'), /^\/consent\?request=/);
    const page = await (await jar.fetch(`${srv.url}${r.headers.get('location')}`)).text();
    assert.match(page, /Notes MCP client/, 'the consent page names the document\'s client');
    const got = cb.next();
    const allowed = await consent(srv, jar, r.headers.get('location'));
    assert.equal(allowed.status, 303);
    await fetch(new URL(allowed.headers.get('location'))); // the browser follows to the redirect URI
    const back = await got;
    const code = back.searchParams.get('code');
    assert.ok(code);
    const t = await post(srv, '/token', { grant_type: 'authorization_code', code, redirect_uri: cb.uri,
      client_id: url, code_verifier: verifier });
    assert.equal(t.status, 200, show(t));
    assert.equal(jwtParts(t.json.access_token).payload.client_id, url);
    const shown = cliJson(srv, ['client', 'show', url]);
    assert.equal(shown.client_name, 'Notes MCP client');
    assert.equal(shown.status, 'active');
    assert.equal(docs.hits('/notes-client.json'), 1, 'fetched once: cached by its max-age');
  });

  it('a document that cannot be fetched: an error page, no redirect, no client', async () => {
    const url = docs.url('/missing.json');
    const jar = await signedIn(srv, 'alice');
    const { r } = await ask(jar, url);
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null, 'never redirected to an unverified URI');
    assert.match(await r.text(), /unknown or not active/);
    assert.notEqual(showClient(url).code, 0, 'nothing registered');
    assert.match(srv.logs, /authorization request of https:\/\/127\.0\.0\.1:\d+\/missing\.json refused: .*HTTP status 404/);
  });

  it('a redirect URI the document does not list is refused without a redirect', async () => {
    const url = docs.url('/other-uri.json');
    docs.set('/other-uri.json', { doc: publicDoc({ redirect_uris: ['http://127.0.0.1:9/elsewhere'] }) });
    const jar = await signedIn(srv, 'alice');
    const { r } = await ask(jar, url);
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('location'), null);
  });

  it('a public document cannot use a grant that needs client authentication', async () => {
    const url = docs.url('/public-cc.json');
    docs.set('/public-cc.json', { doc: publicDoc({ grant_types: ['authorization_code', 'client_credentials'] }) });
    await expectRefusal(srv, () => post(srv, '/token', { grant_type: 'client_credentials', client_id: url }), {
      reason: /no client credentials presented/, clientId: url });
  });

  it('a key-authenticated client\'s document presenting its client_id alone: refused, nothing registered',
    async () => {
      const key = await keyPair('ES256');
      const url = docs.url('/keyed.json');
      docs.set('/keyed.json', { doc: publicDoc({ token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [key.publicJwk] } }) });
      await expectRefusal(srv, () => post(srv, '/token', { grant_type: 'authorization_code', code: 'x',
        redirect_uri: cb.uri, client_id: url, code_verifier: 'v'.repeat(43) }), {
        reason: /no client credentials presented \(client registered for private_key_jwt\)/, clientId: url });
      assert.notEqual(showClient(url).code, 0, 'nothing registered');
    });
});
