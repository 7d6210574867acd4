// A real browser for the web pages: playwright-core driving Debian's
// chromium (installed by scripts/deps.sh), each launch with a fresh
// user-data directory so that no cookie or cache crosses tests.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.MANDATE_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

const ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * launchBrowser() -> {context, page, close()}: a persistent context on a
 * fresh user-data dir (removed by close()).
 */
export async function launchBrowser() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mandate-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: false, // --headless=new in ARGS
      args: ARGS,
      viewport: { width: 900, height: 700 },
    });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(10000);
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot to tests/integration/artifacts/<name>.png. */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Fills the login form by its autocomplete fields and submits it; the navigation's response. */
export async function submitLogin(page, username, password) {
  await page.locator('input[autocomplete="username"]').fill(username);
  await page.locator('input[autocomplete="current-password"]').fill(password);
  const [resp] = await Promise.all([
    page.waitForNavigation(),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  return resp;
}

/** A minimal cookie jar for fetch: remembers Set-Cookie name=value pairs. */
export class CookieJar {
  constructor() { this.cookies = new Map(); }

  /** Records the response's Set-Cookie headers (Max-Age=0 deletes). */
  take(resp) {
    for (const sc of resp.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      if (attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(i + 1).trim());
    }
    return resp;
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** fetch with the jar's cookies, no redirect following; records new cookies. */
  async fetch(url, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    if (this.cookies.size) headers.cookie = this.header();
    return this.take(await fetch(url, { redirect: 'manual', ...opts, headers }));
  }
}

/** The hidden csrf_token of an HTML form. */
export function csrfOf(html) {
  const m = /name="csrf_token" value="([^"]*)"/.exec(html);
  return m ? m[1] : null;
}
