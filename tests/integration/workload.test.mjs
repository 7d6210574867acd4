// Workload identity: a client whose metadata names a workload_identity
// authenticates with a token of a trusted [workload] issuer (as a SPIFFE
// JWT-SVID or a Kubernetes service-account token would be) and holds no
// Mandate secret. Untrusted issuers, other subjects, wrong audiences and
// bad issuers files are refused.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { cliJson, createClient, describeRun, prepare, runMandate, startServer } from './lib/server.mjs';
import { API, agentMetadata, createFixtureScopes, discover, insecure, jwtParts, show } from './lib/oauth.mjs';
import { clientClaims, expectRefusal, keyPair, now, sign, tokenWithAssertion } from './lib/assertions.mjs';

const K8S = 'https://kubernetes.default.svc.cluster.local';
const SPIFFE = 'https://spire.example.test';
const SA = 'system:serviceaccount:payments:invoice-agent';
const SPIFFE_ID = 'spiffe://example.test/ns/payments/sa/reporter';

describe('workload identity', { timeout: 90_000 }, () => {
  let dir;
  let srv;
  let k8s;
  let spire;
  let rogue;
  let agent;
  let reporter;
  let both;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-wl-'));
    k8s = await keyPair('RS256');
    spire = await keyPair('ES256');
    rogue = await keyPair('RS256', k8s.kid); // same kid, another key: an issuer we do not trust
    // SPIFFE trust bundles mark JWT-SVID keys with "use": "jwt-svid"
    await writeFile(path.join(dir, 'k8s-jwks.json'), JSON.stringify({ keys: [k8s.publicJwk] }));
    await writeFile(path.join(dir, 'spire-bundle.json'),
      JSON.stringify({ keys: [{ ...spire.publicJwk, use: 'jwt-svid' }], spiffe_sequence: 1 }));
    const issuers = path.join(dir, 'workload-issuers.json');
    await writeFile(issuers, JSON.stringify([
      { issuer: K8S, jwks_file: 'k8s-jwks.json' },
      { issuer: SPIFFE, jwks_file: path.join(dir, 'spire-bundle.json'), audience: 'mandate' },
    ]));
    srv = await startServer({ config: { workload: { issuers } } });
    createFixtureScopes(srv);
    const wl = (name, identity, over = {}) => createClient(srv, agentMetadata({ client_name: name,
      token_endpoint_auth_method: 'private_key_jwt', workload_identity: identity, ...over }));
    agent = wl('invoice agent', { issuer: K8S, subject: SA });
    reporter = wl('reporter', { issuer: SPIFFE, subject: SPIFFE_ID });
    both = wl('both', { issuer: K8S, subject: 'system:serviceaccount:payments:both' },
      { jwks: { keys: [spire.publicJwk] } });
  });
  after(async () => {
    await srv?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A Kubernetes-style projected service-account token (no jti needed, lives an hour). */
  function k8sToken(over = {}, key = k8s) {
    const t = now();
    const claims = { iss: K8S, sub: SA, aud: [srv.issuer], iat: t, nbf: t, exp: t + 3600,
      'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'invoice-agent' } }, ...over };
    for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
    return sign(key, claims);
  }

  it('registers no secret for a workload client', () => {
    assert.equal(agent.client_secret, undefined);
    const shown = cliJson(srv, ['client', 'show', agent.client_id]);
    assert.ok(shown.credentials.some((c) => c.type === 'workload'), JSON.stringify(shown.credentials));
  });

  it('issues a token for a Kubernetes service-account token (app.auth workload_identity)', async () => {
    const token = await k8sToken();
    const r = await tokenWithAssertion(srv, token, { clientId: agent.client_id, params: { scope: 'read', resource: API } });
    assert.equal(r.status, 200, show(r));
    const { payload } = jwtParts(r.json.access_token);
    assert.equal(payload.app.auth, 'workload_identity');
    assert.equal(payload.sub, agent.client_id);
    assert.equal(payload.client_id, agent.client_id);
    assert.equal(payload.scope, 'read');
    assert.equal(payload.aud, API);
    // platform tokens are reused for their lifetime: the same token works again
    const again = await tokenWithAssertion(srv, token, { clientId: agent.client_id });
    assert.equal(again.status, 200, show(again));
  });

  it('finds the client by its workload identity when client_id is absent', async () => {
    const r = await tokenWithAssertion(srv, await k8sToken());
    assert.equal(r.status, 200, show(r));
    assert.equal(jwtParts(r.json.access_token).payload.client_id, agent.client_id);
  });

  it('works through oauth4webapi with a SPIFFE JWT-SVID as client assertion', async () => {
    const as = await discover(srv);
    const client = { client_id: reporter.client_id };
    const svid = await sign(spire, { iss: SPIFFE, sub: SPIFFE_ID, aud: ['mandate'], exp: now() + 300, iat: now() });
    // oauth4webapi builds its own assertion: hand it the platform's token instead
    const auth = (_as, _client, body) => {
      body.set('client_id', client.client_id);
      body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      body.set('client_assertion', svid);
    };
    const res = await oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'read' }, insecure);
    const tr = await oauth.processClientCredentialsResponse(as, client, res);
    assert.equal(jwtParts(tr.access_token).payload.app.auth, 'workload_identity');
  });

  it('records the use on the workload credential', () => {
    const shown = cliJson(srv, ['client', 'show', agent.client_id]);
    const wl = shown.credentials.find((c) => c.type === 'workload');
    assert.ok(wl.last_used_at, JSON.stringify(wl));
  });

  it('refuses a token from an untrusted issuer', async () => {
    const untrusted = await sign(rogue, { iss: 'https://evil.example.test', sub: SA, aud: srv.issuer, exp: now() + 300 });
    await expectRefusal(srv, () => tokenWithAssertion(srv, untrusted, { clientId: agent.client_id }),
      { reason: /neither the client_id nor a trusted workload issuer/, clientId: agent.client_id });
    // the trusted issuer's name, but signed by another key
    const forged = await k8sToken({}, rogue);
    await expectRefusal(srv, () => tokenWithAssertion(srv, forged, { clientId: agent.client_id }),
      { reason: /bad signature/ });
  });

  it('refuses a token for another subject', async () => {
    const other = await k8sToken({ sub: 'system:serviceaccount:payments:someone-else' });
    await expectRefusal(srv, () => tokenWithAssertion(srv, other, { clientId: agent.client_id }),
      { reason: /another subject/, clientId: agent.client_id });
    await expectRefusal(srv, () => tokenWithAssertion(srv, other),
      { reason: /no client has this workload identity/ });
    // a trusted issuer's token presented for a client of another issuer
    await expectRefusal(srv, () => tokenWithAssertion(srv, other, { clientId: reporter.client_id }),
      { reason: /no workload identity of issuer/ });
  });

  it('refuses a wrong audience, an expired token and one valid for more than a day', async () => {
    await expectRefusal(srv, async () => tokenWithAssertion(srv, await k8sToken({ aud: 'https://elsewhere.example' }),
      { clientId: agent.client_id }), { reason: /aud/ });
    // the SPIFFE issuer expects its configured audience, not the default
    const svid = await sign(spire, { iss: SPIFFE, sub: SPIFFE_ID, aud: srv.issuer, exp: now() + 300 });
    await expectRefusal(srv, () => tokenWithAssertion(srv, svid, { clientId: reporter.client_id }), { reason: /aud/ });
    const t = now();
    await expectRefusal(srv, async () => tokenWithAssertion(srv, await k8sToken({ iat: t - 7200, nbf: t - 7200, exp: t - 3600 }),
      { clientId: agent.client_id }), { reason: /expired/ });
    await expectRefusal(srv, async () => tokenWithAssertion(srv, await k8sToken({ exp: t + 2 * 86400 }),
      { clientId: agent.client_id }), { reason: /too far ahead/ });
  });

  it('refuses a platform token whose aud names another audience besides this server', async () => {
    await expectRefusal(srv, async () => tokenWithAssertion(srv, await k8sToken({ aud: ['https://vault.example', srv.issuer] }),
      { clientId: agent.client_id }), { reason: /aud names another audience/ });
  });

  it('keeps private_key_jwt working for a client that also has a workload identity', async () => {
    const a = await sign(spire, clientClaims(srv, both.client_id));
    const r = await tokenWithAssertion(srv, a, { clientId: both.client_id });
    assert.equal(r.status, 200, show(r));
    assert.equal(jwtParts(r.json.access_token).payload.app.auth, 'private_key_jwt');
  });
});

