// Cross-application access with Identity Assertion JWT Authorization Grants
// (draft-ietf-oauth-identity-assertion-authz-grant), between two Mandate
// servers: the IdP, where a person signs in to an agent and the agent
// exchanges the ID token (RFC 8693) for an ID-JAG naming the resource's
// authorization server; and that authorization server, which trusts the
// IdP's keys (a jwks_file exported from its /jwks) and accepts the ID-JAG
// with the JWT bearer grant. Every refusal on either side is checked with
// its audit event.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as jose from 'jose';

import { JWT_BEARER, expectRefusal, keyPair, now, sign } from './lib/assertions.mjs';
import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { authorizeCode, redeem } from './lib/grants.mjs';
import {
  API, API2, agentMetadata, auditEvents, basic, createFixtureScopes, eventBody, eventType, jwtParts, post,
  show, scopeSet,
} from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_JAG = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const TYP = 'oauth-id-jag+jwt';
const OTHER_AS = 'https://other-as.example.test';
const SAAS_IDP = 'https://saas-idp.example.test'; // an IdP trusted for ID-JAGs whose key the test holds
const PLAIN_IDP = 'https://plain-idp.example.test'; // trusted for the JWT bearer grant, not for ID-JAGs

describe('ID-JAG between two authorization servers', { timeout: 180_000 }, () => {
  let dir;
  let idp; // Mandate as the enterprise IdP
  let ras; // Mandate as the resource's authorization server
  let cb;
  let agent; // at the IdP: signs people in, exchanges their ID tokens
  let other; // at the IdP: another client registered for the exchange
  let unlisted; // at the IdP: registered for the exchange, but no target lists it
  let noExchange; // at the IdP: not registered for the exchange
  let rasAgent; // the agent's client at the resource AS
  let rasOther; // another client at the resource AS
  let saas;
  let plain;
  let stranger;

  const idTokens = {};

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-idjag-'));
    const targets = path.join(dir, 'targets.json');
    await writeFile(targets, '[]');
    idp = await startServer({ config: { users: FAST_ARGON2, id_jag: { targets } } });
    createUsers(idp, ['alice', 'bob', 'carol']);
    cb = await callbackServer();
    const web = (name, grants) => createClient(idp, {
      kind: 'web', owner: 'alice', client_name: name, grant_types: grants, response_types: ['code'],
      redirect_uris: [cb.uri], scope: 'openid', token_endpoint_auth_method: 'client_secret_basic',
    });
    agent = web('Travel agent', ['authorization_code', TOKEN_EXCHANGE, 'client_credentials']);
    other = web('Another agent', ['authorization_code', TOKEN_EXCHANGE]);
    unlisted = web('Unlisted agent', ['authorization_code', TOKEN_EXCHANGE]);
    noExchange = web('Sign-in only', ['authorization_code']);

    // the resource AS trusts the IdP's published keys, exported to a file
    const jwks = await (await fetch(`${idp.url}/jwks`)).json();
    await writeFile(path.join(dir, 'idp-jwks.json'), JSON.stringify(jwks));
    saas = await keyPair('ES256');
    plain = await keyPair('ES256');
    stranger = await keyPair('ES256');
    await writeFile(path.join(dir, 'saas.json'), JSON.stringify({ keys: [saas.publicJwk] }));
    await writeFile(path.join(dir, 'plain.json'), JSON.stringify({ keys: [plain.publicJwk] }));
    const issuers = path.join(dir, 'issuers.json');
    await writeFile(issuers, JSON.stringify([
      { issuer: idp.issuer, jwks_file: 'idp-jwks.json', id_jag: true, rules: [{ scopes: ['read', 'write'] }] },
      { issuer: SAAS_IDP, jwks_file: 'saas.json', id_jag: true, max_lifetime: 600, rules: [{ scopes: ['read'] }] },
      { issuer: PLAIN_IDP, jwks_file: 'plain.json', rules: [{ scopes: ['read'] }] },
    ]));
    ras = await startServer({ config: { users: FAST_ARGON2, jwt_bearer: { issuers } } });
    createFixtureScopes(ras);
    createUsers(ras, ['alice', 'bob']);
    rasAgent = createClient(ras, agentMetadata({ client_name: 'Travel agent', grant_types: [JWT_BEARER] }));
    rasOther = createClient(ras, agentMetadata({ client_name: 'Another agent', grant_types: [JWT_BEARER] }));

    // the IdP's targets: the resource AS, and another one the resource AS is not
    await writeFile(targets, JSON.stringify([
      { issuer: ras.issuer, clients: { [agent.client_id]: rasAgent.client_id, [other.client_id]: rasOther.client_id },
        scopes: ['read', 'write'], resources: [API, API2], ttl: 120 },
      { issuer: OTHER_AS, clients: { [agent.client_id]: 'agent-at-other' }, scopes: ['read'] },
    ]));
    await idp.restart();

    for (const [user, client] of [['alice', agent], ['bob', agent], ['carol', agent], ['alice', other]]) {
      const jar = await signedIn(idp, user);
      const grant = await authorizeCode(idp, jar, client, cb.uri, { scope: 'openid' });
      const r = await redeem(idp, client, cb.uri, grant);
      assert.equal(r.status, 200, show(r));
      assert.ok(r.json.id_token, show(r));
      idTokens[`${user}@${client.client_name}`] = r.json;
    }
  });
  after(async () => {
    await cb?.close();
    await idp?.stop();
    await ras?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const idTokenOf = (user, client = agent) => idTokens[`${user}@${client.client_name}`].id_token;

  /** A token exchange at the IdP for an ID-JAG, as client. */
  const exchange = (params = {}, client = agent) => {
    const form = { grant_type: TOKEN_EXCHANGE, requested_token_type: ID_JAG, audience: ras.issuer,
      subject_token: idTokenOf('alice'), subject_token_type: ID_TOKEN, ...params };
    for (const k of Object.keys(form)) if (form[k] === undefined) delete form[k];
    return post(idp, '/token', form, { headers: { authorization: basic(client.client_id, client.client_secret) } });
  };

  /** The ID-JAG of a successful exchange. */
  const idJag = async (params, client) => {
    const r = await exchange(params, client);
    assert.equal(r.status, 200, show(r));
    return r.json.access_token;
  };

  /** The JWT bearer grant at the resource AS, as client. */
  const present = (assertion, params = {}, client = rasAgent) => post(ras, '/token',
    { grant_type: JWT_BEARER, assertion, ...params },
    { headers: { authorization: basic(client.client_id, client.client_secret) } });

  const jagClaims = (over = {}) => {
    const t = now();
    const c = { iss: SAAS_IDP, sub: 'alice', aud: ras.issuer, client_id: rasAgent.client_id,
      jti: crypto.randomUUID(), iat: t, exp: t + 120, scope: 'read', ...over };
    for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
    return c;
  };

  it('an agent exchanges a person\'s ID token for an ID-JAG, and gets a token for that person at the resource AS', async () => {
    const r = await exchange({ scope: 'read', resource: API });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.issued_token_type, ID_JAG);
    assert.equal(r.json.token_type, 'N_A');
    assert.equal(r.json.scope, 'read');
    assert.equal(r.json.expires_in, 120, 'the target\'s ttl');
    const jag = r.json.access_token;
    const { protectedHeader, payload } = await jose.jwtVerify(jag,
      jose.createRemoteJWKSet(new URL(`${idp.url}/jwks`)), { issuer: idp.issuer, audience: ras.issuer, typ: TYP });
    assert.equal(protectedHeader.typ, TYP);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.client_id, rasAgent.client_id, 'the client\'s id at the target');
    assert.equal(payload.scope, 'read');
    assert.equal(payload.resource, API);
    assert.equal(payload.exp - payload.iat, 120);
    assert.ok(payload.jti && payload.auth_time, JSON.stringify(payload));

    const t = await present(jag);
    assert.equal(t.status, 200, show(t));
    const at = jwtParts(t.json.access_token).payload;
    assert.equal(at.iss, ras.issuer);
    assert.equal(at.sub, 'alice');
    assert.equal(at.client_id, rasAgent.client_id);
    assert.equal(at.scope, 'read');
    assert.equal(at.aud, API, 'for the resource the ID-JAG names');
    assert.equal(at.auth_time, payload.auth_time, 'when the person signed in at the IdP');

    const issued = auditEvents(idp).map(eventBody)
      .filter((e) => eventType(e) === 'token.issued' && e.data?.issued_token_type === ID_JAG);
    const ev = issued.find((e) => e.data.jti === payload.jti);
    assert.ok(ev, `the IdP audits the issue: ${JSON.stringify(issued)}`);
    assert.equal(ev.data.audience, ras.issuer);
    assert.equal(ev.subject, 'alice');
    assert.equal(ev.client_id, agent.client_id);
  });

  it('without scope or resource, the ID-JAG carries the target\'s scopes, narrowed at the resource AS', async () => {
    const jag = await idJag();
    const { payload } = jwtParts(jag);
    assert.deepEqual(scopeSet(payload.scope), ['read', 'write']);
    assert.equal(payload.resource, undefined);
    // the resource AS gives at most what the ID-JAG carries, and what was asked
    const t = await present(jag, { scope: 'write' });
    assert.equal(t.status, 200, show(t));
    assert.equal(jwtParts(t.json.access_token).payload.scope, 'write');
    const narrow = await idJag({ scope: 'read' });
    await expectRefusal(ras, () => present(narrow, { scope: 'write' }),
      { status: 400, error: 'invalid_scope', reason: /write/, clientId: rasAgent.client_id });
  });

  it('refuses a replayed ID-JAG', async () => {
    const jag = await idJag({ scope: 'read' });
    assert.equal((await present(jag)).status, 200);
    await expectRefusal(ras, () => present(jag), { status: 400, error: 'invalid_grant', reason: /replayed jti/ });
  });

  it('refuses an ID-JAG for another audience', async () => {
    const r = await exchange({ audience: OTHER_AS, scope: 'read' });
    assert.equal(r.status, 200, show(r));
    assert.equal(jwtParts(r.json.access_token).payload.aud, OTHER_AS);
    await expectRefusal(ras, () => present(r.json.access_token),
      { status: 400, error: 'invalid_grant', reason: /aud does not name this server/ });
  });

  it('refuses an ID-JAG presented by another client than the one it names', async () => {
    const jag = await idJag({ scope: 'read' });
    await expectRefusal(ras, () => present(jag, {}, rasOther),
      { status: 400, error: 'invalid_grant', reason: /client_id .* is not the authenticated client/, clientId: rasOther.client_id });
    // and left unspent: the right client may still use it
    assert.equal((await present(jag)).status, 200);
  });

  it('refuses a resource other than the one the ID-JAG names', async () => {
    const jag = await idJag({ scope: 'read', resource: API });
    await expectRefusal(ras, () => present(jag, { resource: API2 }),
      { status: 400, error: 'invalid_target', reason: /the ID-JAG names/ });
  });

  it('refuses an expired ID-JAG, one without client_id and one without a jti', async () => {
    const t = now();
    await expectRefusal(ras, async () => present(await sign(saas, jagClaims({ iat: t - 600, exp: t - 300 }), { typ: TYP })),
      { status: 400, error: 'invalid_grant', reason: /expired/ });
    await expectRefusal(ras, async () => present(await sign(saas, jagClaims({ client_id: undefined }), { typ: TYP })),
      { status: 400, error: 'invalid_grant', reason: /without a client_id/ });
    await expectRefusal(ras, async () => present(await sign(saas, jagClaims({ jti: undefined }), { typ: TYP })),
      { status: 400, error: 'invalid_grant', reason: /jti missing/ });
    const ok = await present(await sign(saas, jagClaims({ auth_time: t - 60 }), { typ: TYP }));
    assert.equal(ok.status, 200, show(ok));
    assert.equal(jwtParts(ok.json.access_token).payload.sub, 'alice');
    assert.equal(jwtParts(ok.json.access_token).payload.auth_time, t - 60);
    // an auth_time in the future is not believed
    const later = await present(await sign(saas, jagClaims({ auth_time: t + 3600 }), { typ: TYP }));
    assert.equal(later.status, 200, show(later));
    assert.equal(jwtParts(later.json.access_token).payload.auth_time, undefined);
  });

  it('refuses an untrusted issuer, and keeps ID-JAGs and other assertions apart', async () => {
    await expectRefusal(ras, async () => present(await sign(stranger, jagClaims({ iss: 'https://stranger.example.test' }), { typ: TYP })),
      { status: 400, error: 'invalid_grant', reason: /not trusted/, clientId: rasAgent.client_id });
    // the IdP's name with another key
    await expectRefusal(ras, async () => present(await sign(stranger, jagClaims({ iss: idp.issuer }), { typ: TYP, kid: stranger.kid })),
      { status: 400, error: 'invalid_grant', reason: /kid|signature/ });
    // an issuer trusted for plain assertions only may not issue ID-JAGs
    await expectRefusal(ras, async () => present(await sign(plain, jagClaims({ iss: PLAIN_IDP }), { typ: TYP })),
      { status: 400, error: 'invalid_grant', reason: /not trusted for ID-JAGs/ });
    // an ID-JAG issuer's assertion that is not an ID-JAG
    await expectRefusal(ras, async () => present(await sign(saas, jagClaims())),
      { status: 400, error: 'invalid_grant', reason: /must be ID-JAGs/ });
    // the IdP's ID token itself is no ID-JAG (its aud is the client at the IdP)
    await expectRefusal(ras, () => present(idTokenOf('alice')), { status: 400, error: 'invalid_grant' });
  });

  it('refuses an ID-JAG for a user disabled at the resource AS', async () => {
    const jag = await idJag({ scope: 'read', subject_token: idTokenOf('bob') });
    const d = ras.cli(['user', 'disable', 'bob']);
    assert.equal(d.code, 0, d.stderr);
    await expectRefusal(ras, () => present(jag), { status: 400, error: 'invalid_grant', reason: /disabled/ });
  });

  it('the IdP refuses an audience that is not a configured target, or that does not list the client', async () => {
    await expectRefusal(idp, () => exchange({ audience: 'https://unknown-as.example.test' }),
      { status: 400, error: 'invalid_target', reason: /not an ID-JAG target/, clientId: agent.client_id });
    await expectRefusal(idp, () => exchange({ audience: undefined }), { status: 400, error: 'invalid_request', reason: /audience is required/ });
    const jar = await signedIn(idp, 'alice');
    const g = await authorizeCode(idp, jar, unlisted, cb.uri, { scope: 'openid' });
    const own = (await redeem(idp, unlisted, cb.uri, g)).json.id_token;
    await expectRefusal(idp, () => exchange({ subject_token: own }, unlisted),
      { status: 400, error: 'invalid_target', reason: /client not listed/ });
  });

  it('the IdP refuses the ID token of another client, and subject tokens that are no ID token of its own', async () => {
    await expectRefusal(idp, () => exchange({}, other),
      { status: 400, error: 'invalid_request', reason: /issued to another client/, clientId: other.client_id });
    // the other client's own ID token works
    assert.equal((await exchange({ subject_token: idTokenOf('alice', other), scope: 'read' }, other)).status, 200);
    const forged = await sign(stranger, { iss: idp.issuer, sub: 'alice', aud: agent.client_id, exp: now() + 300, iat: now() }, { typ: 'JWT' });
    await expectRefusal(idp, () => exchange({ subject_token: forged }),
      { status: 400, error: 'invalid_request', reason: /signature|not a JWS/ });
    const accessToken = idTokens['alice@Travel agent'].access_token;
    await expectRefusal(idp, () => exchange({ subject_token: accessToken }),
      { status: 400, error: 'invalid_request', reason: /not an ID token of this server/ });
    await expectRefusal(idp, () => exchange({ subject_token: 'not-a-token' }),
      { status: 400, error: 'invalid_request', reason: /not a JWS/ });
  });

  it('the IdP refuses a scope or resource beyond the target, and clients not registered for the exchange', async () => {
    await expectRefusal(idp, () => exchange({ scope: 'read admin' }),
      { status: 400, error: 'invalid_scope', reason: /admin/ });
    await expectRefusal(idp, () => exchange({ resource: 'https://elsewhere.example.test' }),
      { status: 400, error: 'invalid_target', reason: /not listed/ });
    await expectRefusal(idp, () => exchange({}, noExchange), { status: 400, error: 'unauthorized_client' });
    await expectRefusal(idp, () => exchange({ requested_token_type: undefined }),
      { status: 400, error: 'invalid_request', reason: /for an ID-JAG only/ });
    await expectRefusal(idp, () => exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }),
      { status: 400, error: 'invalid_request', reason: /unsupported subject_token_type/ });
  });

  it('an access token of the IdP issued to the agent for a person is exchanged the same way', async () => {
    const accessToken = idTokens['alice@Travel agent'].access_token;
    const r = await exchange({ subject_token: accessToken, subject_token_type: ACCESS_TOKEN, scope: 'read' });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.issued_token_type, ID_JAG);
    const { payload } = jwtParts(r.json.access_token);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.client_id, rasAgent.client_id);
    const t = await present(r.json.access_token);
    assert.equal(t.status, 200, show(t));
    assert.equal(jwtParts(t.json.access_token).payload.sub, 'alice');
  });

  it('the IdP refuses access tokens of another client, naming no person, or not for an ID-JAG', async () => {
    const othersToken = idTokens['alice@Another agent'].access_token;
    await expectRefusal(idp, () => exchange({ subject_token: othersToken, subject_token_type: ACCESS_TOKEN }),
      { status: 400, error: 'invalid_request', reason: /issued to another client/ });
    const cc = await post(idp, '/token', { grant_type: 'client_credentials' },
      { headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assert.equal(cc.status, 200, show(cc));
    await expectRefusal(idp, () => exchange({ subject_token: cc.json.access_token, subject_token_type: ACCESS_TOKEN }),
      { status: 400, error: 'invalid_request', reason: /names no person/ });
    await expectRefusal(idp, () => exchange({ subject_token: 'mdt_at_nothing', subject_token_type: ACCESS_TOKEN }),
      { status: 400, error: 'invalid_request', reason: /not an active access token/ });
    // the ID token is no access token, and the access token no ID token
    await expectRefusal(idp, () => exchange({ subject_token_type: ACCESS_TOKEN }),
      { status: 400, error: 'invalid_request', reason: /not an active access token/ });
    // an ID token is exchanged for an ID-JAG only (an access token without requested_token_type
    // id-jag is delegation: delegation.test.mjs)
    await expectRefusal(idp, () => exchange({ requested_token_type: undefined, audience: undefined }),
      { status: 400, error: 'invalid_request', reason: /for an ID-JAG only/ });
  });

  it('the IdP refuses a person disabled since the ID token was issued', async () => {
    const d = idp.cli(['user', 'disable', 'carol']);
    assert.equal(d.code, 0, d.stderr);
    await expectRefusal(idp, () => exchange({ subject_token: idTokenOf('carol') }),
      { status: 400, error: 'invalid_request', reason: /disabled/ });
  });
});
