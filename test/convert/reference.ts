/**
 * What test/oracle/convert_reference.py reports (contimg's MS against pyuvdata's read +
 * phase() + write_ms of the same input), and the bar every conversion must clear.
 */
import { expect } from 'vitest';

export interface Reference {
  rows: number;
  expected_rows: number;
  data_rel: number;
  uvw_m: number;
  missing_channels: number;
  /** NaN/Inf samples in the input (expected flagged, DATA 0) and non-finite values in DATA. */
  nonfinite: number;
  nonfinite_in_ms: number;
  equal: Record<string, boolean>;
  spw_freqs_ascending: boolean;
  n_spw: number;
  n_corr: number;
}

/** DATA to a relative 1e-5, UVW to 1 mm, every other column exactly. */
export function expectMatches(ref: Reference, label: string): void {
  expect(ref.rows, label).toBe(ref.expected_rows);
  expect(ref.data_rel, label).toBeLessThan(1e-5);
  expect(ref.uvw_m, label).toBeLessThan(1e-3);
  for (const [k, v] of Object.entries(ref.equal)) expect(v, `${label}: ${k}`).toBe(true);
  expect(ref.spw_freqs_ascending, label).toBe(true);
  expect(ref.nonfinite_in_ms, label).toBe(0);
}
