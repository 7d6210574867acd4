// Who may introspect (RFC 7662 §2.1, §4): the client a token was issued to,
// and a client an admin made the resource server of the token's audience
// (`introspection_for`, SPEC §2.4). A client merely entitled to request
// tokens for that audience (`resources`) learns nothing: {"active": false},
// for JWT and opaque tokens alike. Only admins set `introspection_for`:
// registration (RFC 7591), client configuration (RFC 7592) and software
// statements are refused when they name it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliJson, createClient, describeRun, startServer } from './lib/server.mjs';
import {
  API, API2, agentMetadata, basic, createFixtureScopes, post, show, tokenBasic,
} from './lib/oauth.mjs';
import { clientIds, refusedRegistration, regRead, register, regUpdate } from './lib/register.mjs';

const OPEN = { registration: { open: 'true', unverified_scopes: 'read', unverified_grant_types: 'client_credentials', rate_per_source: 1000 } };

describe('introspection is for the token\'s client and its resource servers', { timeout: 90_000 }, () => {
  let srv;
  const c = {};

  before(async () => {
    srv = await startServer({ config: OPEN });
    createFixtureScopes(srv);
    c.jwt = createClient(srv, agentMetadata({ client_name: 'Issuer of JWTs' }));
    c.opaque = createClient(srv, agentMetadata({ client_name: 'Issuer of opaque tokens', access_token_format: 'opaque' }));
    // The attacker: entitled to tokens for API, as any client of that API is.
    c.entitled = createClient(srv, agentMetadata({ client_name: 'Another client of the API', scope: 'read',
      resources: [API] }));
    // The API itself, marked by an admin as the resource server of API.
    c.rs = createClient(srv, agentMetadata({ client_name: 'Expense API', kind: 'service', scope: 'read',
      resources: [], introspection_for: [API] }));
    c.rs2 = createClient(srv, agentMetadata({ client_name: 'Billing API', kind: 'service', scope: 'read',
      resources: [], introspection_for: [API2] }));
  });
  after(() => srv?.stop());

  const introspect = async (caller, token) => {
    const r = await post(srv, '/introspect', { token },
      { headers: { authorization: basic(caller.client_id, caller.client_secret) } });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    return r.json;
  };
  const issue = async (client, params) => {
    const r = await tokenBasic(srv, client, params);
    assert.equal(r.status, 200, show(r));
    return r.json.access_token;
  };

  it('a client whose resources include the audience gets {"active": false}, JWT and opaque', async () => {
    for (const fmt of ['jwt', 'opaque']) {
      const token = await issue(c[fmt], { scope: 'read write', resource: API });
      assert.equal((await introspect(c[fmt], token)).active, true, `${fmt}: the token is active for its own client`);
      assert.deepEqual(await introspect(c.entitled, token), { active: false },
        `${fmt}: an entitled client learns nothing of another client's token`);
    }
  });

  it('the resource server an admin named for the audience sees the claims; one for another audience does not', async () => {
    for (const fmt of ['jwt', 'opaque']) {
      const token = await issue(c[fmt], { scope: 'read', resource: API });
      const byRs = await introspect(c.rs, token);
      assert.equal(byRs.active, true, `${fmt}: ${JSON.stringify(byRs)}`);
      assert.equal(byRs.client_id, c[fmt].client_id);
      assert.equal(byRs.aud, API);
      assert.deepEqual(await introspect(c.rs2, token), { active: false }, `${fmt}: resource server of ${API2}`);
      // a token whose audience names API2 is visible to API2's resource server only
      const other = await issue(c[fmt], { scope: 'read', resource: API2 });
      assert.equal((await introspect(c.rs2, other)).active, true, `${fmt} for ${API2}`);
      assert.deepEqual(await introspect(c.rs, other), { active: false }, `${fmt}: ${API} cannot read ${API2}'s token`);
    }
  });

  it('the resource server\'s own token is its own; the issuing client still sees its token', async () => {
    const token = await issue(c.entitled, { scope: 'read', resource: API });
    assert.equal((await introspect(c.entitled, token)).active, true);
    assert.equal((await introspect(c.rs, token)).active, true);
    assert.deepEqual(await introspect(c.jwt, token), { active: false });
  });

  it('an admin can set and clear introspection_for; bad values are refused', async () => {
    const rs = createClient(srv, agentMetadata({ client_name: 'Later RS', scope: 'read', resources: [] }));
    const token = await issue(c.jwt, { scope: 'read', resource: API });
    assert.deepEqual(await introspect(rs, token), { active: false });
    let r = srv.cli(['client', 'update', rs.client_id], { input: JSON.stringify({ introspection_for: [API] }) });
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(cliJson(srv, ['client', 'show', rs.client_id]).introspection_for, [API]);
    assert.equal((await introspect(rs, token)).active, true, 'visible once an admin made it the resource server');
    r = srv.cli(['client', 'update', rs.client_id], { input: JSON.stringify({ introspection_for: [] }) });
    assert.equal(r.code, 0, describeRun(r));
    assert.deepEqual(await introspect(rs, token), { active: false }, 'and invisible again once cleared');
    for (const bad of ['https://api.example.com', ['not a uri'], [`${API}#frag`], [7]]) {
      r = srv.cli(['client', 'update', rs.client_id], { input: JSON.stringify({ introspection_for: bad }) });
      assert.notEqual(r.code, 0, `refused: ${JSON.stringify(bad)}`);
      assert.match(r.stderr, /introspection_for/, describeRun(r));
    }
    assert.deepEqual(cliJson(srv, ['client', 'show', rs.client_id]).introspection_for, [], 'unchanged by refusals');
  });

  it('self-registration cannot make itself a resource server', async () => {
    const meta = { client_name: 'Self-made RS', scope: 'read', introspection_for: [API] };
    await refusedRegistration(srv, () => register(srv, meta), 400, 'invalid_client_metadata', /introspection_for/);
    const before_ = clientIds(srv);
    // registered without it, the client cannot add it by RFC 7592 either
    const reg = await register(srv, { client_name: 'Self-made RS', scope: 'read' });
    assert.equal(reg.status, 201, show(reg));
    const { client_id: id, registration_access_token: rat, client_secret: secret } = reg.json;
    const upd = await regUpdate(srv, id, rat, { client_id: id, client_name: 'Self-made RS', scope: 'read',
      introspection_for: [API] });
    assert.equal(upd.status, 400, show(upd));
    assert.equal(upd.json?.error, 'invalid_client_metadata', show(upd));
    assert.equal(cliJson(srv, ['client', 'show', id]).introspection_for, undefined, 'nothing changed');
    const token = await issue(c.jwt, { scope: 'read', resource: API });
    assert.deepEqual(await introspect({ client_id: id, client_secret: secret }, token), { active: false });
    assert.deepEqual(clientIds(srv).filter((x) => !before_.includes(x)), [id]);
  });

  it('a client an admin made a resource server may repeat the value in an RFC 7592 update', async () => {
    const reg = await register(srv, { client_name: 'Registered RS', scope: 'read' });
    assert.equal(reg.status, 201, show(reg));
    const { client_id: id, registration_access_token: rat } = reg.json;
    const r = srv.cli(['client', 'update', id], { input: JSON.stringify({ introspection_for: [API] }) });
    assert.equal(r.code, 0, describeRun(r));
    const read = await regRead(srv, id, rat);
    assert.deepEqual(read.json?.introspection_for, [API], show(read));
    const meta = { client_id: id, client_name: 'Registered RS, renamed', scope: 'read' };
    const same = await regUpdate(srv, id, rat, { ...meta, introspection_for: [API] });
    assert.equal(same.status, 200, show(same));
    assert.deepEqual(same.json.introspection_for, [API]);
    const wider = await regUpdate(srv, id, rat, { ...meta, introspection_for: [API, API2] });
    assert.equal(wider.status, 400, show(wider));
    assert.equal(wider.json?.error, 'invalid_client_metadata', show(wider));
    assert.deepEqual(cliJson(srv, ['client', 'show', id]).introspection_for, [API]);
  });
});
