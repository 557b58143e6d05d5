/**
 * Validation: a mosaic whose catalogue passed QA moves from the staging tree (`mosaics/`) into
 * the validated tree (`products/mosaics/`), where `contimg publish` finds it. Its weight, noise
 * and PNG files go first and the mosaic last, then the registry follows it; a kill at any point
 * is finished by the next run (a registered path that is gone, with the file at its validated
 * path, is simply re-pointed).
 */
import { existsSync, renameSync } from 'node:fs';
import path from 'node:path';
import { fsyncDir, makeDirs, parseUtcDate, type Layout } from '../layout/index.js';
import type { Registries } from '../registry/index.js';

/** The files a mosaic travels with (ts/mosaic/run.ts `mosaicOutputs`). */
function companions(mosaic: string): string[] {
  const stem = mosaic.replace(/\.fits$/, '');
  return [`${stem}.weight.fits`, `${stem}.noise.fits`, `${stem}.png`];
}

export async function validateMosaic(layout: Layout, regs: Registries, row: { path: string; name: string; obs_date: string }): Promise<string> {
  const target = layout.validatedPath('mosaic', row.name, parseUtcDate(row.obs_date));
  const dir = path.dirname(target);
  makeDirs(dir);
  for (const f of [...companions(row.path), row.path]) {
    const to = path.join(dir, path.basename(f));
    if (existsSync(f)) renameSync(f, to);
  }
  fsyncDir(dir);
  fsyncDir(path.dirname(row.path));
  if (!existsSync(target)) throw new Error(`${row.path}: neither it nor its validated copy ${target} exists`);
  await regs.data.updateTable('data_registry').set({ path: target, updated_at: new Date().toISOString() }).where('path', '=', row.path).execute();
  return target;
}
