/**
 * Stage 5: which caltables apply to an MS, where its calibrated copy goes, and the registry
 * entries afterwards. The bytes (copy, interpolation, CORRECTED_DATA, calwt) are Rust's
 * (crates/calib/src/apply).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { callNative, native } from '../native.js';
import { ContimgError } from '../error.js';
import { makeDirs, obsDateOfGroup, utcDateOfMjd, type CalTableType, type Layout, type MsKind } from '../layout/index.js';
import { msTimestamp } from '../image/run.js';

/** Tables are applied in this order: bandpass, then gain, then the second (short-solint) gain. */
export const CAL_TYPE_ORDER: readonly CalTableType[] = ['bandpass', 'gain', 'gain2'];

export interface ApplyTable {
  path: string;
  tableType?: CalTableType;
  interp?: 'nearest' | 'linear';
}

export interface ApplycalProgress {
  stage: 'copy' | 'apply';
  done: number;
  total: number;
}

export interface ApplySummary {
  ms: string;
  output: string;
  tables: { path: string; jones: string; interp: string; timeRangeMjdS: [number, number] }[];
  rows: number;
  samples: number;
  flaggedBefore: number;
  flaggedAfter: number;
  calwt: boolean;
  copySeconds: number;
  applySeconds: number;
  commitSeconds: number;
  seconds: number;
}

const SECONDS_PER_DAY = 86_400;

/** The MS's time range in MJD days (TIME is MJD seconds). */
export function msTimeRangeMjd(ms: string): [number, number] {
  const r = native().msTimeRangeMjdS(ms);
  if (!r) throw new ContimgError('CALIB_BAD_INPUT', `${ms}: the MS has no rows`);
  return [r[0]! / SECONDS_PER_DAY, r[1]! / SECONDS_PER_DAY];
}

/**
 * The registered tables valid at the MS's mid-time: the newest active one of each type, in
 * apply order. Distinguishes "nothing registered" from "nothing valid at this time".
 */
export async function tablesFromRegistry(layout: Layout, ms: string): Promise<ApplyTable[]> {
  const [start, end] = msTimeRangeMjd(ms);
  const mid = (start + end) / 2;
  const { openRegistries, calTablesValidAt } = await import('../registry/index.js');
  const regs = await openRegistries(layout, { readonly: false });
  try {
    const valid = await calTablesValidAt(regs, mid);
    if (valid.length === 0) {
      const any = await regs.cal.selectFrom('caltables').select(['path', 'valid_start_mjd', 'valid_end_mjd']).where('status', '=', 'active').execute();
      if (any.length === 0) throw new ContimgError('CALIB_NO_TABLES', `no active calibration tables are registered in cal_registry ; run contimg calibrate, or give --tables`);
      const ranges = any
        .slice(0, 3)
        .map((t) => `${path.basename(t.path)} [${t.valid_start_mjd.toFixed(4)}, ${t.valid_end_mjd?.toFixed(4) ?? '∞'}]`)
        .join(', ');
      throw new ContimgError('CALIB_NO_TIME_OVERLAP', `${ms}: observed at MJD ${mid.toFixed(4)}, outside the validity of every registered table (${any.length} active: ${ranges}${any.length > 3 ? ', …' : ''})`);
    }
    // The solve nearest in time (the middle of a table's validity is the MS it was solved on),
    // and all its tables together: B from one calibrator and G from another would not belong.
    const distance = (v: (typeof valid)[number]) => Math.abs((v.valid_end_mjd === null ? v.valid_start_mjd : (v.valid_start_mjd + v.valid_end_mjd) / 2) - mid);
    const nearest = [...valid].sort((a, b) => distance(a) - distance(b));
    const solve = nearest[0]!.group_id;
    const out: ApplyTable[] = [];
    for (const type of CAL_TYPE_ORDER) {
      const t = nearest.find((v) => v.table_type === type && v.group_id === solve) ?? nearest.find((v) => v.table_type === type);
      if (t) out.push({ path: t.path, tableType: type });
    }
    return out;
  } finally {
    await regs.close();
  }
}

/** The kind of an MS: from ms_index when registered, else from its directory (…/calibrators/…). */
export async function msKind(layout: Layout | null, ms: string): Promise<MsKind> {
  if (layout) {
    const { openRegistries } = await import('../registry/index.js');
    const regs = await openRegistries(layout);
    try {
      const row = await regs.products.selectFrom('ms_index').select('kind').where('path', '=', path.resolve(ms)).executeTakeFirst();
      if (row) return row.kind;
    } finally {
      await regs.close();
    }
  }
  return path.resolve(ms).split(path.sep).includes('calibrators') ? 'calibrator' : 'science';
}

/** `<ts>_cal.ms`: under the layout's calibrated/ms/{science,calibrators}/YYYY-MM-DD/, or in outputDir. */
export function calibratedMsPath(ms: string, kind: MsKind, where: { layout: Layout } | { outputDir: string }): string {
  const ts = msTimestamp(ms);
  if ('layout' in where) return where.layout.calibratedMsPath({ groupId: ts, kind });
  return path.join(where.outputDir, `${ts}_cal.ms`);
}

export async function runApplycal(req: { ms: string; output: string; tables: ApplyTable[]; calwt: boolean; overwrite: boolean; onProgress?: (p: ApplycalProgress) => void }): Promise<ApplySummary> {
  makeDirs(path.dirname(req.output));
  return (await callNative(() =>
    native().applycal(
      {
        ms: req.ms,
        output: req.output,
        tables: req.tables.map((t) => ({ path: path.resolve(t.path), interp: t.interp })),
        calwt: req.calwt,
        overwrite: req.overwrite,
      },
      req.onProgress ? (p) => req.onProgress!(p as ApplycalProgress) : undefined,
    ),
  )) as ApplySummary;
}

/** Registers the calibrated MS (data_registry, provenance: the raw MS and the tables) and marks the raw MS calibrated. */
export async function registerCalibrated(layout: Layout, ms: string, output: string, tables: ApplyTable[]): Promise<void> {
  const { openRegistries, registerProduct } = await import('../registry/index.js');
  const regs = await openRegistries(layout);
  try {
    const registered = async (p: string) =>
      (await regs.data.selectFrom('data_registry').select('id').where('path', '=', path.resolve(p)).executeTakeFirst()) !== undefined;
    const products: string[] = [];
    const files: string[] = [];
    for (const p of [ms, ...tables.map((t) => t.path)]) ((await registered(p)) ? products : files).push(path.resolve(p));
    let obsDate;
    try {
      obsDate = obsDateOfGroup(msTimestamp(ms));
    } catch {
      obsDate = utcDateOfMjd(msTimeRangeMjd(ms)[0]);
    }
    await registerProduct(regs, { dataType: 'calibrated_ms', path: output, obsDate, inputs: { products, files } });
    await regs.products.updateTable('ms_index').set({ status: 'calibrated', updated_at: new Date().toISOString() }).where('path', '=', path.resolve(ms)).execute();
  } finally {
    await regs.close();
  }
}

export function outputExists(p: string): boolean {
  return existsSync(p);
}
