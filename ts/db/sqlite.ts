/**
 * Opening an embedded SQLite database with Kysely: WAL mode, a busy timeout so concurrent
 * processes wait rather than fail, and the database's own numbered migrations applied on open.
 * Every database in contimg (the streaming queue, the pipeline registries) opens through here.
 */
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type Migrations = Record<string, Migration>;

/** Migrations are compiled into the CLI, keyed by a sortable name ("0001_initial", …). */
class InlineMigrations implements MigrationProvider {
  constructor(private readonly migrations: Migrations) {}
  async getMigrations(): Promise<Migrations> {
    return this.migrations;
  }
}

export interface OpenOptions {
  /** Milliseconds to wait for a lock held by another connection (default 10 s). */
  busyTimeoutMs?: number;
  readonly?: boolean;
}

export async function openSqlite<DB>(file: string, migrations: Migrations, opts: OpenOptions = {}): Promise<Kysely<DB>> {
  if (file !== ':memory:' && !opts.readonly) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  sqlite.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
  if (!opts.readonly) {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  }
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
  if (!opts.readonly) {
    const migrator = new Migrator({ db, provider: new InlineMigrations(migrations) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      await db.destroy();
      const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${file}: migration ${failed} failed: ${reason}`);
    }
  }
  return db;
}
