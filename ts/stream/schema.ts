/**
 * The streaming queue database (seed 000, DESIGN.md §4): the one source of truth for its tables,
 * the TypeScript types Kysely checks queries against, and the numbered migrations that build it.
 *
 * Compatibility is the point of this schema. The operator queries printed in seed 000 (and its
 * manual requeue `UPDATE`) run unchanged against it with the `sqlite3` CLI, and a database written
 * by the Python service it replaces is adopted in place: migration 0001 *is* that service's
 * schema (created only where missing), and later migrations only add columns, indexes and
 * triggers, never rename or drop, so nothing an operator or an older tool reads goes away.
 *
 * Units. Every instant (`*_at`, `last_update`) is Unix time in seconds as a REAL, as the Python
 * service stored it, so `ORDER BY received_at` sorts by arrival and
 * `datetime(received_at, 'unixepoch')` reads it. The `*_time` columns of `performance_metrics`
 * are durations in seconds. Sizes are bytes (`size_bytes`).
 */
import { sql, type ColumnType, type Kysely } from 'kysely';
import type { Dialect, Migrations } from '../db/dialect.js';

/** A group's life: collecting → pending → in_progress → completed | failed. */
export const GROUP_STATES = ['collecting', 'pending', 'in_progress', 'completed', 'failed'] as const;
export type GroupState = (typeof GROUP_STATES)[number];

/**
 * What a group is doing within its state. `collecting` until first claimed (the seed's manual
 * requeue also writes it back); `processing_fresh` for a first conversion; `resuming` for a
 * restarted one, kept through completion so operators can tell the two apart.
 */
export const PROCESSING_STAGES = ['collecting', 'processing_fresh', 'resuming'] as const;
export type ProcessingStage = (typeof PROCESSING_STAGES)[number];
/** The Python service wrote this on completion; contimg reads it but never writes it. */
export type LegacyProcessingStage = 'completed';
/** A stage while a worker holds the group. */
export type ClaimStage = Exclude<ProcessingStage, 'collecting'>;

/** Unix time, seconds (REAL in SQLite). */
export type UnixSeconds = number;

/** `ingest_queue`: one row per group of subband files, named by its earliest timestamp. */
export interface IngestQueueTable {
  /** `YYYY-MM-DDTHH:MM:SS` (UTC): the earliest subband timestamp of the group. */
  group_id: string;
  state: GroupState;
  /** When the group's first file was registered. */
  received_at: UnixSeconds;
  /** Last state change, registration or conversion progress (the stale-claim clock). */
  last_update: UnixSeconds;
  /** Failed attempts so far (a conversion error, or a claim that stopped making progress). */
  retry_count: ColumnType<number, number | undefined, number>;
  /**
   * Times the group was taken back from a claiming process that died (SIGKILL, OOM, power cut):
   * counted apart from `retry_count`, against `--max-crash-recoveries`, so service crashes do
   * not spend the group's retry budget while a group that kills its worker every time still fails.
   */
  crash_recoveries: ColumnType<number, number | undefined, number>;
  /** The last failure: error code, message naming the file, and cause. */
  error: string | null;
  /** Where the converter keeps this group's resumable checkpoint (with `--checkpoint-dir`). */
  checkpoint_path: string | null;
  processing_stage: ColumnType<ProcessingStage | LegacyProcessingStage | null, ProcessingStage | undefined, ProcessingStage>;
  /** `--chunk-duration` (minutes) when the group was created. */
  chunk_minutes: number | null;
  /** Subbands that make this group complete. */
  expected_subbands: ColumnType<number, number | undefined, number>;
  /** The claiming process: host name, pid, and an identity of its start (pid reuse). */
  claimed_by_host: string | null;
  claimed_by_pid: number | null;
  claimed_by_start: string | null;
  claimed_at: UnixSeconds | null;
  /** A failed group is not claimed again before this (retry backoff). */
  next_attempt_at: UnixSeconds | null;
  /** The fencing token: incremented by every claim; a claimer's writes are conditional on it. */
  claim_token: ColumnType<number, number | undefined, number>;
  /** The claim's lease: past this, any process may take the group back (null when unclaimed). */
  lease_expires_at: UnixSeconds | null;
  /** The claiming worker's name (`--worker-name`; default host:pid). */
  claimed_by_worker: string | null;
}

