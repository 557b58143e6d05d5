/**
 * `contimg migrate`, as a library: open a migration on a layout, then plan, run, roll back,
 * verify or report. Writing operations hold `<data>/state/migrate.lock`; reading ones change
 * nothing on disk (not even creating the journal).
 */
import {
  LEGACY_MAPPING,
  acquireLock,
  sameFileSystem,
  type Layout,
  type LayoutState,
  type LegacyRule,
  type RelocateState,
  type SameFileSystem,
  type WriteMode,
} from '../layout/index.js';
import { openRegistries, type Registries } from '../registry/index.js';
import { Journal, PHASES, type Action, type ActionName, type Bases, type Phase, type PhaseStatus } from './journal.js';
import {
  describeAction,
  planPhase1,
  planPhase2,
  planPhase3,
  planPhase4,
  predictPhase4,
  rollbackPhase,
  runPhase,
  type MigrateEnv,
  type PhaseOutcome,
  type PhaseProgress,
} from './phases.js';
import { readMsFacts, scanLegacy, type MsReader } from './scan.js';
import { verifyLayout, type Verification } from './verify.js';

export { parsePhase, PHASES, type Phase, type PhaseStatus, type Action } from './journal.js';
export type { PhaseOutcome, PhaseProgress } from './phases.js';
export type { Verification } from './verify.js';
export { readMsFacts, type MsFacts } from './scan.js';

export const PHASE_TITLES: Readonly<Record<Phase, string>> = {
  1: 'new tree beside the old, dual-write, compatibility links',
  2: 'switch writers and registration to the new layout; register legacy data',
  3: 'move the data, rewrite registry references, verify',
  4: 'remove the legacy tree and the links',
};

export interface MigrationOptions {
  layout: Layout;
  /** Read-only (plan, status, verify) or writing (run, rollback). */
  mode: 'read' | 'write';
  /** Injectable for tests: decides rename vs copy-verify-delete. */
  sameFs?: SameFileSystem;
  readMs?: MsReader;
  /** The command line, recorded in the layout state and the lock. */
  setBy?: string;
}

export interface PlannedAction {
  action: Action;
  description: string;
  /** Progress, for actions from the journal. */
  state?: RelocateState;
}

export interface PlannedPhase {
  phase: Phase;
  title: string;
  status: PhaseStatus;
  /**
   * `journal`: what the phase decided when it started, with each action's progress; `rollback`:
   * the rollback in progress; `predicted`: what it would do if it ran now.
   */
  source: 'journal' | 'rollback' | 'predicted';
  actions: PlannedAction[];
  problems: string[];
}

export interface MigrationPlan {
  bases: Bases;
  writeMode: WriteMode;
  phases: PlannedPhase[];
  /** Top-level entries of the legacy base that belong to neither layout (left alone). */
  ignored: string[];
  mapping: readonly LegacyRule[];
}

export interface ActionCounts {
  total: number;
  pending: number;
  verified: number;
  done: number;
  byAction: Partial<Record<ActionName, { total: number; done: number }>>;
}

export interface PhaseSummary {
  phase: Phase;
  title: string;
  status: PhaseStatus;
  startedAt: string | null;
  finishedAt: string | null;
  actions: ActionCounts;
  rollback?: ActionCounts;
  verification?: Verification;
  items?: PlannedAction[];
}

export interface MigrationStatus {
  bases: Bases;
  writeMode: WriteMode;
  layoutState: LayoutState | null;
  phases: PhaseSummary[];
  /** What to run next, or null when the migration is complete. */
  next: string | null;
}

function counts(items: { state: RelocateState; action: Action }[]): ActionCounts {
  const c: ActionCounts = { total: items.length, pending: 0, verified: 0, done: 0, byAction: {} };
  for (const it of items) {
    c[it.state]++;
    const b = (c.byAction[it.action.action] ??= { total: 0, done: 0 });
    b.total++;
    if (it.state === 'done') b.done++;
  }
  return c;
}

export class Migration {
  private constructor(
    readonly layout: Layout,
    private readonly journal: Journal,
    private readonly regs: Registries,
    private readonly env: Omit<MigrateEnv, 'journal' | 'regs' | 'layout'>,
    private readonly release: () => void,
  ) {}

  static async open(opts: MigrationOptions): Promise<Migration> {
    const { layout } = opts;
    const setBy = opts.setBy ?? 'contimg migrate';
    let release = () => {};
    if (opts.mode === 'write') release = acquireLock(layout.lockPath('migrate'), setBy);
    let journal: Journal | undefined;
    try {
      journal = await Journal.open(layout.migrationJournalPath, { readonly: opts.mode === 'read' });
      if (opts.mode === 'write') await journal.bind(Migration.basesOf(layout));
      const regs = await openRegistries(layout, { readonly: opts.mode === 'read' });
      return new Migration(layout, journal, regs, { sameFs: opts.sameFs ?? sameFileSystem, readMs: opts.readMs ?? ((p) => readMsFacts(p)), setBy }, release);
    } catch (e) {
      await journal?.close();
      release();
      throw e;
    }
  }

