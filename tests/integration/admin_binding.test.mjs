// A certificate-bound admin token (RFC 8705) works at the admin API only
// with the certificate it is bound to, as at /userinfo: a stolen bound token
// is useless without the client's key. Certificates come from a trusted
// proxy (X-Client-Cert); the binding check is the same for the TLS listener.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { escapedPem, makeCa, selfSigned, x5tS256 } from './lib/certs.mjs';
import { basic, jwtParts, post, show } from './lib/oauth.mjs';
import { createClient, startServer } from './lib/server.mjs';

describe('certificate-bound admin tokens', { timeout: 60_000 }, () => {
  let dir; let srv; let certs; let client;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-admin-bound-'));
    const ca = makeCa(dir, 'client-ca');
    certs = { mine: selfSigned(dir, 'automation-cert'), other: selfSigned(dir, 'intruder-cert') };
    srv = await startServer({ config: { server: { trusted_proxies: '127.0.0.1/32', tls_client_ca: ca.certFile } } });
    client = createClient(srv, { client_name: 'Bound automation', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'mandate:admin',
      tls_client_certificate_bound_access_tokens: true });
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const admin = async (token, cert) => {
    const headers = { authorization: `Bearer ${token}` };
    if (cert) headers['x-client-cert'] = escapedPem(cert.cert);
    const r = await fetch(`${srv.url}/admin/v1/keys`, { headers });
    return { status: r.status, headers: r.headers, json: await r.json() };
  };

  test('only with its certificate', async () => {
    const t = await post(srv, '/token', { grant_type: 'client_credentials', scope: 'mandate:admin' },
      { headers: { authorization: basic(client.client_id, client.client_secret), 'x-client-cert': escapedPem(certs.mine.cert) } });
    assert.equal(t.status, 200, show(t));
    assert.deepEqual(jwtParts(t.json.access_token).payload.cnf, { 'x5t#S256': x5tS256(certs.mine.cert) });
    for (const cert of [undefined, certs.other]) {
      const r = await admin(t.json.access_token, cert);
      assert.equal(r.status, 401, JSON.stringify(r.json));
      assert.equal(r.json.error, 'invalid_token');
      assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
    }
    const ok = await admin(t.json.access_token, certs.mine);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.ok(Array.isArray(ok.json.items));
  });
});