/** `subband_files`: the files of each group, one per subband. */
export interface SubbandFilesTable {
  group_id: string;
  subband_idx: number;
  path: string;
  /** Size when registered (null for rows written by the Python service). */
  size_bytes: number | null;
  /** When the file was registered (null for rows written by the Python service). */
  arrived_at: UnixSeconds | null;
  /** The timestamp in the file's name, which each correlator node stamps with its own clock. */
  stamped_at: UnixSeconds | null;
  /** Modification time when registered (ms since the epoch; null for older rows): a corrected file is noticed by it. */
  mtime_ms: number | null;
}

/** `performance_metrics`: per-stage durations (seconds) of a group's successful conversion. */
export interface PerformanceMetricsTable {
  group_id: string;
  load_time: number | null;
  phase_time: number | null;
  write_time: number | null;
  total_time: number | null;
  recorded_at: UnixSeconds;
  /** `--profile`: finer timings (stage name → seconds) as a JSON object. */
  detail_json: string | null;
}

export interface StreamDb {
  ingest_queue: IngestQueueTable;
  subband_files: SubbandFilesTable;
  performance_metrics: PerformanceMetricsTable;
}

/**
 * Every column of the current schema. `satisfies` makes the compiler insist that this lists
 * exactly the columns of the TypeScript tables above; a test checks it against the database the
 * migrations build, so types and DDL cannot drift apart.
 */
export const SCHEMA_COLUMNS = {
  ingest_queue: {
    group_id: true, state: true, received_at: true, last_update: true, retry_count: true, error: true,
    checkpoint_path: true, processing_stage: true, chunk_minutes: true, expected_subbands: true,
    claimed_by_host: true, claimed_by_pid: true, claimed_by_start: true, claimed_at: true, next_attempt_at: true,
    crash_recoveries: true, claim_token: true, lease_expires_at: true, claimed_by_worker: true,
  } satisfies Record<keyof IngestQueueTable, true>,
  subband_files: {
    group_id: true, subband_idx: true, path: true, size_bytes: true, arrived_at: true, stamped_at: true, mtime_ms: true,
  } satisfies Record<keyof SubbandFilesTable, true>,
  performance_metrics: {
    group_id: true, load_time: true, phase_time: true, write_time: true, total_time: true, recorded_at: true, detail_json: true,
  } satisfies Record<keyof PerformanceMetricsTable, true>,
} as const;

async function columnsOf(db: Kysely<any>, table: string, dialect: Dialect = 'sqlite'): Promise<Set<string>> {
  const r =
    dialect === 'postgres'
      ? await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ${table}`.execute(db)
      : await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`.execute(db);
  return new Set(r.rows.map((c) => c.name));
}

/**
 * Runs a migration's body. The bodies once took the write lock here themselves; ts/db/sqlite.ts
 * now runs every pending migration inside one `BEGIN IMMEDIATE` transaction, which both
 * serialises two services opening one database and makes the DDL atomic. Each body is still
 * written to be a no-op where its changes are already there (a database of the Python service).
 */
async function locked(_db: Kysely<any>, body: () => Promise<void>): Promise<void> {
  await body();
}

/**
 * The migrations, frozen in time: each takes `Kysely<any>` and must never change once released,
 * because databases in the field record which of them they have run.
 */
