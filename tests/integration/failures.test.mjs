// Every way a token request can fail, with raw HTTP: the right status, error
// code and headers, no token, and an audit event recording the refusal.
// Also: a bad configuration stops `mandate serve` with file, line and key.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createClient, describeRun, prepare, runMandate, startServer } from './lib/server.mjs';
import {
  API, REFUSAL_TYPES, agentMetadata, assertOAuthError, auditEvents, basic, createFixtureScopes,
  eventType, get, post, show, tokenBasic, tokenPost, waitAudit,
} from './lib/oauth.mjs';

describe('token endpoint refusals', { timeout: 90_000 }, () => {
  let srv;
  let cb; // client_secret_basic client
  let cp; // client_secret_post client
  let suspended;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    cb = createClient(srv, agentMetadata());
    cp = createClient(srv, agentMetadata({ token_endpoint_auth_method: 'client_secret_post' }));
    suspended = createClient(srv, agentMetadata({ client_name: 'Suspended' }));
    const r = srv.cli(['client', 'suspend', suspended.client_id]);
    assert.equal(r.code, 0, describeRun(r));
  });
  after(() => srv?.stop());

  const refusals = () => auditEvents(srv).filter((e) => REFUSAL_TYPES.has(eventType(e)));
  const issued = () => auditEvents(srv).filter((e) => eventType(e) === 'token.issued');

  /** Runs one refused request; checks it left a refusal audit event and issued nothing. */
  async function refused(send, status, error, check) {
    const before_ = refusals().length;
    const issuedBefore = issued().length;
    const r = await send();
    assertOAuthError(r, status, error);
    if (check) check(r);
    const events = await waitAudit(srv,
      (evs) => evs.filter((e) => REFUSAL_TYPES.has(eventType(e))).length > before_,
      { what: `a token.refused or client.auth_failed event for ${error}` });
    const fresh = events.filter((e) => REFUSAL_TYPES.has(eventType(e))).slice(before_);
    const text = JSON.stringify(fresh);
    assert.ok(text.includes(error), `the refusal event names ${error}: ${text}`);
    assert.ok(!text.includes(cb.client_secret) && !text.includes(cp.client_secret), 'no secret in the audit log');
    assert.equal(issued().length, issuedBefore, 'no token issued');
    return r;
  }

  const wwwBasic = (r) => assert.match(r.headers.get('www-authenticate') || '', /^Basic\b/i, show(r));
  const wwwAny = (r) => assert.ok(r.headers.get('www-authenticate'), `WWW-Authenticate on 401: ${show(r)}`);

  it('wrong secret (client_secret_basic) -> 401 invalid_client', async () => {
    await refused(() => tokenBasic(srv, { ...cb, client_secret: `${cb.client_secret}x` }), 401, 'invalid_client', wwwBasic);
  });

  it('wrong secret (client_secret_post) -> 401 invalid_client', async () => {
    await refused(() => tokenPost(srv, { ...cp, client_secret: 'wrong' }), 401, 'invalid_client', wwwAny);
  });

  it('unknown client -> 401 invalid_client, same answer as a wrong secret', async () => {
    const unknown = await refused(() => tokenBasic(srv, { client_id: 'no-such-client', client_secret: 'x' }),
      401, 'invalid_client', wwwBasic);
    const wrong = await tokenBasic(srv, { ...cb, client_secret: 'x' });
    assert.equal(unknown.json.error_description, wrong.json.error_description,
      'failed authentication does not reveal which part failed');
  });

  it('no client authentication -> 401 invalid_client', async () => {
    await refused(() => post(srv, '/token', { grant_type: 'client_credentials', client_id: cb.client_id }),
      401, 'invalid_client', wwwAny);
  });

  it('basic and post at once -> 400 invalid_request', async () => {
    await refused(() => post(srv, '/token', {
      grant_type: 'client_credentials', client_id: cb.client_id, client_secret: cb.client_secret,
    }, { headers: { authorization: basic(cb.client_id, cb.client_secret) } }), 400, 'invalid_request');
  });

  it('suspended client -> 401 invalid_client', async () => {
    await refused(() => tokenBasic(srv, suspended), 401, 'invalid_client', wwwBasic);
  });

  it('unsupported grant_type -> 400 unsupported_grant_type', async () => {
    await refused(() => tokenBasic(srv, cb, { grant_type: 'password', username: 'a', password: 'b' }),
      400, 'unsupported_grant_type');
  });

  it('missing grant_type -> 400 invalid_request', async () => {
    await refused(() => post(srv, '/token', { scope: 'read' },
      { headers: { authorization: basic(cb.client_id, cb.client_secret) } }), 400, 'invalid_request');
  });

  it('scope outside the client entitlements -> 400 invalid_scope', async () => {
    await refused(() => tokenBasic(srv, cb, { scope: 'read admin' }), 400, 'invalid_scope');
  });

  it('unknown scope -> 400 invalid_scope', async () => {
    await refused(() => tokenPost(srv, cp, { scope: 'no-such-scope' }), 400, 'invalid_scope');
  });

  it('resource not among the client resources -> 400 invalid_target', async () => {
    await refused(() => tokenBasic(srv, cb, { resource: 'https://evil.example.net' }), 400, 'invalid_target');
  });

  it('resource with a fragment -> 400 invalid_target', async () => {
    await refused(() => tokenBasic(srv, cb, { resource: `${API}#frag` }), 400, 'invalid_target');
  });

  it('duplicated grant_type -> 400 invalid_request', async () => {
    await refused(() => post(srv, '/token', 'grant_type=client_credentials&grant_type=client_credentials',
      { headers: { authorization: basic(cb.client_id, cb.client_secret) } }), 400, 'invalid_request');
  });

  it('duplicated scope -> 400 invalid_request', async () => {
    await refused(() => post(srv, '/token', 'grant_type=client_credentials&scope=read&scope=write',
      { headers: { authorization: basic(cb.client_id, cb.client_secret) } }), 400, 'invalid_request');
  });

  it('malformed form encoding -> 400 invalid_request', async () => {
    await refused(() => post(srv, '/token', 'grant_type=client_credentials&scope=%zz',
      { headers: { authorization: basic(cb.client_id, cb.client_secret) } }), 400, 'invalid_request');
  });

  it('JSON body -> 415', async () => {
    await refused(() => post(srv, '/token', JSON.stringify({ grant_type: 'client_credentials' }),
      { contentType: 'application/json', headers: { authorization: basic(cb.client_id, cb.client_secret) } }),
    415, 'invalid_request');
  });

  it('body over max_body_bytes (64 KiB) -> 413', async () => {
    const body = `grant_type=client_credentials&scope=${'r'.repeat(70 * 1024)}`;
    await refused(() => post(srv, '/token', body,
      { headers: { authorization: basic(cb.client_id, cb.client_secret) } }), 413, 'invalid_request');
  });

  it('chunked body over max_body_bytes -> 413', async () => {
    await refused(() => chunkedPost(srv, '/token', basic(cb.client_id, cb.client_secret),
      `grant_type=client_credentials&scope=${'r'.repeat(70 * 1024)}`), 413, 'invalid_request');
  });

  it('accepts a form content type with a charset parameter', async () => {
    const r = await post(srv, '/token', { grant_type: 'client_credentials' }, {
      contentType: 'application/x-www-form-urlencoded; charset=UTF-8',
      headers: { authorization: basic(cb.client_id, cb.client_secret) },
    });
    assert.equal(r.status, 200, show(r));
  });

  it('refuses a duplicated token parameter at /introspect and /revoke', async () => {
    const t = await tokenBasic(srv, cb);
    assert.equal(t.status, 200, show(t));
    for (const p of ['/introspect', '/revoke']) {
      const r = await post(srv, p, `token=${t.json.access_token}&token=x`,
        { headers: { authorization: basic(cb.client_id, cb.client_secret) } });
      assertOAuthError(r, 400, 'invalid_request');
    }
  });

  it('GET /token -> 405', async () => {
    const r = await get(srv, '/token?grant_type=client_credentials');
    assert.equal(r.status, 405, show(r));
    assert.match(r.headers.get('allow') || '', /POST/);
    assert.equal(r.json?.access_token, undefined);
  });

  it('client credentials in the query string are refused', async () => {
    const q = new URLSearchParams({ client_id: cp.client_id, client_secret: cp.client_secret });
    const r = await post(srv, `/token?${q}`, { grant_type: 'client_credentials' });
    assert.ok(r.status === 400 || r.status === 401, show(r));
    assert.equal(r.json?.access_token, undefined, 'secrets are never accepted in URLs');
  });

  it('the server still issues tokens after all that, and logged no token', async () => {
    const r = await tokenBasic(srv, cb);
    assert.equal(r.status, 200, show(r));
    const text = JSON.stringify(auditEvents(srv));
    assert.ok(!text.includes(r.json.access_token), 'tokens are never logged');
  });
});

