// A demo API behind nginx: it does no token checking of its own. nginx asks
// Mandate (/forward-auth) before every request and passes the caller's
// identity in X-Mandate-* headers, which this API trusts because only nginx
// can reach it (it listens on loopback). It answers with what it was told.
//
//   node api.mjs [port]      (default 3001; listens on 127.0.0.1)
import http from 'node:http';
import { pathToFileURL } from 'node:url';

const IDENTITY = ['x-mandate-subject', 'x-mandate-client', 'x-mandate-scope', 'x-mandate-act'];

export function handler(req, res) {
  const who = Object.fromEntries(IDENTITY.filter((h) => req.headers[h] !== undefined)
    .map((h) => [h.slice('x-mandate-'.length), req.headers[h]]));
  const body = JSON.stringify({ method: req.method, path: req.url, caller: who });
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(body);
}

/** Starts the API on host:port (0: any free port); resolves {port, close()}. */
export function start({ port = 3001, host = '127.0.0.1' } = {}) {
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({
      port: server.address().port,
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    }));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port } = await start({ port: Number(process.argv[2] || 3001) });
  console.log(`demo API on http://127.0.0.1:${port}`);
}