export const STREAM_MIGRATIONS: Migrations = {
  /**
   * The Python streaming service's schema, verbatim, created where missing. A database that
   * service wrote already has these tables; the oldest of its versions lacked the three columns
   * its own `_migrate_schema` added later, so they are added here the same way.
   */
  '0001_python_service_schema': {
    async up(db: Kysely<any>, dialect: Dialect) {
      await locked(db, async () => {
        await sql`CREATE TABLE IF NOT EXISTS ingest_queue (
            group_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            received_at REAL NOT NULL,
            last_update REAL NOT NULL,
            retry_count INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            checkpoint_path TEXT,
            processing_stage TEXT DEFAULT 'collecting',
            chunk_minutes REAL
          )`.execute(db);
        await sql`CREATE TABLE IF NOT EXISTS subband_files (
            group_id TEXT NOT NULL,
            subband_idx INTEGER NOT NULL,
            path TEXT NOT NULL,
            PRIMARY KEY (group_id, subband_idx)
          )`.execute(db);
        await sql`CREATE TABLE IF NOT EXISTS performance_metrics (
            group_id TEXT NOT NULL,
            load_time REAL,
            phase_time REAL,
            write_time REAL,
            total_time REAL,
            recorded_at REAL NOT NULL,
            PRIMARY KEY (group_id)
          )`.execute(db);
        // The dialect matters: PostgreSQL has no pragma_table_info (without it, no queue could open there).
        const have = await columnsOf(db, 'ingest_queue', dialect);
        if (!have.has('checkpoint_path')) await sql`ALTER TABLE ingest_queue ADD COLUMN checkpoint_path TEXT`.execute(db);
        if (!have.has('processing_stage')) {
          await sql`ALTER TABLE ingest_queue ADD COLUMN processing_stage TEXT DEFAULT 'collecting'`.execute(db);
          await sql`UPDATE ingest_queue SET processing_stage = 'collecting' WHERE processing_stage IS NULL`.execute(db);
        }
        if (!have.has('chunk_minutes')) await sql`ALTER TABLE ingest_queue ADD COLUMN chunk_minutes REAL`.execute(db);
      });
    },
  },

  /**
   * What the contimg service adds: claim ownership (so a restart can tell a dead claimer's work
   * from a live one's), retry backoff, per-file size/arrival/name time, profile detail, the
   * indexes its queries need, and triggers that refuse a misspelt state or stage, including in
   * an operator's hand-written `UPDATE`.
   */
  '0002_stream_service': {
    async up(db: Kysely<any>, dialect: Dialect) {
      await locked(db, async () => {
        const add = async (table: string, column: string, ddl: string) => {
          if (!(await columnsOf(db, table, dialect)).has(column)) await sql.raw(`ALTER TABLE ${table} ADD COLUMN ${column} ${ddl}`).execute(db);
        };
        await add('ingest_queue', 'expected_subbands', 'INTEGER NOT NULL DEFAULT 16');
        await add('ingest_queue', 'claimed_by_host', 'TEXT');
        await add('ingest_queue', 'claimed_by_pid', 'INTEGER');
        await add('ingest_queue', 'claimed_by_start', 'TEXT');
        await add('ingest_queue', 'claimed_at', 'REAL');
        await add('ingest_queue', 'next_attempt_at', 'REAL');
        await add('subband_files', 'size_bytes', 'INTEGER');
        await add('subband_files', 'arrived_at', 'REAL');
        await add('subband_files', 'stamped_at', 'REAL');
        await add('performance_metrics', 'detail_json', 'TEXT');
        // Rows from the Python service: the name time is in the path (…/YYYY-MM-DDTHH:MM:SS_sbNN.hdf5,
        // 29 characters from the end); strftime gives NULL for anything else.
        // (A PostgreSQL queue is always new: it holds no rows of the Python service.)
        if (dialect === 'sqlite') {
          await sql`UPDATE subband_files
                       SET stamped_at = CAST(strftime('%s', substr(path, -29, 19)) AS REAL)
                     WHERE stamped_at IS NULL`.execute(db);
        }
        await sql`CREATE INDEX IF NOT EXISTS idx_ingest_queue_state_received ON ingest_queue (state, received_at)`.execute(db);
        await sql`CREATE INDEX IF NOT EXISTS idx_subband_files_path ON subband_files (path)`.execute(db);
        await sql`CREATE INDEX IF NOT EXISTS idx_performance_metrics_recorded ON performance_metrics (recorded_at)`.execute(db);
        const states = `'collecting', 'pending', 'in_progress', 'completed', 'failed'`;
        const stages = `'collecting', 'processing_fresh', 'resuming'`;
        if (dialect === 'postgres') {
          // PostgreSQL checks the same rule with constraints (SQLite cannot add one to a table).
          await sql.raw(`ALTER TABLE ingest_queue ADD CONSTRAINT ingest_queue_state_check CHECK (state IN (${states}))`).execute(db);
          await sql.raw(`ALTER TABLE ingest_queue ADD CONSTRAINT ingest_queue_stage_check CHECK (processing_stage IS NULL OR processing_stage IN (${stages}))`).execute(db);
          return;
        }
        for (const [name, event, column, allowed, what] of [
          ['trg_ingest_queue_state_insert', 'INSERT', 'state', states, 'state'],
          ['trg_ingest_queue_state_update', 'UPDATE OF state', 'state', states, 'state'],
          ['trg_ingest_queue_stage_insert', 'INSERT', 'processing_stage', stages, 'processing_stage'],
          ['trg_ingest_queue_stage_update', 'UPDATE OF processing_stage', 'processing_stage', stages, 'processing_stage'],
        ] as const) {
          const nullOk = column === 'processing_stage' ? `NEW.${column} IS NOT NULL AND ` : '';
          await sql
            .raw(
              `CREATE TRIGGER IF NOT EXISTS ${name} BEFORE ${event} ON ingest_queue
                 WHEN ${nullOk}NEW.${column} NOT IN (${allowed})
                 BEGIN SELECT RAISE(ABORT, 'ingest_queue.${what} must be one of ${allowed.replace(/'/g, '')}'); END`,
            )
            .execute(db);
        }
      });
    },
  },

  /** Deaths of the claiming process, counted apart from failed attempts (issue 11). */
  '0003_crash_recoveries': {
    async up(db: Kysely<any>, dialect: Dialect) {
      if (!(await columnsOf(db, 'ingest_queue', dialect)).has('crash_recoveries')) {
        await sql`ALTER TABLE ingest_queue ADD COLUMN crash_recoveries INTEGER NOT NULL DEFAULT 0`.execute(db);
      }
    },
  },

  /** Each file's modification time at registration, so a corrected file that replaces it is noticed. */
  '0004_subband_mtime': {
    async up(db: Kysely<any>, dialect: Dialect) {
      if (!(await columnsOf(db, 'subband_files', dialect)).has('mtime_ms')) await sql`ALTER TABLE subband_files ADD COLUMN mtime_ms REAL`.execute(db);
    },
  },

  /**
   * Leases with a fencing token (issue 14): a claim holds its group until `lease_expires_at`, and
   * the worker renews it while it runs. Every claim increments `claim_token`, and every write a
   * claimer makes is conditional on its token, so a worker whose lease expired and whose group was
   * claimed again can no longer change the group, however late it wakes.
   */
  '0005_leases': {
    async up(db: Kysely<any>) {
      await sql`ALTER TABLE ingest_queue ADD COLUMN claim_token INTEGER NOT NULL DEFAULT 0`.execute(db);
      await sql`ALTER TABLE ingest_queue ADD COLUMN lease_expires_at REAL`.execute(db);
      await sql`ALTER TABLE ingest_queue ADD COLUMN claimed_by_worker TEXT`.execute(db);
    },
  },
};

/** The name of the newest migration: what `contimg status` reports as the schema version. */
export const LATEST_MIGRATION = Object.keys(STREAM_MIGRATIONS).sort().at(-1)!;
