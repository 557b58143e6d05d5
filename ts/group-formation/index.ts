/**
 * Stage 3, `contimg groups`: forms groups of consecutive MS (form.ts), finds the calibrator
 * transit in each (define.ts), writes the definitions and registers them (store.ts).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../error.js';
import type { Calibrator } from '../layout/calibrators.js';
import { faultPoint } from '../layout/fault.js';
import type { Layout } from '../layout/layout.js';
import type { Registries } from '../registry/index.js';
import { readMsFacts } from '../migrate/scan.js';
import { checkFormOptions, formMsGroups, type FormOptions, type MsRecord } from './form.js';
import { defineGroup, type GroupDefinition } from './define.js';
import { definitionPath, pruneGroup, registerGroup, supersededGroups, writeDefinition, type FileOutcome, type RowOutcome } from './store.js';

export * from './form.js';
export * from './define.js';
export * from './store.js';

/** The raw MS in a directory (not recursive; calibrated `_cal.ms` are not raw), read with casacore. */
export function msInDirectory(dir: string, onEach?: (done: number, total: number) => void): MsRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new ContimgError('GROUPS_IO', `${dir}: cannot list the directory (${(e as Error).message})`);
  }
  const ms = names.filter((n) => n.endsWith('.ms') && !n.endsWith('_cal.ms')).sort().map((n) => path.resolve(dir, n));
  return ms.map((p, i) => {
    if (!statSync(p).isDirectory()) throw new ContimgError('GROUPS_INVALID_MS', `${p}: not a MeasurementSet (not a directory)`);
    let f;
    try {
      f = readMsFacts(p);
    } catch (e) {
      throw new ContimgError('GROUPS_INVALID_MS', `${p}: cannot read its time range and pointing (${(e as Error).message})`);
    }
    onEach?.(i + 1, ms.length);
    return { path: p, groupId: f.groupId, startMjd: f.startMjd, endMjd: f.endMjd, pointingDecDeg: f.pointingDecDeg };
  });
}

/** The raw MS the layout's products registry indexes (ms_index), failed ones and vanished ones left out. */
export async function msInRegistry(regs: Registries): Promise<MsRecord[]> {
  const rows = await regs.products.selectFrom('ms_index').selectAll().where('status', '!=', 'failed').orderBy('start_mjd').execute();
  return rows
    .filter((r) => existsSync(r.path))
    .map((r) => ({ path: r.path, groupId: r.group_id, startMjd: r.start_mjd, endMjd: r.end_mjd, pointingDecDeg: r.pointing_dec_deg }));
}

export interface GroupResult {
  id: string;
  file: string;
  fileOutcome: FileOutcome;
  registry: RowOutcome;
  definition: GroupDefinition;
}

export interface GroupsRun {
  groups: GroupResult[];
  pending: string[];
  /** Registered groups over the same MS that this run did not form again (removed with prune). */
  superseded: { id: string; file: string }[];
  pruned: boolean;
  sequences: number;
  msDurationS: number;
  nMs: number;
  dryRun: boolean;
}

export interface GroupsRunOptions extends FormOptions {
  ms: MsRecord[];
  calibrators: readonly Calibrator[];
  out: { layout: Layout; regs: Registries } | { outputDir: string };
  dryRun?: boolean;
  /** Remove superseded groups (rows, then files). */
  prune?: boolean;
  onGroup?: (done: number, total: number) => void;
}

export async function runGroups(o: GroupsRunOptions): Promise<GroupsRun> {
  const opts = checkFormOptions(o);
  const formation = formMsGroups(o.ms, opts);
  const dryRun = o.dryRun ?? false;
  const groups: GroupResult[] = [];
  for (const [i, g] of formation.groups.entries()) {
    const definition = defineGroup(g, opts, o.calibrators);
    const file = definitionPath(definition, o.out);
    // Crash tests stop the run at each of these points (ts/layout/fault.ts).
    faultPoint(`groups: write ${g.id}`);
    const fileOutcome = writeDefinition(file, definition, dryRun);
    faultPoint(`groups: register ${g.id}`);
    const registry = 'regs' in o.out ? await registerGroup(o.out.regs, file, definition, dryRun) : 'not registered';
    groups.push({ id: g.id, file, fileOutcome, registry, definition });
    o.onGroup?.(i + 1, formation.groups.length);
  }
  const superseded = 'regs' in o.out ? await supersededGroups(o.out.regs, o.ms.map((m) => m.path), new Set(groups.map((g) => g.id))) : [];
  const prune = (o.prune ?? false) && !dryRun;
  if (prune && 'regs' in o.out) {
    for (const g of superseded) {
      faultPoint(`groups: prune ${g.id}`);
      await pruneGroup(o.out.regs, g);
    }
  }
  return { groups, pending: formation.pending.map((m) => m.path), superseded, pruned: prune, sequences: formation.sequences, msDurationS: formation.msDurationS, nMs: o.ms.length, dryRun };
}
