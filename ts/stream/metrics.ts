/**
 * Per-stage timings for `performance_metrics`.
 *
 * The worker measures the wall-clock time of a whole attempt (input staging + conversion +
 * finalisation); the converter reports its stages. Where a stage is missing (a converter that
 * does not report it, a child process whose report was cut short, a NaN or negative value), the
 * time the reported stages leave unaccounted is shared among the missing ones in the proportions
 * the Python service used (load 0.3, phase 0.4, write 0.3), so the parts add up to the total.
 * Stages that claim more than the total (clock skew between threads) are scaled down to it.
 */
import type { StageTimings } from '../convert/types.js';

export interface StageBreakdown {
  loadS: number;
  phaseS: number;
  writeS: number;
  totalS: number;
  /** Names of the stages that were backfilled (empty when the converter reported all three). */
  backfilled: ('load' | 'phase' | 'write')[];
}

const SHARE = { load: 0.3, phase: 0.4, write: 0.3 } as const;
type Stage = keyof typeof SHARE;

function usable(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

/**
 * @param reported what the converter returned (any field may be missing or invalid)
 * @param wallS the worker's own measurement of the attempt, used when it exceeds the reported total
 */
export function backfillTimings(reported: Partial<StageTimings> | undefined, wallS: number): StageBreakdown {
  const r = reported ?? {};
  const totalS = Math.max(usable(r.totalS) ? r.totalS : 0, usable(wallS) ? wallS : 0);
  const got: Record<Stage, number | undefined> = {
    load: usable(r.loadS) ? r.loadS : undefined,
    phase: usable(r.phaseS) ? r.phaseS : undefined,
    write: usable(r.writeS) ? r.writeS : undefined,
  };
  const missing = (Object.keys(SHARE) as Stage[]).filter((s) => got[s] === undefined);
  const accounted = (Object.values(got) as (number | undefined)[]).reduce<number>((a, b) => a + (b ?? 0), 0);
  const remaining = Math.max(0, totalS - accounted);
  const shareSum = missing.reduce((a, s) => a + SHARE[s], 0);
  const filled: Record<Stage, number> = { load: 0, phase: 0, write: 0 };
  for (const s of Object.keys(SHARE) as Stage[]) filled[s] = got[s] ?? (remaining * SHARE[s]) / shareSum;
  const sum = filled.load + filled.phase + filled.write;
  if (sum > totalS && sum > 0) {
    const k = totalS / sum;
    filled.load *= k;
    filled.phase *= k;
    filled.write *= k;
  }
  return { loadS: filled.load, phaseS: filled.phase, writeS: filled.write, totalS, backfilled: missing };
}
