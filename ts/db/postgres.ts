/**
 * Opening a contimg database on PostgreSQL (issue 14): a `pg` pool under Kysely's Postgres
 * dialect, with each contimg database in its own schema, and the same numbered migrations as
 * SQLite, applied atomically.
 *
 * - Migrations run in one transaction under an advisory lock on the schema's name, so several
 *   hosts starting at once serialise and a crash leaves the old schema or the new one (PostgreSQL
 *   DDL is transactional). They are recorded in the same `kysely_migration` table as on SQLite.
 * - The migrations' DDL is written once, in SQLite's words. On PostgreSQL a plugin rewrites the
 *   types whose meaning differs: SQLite's REAL and INTEGER are 8 bytes, PostgreSQL's are 4 (an MJD
 *   in `real` keeps only minutes, and a file size in `integer` overflows at 2 GiB), so they become
 *   DOUBLE PRECISION and BIGINT; `INTEGER PRIMARY KEY AUTOINCREMENT` becomes an identity column.
 * - BIGINT and NUMERIC arrive as JavaScript numbers, as they do from SQLite (`pg` would give
 *   strings); every integer contimg stores (sizes, counts, ids) is far below 2^53.
 * - A session that sits inside a transaction for longer than `idleInTransactionS` is ended by the
 *   server, so a worker stopped (SIGSTOP, a frozen VM) while it held a row lock cannot hold the
 *   queue up for longer than that.
 */
import pg from 'pg';
import { Kysely, PostgresDialect, sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow, OperationNodeTransformer, type RawNode } from 'kysely';
import { ContimgError } from '../error.js';
import { redactUrl as redact } from './target.js';
import { MIGRATION_TABLE, pendingOf, unknownMigrations, type Migrations } from './dialect.js';

export interface PostgresOptions {
  /** The schema this database lives in (created if missing). */
  schema: string;
  /** Connections in the pool (default 4). */
  maxConnections?: number;
  /** Do not migrate: a schema behind the code is an error naming `contimg db migrate`. */
  readonly?: boolean;
  /** Seconds a session may sit idle inside a transaction before the server ends it (default 60). */
  idleInTransactionS?: number;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** `pg`'s type parsers, with 64-bit integers and numerics as numbers. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`${name}: not a plain lower-case SQL identifier`);
  return `"${name}"`;
}

export async function openPostgres<DB>(url: string, opts: PostgresOptions): Promise<Kysely<DB>> {
  const schema = quoteIdent(opts.schema);
  const idleS = opts.idleInTransactionS ?? 60;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.maxConnections ?? 4,
    types: TYPES,
    // The search path makes the schema this database's namespace; `public` stays visible after
    // it only for the queue, which lives there.
    options: `-c search_path=${schema} -c idle_in_transaction_session_timeout=${Math.round(idleS * 1000)}`,
  });
  // An idle pooled connection the server ended (restart, idle timeout) must not crash the process.
  pool.on('error', () => undefined);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  try {
    await db.connection().execute(async (c) => {
      await sql`SELECT 1`.execute(c);
    });
  } catch (err) {
    await db.destroy();
    throw new ContimgError('DB_UNREACHABLE', `${redact(url)}: cannot connect to PostgreSQL: ${(err as Error).message}`);
  }
  return db;
}

/** Opens and migrates (or, readonly, checks) one contimg database in its schema. */
export async function openPostgresMigrated<DB>(url: string, migrations: Migrations, opts: PostgresOptions): Promise<Kysely<DB>> {
  const db = await openPostgres<DB>(url, opts);
  try {
    if (opts.readonly) {
      const pending = await pendingIn(db as Kysely<any>, migrations, url, opts.schema);
      if (pending.length > 0) {
        throw new ContimgError('DB_NOT_MIGRATED', `${redact(url)} (schema ${opts.schema}): migrations ${pending.join(', ')} have not run; run \`contimg db migrate\``);
      }
    } else await migratePostgres(db as Kysely<any>, migrations, url, opts.schema);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

async function doneIn(db: Kysely<any>, schema: string): Promise<Set<string>> {
  const has = await sql<{ n: number }>`SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = ${schema} AND table_name = ${MIGRATION_TABLE}`.execute(db);
  if (Number(has.rows[0]?.n ?? 0) === 0) return new Set();
  const rows = await sql<{ name: string }>`SELECT name FROM ${sql.table(`${schema}.${MIGRATION_TABLE}`)}`.execute(db);
  return new Set(rows.rows.map((r) => r.name));
}

async function pendingIn(db: Kysely<any>, migrations: Migrations, url: string, schema: string): Promise<string[]> {
  const done = await doneIn(db, schema);
  const unknown = unknownMigrations(done, migrations);
  if (unknown.length > 0) throw new ContimgError('DB_NEWER', `${redact(url)} (schema ${schema}): the database has migration ${unknown.join(', ')}, which this contimg does not know; it was written by a newer version`);
  return pendingOf(done, migrations);
}

async function migratePostgres(db: Kysely<any>, migrations: Migrations, url: string, schema: string): Promise<void> {
  if ((await pendingIn(db, migrations, url, schema)).length === 0) return;
  await db.transaction().execute((tx) => migrateWithin(tx, migrations, url, schema));
}

/**
 * Runs the pending migrations of `schema` inside the caller's transaction `tx` (whose search path
 * must name `schema`), under the same advisory lock as opening does. `contimg db copy` uses it so
 * that a destination's schema and its rows commit together, or not at all.
 */
export async function migrateWithin(tx: Kysely<any>, migrations: Migrations, url: string, schema: string): Promise<string[]> {
  let current = '(migration record)';
  const ran: string[] = [];
  try {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`contimg-migrate:${schema}`}))`.execute(tx);
    await sql.raw(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`).execute(tx);
    await sql`CREATE TABLE IF NOT EXISTS ${sql.table(`${schema}.${MIGRATION_TABLE}`)} (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL)`.execute(tx);
    const ddl = tx.withPlugin(new SqliteTypesToPostgres());
    // Read again under the lock: another host may have just done the work.
    for (const name of await pendingIn(tx, migrations, url, schema)) {
      current = name;
      await migrations[name]!.up(ddl, 'postgres');
      await sql`INSERT INTO ${sql.table(`${schema}.${MIGRATION_TABLE}`)} (name, timestamp) VALUES (${name}, ${new Date().toISOString()})`.execute(tx);
      ran.push(name);
    }
  } catch (err) {
    if (err instanceof ContimgError) throw err;
    throw new ContimgError('DB_MIGRATION_FAILED', `${redact(url)} (schema ${schema}): migration ${current} failed: ${(err as Error).message}`);
  }
  return ran;
}

/** Rewrites the SQLite column types of raw DDL (`sql\`CREATE TABLE …\``) into PostgreSQL's. */
class SqliteTypesToPostgres implements KyselyPlugin {
  private readonly transformer = new (class extends OperationNodeTransformer {
    protected override transformRaw(node: RawNode): RawNode {
      const head = node.sqlFragments.join(' ').trimStart().slice(0, 12).toUpperCase();
      if (!head.startsWith('CREATE') && !head.startsWith('ALTER')) return node;
      return { ...node, sqlFragments: node.sqlFragments.map(toPostgresTypes) };
    }
  })();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.transformer.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

export function toPostgresTypes(ddl: string): string {
  return ddl
    .replace(/\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b/gi, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
    .replace(/\bREAL\b/g, 'DOUBLE PRECISION')
    .replace(/\bINTEGER\b/g, 'BIGINT');
}
