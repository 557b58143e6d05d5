/**
 * Opening any contimg database on either engine, and the one transaction rule the queue and the
 * registries follow on both.
 */
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import { dialectOf, type Migrations } from './dialect.js';
import { openPostgresMigrated } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { DbTarget } from './target.js';

export { dialectOf, type Dialect, type DbMigration, type Migrations } from './dialect.js';
export { describeTarget, parseDbTarget, resolveDbTarget, DATABASE_URL_ENV, type DbTarget } from './target.js';

export interface OpenDatabaseOptions {
  /** On PostgreSQL, the schema that holds this database. */
  schema: string;
  readonly?: boolean;
  /** PostgreSQL pool size. */
  maxConnections?: number;
}

export async function openDatabase<DB>(target: DbTarget, migrations: Migrations, opts: OpenDatabaseOptions): Promise<Kysely<DB>> {
  if (target.kind === 'sqlite') return openSqlite<DB>(target.file, migrations, { readonly: opts.readonly });
  return openPostgresMigrated<DB>(target.url, migrations, { schema: opts.schema, readonly: opts.readonly, maxConnections: opts.maxConnections });
}

/**
 * Runs `fn` as one write transaction that sees every other writer's work whole.
 *
 * SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the first read, so a
 * read-then-write never decides from a snapshot another writer has changed.
 * PostgreSQL: a READ COMMITTED transaction in which reads that decide a write lock their rows
 * (`lockRows` below); with `serialize`, it also takes a transaction-scoped advisory lock on that
 * key first, for operations (registration) whose reads span rows that may not exist yet.
 */
export async function writeTransaction<DB, T>(db: Kysely<DB>, fn: (tx: Kysely<DB>) => Promise<T>, opts: { serialize?: string } = {}): Promise<T> {
  if (dialectOf(db) === 'postgres') {
    return db.transaction().execute(async (tx) => {
      if (opts.serialize) await sql`SELECT pg_advisory_xact_lock(hashtext(${opts.serialize}))`.execute(tx);
      return fn(tx);
    });
  }
  return db.connection().execute(async (q) => {
    await sql`BEGIN IMMEDIATE`.execute(q);
    try {
      const result = await fn(q);
      await sql`COMMIT`.execute(q);
      return result;
    } catch (err) {
      await sql`ROLLBACK`.execute(q).catch(() => undefined);
      throw err;
    }
  });
}

/**
 * `SELECT … FOR UPDATE` on PostgreSQL (SQLite has no row locks and needs none: the write
 * transaction already holds the database's lock). With `skipLocked`, rows another transaction
 * holds are passed over instead of waited for.
 */
export function lockRows<DB, TB extends keyof DB, O>(qb: SelectQueryBuilder<DB, TB, O>, db: Kysely<any>, opts: { skipLocked?: boolean } = {}): SelectQueryBuilder<DB, TB, O> {
  if (dialectOf(db) !== 'postgres') return qb;
  const locked = qb.forUpdate();
  return opts.skipLocked ? locked.skipLocked() : locked;
}
