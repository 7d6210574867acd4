// The grant and client authentication registries, seen from outside: the
// discovery lists they produce (exact values, in order), the decisions the
// token endpoint takes from them before a grant runs, the order in which a
// request's client authentication is recognised, and the client metadata
// they accept. Every refusal leaves no token and changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, startServer } from './lib/server.mjs';
import {
  agentMetadata, assertOAuthError, auditEvents, basic, createFixtureScopes, eventType, get, post,
  show, tokenBasic,
} from './lib/oauth.mjs';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const API_KEY_TYPE = 'urn:mandate:token-type:api-key';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SAML2_TYPE = 'urn:ietf:params:oauth:token-type:saml2'; // a subject type Mandate does not take
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

describe('registries', { timeout: 90_000 }, () => {
  let srv;
  let client; // client_secret_basic, client_credentials only
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata({ client_name: 'Registry agent' }));
  });
  after(() => srv?.stop());

  const issued = () => auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;
  /** A refusal: status and error, and no token issued meanwhile. */
  async function refused(send, status, error, description) {
    const before_ = issued();
    const r = await send();
    assertOAuthError(r, status, error);
    if (description) assert.equal(r.json.error_description, description, show(r));
    assert.equal(issued(), before_, 'no token issued');
    return r;
  }

  it('discovery lists the grants, methods and algorithms of the registries, in order', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const r = await get(srv, path);
      assert.equal(r.status, 200, show(r));
      const m = r.json;
      assert.deepEqual(m.grant_types_supported, ['client_credentials', TOKEN_EXCHANGE, JWT_BEARER,
        'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code',
        'urn:openid:params:grant-type:ciba']);
      assert.deepEqual(m.token_endpoint_auth_methods_supported, ['client_secret_basic',
        'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none']);
      for (const k of ['introspection', 'revocation']) {
        assert.deepEqual(m[`${k}_endpoint_auth_methods_supported`], ['client_secret_basic',
          'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']);
      }
      for (const k of ['token', 'introspection', 'revocation']) {
        assert.deepEqual(m[`${k}_endpoint_auth_signing_alg_values_supported`],
          ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519']);
      }
    }
  });

  it('the token endpoint decides on grant_type from the registry', async () => {
    const auth = { headers: { authorization: basic(client.client_id, client.client_secret) } };
    await refused(() => post(srv, '/token', {}, auth), 400, 'invalid_request', 'grant_type is required');
    await refused(() => post(srv, '/token', { grant_type: 'password' }, auth), 400,
      'unsupported_grant_type', 'unsupported grant_type');
    for (const grant of [JWT_BEARER, 'authorization_code', 'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code']) {
      await refused(() => post(srv, '/token', { grant_type: grant }, auth), 400, 'unauthorized_client',
        'the client is not registered for this grant type');
    }
    const ok = await tokenBasic(srv, client);
    assert.equal(ok.status, 200, show(ok));
  });

  it('token exchange dispatches on subject_token_type; an API key needs no registered grant', async () => {
    const auth = { headers: { authorization: basic(client.client_id, client.client_secret) } };
    await refused(() => post(srv, '/token', { grant_type: TOKEN_EXCHANGE, subject_token: 'x' }, auth),
      400, 'invalid_request', 'subject_token_type is required');
    await refused(() => post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: SAML2_TYPE,
    }, auth), 400, 'invalid_request', 'unsupported subject_token_type');
    // delegation (an access token as subject) needs the grant registered
    await refused(() => post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: 'x', subject_token_type: ACCESS_TOKEN_TYPE,
    }, auth), 400, 'unauthorized_client', 'the client is not registered for this grant type');
    // the client lists only client_credentials, and the key is its credential
    const key = srv.cli(['client', 'apikey', 'create', client.client_id, '--json']).json();
    const r = await post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: key.api_key, subject_token_type: API_KEY_TYPE,
    });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.issued_token_type, ACCESS_TOKEN_TYPE);
  });

  it('client authentication is recognised in order; two exclusive methods are refused', async () => {
    const b = basic(client.client_id, client.client_secret);
    const cc = { grant_type: 'client_credentials' };
    await refused(() => post(srv, '/token', { ...cc, client_secret: client.client_secret },
      { headers: { authorization: b } }), 400, 'invalid_request', 'use exactly one client authentication method');
    await refused(() => post(srv, '/token', { ...cc, client_assertion_type: ASSERTION_TYPE },
      { headers: { authorization: b } }), 400, 'invalid_request', 'use exactly one client authentication method');
    await refused(() => post(srv, '/token', { ...cc, client_assertion: 'a.b.c', client_id: client.client_id,
      client_secret: client.client_secret }), 400, 'invalid_request');
    // client_secret_post for a client registered for client_secret_basic
    await refused(() => post(srv, '/token', { ...cc, client_id: client.client_id,
      client_secret: client.client_secret }), 401, 'invalid_client', 'client authentication failed');
    // client_id alone is a public client, which this one is not
    await refused(() => post(srv, '/token', { ...cc, client_id: client.client_id }), 401, 'invalid_client');
    await refused(() => post(srv, '/token', cc), 401, 'invalid_client');
    // Basic with a client_id that names the same client is one method, not two
    const r = await post(srv, '/token', { ...cc, client_id: client.client_id }, { headers: { authorization: b } });
    assert.equal(r.status, 200, show(r));
  });

  it('a public client may use only the grants open to public clients', async () => {
    const pub = createClient(srv, agentMetadata({
      client_name: 'Public app', kind: 'native', token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], redirect_uris: ['http://127.0.0.1:9/cb'],
    }));
    await refused(() => post(srv, '/token', { grant_type: 'client_credentials', client_id: pub.client_id }),
      401, 'invalid_client');
    await refused(() => post(srv, '/token', { grant_type: TOKEN_EXCHANGE, client_id: pub.client_id,
      subject_token: 'x', subject_token_type: ACCESS_TOKEN_TYPE }), 401, 'invalid_client');
    // authorization_code is open to it: the refusal is about the code, not the client
    await refused(() => post(srv, '/token', { grant_type: 'authorization_code', client_id: pub.client_id,
      code: 'nope', redirect_uri: 'http://127.0.0.1:9/cb', code_verifier: 'v'.repeat(43) }), 400, 'invalid_grant');
  });

  it('client metadata accepts the registrable grants and methods, with their rules', () => {
    const create = (m) => srv.cli(['client', 'create', '--json'], { input: JSON.stringify(m) });
    const refusedCreate = (m, re) => {
      const before_ = srv.cli(['client', 'list', '--json']).text;
      const r = create(m);
      assert.notEqual(r.code, 0, `accepted ${JSON.stringify(m)}`);
      assert.match(r.stderr + r.stdout, re);
      assert.equal(srv.cli(['client', 'list', '--json']).text, before_, 'no client created');
    };
    // token exchange is registrable (for delegation; an API key needs no registration), by
    // confidential clients only
    assert.equal(create(agentMetadata({ grant_types: [TOKEN_EXCHANGE] })).code, 0);
    refusedCreate(agentMetadata({ grant_types: [TOKEN_EXCHANGE], token_endpoint_auth_method: 'none' }),
      /token_endpoint_auth_method none \(a public client\) allows only/);
    refusedCreate(agentMetadata({ grant_types: ['password'] }), /grant_types must be/);
    refusedCreate(agentMetadata({ token_endpoint_auth_method: 'client_secret_jwt' }),
      /token_endpoint_auth_method must be/);
    refusedCreate(agentMetadata({ grant_types: ['refresh_token'] }),
      /the refresh_token grant goes with the authorization_code grant/);
    refusedCreate(agentMetadata({ grant_types: ['authorization_code'] }),
      /the authorization_code grant needs redirect_uris/);
    refusedCreate(agentMetadata({ response_types: ['code'] }),
      /response_types \["code"\] goes with the authorization_code grant/);
    refusedCreate(agentMetadata({ token_endpoint_auth_method: 'none' }),
      /token_endpoint_auth_method none \(a public client\) allows only/);
    refusedCreate(agentMetadata({ token_endpoint_auth_method: 'private_key_jwt' }),
      /private_key_jwt needs jwks, jwks_uri or workload_identity/);
    refusedCreate(agentMetadata({ token_endpoint_auth_method: 'self_signed_tls_client_auth' }),
      /self_signed_tls_client_auth needs jwks or jwks_uri/);
    refusedCreate(agentMetadata({ token_endpoint_auth_method: 'tls_client_auth' }),
      /tls_client_auth needs exactly one of/);
    refusedCreate(agentMetadata({ tls_client_auth_subject_dn: 'CN=x' }),
      /tls_client_auth_\* fields need token_endpoint_auth_method tls_client_auth/);
    // the response type that goes with the code grant is filled in
    const r = create(agentMetadata({ grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://app.example.com/cb'] }));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json().response_types, ['code']);
  });
});
