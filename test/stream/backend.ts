/**
 * Which database engine the stream tests run the queue on: SQLite (project `sqlite`) or
 * PostgreSQL (project `stream-postgres`, CONTIMG_TEST_BACKEND=postgres, one server per run
 * started by test/setup/postgres-global.ts). Tests name a queue with `queueDb(dir)` and get a
 * SQLite path or the URL of a fresh PostgreSQL database; `operatorSql` runs an operator's SQL on
 * it the way the seed does (the `sqlite3` CLI, or `psql`).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';
import { createDatabase, databaseUrl, psql } from '../postgres.js';

export { psql };

export type Backend = 'sqlite' | 'postgres';

export const BACKEND: Backend = process.env.CONTIMG_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

let created = 0;

/** The server's superuser URL (`postgres` database); only on PostgreSQL. */
export function pgServerUrl(): string {
  const url = inject('pgUrl');
  if (!url) throw new Error('no PostgreSQL server: run the stream-postgres project (test/setup/postgres-global.ts)');
  return url;
}

/** A URL of the same server with another database name. */
export function pgDatabaseUrl(name: string): string {
  return databaseUrl(pgServerUrl(), name);
}

/**
 * Where a test's queue lives: on SQLite `<dir>/<name>.sqlite3`; on PostgreSQL a new, empty
 * database on the project's server (its URL), never shared with another test.
 */
export function queueDb(dir: string, name = 'queue'): string {
  if (BACKEND === 'sqlite') return path.join(dir, `${name}.sqlite3`);
  return createDatabase(pgServerUrl(), `q_${process.pid}_${++created}_${Math.random().toString(36).slice(2, 8)}`);
}

/** Runs an operator's SQL against a queue as the seed does: the `sqlite3` CLI, or `psql` on PostgreSQL. */
export function operatorSql(db: string, query: string): string {
  if (BACKEND === 'postgres') return psql(db, query);
  return execFileSync('sqlite3', [db, query], { encoding: 'utf8', stdio: 'pipe' });
}
