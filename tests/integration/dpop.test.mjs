// DPoP (RFC 9449) with a real client (oauth4webapi's DPoP support): bound
// access tokens (cnf.jkt, token_type DPoP) for client_credentials, the
// authorization code grant of a public client with PKCE (its refresh token
// bound to the key), and token exchange; /userinfo and introspection of
// those tokens; and every failure path of §4.3, each answered with the
// RFC's error and changing nothing (no token issued, the code and the
// refresh token still usable afterwards).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';

import {
  callbackServer, consent, createUsers, FAST_ARGON2, pkce, signedIn,
} from './lib/authz.mjs';
import { clientClaims, keyPair, sign } from './lib/assertions.mjs';
import { authorizeCode, ensureScope, redeem, sendTogether } from './lib/grants.mjs';
import {
  API, agentMetadata, assertOAuthError, auditEvents, basic, createFixtureScopes, discover,
  eventType, get, insecure, post, show,
} from './lib/oauth.mjs';
import { startAuthzenServer } from './lib/authzen_server.mjs';
import { csrfOf } from './lib/browser.mjs';
import { CIBA, cibaMetadata, started } from './lib/ciba.mjs';
import { BACKEND } from './lib/pg.mjs';
import { cliJson, createClient, createScope, startServer } from './lib/server.mjs';

const ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA'];
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TYPE = 'urn:mandate:token-type:api-key';

const newKey = () => jose.generateKeyPair('ES256', { extractable: true });
const now = () => Math.floor(Date.now() / 1000);
const issuedCount = (srv) => auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;