  private static basesOf(layout: Layout): Bases {
    return { stageBase: layout.roots.stageBase, dataBase: layout.roots.dataBase, legacyBase: layout.legacy.base };
  }

  async close(): Promise<void> {
    await this.regs.close();
    await this.journal.close();
    this.release();
  }

  private envWith(onProgress?: (p: PhaseProgress) => void): MigrateEnv {
    return { ...this.env, layout: this.layout, journal: this.journal, regs: this.regs, onProgress };
  }

  run(phase: Phase, onProgress?: (p: PhaseProgress) => void): Promise<PhaseOutcome> {
    return runPhase(this.envWith(onProgress), phase);
  }

  rollback(phase: Phase, onProgress?: (p: PhaseProgress) => void): Promise<PhaseOutcome> {
    return rollbackPhase(this.envWith(onProgress), phase);
  }

  /** What every phase would do, file by file (or, for phases under way or done, what they did). */
  async plan(): Promise<MigrationPlan> {
    const scan = scanLegacy(this.layout, this.env.readMs);
    const phases: PlannedPhase[] = [];
    let phase3Actions: Action[] = [];
    // Phase 3's prediction assumes the directories phase 1 makes exist.
    const willExist = new Set<string>();
    for (const phase of PHASES) {
      const status = await this.journal.phaseStatus(phase);
      const base = { phase, title: PHASE_TITLES[phase], status };
      if (status !== 'not-started') {
        const items = await this.journal.items(phase, status === 'rolling-back' ? 'rollback' : 'forward');
        if (phase === 3) phase3Actions = (await this.journal.items(3)).map((i) => i.action);
        phases.push({
          ...base,
          source: status === 'rolling-back' ? 'rollback' : 'journal',
          actions: items.map((i) => ({ action: i.action, description: describeAction(i.action), state: i.state })),
          problems: [],
        });
        continue;
      }
      const phase3Done = (await this.journal.phaseStatus(3)) === 'done';
      const p =
        phase === 1
          ? planPhase1(this.layout)
          : phase === 2
            ? await planPhase2(this.regs, scan)
            : phase === 3
              ? planPhase3(this.layout, this.env.sameFs, scan, willExist)
              : phase3Done
                ? planPhase4(this.layout, scan)
                : predictPhase4(this.layout, scan, phase3Actions);
      if (phase === 1) for (const a of p.actions) if (a.action === 'mkdir') willExist.add(a.dst);
      if (phase === 3) phase3Actions = p.actions;
      phases.push({ ...base, source: 'predicted', actions: p.actions.map((a) => ({ action: a, description: describeAction(a) })), problems: p.problems });
    }
    return { bases: Migration.basesOf(this.layout), writeMode: this.layout.writeMode, phases, ignored: scan.ignored, mapping: LEGACY_MAPPING };
  }

  async status(opts: { items?: boolean } = {}): Promise<MigrationStatus> {
    const phases: PhaseSummary[] = [];
    let next: string | null = null;
    for (const phase of PHASES) {
      const row = await this.journal.phaseRow(phase);
      const status: PhaseStatus = row?.status ?? 'not-started';
      const forward = await this.journal.items(phase, 'forward');
      const rollback = await this.journal.items(phase, 'rollback');
      const s: PhaseSummary = {
        phase,
        title: PHASE_TITLES[phase],
        status,
        startedAt: row?.started_at ?? null,
        finishedAt: row?.finished_at ?? null,
        actions: counts(forward),
        ...(rollback.length ? { rollback: counts(rollback) } : {}),
        ...(row?.verification ? { verification: JSON.parse(row.verification) as Verification } : {}),
        ...(opts.items ? { items: [...forward, ...rollback].map((i) => ({ action: i.action, description: describeAction(i.action), state: i.state })) } : {}),
      };
      phases.push(s);
      if (next === null && status !== 'done') {
        next = status === 'rolling-back' ? `contimg migrate rollback --phase ${phase}` : `contimg migrate run --phase ${phase}`;
      }
    }
    const journalBases = await this.journal.bases();
    const bases = { ...Migration.basesOf(this.layout), ...journalBases } as Bases;
    return { bases, writeMode: this.layout.writeMode, layoutState: this.layout.state, phases, next };
  }

  async verify(opts: { checksums?: boolean } = {}): Promise<Verification> {
    const migrated = (await this.journal.phaseStatus(3)) !== 'not-started';
    return verifyLayout(this.layout, this.regs, this.journal, { migrated, checksums: opts.checksums });
  }
}
