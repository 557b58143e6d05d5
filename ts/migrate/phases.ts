/**
 * The four phases of seed 004 and their rollbacks, as plans (lists of journal actions) and one
 * executor that works through a stored plan.
 *
 * Phase 1: create the new tree beside the old, switch writers to dual-write (new products in the
 *   new layout, shown at their legacy path by a symlink), and add those links for products already
 *   in the new layout.
 * Phase 2: switch writers to the new layout only (layout state `new`), and register every legacy
 *   product no registry knows yet, each MS with the time range read from the MS itself.
 * Phase 3: move everything out of the legacy tree (rename within a file system; copy, verify,
 *   delete across), rewriting registry references in the same step, leaving a compatibility link
 *   at each old path; then verify that every registered path resolves.
 * Phase 4: once that verification passes (again), remove the links and the legacy directories.
 *
 * Each phase stores its plan in the journal before it changes anything, and every action is
 * idempotent, so a phase killed at any moment and run again ends as an uninterrupted run would.
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../error.js';
import {
  atomicSymlink,
  faultPoint,
  isWithin,
  linkTarget,
  listDir,
  pathKind,
  relocate,
  relocateTempPath,
  removeLinkTo,
  removeTree,
  resolves,
  groupIdToEpochMs,
  epochMsToMjd,
  writeLayoutState,
  type Layout,
  type SameFileSystem,
} from '../layout/index.js';
import {
  registerCalTable,
  registerMs,
  registerProduct,
  rewriteRegistryPaths,
  type Registries,
} from '../registry/index.js';
import { checkpointForMove, isSqliteFile, rewriteLegacyDb } from './legacydb.js';
import type { Action, Direction, Journal, JournalItem, Phase } from './journal.js';
import { itemDataType, newTreeProducts, scanLegacy, type LegacyScan, type MsReader } from './scan.js';
import { legacyDatabases, verifyLayout, type Verification } from './verify.js';

export interface PhaseProgress {
  phase: Phase;
  direction: Direction;
  done: number;
  total: number;
  current: string;
}

export interface MigrateEnv {
  layout: Layout;
  journal: Journal;
  regs: Registries;
  sameFs: SameFileSystem;
  readMs: MsReader;
  /** The command line, recorded in the layout state. */
  setBy: string;
  onProgress?: (p: PhaseProgress) => void;
}

export interface PhasePlan {
  actions: Action[];
  /** Reasons the phase cannot run; each names a path. */
  problems: string[];
}

function refuse(phase: Phase, what: string, problems: string[]): ContimgError {
  return new ContimgError('MIGRATE_REFUSED', `phase ${phase} ${what}:\n  ${problems.join('\n  ')}`);
}

// ---- plans -----------------------------------------------------------------------------------

/**
 * `mkdir` actions for every directory that must be created to hold `dirs`, parents included, so
 * that a rollback can remove exactly those. The state directory and its parents are the
 * journal's, made before any phase runs.
 */
function mkdirs(layout: Layout, dirs: string[], willExist: ReadonlySet<string> = new Set()): Action[] {
  const made = new Set<string>(willExist);
  const actions: Action[] = [];
  for (const d of dirs) {
    const missing: string[] = [];
    for (let cur = d; pathKind(cur) === 'missing' && !isWithin(cur, layout.stateDir); cur = path.dirname(cur)) missing.unshift(cur);
    for (const m of missing) {
      if (!made.has(m)) actions.push({ action: 'mkdir', dst: m });
      made.add(m);
    }
  }
  return actions;
}

export function planPhase1(layout: Layout): PhasePlan {
  const actions: Action[] = mkdirs(layout, layout.skeletonDirs());
  const problems: string[] = [];
  // Writers switch first, so that anything converted from here on links itself; the links
  // below catch up with what is already in the new layout.
  actions.push({ action: 'set-write-mode', mode: 'dual-write' });
  for (const p of newTreeProducts(layout)) {
    const k = pathKind(p.legacyPath);
    if (k === 'missing') actions.push({ action: 'link', src: p.legacyPath, dst: p.path });
    else if (k !== 'symlink' || linkTarget(p.legacyPath) !== p.path) problems.push(`${p.path} cannot also be shown at ${p.legacyPath}: a ${k} is already there`);
  }
  return { actions, problems };
}

