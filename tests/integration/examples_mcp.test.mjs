// examples/nginx and examples/mcp, run as written, end to end through
// Debian's nginx: a demo API and an MCP server (the official MCP TypeScript
// SDK) behind nginx's auth_request to Mandate's /forward-auth. The SDK's
// client (examples/mcp/client.mjs) gets 401, finds the RFC 9728 metadata
// from the WWW-Authenticate header at the MCP server's own origin, then
// Mandate (RFC 8414); registers with a client ID metadata document served
// over https by a host of a test CA ([server] outbound_ca_file), and
// separately by dynamic registration; signs a person in through a real
// browser with PKCE and the resource indicator; calls tools through nginx,
// which passes the X-Mandate-* identity to the server. Then the proxy
// refuses: a suspended client's token, an expired token, a tool call a
// policy forbids, a DPoP-bound token without its proof, and a
// certificate-bound token without its certificate (nginx terminating TLS
// and forwarding the client certificate as X-Client-Cert).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as oauth from 'oauth4webapi';

import { FAST_ARGON2, PASSWORD } from './lib/authz.mjs';
import { launchBrowser, submitLogin } from './lib/browser.mjs';
import { makeCa, publicJwk, request, selfSigned, x5tS256 } from './lib/certs.mjs';
import { httpsDocServer } from './lib/https_docs.mjs';
import { startNginx } from './lib/nginx.mjs';
import { createScope, createClient, describeRun, freePort, sleep, startServer } from './lib/server.mjs';
import { discover, insecure, jwtParts } from './lib/oauth.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLES = path.resolve(here, '../../examples');
// long enough for the steps before the expiry test on a loaded machine
const TOKEN_TTL_S = 20;

/**
 * A copy of examples/ in a temporary directory with the test's npm packages
 * linked beside it, as a reader who ran `npm install` there has it.
 */
function examplesCopy() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mandate-examples-'));
  cpSync(EXAMPLES, path.join(dir, 'examples'), { recursive: true,
    filter: (src) => path.basename(src) !== 'node_modules' });
  symlinkSync(path.resolve(here, 'node_modules'), path.join(dir, 'examples', 'node_modules'), 'dir');
  return { dir, at: (p) => path.join(dir, 'examples', p) };
}

/** examples/nginx/nginx.conf with its placeholders filled. */
function siteConfig(ex, v) {
  let text = readFileSync(ex.at('nginx/nginx.conf'), 'utf8');
  for (const [k, val] of Object.entries(v)) text = text.replaceAll(`@${k}@`, val);
  assert.doesNotMatch(text, /@[A-Z_]+@/, 'every placeholder filled');
  return text;
}

/** A JSON-RPC tools/call straight through nginx with a given Authorization. */
function rawToolCall(url, authorization, extra = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      ...(authorization ? { authorization } : {}), ...extra },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'raw' } } }),
  });
}

/** Repeats send() until check(r) holds (at most n times, pause ms apart). */
async function until(send, check, what, { n = 50, pause = 200 } = {}) {
  let r;
  for (let i = 0; i < n; i++) {
    r = await send();
    if (await check(r)) return r;
    await sleep(pause);
  }
  assert.fail(`${what}: last status ${r?.status}`);
}

describe('the guide shows the nginx configuration that runs', () => {
  it('docs/guides/protecting-apis.md holds each file of examples/nginx as it is', () => {
    const guide = readFileSync(path.resolve(here, '../../docs/guides/protecting-apis.md'), 'utf8');
    for (const f of ['nginx.conf', 'forward-auth.conf', 'protect.conf']) {
      const text = readFileSync(path.join(EXAMPLES, 'nginx', f), 'utf8');
      assert.ok(guide.includes(`\n${text}\`\`\``), `the guide shows examples/nginx/${f} verbatim`);
    }
  });
});

