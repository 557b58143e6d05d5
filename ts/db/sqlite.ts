/**
 * Opening an embedded SQLite database with Kysely: WAL mode, a busy timeout so concurrent
 * processes wait rather than fail, and the database's own numbered migrations applied on open.
 * Every database in contimg (the streaming queue, the pipeline registries, the migration
 * journal) opens through here.
 *
 * Migrations are atomic. Kysely's Migrator runs SQLite migrations statement by statement with no
 * transaction (its SQLite adapter declares no transactional DDL), so a process killed between a
 * `CREATE TABLE` and the migration's record left a database that every later open refused with
 * "table … already exists". SQLite does run DDL inside transactions, so `migrate` below runs every
 * pending migration and its record in one `BEGIN IMMEDIATE` transaction: a kill at any instant
 * leaves either the old schema or the new one. The record stays in Kysely's own table
 * (`kysely_migration`, same columns), so databases written before this change open unchanged.
 */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { MIGRATION_TABLE, pendingOf, unknownMigrations, type Migrations } from './dialect.js';

export type { Migrations } from './dialect.js';

export interface OpenOptions {
  /** Milliseconds to wait for a lock held by another connection (default 10 s). */
  busyTimeoutMs?: number;
  /**
   * Open without writing anything. A file that lacks some or all of the schema (a database from
   * an older version, or one whose creation was interrupted) is read through an in-memory copy
   * with the missing migrations applied, so it reads as what it holds: empty when it has no schema.
   */
  readonly?: boolean;
}

export async function openSqlite<DB>(file: string, migrations: Migrations, opts: OpenOptions = {}): Promise<Kysely<DB>> {
  const readonly = opts.readonly ?? false;
  if (file !== ':memory:' && !readonly) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  let sqlite = new Database(file, { readonly, fileMustExist: readonly });
  let db: Kysely<DB>;
  try {
    sqlite.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    if (readonly) {
      if (pendingMigrations(sqlite, migrations, file).length === 0) return await kysely<DB>(sqlite);
      // Behind the code's schema: read a private in-memory copy brought up to date.
      const image = sqlite.serialize();
      sqlite.close();
      // Header bytes 18–19 say "WAL"; an in-memory database cannot have one, so mark it rollback-journal.
      if (image.length >= 20) image.fill(1, 18, 20);
      sqlite = image.length > 0 ? new Database(image) : new Database(':memory:');
    } else {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
    }
    sqlite.pragma('foreign_keys = ON');
    db = await kysely<DB>(sqlite);
  } catch (err) {
    // Not yet Kysely's to close (or its open failed): a handle left open would be closed by the
    // garbage collector, at any moment.
    sqlite.close();
    throw err;
  }
  try {
    await migrate(db, sqlite, migrations, file);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

/**
 * Kysely over an open handle, already initialised. Kysely takes hold of the handle on its first
 * query, and its `destroy()` closes only a handle it has taken hold of: a database opened and
 * never queried stayed open until the garbage collector closed it, at whatever moment that came,
 * deleting its -wal and -shm files under a process that was listing the directory.
 */
async function kysely<DB>(sqlite: Database.Database): Promise<Kysely<DB>> {
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
  await db.connection().execute(async () => {});
  return db;
}

/** Migration names not yet recorded in the file, in order; refuses a file from a newer contimg. */
function pendingMigrations(sqlite: Database.Database, migrations: Migrations, file: string): string[] {
  const hasTable = sqlite.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(MIGRATION_TABLE) !== undefined;
  const done = new Set(hasTable ? (sqlite.prepare(`SELECT name FROM ${MIGRATION_TABLE}`).all() as { name: string }[]).map((r) => r.name) : []);
  const unknown = unknownMigrations(done, migrations);
  if (unknown.length > 0) {
    throw new Error(`${file}: the database has migration ${unknown.join(', ')}, which this contimg does not know; it was written by a newer version`);
  }
  return pendingOf(done, migrations);
}

/**
 * Runs every pending migration and records it, all in one transaction that holds the write lock
 * from the first read: a second process opening the same new database waits, then finds the
 * work done.
 */
async function migrate(db: Kysely<any>, sqlite: Database.Database, migrations: Migrations, file: string): Promise<void> {
  if (pendingMigrations(sqlite, migrations, file).length === 0) return;
  await db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    let current = '(migration record)';
    try {
      await sql`CREATE TABLE IF NOT EXISTS ${sql.table(MIGRATION_TABLE)} (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL)`.execute(conn);
      for (const name of pendingMigrations(sqlite, migrations, file)) {
        current = name;
        await migrations[name]!.up(conn, 'sqlite');
        await sql`INSERT INTO ${sql.table(MIGRATION_TABLE)} (name, timestamp) VALUES (${name}, ${new Date().toISOString()})`.execute(conn);
      }
      await sql`COMMIT`.execute(conn);
    } catch (err) {
      if (sqlite.inTransaction) await sql`ROLLBACK`.execute(conn);
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`${file}: migration ${current} failed: ${reason}`);
    }
  });
}