describe('workload issuers file errors', { timeout: 60_000 }, () => {
  const cases = [
    ['not JSON', '{', /workload-issuers\.json:1:/],
    ['no keys', JSON.stringify([{ issuer: K8S }]), /workload-issuers\.json: issuer 1: exactly one of jwks_file and jwks_uri/],
    ['missing jwks_file', JSON.stringify([{ issuer: K8S, jwks_file: 'nope.json' }]), /issuer 1: jwks_file .*nope\.json/],
    ['unknown member', JSON.stringify([{ issuer: K8S, jwks_uri: 'https://k/jwks', rules: [] }]), /unknown member 'rules'/],
    ['http jwks_uri', JSON.stringify([{ issuer: K8S, jwks_uri: 'http://k/jwks' }]), /jwks_uri must be an https URL/],
    ['duplicate issuer', JSON.stringify([{ issuer: K8S, jwks_uri: 'https://k/jwks' }, { issuer: K8S, jwks_uri: 'https://k/jwks' }]),
      /issuer 2: issuer listed twice/],
  ];
  for (const [name, text, pattern] of cases) {
    it(`stops mandate serve: ${name}`, async () => {
      const ctx = await prepare({ config: {} });
      try {
        const file = path.join(ctx.dir, 'workload-issuers.json');
        await writeFile(file, text);
        await writeFile(ctx.conf, `${await readFile(ctx.conf, 'utf8')}\n[workload]\nissuers = ${file}\n`);
        const init = runMandate(['--config', ctx.conf, 'init'], { cwd: ctx.dir });
        assert.equal(init.code, 0, describeRun(init));
        const r = runMandate(['--config', ctx.conf, 'serve'], { cwd: ctx.dir });
        assert.notEqual(r.code, 0, describeRun(r));
        assert.match(r.stderr, /^mandate: /m, describeRun(r));
        assert.match(r.stderr, pattern, describeRun(r));
      } finally {
        await rm(ctx.dir, { recursive: true, force: true });
      }
    });
  }
});
