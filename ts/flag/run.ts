/**
 * Stage 4's flagging: options in, summary out. The work (reading DATA, SumThreshold, SIR, the
 * atomic FLAG update) is Rust's (crates/calib/src/flag).
 */
import { callNative, native } from '../native.js';

export interface FlagOptions {
  ms: string;
  autocorr: boolean;
  quack: boolean;
  edgeChannels: number;
  rfi: boolean;
  threshold?: number;
  rho?: number;
  iterations?: number;
  sirEta?: number;
  smoothTime?: number;
  smoothChan?: number;
  antennaNoiseRatio?: number;
  dryRun: boolean;
  force: boolean;
}

export interface FlagProgress {
  stage: 'read' | 'sumthreshold' | 'write';
  done: number;
  total: number;
}

export interface FlagSummary {
  ms: string;
  dryRun: boolean;
  alreadyFlagged: boolean;
  settings: string;
  rows: number;
  samples: number;
  nTime: number;
  nBaselines: number;
  nChan: number;
  nCorr: number;
  flaggedBefore: number;
  flaggedAfter: number;
  fractionBefore: number;
  fractionAfter: number;
  steps: { step: string; newlyFlagged: number; fractionAfter: number; seconds: number }[];
  perAntenna: { antenna: number; fractionBefore: number; fractionAfter: number }[];
  perChannelBefore: number[];
  perChannelAfter: number[];
  noisyAntennas: number[];
  readSeconds: number;
  flagSeconds: number;
  writeSeconds: number;
  seconds: number;
}

export async function runFlag(opts: FlagOptions, onProgress?: (p: FlagProgress) => void): Promise<FlagSummary> {
  return (await callNative(() => native().flag(opts, onProgress ? (p) => onProgress(p as FlagProgress) : undefined))) as FlagSummary;
}

/** One line: fractions before → after, and what each step added. */
export function describeFlag(s: FlagSummary): string {
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  if (s.alreadyFlagged) return `already flagged with these settings (${pct(s.fractionAfter)} flagged); nothing to do (--force flags again)`;
  const steps = s.steps.map((t) => `${t.step} +${pct(t.newlyFlagged / Math.max(1, s.samples))}`).join(', ');
  const noisy = s.noisyAntennas.length ? `; noisy antennas ${s.noisyAntennas.join(' ')}` : '';
  return `flagged ${pct(s.fractionBefore)} → ${pct(s.fractionAfter)} (${steps})${noisy}; ${s.seconds.toFixed(1)} s${s.dryRun ? ' (dry run: nothing written)' : ''}`;
}
