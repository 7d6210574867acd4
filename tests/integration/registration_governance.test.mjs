// Registration that holds under attack (SPEC §3.3): an approval approves
// exactly the metadata it showed (a pending client that changes what it asks
// for through RFC 7592 re-opens its request), and privileged members are
// set only by an admin, an initial access token's policy or the claims of a
// trusted software statement.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliJson, createScope, describeRun, startServer } from './lib/server.mjs';
import { basic, post, show } from './lib/oauth.mjs';
import { assertRegistered, register, regUpdate } from './lib/register.mjs';

const requestsOf = (srv, clientId) => cliJson(srv, ['request', 'list'])
  .filter((r) => r.client_id === clientId);
const pendingOf = (srv, clientId) => requestsOf(srv, clientId).filter((r) => r.status === 'pending');
const ccToken = (srv, c, scope) => post(srv, '/token', { grant_type: 'client_credentials', scope },
  { headers: { authorization: basic(c.client_id, c.client_secret) } });
const machine = (over = {}) => ({ grant_types: ['client_credentials'], ...over });

describe('an approval approves exactly what it showed', { timeout: 90_000 }, () => {
  let srv;
  before(async () => {
    srv = await startServer({ config: { registration: { open: 'true', unverified_scopes: 'read',
      unverified_grant_types: 'client_credentials', rate_per_source: 1000 } } });
    createScope(srv, 'read');
    createScope(srv, 'write');
    createScope(srv, 'admin');
  });
  after(() => srv?.stop());

  it('widening while pending re-opens the request: the old one cannot activate the new metadata', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'widener', scope: 'read write' })), 'pending');
    const [first] = pendingOf(srv, b.client_id);
    assert.equal(first.scope, 'read write');

    const up = await regUpdate(srv, b.client_id, b.registration_access_token,
      machine({ client_id: b.client_id, client_name: 'widener', scope: 'read write admin' }));
    assert.equal(up.status, 200, show(up));
    assert.equal(up.json.status, 'pending');

    const reqs = requestsOf(srv, b.client_id);
    const old = reqs.find((r) => r.id === first.id);
    assert.equal(old.status, 'denied', 'the request for the old metadata is closed');
    assert.equal(old.note, 'superseded');
    const open = reqs.filter((r) => r.status === 'pending');
    assert.equal(open.length, 1, 'one re-opened request');
    assert.equal(open[0].scope, 'read write admin', 'it shows the new metadata');

    const stale = srv.cli(['request', 'approve', first.id]);
    assert.notEqual(stale.code, 0, describeRun(stale));
    assert.match(stale.stderr, /^mandate: /);
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'pending', 'still pending');
    assert.equal((await ccToken(srv, b, 'admin')).status, 401, 'no token for what nobody approved');

    cliJson(srv, ['request', 'approve', open[0].id]);
    const shown = cliJson(srv, ['client', 'show', b.client_id]);
    assert.equal(shown.status, 'active');
    assert.equal(shown.scope, 'read write admin', 'what was shown is what is active');
  });

  it('an update after the request was shown cannot ride on its approval', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'sly', scope: 'write' })), 'pending');
    const [req] = pendingOf(srv, b.client_id);
    // same scopes, other privileged metadata: still a change of what is approved
    const up = await regUpdate(srv, b.client_id, b.registration_access_token,
      machine({ client_id: b.client_id, client_name: 'sly', scope: 'write', contacts: ['x@example.com'] }));
    assert.equal(up.status, 200, show(up));
    const stale = srv.cli(['request', 'approve', req.id]);
    assert.notEqual(stale.code, 0, 'the request showed other metadata');
    assert.equal(cliJson(srv, ['client', 'show', b.client_id]).status, 'pending');
    const open = pendingOf(srv, b.client_id);
    assert.equal(open.length, 1);
    assert.notEqual(open[0].id, req.id);
  });

  it('a pending client that updates to what it may get without approval is active and its request closed', async () => {
    const b = assertRegistered(await register(srv, machine({ client_name: 'modest', scope: 'write' })), 'pending');
    const up = await regUpdate(srv, b.client_id, b.registration_access_token,
      machine({ client_id: b.client_id, client_name: 'modest', scope: 'read' }));
    assert.equal(up.status, 200, show(up));
    assert.equal(up.json.status, 'active');
    assert.deepEqual(pendingOf(srv, b.client_id), []);
  });
});
