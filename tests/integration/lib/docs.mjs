// Runs the documentation as a newcomer would: every shell and JavaScript
// block of a page, in order, against a fresh `mandate serve --dev` started in
// an empty directory, with `mandate` on PATH (as after `make install`).
//
// What a block's info string means:
//   sh | bash           run with bash (set -euo pipefail; variables carry over
//                       to the next blocks of the page, shell and JavaScript)
//   js | mjs            run as an ES module with node; the test's npm packages
//                       resolve (node_modules is linked into the directory)
//   ini mandate.conf    added to ./mandate.conf; the server is restarted, as a
//                       reader restarts `make run` after editing the file
//   LANG no-run        shown, not run: it needs what a test machine has not
//                       (a Kubernetes cluster, a reverse proxy in production)
// Anything else (json, ini without a file name, text) is not run.
//
// A page says http://127.0.0.1:8080, the address of `make run`; the harness
// runs its server on a free port and rewrites that address in every block.
//
// The person at the browser: when a running block prints a line
// "Open this URL in your browser: URL", a real browser opens URL, signs in
// as $PERSON with $PERSON_PASSWORD (variables the page set) when asked,
// confirms a device's code on the device page, and allows on the consent or
// device page.
import { spawn } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchBrowser, submitLogin } from './browser.mjs';
import { MANDATE_BIN, freePort, sleep } from './server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../..');
const NODE_MODULES = path.resolve(here, '../node_modules');
const BLOCK_TIMEOUT_MS = 60_000;
const DOC_ADDRESS = '127.0.0.1:8080';
const OPEN_URL = /Open this URL in your browser: (\S+)/;

/** The fenced code blocks of a Markdown text: [{lang, words, code, line}]. */
export function codeBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, fence, info] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].startsWith(fence); j++) body.push(lines[j]);
    const words = info.trim().split(/\s+/).filter(Boolean);
    blocks.push({ lang: (words[0] || '').toLowerCase(), words: words.slice(1), code: body.join('\n'), line: i + 1 });
    i = j;
  }
  return blocks;
}

/** What the harness does with a block: 'sh', 'js', 'conf' or null. */
export function blockKind(b) {
  if (b.words.includes('no-run')) return null;
  if (['sh', 'bash', 'shell'].includes(b.lang)) return 'sh';
  if (['js', 'mjs', 'javascript'].includes(b.lang)) return 'js';
  if (b.lang === 'ini' && b.words.includes('mandate.conf')) return 'conf';
  return null;
}

function parseEnv0(text) {
  const env = {};
  for (const entry of text.split('\0')) {
    const i = entry.indexOf('=');
    if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return env;
}

class DevServer {
  constructor(dir, env) { this.dir = dir; this.env = env; this.logs = ''; }

  async start() {
    this.proc = spawn('mandate', ['serve', '--dev'], { cwd: this.dir, env: this.env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr.setEncoding('utf8').on('data', (d) => { this.logs += d; });
    this.exited = new Promise((r) => this.proc.on('exit', r));
    for (let i = 0; i < 200; i++) {
      if (this.proc.exitCode !== null) break;
      try {
        const r = await fetch(`${this.env.MANDATE_SERVER_ISSUER}/readyz`, { signal: AbortSignal.timeout(500) });
        if (r.status === 200) return;
      } catch { /* not yet */ }
      await sleep(50);
    }
    throw new Error(`mandate serve --dev did not become ready:\n${this.logs}`);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

/** Plays the person: signs in when asked, confirms a device's code, and allows. */
async function personAllows(url, state) {
  const browser = await launchBrowser();
  try {
    const { page } = browser;
    await page.goto(url);
    if (await page.locator('input[autocomplete="username"]').count()) {
      if (!state.PERSON || !state.PERSON_PASSWORD) throw new Error('the page asks to sign in, but PERSON and PERSON_PASSWORD are not set');
      await submitLogin(page, state.PERSON, state.PERSON_PASSWORD);
      await page.waitForLoadState();
    }
    await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 10_000 });
    // the device page: the code is filled in from the URL; the person confirms it
    if (await page.locator('input[name="user_code"]').count()) {
      await Promise.all([page.waitForNavigation(),
        page.getByRole('button', { name: 'Continue' }).click()]);
    }
    const allow = page.locator('button[name="decision"][value="allow"]');
    if (await allow.count()) {
      await Promise.all([page.waitForNavigation(), allow.click()]);
    }
    // The application's callback answers the browser; then the person is done.
    await page.waitForLoadState();
  } finally {
    await browser.close();
  }
}

function runProcess(cmd, args, { cwd, env, input, onLine }) {
  return new Promise((resolve) => {
    const proc = spawn(cmd, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = Promise.resolve();
    const timer = setTimeout(() => proc.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      stdout += d;
      for (const line of d.split('\n')) if (onLine) pending = pending.then(() => onLine(line));
    });
    proc.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    proc.on('exit', async (code, signal) => {
      clearTimeout(timer);
      let personError = null;
      await pending.catch((e) => { personError = e; });
      resolve({ code, signal, stdout, stderr, personError });
    });
    proc.stdin.end(input ?? '');
  });
}

/**
 * runDoc(file) -> {ran: number of blocks run}; throws on the first block
 * that fails, naming the page and line.
 */
export async function runDoc(file) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-doc-'));
  const bin = path.join(dir, '.bin');
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  await mkdir(bin);
  await symlink(MANDATE_BIN, path.join(bin, 'mandate'));
  await symlink(NODE_MODULES, path.join(dir, 'node_modules'));
  let state = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MANDATE_')) state[k] = v;
  state = {
    ...state,
    PATH: `${bin}:${process.env.PATH}`,
    HOME: dir,
    MANDATE_SERVER_LISTEN: address,
    MANDATE_SERVER_ISSUER: `http://${address}`,
  };
  const server = new DevServer(dir, { ...state });
  const blocks = codeBlocks(await readFile(file, 'utf8'));
  const where = (b) => `${path.relative(REPO, file)}:${b.line}`;
  let ran = 0;
  try {
    await server.start();
    for (const [n, b] of blocks.entries()) {
      const kind = blockKind(b);
      if (!kind) continue;
      const code = b.code.replaceAll(DOC_ADDRESS, address);
      ran++;
      if (kind === 'conf') {
        await appendFile(path.join(dir, 'mandate.conf'), `${code}\n`);
        await server.stop();
        await server.start();
        continue;
      }
      const onLine = (line) => {
        const m = OPEN_URL.exec(line);
        return m ? personAllows(m[1], state) : null;
      };
      let r;
      if (kind === 'sh') {
        const envFile = path.join(dir, '.env0');
        const script = `set -euo pipefail\nset -a\n${code}\nenv -0 > ${JSON.stringify(envFile)}\n`;
        r = await runProcess('bash', ['-c', script], { cwd: dir, env: state, onLine });
        if (r.code === 0) state = parseEnv0(await readFile(envFile, 'utf8'));
      } else {
        const js = path.join(dir, `block-${n}.mjs`);
        await writeFile(js, code);
        r = await runProcess(process.execPath, [js], { cwd: dir, env: state, onLine });
      }
      if (r.code !== 0 || r.personError) {
        throw new Error(`${where(b)}: the ${kind} block failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`
          + `${r.personError ? `\nthe person's browser: ${r.personError.message}` : ''}`
          + `\n--- block\n${code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`
          + `\n--- server log (tail)\n${server.logs.slice(-2000)}`);
      }
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return { ran };
}
