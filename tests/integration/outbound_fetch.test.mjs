// Outbound fetches (a client's jwks_uri, client ID metadata documents) against
// servers on loopback that this test controls, some of which hold requests
// without answering until the test releases them:
//   - slow URLs hold no request thread: with both worker threads' worth of
//     fetches pending, /healthz and ordinary token requests still answer, and
//     the held requests complete once the slow servers answer;
//   - concurrent fetches are capped per host and in total, and a refusal by a
//     cap is not remembered as the URL's failure;
//   - a client ID metadata document creates its client only after the
//     assertion verified, within the registration rate limit, and a source
//     address can cause only so many document fetches per minute;
//   - a document client an admin deleted is not created again (unless
//     configured), and its earlier tokens stay inactive either way.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { sleep, startServer } from './lib/server.mjs';
import { basic, createFixtureScopes, get, post, show } from './lib/oauth.mjs';
import {
  clientClaims, expectRefusal, keyPair, sign, tokenWithAssertion,
} from './lib/assertions.mjs';

/**
 * An HTTP server on host (a loopback address) whose routes answer at once
 * (set) or hold each request until release(path) (hold). held(path): requests
 * waiting now.
 */
async function gateServer(host = '127.0.0.1') {
  const routes = new Map();
  const waiting = new Map();
  const counts = new Map();
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const path = req.url.split('?')[0];
    counts.set(path, (counts.get(path) || 0) + 1);
    const r = routes.get(path);
    if (!r) { res.writeHead(404).end(); return; }
    if (r.hold) {
      if (!waiting.has(path)) waiting.set(path, []);
      waiting.get(path).push(res);
      res.on('close', () => {
        const list = waiting.get(path) || [];
        const i = list.indexOf(res);
        if (i >= 0) list.splice(i, 1);
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...(r.headers || {}) });
    res.end(JSON.stringify(r.body));
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, host, resolve));
  const base = `http://${host}:${server.address().port}`;
  return {
    url: (path) => `${base}${path}`,
    set(path, body, headers) { routes.set(path, { body, headers }); },
    hold(path) { routes.set(path, { hold: true }); },
    held: (path) => (waiting.get(path) || []).length,
    hits: (path) => counts.get(path) || 0,
    /** Answers the held requests of path (and later ones) with body. */
    release(path, body) {
      routes.set(path, { body });
      for (const res of waiting.get(path) || []) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      }
      waiting.set(path, []);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Waits (bounded) until cond() holds. */
async function until(cond, what, { tries = 200, everyMs = 25 } = {}) {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await sleep(everyMs);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A promise with a settled flag. */
function tracked(p) {
  const t = { settled: false, promise: null };
  t.promise = p.finally(() => { t.settled = true; });
  return t;
}

const FETCH_CONFIG = {
  jwks_uri_allow_http: 'true',
  jwks_uri_allow_private: 'true',
  jwks_uri_timeout: '60s', // longer than any test: only the test ends a held fetch
  jwks_uri_refetch_interval: '30s',
};

function docConfig(over = {}) {
  return {
    server: { threads: '2' },
    registration: {
      client_id_metadata_documents: 'true',
      cimd_allow_http_loopback: 'true',
      unverified_scopes: 'read',
      unverified_grant_types: 'client_credentials',
      ...over,
    },
    client_auth: { ...FETCH_CONFIG },
  };
}

function agentDoc(key, over = {}) {
  return {
    client_name: 'Document agent',
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [key.publicJwk] },
    scope: 'read',
    ...over,
  };
}

/** A client registered by the admin with private_key_jwt and jwks_uri. */
function jwksUriClient(srv, uri) {
  const r = srv.cli(['client', 'create', '--json'], { input: JSON.stringify({
    client_name: 'keys at a URL', grant_types: ['client_credentials'], scope: 'read',
    token_endpoint_auth_method: 'private_key_jwt', jwks_uri: uri }) });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).client_id;
}