/** A DPoP proof made by hand: every header and claim can be set or spoilt. */
async function proof(key, {
  htm = 'POST', htu, iat = now(), jti = randomBytes(16).toString('base64url'), typ = 'dpop+jwt',
  alg = 'ES256', jwk, ath, nonce, omit = [],
} = {}) {
  const pub = jwk ?? await jose.exportJWK(key.publicKey);
  const claims = { htm, htu, iat, jti, ath, nonce };
  for (const k of omit) delete claims[k];
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  const header = { typ, alg, jwk: pub };
  if (alg === 'none') {
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${enc(header)}.${enc(claims)}.`;
  }
  if (alg === 'HS256') {
    return new jose.SignJWT(claims).setProtectedHeader(header).sign(randomBytes(32));
  }
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
}

const athOf = async (token) => Buffer.from(
  await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)),
).toString('base64url');

describe('DPoP', { timeout: 180_000 }, () => {
  let srv;
  let as;
  let cb;
  let agent;    // confidential, client_credentials
  let bound;    // confidential, dpop_bound_access_tokens
  let pub;      // public, authorization_code + refresh_token
  let keyed;    // a client with an API key (token exchange)
  let apiKey;

  before(async () => {
    srv = await startServer({ config: { users: FAST_ARGON2 } });
    createFixtureScopes(srv);
    ensureScope(srv, 'openid', { description: 'Sign you in' });
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    agent = createClient(srv, agentMetadata({ client_name: 'DPoP agent' }));
    bound = createClient(srv, agentMetadata({ client_name: 'Bound agent', dpop_bound_access_tokens: true }));
    pub = createClient(srv, {
      client_name: 'Desktop app', kind: 'native', owner: 'alice', token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [cb.uri],
      scope: 'openid offline_access read', resources: [API],
    });
    keyed = createClient(srv, agentMetadata({ client_name: 'Keyed agent' }));
    const r = srv.cli(['client', 'apikey', 'create', keyed.client_id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    apiKey = r.json().api_key;
    as = await discover(srv);
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  const tokenUrl = () => `${srv.issuer}/token`;
  const ccWith = (client, dpopHeader, params = {}) => post(srv, '/token',
    { grant_type: 'client_credentials', scope: 'read', ...params },
    { headers: { authorization: basic(client.client_id, client.client_secret), ...(dpopHeader ? { dpop: dpopHeader } : {}) } });

  test('discovery advertises the proof algorithms', () => {
    assert.deepEqual(as.dpop_signing_alg_values_supported, ALGS);
  });

  test('client_credentials with oauth4webapi DPoP: a bound token, introspected with cnf.jkt', async () => {
    const key = await newKey();
    const client = { client_id: agent.client_id };
    const DPoP = oauth.DPoP(client, key);
    const res = await oauth.clientCredentialsGrantRequest(as, client,
      oauth.ClientSecretBasic(agent.client_secret), { scope: 'read', resource: API }, { ...insecure, DPoP });
    const tr = await oauth.processClientCredentialsResponse(as, client, res);
    assert.equal(tr.token_type, 'dpop');
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256');
    assert.deepEqual(jose.decodeJwt(tr.access_token).cnf, { jkt });

    const ir = await post(srv, '/introspect', { token: tr.access_token },
      { headers: { authorization: basic(agent.client_id, agent.client_secret) } });
    assert.equal(ir.status, 200, show(ir));
    assert.equal(ir.json.active, true);
    assert.equal(ir.json.token_type, 'DPoP');
    assert.deepEqual(ir.json.cnf, { jkt });

    // without a proof the same client still gets a Bearer token
    const plain = await ccWith(agent);
    assert.equal(plain.status, 200, show(plain));
    assert.match(plain.json.token_type, /^bearer$/i);
    assert.equal(jose.decodeJwt(plain.json.access_token).cnf, undefined);
  });

  test('a client registered with dpop_bound_access_tokens needs a proof', async () => {
    const issued = issuedCount(srv);
    const r = await ccWith(bound);
    assertOAuthError(r, 400, 'invalid_dpop_proof');
    assert.equal(issuedCount(srv), issued, 'nothing issued');
    const key = await newKey();
    const ok = await ccWith(bound, await proof(key, { htu: tokenUrl() }));
    assert.equal(ok.status, 200, show(ok));
    assert.equal(ok.json.token_type, 'DPoP');
    const shown = srv.cli(['client', 'show', bound.client_id, '--json']).json();
    assert.equal(shown.dpop_bound_access_tokens, true);
    const badMeta = srv.cli(['client', 'create', '--json'],
      { input: JSON.stringify(agentMetadata({ client_name: 'Odd', dpop_bound_access_tokens: 'yes' })) });
    assert.notEqual(badMeta.code, 0, 'dpop_bound_access_tokens must be a boolean');
  });

  test('every fault of a proof at /token is invalid_dpop_proof, and nothing is issued', async () => {
    const key = await newKey();
    const other = await newKey();
    const priv = await jose.exportJWK(key.privateKey);
    const cases = {
      'wrong htm': { htm: 'GET' },
      'wrong htu': { htu: `${srv.issuer}/par` },
      'htu of another server': { htu: 'https://elsewhere.example/token' },
      'stale iat': { iat: now() - 600 },
      'future iat': { iat: now() + 600 },
      'no jti': { omit: ['jti'] },
      'private key in jwk': { jwk: priv },
      'alg none': { alg: 'none' },
      'alg HS256': { alg: 'HS256' },
      'wrong typ': { typ: 'JWT' },
      'signed by another key': { jwk: await jose.exportJWK(other.publicKey) },
    };
    const issued = issuedCount(srv);
    for (const [name, spoil] of Object.entries(cases)) {
      const p = await proof(key, { htu: tokenUrl(), ...spoil });
      const r = await ccWith(agent, p);
      assert.equal(r.status, 400, `${name}: ${show(r)}`);
      assert.equal(r.json.error, 'invalid_dpop_proof', `${name}: ${show(r)}`);
      assert.equal(r.json.access_token, undefined);
    }
    // a bad signature
    const good = await proof(key, { htu: tokenUrl() });
    const [h, p, s] = good.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[5] ^= 1;
    assertOAuthError(await ccWith(agent, `${h}.${p}.${sig.toString('base64url')}`), 400, 'invalid_dpop_proof');
    assertOAuthError(await ccWith(agent, 'not-a-jwt'), 400, 'invalid_dpop_proof');
    assert.equal(issuedCount(srv), issued, 'no token.issued for any refused proof');
    const refused = auditEvents(srv).filter((e) => eventType(e) === 'token.refused');
    assert.ok(refused.length >= Object.keys(cases).length, 'each refusal audited');

    // a replayed proof: the first use passes, the second is refused
    const once = await proof(key, { htu: tokenUrl() });
    assert.equal((await ccWith(agent, once)).status, 200);
    assertOAuthError(await ccWith(agent, once), 400, 'invalid_dpop_proof');
    // the htu compares without query, with case and default port normalised
    const u = new URL(tokenUrl());
    const loose = `${u.protocol.toUpperCase()}//${u.host.toUpperCase()}${u.pathname}?x=1#f`;
    assert.equal((await ccWith(agent, await proof(key, { htu: loose }))).status, 200);
  });

  test('copies of one proof sent at once to client_credentials: one token, each other copy a replay, audited', async () => {
    const key = await newKey();
    const p = await proof(key, { htu: tokenUrl() });
    const issued = issuedCount(srv);
    const refusedBefore = auditEvents(srv).filter((e) => eventType(e) === 'token.refused').length;
    const answers = await sendTogether(srv, Array.from({ length: 8 }, () => ({
      path: '/token', fields: { grant_type: 'client_credentials', scope: 'read' },
      headers: { Authorization: basic(agent.client_id, agent.client_secret), DPoP: p },
    })));
    const ok = answers.filter((a) => a.status === 200);
    assert.equal(ok.length, 1, `exactly one token: ${answers.map((a) => a.status).join(' ')}`);
    assert.equal(ok[0].json.token_type, 'DPoP');
    for (const a of answers.filter((x) => x.status !== 200)) {
      assert.equal(a.status, 400, a.text);
      assert.equal(a.json.error, 'invalid_dpop_proof', a.text);
      assert.match(a.json.error_description, /used before/);
      assert.equal(a.json.access_token, undefined);
    }
    assert.equal(issuedCount(srv), issued + 1, 'one token.issued');
    const refused = auditEvents(srv).filter((e) => eventType(e) === 'token.refused').slice(refusedBefore);
    assert.equal(refused.filter((e) => /used before/.test(JSON.stringify(e))).length, 7,
      'each replay audited as a refusal');
  });

  test('a refused client_credentials request spends its proof', async () => {
    const key = await newKey();
    const p = await proof(key, { htu: tokenUrl() });
    const issued = issuedCount(srv);
    assertOAuthError(await ccWith(agent, p, { scope: 'no-such-scope' }), 400, 'invalid_scope');
    const again = await ccWith(agent, p);
    assertOAuthError(again, 400, 'invalid_dpop_proof');
    assert.match(again.json.error_description, /used before/);
    assert.equal(issuedCount(srv), issued, 'nothing issued');
  });

  test('private_key_jwt with a proof: the assertion and the proof are each single-use', async () => {
    const k = await keyPair('ES256');
    const pk = createClient(srv, agentMetadata({ client_name: 'DPoP pkjwt agent',
      token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [k.publicJwk] } }));
    const key = await newKey();
    const p = await proof(key, { htu: tokenUrl() });
    const send = async (assertion) => post(srv, '/token', {
      grant_type: 'client_credentials', scope: 'read',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion,
    }, { headers: { dpop: p } });
    const first = await send(await sign(k, clientClaims(srv, pk.client_id)));
    assert.equal(first.status, 200, show(first));
    assert.equal(first.json.token_type, 'DPoP');
    // a fresh assertion with the same proof: the proof is a replay
    assertOAuthError(await send(await sign(k, clientClaims(srv, pk.client_id))), 400, 'invalid_dpop_proof');
  });

  test('a key seen before binds only its own proofs: another key under the same kid, a jwk with another key\'s signature, one RSA key as PS256 and RS256', async () => {
    const a = await newKey();
    const b = await newKey();
    const jwkA = { ...await jose.exportJWK(a.publicKey), kid: 'same' };
    const jwkB = { ...await jose.exportJWK(b.publicKey), kid: 'same' };
    const jktA = await jose.calculateJwkThumbprint(jwkA, 'sha256');
    const jktB = await jose.calculateJwkThumbprint(jwkB, 'sha256');
    assert.notEqual(jktA, jktB);
    const jktOf = (r) => jose.decodeJwt(r.json.access_token).cnf?.jkt;
    // several rounds: the server's threads each see the keys more than once
    for (let round = 0; round < 4; round++) {
      const ra = await ccWith(agent, await proof(a, { htu: tokenUrl(), jwk: jwkA }));
      assert.equal(ra.status, 200, show(ra));
      assert.equal(jktOf(ra), jktA);
      const rb = await ccWith(agent, await proof(b, { htu: tokenUrl(), jwk: jwkB }));
      assert.equal(rb.status, 200, show(rb));
      assert.equal(jktOf(rb), jktB);
      const issued = issuedCount(srv);
      assertOAuthError(await ccWith(agent, await proof(b, { htu: tokenUrl(), jwk: jwkA })),
        400, 'invalid_dpop_proof');
      assertOAuthError(await ccWith(agent, await proof(a, { htu: tokenUrl(), jwk: jwkB })),
        400, 'invalid_dpop_proof');
      assert.equal(issuedCount(srv), issued, 'nothing issued for a proof signed by another key');
    }
    // one RSA jwk without alg: a PS256 proof and an RS256 proof each verify as what they say
    const ps = await jose.generateKeyPair('PS256', { extractable: true });
    const rsaJwk = await jose.exportJWK(ps.publicKey);
    const rs = { privateKey: await jose.importJWK(await jose.exportJWK(ps.privateKey), 'RS256') };
    const jktR = await jose.calculateJwkThumbprint(rsaJwk, 'sha256');
    for (let round = 0; round < 3; round++) {
      const rp = await ccWith(agent, await proof(ps, { htu: tokenUrl(), alg: 'PS256', jwk: rsaJwk }));
      assert.equal(rp.status, 200, show(rp));
      assert.equal(jktOf(rp), jktR);
      const rr = await ccWith(agent, await proof(rs, { htu: tokenUrl(), alg: 'RS256', jwk: rsaJwk }));
      assert.equal(rr.status, 200, show(rr));
      assert.equal(jktOf(rr), jktR);
    }
  });

  test('token exchange (an API key) gives a token bound to the proof', async () => {
    const key = await newKey();
    const r = await post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: apiKey, subject_token_type: API_KEY_TYPE,
    }, { headers: { dpop: await proof(key, { htu: tokenUrl() }) } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.token_type, 'DPoP');
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256');
    assert.equal(jose.decodeJwt(r.json.access_token).cnf.jkt, jkt);
    const bad = await post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: apiKey, subject_token_type: API_KEY_TYPE,
    }, { headers: { dpop: await proof(key, { htu: tokenUrl(), htm: 'PUT' }) } });
    assertOAuthError(bad, 400, 'invalid_dpop_proof');
  });

  test('authorization code of a public client with PKCE: bound tokens, /userinfo, a bound refresh token', async () => {
    const key = await newKey();
    const client = { client_id: pub.client_id, token_endpoint_auth_method: 'none' };
    const DPoP = oauth.DPoP(client, key);
    const jar = await signedIn(srv, 'alice');
    const c = await authorizeCode(srv, jar, pub, cb.uri, { scope: 'openid offline_access read' });

    // a refused proof does not use the code up
    const issued = issuedCount(srv);
    const spoilt = await post(srv, '/token', {
      grant_type: 'authorization_code', client_id: pub.client_id, code: c.code,
      redirect_uri: cb.uri, code_verifier: c.verifier,
    }, { headers: { dpop: await proof(key, { htu: `${srv.issuer}/authorize` }) } });
    assertOAuthError(spoilt, 400, 'invalid_dpop_proof');
    assert.equal(issuedCount(srv), issued);

    const params = new URLSearchParams({ code: c.code, state: 'st', iss: srv.issuer });
    const cbParams = oauth.validateAuthResponse(as, client, params, 'st');
    const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), cbParams, cb.uri,
      c.verifier, { ...insecure, DPoP });
    const tr = await oauth.processAuthorizationCodeResponse(as, client, res);
    assert.equal(tr.token_type, 'dpop');
    assert.ok(tr.refresh_token);
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256');
    assert.equal(jose.decodeJwt(tr.access_token).cnf.jkt, jkt);

    // /userinfo with the DPoP scheme and a proof (oauth4webapi adds ath)
    const ui = await oauth.userInfoRequest(as, client, tr.access_token, { ...insecure, DPoP });
    assert.equal(ui.status, 200);
    const info = await oauth.processUserInfoResponse(as, client, oauth.skipSubjectCheck, ui);
    assert.equal(info.sub, 'alice');

    // the same token as a Bearer token: refused, with a DPoP challenge
    const asBearer = await get(srv, '/userinfo', { headers: { authorization: `Bearer ${tr.access_token}` } });
    assert.equal(asBearer.status, 401, show(asBearer));
    assert.match(asBearer.headers.get('www-authenticate'), /DPoP/);
    assert.match(asBearer.headers.get('www-authenticate'), /algs="ES256 PS256 RS256 EdDSA"/);
    // the DPoP scheme without a proof, without ath, with a wrong ath, a proof of another key
    const uiUrl = `${srv.issuer}/userinfo`;
    const other = await newKey();
    const dpopAuth = { authorization: `DPoP ${tr.access_token}` };
    const uiCases = {
      'no proof': {},
      'no ath': { dpop: await proof(key, { htm: 'GET', htu: uiUrl }) },
      'wrong ath': { dpop: await proof(key, { htm: 'GET', htu: uiUrl, ath: await athOf('other') }) },
      'another key': { dpop: await proof(other, { htm: 'GET', htu: uiUrl, ath: await athOf(tr.access_token) }) },
      'wrong htm': { dpop: await proof(key, { htm: 'POST', htu: uiUrl, ath: await athOf(tr.access_token) }) },
    };
    for (const [name, h] of Object.entries(uiCases)) {
      const r = await get(srv, '/userinfo', { headers: { ...dpopAuth, ...h } });
      assert.equal(r.status, 401, `${name}: ${show(r)}`);
      assert.equal(r.json.error, 'invalid_dpop_proof', `${name}: ${show(r)}`);
      assert.match(r.headers.get('www-authenticate'), /^DPoP /, name);
      assert.match(r.headers.get('www-authenticate'), /error="invalid_dpop_proof"/, name);
    }
    // an unbound token with the DPoP scheme is not accepted either
    const plain = await ccWith(agent, null, { scope: 'read' });
    const unbound = await get(srv, '/userinfo', { headers: {
      authorization: `DPoP ${plain.json.access_token}`,
      dpop: await proof(key, { htm: 'GET', htu: uiUrl, ath: await athOf(plain.json.access_token) }),
    } });
    assert.equal(unbound.status, 401, show(unbound));

    // the refresh token is bound: without a proof, or with another key, refused; still valid after
    const rt = tr.refresh_token;
    const noProof = await post(srv, '/token', { grant_type: 'refresh_token', client_id: pub.client_id, refresh_token: rt });
    assertOAuthError(noProof, 400, 'invalid_dpop_proof');
    const otherKey = await post(srv, '/token', { grant_type: 'refresh_token', client_id: pub.client_id, refresh_token: rt },
      { headers: { dpop: await proof(other, { htu: tokenUrl() }) } });
    assertOAuthError(otherKey, 400, 'invalid_grant');
    const rres = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), rt, { ...insecure, DPoP });
    const rtr = await oauth.processRefreshTokenResponse(as, client, rres);
    assert.equal(rtr.token_type, 'dpop');
    assert.equal(jose.decodeJwt(rtr.access_token).cnf.jkt, jkt);
    assert.ok(rtr.refresh_token && rtr.refresh_token !== rt, 'rotated');
    // the rotated one stays bound
    const again = await post(srv, '/token', { grant_type: 'refresh_token', client_id: pub.client_id, refresh_token: rtr.refresh_token },
      { headers: { dpop: await proof(other, { htu: tokenUrl() }) } });
    assertOAuthError(again, 400, 'invalid_grant');
  });

  test('delegation (token exchange of a person\'s token by an agent): the new token is bound to the agent\'s proof', async () => {
    const web = createClient(srv, {
      client_name: 'Calendar app', kind: 'web', owner: 'alice', grant_types: ['authorization_code'],
      redirect_uris: [cb.uri], scope: 'openid read', resources: [API], token_endpoint_auth_method: 'client_secret_basic',
    });
    const deleg = createClient(srv, agentMetadata({ client_name: 'Delegate agent', grant_types: ['client_credentials', TOKEN_EXCHANGE] }));
    const jar = await signedIn(srv, 'alice');
    const person = await redeem(srv, web, cb.uri, await authorizeCode(srv, jar, web, cb.uri, { scope: 'openid read' }));
    assert.equal(person.status, 200, show(person));
    const key = await newKey();
    const ex = (p) => post(srv, '/token', {
      grant_type: TOKEN_EXCHANGE, subject_token: person.json.access_token,
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', scope: 'read',
    }, { headers: { authorization: basic(deleg.client_id, deleg.client_secret), dpop: p } });
    assertOAuthError(await ex(await proof(key, { htu: tokenUrl(), typ: 'jwt' })), 400, 'invalid_dpop_proof');
    const r = await ex(await proof(key, { htu: tokenUrl() }));
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.token_type, 'DPoP');
    const c = jose.decodeJwt(r.json.access_token);
    assert.equal(c.sub, 'alice');
    assert.equal(c.act.sub, deleg.client_id);
    assert.equal(c.cnf.jkt, await jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256'));
  });

  test('CIBA: the polled tokens are bound to the proof; a refused proof is not even a poll', async () => {
    ensureScope(srv, 'payments', { description: 'Make payments' });
    const ciba = createClient(srv, cibaMetadata({ client_name: 'DPoP payment agent' }));
    const s = await started(srv, ciba, { login_hint: 'alice', scope: 'openid payments' });
    cliJson(srv, ['request', 'approve', s.request.id, '--by', 'alice']);
    const key = await newKey();
    const pollWith = async (p) => post(srv, '/token', { grant_type: CIBA, auth_req_id: s.auth_req_id },
      { headers: { authorization: basic(ciba.client_id, ciba.client_secret), dpop: p } });
    assertOAuthError(await pollWith(await proof(key, { htu: tokenUrl(), iat: now() - 3600 })), 400, 'invalid_dpop_proof');
    const r = await pollWith(await proof(key, { htu: tokenUrl() }));
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.token_type, 'DPoP');
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256');
    assert.equal(jose.decodeJwt(r.json.access_token).cnf.jkt, jkt);
  });

  test('device code of a public client: the polled tokens and the refresh token are bound to the proof', async () => {
    const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
    const cliApp = createClient(srv, {
      client_name: 'DPoP CLI', kind: 'cli', owner: 'alice', token_endpoint_auth_method: 'none',
      grant_types: [DEVICE, 'refresh_token'], scope: 'read offline_access',
    });
    const d = await post(srv, '/device_authorization', { client_id: cliApp.client_id, scope: 'read offline_access' });
    assert.equal(d.status, 200, show(d));
    const key = await newKey();
    const pollWith = async (p) => post(srv, '/token',
      { grant_type: DEVICE, device_code: d.json.device_code, client_id: cliApp.client_id },
      { headers: p ? { dpop: p } : {} });
    // the person enters the code and allows
    const jar = await signedIn(srv, 'alice');
    const form = async (fields, html) => {
      const page = html ?? await (await jar.fetch(`${srv.url}/device`)).text();
      const r = await jar.fetch(`${srv.url}/device`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf_token: csrfOf(page), ...fields }).toString() });
      return r.text();
    };
    const decision = await form({ user_code: d.json.user_code });
    const request = /name="request" value="([^"]*)"/.exec(decision)[1];
    await form({ request, decision: 'allow' }, decision);
    // a refused proof consumes nothing: the approved code still gives its tokens once
    assertOAuthError(await pollWith(await proof(key, { htu: tokenUrl(), htm: 'GET' })), 400, 'invalid_dpop_proof');
    const r = await pollWith(await proof(key, { htu: tokenUrl() }));
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.token_type, 'DPoP');
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256');
    assert.equal(jose.decodeJwt(r.json.access_token).cnf.jkt, jkt);
    assert.ok(r.json.refresh_token, show(r));
    // the public client's refresh token: only with a proof of the same key
    const refresh = (p) => post(srv, '/token', { grant_type: 'refresh_token', refresh_token: r.json.refresh_token,
      client_id: cliApp.client_id }, { headers: p ? { dpop: p } : {} });
    assertOAuthError(await refresh(null), 400, 'invalid_dpop_proof');
    assertOAuthError(await refresh(await proof(await newKey(), { htu: tokenUrl() })), 400, 'invalid_grant');
    const again = await refresh(await proof(key, { htu: tokenUrl() }));
    assert.equal(again.status, 200, show(again));
    assert.equal(jose.decodeJwt(again.json.access_token).cnf.jkt, jkt);
  });

  /** A code for pub through /authorize with a request_uri pushed to /par (with headers). */
  async function pushedCode(jar, fields, headers = {}) {
    const { verifier, challenge } = await pkce();
    const r = await post(srv, '/par', {
      client_id: pub.client_id, response_type: 'code', redirect_uri: cb.uri, scope: 'openid read',
      code_challenge: challenge, code_challenge_method: 'S256', state: 'st', ...fields,
    }, { headers });
    if (r.status !== 201) return { refused: r };
    const u = new URL(`${srv.url}/authorize`);
    u.searchParams.set('client_id', pub.client_id);
    u.searchParams.set('request_uri', r.json.request_uri);
    let a = await jar.fetch(u.href);
    let loc = a.headers.get('location');
    if (loc.startsWith('/consent')) { a = await consent(srv, jar, loc); loc = a.headers.get('location'); }
    return { code: new URL(loc).searchParams.get('code'), verifier };
  }

  const redeemWith = (c, dpopHeader) => post(srv, '/token', {
    grant_type: 'authorization_code', client_id: pub.client_id, code: c.code, redirect_uri: cb.uri,
    code_verifier: c.verifier,
  }, { headers: dpopHeader ? { dpop: dpopHeader } : {} });

  test('dpop_jkt at /authorize and a proof at /par bind the code to the key (RFC 9449 §10)', async () => {
    const key = await newKey();
    const other = await newKey();
    const jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(key.publicKey), 'sha256');
    const jar = await signedIn(srv, 'alice');

    // dpop_jkt at /authorize: another key's proof is refused, the right one gets a bound token
    let c = await authorizeCode(srv, jar, pub, cb.uri, { scope: 'openid read', dpop_jkt: jkt });
    assertOAuthError(await redeemWith(c, await proof(other, { htu: tokenUrl() })), 400, 'invalid_grant');
    c = await authorizeCode(srv, jar, pub, cb.uri, { scope: 'openid read', dpop_jkt: jkt });
    assertOAuthError(await redeemWith(c), 400, 'invalid_dpop_proof');
    c = await authorizeCode(srv, jar, pub, cb.uri, { scope: 'openid read', dpop_jkt: jkt });
    const ok = await redeemWith(c, await proof(key, { htu: tokenUrl() }));
    assert.equal(ok.status, 200, show(ok));
    assert.equal(jose.decodeJwt(ok.json.access_token).cnf.jkt, jkt);
    // a malformed dpop_jkt is an invalid request, redirected back
    const { challenge } = await pkce();
    const bad = await jar.fetch(`${srv.url}/authorize?${new URLSearchParams({
      response_type: 'code', client_id: pub.client_id, redirect_uri: cb.uri, scope: 'read',
      code_challenge: challenge, code_challenge_method: 'S256', state: 'st', dpop_jkt: 'short',
    })}`);
    assert.equal(bad.status, 303);
    assert.equal(new URL(bad.headers.get('location')).searchParams.get('error'), 'invalid_request');

    // a proof at /par binds the pushed request's code
    const parUrl = `${srv.issuer}/par`;
    let p = await pushedCode(jar, {}, { dpop: await proof(key, { htu: parUrl }) });
    assert.ok(p.code, 'a code');
    assertOAuthError(await redeemWith(p, await proof(other, { htu: tokenUrl() })), 400, 'invalid_grant');
    p = await pushedCode(jar, {}, { dpop: await proof(key, { htu: parUrl }) });
    const t = await redeemWith(p, await proof(key, { htu: tokenUrl() }));
    assert.equal(t.status, 200, show(t));
    assert.equal(jose.decodeJwt(t.json.access_token).cnf.jkt, jkt);
    // a bad proof at /par, or one of another key than dpop_jkt, pushes nothing
    p = await pushedCode(jar, {}, { dpop: await proof(key, { htu: `${srv.issuer}/token` }) });
    assertOAuthError(p.refused, 400, 'invalid_dpop_proof');
    p = await pushedCode(jar, { dpop_jkt: jkt }, { dpop: await proof(other, { htu: parUrl }) });
    assertOAuthError(p.refused, 400, 'invalid_dpop_proof');
  });
});

