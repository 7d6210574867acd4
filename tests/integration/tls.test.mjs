// HTTPS when [server] tls_cert and tls_key are set: the listener speaks TLS
// with the configured certificate, the issuer is https, and the token
// endpoint works over it. Certificates are made here with openssl.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { basic } from './lib/oauth.mjs';
import { describeRun, freePort, prepare, renderIni, runMandate, sleep } from './lib/server.mjs';
import { rm, writeFile } from 'node:fs/promises';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and a server certificate for 127.0.0.1 signed by it. */
function makeCerts(dir) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Mandate test CA'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext'], dir);
  return {
    ca: readFileSync(path.join(dir, 'ca.pem')),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server.key'),
  };
}

function request(url, { method = 'GET', headers = {}, body, ca } = {}) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, ca, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

describe('HTTPS listener', () => {
  let ctx; let proc; let certs; let client; let url;
  const exited = { done: null };

  before(async () => {
    const port = await freePort();
    ctx = await prepare({ port });
    certs = makeCerts(ctx.dir);
    url = `https://127.0.0.1:${port}`;
    await writeFile(ctx.conf, renderIni({
      server: { listen: `127.0.0.1:${port}`, issuer: url, tls_cert: certs.cert, tls_key: certs.key },
      storage: { database: `sqlite:${ctx.dir}/mandate.db`, data_dir: ctx.dir },
    }));
    const cli = (args, input) => runMandate(['--config', ctx.conf, ...args], { cwd: ctx.dir, input });
    for (const r of [cli(['init']), cli(['scope', 'create', 'read'])]) {
      assert.equal(r.code, 0, describeRun(r));
    }
    const reg = cli(['client', 'create', '--json'], JSON.stringify({ client_name: 'tls', scope: 'read' }));
    assert.equal(reg.code, 0, describeRun(reg));
    client = reg.json();
    proc = spawn(process.env.MANDATE_BIN, ['--config', ctx.conf, 'serve'], { cwd: ctx.dir, stdio: 'ignore' });
    exited.done = new Promise((resolve) => proc.on('exit', resolve));
    for (let i = 0; i < 100; i++) {
      try {
        const r = await request(`${url}/readyz`, { ca: certs.ca });
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error('the TLS server did not become ready');
  });

  after(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGTERM');
      await exited.done;
    }
    if (ctx) await rm(ctx.dir, { recursive: true, force: true });
  });

  it('serves discovery with https endpoints, verified against the test CA', async () => {
    const r = await request(`${url}/.well-known/oauth-authorization-server`, { ca: certs.ca });
    assert.equal(r.status, 200, r.text);
    const meta = JSON.parse(r.text);
    assert.equal(meta.issuer, url);
    assert.equal(meta.token_endpoint, `${url}/token`);
  });

  it('issues a token over TLS', async () => {
    const r = await request(`${url}/token`, {
      method: 'POST',
      ca: certs.ca,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client.client_id, client.client_secret),
      },
      body: 'grant_type=client_credentials',
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['cache-control'], 'no-store');
    const tok = JSON.parse(r.text);
    const claims = JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url'));
    assert.equal(claims.iss, url);
    assert.equal(claims.client_id, client.client_id);
  });

  it('refuses a client that does not trust the certificate', async () => {
    await assert.rejects(request(`${url}/healthz`), /self.signed|unable to verify|certificate/i);
  });

  it('does not answer plain HTTP on the TLS port', async () => {
    const plain = url.replace('https:', 'http:');
    let answered = null;
    try {
      answered = await request(`${plain}/healthz`);
    } catch {
      answered = null;
    }
    assert.ok(answered === null || answered.status !== 200, 'plain HTTP must not get a 200');
  });
});
