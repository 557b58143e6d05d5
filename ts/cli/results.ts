/**
 * What the per-input commands (flag, calibrate, applycal, image, sources) share: one result per
 * input, a failure recorded with its code while the next input goes on, and one way of printing
 * them. An input is an MS (`ms` in the results) or an image (`image`).
 */
import { asContimgError } from '../error.js';
import type { Io } from './io.js';
import type { ProgressBar } from './progress.js';

/** An input the command could not process: its stable error code and message. */
export type Failed<K extends string> = { status: 'failed'; code: string; error: string } & Record<K, string>;
export type FailedMs = Failed<'ms'>;

/** Records the failure of one input on its progress line. */
export function failed<K extends string>(key: K, input: string, label: string, err: unknown, bar: ProgressBar): Failed<K> {
  const e = asContimgError(err);
  bar.fail(`${label}: ${e.message}`);
  return { status: 'failed', [key]: input, code: e.code, error: e.message } as Failed<K>;
}

export function failedMs(ms: string, label: string, err: unknown, bar: ProgressBar): FailedMs {
  return failed('ms', ms, label, err, bar);
}

/**
 * Prints the results — as JSON, or `text(r)` of each success on stdout and each failure with its
 * code on stderr — and returns the exit status: 1 when any input failed.
 */
export function printResults<R extends { status: string }, K extends string = 'ms'>(
  io: Io,
  results: (R | Failed<K>)[],
  json: boolean,
  text: (r: Exclude<R, { status: 'failed' }>) => string,
  key: K = 'ms' as K,
): number {
  if (json) {
    io.stdout(JSON.stringify(results, null, 2) + '\n');
  } else {
    for (const r of results) {
      if (isFailed<K>(r)) io.stderr(`${r[key]}: [${r.code}] ${r.error}\n`);
      else io.stdout(text(r as Exclude<R, { status: 'failed' }>));
    }
  }
  return results.some((r) => isFailed<K>(r)) ? 1 : 0;
}

function isFailed<K extends string>(r: { status: string }): r is Failed<K> {
  return r.status === 'failed';
}