describe('DPoP nonces ([dpop] nonce = all)', { timeout: 120_000 }, () => {
  let srv;
  let as;
  let agent;

  before(async () => {
    srv = await startServer({ config: { dpop: { nonce: 'all' } } });
    createFixtureScopes(srv);
    agent = createClient(srv, agentMetadata({ client_name: 'Nonce agent' }));
    as = await discover(srv);
  });
  after(() => srv?.stop());

  test('a proof without the nonce gets use_dpop_nonce and a DPoP-Nonce; oauth4webapi retries', async () => {
    const key = await newKey();
    const tokenUrl = `${srv.issuer}/token`;
    const send = (p) => post(srv, '/token', { grant_type: 'client_credentials', scope: 'read' },
      { headers: { authorization: basic(agent.client_id, agent.client_secret), dpop: p } });
    const issued = issuedCount(srv);
    const r = await send(await proof(key, { htu: tokenUrl }));
    assertOAuthError(r, 400, 'use_dpop_nonce');
    const nonce = r.headers.get('dpop-nonce');
    assert.ok(nonce, 'a DPoP-Nonce header');
    assertOAuthError(await send(await proof(key, { htu: tokenUrl, nonce: `1.${nonce.split('.')[1]}` })), 400, 'use_dpop_nonce');
    assertOAuthError(await send(await proof(key, { htu: tokenUrl, nonce: 'made-up' })), 400, 'use_dpop_nonce');
    assert.equal(issuedCount(srv), issued, 'nothing issued');
    const ok = await send(await proof(key, { htu: tokenUrl, nonce }));
    assert.equal(ok.status, 200, show(ok));

    // oauth4webapi: the first attempt fails with use_dpop_nonce, the retry passes
    const client = { client_id: agent.client_id };
    const DPoP = oauth.DPoP(client, await newKey());
    const attempt = async () => oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(agent.client_secret),
        { scope: 'read' }, { ...insecure, DPoP }));
    let tr;
    try {
      tr = await attempt();
    } catch (e) {
      assert.ok(oauth.isDPoPNonceError(e), `a nonce error: ${e}`);
      tr = await attempt();
    }
    assert.equal(tr.token_type, 'dpop');

    // at an API ([dpop] nonce = all): 401 use_dpop_nonce with a DPoP challenge and a nonce
    const t = await send(await proof(key, { htu: tokenUrl, nonce }));
    assert.equal(t.status, 200, show(t));
    const uiUrl = `${srv.issuer}/userinfo`;
    const ath = await athOf(t.json.access_token);
    const auth = { authorization: `DPoP ${t.json.access_token}` };
    const u1 = await get(srv, '/userinfo', { headers: { ...auth, dpop: await proof(key, { htm: 'GET', htu: uiUrl, ath }) } });
    assert.equal(u1.status, 401, show(u1));
    assert.match(u1.headers.get('www-authenticate'), /^DPoP error="use_dpop_nonce", algs="ES256 PS256 RS256 EdDSA"$/);
    const n2 = u1.headers.get('dpop-nonce');
    assert.ok(n2);
    const u2 = await get(srv, '/userinfo', { headers: { ...auth, dpop: await proof(key, { htm: 'GET', htu: uiUrl, ath, nonce: n2 }) } });
    assert.equal(u2.status, 403, `the proof passes; the token lacks openid: ${show(u2)}`);
  });
});

