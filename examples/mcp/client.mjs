// An MCP client written with the official MCP TypeScript SDK: Client and
// StreamableHTTPClientTransport with an OAuthClientProvider. Pointed at an
// MCP server protected by Mandate (examples/nginx), it does what the MCP
// authorization specification asks:
//   - its first request gets 401; it reads resource_metadata from the
//     WWW-Authenticate header and fetches the RFC 9728 metadata, which names
//     Mandate as the authorization server; it reads Mandate's RFC 8414
//     metadata;
//   - it registers: with a client ID metadata document (clientMetadataUrl,
//     an https URL where the document is served) when Mandate supports them,
//     else by dynamic client registration (RFC 7591);
//   - it sends the person's browser to /authorize with PKCE (S256) and the
//     resource indicator (RFC 8707) of the MCP server, receives the code on
//     a loopback redirect URI (RFC 8252), and redeems it;
//   - it calls tools with the access token.
// Where the browser goes is the caller's business (openBrowser), so that a
// desktop application opens the system browser and a test drives one.
//
//   node client.mjs http://127.0.0.1:8000/mcp [clientMetadataUrl]
//     prints the authorization URL to open, then the answer of the echo tool.
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/**
 * A loopback redirect URI that receives the authorization response:
 * {uri, next(ms), close()}; next() resolves the parameters of the next
 * response (also of one that came before it was called).
 */
export async function loopbackRedirect() {
  const waiters = [];
  const received = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname !== '/callback') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('You may close this window.');
    const w = waiters.shift();
    if (w) w(u.searchParams);
    else received.push(u.searchParams);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    uri: `http://127.0.0.1:${server.address().port}/callback`,
    next: (ms = 60_000) => new Promise((resolve, reject) => {
      if (received.length) { resolve(received.shift()); return; }
      const t = setTimeout(() => reject(new Error('no authorization response')), ms);
      waiters.push((p) => { clearTimeout(t); resolve(p); });
    }),
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

/** The client's metadata: also the body of its client ID metadata document. */
export function clientMetadata(redirectUri, clientId) {
  return {
    ...(clientId ? { client_id: clientId } : {}),
    client_name: 'Example MCP client',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

/**
 * An OAuthClientProvider kept in memory. redirectUri: where the code comes
 * back; clientMetadataUrl: an https URL serving clientMetadata(redirectUri,
 * that URL), or undefined for dynamic registration; openBrowser(url): sends
 * the person to the authorization URL.
 */
export class MemoryProvider {
  constructor({ redirectUri, clientMetadataUrl, openBrowser }) {
    this.redirectUri = redirectUri;
    this.clientMetadataUrl = clientMetadataUrl;
    this.openBrowser = openBrowser;
    this.client = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.discovery = undefined;
  }

  get redirectUrl() { return this.redirectUri; }

  get clientMetadata() { return clientMetadata(this.redirectUri); }

  clientInformation() { return this.client; }

  saveClientInformation(info) { this.client = info; }

  tokens() { return this.saved; }

  saveTokens(tokens) { this.saved = tokens; }

  async redirectToAuthorization(url) { await this.openBrowser(url); }

  saveCodeVerifier(v) { this.verifier = v; }

  codeVerifier() { return this.verifier; }

  discoveryState() { return this.discovery; }

  saveDiscoveryState(s) { this.discovery = s; }

  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') this.client = undefined;
    if (scope === 'all' || scope === 'tokens') this.saved = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this.discovery = undefined;
  }
}

/**
 * Connects to the MCP server at serverUrl, signing in when it answers 401:
 * authorize() must resolve the code once the browser has been sent to the
 * URL (openBrowser) and the person has allowed. Resolves the connected
 * Client.
 */
export async function connect(serverUrl, provider, authorize) {
  const url = new URL(serverUrl);
  const client = new Client({ name: 'example-mcp-client', version: '1.0.0' });
  try {
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
    return client;
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await transport.finishAuth(await authorize());
  await client.connect(transport);
  return client;
}

/** The text of a tool's answer, parsed as JSON. */
export async function callTool(client, name, args) {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`tool ${name} failed: ${JSON.stringify(r.content)}`);
  return JSON.parse(r.content[0].text);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [serverUrl, clientMetadataUrl] = process.argv.slice(2);
  const cb = await loopbackRedirect();
  const provider = new MemoryProvider({
    redirectUri: cb.uri,
    clientMetadataUrl,
    openBrowser: (u) => console.log(`Open this URL in your browser: ${u}`),
  });
  const client = await connect(serverUrl, provider, async () => {
    const p = await cb.next();
    if (p.get('error')) throw new Error(`authorization refused: ${p.get('error')}`);
    return p.get('code');
  });
  console.log(await callTool(client, 'echo', { text: 'hello' }));
  await client.close();
  await cb.close();
}
