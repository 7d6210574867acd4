// Debian's nginx, started by a test as a foreground process (no daemon, no
// master: nothing to switch users for) with a generated configuration on
// free loopback ports; its pid file, logs and temporary files in a
// temporary directory; stopped by its pid.
//
// startNginx({site: (ports, dir) => text, ports: n})
//   -> {port, ports, dir, url(path), logs(), stop()}
// site renders what goes in the http block (server blocks, upstreams) for
// the n ports given (ports may also be an array of ports chosen by the
// caller, when other configuration must name them first).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, sleep } from './server.mjs';

export const NGINX_BIN = process.env.NGINX_BIN
  || ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

function mainConfig(dir, site) {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include /etc/nginx/mime.types;
${site}
}
`;
}

function connects(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function launch(dir, site, n) {
  const ports = Array.isArray(n) ? [...n] : [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, mainConfig(dir, site(ports, dir)));
  const check = spawnSync(NGINX_BIN, ['-t', '-q', '-p', dir, '-c', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused the configuration:\n${check.stderr}`);
  const proc = spawn(NGINX_BIN, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    const up = await Promise.all(ports.map(connects));
    if (up.every(Boolean)) return { proc, exited, ports };
    await sleep(50);
  }
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  await exited;
  const log = existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : '';
  const err = new Error(`nginx did not start:\n${stderr}\n${log.slice(-2000)}`);
  err.portClash = /in use/i.test(stderr + log);
  throw err;
}

export async function startNginx({ site, ports: n = 1 }) {
  if (!NGINX_BIN) throw new Error('nginx not found: scripts/deps.sh installs it');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mandate-nginx-'));
  let run;
  for (let attempt = 0; !run; attempt++) {
    try {
      run = await launch(dir, site, n);
    } catch (e) {
      if (!e.portClash || attempt >= 2 || Array.isArray(n)) { rmSync(dir, { recursive: true, force: true }); throw e; }
    }
  }
  let stopped;
  return {
    dir,
    port: run.ports[0],
    ports: run.ports,
    url: (p = '/', port = run.ports[0]) => `http://127.0.0.1:${port}${p}`,
    logs: () => {
      const f = path.join(dir, 'error.log');
      return existsSync(f) ? readFileSync(f, 'utf8') : '';
    },
    async stop() {
      stopped ??= (async () => {
        if (run.proc.exitCode === null && run.proc.signalCode === null) {
          run.proc.kill('SIGQUIT'); // graceful: finish what is in flight
          const timer = setTimeout(() => run.proc.kill('SIGKILL'), STOP_GRACE_MS);
          await run.exited;
          clearTimeout(timer);
        }
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
