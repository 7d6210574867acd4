// An MCP server written with the official MCP TypeScript SDK (Streamable
// HTTP transport, stateless), meant to run behind nginx with Mandate's
// /forward-auth in front (examples/nginx). It checks no token itself: nginx
// lets a request through only when Mandate allowed it, and passes who the
// caller is in X-Mandate-Subject, X-Mandate-Client, X-Mandate-Scope and
// X-Mandate-Act, which this server trusts because only nginx can reach it
// (it listens on loopback). Tools:
//   echo         returns its text and who asked;
//   delete_item  pretends to delete an item (a tool a policy may forbid).
//
//   node server.mjs [port]      (default 3002; listens on 127.0.0.1)
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/** The caller as nginx passed it on. */
function caller(headers) {
  return {
    subject: headers['x-mandate-subject'],
    client: headers['x-mandate-client'],
    scope: headers['x-mandate-scope'],
    act: headers['x-mandate-act'],
  };
}

function mcpServer(who) {
  const server = new McpServer({ name: 'mandate-example', version: '1.0.0' });
  server.registerTool('echo', {
    description: 'Returns the text it is given and who asked.',
    inputSchema: { text: z.string() },
  }, async ({ text }) => ({
    content: [{ type: 'text', text: JSON.stringify({ echo: text, caller: who }) }],
  }));
  server.registerTool('delete_item', {
    description: 'Deletes an item (here: only says so).',
    inputSchema: { id: z.string() },
  }, async ({ id }) => ({
    content: [{ type: 'text', text: JSON.stringify({ deleted: id, caller: who }) }],
  }));
  return server;
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(c);
  }
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

export async function handler(req, res) {
  if (!req.url.startsWith('/mcp')) { res.writeHead(404).end(); return; }
  if (req.method !== 'POST') { // stateless: no server-initiated stream, no session to end
    res.writeHead(405, { allow: 'POST' }).end();
    return;
  }
  try {
    const body = await readJson(req);
    const server = mcpServer(caller(req.headers));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined,
      enableJsonResponse: true });
    res.on('close', () => { transport.close(); server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  } catch (e) {
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: String(e.message) },
      id: null }));
  }
}

/** Starts the server on host:port (0: any free port); resolves {port, close()}. */
export function start({ port = 3002, host = '127.0.0.1' } = {}) {
  const server = http.createServer((req, res) => { handler(req, res); });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({
      port: server.address().port,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    }));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await start({ port: Number(process.argv[2] || 3002) });
  console.log(`MCP server on http://127.0.0.1:${port}/mcp`);
}
