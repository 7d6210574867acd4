// Signing key rotation: `keys rotate` publishes the new key at once, the server
// signs with it only after [keys] key_activation_delay, and the old public
// key stays published; verifiers with a cached JWKS keep working.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import { createClient, describeRun, sleep, startServer } from './lib/server.mjs';
import { agentMetadata, createFixtureScopes, get, show, tokenBasic } from './lib/oauth.mjs';

const DELAY_MS = 2000;

describe('signing key rotation', { timeout: 60_000 }, () => {
  let srv;
  let client;
  before(async () => {
    srv = await startServer({ config: { keys: { key_activation_delay: '2s' } } });
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata());
  });
  after(() => srv?.stop());

  const kids = async () => {
    const r = await get(srv, '/jwks');
    assert.equal(r.status, 200, show(r));
    return r.json.keys.map((k) => k.kid);
  };
  const token = async () => {
    const r = await tokenBasic(srv, client);
    assert.equal(r.status, 200, show(r));
    return { token: r.json.access_token, kid: jose.decodeProtectedHeader(r.json.access_token).kid, at: Date.now() };
  };
  const listKeys = () => {
    const r = srv.cli(['keys', 'list', '--json']);
    assert.equal(r.code, 0, describeRun(r));
    const list = r.json();
    assert.ok(Array.isArray(list), `keys list --json prints an array: ${r.stdout}`);
    return list;
  };

  it('publishes at once, signs after the delay, keeps the old key', async () => {
    const jwksUrl = new URL(`${srv.issuer}/jwks`);
    const verifyOpts = { issuer: srv.issuer, typ: 'at+jwt' };
    const kids0 = await kids();
    const t0 = await token();
    assert.ok(kids0.includes(t0.kid), `token kid ${t0.kid} is in the JWKS ${kids0}`);
    assert.ok(listKeys().some((k) => k.kid === t0.kid), 'keys list shows the signing key');

    // A verifier that fetched the JWKS before the rotation.
    const early = jose.createRemoteJWKSet(jwksUrl, { cooldownDuration: 500 });
    await jose.jwtVerify(t0.token, early, verifyOpts);

    const tStart = Date.now();
    const rot = srv.cli(['keys', 'rotate', '--json']);
    assert.equal(rot.code, 0, describeRun(rot));

    // The new key is published at once (allow the server one second to notice).
    let kid2;
    for (const deadline = Date.now() + 1000; !kid2;) {
      kid2 = (await kids()).find((k) => !kids0.includes(k));
      if (!kid2 && Date.now() > deadline) assert.fail(`no new kid in /jwks 1 s after keys rotate: ${await kids()}`);
      if (!kid2) await sleep(50);
    }
    assert.ok((await kids()).includes(t0.kid), 'the old key stays published');
    const printed = rot.json();
    if (printed && typeof printed === 'object' && 'kid' in printed) assert.equal(printed.kid, kid2);

    // A verifier that fetched the JWKS after the rotation needs no refetch later.
    let fetches = 0;
    const late = jose.createRemoteJWKSet(jwksUrl, {
      [jose.customFetch]: (...args) => { fetches++; return fetch(...args); },
    });
    await jose.jwtVerify(t0.token, late, verifyOpts);
    assert.equal(fetches, 1);

    // Until the delay has passed, tokens keep the old kid; then they use the new one.
    let first2;
    const seen = [];
    while (!first2) {
      const t = await token();
      seen.push(`${t.at - tStart}ms:${t.kid}`);
      if (t.kid === kid2) first2 = t;
      else assert.equal(t.kid, t0.kid, `signed with the old key until the new one is active: ${seen}`);
      if (!first2 && Date.now() > tStart + DELAY_MS + 3000) assert.fail(`new key never used: ${seen}`);
      if (!first2) await sleep(100);
    }
    // Times are kept in whole seconds: allow one second of rounding.
    assert.ok(first2.at >= tStart + DELAY_MS - 1000, `new key used too early: ${seen}`);
    for (let i = 0; i < 3; i++) assert.equal((await token()).kid, kid2, 'and from then on');

    await jose.jwtVerify(first2.token, early, verifyOpts); // refetches on the unknown kid
    await jose.jwtVerify(first2.token, late, verifyOpts);
    assert.equal(fetches, 1, 'the new key was in the JWKS before it signed anything');

    const kidsAfter = await kids();
    assert.ok(kidsAfter.includes(t0.kid) && kidsAfter.includes(kid2), `both keys published: ${kidsAfter}`);
    await jose.jwtVerify(t0.token, jose.createLocalJWKSet((await get(srv, '/jwks')).json), verifyOpts);
    const listed = listKeys().map((k) => k.kid);
    assert.ok(listed.includes(t0.kid) && listed.includes(kid2), `keys list shows both: ${listed}`);
  });
});
