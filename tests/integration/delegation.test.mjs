// Delegation by token exchange (RFC 8693, SPEC §3.5): a person's access
// token exchanged by agent A, A's token exchanged by agent B; each hop keeps
// the person in sub, adds its client to act, and only narrows scope,
// audience and lifetime. Chains deeper than max_delegation_depth, actors
// not in may_act and impersonation by clients not allowed to are refused.
// Revocation follows the chain: revoking the person's token, suspending a
// client of the chain or signing out ends every token derived from it,
// while a grant for offline access survives the sign-out.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';

import { callbackServer, createUsers, FAST_ARGON2, signedIn } from './lib/authz.mjs';
import { csrfOf } from './lib/browser.mjs';
import { keyPair, now, sign } from './lib/assertions.mjs';
import { authorizeCode, ensureScope, postAs, redeem, refresh } from './lib/grants.mjs';
import {
  API, API2, agentMetadata, auditEvents, createFixtureScopes, eventBody, eventType, scopeSet,
} from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const IDP = 'https://idp.example.test';
const UNTRUSTED = 'https://stranger.example.test';
const PLACEHOLDER = 'impersonator-client-id';

function events(srv, type) {
  return auditEvents(srv).map(eventBody).filter((e) => eventType(e) === type);
}

function dataOf(ev) {
  return typeof ev.data === 'string' ? JSON.parse(ev.data) : ev.data;
}

