/**
 * Stage 4: where a calibrator MS's caltables go, which model it is solved against, and their
 * registration in cal_registry. The solving (model, accumulation, StEFCal, caltables) is
 * Rust's (crates/calib/src/solve).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { callNative, native } from '../native.js';
import { makeDirs, obsDateOfGroup, utcDateOfMjd, CAL_TABLE_SUFFIX, type CalTableType, type Layout } from '../layout/index.js';
import { CALIBRATOR_REF_FREQ_HZ, loadCalibrators, PRIMARY_BEAM_RADIUS_DEG } from '../layout/calibrators.js';
import { readSky } from '../sky.js';
import { msTimestamp } from '../image/run.js';
import { msTimeRangeMjd } from '../applycal/run.js';

/** The simulator's reference frequency of `--sky` fluxes (crates/sim/src/sky.rs REF_FREQ_HZ). */
export const SKY_REF_FREQ_HZ = 1.405e9;

/** Solved in this order; applycal applies them in the same order. */
export const CALIBRATE_TABLES: readonly CalTableType[] = ['bandpass', 'gain', 'gain2'];

export interface CalibrateProgress {
  stage: 'accumulate' | 'solve' | 'write';
  done: number;
  total: number;
}

export interface CalibrateSummary {
  ms: string;
  calibrator: string | null;
  calibratorOffsetDeg: number | null;
  sources: number;
  refant: string;
  refantIndex: number;
  refantRequested: string;
  antennas: number;
  channels: number;
  intervals: number;
  rows: number;
  samples: number;
  samplesUsed: number;
  tables: { path: string; jones: string; solutions: number; flagged: number; flaggedFraction: number; medianSnr: number; iterationsMax: number }[];
  modelWritten: boolean;
  accumulateSeconds: number;
  solveSeconds: number;
  writeSeconds: number;
  seconds: number;
}

export interface CalibrateOptions {
  ms: string;
  tables: Record<CalTableType, string>;
  sky?: string;
  calibrators?: string;
  refant: string;
  minSnr: number;
  uvrange?: string;
  solintS: number;
  maxFlaggedFraction: number;
  writeModel: boolean;
  overwrite: boolean;
  onProgress?: (p: CalibrateProgress) => void;
}

/** `<group>_{bpcal,gpcal,2gcal}` under the layout (calibrated/tables/YYYY-MM-DD/) or outputDir. */
export function calTablePaths(ms: string, where: { layout: Layout } | { outputDir: string }): Record<CalTableType, string> {
  const group = msTimestamp(ms);
  const out = {} as Record<CalTableType, string>;
  for (const t of CALIBRATE_TABLES) {
    out[t] = 'layout' in where ? where.layout.calTablePath(group, t, obsDateOf(ms)) : path.join(where.outputDir, `${group}${CAL_TABLE_SUFFIX[t]}`);
  }
  return out;
}

function obsDateOf(ms: string) {
  try {
    return obsDateOfGroup(msTimestamp(ms));
  } catch {
    return utcDateOfMjd(msTimeRangeMjd(ms)[0]);
  }
}

export async function runCalibrate(o: CalibrateOptions): Promise<CalibrateSummary> {
  for (const p of Object.values(o.tables)) makeDirs(path.dirname(p));
  const model = o.sky
    ? { sky: readSky(o.sky).map((s) => ({ name: s.name, raDeg: s.raDeg, decDeg: s.decDeg, fluxJy: s.fluxJy, spectralIndex: s.spectralIndex ?? 0, refFreqHz: SKY_REF_FREQ_HZ })) }
    : {
        calibrators: loadCalibrators(o.calibrators).map((c) => ({ name: c.name, raDeg: c.raDeg, decDeg: c.decDeg, fluxJy: c.fluxJy, spectralIndex: c.spectralIndex ?? 0, refFreqHz: CALIBRATOR_REF_FREQ_HZ })),
        radiusDeg: PRIMARY_BEAM_RADIUS_DEG,
      };
  return (await callNative(() =>
    native().calibrate(
      {
        ms: o.ms,
        ...model,
        bpcal: o.tables.bandpass,
        gpcal: o.tables.gain,
        gpcal2: o.tables.gain2,
        refant: o.refant,
        minSnr: o.minSnr,
        uvrange: o.uvrange,
        solintS: o.solintS,
        maxFlaggedFraction: o.maxFlaggedFraction,
        writeModel: o.writeModel,
        overwrite: o.overwrite,
      },
      o.onProgress ? (p) => o.onProgress!(p as CalibrateProgress) : undefined,
    ),
  )) as CalibrateSummary;
}

/**
 * Registers the three tables in cal_registry, valid ±`validityHours` around the MS's mid-time
 * (applycal looks them up by MS time: bandpass, gain, gain2). Only tables that exist complete
 * (they appear by atomic rename) are registered, so a rerun after a crash finishes the job.
 */
export async function registerCalTables(layout: Layout, ms: string, tables: Record<CalTableType, string>, validityHours: number): Promise<number> {
  const { openRegistries, registerCalTable, msRegistered } = await import('../registry/index.js');
  const [start, end] = msTimeRangeMjd(ms);
  const mid = (start + end) / 2;
  const half = validityHours / 24;
  const regs = await openRegistries(layout);
  let n = 0;
  try {
    const solvedFrom = (await msRegistered(regs, ms)) ? path.resolve(ms) : undefined;
    for (const type of CALIBRATE_TABLES) {
      const p = tables[type];
      if (!existsSync(path.join(p, 'table.dat'))) continue;
      await registerCalTable(regs, { path: p, groupId: msTimestamp(ms), tableType: type, validStartMjd: mid - half, validEndMjd: mid + half, obsDate: obsDateOf(ms), solvedFrom });
      n++;
    }
  } finally {
    await regs.close();
  }
  return n;
}