const DATA_ORDER = ['raw_ms', 'calibrated_ms', 'calibration_table', 'image', 'mosaic'] as const;

export async function planPhase2(regs: Registries, scan: LegacyScan): Promise<PhasePlan> {
  const actions: Action[] = [{ action: 'set-write-mode', mode: 'new' }];
  const problems = [...scan.problems];
  const items = scan.items.filter((i) => itemDataType(i)).sort((a, b) => DATA_ORDER.indexOf(itemDataType(a)!) - DATA_ORDER.indexOf(itemDataType(b)!));
  for (const it of items) {
    const dataType = itemDataType(it)!;
    const known = await regs.data.selectFrom('data_registry').select('id').where('path', '=', it.src).executeTakeFirst();
    if (known) continue;
    const name = path.basename(it.dst);
    const same = await regs.data.selectFrom('data_registry').select('path').where('data_type', '=', dataType).where('name', '=', name).executeTakeFirst();
    if (same) {
      problems.push(`${it.src}: a ${dataType} named ${name} is already registered at ${same.path}`);
      continue;
    }
    const cls = it.cls as Extract<typeof it.cls, { obsDate: unknown }>;
    actions.push({
      action: 'register',
      src: it.src,
      dst: it.dst,
      category: it.cls.category,
      dataType,
      kind: 'kind' in cls ? cls.kind : null,
      obsDate: cls.obsDate,
      detail: { ms: it.ms, groupId: it.groupId, calTableType: it.calTableType },
    });
  }
  return { actions, problems };
}

const MOVE_ORDER = ['state', 'raw_ms', 'calibrated_ms', 'calibration_table', 'image', 'mosaic', 'log', 'tmp', 'unsorted'] as const;

/** `willExist`: directories an earlier phase will have made (for a prediction made before it ran). */
export function planPhase3(layout: Layout, sameFs: SameFileSystem, scan: LegacyScan, willExist?: ReadonlySet<string>): PhasePlan {
  const move = (c: (typeof MOVE_ORDER)[number]): Action[] =>
    scan.items
      .filter((i) => i.cls.category === c)
      .map((i) => ({ action: 'move' as const, src: i.src, dst: i.dst, category: i.cls.category, method: sameFs(i.src, i.dst) ? ('rename' as const) : ('copy' as const), ...(i.note ? { note: i.note } : {}) }));
  // The old registries move first, so that every later move rewrites the paths inside them.
  const actions: Action[] = [
    ...mkdirs(layout, scan.items.map((i) => path.dirname(i.dst)), willExist),
    ...move('state'),
    ...scan.links.map((l): Action => ({ action: 'retarget', src: l.src, dst: l.target })),
    ...MOVE_ORDER.slice(1).flatMap(move),
    { action: 'verify' },
  ];
  return { actions, problems: [...scan.problems] };
}

/** Is `dir` a root of the new layout or above one (never removed)? */
function holdsNewLayout(layout: Layout, dir: string): boolean {
  return [...Object.values(layout.roots), ...layout.skeletonDirs()].some((r) => isWithin(dir, r));
}

export function planPhase4(layout: Layout, scan: LegacyScan): PhasePlan {
  const problems = [...scan.problems, ...scan.items.map((i) => `${i.src} is still in the legacy tree (run phase 3)`)];
  const actions: Action[] = [
    ...scan.links.map((l): Action => ({ action: 'unlink', src: l.src, dst: l.target })),
    ...scan.dirs.filter((d) => !holdsNewLayout(layout, d)).map((d): Action => ({ action: 'rmdir', src: d })),
  ];
  if (!holdsNewLayout(layout, layout.legacy.base)) actions.push({ action: 'rmdir', src: layout.legacy.base, ifEmpty: true });
  return { actions, problems };
}

