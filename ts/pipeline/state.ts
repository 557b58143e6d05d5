/**
 * What the registries say has been done: the pipeline's only memory. Every decision is made
 * from here and from the file system, so a pipeline killed at any moment and started again
 * picks up exactly where the products end.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../layout/index.js';
import { productRegistered, type Registries } from '../registry/index.js';

export interface MsRow {
  path: string;
  group_id: string;
  mid_mjd: number;
  kind: 'science' | 'calibrator';
  obs_date: string;
}

export interface GroupRow {
  group_id: string;
  obs_date: string;
  calibrator: string | null;
  transit_mjd: number | null;
  transit_ms: string | null;
  calibrator_rank: number | null;
  members: string[];
}

export async function msRows(regs: Registries): Promise<MsRow[]> {
  return (await regs.products.selectFrom('ms_index').select(['path', 'group_id', 'mid_mjd', 'kind', 'obs_date']).orderBy('mid_mjd').execute()) as MsRow[];
}

export async function groupRows(regs: Registries): Promise<GroupRow[]> {
  const groups = await regs.products.selectFrom('ms_groups').select(['group_id', 'obs_date', 'calibrator', 'transit_mjd', 'transit_ms', 'calibrator_rank']).orderBy('start_mjd').execute();
  const members = await regs.products.selectFrom('ms_group_members').select(['group_id', 'position', 'ms_path']).orderBy('group_id').orderBy('position').execute();
  const byGroup = new Map<string, string[]>();
  for (const m of members) byGroup.set(m.group_id, [...(byGroup.get(m.group_id) ?? []), m.ms_path]);
  return groups.map((g) => ({ ...g, members: byGroup.get(g.group_id) ?? [] }));
}

/** A product of this type and name, wherever it now lives (staged or validated). */
export async function registeredByName(regs: Registries, type: 'mosaic' | 'catalog' | 'metadata' | 'image', name: string): Promise<{ path: string; status: string } | undefined> {
  return regs.data.selectFrom('data_registry').select(['path', 'status']).where('data_type', '=', type).where('name', '=', name).executeTakeFirst();
}

/**
 * Done: registered. To redo: written but not registered (a kill between the product's rename and
 * its registration) — the command runs again with --overwrite, since it would otherwise skip it.
 */
export async function productState(regs: Registries, p: string): Promise<'done' | 'redo' | 'todo'> {
  if (await productRegistered(regs, p)) return 'done';
  return existsSync(p) ? 'redo' : 'todo';
}

export async function calTablesForGroup(regs: Registries, groupId: string): Promise<number> {
  const rows = await regs.cal.selectFrom('caltables').select('path').where('group_id', '=', groupId).where('status', '=', 'active').execute();
  return rows.length;
}

/** Mosaics registered but still in the staging tree (mosaics/), waiting for QA. */
export async function stagedMosaics(regs: Registries, layout: Layout): Promise<{ path: string; name: string; obs_date: string }[]> {
  const rows = await regs.data.selectFrom('data_registry').select(['path', 'name', 'obs_date']).where('data_type', '=', 'mosaic').where('status', '=', 'staged').execute();
  return rows.filter((r) => r.path.startsWith(layout.roots.mosaics + path.sep));
}

/** Staged products waiting in the validated tree (products/), what `publish` moves. */
export async function awaitingPublish(regs: Registries, layout: Layout): Promise<number> {
  const rows = await regs.data.selectFrom('data_registry').select('path').where('status', '=', 'staged').execute();
  return rows.filter((r) => r.path.startsWith(layout.roots.products + path.sep)).length;
}
