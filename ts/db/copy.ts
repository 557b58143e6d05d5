/**
 * A whole contimg installation — the streaming queue and the four registries — on either engine,
 * and moving it from one to the other (`contimg db migrate`, `contimg db copy`, issue 14).
 *
 * On SQLite an installation is five files: the queue (`--queue-db`) and the layout's registries
 * (`<data>/state/<name>.sqlite3`). On PostgreSQL it is five schemas of one server database: the
 * queue in `public`, each registry in the schema named after it.
 *
 * A copy is all or nothing. Every destination database is migrated, checked empty, filled and
 * verified inside its own transaction, and the transactions nest: none commits until every
 * database has been copied and its row counts and checksums match the source's, so any failure
 * (a conflicting table, a value the destination refuses, a mismatch) rolls every one of them back.
 * On PostgreSQL even the migrations are inside (its DDL is transactional); a SQLite file that did
 * not exist before is removed again. Only a failure between the final commits (the innermost
 * commits first) could leave part of a copy, and a commit has nothing left to check.
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { ContimgError } from '../error.js';
import type { Layout, RegistryName } from '../layout/layout.js';
import { CAL_MIGRATIONS, DATA_MIGRATIONS, INGEST_MIGRATIONS, PRODUCTS_MIGRATIONS } from '../registry/schema.js';
import { STREAM_MIGRATIONS } from '../stream/schema.js';
import { MIGRATION_TABLE, type Migrations } from './dialect.js';
import { migrateWithin, openPostgres, openPostgresMigrated } from './postgres.js';
import { openSqlite } from './sqlite.js';
import { openDatabase, writeTransaction } from './index.js';
import { redactUrl, type DbTarget } from './target.js';

export type DatabaseName = 'queue' | RegistryName;

export interface InstallationDatabase {
  name: DatabaseName;
  /** Its schema on PostgreSQL. */
  schema: string;
  migrations: Migrations;
  /**
   * Every table, parents before children (foreign keys). Each with the columns that order its
   * rows uniquely: the primary key, or all columns where there is none.
   */
  tables: { name: string; key: string[]; identity?: string }[];
}

/** The databases of an installation, in the order they are opened and copied. */
export const INSTALLATION: readonly InstallationDatabase[] = [
  {
    name: 'queue',
    schema: 'public',
    migrations: STREAM_MIGRATIONS,
    tables: [
      { name: 'ingest_queue', key: ['group_id'] },
      { name: 'subband_files', key: ['group_id', 'subband_idx'] },
      { name: 'performance_metrics', key: ['group_id'] },
    ],
  },
  { name: 'ingest', schema: 'ingest', migrations: INGEST_MIGRATIONS, tables: [{ name: 'ingest_files', key: ['path'] }] },
  {
    name: 'products',
    schema: 'products',
    migrations: PRODUCTS_MIGRATIONS,
    tables: [
      { name: 'ms_index', key: ['path'] },
      { name: 'ms_groups', key: ['group_id'] },
      { name: 'ms_group_members', key: ['group_id', 'position'] },
    ],
  },
  { name: 'cal_registry', schema: 'cal_registry', migrations: CAL_MIGRATIONS, tables: [{ name: 'caltables', key: ['path'] }] },
  {
    name: 'data_registry',
    schema: 'data_registry',
    migrations: DATA_MIGRATIONS,
    tables: [
      { name: 'data_registry', key: ['id'], identity: 'id' },
      { name: 'data_provenance', key: ['product_id', 'input_product_id', 'input_path'] },
    ],
  },
];

/** Where an installation is: a queue file and a layout's registries, or one PostgreSQL database. */
export type Installation = { kind: 'sqlite'; queueFile: string; layout: Layout } | { kind: 'postgres'; url: string };

/** The target of one of an installation's databases. */
export function targetOf(inst: Installation, d: InstallationDatabase): DbTarget {
  if (inst.kind === 'postgres') return { kind: 'postgres', url: inst.url };
  return { kind: 'sqlite', file: d.name === 'queue' ? path.resolve(inst.queueFile) : inst.layout.registryPath(d.name) };
}

/** One database for messages: its file, or the server (password hidden) and schema. */
export function whereOf(inst: Installation, d: InstallationDatabase): string {
  const t = targetOf(inst, d);
  return t.kind === 'sqlite' ? t.file : `${redactUrl(t.url)} (schema ${d.schema})`;
}

