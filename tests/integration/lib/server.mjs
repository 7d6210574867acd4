import { randomBytes } from 'node:crypto';
// Starts a real `mandate serve` on a free loopback port with a temporary data
// directory, and runs `mandate` commands against the same configuration.
//
// MANDATE_BIN: absolute path of the binary (default: ../../build/mandate
// relative to this folder, i.e. the tree's own build).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND, createDatabase, dropDatabase } from './pg.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export const MANDATE_BIN = process.env.MANDATE_BIN
  || path.resolve(here, '../../../build/mandate');

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const CLI_TIMEOUT_MS = 30_000;

if (!existsSync(MANDATE_BIN)) {
  throw new Error(`mandate binary not found at ${MANDATE_BIN}: build it or set MANDATE_BIN`);
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Renders {section: {key: value}} as INI text; a null value drops the key. */
export function renderIni(sections) {
  const out = [];
  for (const [section, keys] of Object.entries(sections)) {
    out.push(`[${section}]`);
    for (const [k, v] of Object.entries(keys)) {
      if (v !== null && v !== undefined) out.push(`${k} = ${v}`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** Merges overrides into the base sections (two levels deep). */
function mergeSections(base, overrides = {}) {
  const out = {};
  for (const [s, keys] of Object.entries(base)) out[s] = { ...keys };
  for (const [s, keys] of Object.entries(overrides)) out[s] = { ...(out[s] || {}), ...keys };
  return out;
}

function childEnv(env) {
  const e = { ...process.env, ...env };
  // The server reads MANDATE_<SECTION>_<KEY>: none may leak in from the caller.
  for (const k of Object.keys(e)) {
    if (k.startsWith('MANDATE_') && k !== 'MANDATE_BIN' && !(env && k in env)) delete e[k];
  }
  return e;
}

/** Runs the binary synchronously. */
export function runMandate(args, { input, env, cwd } = {}) {
  const r = spawnSync(MANDATE_BIN, args, {
    input: input ?? '',
    encoding: 'utf8',
    env: childEnv(env),
    cwd,
    timeout: CLI_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (r.error && r.error.code !== 'ETIMEDOUT') throw r.error;
  const res = {
    args,
    code: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    json() {
      try {
        return JSON.parse(res.stdout);
      } catch (e) {
        throw new Error(`mandate ${args.join(' ')}: stdout is not JSON (${e.message}):\n${res.stdout}\nstderr:\n${res.stderr}`);
      }
    },
  };
  return res;
}

/** Describes a CLI result for assertion messages. */
export function describeRun(r) {
  return `mandate ${r.args.join(' ')} -> code ${r.code}${r.signal ? ` signal ${r.signal}` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/**
 * Creates a temp dir (or uses dir, an existing deployment's directory) with a
 * mandate.conf for a server on a free port.
 */
export async function prepare({ config = {}, port, dir } = {}) {
  dir = dir ?? await mkdtemp(path.join(os.tmpdir(), 'mandate-it-'));
  port = port ?? await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  // On PostgreSQL, a database of its own unless the caller names one.
  const pg = BACKEND === 'postgresql' && !config.storage?.database ? createDatabase() : null;
  const sections = mergeSections({
    server: { listen: `127.0.0.1:${port}`, issuer },
    storage: { database: pg ? pg.url : `sqlite:${dir}/mandate.db`, data_dir: dir },
  }, config);
  const conf = path.join(dir, 'mandate.conf');
  await writeFile(conf, renderIni(sections));
  return {
    dir, conf, port, issuer: sections.server.issuer, url: issuer, database: sections.storage.database,
    /** Removes the directory and the database prepare() created. */
    async remove() {
      await rm(dir, { recursive: true, force: true });
      if (pg) dropDatabase(pg.name);
    },
  };
}

async function waitReady(url, proc, out, deadline) {
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (out.spawnError) return `could not start: ${out.spawnError.message}`;
    if (proc.exitCode !== null || proc.signalCode !== null) {
      return `exited (code ${proc.exitCode}, signal ${proc.signalCode}) before ready`;
    }
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return null;
      last = `GET /readyz -> ${r.status}`;
    } catch (e) {
      last = `GET /readyz: ${e.cause?.code || e.message}`;
    }
    await sleep(50);
  }
  return `not ready after ${READY_TIMEOUT_MS} ms (${last})`;
}

/** The command that runs `serve`: with nofile, under a raised soft limit of open files. */
function serveCommand(ctx, nofile) {
  const args = ['--config', ctx.conf, 'serve'];
  if (!nofile) return [MANDATE_BIN, args];
  return ['bash', ['-c', `ulimit -Sn ${Number(nofile)} && exec "$0" "$@"`, MANDATE_BIN, ...args]];
}

function spawnServer(ctx, env, nofile) {
  const [cmd, args] = serveCommand(ctx, nofile);
  const proc = spawn(cmd, args, {
    cwd: ctx.dir,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stderr: '', stdout: '' };
  proc.stderr.setEncoding('utf8').on('data', (d) => { out.stderr += d; });
  proc.stdout.setEncoding('utf8').on('data', (d) => { out.stdout += d; });
  // 'exit' does not come when the spawn itself failed: 'error' does.
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
    proc.on('error', (error) => { out.spawnError = error; resolve({ code: null, signal: null, error }); });
  });
  return { proc, out, exited };
}

async function stopProc(proc, exited) {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return exited;
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
  const r = await exited;
  clearTimeout(timer);
  return r;
}

/** Spawns `serve` and waits for /readyz; null on success, else why not. */
async function launch(ctx, env, nofile) {
  const run = spawnServer(ctx, env, nofile);
  const problem = await waitReady(ctx.url, run.proc, run.out, Date.now() + READY_TIMEOUT_MS);
  if (!problem) return { run };
  await stopProc(run.proc, run.exited);
  return {
    error: new Error(`mandate serve ${problem}\nstderr:\n${run.out.stderr}\nstdout:\n${run.out.stdout}`),
    portClash: /in use|EADDRINUSE|bind/i.test(run.out.stderr),
  };
}

/**
 * startServer({config: {section: {key: value}}, env, keepDir, nofile})
 * -> {url, issuer, dir, conf, port, pid, cli(args, {input, env}), stop(), restart(), logs}
 * stop() sends SIGTERM (SIGKILL after 5 s), resolves {code, signal} and
 * removes the directory unless keepDir or stop({removeDir: false}).
 * restart() stops and starts `serve` again on the same directory and port.
 * nofile: the server's soft limit of open files (raised for this process only).
 * dir: an existing directory holding a deployment (mandate.db, master.key,
 * audit.key) to serve instead of a new one.
 */
export async function startServer({ config = {}, env = {}, keepDir = false, nofile, dir } = {}) {
  let lastError;
  // A free port can be taken between freePort() and bind: retry a few times.
  for (let attempt = 0; attempt < 3; attempt++) {
    const ctx = await prepare({ config, dir });
    const cli = (args, opts = {}) => runMandate(['--config', ctx.conf, ...args],
      { cwd: ctx.dir, ...opts, env: { ...env, ...(opts.env || {}) } });
    const init = cli(['init']);
    if (init.code !== 0) {
      await ctx.remove();
      throw new Error(`init failed: ${describeRun(init)}`);
    }
    const first = await launch(ctx, env, nofile);
    if (first.error) {
      lastError = first.error;
      if (!keepDir) await ctx.remove();
      if (first.portClash) continue;
      throw lastError;
    }
    let { run } = first;
    let stopped = null;
    let logs = '';
    const srv = {
      ...ctx,
      cli,
      get pid() { return run.proc.pid; },
      /** stderr of every `serve` run of this server so far. */
      get logs() { return logs + run.out.stderr; },
      get stdout() { return run.out.stdout; },
      get exited() { return run.exited; },
      async stop({ removeDir = !keepDir, check = true } = {}) {
        stopped ??= stopProc(run.proc, run.exited);
        const r = await stopped;
        if (removeDir) await ctx.remove();
        // A clean shutdown on SIGTERM exits 0 (sanitizer reports exit non-zero).
        if (check && (r.code !== 0 || r.signal !== null)) {
          throw new Error(`mandate serve did not exit cleanly on SIGTERM: ${JSON.stringify(r)}\n`
            + `stderr (tail):\n${srv.logs.slice(-4000)}`);
        }
        return r;
      },
      async restart() {
        const r = await srv.stop({ removeDir: false, check: false });
        logs += run.out.stderr;
        const next = await launch(ctx, env, nofile);
        if (next.error) throw next.error;
        run = next.run;
        stopped = null;
        return r;
      },
    };
    return srv;
  }
  throw lastError;
}

/** Runs a CLI command that must succeed with --json and returns its JSON. */
export function cliJson(srv, args, opts) {
  const r = srv.cli([...args, '--json'], opts);
  if (r.code !== 0) throw new Error(describeRun(r));
  return r.json();
}

/**
 * `mandate client create --json` with metadata on stdin; the registration response.
 * A client's owner must be an existing, active user: when the fixture's owner is not
 * one yet, it is created first (with a random password).
 */
export function createClient(srv, metadata) {
  ensureOwner(srv, metadata?.owner);
  return cliJson(srv, ['client', 'create'], { input: JSON.stringify(metadata) });
}

/** Creates the user `name` (random password) unless it exists. */
export function ensureOwner(srv, name) {
  if (typeof name !== 'string' || !name) return;
  const users = cliJson(srv, ['user', 'list']);
  if (users.some((u) => u.username === name)) return;
  const r = srv.cli(['user', 'create', name, '--password-stdin'],
    { input: `${randomBytes(18).toString('base64url')}\n` });
  if (r.code !== 0) throw new Error(describeRun(r));
}

/** `mandate scope create NAME [--description] [--sensitivity] [--resource]... --json`. */
export function createScope(srv, name, { description, sensitivity, resources = [] } = {}) {
  const args = ['scope', 'create', name];
  if (description !== undefined) args.push('--description', description);
  if (sensitivity !== undefined) args.push('--sensitivity', sensitivity);
  for (const r of resources) args.push('--resource', r);
  return cliJson(srv, args);
}
