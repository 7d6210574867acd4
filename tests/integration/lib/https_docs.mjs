// An https document host on 127.0.0.1 whose certificate is issued by a test
// CA made in a temporary directory: client ID metadata documents, JWK Sets,
// served the way a real host would, so that Mandate reaches them only when
// it trusts that CA ([server] outbound_ca_file).
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { makeCa } from './certs.mjs';

/**
 * httpsDocServer() -> {caFile, ca (PEM), url(path), set(path, {doc | body,
 * status, headers}), hits(path), close()}. A doc's client_id defaults to
 * the URL it is served at.
 */
export async function httpsDocServer() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mandate-docs-'));
  const ca = makeCa(dir, 'docs-ca');
  const leaf = ca.issue('docs-host', { san: 'IP:127.0.0.1,DNS:localhost', eku: 'serverAuth' });
  const routes = new Map();
  const counts = new Map();
  const sockets = new Set();
  let base;
  const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    const p = req.url.split('?')[0];
    counts.set(p, (counts.get(p) || 0) + 1);
    const r = routes.get(p);
    if (!r) { res.writeHead(404).end(); return; }
    const body = r.body ?? JSON.stringify({ client_id: `${base}${p}`, ...r.doc });
    res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...(r.headers || {}) });
    res.end(body);
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('secureConnection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${server.address().port}`;
  return {
    dir,
    caFile: ca.certFile,
    ca: ca.cert,
    url: (p) => `${base}${p}`,
    set(p, route) { routes.set(p, route); },
    hits: (p) => counts.get(p) || 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