describe('DPoP with an external PDP at token issuance', { timeout: 120_000 }, () => {
  let pdp;
  let srv;
  let client;

  before(async () => {
    pdp = await startAuthzenServer({ policies: {
      'read-ok': 'permit(principal, action == Action::"token.issue", resource == Scope::"orders:read");',
    } });
    srv = await startServer({ config: { pdp: { mode: 'authzen', url: pdp.url, timeout: '2s', cache_ttl: '0' } } });
    createScope(srv, 'orders:read');
    client = createClient(srv, { client_name: 'PDP-judged agent', kind: 'service', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read' });
  });
  after(async () => { await srv?.stop(); await pdp?.close(); });

  test('the request run again after the PDP answered does not take its own proof for a replay', async () => {
    const key = await newKey();
    const p = await proof(key, { htu: `${srv.issuer}/token` });
    const send = () => post(srv, '/token', { grant_type: 'client_credentials', scope: 'orders:read' },
      { headers: { authorization: basic(client.client_id, client.client_secret), dpop: p } });
    const calls = pdp.calls;
    const r = await send();
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.token_type, 'DPoP');
    assert.ok(pdp.calls > calls, 'the PDP was asked');
    assertOAuthError(await send(), 400, 'invalid_dpop_proof'); // the same proof again is a replay
  });
});

describe('DPoP on two nodes sharing a PostgreSQL database', {
  skip: BACKEND !== 'postgresql' && 'several nodes share a PostgreSQL database', timeout: 120_000,
}, () => {
  let a;
  let b;
  let agent;

  before(async () => {
    const config = { dpop: { nonce: 'token' } };
    a = await startServer({ config });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-node-b-'));
    for (const f of ['master.key', 'audit.key']) await copyFile(path.join(a.dir, f), path.join(dir, f));
    b = await startServer({ dir, config: { ...config, server: { issuer: a.issuer }, storage: { database: a.database } } });
    createFixtureScopes(a);
    agent = createClient(a, agentMetadata({ client_name: 'Two-node agent' }));
  });
  after(async () => { await b?.stop(); await a?.stop(); });

  const send = (srv, p) => post(srv, '/token', { grant_type: 'client_credentials', scope: 'read' },
    { headers: { authorization: basic(agent.client_id, agent.client_secret), dpop: p } });

  test("a nonce of one node is accepted by the other, and a proof used at one is a replay at the other", async () => {
    const key = await newKey();
    const htu = `${a.issuer}/token`;
    const first = await send(a, await proof(key, { htu }));
    assertOAuthError(first, 400, 'use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    const p = await proof(key, { htu, nonce });
    const ok = await send(b, p);
    assert.equal(ok.status, 200, show(ok));
    assert.equal(ok.json.token_type, 'DPoP');
    const issued = issuedCount(a);
    assertOAuthError(await send(a, p), 400, 'invalid_dpop_proof');
    assert.equal(issuedCount(a), issued, 'the replay issued nothing');
  });
});