describe('hostile input', { timeout: 60_000 }, () => {
  let srv;
  let c;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    c = createClient(srv, agentMetadata());
  });
  after(() => srv?.stop());

  const alive = async () => {
    const r = await tokenBasic(srv, c);
    assert.equal(r.status, 200, `the server still works: ${show(r)}`);
  };

  it('malformed Basic credentials -> invalid_client or invalid_request, no token', async () => {
    for (const h of ['Basic !!!not-base64!!!', `Basic ${Buffer.from('no-colon').toString('base64')}`,
      'Basic ', `Basic ${Buffer.from(`${c.client_id}:`).toString('base64')}`,
      `Basic ${Buffer.from(`:${c.client_secret}`).toString('base64')}`]) {
      const r = await post(srv, '/token', { grant_type: 'client_credentials' }, { headers: { authorization: h } });
      assert.ok([400, 401].includes(r.status), `${h}: ${show(r)}`);
      assert.ok(['invalid_client', 'invalid_request'].includes(r.json?.error), `${h}: ${show(r)}`);
    }
    await alive();
  });

  it('NUL bytes and invalid UTF-8 in parameters are refused', async () => {
    for (const body of [`grant_type=client_credentials&client_id=${c.client_id}%00x&client_secret=${c.client_secret}`,
      `grant_type=client_credentials&client_id=${c.client_id}&client_secret=${c.client_secret}&scope=read%00write`,
      `grant_type=client_credentials&client_id=${c.client_id}&client_secret=${c.client_secret}&scope=%ff%fe`]) {
      const r = await post(srv, '/token', body);
      assert.ok([400, 401].includes(r.status), `${body}: ${show(r)}`);
      assert.equal(r.json?.access_token, undefined);
    }
    await alive();
  });

  it('a huge header is refused and the server survives', async () => {
    let status;
    try {
      const r = await fetch(`${srv.url}/token`, { method: 'POST', headers: { 'x-big': 'a'.repeat(256 * 1024) },
        body: 'grant_type=client_credentials', signal: AbortSignal.timeout(10_000) });
      status = r.status;
      await r.arrayBuffer();
    } catch (e) {
      status = `connection closed (${e.cause?.code || e.message})`;
    }
    assert.ok([400, 413, 431].includes(status) || typeof status === 'string', `status ${status}`);
    await alive();
  });

  it('thousands of form fields are bounded and the server survives', async () => {
    const body = `grant_type=client_credentials&${Array.from({ length: 8000 }, (_, i) => `f${i}=1`).join('&')}`;
    const r = await post(srv, '/token', body, { headers: { authorization: basic(c.client_id, c.client_secret) } });
    assert.ok([200, 400, 413].includes(r.status), show(r));
    if (r.status !== 200) assert.equal(r.json?.error, 'invalid_request', show(r));
    await alive();
  });

  it('many requests on one keep-alive connection and in parallel', async () => {
    const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 3 === 0
      ? tokenBasic(srv, { ...c, client_secret: 'wrong' }) : tokenBasic(srv, c))));
    rs.forEach((r, i) => assert.equal(r.status, i % 3 === 0 ? 401 : 200, show(r)));
  });
});

