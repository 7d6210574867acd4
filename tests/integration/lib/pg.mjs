// The PostgreSQL backend of the integration suite. When MANDATE_TEST_PG_URL
// names a database on a throw-away cluster (scripts/pg.sh), every server the
// tests start gets a fresh database of its own on that cluster, created here
// and dropped when the server's directory is removed; without it, servers
// use SQLite files in their directories.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';

export const PG_URL = process.env.MANDATE_TEST_PG_URL || '';
/** 'postgresql' when the suite runs on PostgreSQL, else 'sqlite'. */
export const BACKEND = PG_URL ? 'postgresql' : 'sqlite';
/** For `describe(..., { skip: onlySqlite('why') })`: false on SQLite, the reason on PostgreSQL. */
export const onlySqlite = (why) => (BACKEND === 'sqlite' ? false : `SQLite only: ${why}`);

/** url with its database name replaced by name. */
export function withDatabase(url, name) {
  const m = /^(postgres(?:ql)?:\/\/[^/?#]*)(?:\/[^?#]*)?(.*)$/.exec(url);
  if (!m) throw new Error(`MANDATE_TEST_PG_URL is not a postgresql:// URL: ${url}`);
  return `${m[1]}/${name}${m[2]}`;
}

/** Runs SQL on the cluster's administrative database; returns stdout. */
export function psql(sql, url = PG_URL) {
  const r = spawnSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql],
    { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`psql ${sql}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}

/** Creates an empty database; returns {name, url}. */
export function createDatabase() {
  const name = `mandate_it_${crypto.randomBytes(6).toString('hex')}`;
  psql(`CREATE DATABASE ${name}`);
  return { name, url: withDatabase(PG_URL, name) };
}

/** Drops a database made by createDatabase, closing what still uses it. */
export function dropDatabase(name) {
  if (!/^mandate_it_[0-9a-f]+$/.test(name)) throw new Error(`not a test database: ${name}`);
  psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/**
 * Runs SQL on a server's database, whichever backend it uses (the sqlite3
 * shell on its file, psql on its PostgreSQL database): rows on lines,
 * columns separated by '|'. For tests that edit the database behind the
 * server's back, as an attacker with write access to it would.
 */
export function dbQuery(srv, sql) {
  const url = srv.database;
  const r = url.startsWith('sqlite:')
    ? spawnSync('sqlite3', ['-batch', url.slice('sqlite:'.length)], { input: sql, encoding: 'utf8', timeout: 30_000 })
    : spawnSync('psql', ['-X', '-q', '-A', '-t', '-F', '|', '-v', 'ON_ERROR_STOP=1', '-d', url],
      { input: sql, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${sql.slice(0, 200)}: ${r.stderr || r.error?.message}`);
  return r.stdout;
}
