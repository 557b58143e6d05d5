/**
 * Where a database lives: a SQLite file (the default) or a PostgreSQL server. One rule for every
 * command: `--db` wins, then `CONTIMG_DATABASE_URL`, then the command's SQLite file.
 *
 * On PostgreSQL each contimg database is a schema of one server database: the streaming queue in
 * `public` (so the seed's operator queries run unchanged in `psql`), each registry in the schema
 * named after it.
 */
import path from 'node:path';
import { ContimgError } from '../error.js';

export type DbTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

export const DATABASE_URL_ENV = 'CONTIMG_DATABASE_URL';

/** `postgres://…`/`postgresql://…`, `sqlite:PATH`, or a plain path (SQLite). */
export function parseDbTarget(spec: string): DbTarget {
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    try {
      new URL(spec);
    } catch {
      throw new ContimgError('DB_BAD_URL', `${redactUrl(spec)}: not a valid PostgreSQL URL`);
    }
    return { kind: 'postgres', url: spec };
  }
  const file = spec.replace(/^sqlite:(\/\/)?/i, '');
  if (file === '') throw new ContimgError('DB_BAD_URL', `${spec}: names no SQLite file`);
  return { kind: 'sqlite', file: path.resolve(file) };
}

/**
 * `--db`, else `CONTIMG_DATABASE_URL`, else the command's own database option (a SQLite file, or
 * a URL given there).
 */
export function resolveDbTarget(cliSpec: string | undefined, fallback: string, env: NodeJS.ProcessEnv = process.env): DbTarget {
  return parseDbTarget(cliSpec ?? env[DATABASE_URL_ENV] ?? fallback);
}

/** The target for messages, without a password. */
export function describeTarget(t: DbTarget): string {
  return t.kind === 'sqlite' ? t.file : redactUrl(t.url);
}

/** A URL for messages: the password replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@]*@/, '$1:***@');
}