/** POSTs body with Transfer-Encoding: chunked (no Content-Length). */
function chunkedPost(srv, pathname, authorization, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.url}${pathname}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
      timeout: 10_000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => { text += d; }).on('end', () => {
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: new Headers(res.headers), text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 4096) req.write(body.slice(i, i + 4096));
    req.end();
  });
}

describe('bad configuration', { timeout: 60_000 }, () => {
  let ctx;
  before(async () => { ctx = await prepare(); });
  after(() => ctx && rm(ctx.dir, { recursive: true, force: true }));

  async function writeConf(name, lines) {
    const file = path.join(ctx.dir, name);
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  }

  /** Asserts a failed start with one `mandate:` line naming file:line and key. */
  function assertConfigError(r, file, line, key) {
    assert.notEqual(r.code, 0, describeRun(r));
    assert.equal(r.signal, null, `exits by itself: ${describeRun(r)}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('mandate:'));
    assert.equal(lines.length, 1, `one 'mandate:' line: ${describeRun(r)}`);
    if (file) assert.ok(lines[0].includes(`${path.basename(file)}:${line}`), `names ${path.basename(file)}:${line}: ${lines[0]}`);
    assert.ok(lines[0].toLowerCase().includes(key), `names ${key}: ${lines[0]}`);
  }

  const base = () => [
    '[server]',
    `listen = 127.0.0.1:${ctx.port}`,
    `issuer = ${ctx.issuer}`,
    '[storage]',
    `database = sqlite:${ctx.dir}/mandate.db`,
    `data_dir = ${ctx.dir}`,
  ];

  it('an unknown key stops serve, naming file, line and key', async () => {
    const file = await writeConf('bad.conf', [...base(), '[tokens]', 'signing_alg = ES256', 'frobnicate = yes']);
    assertConfigError(runMandate(['--config', file, 'serve'], { cwd: ctx.dir }), file, 9, 'frobnicate');
  });

  it('a bad value stops serve, naming file, line and key', async () => {
    const file = await writeConf('badvalue.conf', [...base(), '[tokens]', 'signing_alg = HS256']);
    assertConfigError(runMandate(['--config', file, 'serve'], { cwd: ctx.dir }), file, 8, 'signing_alg');
  });

  it('a bad duration stops serve, naming file, line and key', async () => {
    const file = await writeConf('badttl.conf', [...base(), '[tokens]', 'access_token_ttl = ten minutes']);
    assertConfigError(runMandate(['--config', file, 'serve'], { cwd: ctx.dir }), file, 8, 'access_token_ttl');
  });

  it('an unknown section stops serve', async () => {
    const file = await writeConf('badsection.conf', [...base(), '[nonsense]', 'colour = blue']);
    const r = runMandate(['--config', file, 'serve'], { cwd: ctx.dir });
    assertConfigError(r, file, 7, 'nonsense'); // the line of the section header
  });

  it('a non-loopback http issuer stops serve', async () => {
    const lines = base();
    lines[2] = 'issuer = http://auth.example.com';
    const file = await writeConf('badissuer.conf', lines);
    const r = runMandate(['--config', file, 'serve'], { cwd: ctx.dir });
    assertConfigError(r, null, null, 'issuer');
  });

  it('a bad value in the environment stops serve, naming the key', async () => {
    const file = await writeConf('good.conf', base());
    const r = runMandate(['--config', file, 'serve'],
      { cwd: ctx.dir, env: { MANDATE_TOKENS_SIGNING_ALG: 'none' } });
    assertConfigError(r, null, null, 'signing_alg');
  });

  it('a missing configuration file is an error', () => {
    const r = runMandate(['--config', path.join(ctx.dir, 'absent.conf'), 'serve'], { cwd: ctx.dir });
    assert.notEqual(r.code, 0, describeRun(r));
    assert.match(r.stderr, /^mandate: .*absent\.conf/m);
  });
});
