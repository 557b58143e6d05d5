/**
 * What the per-MS commands (flag, calibrate, applycal, image) share: one result per MS, a
 * failure recorded with its code while the next MS goes on, and one way of printing them.
 */
import { asContimgError } from '../error.js';
import type { Io } from './io.js';
import type { ProgressBar } from './progress.js';

/** An MS the command could not process: its stable error code and message. */
export interface FailedMs {
  status: 'failed';
  ms: string;
  code: string;
  error: string;
}

/** Records the failure of one MS on its progress line. */
export function failedMs(ms: string, label: string, err: unknown, bar: ProgressBar): FailedMs {
  const e = asContimgError(err);
  bar.fail(`${label}: ${e.message}`);
  return { status: 'failed', ms, code: e.code, error: e.message };
}

/**
 * Prints the results — as JSON, or `text(r)` of each success on stdout and each failure with its
 * code on stderr — and returns the exit status: 1 when any MS failed.
 */
export function printResults<R extends { status: string; ms: string }>(io: Io, results: (R | FailedMs)[], json: boolean, text: (r: R) => string): number {
  if (json) {
    io.stdout(JSON.stringify(results, null, 2) + '\n');
  } else {
    for (const r of results) {
      if (isFailed(r)) io.stderr(`${r.ms}: [${r.code}] ${r.error}\n`);
      else io.stdout(text(r));
    }
  }
  return results.some(isFailed) ? 1 : 0;
}

function isFailed(r: { status: string }): r is FailedMs {
  return r.status === 'failed';
}