/** What phase 4 will do once phase 3 has run: remove the links phase 3 leaves and the directories. */
export function predictPhase4(layout: Layout, scan: LegacyScan, phase3: Action[]): PhasePlan {
  const links: Action[] = [
    ...scan.links.map((l): Action => ({ action: 'unlink', src: l.src, dst: l.target })),
    ...phase3.flatMap((a): Action[] => (a.action === 'move' ? [{ action: 'unlink', src: a.src, dst: a.dst }] : [])),
  ];
  const actions: Action[] = [...links, ...scan.dirs.filter((d) => !holdsNewLayout(layout, d)).map((d): Action => ({ action: 'rmdir', src: d }))];
  if (!holdsNewLayout(layout, layout.legacy.base)) actions.push({ action: 'rmdir', src: layout.legacy.base, ifEmpty: true });
  return { actions, problems: [] };
}

export async function planRollback(env: MigrateEnv, phase: Phase): Promise<Action[]> {
  const { layout, journal } = env;
  switch (phase) {
    case 1: {
      // Products written in dual-write mode go back to their legacy paths (replacing the links),
      // then the directories phase 1 created go, where empty.
      const actions: Action[] = [{ action: 'set-write-mode', mode: 'legacy' }];
      for (const p of newTreeProducts(layout)) {
        if (pathKind(p.legacyPath) === 'symlink' && linkTarget(p.legacyPath) === p.path) {
          actions.push({ action: 'move', src: p.path, dst: p.legacyPath, category: p.category, method: env.sameFs(p.path, p.legacyPath) ? 'rename' : 'copy' });
        }
      }
      const made = (await journal.items(1)).filter((i) => i.action.action === 'mkdir').map((i) => (i.action as { dst: string }).dst);
      made.sort((a, b) => b.length - a.length);
      for (const d of made) actions.push({ action: 'rmdir', src: d, ifEmpty: true });
      return actions;
    }
    case 2: {
      const actions: Action[] = [{ action: 'set-write-mode', mode: 'dual-write' }];
      for (const p of newTreeProducts(layout)) if (pathKind(p.legacyPath) === 'missing') actions.push({ action: 'link', src: p.legacyPath, dst: p.path });
      for (const it of await journal.items(2)) {
        if (it.action.action === 'register') actions.push({ action: 'unregister', src: it.action.src, dataType: it.action.dataType });
      }
      return actions;
    }
    case 3: {
      const actions: Action[] = [];
      for (const it of (await journal.items(3)).reverse()) {
        const a = it.action;
        if (a.action === 'move') {
          actions.push({
            action: 'move',
            src: a.dst,
            dst: a.src,
            category: a.category,
            method: env.sameFs(a.dst, a.src) ? 'rename' : 'copy',
            ...(it.state === 'verified' ? { reverseOfVerifiedCopy: true } : {}),
          });
        } else if (a.action === 'retarget') actions.push({ action: 'retarget', src: a.dst, dst: a.src });
        else if (a.action === 'mkdir') actions.push({ action: 'rmdir', src: a.dst, ifEmpty: true });
      }
      return actions;
    }
    case 4:
      throw new ContimgError('MIGRATE_REFUSED', 'phase 4 removed the legacy tree: there is nothing to roll back to');
  }
}

// ---- execution -------------------------------------------------------------------------------

/** Rewrites references everywhere: our registries, and the archived old registries. */
async function rewriteEverywhere(env: MigrateEnv, from: string, to: string): Promise<void> {
  await rewriteRegistryPaths(env.regs, from, to);
  for (const db of legacyDatabases(env.layout)) rewriteLegacyDb(db, from, to);
}

