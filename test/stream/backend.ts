/**
 * Which database engine the stream tests run the queue on: SQLite (project `sqlite`) or
 * PostgreSQL (project `stream-postgres`, CONTIMG_TEST_BACKEND=postgres, one server per run
 * started by test/setup/postgres-global.ts). Tests name a queue with `queueDb(dir)` and get a
 * SQLite path or the URL of a fresh PostgreSQL database; `operatorSql` runs an operator's SQL on
 * it the way the seed does (the `sqlite3` CLI, or `psql`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';

export type Backend = 'sqlite' | 'postgres';

export const BACKEND: Backend = process.env.CONTIMG_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

const PSQL = ['/usr/lib/postgresql/15/bin/psql'].find((p) => existsSync(p)) ?? 'psql';

let created = 0;

/** The server's superuser URL (`postgres` database); only on PostgreSQL. */
export function pgServerUrl(): string {
  const url = inject('pgUrl');
  if (!url) throw new Error('no PostgreSQL server: run the stream-postgres project (test/setup/postgres-global.ts)');
  return url;
}

/** A URL of the same server with another database name. */
export function pgDatabaseUrl(name: string): string {
  const u = new URL(pgServerUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Where a test's queue lives: on SQLite `<dir>/<name>.sqlite3`; on PostgreSQL a new, empty
 * database on the project's server (its URL), never shared with another test.
 */
export function queueDb(dir: string, name = 'queue'): string {
  if (BACKEND === 'sqlite') return path.join(dir, `${name}.sqlite3`);
  const db = `q_${process.pid}_${++created}_${Math.random().toString(36).slice(2, 8)}`;
  psql(pgServerUrl(), `CREATE DATABASE "${db}"`);
  return pgDatabaseUrl(db);
}

/** Runs SQL with `psql` in unaligned, tuples-only mode, `|` between fields (the `sqlite3` CLI's default format). */
export function psql(url: string, query: string): string {
  const r = spawnSync(PSQL, ['-X', '-q', '-A', '-t', '-F', '|', '-v', 'ON_ERROR_STOP=1', url, '-c', query], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`psql ${query}: ${r.stderr}`);
  return r.stdout;
}

/** Runs an operator's SQL against a queue as the seed does: the `sqlite3` CLI, or `psql` on PostgreSQL. */
export function operatorSql(db: string, query: string): string {
  if (BACKEND === 'postgres') return psql(db, query);
  return execFileSync('sqlite3', [db, query], { encoding: 'utf8', stdio: 'pipe' });
}
