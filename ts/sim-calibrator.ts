/**
 * `simulate --calibrator NAME`: where to point and when to start so that a catalogue
 * calibrator transits at the first group's mid-time.
 */
import { ContimgError } from './error.js';
import {
  CALIBRATOR_REF_FREQ_HZ,
  DEFAULT_CALIBRATORS_FILE,
  findCalibrator,
  loadCalibrators,
  nextTransit,
} from './layout/calibrators.js';

/** One DSA-110 integration (DESIGN.md §2), seconds. */
export const INTEGRATION_TIME_S = 12.884901888;
/** The catalogue's declination range (data/calibrators.csv), degrees. */
export const CALIBRATOR_DEC_RANGE_DEG = [-40, 90] as const;
const UNIX_EPOCH_MJD = 40587;

export interface CalibratorTransitPlan {
  /** The simulator's `--start`: half a group before the transit. */
  start: string;
  decDeg: number;
  transitMjd: number;
  transitIso: string;
  /** What the simulator records and adds to the sky (napi `SimCalibrator`). */
  calibrator: { name: string; raDeg: number; decDeg: number; fluxJy: number; spectralIndex: number; refFreqHz: number; transitJd: number };
}

/** UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]` → MJD, or a SIM_INVALID_ARGUMENT error. */
export function isoToMjd(iso: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?)?Z?$/.exec(iso.trim());
  if (!m) throw new ContimgError('SIM_INVALID_ARGUMENT', `--start '${iso}' is not a UTC date/time (expected YYYY-MM-DDTHH:MM:SS)`);
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), 0);
  return ms / 86_400_000 + UNIX_EPOCH_MJD + Number(m[6] ?? 0) / 86_400;
}

/** MJD → `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC, microseconds: the simulator's start to 1 µs). */
export function mjdToIso(mjd: number): string {
  const totalUs = Math.round((mjd - UNIX_EPOCH_MJD) * 86_400e6);
  const wholeS = Math.floor(totalUs / 1e6);
  const us = totalUs - wholeS * 1e6;
  return `${new Date(wholeS * 1000).toISOString().slice(0, 19)}.${String(us).padStart(6, '0')}`;
}

export function planCalibratorTransit(name: string, startIso: string, integrations: number, catalogue = DEFAULT_CALIBRATORS_FILE): CalibratorTransitPlan {
  const cal = findCalibrator(loadCalibrators(catalogue), name);
  if (!cal) {
    throw new ContimgError('SIM_UNKNOWN_CALIBRATOR', `${catalogue}: no calibrator named '${name}' (names are matched case-insensitively, also as Jhhmm+ddmm and hhmm+ddd)`);
  }
  const [lo, hi] = CALIBRATOR_DEC_RANGE_DEG;
  if (!(cal.decDeg >= lo && cal.decDeg <= hi)) {
    throw new ContimgError('SIM_CALIBRATOR_OUT_OF_RANGE', `${catalogue}: calibrator ${cal.name} at declination ${cal.decDeg}° is outside the range DSA-110 points at (${lo}° to ${hi}°)`);
  }
  const t = nextTransit(cal, isoToMjd(startIso));
  const halfGroupDays = (integrations * INTEGRATION_TIME_S) / 2 / 86_400;
  return {
    start: mjdToIso(t.mjd - halfGroupDays),
    decDeg: t.apparentDecDeg,
    transitMjd: t.mjd,
    transitIso: mjdToIso(t.mjd),
    calibrator: {
      name: cal.name,
      raDeg: cal.raDeg,
      decDeg: cal.decDeg,
      fluxJy: cal.fluxJy,
      spectralIndex: cal.spectralIndex ?? 0,
      refFreqHz: CALIBRATOR_REF_FREQ_HZ,
      transitJd: t.mjd + 2_400_000.5,
    },
  };
}
