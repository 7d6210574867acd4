// Many requests on one keep-alive connection: each answer is its own
// request's, whatever the request before it on the same connection (and the
// same server thread) carried: body, parameters, failure. Each has its own
// request id and its own access line with the same fields as ever.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createClient, startServer } from './lib/server.mjs';
import { API, agentMetadata, basic, createFixtureScopes, jwtParts } from './lib/oauth.mjs';
import { parseResponses as responses, rawExchange } from './lib/raw_http.mjs';

const logLines = (srv) => srv.logs.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

describe('requests after one another on a connection', { timeout: 60_000 }, () => {
  let srv;
  let client;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata());
  });
  after(() => srv?.stop());

  it('answers each from its own request: a long form, a short one, a refused one, an empty body', async () => {
    const post = (headers, body) => `POST /token HTTP/1.1\r\nHost: x\r\n${headers}`
      + `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const auth = `Authorization: ${basic(client.client_id, client.client_secret)}\r\n`;
    const long = new URLSearchParams({ grant_type: 'client_credentials', scope: 'read', resource: API,
      padding_that_is_ignored: 'x'.repeat(2000) });
    // the refused one sends the secret in the body and in Basic: two methods at once
    const both = new URLSearchParams({ grant_type: 'client_credentials', client_secret: client.client_secret });
    const data = post(auth, long.toString())
      + post(auth, 'grant_type=client_credentials&scope=write')
      + post(auth, both.toString())
      + post(auth, '')
      + post(`${auth}Connection: close\r\n`, 'grant_type=client_credentials');
    const r = await rawExchange(srv.port, data, { waitMs: 8000 });
    const answers = responses(r.text);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 400, 400, 200], r.text);
    const claims = (a) => jwtParts(JSON.parse(a.body).access_token).payload;
    assert.equal(claims(answers[0]).scope, 'read');
    assert.equal(claims(answers[0]).aud, API);
    assert.equal(claims(answers[1]).scope, 'write', 'nothing of the long form before it');
    assert.equal(JSON.parse(answers[2].body).error, 'invalid_request');
    assert.equal(JSON.parse(answers[3].body).error, 'invalid_request', 'an empty body is empty');
    assert.equal(scopeOf(claims(answers[4])), 'read write', 'the default scope: no parameter carried over');
    const ids = answers.map((a) => a.headers['x-request-id']);
    assert.equal(new Set(ids).size, ids.length, `distinct request ids: ${ids}`);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{8}[0-9a-f]{6}$/);
    // each request's access line, with its own status and the same fields in the same order
    const deadline = Date.now() + 10_000;
    let lines;
    for (;;) {
      lines = ids.map((id) => logLines(srv).find((l) => l.type === 'access' && l.request_id === id));
      if (lines.every(Boolean) || Date.now() > deadline) break;
      await sleep(20);
    }
    assert.ok(lines.every(Boolean), `an access line per request:\n${srv.logs.slice(-4000)}`);
    assert.deepEqual(lines.map((l) => l.status), [200, 200, 400, 400, 200]);
    for (const l of lines) {
      assert.deepEqual(Object.keys(l).slice(0, 9),
        ['time', 'level', 'type', 'request_id', 'ip', 'method', 'path', 'status', 'ms']);
      assert.equal(l.ip, '127.0.0.1');
      assert.equal(l.method, 'POST');
      assert.equal(l.path, '/token');
      assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(typeof l.ms, 'number');
      assert.ok(!('peer' in l), 'no peer when the client connects directly');
    }
    assert.equal(lines[0].client_id, client.client_id);
  });
});

function scopeOf(c) { return c.scope.split(' ').sort().join(' '); }