/** A client with a secret (the ordinary token request). */
function secretClient(srv) {
  const r = srv.cli(['client', 'create', '--json'], { input: JSON.stringify({
    client_name: 'plain', grant_types: ['client_credentials'], scope: 'read',
    token_endpoint_auth_method: 'client_secret_basic' }) });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function assertionToken(srv, key, clientId) {
  return tokenWithAssertion(srv, await sign(key, clientClaims(srv, clientId)), { clientId });
}

/** Whether the CLI knows client id. */
function clientExists(srv, id) {
  return srv.cli(['client', 'show', id, '--json']).code === 0;
}

describe('outbound fetches do not hold request threads', { timeout: 120_000 }, () => {
  let srv;
  let gate;
  let key;

  before(async () => {
    gate = await gateServer();
    srv = await startServer({ config: docConfig() });
    createFixtureScopes(srv);
    key = await keyPair('ES256');
  });

  after(async () => {
    await srv?.stop();
    await gate?.close();
  });

  it('answers /healthz and token requests while two slow fetches are pending, then completes them', async () => {
    // two slow URLs, as many as the server has worker threads: a document and a jwks_uri
    gate.hold('/slow-doc.json');
    gate.hold('/slow-keys.json');
    const docUrl = gate.url('/slow-doc.json');
    const keysClient = jwksUriClient(srv, gate.url('/slow-keys.json'));
    const plain = secretClient(srv);
    const slowDoc = tracked(assertionToken(srv, key, docUrl));
    const slowKeys = tracked(assertionToken(srv, key, keysClient));
    await until(() => gate.held('/slow-doc.json') === 1 && gate.held('/slow-keys.json') === 1,
      'both slow fetches to reach the slow server');

    for (let i = 0; i < 5; i++) {
      const h = await get(srv, '/healthz');
      assert.equal(h.status, 200, show(h));
      const t = await post(srv, '/token', { grant_type: 'client_credentials', scope: 'read' },
        { headers: { authorization: basic(plain.client_id, plain.client_secret) } });
      assert.equal(t.status, 200, show(t));
      assert.ok(t.json.access_token);
    }
    // all of that happened while both fetches were still held
    assert.equal(slowDoc.settled, false, 'the document request is still pending');
    assert.equal(slowKeys.settled, false, 'the jwks_uri request is still pending');
    assert.equal(gate.held('/slow-doc.json'), 1);
    assert.equal(gate.held('/slow-keys.json'), 1);

    // a second request for the same slow URL joins the fetch under way
    const joined = tracked(assertionToken(srv, key, keysClient));
    const h = await get(srv, '/healthz');
    assert.equal(h.status, 200);
    assert.equal(gate.hits('/slow-keys.json'), 1, 'one fetch for both requests');

    gate.release('/slow-doc.json', { client_id: docUrl, ...agentDoc(key) });
    gate.release('/slow-keys.json', { keys: [key.publicJwk] });
    for (const [name, r] of [['document', await slowDoc.promise], ['jwks_uri', await slowKeys.promise],
      ['joined', await joined.promise]]) {
      assert.equal(r.status, 200, `${name}: ${show(r)}`);
      assert.ok(r.json.access_token, name);
    }
    assert.equal(gate.hits('/slow-keys.json'), 1);
  });
});

describe('outbound fetch caps', { timeout: 120_000 }, () => {
  let srv;
  let gates;
  let key;

  before(async () => {
    // three hosts: 127.0.0.1, 127.0.0.2, 127.0.0.3 (all loopback)
    gates = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => gateServer(h)));
    srv = await startServer({ config: {
      client_auth: { ...FETCH_CONFIG, fetch_max_per_host: '1', fetch_max_concurrent: '2' },
    } });
    createFixtureScopes(srv);
    key = await keyPair('ES256');
  });

  after(async () => {
    await srv?.stop();
    for (const g of gates || []) await g.close();
  });

  it('refuses a fetch beyond the per-host cap and beyond the total, at once', async () => {
    const [g1, g2, g3] = gates;
    for (const [g, p] of [[g1, '/a'], [g1, '/b'], [g2, '/c'], [g3, '/d']]) g.hold(p);
    const a = jwksUriClient(srv, g1.url('/a'));
    const b = jwksUriClient(srv, g1.url('/b'));
    const c = jwksUriClient(srv, g2.url('/c'));
    const d = jwksUriClient(srv, g3.url('/d'));
    const pendingA = tracked(assertionToken(srv, key, a));
    await until(() => g1.held('/a') === 1, 'the fetch of /a');
    // same host as /a: beyond fetch_max_per_host = 1
    await expectRefusal(srv, () => assertionToken(srv, key, b),
      { reason: /too many fetches in progress|fetch_max_per_host/ });
    assert.equal(g1.hits('/b'), 0, 'no connection for the refused fetch');
    const pendingC = tracked(assertionToken(srv, key, c));
    await until(() => g2.held('/c') === 1, 'the fetch of /c');
    // a third host, but two fetches are in progress: beyond fetch_max_concurrent = 2
    await expectRefusal(srv, () => assertionToken(srv, key, d),
      { reason: /too many fetches in progress|fetch_max_concurrent/ });
    assert.equal(g3.hits('/d'), 0);
    assert.equal(pendingA.settled, false);
    assert.equal(pendingC.settled, false);

    g1.release('/a', { keys: [key.publicJwk] });
    g2.release('/c', { keys: [key.publicJwk] });
    assert.equal((await pendingA.promise).status, 200);
    assert.equal((await pendingC.promise).status, 200);
    // a refusal by a cap is the server's load, not the URL's failure: tried again at once
    g1.set('/b', { keys: [key.publicJwk] });
    g3.set('/d', { keys: [key.publicJwk] });
    const rb = await assertionToken(srv, key, b);
    assert.equal(rb.status, 200, show(rb));
    const rd = await assertionToken(srv, key, d);
    assert.equal(rd.status, 200, show(rd));
  });
});