async function registerLegacy(env: MigrateEnv, a: Extract<Action, { action: 'register' }>): Promise<void> {
  const { regs } = env;
  const group = a.detail.ms?.groupId ?? a.detail.groupId;
  const msOfGroup = async (kind?: 'calibrator') => {
    if (!group) return [];
    let q = regs.products.selectFrom('ms_index').select('path').where('group_id', '=', group);
    if (kind) q = q.where('kind', '=', kind);
    return (await q.execute()).map((r) => r.path);
  };
  switch (a.category) {
    case 'raw_ms': {
      const ms = a.detail.ms!;
      await registerMs(regs, { path: a.src, groupId: ms.groupId, startMjd: ms.startMjd, endMjd: ms.endMjd, pointingDecDeg: ms.pointingDecDeg, kind: a.kind ?? 'science', obsDate: a.obsDate });
      return;
    }
    case 'calibrated_ms':
      await registerProduct(regs, { dataType: 'calibrated_ms', path: a.src, name: path.basename(a.dst), obsDate: a.obsDate, inputs: { products: await msOfGroup() } });
      return;
    case 'calibration_table':
      // The old pipeline kept no validity: valid from the solution's group on, until superseded.
      await registerCalTable(regs, {
        path: a.src,
        groupId: group!,
        tableType: a.detail.calTableType!,
        validStartMjd: epochMsToMjd(groupIdToEpochMs(group!)),
        validEndMjd: null,
        obsDate: a.obsDate,
        solvedFrom: (await msOfGroup('calibrator'))[0],
      });
      return;
    case 'image': {
      const cal = group ? await regs.data.selectFrom('data_registry').select('path').where('data_type', '=', 'calibrated_ms').where('name', '=', `${group}_cal.ms`).executeTakeFirst() : undefined;
      await registerProduct(regs, { dataType: 'image', path: a.src, obsDate: a.obsDate, inputs: { products: cal ? [cal.path] : await msOfGroup() } });
      return;
    }
    case 'mosaic':
      await registerProduct(regs, { dataType: 'mosaic', path: a.src, obsDate: a.obsDate });
      return;
    default:
      throw new ContimgError('INTERNAL', `cannot register a ${a.category}`);
  }
}

async function unregister(env: MigrateEnv, src: string): Promise<void> {
  await env.regs.products.deleteFrom('ms_index').where('path', '=', src).execute();
  await env.regs.cal.deleteFrom('caltables').where('path', '=', src).execute();
  await env.regs.data.deleteFrom('data_registry').where('path', '=', src).execute();
}

async function moveItem(env: MigrateEnv, it: JournalItem, direction: Direction): Promise<void> {
  const a = it.action as Extract<Action, { action: 'move' }>;
  if (direction === 'rollback') {
    // Whatever the forward move left half-done: its temporary copy is not data, and if its copy was
    // verified, the original place may hold a partly deleted leftover of the verified data.
    removeTree(relocateTempPath(a.src));
    const fromReal = ['file', 'dir'].includes(pathKind(a.src));
    const toReal = ['file', 'dir'].includes(pathKind(a.dst));
    if (a.reverseOfVerifiedCopy && fromReal && toReal) removeTree(a.dst);
    if (pathKind(a.src) === 'missing' && toReal) {
      // Never moved: nothing to undo.
      await env.journal.setItemState(it.id, 'done');
      return;
    }
  }
  if (a.category === 'state' && isSqliteFile(a.src)) checkpointForMove(a.src);
  await relocate(
    { from: a.src, to: a.dst, state: it.state, leaveLink: direction === 'forward' },
    {
      sameFs: env.sameFs,
      setState: (state, info) => env.journal.setItemState(it.id, state, { method: info.method, checksum: info.checksum?.digest, sizeBytes: info.checksum?.bytes }),
      rewrite: (from, to) => rewriteEverywhere(env, from, to),
    },
  );
}