describe('examples: nginx + MCP server and client, protected by Mandate', { timeout: 240_000 }, () => {
  let ex;
  let tmp;
  let docs;
  let srv;
  let nginx;
  let api;
  let mcp;
  let client;
  let browser;
  const origin = {};
  const res = {};

  before(async () => {
    ex = examplesCopy();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'mandate-e2e-'));
    docs = await httpsDocServer();
    const ca = makeCa(tmp, 'proxy-ca');
    const proxyCert = ca.issue('proxy', { san: 'IP:127.0.0.1', eku: 'serverAuth' });
    const [plainPort, tlsPort] = [await freePort(), await freePort()];
    origin.plain = `http://127.0.0.1:${plainPort}`;
    origin.tls = `https://127.0.0.1:${tlsPort}`;
    res.mcp = `${origin.plain}/mcp`;
    res.api = `${origin.plain}/api`;
    res.tlsApi = `${origin.tls}/api`;
    const resources = path.join(tmp, 'resources.json');
    writeFileSync(resources, JSON.stringify([
      { resource: res.mcp, resource_name: 'Example MCP server', match: `${origin.plain}/mcp`,
        scopes: { '*': ['read'] } },
      { resource: res.api, resource_name: 'Demo API', match: `${origin.plain}/api`,
        scopes: { GET: ['read'], '*': ['write'] } },
      { resource: res.tlsApi, resource_name: 'Demo API over mutual TLS', match: `${origin.tls}/api`,
        scopes: { '*': ['read'] } },
    ]));
    srv = await startServer({
      config: {
        server: { trusted_proxies: '127.0.0.1/32', outbound_ca_file: docs.caFile },
        users: FAST_ARGON2,
        tokens: { access_token_ttl: `${TOKEN_TTL_S}s` },
        forward_auth: { resources },
        pdp: { mode: 'embedded' },
        registration: { open: 'true', rate_per_source: 1000, client_id_metadata_documents: 'true' },
        client_auth: { jwks_uri_allow_private: 'true' },
        web: { login_max_failures: 100, login_max_failures_per_source: 1000 },
      },
    });
    createScope(srv, 'read', { description: 'Read your items' });
    createScope(srv, 'write', { description: 'Change your items', sensitivity: 'consent' });
    const u = srv.cli(['user', 'create', 'alice', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(u.code, 0, describeRun(u));

    const apiMod = await import(pathToFileURL(ex.at('nginx/api.mjs')).href);
    const mcpMod = await import(pathToFileURL(ex.at('mcp/server.mjs')).href);
    client = await import(pathToFileURL(ex.at('mcp/client.mjs')).href);
    api = await apiMod.start({ port: 0 });
    mcp = await mcpMod.start({ port: 0 });
    nginx = await startNginx({
      ports: [plainPort, tlsPort],
      site: () => siteConfig(ex, {
        MANDATE: `127.0.0.1:${srv.port}`, API: `127.0.0.1:${api.port}`, MCP: `127.0.0.1:${mcp.port}`,
        LISTEN: `127.0.0.1:${plainPort}`, TLS_LISTEN: `127.0.0.1:${tlsPort}`,
        TLS_CERT: proxyCert.certFile, TLS_KEY: proxyCert.keyFile, DIR: ex.at('nginx'),
      }),
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await mcp?.close();
    await api?.close();
    await srv?.stop();
    await docs?.close();
    if (ex) rmSync(ex.dir, { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Signs alice in and allows, in the browser, at the URL the client opened. */
  function personAt(seen) {
    return async (url) => {
      seen.push(url);
      const { page } = browser;
      await page.goto(url.href ?? String(url));
      if (await page.locator('input[autocomplete="username"]').count()) {
        await submitLogin(page, 'alice', PASSWORD);
      }
      await page.waitForURL((u) => u.pathname === '/consent', { timeout: 10_000 }).catch(async (e) => {
        throw new Error(`no consent page: ${page.url()}: ${(await page.locator('body').innerText()).slice(0, 500)}`,
          { cause: e });
      });
      await page.locator('button[name="decision"][value="allow"]').click();
    };
  }

  /** The SDK client through nginx, signing in when asked: {mcpClient, provider, authUrls}. */
  async function signInWith(clientMetadataUrl, cb) {
    const authUrls = [];
    const provider = new client.MemoryProvider({ redirectUri: cb.uri, clientMetadataUrl,
      openBrowser: personAt(authUrls) });
    const mcpClient = await client.connect(res.mcp, provider, async () => {
      const p = await cb.next(30_000);
      assert.equal(p.get('error'), null, `authorization refused: ${p}`);
      return p.get('code');
    });
    return { mcpClient, provider, authUrls };
  }

  it('an unauthenticated call gets 401 whose resource_metadata leads to Mandate', async () => {
    const r = await rawToolCall(res.mcp);
    assert.equal(r.status, 401);
    const challenge = r.headers.get('www-authenticate');
    assert.match(challenge ?? '', /^Bearer /, 'nginx passes on Mandate\'s challenge');
    const meta = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    assert.equal(meta, `${origin.plain}/.well-known/oauth-protected-resource/mcp`);
    const doc = await (await fetch(meta)).json();
    assert.equal(doc.resource, res.mcp);
    assert.deepEqual(doc.authorization_servers, [srv.issuer]);
    assert.equal(doc.resource_name, 'Example MCP server');
    const api401 = await fetch(`${res.api}/items`);
    assert.equal(api401.status, 401);
  });

  let dcr;
  it('the SDK client registers dynamically, signs alice in with PKCE and resource, calls a tool', async () => {
    const cb = await client.loopbackRedirect();
    try {
      dcr = await signInWith(undefined, cb);
      const auth = new URL(dcr.authUrls[0]);
      assert.equal(auth.origin, srv.url);
      assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
      assert.ok(auth.searchParams.get('code_challenge'));
      assert.equal(auth.searchParams.get('resource'), res.mcp);
      const found = dcr.provider.discoveryState();
      assert.equal(new URL(found.authorizationServerUrl).href, new URL(srv.issuer).href,
        'the authorization server named by the RFC 9728 metadata');
      assert.equal(found.resourceMetadata.resource, res.mcp);
      assert.equal(found.authorizationServerMetadata.issuer, srv.issuer, 'its RFC 8414 metadata');
      const clientId = dcr.provider.clientInformation().client_id;
      assert.doesNotMatch(clientId, /^https:/, 'a registered client_id');
      const out = await client.callTool(dcr.mcpClient, 'echo', { text: 'hello' });
      assert.equal(out.echo, 'hello');
      assert.equal(out.caller.client, clientId, 'X-Mandate-Client from nginx');
      assert.ok(out.caller.subject, 'X-Mandate-Subject from nginx');
      assert.match(out.caller.scope, /\bread\b/);
      const at = jwtParts(dcr.provider.tokens().access_token).payload;
      assert.equal(at.aud, res.mcp);
      assert.equal(out.caller.subject, at.sub);
    } finally {
      await cb.close();
    }
  });

  let cimd;
  let cimdUrl;
  it('the SDK client uses a client ID metadata document over https (test CA), calls a tool', async () => {
    const cb = await client.loopbackRedirect();
    try {
      cimdUrl = docs.url('/mcp-client.json');
      docs.set('/mcp-client.json', { body: JSON.stringify(client.clientMetadata(cb.uri, cimdUrl)) });
      cimd = await signInWith(cimdUrl, cb);
      assert.equal(cimd.provider.clientInformation().client_id, cimdUrl);
      const auth = new URL(cimd.authUrls[0]);
      assert.equal(auth.searchParams.get('client_id'), cimdUrl);
      assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
      assert.equal(auth.searchParams.get('resource'), res.mcp);
      assert.ok(docs.hits('/mcp-client.json') >= 1, 'Mandate fetched the document over https');
      const out = await client.callTool(cimd.mcpClient, 'delete_item', { id: 'item-1' });
      assert.equal(out.deleted, 'item-1');
      assert.equal(out.caller.client, cimdUrl);
    } finally {
      await cb.close();
    }
  });

  it('a tool call a policy forbids is refused at the proxy (403), allowed again once removed', async () => {
    const token = `Bearer ${cimd.provider.tokens().access_token}`;
    // /forward-auth asks: action = the method, resource = Path::"<path>", context.client = the client
    const policy = `forbid (principal, action == Action::"POST", resource == Path::"/mcp")
when { context.client == Client::"${cimdUrl}" };`;
    let r = srv.cli(['policy', 'add', 'no-mcp-calls'], { input: policy });
    assert.equal(r.code, 0, describeRun(r));
    await until(() => rawToolCall(res.mcp, token), (x) => x.status === 403, 'forbidden by the policy');
    await assert.rejects(client.callTool(cimd.mcpClient, 'echo', { text: 'no' }));
    r = srv.cli(['policy', 'remove', 'no-mcp-calls']);
    assert.equal(r.code, 0, describeRun(r));
    await until(() => rawToolCall(res.mcp, token), (x) => x.status === 200 || x.status === 401,
      'allowed again (or expired meanwhile)');
  });

  it('a suspended client\'s token is refused at the proxy', async () => {
    const clientId = dcr.provider.clientInformation().client_id;
    const r = srv.cli(['client', 'suspend', clientId]);
    assert.equal(r.code, 0, describeRun(r));
    const refused = await until(() => rawToolCall(res.mcp, `Bearer ${dcr.provider.tokens().access_token}`),
      (x) => x.status === 401, 'refused once suspended');
    assert.match(refused.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  it('an expired token is refused at the proxy', async () => {
    const token = cimd.provider.tokens().access_token;
    const { exp } = jwtParts(token).payload;
    const refused = await until(() => rawToolCall(res.mcp, `Bearer ${token}`), (x) => x.status === 401,
      'refused after expiry', { n: (TOKEN_TTL_S + 10) * 5, pause: 200 });
    assert.ok(Date.now() / 1000 >= exp - 1, 'refused because it expired');
    assert.match(refused.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  it('a DPoP-bound token is accepted with its proof and refused without it', async () => {
    const c = createClient(srv, { client_name: 'DPoP agent', owner: 'alice', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'read write', resources: [res.api] });
    const as = await discover(srv);
    const dpop = oauth.DPoP(c, await oauth.generateKeyPair('ES256'));
    const grant = () => oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretBasic(c.client_secret),
      { scope: 'read', resource: res.api }, { DPoP: dpop, ...insecure });
    let tokens;
    try {
      tokens = await oauth.processClientCredentialsResponse(as, c, await grant());
    } catch (e) {
      if (!oauth.isDPoPNonceError(e)) throw e;
      tokens = await oauth.processClientCredentialsResponse(as, c, await grant());
    }
    assert.equal(tokens.token_type.toLowerCase(), 'dpop');
    assert.ok(jwtParts(tokens.access_token).payload.cnf?.jkt);
    const url = `${res.api}/items`;
    const call = () => oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(url), new Headers(),
      null, { DPoP: dpop, ...insecure });
    let ok;
    try {
      ok = await call();
    } catch (e) {
      if (!oauth.isDPoPNonceError(e)) throw e;
      ok = await call();
    }
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).caller.client, c.client_id);
    const noProof = await fetch(url, { headers: { authorization: `DPoP ${tokens.access_token}` } });
    assert.equal(noProof.status, 401);
    assert.match(noProof.headers.get('www-authenticate') ?? '', /^DPoP /);
    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(asBearer.status, 401);
  });

  it('a certificate-bound token is accepted with its certificate and refused without it', async () => {
    const cert = selfSigned(tmp, 'agent-cert');
    const c = createClient(srv, { client_name: 'mTLS agent', owner: 'alice', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'self_signed_tls_client_auth', scope: 'read',
      jwks: { keys: [publicJwk(cert.cert, 'agent-1')] }, tls_client_certificate_bound_access_tokens: true,
      resources: [res.tlsApi] });
    const proxyCa = readFileSync(path.join(tmp, 'proxy-ca.pem'), 'utf8');
    const tls = { ca: proxyCa, cert: cert.cert, key: cert.key };
    const t = await request(`${origin.tls}/token`, { method: 'POST', ...tls,
      body: { grant_type: 'client_credentials', client_id: c.client_id, scope: 'read', resource: res.tlsApi } });
    assert.equal(t.status, 200, `${t.text}\n${nginx.logs().slice(-1500)}`);
    const token = t.json.access_token;
    assert.equal(jwtParts(token).payload.cnf?.['x5t#S256'], x5tS256(cert.cert));
    const url = `${res.tlsApi}/items`;
    const ok = await request(url, { ...tls, headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.caller.client, c.client_id);
    const noCert = await request(url, { ca: proxyCa, headers: { authorization: `Bearer ${token}` } });
    assert.equal(noCert.status, 401);
    const other = selfSigned(tmp, 'other-cert');
    const wrongCert = await request(url, { ca: proxyCa, cert: other.cert, key: other.key,
      headers: { authorization: `Bearer ${token}` } });
    assert.equal(wrongCert.status, 401);
    // a client's own X-Client-Cert header is no certificate: nginx drops it
    const forged = await request(url, { ca: proxyCa,
      headers: { authorization: `Bearer ${token}`, 'x-client-cert': encodeURIComponent(cert.cert) } });
    assert.equal(forged.status, 401);
  });

  it('identity headers sent by a client never reach the upstream', async () => {
    const forged = { 'x-mandate-subject': 'admin', 'x-mandate-client': 'admin-console',
      'x-mandate-scope': 'mandate:admin', 'x-mandate-act': 'admin' };
    const r = await fetch(`${res.api}/items`, { headers: forged });
    assert.equal(r.status, 401, 'no token: refused before the upstream');
    const c = createClient(srv, { client_name: 'Plain agent', owner: 'alice', grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_basic', scope: 'read', resources: [res.api] });
    const t = await fetch(`${srv.url}/token`, { method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'read', resource: res.api }) });
    assert.equal(t.status, 200);
    const { access_token: token } = await t.json();
    const ok = await fetch(`${res.api}/items`, { headers: { ...forged, authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    const { caller } = await ok.json();
    assert.equal(caller.client, c.client_id, 'Mandate\'s X-Mandate-Client, not the client\'s');
    assert.equal(caller.subject, jwtParts(token).payload.sub);
    assert.equal(caller.scope, 'read');
    assert.equal(caller.act, undefined, 'no delegation: the forged X-Mandate-Act is dropped');
  });
});
