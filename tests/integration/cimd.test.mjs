// Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document):
// documents served by this test on 127.0.0.1 (cimd_allow_http_loopback), used
// as client_ids in client_credentials token requests with oauth4webapi's
// PrivateKeyJwt; caching by Cache-Control (one fetch for several requests, a
// refetch after max-age); every refusal answered with the uniform
// invalid_client and recorded in the audit log with its reason.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { cliJson, sleep, startServer } from './lib/server.mjs';
import {
  basic, createFixtureScopes, discover, get, insecure, jwtParts, post,
} from './lib/oauth.mjs';
import {
  clientClaims, expectRefusal, keyPair, sign, tokenWithAssertion,
} from './lib/assertions.mjs';

const MAX_BYTES = 1024;

/**
 * A document server on 127.0.0.1. set(path, {doc | body, status, headers});
 * a doc's client_id defaults to the URL it is served at. hits(path) counts.
 */
async function docServer() {
  const routes = new Map();
  const counts = new Map();
  const sockets = new Set();
  let base;
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    counts.set(path, (counts.get(path) || 0) + 1);
    const r = routes.get(path);
    if (!r) { res.writeHead(404).end(); return; }
    const body = r.body ?? JSON.stringify({ client_id: `${base}${path}`, ...r.doc });
    res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...(r.headers || {}) });
    res.end(body);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  return {
    url: (path) => `${base}${path}`,
    set(path, route) { routes.set(path, route); },
    hits: (path) => counts.get(path) || 0,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The metadata of a public agent that authenticates with private_key_jwt. */
function agentDoc(key, over = {}) {
  return {
    client_name: 'MCP desktop agent',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [key.publicJwk] },
    scope: 'read',
    ...over,
  };
}

/** client_credentials with PrivateKeyJwt and the document URL as client_id. */
async function ccWithDocument(as, url, key, params = { scope: 'read' }) {
  const client = { client_id: url };
  const res = await oauth.clientCredentialsGrantRequest(as, client,
    oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }), params, insecure);
  return oauth.processClientCredentialsResponse(as, client, res);
}

/** The same request, raw: the response for refusal checks. */
async function rawWithDocument(as, url, key) {
  const res = await oauth.clientCredentialsGrantRequest(as, { client_id: url },
    oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid }), { scope: 'read' }, insecure);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