describe('client ID metadata documents create clients only after authentication', { timeout: 120_000 }, () => {
  let srv;
  let web;
  let key;
  let wrong;

  before(async () => {
    web = await gateServer();
    srv = await startServer({ config: docConfig() });
    createFixtureScopes(srv);
    key = await keyPair('ES256');
    wrong = await keyPair('ES256');
  });

  after(async () => {
    await srv?.stop();
    await web?.close();
  });

  it('creates no client row when the assertion does not verify, then creates it when it does', async () => {
    web.set('/a.json', { client_id: web.url('/a.json'), ...agentDoc(key) });
    const url = web.url('/a.json');
    await expectRefusal(srv, () => assertionToken(srv, wrong, url), { reason: /signature|kid|key/ });
    assert.equal(clientExists(srv, url), false, 'no client after a failed assertion');
    // an expired assertion, and one for another audience: still nothing
    const expired = await sign(key, clientClaims(srv, url, { iat: 1000, exp: 1060 }));
    await expectRefusal(srv, () => tokenWithAssertion(srv, expired, { clientId: url }));
    assert.equal(clientExists(srv, url), false);
    const r = await assertionToken(srv, key, url);
    assert.equal(r.status, 200, show(r));
    assert.equal(clientExists(srv, url), true);
    assert.equal(web.hits('/a.json'), 1, 'the document was fetched once for all of it');
  });

});

describe('document clients and the registration rate limit', { timeout: 120_000 }, () => {
  let srv;
  let web;
  let key;

  before(async () => {
    web = await gateServer();
    srv = await startServer({ config: docConfig({ rate_per_source: '1' }) });
    createFixtureScopes(srv);
    key = await keyPair('ES256');
  });

  after(async () => {
    await srv?.stop();
    await web?.close();
  });

  it('counts a new document client against the registration rate limit of its source', async () => {
    // one registration per source per minute: of three new documents in a row at most two
    // (one per window, should a minute end between them) can create their client
    let refused = null;
    let created = 0;
    for (let i = 0; i < 3 && !refused; i++) {
      const url = web.url(`/rate-${i}.json`);
      web.set(`/rate-${i}.json`, { client_id: url, ...agentDoc(key) });
      const r = await assertionToken(srv, key, url);
      if (r.status === 200) { created++; continue; }
      assert.equal(r.status, 401, show(r));
      refused = url;
    }
    assert.ok(refused, `a document client beyond the limit was refused (created ${created})`);
    assert.ok(created >= 1 && created <= 2);
    assert.equal(clientExists(srv, refused), false, 'no client beyond the registration rate limit');
    // an existing document client is no new registration: it keeps working
    const r = await assertionToken(srv, key, web.url('/rate-0.json'));
    assert.equal(r.status, 200, show(r));
  });
});

