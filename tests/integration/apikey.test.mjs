// API keys (SPEC §2.1, §3.2): `mandate client apikey create|revoke`, and the
// RFC 8693 exchange of a key at /token for a short-lived access token, with
// oauth4webapi as the client; every refusal gets the right error and an
// audit event.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { createClient, describeRun, sleep, startServer } from './lib/server.mjs';
import {
  API, agentMetadata, assertOAuthError, auditEvents, basic, createFixtureScopes, discover,
  eventBody, eventType, insecure, post, show, waitAudit,
} from './lib/oauth.mjs';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TYPE = 'urn:mandate:token-type:api-key';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SAML2_TYPE = 'urn:ietf:params:oauth:token-type:saml2'; // a subject type Mandate does not take
const TOKEN_TTL = 120; // [api_keys] token_ttl of this server

describe('API keys', { timeout: 90_000 }, () => {
  let srv;
  let as;
  let client; // a client_secret_basic agent
  let legacy; // a client that has no secret at all, and does not list the grant
  before(async () => {
    srv = await startServer({ config: { api_keys: { token_ttl: `${TOKEN_TTL}s` } } });
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata({ client_name: 'Keyed agent' }));
    legacy = createClient(srv, agentMetadata({
      client_name: 'Legacy caller', kind: 'service',
      token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=legacy',
    }));
    as = await discover(srv);
  });
  after(() => srv?.stop());

  const ok = (r) => { assert.equal(r.code, 0, describeRun(r)); return r; };
  const createKey = (id, ...args) => ok(srv.cli(['client', 'apikey', 'create', id, ...args, '--json'])).json();
  const showClient = (id) => ok(srv.cli(['client', 'show', id, '--json'])).json();
  const exchange = (key, params = {}, headers = {}) => post(srv, '/token', {
    grant_type: TOKEN_EXCHANGE, subject_token: key, subject_token_type: API_KEY_TYPE, ...params,
  }, { headers });
  const refusals = () => auditEvents(srv).filter((e) => ['client.auth_failed', 'token.refused'].includes(eventType(e)));
  const issuedCount = () => auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;

  /** A refused exchange: status and error, no token, one new refusal event naming the client. */
  async function refused(send, status, error, { clientId, type = 'client.auth_failed', secret } = {}) {
    const before_ = refusals().length;
    const issuedBefore = issuedCount();
    const r = await send();
    assertOAuthError(r, status, error);
    if (status === 401) assert.ok(r.headers.get('www-authenticate'), `WWW-Authenticate on 401: ${show(r)}`);
    if (error === 'invalid_client') {
      assert.equal(r.json.error_description, 'client authentication failed',
        'the same answer whatever part failed');
    }
    const events = await waitAudit(srv, (evs) => evs.filter((e) => ['client.auth_failed', 'token.refused']
      .includes(eventType(e))).length > before_, { what: `a ${type} event for ${error}` });
    const fresh = events.filter((e) => ['client.auth_failed', 'token.refused'].includes(eventType(e)))
      .slice(before_).map(eventBody);
    assert.equal(fresh.length, 1, JSON.stringify(fresh));
    assert.equal(eventType(fresh[0]), type, JSON.stringify(fresh));
    assert.equal(fresh[0].decision, 'deny');
    assert.ok(String(fresh[0].reason).startsWith(error), `reason names ${error}: ${JSON.stringify(fresh)}`);
    if (clientId) assert.equal(fresh[0].client_id, clientId, JSON.stringify(fresh));
    if (secret) assert.ok(!JSON.stringify(events).includes(secret), 'no key in the audit log');
    assert.equal(issuedCount(), issuedBefore, 'no token issued');
    return { r, event: fresh[0] };
  }

  it('apikey create --json prints exactly {key_id, api_key, expires_at}', () => {
    const k = createKey(client.client_id);
    assert.deepEqual(Object.keys(k).sort(), ['api_key', 'expires_at', 'key_id']);
    assert.equal(k.expires_at, null, 'no --expires: never expires');
    assert.match(k.key_id, /^cred_[A-Za-z0-9_-]{16}$/);
    assert.equal(typeof k.api_key, 'string');
    assert.ok(k.api_key.includes(k.key_id), 'the key names its key id');
    assert.ok(k.api_key.includes(client.client_id), 'and its client');
    const secret = k.api_key.split('.').pop();
    assert.ok(Buffer.from(secret, 'base64url').length >= 32, 'at least 256 random bits');

    const t0 = Date.now();
    const k2 = createKey(client.client_id, '--expires', '1h');
    const exp = Date.parse(k2.expires_at);
    assert.match(k2.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC 3339');
    assert.ok(Math.abs(exp - (t0 + 3600_000)) < 5000, `expires in an hour: ${k2.expires_at}`);
    assert.notEqual(k2.api_key, k.api_key);

    const human = ok(srv.cli(['client', 'apikey', 'create', client.client_id]));
    assert.match(human.stdout, /api_key: mdk_/);
    assert.match(human.stdout, /not shown again/);
    // the key is shown once: never by show, never in the audit log
    const s = JSON.stringify(showClient(client.client_id));
    assert.ok(!s.includes(k.api_key) && !s.includes(secret));
    const created = auditEvents(srv).filter((e) => eventType(e) === 'client.apikey_created').map(eventBody);
    assert.ok(created.some((e) => JSON.stringify(e).includes(k.key_id)), 'creation audited');
    assert.ok(!JSON.stringify(auditEvents(srv)).includes(secret), 'no key in the audit log');
  });

  it('exchanges a key for a short-lived access token (oauth4webapi, RFC 8693)', async () => {
    const k = createKey(client.client_id);
    const issuedBefore = issuedCount();
    const res = await oauth.genericTokenEndpointRequest(as, { client_id: client.client_id }, oauth.None(),
      TOKEN_EXCHANGE, { subject_token: k.api_key, subject_token_type: API_KEY_TYPE }, insecure);
    const raw = await res.clone().json();
    const r = await oauth.processGenericTokenEndpointResponse(as, { client_id: client.client_id }, res);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(r.token_type.toLowerCase(), 'bearer');
    assert.equal(raw.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(raw.token_type, 'Bearer');
    assert.ok(Number.isInteger(r.expires_in) && r.expires_in > 0 && r.expires_in <= TOKEN_TTL,
      `expires_in ${r.expires_in} <= token_ttl`);
    assert.equal(r.expires_in, TOKEN_TTL);
    assert.equal(r.scope, 'read write');

    const { payload, protectedHeader } = await jose.jwtVerify(r.access_token,
      jose.createRemoteJWKSet(new URL(`${srv.url}/jwks`)), { issuer: srv.issuer, typ: 'at+jwt' });
    assert.ok(protectedHeader.kid);
    assert.equal(payload.sub, client.client_id, 'sub is the client');
    assert.equal(payload.client_id, client.client_id);
    assert.equal(payload.app.auth, 'api_key');
    assert.equal(payload.app.name, 'Keyed agent');
    assert.equal(payload.app.kind, 'agent');
    assert.equal(payload.app.owner, 'alice');
    assert.equal(payload.exp - payload.iat, TOKEN_TTL);
    assert.equal(issuedCount(), issuedBefore + 1, 'token.issued audited');
    const ev = eventBody(auditEvents(srv).filter((e) => eventType(e) === 'token.issued').pop());
    assert.equal(ev.client_id, client.client_id);
    assert.equal(ev.reason, 'api_key');
    assert.ok(!JSON.stringify(ev).includes(k.api_key));
  });

  it('narrows scope and audience like client_credentials', async () => {
    const k = createKey(client.client_id);
    const r = await exchange(k.api_key, { scope: 'read', resource: API });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.scope, 'read');
    const claims = jose.decodeJwt(r.json.access_token);
    assert.equal(claims.aud, API);
    assert.equal(claims.scope, 'read');
    const viaAudience = await exchange(k.api_key, { audience: API });
    assert.equal(viaAudience.status, 200, show(viaAudience));
    assert.equal(jose.decodeJwt(viaAudience.json.access_token).aud, API);
    await refused(() => exchange(k.api_key, { scope: 'admin' }), 400, 'invalid_scope',
      { type: 'token.refused', clientId: client.client_id, secret: k.api_key });
    await refused(() => exchange(k.api_key, { resource: 'https://elsewhere.example.com' }), 400,
      'invalid_target', { type: 'token.refused', clientId: client.client_id });
    await refused(() => exchange(k.api_key, { requested_token_type: 'urn:ietf:params:oauth:token-type:id_token' }),
      400, 'invalid_request', { type: 'token.refused' });
    await refused(() => exchange(k.api_key, { actor_token: 'x', actor_token_type: ACCESS_TOKEN_TYPE }),
      400, 'invalid_request', { type: 'token.refused' });
  });

  it('any client may hold keys, whatever its authentication method and grant types', async () => {
    const k = createKey(legacy.client_id);
    const r = await exchange(k.api_key);
    assert.equal(r.status, 200, show(r));
    const claims = jose.decodeJwt(r.json.access_token);
    assert.equal(claims.sub, legacy.client_id);
    assert.equal(claims.app.auth, 'api_key');
    assert.equal(claims.app.name, 'Legacy caller');
  });

  it('client show lists the key with last_used_at once used', async () => {
    const k = createKey(client.client_id, '--expires', '30d');
    let cred = showClient(client.client_id).credentials.find((c) => c.id === k.key_id);
    assert.ok(cred, 'the key is listed');
    assert.equal(cred.type, 'api_key');
    assert.ok(cred.created_at && cred.expires_at === k.expires_at, JSON.stringify(cred));
    assert.equal(cred.last_used_at, null);
    for (const f of ['id', 'type', 'created_at', 'expires_at', 'last_used_at']) assert.ok(f in cred, f);
    const r = await exchange(k.api_key);
    assert.equal(r.status, 200, show(r));
    cred = showClient(client.client_id).credentials.find((c) => c.id === k.key_id);
    assert.ok(cred.last_used_at, `last_used_at set: ${JSON.stringify(cred)}`);
    assert.ok(Math.abs(Date.parse(cred.last_used_at) - Date.now()) < 60_000);
  });

  it('a revoked key is refused: 401 invalid_client, audited', async () => {
    const k = createKey(client.client_id);
    assert.equal((await exchange(k.api_key)).status, 200);
    const out = ok(srv.cli(['client', 'apikey', 'revoke', client.client_id, k.key_id, '--json'])).json();
    assert.equal(out.key_id, k.key_id);
    assert.equal(out.client_id, client.client_id);
    assert.ok(out.expires_at, 'revoked: expires now');
    const { event } = await refused(() => exchange(k.api_key), 401, 'invalid_client',
      { clientId: client.client_id, secret: k.api_key });
    assert.match(event.reason, /expired or revoked/);
    const cred = showClient(client.client_id).credentials.find((c) => c.id === k.key_id);
    assert.ok(cred && cred.expires_at, 'still listed, expired');
    assert.ok(auditEvents(srv).some((e) => eventType(e) === 'client.apikey_revoked'
      && JSON.stringify(eventBody(e)).includes(k.key_id)), 'revocation audited');
    // revoking what is not an API key of this client is an error
    const bad = srv.cli(['client', 'apikey', 'revoke', client.client_id, 'cred_AAAAAAAAAAAAAAAA']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /^mandate: .*(unknown API key|has no API key)/);
  });

  it('an expired key is refused', async () => {
    const k = createKey(client.client_id, '--expires', '2s');
    const t0 = Date.now();
    const first = await exchange(k.api_key);
    assert.equal(first.status, 200, show(first));
    // a token never outlives the key it was exchanged for
    assert.ok(first.json.expires_in <= 2, `expires_in ${first.json.expires_in} capped by the key`);
    while (Date.now() < t0 + 3500) await sleep(250);
    const { event } = await refused(() => exchange(k.api_key), 401, 'invalid_client',
      { clientId: client.client_id });
    assert.match(event.reason, /expired or revoked/);
  });

  it('a wrong secret part, an unknown key id or a malformed key is refused', async () => {
    const k = createKey(client.client_id);
    const parts = k.api_key.split('.');
    const secret = parts.pop();
    const flipped = `${parts.join('.')}.${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
    let { event } = await refused(() => exchange(flipped), 401, 'invalid_client',
      { clientId: client.client_id, secret });
    assert.match(event.reason, /wrong API key/);
    const unknownId = `mdk_${client.client_id}.cred_AAAAAAAAAAAAAAAA.${secret}`;
    ({ event } = await refused(() => exchange(unknownId), 401, 'invalid_client', { clientId: client.client_id }));
    assert.match(event.reason, /unknown API key/);
    // the key id of one client named with another
    const crossed = `mdk_${legacy.client_id}.${k.key_id}.${secret}`;
    await refused(() => exchange(crossed), 401, 'invalid_client', { clientId: legacy.client_id });
    for (const bad of ['nonsense', `mdk_${client.client_id}.${k.key_id}`, `${k.api_key}x`,
      k.api_key.replace('mdk_', 'mdx_'), `mdk_${'a'.repeat(300)}.${k.key_id}.${secret}`]) {
      ({ event } = await refused(() => exchange(bad), 401, 'invalid_client'));
      assert.match(event.reason, /malformed API key|wrong API key/, bad);
    }
  });

  it("a suspended client's key is refused", async () => {
    const c = createClient(srv, agentMetadata({ client_name: 'To suspend' }));
    const k = createKey(c.client_id);
    assert.equal((await exchange(k.api_key)).status, 200);
    ok(srv.cli(['client', 'suspend', c.client_id]));
    const { event } = await refused(() => exchange(k.api_key), 401, 'invalid_client',
      { clientId: c.client_id });
    assert.match(event.reason, /suspended/);
    ok(srv.cli(['client', 'resume', c.client_id]));
    assert.equal((await exchange(k.api_key)).status, 200);
  });

  it('client authentication beside the key must be the same client', async () => {
    const k = createKey(client.client_id);
    const same = await exchange(k.api_key, {}, { authorization: basic(client.client_id, client.client_secret) });
    assert.equal(same.status, 200, show(same));
    const other = createClient(srv, agentMetadata({ client_name: 'Other' }));
    const { event } = await refused(() => exchange(k.api_key, {},
      { authorization: basic(other.client_id, other.client_secret) }), 401, 'invalid_client');
    assert.match(event.reason, /presented by client/);
    await refused(() => exchange(k.api_key, {}, { authorization: basic(client.client_id, 'wrong') }),
      401, 'invalid_client', { clientId: client.client_id });
    await refused(() => exchange(k.api_key, { client_id: other.client_id }), 400, 'invalid_request');
  });

  it('requests without a usable subject token are invalid_request', async () => {
    const k = createKey(client.client_id);
    await refused(() => post(srv, '/token', { grant_type: TOKEN_EXCHANGE, subject_token_type: API_KEY_TYPE }),
      400, 'invalid_request');
    // another subject_token_type: not supported, even for an authenticated client
    const { r } = await refused(() => post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: k.api_key, subject_token_type: SAML2_TYPE,
    }, { headers: { authorization: basic(client.client_id, client.client_secret) } }), 400, 'invalid_request',
    { type: 'token.refused', secret: k.api_key });
    assert.equal(r.json.error_description, 'unsupported subject_token_type');
    // an access token (delegation) needs the grant registered, which this client did not
    await refused(() => post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: k.api_key, subject_token_type: ACCESS_TOKEN_TYPE,
    }, { headers: { authorization: basic(client.client_id, client.client_secret) } }), 400, 'unauthorized_client',
    { type: 'token.refused', secret: k.api_key });
    // without any client authentication it is not an API key exchange at all
    await refused(() => post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: k.api_key, subject_token_type: ACCESS_TOKEN_TYPE,
    }), 401, 'invalid_client');
  });

  it('discovery advertises the token exchange grant', () => {
    assert.ok(as.grant_types_supported.includes(TOKEN_EXCHANGE), JSON.stringify(as.grant_types_supported));
  });

  it('CLI refusals: unknown client, bad duration, wrong arguments', () => {
    for (const args of [['client', 'apikey', 'create', 'mdt_nope'],
      ['client', 'apikey', 'create', client.client_id, '--expires', 'soon'],
      ['client', 'apikey', 'create', client.client_id, '--expires', '0'],
      ['client', 'apikey', 'create', client.client_id, '--keep', '1h'],
      ['client', 'apikey', 'revoke', client.client_id],
      ['client', 'apikey', 'frobnicate', client.client_id]]) {
      const r = srv.cli(args);
      assert.notEqual(r.code, 0, describeRun(r));
      assert.match(r.stderr, /^mandate: \S/, describeRun(r));
      assert.equal(r.stderr.trim().split('\n').length, 1, describeRun(r));
      assert.equal(r.stdout, '', describeRun(r));
    }
  });
});