function removeDir(a: Extract<Action, { action: 'rmdir' }>): void {
  const k = pathKind(a.src);
  if (k === 'missing') return;
  if (k !== 'dir') throw new ContimgError('MIGRATE_REFUSED', `${a.src} is a ${k}, not a directory: refusing to remove it`);
  if (a.ifEmpty) {
    // Only directories that hold nothing but empty directories go.
    const prune = (d: string): boolean => {
      let empty = true;
      for (const n of listDir(d)) {
        const p = path.join(d, n);
        if (pathKind(p) === 'dir' && prune(p)) continue;
        empty = false;
      }
      if (empty) rmdirSync(d);
      return empty;
    };
    prune(a.src);
    return;
  }
  const left = listDir(a.src);
  if (left.length) throw new ContimgError('MIGRATE_REFUSED', `${a.src} is not empty (${left.slice(0, 5).join(', ')}${left.length > 5 ? ', …' : ''}): refusing to remove it`);
  rmdirSync(a.src);
}

async function executeItem(env: MigrateEnv, phase: Phase, direction: Direction, it: JournalItem): Promise<void> {
  const a = it.action;
  switch (a.action) {
    case 'mkdir':
      mkdirSync(a.dst, { recursive: true });
      break;
    case 'link':
      // A product deleted since the plan was made needs no link.
      if (resolves(a.dst)) atomicSymlink(a.src, a.dst);
      break;
    case 'set-write-mode':
      writeLayoutState(env.layout.roots.dataBase, { writeMode: a.mode, legacyBase: env.layout.legacy.base, setBy: env.setBy });
      break;
    case 'register':
      await registerLegacy(env, a);
      break;
    case 'unregister':
      await unregister(env, a.src);
      break;
    case 'move':
      await moveItem(env, it, direction);
      return;
    case 'retarget':
      // Our registries already name the link's target; the old registries learn it here.
      for (const db of legacyDatabases(env.layout)) rewriteLegacyDb(db, a.src, a.dst);
      break;
    case 'verify': {
      const v = await verifyLayout(env.layout, env.regs, env.journal, { migrated: true });
      await env.journal.recordVerification(phase, v);
      if (!v.ok) throw refuse(phase, 'verification failed', v.problems);
      break;
    }
    case 'unlink': {
      const k = pathKind(a.src);
      if (k === 'symlink' && !removeLinkTo(a.src, a.dst)) throw new ContimgError('MIGRATE_REFUSED', `${a.src} links to ${linkTarget(a.src)}, not ${a.dst}: refusing to remove it`);
      if (k !== 'symlink' && k !== 'missing') throw new ContimgError('MIGRATE_REFUSED', `${a.src} is a ${k}, not a link: refusing to remove it`);
      break;
    }
    case 'rmdir':
      removeDir(a);
      break;
    default: {
      const never: never = a;
      throw new ContimgError('INTERNAL', `unknown action ${JSON.stringify(never)}`);
    }
  }
  faultPoint(`${a.action}:applied`);
  await env.journal.setItemState(it.id, 'done');
  faultPoint(`${a.action}:journaled`);
}

export function describeAction(a: Action): string {
  switch (a.action) {
    case 'mkdir':
      return `mkdir ${a.dst}`;
    case 'link':
      return `link ${a.src} → ${a.dst}`;
    case 'set-write-mode':
      return `write mode := ${a.mode}`;
    case 'register':
      return `register ${a.dataType} ${a.src} (${a.obsDate}${a.kind ? `, ${a.kind}` : ''})`;
    case 'unregister':
      return `unregister ${a.src}`;
    case 'move':
      return `move (${a.method}) ${a.src} → ${a.dst}${a.note ? ` [${a.note}]` : ''}`;
    case 'retarget':
      return `retarget old registries ${a.src} → ${a.dst}`;
    case 'verify':
      return 'verify every registered path';
    case 'unlink':
      return `unlink ${a.src} (→ ${a.dst})`;
    case 'rmdir':
      return `rmdir ${a.src}${a.ifEmpty ? ' (if empty)' : ''}`;
  }
}

