// [server] outbound_ca_file: the CAs trusted by Mandate's outbound https
// (here a client ID metadata document and the JWK Set it points at, served
// over https by a host whose certificate a test CA issued). With the
// setting the document resolves and a token is issued; without it the
// fetch fails with a reason naming the untrusted certificate, and nothing
// is registered. Webhooks and an external AuthZEN PDP (POSTs) follow the
// same rule. A bundle that is
// missing or holds no certificate stops the start-up with an error naming
// the key.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { createClient, createScope, sleep, startServer } from './lib/server.mjs';
import { assertRegistered, register } from './lib/register.mjs';
import { createFixtureScopes, discover, insecure, jwtParts, show, tokenBasic } from './lib/oauth.mjs';
import { expectRefusal, keyPair } from './lib/assertions.mjs';
import { httpsDocServer } from './lib/https_docs.mjs';

function config(caFile, hooks) {
  return {
    server: caFile ? { outbound_ca_file: caFile } : {},
    registration: {
      client_id_metadata_documents: 'true',
      unverified_scopes: 'read',
      unverified_grant_types: 'client_credentials',
      open: 'true',
      rate_per_source: '1000',
    },
    webhooks: hooks ? { endpoints: hooks, retry_initial: '1s' } : {},
    // the document host is on 127.0.0.1: documented opt-in for private addresses
    client_auth: { jwks_uri_allow_private: 'true', jwks_uri_timeout: '3s' },
  };
}

function agentDoc(key, over = {}) {
  return {
    client_name: 'Agent over https',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    scope: 'read',
    jwks: { keys: [key.publicJwk] },
    ...over,
  };
}

async function tokenRequest(as, url, key) {
  return oauth.clientCredentialsGrantRequest(as, { client_id: url },
    oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }), { scope: 'read' }, insecure);
}

async function raw(res) {
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

describe('[server] outbound_ca_file', { timeout: 120_000 }, () => {
  let web;
  let trusting;
  let plain;
  let key;

  before(async () => {
    web = await httpsDocServer();
    key = await keyPair('ES256');
    web.set('/hooks', { body: '{}' });
    writeFileSync(path.join(web.dir, 'hook.secret'), 'webhook-secret-of-the-tests-0123456789\n');
    const hooks = path.join(web.dir, 'hooks.json');
    writeFileSync(hooks, JSON.stringify([{ url: web.url('/hooks'), secret_file: 'hook.secret' }]));
    trusting = await startServer({ config: config(web.caFile, hooks) });
    plain = await startServer({ config: config(null, hooks) });
    for (const srv of [trusting, plain]) {
      createFixtureScopes(srv);
      createScope(srv, 'extra');
    }
  });

  after(async () => {
    await trusting?.stop();
    await plain?.stop();
    await web?.close();
  });

  it('with the test CA: an https document and its https jwks_uri resolve, a token is issued',
    async () => {
      web.set('/keys.json', { body: JSON.stringify({ keys: [key.publicJwk] }) });
      web.set('/agent.json', { doc: agentDoc(key, { jwks: undefined, jwks_uri: web.url('/keys.json') }) });
      const url = web.url('/agent.json');
      const as = await discover(trusting);
      const client = { client_id: url };
      const tok = await oauth.processClientCredentialsResponse(as, client,
        await tokenRequest(as, url, key));
      assert.equal(jwtParts(tok.access_token).payload.client_id, url);
      assert.equal(web.hits('/agent.json'), 1);
      assert.equal(web.hits('/keys.json'), 1);
    });

  it('without it: the fetch fails (certificate not trusted), invalid_client, nothing registered',
    async () => {
      web.set('/other.json', { doc: agentDoc(key) });
      const url = web.url('/other.json');
      const as = await discover(plain);
      const before = web.hits('/other.json');
      await expectRefusal(plain, async () => raw(await tokenRequest(as, url, key)), {
        reason: /certificate does not chain to a trusted CA \(the system's store\)/, clientId: url });
      assert.equal(web.hits('/other.json'), before, 'the TLS handshake failed before any request');
      const shown = plain.cli(['client', 'show', url]);
      assert.notEqual(shown.code, 0, 'no client was registered');
    });

  it('a webhook over https is delivered with the test CA, and fails without it', async () => {
    const pendingOn = async (srv, name) => assertRegistered(await register(srv, {
      client_name: name, grant_types: ['client_credentials'], scope: 'read extra' }), 'pending');
    await pendingOn(trusting, 'hooked');
    for (let i = 0; i < 100 && web.hits('/hooks') === 0; i++) await sleep(100);
    assert.equal(web.hits('/hooks'), 1, 'delivered over https to the host of the test CA');
    await pendingOn(plain, 'unhooked');
    const why = /webhook notification \S+ to \S+ failed .*certificate does not chain to a trusted CA/;
    for (let i = 0; i < 100 && !why.test(plain.logs); i++) await sleep(100);
    assert.match(plain.logs, why);
    assert.equal(web.hits('/hooks'), 1, 'nothing reached the host without the CA');
  });

  it('an external AuthZEN PDP over https is asked with the test CA, and fails closed without it',
    async () => {
      web.set('/pdp/access/v1/evaluations', { body: JSON.stringify({ evaluations: [{ decision: true }] }) });
      const pdpServer = (caFile) => startServer({ config: {
        server: caFile ? { outbound_ca_file: caFile } : {},
        pdp: { mode: 'authzen', url: web.url('/pdp'), timeout: '2s', cache_ttl: '0' } } });
      const servers = [await pdpServer(web.caFile), await pdpServer(null)];
      try {
        const [ok, refused] = await Promise.all(servers.map(async (srv) => {
          createScope(srv, 'orders:read');
          const c = createClient(srv, { client_name: 'PDP client', kind: 'service',
            grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic',
            scope: 'orders:read' });
          return tokenBasic(srv, c, { scope: 'orders:read' });
        }));
        assert.equal(ok.status, 200, show(ok));
        assert.equal(web.hits('/pdp/access/v1/evaluations'), 1, 'one question, over https');
        assert.equal(refused.status, 503, show(refused));
        assert.equal(refused.json.error, 'temporarily_unavailable');
        assert.equal(web.hits('/pdp/access/v1/evaluations'), 1, 'nothing reached the PDP without the CA');
        assert.match(servers[1].logs, /certificate does not chain to a trusted CA \(the system's store\)/);
      } finally {
        await Promise.all(servers.map((srv) => srv.stop()));
      }
    });

  it('a missing bundle stops the start-up with an error naming the key', async () => {
    await assert.rejects(startServer({ config: config(path.join(web.dir, 'nowhere.pem')) }),
      /\[server\] outbound_ca_file: file not found/);
  });

  it('a file without a certificate stops the start-up with an error naming the key', async () => {
    const empty = path.join(web.dir, 'empty.pem');
    writeFileSync(empty, 'not a certificate\n');
    await assert.rejects(startServer({ config: config(empty) }),
      /\[server\] outbound_ca_file: holds no PEM certificate/);
  });
});