export function describeInstallation(inst: Installation): string {
  return inst.kind === 'sqlite' ? `SQLite (queue ${path.resolve(inst.queueFile)}, registries in ${inst.layout.stateDir})` : redactUrl(inst.url);
}

async function appliedMigrations(db: Kysely<any>): Promise<string[]> {
  const rows = await sql<{ name: string }>`SELECT name FROM ${sql.table(MIGRATION_TABLE)} ORDER BY name`.execute(db);
  return rows.rows.map((r) => r.name);
}

export interface MigratedDatabase {
  name: DatabaseName;
  where: string;
  /** The newest migration the database has run: its schema version. */
  version: string;
  migrations: number;
}

/** `contimg db migrate`: opens (creating and migrating) every database of the installation. */
export async function migrateInstallation(inst: Installation): Promise<MigratedDatabase[]> {
  const out: MigratedDatabase[] = [];
  for (const d of INSTALLATION) {
    const db = await openDatabase<any>(targetOf(inst, d), d.migrations, { schema: d.schema, maxConnections: 1 });
    try {
      const done = await appliedMigrations(db);
      out.push({ name: d.name, where: whereOf(inst, d), version: done.at(-1) ?? '', migrations: done.length });
    } finally {
      await db.destroy();
    }
  }
  return out;
}

// ---- copying ---------------------------------------------------------------------------------

export interface TableCopy {
  table: string;
  /** Rows in the source, and in the destination after the copy. */
  source: number;
  destination: number;
  /** The checksum of the rows (see `digestRows`), the same on both sides. */
  checksum: string;
}

export interface DatabaseCopy {
  name: DatabaseName;
  from: string;
  to: string;
  /** False when the source has no such database (a registry never opened): copied as empty. */
  present: boolean;
  tables: TableCopy[];
}

/** Rows read and written per statement: far below both engines' limits on parameters. */
const PAGE = 500;

/**
 * An order-independent checksum of a table's rows: each row is written as JSON with its columns
 * sorted by name, hashed, and the first 16 bytes of the hashes are summed modulo 2^128. The sum
 * does not depend on the order rows are read in, so it is the same on engines that sort text
 * differently, and it counts a repeated row twice. Numbers are written as JavaScript's shortest
 * exact form, so an IEEE double that crossed engines compares exactly.
 */
class RowDigest {
  private sum = 0n;
  constructor(private readonly columns: string[]) {}
  add(row: Record<string, unknown>): void {
    const text = JSON.stringify(this.columns.map((c) => [c, canonical(row[c])]));
    const h = createHash('sha256').update(text).digest();
    this.sum = (this.sum + h.readBigUInt64BE(0) * 2n ** 64n + h.readBigUInt64BE(8)) % 2n ** 128n;
  }
  hex(): string {
    return this.sum.toString(16).padStart(32, '0');
  }
}

function canonical(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  return v;
}

async function tablesIn(db: Kysely<any>, kind: DbTarget['kind'], schema: string): Promise<string[]> {
  const r =
    kind === 'postgres'
      ? await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${schema} AND table_type = 'BASE TABLE'`.execute(db)
      : await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`.execute(db);
  return r.rows.map((x) => x.name).filter((n) => n !== MIGRATION_TABLE);
}

