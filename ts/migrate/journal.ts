/**
 * The migration's on-disk journal (`<data>/state/migration.sqlite3`): which phases ran, and for
 * each phase the list of actions it decided on before changing anything, with each action's
 * progress. A phase stores its whole plan first, in one transaction, then works through it; a
 * process killed at any moment reruns the same plan from where it stopped, so an interrupted run
 * ends exactly where an uninterrupted one would.
 */
import { existsSync } from 'node:fs';
import { sql, type Generated, type Kysely, type Selectable } from 'kysely';
import { openSqlite, type Migrations } from '../db/sqlite.js';
import { ContimgError } from '../error.js';
import type { CalTableType, DataType, LegacyCategory, MsKind, RelocateMethod, RelocateState, UtcDate, WriteMode } from '../layout/index.js';
import type { MsFacts } from './scan.js';

import { PHASES, parsePhase, type Phase } from './phase-number.js';

export { PHASES, parsePhase, type Phase };

/** A phase that has no row has not started (or was rolled back). */
export type PhaseStatus = 'not-started' | 'in-progress' | 'done' | 'rolling-back';
export type Direction = 'forward' | 'rollback';

/** Facts phase 2 registers a legacy item with. */
export interface RegisterDetail {
  ms?: MsFacts;
  groupId?: string;
  calTableType?: CalTableType;
}

/**
 * One action of a phase, as planned. `src` is where something is now, `dst` where it goes (or
 * what a link points at).
 */
export type Action =
  | { action: 'mkdir'; dst: string }
  | { action: 'link'; src: string; dst: string }
  | { action: 'set-write-mode'; mode: WriteMode }
  | { action: 'register'; src: string; dst: string; category: LegacyCategory; dataType: DataType; kind: MsKind | null; obsDate: UtcDate; detail: RegisterDetail }
  | { action: 'unregister'; src: string; dataType: DataType }
  | {
      action: 'move';
      src: string;
      dst: string;
      category: LegacyCategory;
      method: RelocateMethod;
      note?: string;
      /** Rollback of a copy that was verified: the original place may hold a partial leftover. */
      reverseOfVerifiedCopy?: boolean;
    }
  | { action: 'retarget'; src: string; dst: string }
  | { action: 'verify' }
  | { action: 'unlink'; src: string; dst: string }
  /** `ifEmpty`: keep a directory that still holds something (rollback of phase 1); else it is an error. */
  | { action: 'rmdir'; src: string; ifEmpty?: boolean };

export type ActionName = Action['action'];

export interface JournalItem {
  id: number;
  phase: Phase;
  direction: Direction;
  seq: number;
  state: RelocateState;
  action: Action;
  /** How a move was done, and what it copied. */
  method: RelocateMethod | null;
  checksum: string | null;
  sizeBytes: number | null;
}

interface MetaTable {
  key: string;
  value: string;
}
interface PhasesTable {
  phase: Phase;
  status: Exclude<PhaseStatus, 'not-started'>;
  started_at: string;
  finished_at: string | null;
  verification: string | null;
}
interface ItemsTable {
  id: Generated<number>;
  phase: Phase;
  direction: Direction;
  seq: number;
  action: ActionName;
  src: string | null;
  dst: string | null;
  /** The rest of the action (JSON), so that one column holds one kind of thing. */
  payload: string;
  state: RelocateState;
  method: RelocateMethod | null;
  checksum: string | null;
  size_bytes: number | null;
  updated_at: string;
}
interface JournalDB {
  migration_meta: MetaTable;
  migration_phases: PhasesTable;
  migration_items: ItemsTable;
}