async function execute(env: MigrateEnv, phase: Phase, direction: Direction): Promise<number> {
  const items = await env.journal.items(phase, direction);
  let done = items.filter((i) => i.state === 'done').length;
  for (const it of items) {
    if (it.state === 'done') continue;
    env.onProgress?.({ phase, direction, done, total: items.length, current: describeAction(it.action) });
    await executeItem(env, phase, direction, it);
    done++;
  }
  env.onProgress?.({ phase, direction, done, total: items.length, current: 'done' });
  return items.length;
}

export interface PhaseOutcome {
  phase: Phase;
  direction: Direction;
  /** Nothing to do: already done (or, for a rollback, never run). */
  alreadyDone: boolean;
  resumed: boolean;
  actions: number;
  verification?: Verification;
}

export async function runPhase(env: MigrateEnv, phase: Phase): Promise<PhaseOutcome> {
  const { journal, layout } = env;
  const status = await journal.phaseStatus(phase);
  if (status === 'done') return { phase, direction: 'forward', alreadyDone: true, resumed: false, actions: 0 };
  if (status === 'rolling-back') {
    throw new ContimgError('MIGRATE_REFUSED', `phase ${phase} is being rolled back; finish that first (contimg migrate rollback --phase ${phase})`);
  }
  if (phase > 1 && (await journal.phaseStatus((phase - 1) as Phase)) !== 'done') {
    throw new ContimgError('MIGRATE_REFUSED', `phase ${phase - 1} has not finished; run it first (contimg migrate run --phase ${phase - 1})`);
  }
  let verification: Verification | undefined;
  if (phase === 4) {
    // Nothing is deleted unless phase 3's verification passes now, not only when it last ran.
    verification = await verifyLayout(layout, env.regs, journal, { migrated: true });
    if (!verification.ok) throw refuse(4, "cannot start: phase 3's verification fails", verification.problems);
  }
  const started = await journal.begin(phase, 'forward', async () => {
    const plan =
      phase === 1
        ? planPhase1(layout)
        : phase === 2
          ? await planPhase2(env.regs, scanLegacy(layout, env.readMs))
          : phase === 3
            ? planPhase3(layout, env.sameFs, scanLegacy(layout, env.readMs))
            : planPhase4(layout, scanLegacy(layout, env.readMs));
    if (plan.problems.length) throw refuse(phase, 'cannot start', plan.problems);
    return plan.actions;
  });
  faultPoint(`phase${phase}:planned`);
  const actions = await execute(env, phase, 'forward');
  await journal.finish(phase);
  faultPoint(`phase${phase}:finished`);
  if (phase === 3) {
    const row = await journal.phaseRow(3);
    verification = row?.verification ? (JSON.parse(row.verification) as Verification) : undefined;
  }
  return { phase, direction: 'forward', alreadyDone: false, resumed: !started, actions, verification };
}

export async function rollbackPhase(env: MigrateEnv, phase: Phase): Promise<PhaseOutcome> {
  const { journal } = env;
  if (phase === 4) throw new ContimgError('MIGRATE_REFUSED', 'phase 4 removed the legacy tree: there is nothing to roll back to');
  const status = await journal.phaseStatus(phase);
  if (status === 'not-started') return { phase, direction: 'rollback', alreadyDone: true, resumed: false, actions: 0 };
  const next = await journal.phaseStatus((phase + 1) as Phase);
  if (next !== 'not-started') {
    throw new ContimgError(
      'MIGRATE_REFUSED',
      phase === 3
        ? 'phase 4 has started removing the legacy tree, which cannot be undone; finish it (contimg migrate run --phase 4)'
        : `phase ${phase + 1} is ${next}; roll it back first (contimg migrate rollback --phase ${phase + 1})`,
    );
  }
  const started = await journal.begin(phase, 'rollback', () => planRollback(env, phase));
  faultPoint(`rollback${phase}:planned`);
  const actions = await execute(env, phase, 'rollback');
  await journal.finishRollback(phase);
  faultPoint(`rollback${phase}:finished`);
  return { phase, direction: 'rollback', alreadyDone: false, resumed: !started, actions };
}
