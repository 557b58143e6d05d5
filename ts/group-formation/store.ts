/**
 * Writing group definitions and registering them (products registry, `ms_groups` and
 * `ms_group_members`). The file is written first and the row after it, as every registry write
 * (a row vouches for a file); both steps compare before writing, so a rerun changes nothing
 * that is already right and a rerun after a crash finishes the job.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { atomicWriteFile, fsyncDir } from '../layout/fsops.js';
import type { Layout } from '../layout/layout.js';
import type { Registries } from '../registry/index.js';
import type { GroupDefinition } from './define.js';

export type FileOutcome = 'written' | 'unchanged' | 'planned';
export type RowOutcome = 'created' | 'updated' | 'unchanged' | 'planned' | 'not registered';

/** Where a definition goes: the layout's `raw/groups/YYYY-MM-DD/`, or flat in `--output-dir`. */
export function definitionPath(def: GroupDefinition, out: { layout: Layout } | { outputDir: string }): string {
  return 'layout' in out ? out.layout.groupDefinitionPath(def.group_id) : path.join(path.resolve(out.outputDir), `group_${def.group_id}.json`);
}

export function serialize(def: GroupDefinition): string {
  return JSON.stringify(def, null, 2) + '\n';
}

export function writeDefinition(file: string, def: GroupDefinition, dryRun: boolean): FileOutcome {
  const text = serialize(def);
  if (existsSync(file) && readFileSync(file, 'utf8') === text) return 'unchanged';
  if (dryRun) return 'planned';
  atomicWriteFile(file, text);
  return 'written';
}

export async function registerGroup(regs: Registries, file: string, def: GroupDefinition, dryRun: boolean): Promise<RowOutcome> {
  const cal = def.calibrator;
  const row = {
    obs_date: def.obs_date,
    definition_path: path.resolve(file),
    start_mjd: def.start_mjd,
    end_mjd: def.end_mjd,
    n_ms: def.n_ms,
    calibrator: cal?.name ?? null,
    transit_mjd: cal?.transit_mjd ?? null,
    transit_ms: cal ? path.resolve(cal.ms) : null,
    calibrator_rank: cal?.rank ?? null,
  };
  const members = def.ms.map((m) => path.resolve(m.path));
  return regs.products.transaction().execute(async (tx) => {
    const old = await tx.selectFrom('ms_groups').selectAll().where('group_id', '=', def.group_id).executeTakeFirst();
    const oldMembers = (await tx.selectFrom('ms_group_members').select('ms_path').where('group_id', '=', def.group_id).orderBy('position').execute()).map((r) => r.ms_path);
    const same =
      old !== undefined &&
      (Object.keys(row) as (keyof typeof row)[]).every((k) => old[k] === row[k]) &&
      oldMembers.length === members.length &&
      oldMembers.every((p, i) => p === members[i]);
    if (same) return 'unchanged';
    if (dryRun) return 'planned';
    const t = new Date().toISOString();
    await tx
      .insertInto('ms_groups')
      .values({ group_id: def.group_id, ...row, registered_at: t, updated_at: t })
      .onConflict((oc) => oc.column('group_id').doUpdateSet({ ...row, updated_at: t }))
      .execute();
    await tx.deleteFrom('ms_group_members').where('group_id', '=', def.group_id).execute();
    await tx
      .insertInto('ms_group_members')
      .values(members.map((ms_path, position) => ({ group_id: def.group_id, position, ms_path })))
      .execute();
    return old ? 'updated' : 'created';
  });
}

/**
 * Registered groups that share an MS with this run's input but were not formed again (the MS
 * changed: a late MS filled a gap, or --size/--overlap changed). They are reported; `prune`
 * removes them, the rows before the file, so the registry never names a missing file.
 */
export async function supersededGroups(regs: Registries, inputMs: readonly string[], formedIds: ReadonlySet<string>): Promise<{ id: string; file: string }[]> {
  if (inputMs.length === 0) return [];
  const ids = new Set<string>();
  // SQLite limits bound parameters: look the MS up in slices.
  for (let i = 0; i < inputMs.length; i += 500) {
    const rows = await regs.products.selectFrom('ms_group_members').select('group_id').distinct().where('ms_path', 'in', inputMs.slice(i, i + 500).map((p) => path.resolve(p))).execute();
    for (const r of rows) if (!formedIds.has(r.group_id)) ids.add(r.group_id);
  }
  if (ids.size === 0) return [];
  const rows = await regs.products.selectFrom('ms_groups').select(['group_id', 'definition_path']).where('group_id', 'in', [...ids]).orderBy('start_mjd').execute();
  return rows.map((r) => ({ id: r.group_id, file: r.definition_path }));
}

export async function pruneGroup(regs: Registries, g: { id: string; file: string }): Promise<void> {
  await regs.products.transaction().execute(async (tx) => {
    await tx.deleteFrom('ms_group_members').where('group_id', '=', g.id).execute();
    await tx.deleteFrom('ms_groups').where('group_id', '=', g.id).execute();
  });
  if (existsSync(g.file)) {
    rmSync(g.file);
    fsyncDir(path.dirname(g.file));
  }
}