describe('delegation by token exchange', { timeout: 240_000 }, () => {
  let srv;
  let cb;
  let idp;
  let stranger;
  let app;      // the person's application (code flow), JWT access tokens
  let notes;    // the same with opaque access tokens
  let agentA;   // read write on API and API2
  let agentB;   // read on API2, opaque tokens
  let agentC;   // a third hop
  let shallow;  // max_delegation_depth 1
  let plain;    // did not register the token exchange grant
  let imp;      // allowed to impersonate (after the restart)

  before(async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-deleg-'));
    idp = await keyPair('ES256');
    stranger = await keyPair('ES256');
    await writeFile(path.join(dir, 'idp.json'), JSON.stringify({ keys: [idp.publicJwk] }));
    const issuers = path.join(dir, 'te-issuers.json');
    await writeFile(issuers, JSON.stringify([
      { issuer: IDP, jwks_file: 'idp.json', max_lifetime: 600, rules: [{ subject_prefix: 'idp:', scopes: ['read', 'write'] }] },
    ]));
    srv = await startServer({ dir, config: {
      users: FAST_ARGON2,
      token_exchange: { subject_issuers: issuers, impersonation: PLACEHOLDER },
    } });
    createFixtureScopes(srv);
    ensureScope(srv, 'openid', { description: 'Sign you in' });
    ensureScope(srv, 'offline_access', { description: 'Stay connected' });
    createUsers(srv, ['alice']);
    cb = await callbackServer();
    const web = {
      kind: 'web', owner: 'alice', grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [cb.uri], scope: 'openid offline_access read write admin', resources: [API, API2],
      token_endpoint_auth_method: 'client_secret_basic',
    };
    app = createClient(srv, { ...web, client_name: 'Calendar app' });
    notes = createClient(srv, { ...web, client_name: 'Notes app', access_token_format: 'opaque' });
    const grants = ['client_credentials', TE];
    agentA = createClient(srv, agentMetadata({ client_name: 'Agent A', grant_types: grants }));
    agentB = createClient(srv, agentMetadata({ client_name: 'Agent B', grant_types: grants, scope: 'read',
      resources: [API2], access_token_format: 'opaque' }));
    agentC = createClient(srv, agentMetadata({ client_name: 'Agent C', grant_types: grants }));
    shallow = createClient(srv, agentMetadata({ client_name: 'Shallow agent', grant_types: grants, max_delegation_depth: 1 }));
    plain = createClient(srv, agentMetadata({ client_name: 'Not registered' }));
    imp = createClient(srv, agentMetadata({ client_name: 'Impersonator', grant_types: grants }));
    // the server reads [token_exchange] impersonation when it starts
    const conf = await readFile(srv.conf, 'utf8');
    await writeFile(srv.conf, conf.replace(PLACEHOLDER, imp.client_id));
    await srv.restart();
  });
  after(async () => { await cb?.close(); await srv?.stop(); });

  /** The code flow for alice with client in the session of jar: the token response. */
  async function personToken(jar, client = app, scope = 'openid read write') {
    const r = await redeem(srv, client, cb.uri, await authorizeCode(srv, jar, client, cb.uri, { scope }));
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  function exchange(client, subjectToken, params = {}) {
    return postAs(srv, client, '/token', {
      grant_type: TE, subject_token: subjectToken, subject_token_type: AT, ...params,
    });
  }

  async function exchanged(client, subjectToken, params = {}) {
    const r = await exchange(client, subjectToken, params);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.issued_token_type, AT);
    return r.json;
  }

  async function introspect(client, token) {
    const r = await postAs(srv, client, '/introspect', { token });
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  function refused(r, status, error) {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.error, error, r.text);
    assert.equal(r.json.access_token, undefined);
  }

  async function signOut(jar) {
    const page = await (await jar.fetch(`${srv.url}/logout`)).text();
    const r = await jar.fetch(`${srv.url}/logout`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf_token: csrfOf(page) }).toString(),
    });
    assert.equal(r.status, 200, await r.text());
  }

  test('person → agent A → agent B: sub kept, act nested, scope, audience and expiry narrowed', async () => {
    const jar = await signedIn(srv, 'alice');
    const person = await personToken(jar);
    const p = jose.decodeJwt(person.access_token);
    assert.equal(p.sub, 'alice');
    assert.equal(p.act, undefined);

    const a = await exchanged(agentA, person.access_token, { resource: API2 });
    const t1 = jose.decodeJwt(a.access_token);
    assert.equal(t1.sub, 'alice');
    assert.equal(t1.client_id, agentA.client_id);
    assert.deepEqual(t1.act, { sub: agentA.client_id });
    assert.deepEqual(scopeSet(t1.scope), ['read', 'write']); // openid is not A's
    assert.equal(t1.aud, API2);
    assert.ok(t1.exp <= p.exp, 'not beyond the subject token');
    assert.equal(t1.app.name, 'Agent A');

    // B with A's own token as actor_token is refused: the actor token must be B's
    const wrongActor = await exchange(agentB, a.access_token, {
      actor_token: a.access_token, actor_token_type: AT,
    });
    refused(wrongActor, 400, 'invalid_request');
    const own = await postAs(srv, agentB, '/token', { grant_type: 'client_credentials', scope: 'read' });
    assert.equal(own.status, 200, own.text);
    const b = await exchanged(agentB, a.access_token, { actor_token: own.json.access_token, actor_token_type: AT });
    assert.ok(b.access_token.startsWith('mdt_at_'), 'B has opaque tokens');
    assert.equal(b.scope, 'read');
    const t2 = await introspect(agentB, b.access_token);
    assert.equal(t2.active, true);
    assert.equal(t2.sub, 'alice');
    assert.equal(t2.client_id, agentB.client_id);
    assert.deepEqual(t2.act, { sub: agentB.client_id, act: { sub: agentA.client_id } });
    assert.equal(t2.scope, 'read');
    assert.equal(t2.aud, API2);
    assert.ok(t2.exp <= t1.exp);
    const i1 = await introspect(agentA, a.access_token);
    assert.deepEqual(i1.act, { sub: agentA.client_id });

    // audited with the chain and the subject token's jti, never a token
    const issued = events(srv, 'token.issued').map(dataOf).find((d) => d.jti === t2.jti);
    assert.equal(issued.subject_jti, t1.jti);
    assert.deepEqual(issued.act, t2.act);
    assert.ok(!JSON.stringify(events(srv, 'token.issued')).includes(a.access_token));
  });

  test('refusals: widening, depth, audience, unregistered grant, inactive subject token', async () => {
    const jar = await signedIn(srv, 'alice');
    const person = await personToken(jar, app, 'openid read');
    // the person's token has read only: write is beyond it although A is entitled to it
    refused(await exchange(agentA, person.access_token, { scope: 'read write' }), 400, 'invalid_scope');
    const a = await exchanged(agentA, person.access_token);
    assert.equal(a.scope, 'read');
    // B is not entitled to write, nor to API
    refused(await exchange(agentB, a.access_token, { scope: 'write' }), 400, 'invalid_scope');
    refused(await exchange(agentA, person.access_token, { resource: 'https://elsewhere.example.com' }), 400, 'invalid_target');
    refused(await exchange(agentB, a.access_token, { audience: API }), 400, 'invalid_target');
    // depth: person → A → B → C is three actors, beyond the default of 2
    const b = await exchanged(agentB, a.access_token);
    refused(await exchange(agentC, b.access_token), 400, 'invalid_request');
    // the most restrictive client of the chain wins: shallow allows 1
    const s = await exchanged(shallow, person.access_token);
    refused(await exchange(agentC, s.access_token), 400, 'invalid_request');
    // a client that did not register the grant
    refused(await exchange(plain, person.access_token), 400, 'unauthorized_client');
    // inactive subject tokens
    refused(await exchange(agentA, 'not-a-token'), 400, 'invalid_grant');
    const rev = await postAs(srv, app, '/revoke', { token: person.access_token });
    assert.equal(rev.status, 200);
    refused(await exchange(agentA, person.access_token), 400, 'invalid_grant');
    // other token types are not ours to issue here
    refused(await exchange(agentA, a.access_token, { requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 400, 'invalid_request');
    // an actor_token_type without actor_token
    refused(await exchange(agentA, a.access_token, { actor_token_type: AT }), 400, 'invalid_request');

    const refusals = events(srv, 'token.refused').map(dataOf).filter((d) => d?.subject_token_type === AT);
    assert.ok(refusals.some((d) => d.subject_jti === jose.decodeJwt(person.access_token).jti));
    assert.ok(refusals.length >= 8, JSON.stringify(refusals));
  });

  test("revoking the person's token makes the chain's tokens inactive (JWT and opaque)", async () => {
    const jar = await signedIn(srv, 'alice');
    for (const client of [app, notes]) {
      const person = await personToken(jar, client);
      const a = await exchanged(agentA, person.access_token);
      const b = await exchanged(agentB, a.access_token);
      assert.equal((await introspect(agentB, b.access_token)).active, true);
      const rev = await postAs(srv, client, '/revoke', { token: person.access_token });
      assert.equal(rev.status, 200);
      assert.equal((await introspect(agentA, a.access_token)).active, false);
      assert.equal((await introspect(agentB, b.access_token)).active, false);
      refused(await exchange(agentB, a.access_token), 400, 'invalid_grant');
    }
  });

  test("suspending agent A makes B's token derived from A's inactive, also after A resumes", async () => {
    const suspendable = createClient(srv, agentMetadata({ client_name: 'Agent A2', grant_types: ['client_credentials', TE] }));
    const jar = await signedIn(srv, 'alice');
    const person = await personToken(jar);
    const a = await exchanged(suspendable, person.access_token);
    const b = await exchanged(agentB, a.access_token);
    const own = await postAs(srv, agentB, '/token', { grant_type: 'client_credentials', scope: 'read' });
    assert.equal((await introspect(agentB, b.access_token)).active, true);
    assert.equal(srv.cli(['client', 'suspend', suspendable.client_id]).code, 0);
    assert.equal((await introspect(agentB, b.access_token)).active, false);
    assert.equal((await introspect(agentB, own.json.access_token)).active, true, "B's own token stays");
    assert.equal((await introspect(app, person.access_token)).active, true, "the person's token stays");
    assert.equal(srv.cli(['client', 'resume', suspendable.client_id]).code, 0);
    assert.equal((await introspect(agentB, b.access_token)).active, false);
  });

  test('signing out ends the session\'s tokens and those derived from them; offline access survives', async () => {
    const jar = await signedIn(srv, 'alice');
    const session = await personToken(jar, app, 'openid read');
    assert.equal(session.refresh_token, undefined);
    assert.ok(jose.decodeJwt(session.access_token).sid, 'bound to the session');
    const plainOauth = await personToken(jar, notes, 'read'); // a refresh token without offline_access
    assert.ok(plainOauth.refresh_token);
    const offline = await personToken(jar, app, 'openid offline_access read');
    assert.ok(offline.refresh_token);
    assert.equal(jose.decodeJwt(offline.access_token).sid, undefined);
    const fromSession = await exchanged(agentA, session.access_token);
    const fromOffline = await exchanged(agentA, offline.access_token);
    const deeper = await exchanged(agentB, fromSession.access_token);

    for (const [c, t] of [[app, session], [notes, plainOauth], [agentA, fromSession], [agentB, deeper]])
      assert.equal((await introspect(c, t.access_token)).active, true);
    await signOut(jar);
    assert.equal((await introspect(app, session.access_token)).active, false);
    assert.equal((await introspect(notes, plainOauth.access_token)).active, false);
    assert.equal((await introspect(agentA, fromSession.access_token)).active, false);
    assert.equal((await introspect(agentB, deeper.access_token)).active, false);
    refused(await refresh(srv, notes, plainOauth.refresh_token), 400, 'invalid_grant');
    const userinfo = await fetch(`${srv.url}/userinfo`, { headers: { authorization: `Bearer ${session.access_token}` } });
    assert.equal(userinfo.status, 401);
    await userinfo.arrayBuffer();

    assert.equal((await introspect(app, offline.access_token)).active, true);
    assert.equal((await introspect(agentA, fromOffline.access_token)).active, true);
    const next = await refresh(srv, app, offline.refresh_token);
    assert.equal(next.status, 200, next.text);
    const fromNext = await exchanged(agentA, next.json.access_token);
    assert.equal((await introspect(agentA, fromNext.access_token)).active, true);
    // but not the revocation of the grant itself
    const rev = await postAs(srv, app, '/revoke', { token: next.json.refresh_token });
    assert.equal(rev.status, 200);
    assert.equal((await introspect(agentA, fromNext.access_token)).active, false);
  });

  test("a trusted issuer's JWT as subject token; may_act enforced; an untrusted one refused", async () => {
    const claims = (over = {}) => ({ iss: IDP, sub: 'u-7', aud: srv.issuer, iat: now(), exp: now() + 300,
      jti: crypto.randomUUID(), scope: 'read admin', ...over });
    const jwtExchange = (client, token, params = {}) => postAs(srv, client, '/token', {
      grant_type: TE, subject_token: token, subject_token_type: JWT, ...params,
    });
    const r = await jwtExchange(agentA, await sign(idp, claims()));
    assert.equal(r.status, 200, r.text);
    const t = jose.decodeJwt(r.json.access_token);
    assert.equal(t.sub, 'idp:u-7');
    assert.equal(t.scope, 'read'); // the rule allows read write, the JWT says read admin
    assert.deepEqual(t.act, { sub: agentA.client_id });
    assert.ok(t.exp <= now() + 301);
    // and it can be delegated on
    const b = await exchanged(agentB, r.json.access_token);
    assert.deepEqual((await introspect(agentB, b.access_token)).act,
      { sub: agentB.client_id, act: { sub: agentA.client_id } });

    refused(await jwtExchange(agentA, await sign(stranger, claims({ iss: UNTRUSTED }))), 400, 'invalid_grant');
    refused(await jwtExchange(agentA, await sign(stranger, claims())), 400, 'invalid_grant'); // wrong key
    refused(await jwtExchange(agentA, await sign(idp, claims({ exp: now() - 60 }))), 400, 'invalid_grant');
    refused(await jwtExchange(agentA, await sign(idp, claims({ scope: ['read', 'write'] }))), 400, 'invalid_grant');
    const replayed = await sign(idp, claims());
    assert.equal((await jwtExchange(agentA, replayed)).status, 200);
    refused(await jwtExchange(agentA, replayed), 400, 'invalid_grant');
    // may_act names A: B is refused, A is not
    const mayAct = claims({ may_act: { sub: agentA.client_id } });
    refused(await jwtExchange(agentB, await sign(idp, mayAct)), 400, 'invalid_request');
    const ok = await jwtExchange(agentA, await sign(idp, { ...mayAct, jti: crypto.randomUUID() }));
    assert.equal(ok.status, 200, ok.text);
    refused(await jwtExchange(plain, await sign(idp, claims())), 400, 'unauthorized_client');
  });

  test('impersonation: only clients allowed by configuration, and the token has no act', async () => {
    const jar = await signedIn(srv, 'alice');
    const person = await personToken(jar);
    refused(await exchange(agentA, person.access_token, { impersonation: 'true' }), 400, 'invalid_request');
    const r = await exchanged(imp, person.access_token, { impersonation: 'true' });
    const t = jose.decodeJwt(r.access_token);
    assert.equal(t.sub, 'alice');
    assert.equal(t.act, undefined);
    assert.equal(t.client_id, imp.client_id);
    // a delegated token cannot be turned into one without act
    const a = await exchanged(agentA, person.access_token);
    refused(await exchange(imp, a.access_token, { impersonation: 'true' }), 400, 'invalid_request');
    // revocation still follows
    await postAs(srv, app, '/revoke', { token: person.access_token });
    assert.equal((await introspect(imp, r.access_token)).active, false);
    const ev = events(srv, 'token.issued').map(dataOf).find((d) => d.jti === t.jti);
    assert.equal(ev.impersonation, true);
  });
});