const MIGRATIONS: Migrations = {
  '0001_journal': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE migration_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`.execute(db);
      await sql`CREATE TABLE migration_phases (
        phase INTEGER PRIMARY KEY CHECK (phase BETWEEN 1 AND 4),
        status TEXT NOT NULL CHECK (status IN ('in-progress', 'done', 'rolling-back')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        verification TEXT
      )`.execute(db);
      await sql`CREATE TABLE migration_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        phase INTEGER NOT NULL CHECK (phase BETWEEN 1 AND 4),
        direction TEXT NOT NULL CHECK (direction IN ('forward', 'rollback')),
        seq INTEGER NOT NULL,
        action TEXT NOT NULL,
        src TEXT,
        dst TEXT,
        payload TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'verified', 'done')),
        method TEXT CHECK (method IN ('rename', 'copy')),
        checksum TEXT,
        size_bytes INTEGER,
        updated_at TEXT NOT NULL,
        UNIQUE (phase, direction, seq)
      )`.execute(db);
    },
  },
};

function toRow(phase: Phase, direction: Direction, seq: number, a: Action): Omit<ItemsTable, 'id'> {
  const { action, ...rest } = a;
  const src = 'src' in a ? a.src : null;
  const dst = 'dst' in a ? a.dst : null;
  return {
    phase,
    direction,
    seq,
    action,
    src,
    dst,
    payload: JSON.stringify(rest),
    state: 'pending',
    method: a.action === 'move' ? a.method : null,
    checksum: null,
    size_bytes: null,
    updated_at: new Date().toISOString(),
  };
}

function fromRow(r: Selectable<ItemsTable>): JournalItem {
  const action = { action: r.action, ...(JSON.parse(r.payload) as object) } as Action;
  if (action.action === 'move' && r.method) action.method = r.method;
  return { id: r.id, phase: r.phase, direction: r.direction, seq: r.seq, state: r.state, action, method: r.method, checksum: r.checksum, sizeBytes: r.size_bytes };
}

export interface Bases {
  stageBase: string;
  dataBase: string;
  legacyBase: string;
}

export class Journal {
  private constructor(private readonly db: Kysely<JournalDB>) {}

  /**
   * Opens the journal. Read-only use (plan, status, verify) never creates it: a journal that does
   * not exist yet reads as an empty one.
   */
  static async open(file: string, opts: { readonly?: boolean } = {}): Promise<Journal> {
    if (opts.readonly) {
      const db = existsSync(file) ? await openSqlite<JournalDB>(file, MIGRATIONS, { readonly: true }) : await openSqlite<JournalDB>(':memory:', MIGRATIONS);
      return new Journal(db);
    }
    const db = await openSqlite<JournalDB>(file, MIGRATIONS);
    // Every step's record must survive a power cut, not only a killed process.
    await sql`PRAGMA synchronous = FULL`.execute(db);
    return new Journal(db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /**
   * Binds the journal to the trees it migrates on first use; later runs must name the same
   * trees (a migration half done on one tree and finished on another would lose track of data).
   */
  async bind(b: Bases): Promise<void> {
    const rows = await this.db.selectFrom('migration_meta').selectAll().execute();
    const have = new Map(rows.map((r) => [r.key, r.value]));
    if (have.size === 0) {
      await this.db
        .insertInto('migration_meta')
        .values(Object.entries(b).map(([key, value]) => ({ key, value })))
        .execute();
      return;
    }
    for (const [k, v] of Object.entries(b)) {
      if (have.get(k) !== v) {
        throw new ContimgError('MIGRATE_BASES', `this migration was started with ${k} ${have.get(k)}, not ${v}; pass the same bases (see \`contimg migrate status\`)`);
      }
    }
  }

  async bases(): Promise<Partial<Bases>> {
    const rows = await this.db.selectFrom('migration_meta').selectAll().execute();
    return Object.fromEntries(rows.map((r) => [r.key, r.value])) as Partial<Bases>;
  }

  async phaseStatus(phase: Phase): Promise<PhaseStatus> {
    const r = await this.db.selectFrom('migration_phases').select('status').where('phase', '=', phase).executeTakeFirst();
    return r?.status ?? 'not-started';
  }

  async phaseRow(phase: Phase) {
    return this.db.selectFrom('migration_phases').selectAll().where('phase', '=', phase).executeTakeFirst();
  }

  async items(phase: Phase, direction: Direction = 'forward'): Promise<JournalItem[]> {
    const rows = await this.db.selectFrom('migration_items').selectAll().where('phase', '=', phase).where('direction', '=', direction).orderBy('seq').execute();
    return rows.map(fromRow);
  }

  /**
   * Starts a phase (or a rollback) with its plan: the status and every action are written in one
   * transaction, so a journal never holds half a plan. Returns false when the phase had already
   * started (its stored plan stands; `actions` is ignored).
   */
  async begin(phase: Phase, direction: Direction, actions: () => Promise<Action[]> | Action[]): Promise<boolean> {
    const status = await this.phaseStatus(phase);
    const want = direction === 'forward' ? 'in-progress' : 'rolling-back';
    if (status === want) return false;
    const planned = await actions();
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('migration_items').where('phase', '=', phase).where('direction', '=', direction).execute();
      const rows = planned.map((a, i) => toRow(phase, direction, i, a));
      // In chunks: SQLite limits the number of bound values in one statement.
      for (let i = 0; i < rows.length; i += 500) await tx.insertInto('migration_items').values(rows.slice(i, i + 500)).execute();
      await tx
        .insertInto('migration_phases')
        .values({ phase, status: want, started_at: new Date().toISOString(), finished_at: null, verification: null })
        .onConflict((oc) => oc.column('phase').doUpdateSet({ status: want, started_at: new Date().toISOString(), finished_at: null }))
        .execute();
    });
    return true;
  }

  async setItemState(id: number, state: RelocateState, extra: { method?: RelocateMethod; checksum?: string; sizeBytes?: number } = {}): Promise<void> {
    await this.db
      .updateTable('migration_items')
      .set({
        state,
        updated_at: new Date().toISOString(),
        ...(extra.method ? { method: extra.method } : {}),
        ...(extra.checksum ? { checksum: extra.checksum } : {}),
        ...(extra.sizeBytes !== undefined ? { size_bytes: extra.sizeBytes } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  async recordVerification(phase: Phase, verification: unknown): Promise<void> {
    await this.db.updateTable('migration_phases').set({ verification: JSON.stringify(verification) }).where('phase', '=', phase).execute();
  }

  async finish(phase: Phase): Promise<void> {
    await this.db.updateTable('migration_phases').set({ status: 'done', finished_at: new Date().toISOString() }).where('phase', '=', phase).execute();
  }

  /** A finished rollback: the phase is as if it never ran (its items go too). */
  async finishRollback(phase: Phase): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('migration_items').where('phase', '=', phase).execute();
      await tx.deleteFrom('migration_phases').where('phase', '=', phase).execute();
    });
  }
}