describe('document fetches per source address', { timeout: 120_000 }, () => {
  let srv;
  let web;
  let key;

  before(async () => {
    web = await gateServer();
    srv = await startServer({ config: docConfig({ cimd_fetches_per_source: '3' }) });
    createFixtureScopes(srv);
    key = await keyPair('ES256');
  });

  after(async () => {
    await srv?.stop();
    await web?.close();
  });

  it('refuses a document fetch beyond cimd_fetches_per_source without fetching', async () => {
    // documents that do not exist (404): each request would fetch one
    const start = Date.now();
    let refusedAt = -1;
    for (let i = 0; i < 8 && refusedAt < 0; i++) {
      const path = `/missing-${i}.json`;
      const ev = await expectRefusal(srv, () => assertionToken(srv, key, web.url(path)));
      const reason = ev.body?.reason ?? ev.reason;
      if (/cimd_fetches_per_source/.test(reason)) {
        refusedAt = i;
        assert.equal(web.hits(path), 0, 'a refused resolution fetches nothing');
      }
    }
    // 3 fetches per minute: the fourth is refused (or, if a minute boundary fell
    // inside the loop, at most three more later)
    assert.ok(refusedAt >= 3 && refusedAt <= 6, `refused at ${refusedAt} (${Date.now() - start} ms)`);
    // a cached document needs no fetch: not limited
  });
});

describe('a document client an admin deleted', { timeout: 120_000 }, () => {
  let web;
  let key;

  before(async () => {
    web = await gateServer();
    key = await keyPair('ES256');
  });

  after(async () => {
    await web?.close();
  });

  async function introspect(srv, clientId, token) {
    const assertion = await sign(key, clientClaims(srv, clientId, { aud: srv.issuer }));
    return post(srv, '/introspect', { token, client_id: clientId,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion });
  }

  it('is not created again from its document by default', async () => {
    // no caching: every request fetches the document anew
    const srv = await startServer({ config: docConfig({ cimd_cache_min: '0s', cimd_cache_max: '0s' }) });
    try {
      createFixtureScopes(srv);
      const url = web.url('/deleted.json');
      web.set('/deleted.json', { client_id: url, ...agentDoc(key) }, { 'cache-control': 'no-store' });
      const first = await assertionToken(srv, key, url);
      assert.equal(first.status, 200, show(first));
      const del = srv.cli(['client', 'delete', url]);
      assert.equal(del.code, 0, del.stderr);
      await expectRefusal(srv, () => assertionToken(srv, key, url),
        { reason: /deleted by an administrator/ });
      assert.equal(clientExists(srv, url), false, 'not re-created');
    } finally {
      await srv.stop();
    }
  });

  it('with cimd_recreate_deleted, is created again but its earlier tokens stay inactive', async () => {
    const srv = await startServer({ config: docConfig({ cimd_recreate_deleted: 'true' }) });
    try {
      createFixtureScopes(srv);
      const url = web.url('/recreated.json');
      web.set('/recreated.json', { client_id: url, ...agentDoc(key) });
      const first = await assertionToken(srv, key, url);
      assert.equal(first.status, 200, show(first));
      const before = await introspect(srv, url, first.json.access_token);
      assert.equal(before.json.active, true, show(before));
      const del = srv.cli(['client', 'delete', url]);
      assert.equal(del.code, 0, del.stderr);
      const second = await assertionToken(srv, key, url);
      assert.equal(second.status, 200, show(second));
      assert.equal(clientExists(srv, url), true);
      const old = await introspect(srv, url, first.json.access_token);
      assert.equal(old.status, 200, show(old));
      assert.equal(old.json.active, false, 'a token of the deleted client stays inactive');
      const fresh = await introspect(srv, url, second.json.access_token);
      assert.equal(fresh.json.active, true, show(fresh));
    } finally {
      await srv.stop();
    }
  });
});
