/**
 * What a writer (convert, stream, later stages) calls around a product it writes into the layout:
 * `dualWrite` once the product is in place, `recordFailure` when a job fails.
 */
import { readFileSync } from 'node:fs';
import { ContimgError } from '../error.js';
import { atomicSymlink, atomicWriteFile, resolves } from './fsops.js';
import type { Layout } from './layout.js';
import type { UtcDate } from './names.js';

/**
 * Phase 1 of the migration (dual-write): a product written to the new layout is also shown at its
 * legacy path, by a symlink there pointing at the new location, so that legacy readers keep
 * finding it. Does nothing outside dual-write mode, or for products the legacy layout had no place
 * for. Returns the legacy path it linked, or null.
 *
 * Call it after the product is complete at `newPath` (the link must never point at a half-written
 * product). A real file or directory already at the legacy path is never replaced: that is an
 * error naming it.
 */
export function dualWrite(layout: Layout, newPath: string): string | null {
  if (layout.writeMode !== 'dual-write') return null;
  const legacy = layout.legacyPathFor(newPath);
  if (legacy === null) return null;
  layout.assertInside(newPath, 'product');
  layout.assertInside(legacy, 'legacy path');
  if (!resolves(newPath)) {
    throw new ContimgError('LAYOUT_CONFLICT', `${newPath}: cannot show it at ${legacy}: the product does not exist (write it first)`);
  }
  atomicSymlink(legacy, newPath);
  return legacy;
}

export interface FailureRecord {
  /** The job's name: a group id, or `<stage>-<group>`. */
  jobId: string;
  /** The UTC date of the observation the job worked on (the failed/ directory it goes in). */
  obsDate: UtcDate;
  error: { code?: string; message: string };
  /** Anything useful for a post-mortem: inputs, options, the command line. */
  context?: Record<string, unknown>;
}

/**
 * Leaves `workspace/failed/YYYY-MM-DD/<job>_error.log` for a failed job. A job that fails again
 * appends to its log (its earlier failures stay readable); each write is atomic, so the log is
 * never torn. Returns the log's path.
 */
export function recordFailure(layout: Layout, f: FailureRecord): string {
  const file = layout.failedLogPath(f.jobId, f.obsDate);
  let previous = '';
  try {
    previous = readFileSync(file, 'utf8');
  } catch {
    // First failure of this job.
  }
  const entry = [
    `time: ${new Date().toISOString()}`,
    `job: ${f.jobId}`,
    `observation date: ${f.obsDate}`,
    `error: ${f.error.code ? `[${f.error.code}] ` : ''}${f.error.message}`,
    ...(f.context ? [`context: ${JSON.stringify(f.context, null, 2)}`] : []),
  ].join('\n');
  atomicWriteFile(file, `${previous}${previous ? '\n---\n' : ''}${entry}\n`);
  return file;
}