async function columnsIn(db: Kysely<any>, kind: DbTarget['kind'], schema: string, table: string): Promise<string[]> {
  const r =
    kind === 'postgres'
      ? await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table} ORDER BY ordinal_position`.execute(db)
      : await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(db);
  return r.rows.map((x) => x.name);
}

async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const r = await sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(db);
  return Number(r.rows[0]?.n ?? 0);
}

/** Reads a table page by page in key order (stable within the snapshot being read). */
async function* pages(db: Kysely<any>, table: string, columns: string[], key: string[]): AsyncGenerator<Record<string, unknown>[]> {
  for (let offset = 0; ; offset += PAGE) {
    const rows = await sql<Record<string, unknown>>`SELECT ${sql.join(columns.map((c) => sql.ref(c)))} FROM ${sql.table(table)}
      ORDER BY ${sql.join(key.map((c) => sql.ref(c)))} LIMIT ${PAGE} OFFSET ${offset}`.execute(db);
    if (rows.rows.length > 0) yield rows.rows;
    if (rows.rows.length < PAGE) return;
  }
}

/** A source database opened for reading, or null where the installation has none. */
async function openSource(inst: Installation, d: InstallationDatabase): Promise<Kysely<any> | null> {
  const target = targetOf(inst, d);
  if (target.kind === 'sqlite') {
    // Read-only: a file behind the code's schema is read through an upgraded in-memory copy.
    return existsSync(target.file) ? openSqlite<any>(target.file, d.migrations, { readonly: true }) : null;
  }
  const probe = await openPostgres<any>(target.url, { schema: d.schema, maxConnections: 1, idleInTransactionS: 0 });
  try {
    const has = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ${d.schema} AND table_name = ${MIGRATION_TABLE}`.execute(probe);
    if (Number(has.rows[0]?.n ?? 0) === 0) return null;
  } finally {
    await probe.destroy();
  }
  return openPostgresMigrated<any>(target.url, d.migrations, { schema: d.schema, readonly: true, maxConnections: 1, idleInTransactionS: 0 });
}

/** Runs `fn` in a read transaction: one snapshot of the source database for the whole copy. */
async function snapshot<T>(db: Kysely<any>, kind: DbTarget['kind'], fn: (tx: Kysely<any>) => Promise<T>): Promise<T> {
  const tx = db.transaction();
  return (kind === 'postgres' ? tx.setIsolationLevel('repeatable read') : tx).execute(fn);
}

/**
 * Opens one destination database and runs `fn` inside a transaction on it, after migrating it (on
 * PostgreSQL inside the same transaction) and checking it empty. Commits when `fn` returns; on a
 * throw rolls back and removes a SQLite file (and the directories) this call created.
 */
async function withDestination<T>(inst: Installation, d: InstallationDatabase, fn: (tx: Kysely<any>) => Promise<T>): Promise<T> {
  const target = targetOf(inst, d);
  const where = whereOf(inst, d);
  const checkEmpty = async (tx: Kysely<any>) => {
    for (const t of d.tables) {
      const n = await countRows(tx, t.name);
      if (n > 0) throw new ContimgError('DB_COPY_NOT_EMPTY', `${where}: the destination is not empty (${t.name} has ${n} row(s)); copy only into a new installation`);
    }
  };
  if (target.kind === 'postgres') {
    // No idle-in-transaction limit: this transaction waits, open, while the databases after it
    // are copied, and must still be there to commit.
    const db = await openPostgres<any>(target.url, { schema: d.schema, maxConnections: 1, idleInTransactionS: 0 });
    try {
      return await db.transaction().execute(async (tx) => {
        await migrateWithin(tx, d.migrations, target.url, d.schema);
        await checkEmpty(tx);
        return fn(tx);
      });
    } finally {
      await db.destroy();
    }
  }
  const created = firstMissing(target.file);
  let db: Kysely<any> | undefined;
  try {
    db = await openSqlite<any>(target.file, d.migrations);
    return await writeTransaction(db, async (conn) => {
      await checkEmpty(conn);
      return fn(conn);
    });
  } catch (err) {
    await db?.destroy();
    db = undefined;
    if (created) for (const p of [created, `${created}-wal`, `${created}-shm`]) rmSync(p, { recursive: true, force: true });
    throw err;
  } finally {
    await db?.destroy();
  }
}

/** The outermost path of `file` (itself or a directory above it) that does not exist yet. */
function firstMissing(file: string): string | undefined {
  let missing: string | undefined;
  for (let p = path.resolve(file); !existsSync(p); p = path.dirname(p)) missing = p;
  return missing;
}

