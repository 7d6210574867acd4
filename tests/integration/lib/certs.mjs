// Certificates for the mutual-TLS tests, made with the openssl CLI in a
// test's own directory: CAs, server and client certificates signed by them,
// and self-signed client certificates with their public key as a JWK.
// Also a small HTTPS client (node:https) that presents a client certificate.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import {
  MANDATE_BIN, describeRun, freePort, prepare, renderIni, runMandate, sleep,
} from './server.mjs';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function openssl(dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function read(dir, name) {
  return readFileSync(path.join(dir, name), 'utf8');
}

/** RFC 8705 §3.1 x5t#S256 of a PEM certificate: base64url(SHA-256(DER)). */
export function x5tS256(pem) {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
}

/** The certificate's public key as a public JWK (optionally with a kid). */
export function publicJwk(pem, kid) {
  const jwk = new X509Certificate(pem).publicKey.export({ format: 'jwk' });
  return kid ? { ...jwk, kid } : jwk;
}

/** As nginx's $ssl_client_escaped_cert sends it in X-Client-Cert. */
export function escapedPem(pem) {
  return encodeURIComponent(pem);
}

/**
 * A certificate authority in dir: ca.cert (PEM text), ca.certFile, and
 * ca.issue(name, {subject, san, eku, days}) -> {cert, key, certFile, keyFile}.
 */
export function makeCa(dir, name, subject = `/CN=${name}`) {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-days', '2', '-subj', subject]);
  const ca = {
    name,
    certFile: path.join(dir, `${name}.pem`),
    cert: read(dir, `${name}.pem`),
    issue(leaf, { subject: subj = `/CN=${leaf}`, san, eku = 'clientAuth', days = 2 } = {}) {
      const ext = ['basicConstraints=CA:FALSE'];
      if (eku) ext.push(`extendedKeyUsage=${eku}`);
      if (san) ext.push(`subjectAltName=${san}`);
      writeFileSync(path.join(dir, `${leaf}.ext`), `${ext.join('\n')}\n`);
      openssl(dir, ['req', ...EC, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', subj]);
      openssl(dir, ['x509', '-req', '-in', `${leaf}.csr`, '-CA', `${name}.pem`, '-CAkey', `${name}.key`,
        '-CAcreateserial', '-out', `${leaf}.pem`, '-days', String(days), '-extfile', `${leaf}.ext`]);
      return {
        cert: read(dir, `${leaf}.pem`),
        key: read(dir, `${leaf}.key`),
        certFile: path.join(dir, `${leaf}.pem`),
        keyFile: path.join(dir, `${leaf}.key`),
      };
    },
  };
  return ca;
}

/** A self-signed client certificate (P-256) and its key. */
export function selfSigned(dir, name, subject = `/CN=${name}`) {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`,
    '-days', '2', '-subj', subject]);
  return { cert: read(dir, `${name}.pem`), key: read(dir, `${name}.key`) };
}

/**
 * One HTTP(S) request. opts: {method, headers, body (string or object ->
 * form), ca, cert, key (client certificate)}. A fresh connection each time
 * (agent: false), so that one request's certificate never serves another.
 * Resolves {status, headers, text, json}.
 */
export function request(url, { method = 'GET', headers = {}, body, ca, cert, key } = {}) {
  const mod = url.startsWith('https:') ? https : http;
  let payload = body;
  const h = { ...headers };
  if (body && typeof body === 'object') {
    payload = new URLSearchParams(body).toString();
    h['content-type'] ??= 'application/x-www-form-urlencoded';
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers: h, ca, cert, key, agent: false, timeout: 10_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
      });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

const READY_TIMEOUT_MS = 10_000;

/** The environment without MANDATE_* overrides (the server would read them). */
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env)
    .filter(([k]) => !k.startsWith('MANDATE_') || k === 'MANDATE_BIN'));
}

/**
 * `mandate serve` with TLS on a free loopback port: the server certificate
 * is issued for 127.0.0.1 by a CA of its own (serverCa.cert is what clients
 * trust); config adds keys (e.g. {server: {tls_client_ca, trusted_proxies}}).
 * Resolves an object shaped like startServer's: {url, issuer, dir, conf,
 * cli(args, {input}), stop(), serverCa, logs}.
 */
export async function startTlsServer({ config = {} } = {}) {
  const port = await freePort();
  const ctx = await prepare({ port });
  const serverCa = makeCa(ctx.dir, 'server-ca');
  const srvCert = serverCa.issue('server', { subject: '/CN=127.0.0.1', san: 'IP:127.0.0.1', eku: 'serverAuth' });
  const url = `https://127.0.0.1:${port}`;
  const sections = {
    server: { listen: `127.0.0.1:${port}`, issuer: url, tls_cert: srvCert.certFile, tls_key: srvCert.keyFile,
      ...(config.server || {}) },
    storage: { database: `sqlite:${ctx.dir}/mandate.db`, data_dir: ctx.dir },
  };
  for (const [s, keys] of Object.entries(config)) if (s !== 'server') sections[s] = { ...keys };
  await writeFile(ctx.conf, renderIni(sections));
  const cli = (args, opts = {}) => runMandate(['--config', ctx.conf, ...args], { cwd: ctx.dir, ...opts });
  const init = cli(['init']);
  if (init.code !== 0) throw new Error(`init failed: ${describeRun(init)}`);
  const proc = spawn(MANDATE_BIN, ['--config', ctx.conf, 'serve'],
    { cwd: ctx.dir, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { logs += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const srv = {
    url, issuer: url, dir: ctx.dir, conf: ctx.conf, port, cli, serverCa,
    get logs() { return logs; },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(timer);
      await rm(ctx.dir, { recursive: true, force: true });
      if (r.code !== 0) throw new Error(`mandate serve did not exit cleanly: ${JSON.stringify(r)}\n${logs.slice(-4000)}`);
      return r;
    },
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      const r = await request(`${url}/readyz`, { ca: serverCa.cert });
      if (r.status === 200) return srv;
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  await srv.stop().catch(() => {});
  throw new Error(`the TLS server did not become ready:\n${logs}`);
}
