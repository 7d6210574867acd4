// Ambiguous message framing (RFC 9112 §6.1, §6.3) is refused with 400 and
// the connection is closed, so that a proxy in front of Mandate and Mandate
// itself can never disagree on where a request ends (request smuggling).
// Raw sockets: no HTTP library sends these requests.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, startServer } from './lib/server.mjs';
import { agentMetadata, auditEvents, basic, createFixtureScopes, eventType } from './lib/oauth.mjs';
import { firstJsonBody, rawExchange } from './lib/raw_http.mjs';

const SMUGGLED = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';

describe('ambiguous request framing', { timeout: 60_000 }, () => {
  let srv;
  let client;
  before(async () => {
    srv = await startServer();
    createFixtureScopes(srv);
    client = createClient(srv, agentMetadata());
  });
  after(() => srv?.stop());

  const auth = () => basic(client.client_id, client.client_secret);
  const issuedCount = () => auditEvents(srv).filter((e) => eventType(e) === 'token.issued').length;

  /** A token request with the given framing headers and body, then a smuggled GET. */
  const tokenRequest = (framing, body, version = '1.1') => `POST /token HTTP/${version}\r\nHost: x\r\n`
    + `Authorization: ${auth()}\r\nContent-Type: application/x-www-form-urlencoded\r\n`
    + `${framing}\r\n${body}${SMUGGLED}`;

  /** One 400 invalid_request naming the framing, the connection closed, nothing else answered. */
  function assertRefused(r, what) {
    assert.deepEqual(r.responses, [400], `exactly one answer, a 400, for ${what}:\n${r.text}`);
    assert.ok(r.closed, `the server closed the connection after refusing ${what}`);
    assert.match(r.text, /\r\nconnection: close\r\n/i, `Connection: close on the refusal of ${what}`);
    const body = firstJsonBody(r.text);
    assert.equal(body?.error, 'invalid_request', r.text);
    assert.match(body.error_description, /ambiguous message framing/, r.text);
    assert.doesNotMatch(r.text, /access_token/, 'no token in the answer');
  }

  const form = 'grant_type=client_credentials&scope=read';
  const cases = [
    ['two conflicting Content-Length', `Content-Length: 5\r\nContent-Length: ${form.length}\r\n`, form],
    ['two equal Content-Length', `Content-Length: ${form.length}\r\nContent-Length: ${form.length}\r\n`, form],
    ['Content-Length with Transfer-Encoding', `Content-Length: ${form.length}\r\nTransfer-Encoding: chunked\r\n`,
      `${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n`],
    ['Transfer-Encoding twice', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n',
      `${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n`],
    ['a coding before chunked', 'Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'],
    ['chunked not the final coding', 'Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'],
    ['an unknown transfer coding', 'Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'],
    ['white space before the colon', `Content-Length : ${form.length}\r\n`, form],
  ];

  for (const [what, framing, body] of cases) {
    it(`${what} -> 400, connection closed, no token, nothing smuggled`, async () => {
      const before_ = issuedCount();
      const r = await rawExchange(srv.port, tokenRequest(framing, body));
      assertRefused(r, what);
      assert.equal(issuedCount(), before_, 'no token issued');
    });
  }

  it('Transfer-Encoding in an HTTP/1.0 request -> 400', async () => {
    const r = await rawExchange(srv.port, tokenRequest('Transfer-Encoding: chunked\r\n', '0\r\n\r\n', '1.0'));
    assertRefused(r, 'HTTP/1.0 with Transfer-Encoding');
  });

  it('repeated Content-Length on a GET -> 400 as well', async () => {
    const r = await rawExchange(srv.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd${SMUGGLED}`);
    assertRefused(r, 'a GET with two Content-Length');
  });

  // libmicrohttpd refuses these itself, before Mandate sees the request.
  for (const [what, value] of [['a list', '5, 5'], ['a sign', '+5'], ['a negative number', '-1'], ['letters', '5x']]) {
    it(`Content-Length as ${what} -> 400 and nothing smuggled`, async () => {
      const r = await rawExchange(srv.port, tokenRequest(`Content-Length: ${value}\r\n`, 'abcde'));
      assert.equal(r.responses[0], 400, r.text);
      assert.doesNotMatch(r.text, /"status":"ok"|access_token/, 'the smuggled request is not answered');
      assert.ok(r.closed, 'connection closed');
    });
  }

  it('well-framed requests still work: one Content-Length, or chunked alone', async () => {
    const plain = await rawExchange(srv.port, tokenRequest(`Content-Length: ${form.length}\r\n`, form)
      .replace(SMUGGLED, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.deepEqual(plain.responses, [200, 200], plain.text);
    assert.ok(firstJsonBody(plain.text)?.access_token, plain.text);
    const chunked = await rawExchange(srv.port, tokenRequest('Transfer-Encoding: chunked\r\nConnection: close\r\n',
      `${form.length.toString(16)}\r\n${form}\r\n0\r\n\r\n`).replace(SMUGGLED, ''));
    assert.deepEqual(chunked.responses, [200], chunked.text);
    assert.ok(firstJsonBody(chunked.text)?.access_token, chunked.text);
  });
});
