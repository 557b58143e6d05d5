/**
 * What every contimg database shares, whichever engine holds it: the dialect, the shape of a
 * migration, and where migrations are recorded. SQLite (ts/db/sqlite.ts) is the embedded default;
 * PostgreSQL (ts/db/postgres.ts) serves several hosts. One migration history serves both: each
 * numbered migration has one body, which branches on the dialect only where SQL differs.
 */
import { PostgresAdapter, type Kysely } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** A numbered migration: frozen once released, because databases record which ones they ran. */
export interface DbMigration {
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

export type Migrations = Record<string, DbMigration>;

/** Where each database records the migrations it has run (Kysely's table name and columns, kept for compatibility). */
export const MIGRATION_TABLE = 'kysely_migration';

/** The dialect behind a Kysely instance (a transaction's too: it shares its parent's adapter). */
export function dialectOf(db: Kysely<any>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** Migration names in `done` that this code does not know: a database from a newer contimg. */
export function unknownMigrations(done: Iterable<string>, migrations: Migrations): string[] {
  return [...done].filter((n) => !(n in migrations)).sort();
}

/** Migration names not in `done`, in order. */
export function pendingOf(done: Set<string>, migrations: Migrations): string[] {
  return Object.keys(migrations)
    .sort()
    .filter((n) => !done.has(n));
}
