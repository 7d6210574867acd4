// Helpers of the CIBA tests (ciba.test.mjs, approvals.test.mjs): a client
// registered for the CIBA grant, /bc-authorize and polling /token as it.
import assert from 'node:assert/strict';

import { API, basic, post, show } from './oauth.mjs';
import { cliJson } from './server.mjs';

export const CIBA = 'urn:openid:params:grant-type:ciba';
export const PAYMENT = [{ type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '120.00' },
  creditorName: 'ACME <Inc> & "Co"', actions: ['initiate'], fee: 0.1, exchangeRate: 1.0865 }];

export function cibaMetadata(overrides = {}) {
  return {
    client_name: 'Payment agent', kind: 'agent', owner: 'olivia', grant_types: [CIBA],
    token_endpoint_auth_method: 'client_secret_basic', scope: 'openid payments', resources: [API],
    backchannel_token_delivery_mode: 'poll', ...overrides,
  };
}

/** POSTs to path authenticated as client (client_secret_basic). */
export function as(srv, client, path, fields) {
  return post(srv, path, fields, { headers: { authorization: basic(client.client_id, client.client_secret) } });
}

export const bcAuthorize = (srv, client, fields) => as(srv, client, '/bc-authorize',
  { scope: 'openid payments', ...fields });
export const poll = (srv, client, id) => as(srv, client, '/token', { grant_type: CIBA, auth_req_id: id });

/** Starts a CIBA request that must be accepted: {auth_req_id, expires_in, interval, request (the approval request)}. */
export async function started(srv, client, fields) {
  const known = new Set(cliJson(srv, ['request', 'list']).map((q) => q.id));
  const r = await bcAuthorize(srv, client, fields);
  assert.equal(r.status, 200, show(r));
  const fresh = cliJson(srv, ['request', 'list']).filter((q) => !known.has(q.id));
  assert.equal(fresh.length, 1, 'one new approval request');
  assert.equal(fresh[0].type, 'ciba');
  assert.equal(fresh[0].client_id, client.client_id);
  return { ...r.json, request: fresh[0] };
}