/** Copies one database's tables from `src` into the destination transaction `dst`, then verifies them. */
async function copyTables(d: InstallationDatabase, src: Kysely<any> | null, srcKind: DbTarget['kind'], dst: Kysely<any>, dstKind: DbTarget['kind'], where: { from: string; to: string }): Promise<TableCopy[]> {
  if (src) {
    // A table the plan does not know would not be copied: refuse rather than lose its rows.
    const unknown = (await tablesIn(src, srcKind, d.schema)).filter((t) => !d.tables.some((x) => x.name === t));
    if (unknown.length > 0) throw new ContimgError('DB_COPY_UNKNOWN_TABLE', `${where.from}: table(s) ${unknown.join(', ')} are not part of a contimg ${d.name} database; nothing was copied`);
  }
  const out: TableCopy[] = [];
  for (const t of d.tables) {
    const dstColumns = await columnsIn(dst, dstKind, d.schema, t.name);
    const columns = src ? await columnsIn(src, srcKind, d.schema, t.name) : dstColumns;
    const missing = columns.filter((c) => !dstColumns.includes(c));
    if (missing.length > 0) throw new ContimgError('DB_COPY_SCHEMA', `${where.to}: ${t.name} lacks column(s) ${missing.join(', ')} of the source`);
    const sorted = [...columns].sort();
    const srcDigest = new RowDigest(sorted);
    let source = 0;
    if (src) {
      source = await countRows(src, t.name);
      for await (const rows of pages(src, t.name, columns, t.key)) {
        for (const r of rows) srcDigest.add(r);
        try {
          await dst.insertInto(t.name).values(rows).execute();
        } catch (err) {
          throw new ContimgError('DB_COPY_FAILED', `${where.to}: copying ${t.name} from ${where.from} failed: ${(err as Error).message}`);
        }
      }
    }
    // Ids are copied as they are; the identity's sequence must then start above them. (SQLite's
    // AUTOINCREMENT records explicit ids in sqlite_sequence by itself.)
    if (t.identity && dstKind === 'postgres') {
      await sql`SELECT setval(pg_get_serial_sequence(${t.name}, ${t.identity}), max(${sql.ref(t.identity)})) FROM ${sql.table(t.name)} HAVING max(${sql.ref(t.identity)}) IS NOT NULL`.execute(dst);
    }
    const dstDigest = new RowDigest(sorted);
    for await (const rows of pages(dst, t.name, columns, t.key)) for (const r of rows) dstDigest.add(r);
    const destination = await countRows(dst, t.name);
    if (destination !== source || dstDigest.hex() !== srcDigest.hex()) {
      throw new ContimgError(
        'DB_COPY_MISMATCH',
        `${where.to}: ${t.name} does not match ${where.from} after the copy (${destination} row(s), checksum ${dstDigest.hex()}; source ${source} row(s), checksum ${srcDigest.hex()}); nothing was copied`,
      );
    }
    out.push({ table: t.name, source, destination, checksum: srcDigest.hex() });
  }
  return out;
}

/**
 * `contimg db copy`: copies every row of every database of `from` into `to`, which must be empty
 * (or not exist yet), verifying each table's count and checksum before anything commits.
 */
export async function copyInstallation(from: Installation, to: Installation): Promise<DatabaseCopy[]> {
  if (from.kind === 'sqlite' && to.kind === 'sqlite') {
    throw new ContimgError('DB_COPY_USAGE', 'both sides are SQLite: copy the files instead (`db copy` moves an installation between SQLite and PostgreSQL, or between PostgreSQL servers)');
  }
  if (from.kind === 'postgres' && to.kind === 'postgres' && from.url === to.url) throw new ContimgError('DB_COPY_USAGE', `${redactUrl(from.url)}: the source and the destination are the same database`);
  const report: DatabaseCopy[] = [];
  const copyFrom = async (i: number): Promise<void> => {
    const d = INSTALLATION[i];
    if (!d) {
      // Innermost, before anything commits: a mistyped source must not "succeed" with no rows.
      if (report.every((r) => !r.present)) throw new ContimgError('DB_COPY_NO_SOURCE', `${describeInstallation(from)}: no contimg database there to copy`);
      return;
    }
    const where = { from: whereOf(from, d), to: whereOf(to, d) };
    await withDestination(to, d, async (dst) => {
      const src = await openSource(from, d);
      try {
        const tables = src ? await snapshot(src, from.kind, (s) => copyTables(d, s, from.kind, dst, to.kind, where)) : await copyTables(d, null, from.kind, dst, to.kind, where);
        report.push({ name: d.name, ...where, present: src !== null, tables });
      } finally {
        await src?.destroy();
      }
      // The next database is copied while this one's transaction is still open: see the module comment.
      await copyFrom(i + 1);
    });
  };
  await copyFrom(0);
  return report;
}