describe('client ID metadata documents', { timeout: 120_000 }, () => {
  let srv;
  let as;
  let web;
  let key;
  let other;

  before(async () => {
    web = await docServer();
    srv = await startServer({
      config: {
        registration: {
          client_id_metadata_documents: 'true',
          cimd_allow_http_loopback: 'true',
          cimd_deny_domains: 'denied.example,.denied.example',
          cimd_max_bytes: String(MAX_BYTES),
          cimd_cache_min: '1s',
          cimd_cache_max: '1h',
          unverified_scopes: 'read',
          unverified_grant_types: 'client_credentials',
        },
        client_auth: {
          jwks_uri_allow_http: 'true',
          jwks_uri_allow_private: 'true',
          jwks_uri_timeout: '2s',
          jwks_uri_refetch_interval: '1s',
        },
      },
    });
    createFixtureScopes(srv);
    as = await discover(srv);
    key = await keyPair('ES256');
    other = await keyPair('ES256');
  });

  after(async () => {
    await srv?.stop();
    await web?.close();
  });

  it('is advertised in the discovery metadata', () => {
    assert.equal(as.client_id_metadata_document_supported, true);
  });

  it('resolves a document and issues a token with private_key_jwt; the client is "cimd"', async () => {
    web.set('/agent.json', { doc: agentDoc(key), headers: { 'cache-control': 'public, max-age=300' } });
    const url = web.url('/agent.json');
    const tok = await ccWithDocument(as, url, key);
    assert.equal(tok.token_type.toLowerCase(), 'bearer');
    const { payload } = jwtParts(tok.access_token);
    assert.equal(payload.client_id, url);
    assert.equal(payload.sub, url);
    assert.equal(payload.scope, 'read');
    assert.equal(payload.app?.auth, 'private_key_jwt');
    const shown = cliJson(srv, ['client', 'show', url]);
    assert.equal(shown.client_id, url);
    assert.equal(shown.client_name, 'MCP desktop agent');
    assert.equal(shown.status, 'active');
    assert.equal(web.hits('/agent.json'), 1);
  });

  it('caches the document: one fetch for several token requests', async () => {
    web.set('/cached.json', { doc: agentDoc(key), headers: { 'cache-control': 'max-age=600' } });
    const url = web.url('/cached.json');
    for (let i = 0; i < 4; i++) await ccWithDocument(as, url, key);
    await Promise.all([1, 2, 3].map(() => ccWithDocument(as, url, key)));
    assert.equal(web.hits('/cached.json'), 1);
  });

  it('fetches it again after max-age and applies what changed', async () => {
    web.set('/short.json', { doc: agentDoc(key), headers: { 'cache-control': 'max-age=2' } });
    const url = web.url('/short.json');
    await ccWithDocument(as, url, key);
    await ccWithDocument(as, url, key);
    assert.equal(web.hits('/short.json'), 1);
    // the key rotates in the document: the old key stops working after the refetch
    web.set('/short.json', { doc: agentDoc(other, { client_name: 'Renamed agent' }),
      headers: { 'cache-control': 'max-age=2' } });
    await sleep(2200);
    await ccWithDocument(as, url, other);
    assert.equal(web.hits('/short.json'), 2);
    assert.equal(cliJson(srv, ['client', 'show', url]).client_name, 'Renamed agent');
    await expectRefusal(srv, () => rawWithDocument(as, url, key), {
      reason: /signature|kid/, clientId: url });
  });

  it('uses the keys at the document\'s jwks_uri', async () => {
    web.set('/keys.json', { body: JSON.stringify({ keys: [key.publicJwk] }) });
    web.set('/with-uri.json', {
      doc: agentDoc(key, { jwks: undefined, jwks_uri: web.url('/keys.json') }),
    });
    await ccWithDocument(as, web.url('/with-uri.json'), key);
    assert.equal(web.hits('/keys.json'), 1);
  });

  it('refuses a document whose client_id differs from its URL', async () => {
    web.set('/mismatch.json', { doc: agentDoc(key, { client_id: web.url('/other.json') }) });
    const url = web.url('/mismatch.json');
    await expectRefusal(srv, () => rawWithDocument(as, url, key), {
      reason: /client_id differs from its URL/, clientId: url });
    assert.notEqual(srv.cli(['client', 'show', url]).code, 0, 'no client was created');
  });

  it('refuses a document larger than cimd_max_bytes', async () => {
    web.set('/large.json', { doc: agentDoc(key, { client_description: 'x'.repeat(MAX_BYTES) }) });
    const url = web.url('/large.json');
    await expectRefusal(srv, () => rawWithDocument(as, url, key), {
      reason: /larger than 1024 bytes/, clientId: url });
    assert.notEqual(srv.cli(['client', 'show', url]).code, 0, 'no client was created');
  });

  it('refuses a host in cimd_deny_domains without fetching', async () => {
    for (const url of ['https://denied.example/agent.json', 'https://app.denied.example/c.json']) {
      await expectRefusal(srv, () => rawWithDocument(as, url, key), {
        reason: /cimd_deny_domains/, clientId: url });
    }
  });

  it('refuses URLs the draft forbids, a document with a secret, and a failed fetch', async () => {
    const fragment = `${web.url('/agent.json')}#x`;
    await expectRefusal(srv, () => rawWithDocument(as, fragment, key), { reason: /fragment/ });
    const dots = web.url('/a/../agent.json');
    await expectRefusal(srv, () => rawWithDocument(as, dots, key), { reason: /dot segment/ });
    web.set('/secret.json', { doc: agentDoc(key, { client_secret: 'hunter2' }) });
    await expectRefusal(srv, () => rawWithDocument(as, web.url('/secret.json'), key), {
      reason: /client_secret/ });
    web.set('/broken.json', { status: 500, body: 'oops' });
    await expectRefusal(srv, () => rawWithDocument(as, web.url('/broken.json'), key), {
      reason: /fetch: HTTP status 500/ });
    web.set('/notjson.json', { body: 'hello' });
    await expectRefusal(srv, () => rawWithDocument(as, web.url('/notjson.json'), key), {
      reason: /not a JSON object/ });
  });

  it('never accepts a secret for a document URL', async () => {
    web.set('/agent.json', { doc: agentDoc(key) });
    const url = web.url('/agent.json');
    const before = web.hits('/agent.json');
    await expectRefusal(srv, () => post(srv, '/token', { grant_type: 'client_credentials' },
      { headers: { authorization: basic(url, 'guess') } }), { reason: /no secret/, clientId: url });
    assert.equal(web.hits('/agent.json'), before, 'no fetch for a secret');
  });

  it('a refetch that fails: the client cannot authenticate until the document is back', async () => {
    web.set('/flaky.json', { doc: agentDoc(key), headers: { 'cache-control': 'max-age=1' } });
    const url = web.url('/flaky.json');
    await ccWithDocument(as, url, key);
    web.set('/flaky.json', { status: 503, body: 'down' });
    await sleep(1200);
    await expectRefusal(srv, () => rawWithDocument(as, url, key), {
      reason: /fetch: HTTP status 503/, clientId: url });
    web.set('/flaky.json', { doc: agentDoc(key), headers: { 'cache-control': 'max-age=60' } });
    await sleep(1200); // the failure is remembered for jwks_uri_refetch_interval
    await ccWithDocument(as, url, key);
  });

  it('puts a document that asks for more than unverified clients get in pending', async () => {
    web.set('/greedy.json', { doc: agentDoc(key, { scope: 'read write admin' }),
      headers: { 'cache-control': 'max-age=300' } });
    const url = web.url('/greedy.json');
    await expectRefusal(srv, () => rawWithDocument(as, url, key), {
      reason: /pending/, clientId: url });
    assert.equal(cliJson(srv, ['client', 'show', url]).status, 'pending');
    // approved by an approver, it obtains a token (the document is still cached: no refetch)
    const [req] = cliJson(srv, ['request', 'list', '--status', 'pending'])
      .filter((r) => r.client_id === url);
    assert.ok(req, 'an approval request for the document client');
    cliJson(srv, ['request', 'approve', req.id]);
    const tok = await ccWithDocument(as, url, key, { scope: 'read write' });
    assert.equal(jwtParts(tok.access_token).payload.scope.split(' ').sort().join(' '), 'read write');
    assert.equal(web.hits('/greedy.json'), 1);
  });

  it('is off, and not advertised, when client_id_metadata_documents = false', async () => {
    const off = await startServer({ config: { registration: { client_id_metadata_documents: 'false' } } });
    try {
      const meta = (await get(off, '/.well-known/oauth-authorization-server')).json;
      assert.equal(meta.client_id_metadata_document_supported, undefined);
      const url = 'https://app.example.com/agent.json';
      const assertion = await sign(key, clientClaims(off, url));
      await expectRefusal(off, () => tokenWithAssertion(off, assertion), {
        reason: /metadata documents are disabled/, clientId: url });
    } finally {
      await off.stop();
    }
  });
});
