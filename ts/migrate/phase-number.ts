/**
 * The four migration phases of seed 004 and `--phase` parsing, apart from the journal so that the
 * CLI can check `--phase` without loading the database layer.
 */
import { ContimgError } from '../error.js';

export type Phase = 1 | 2 | 3 | 4;
export const PHASES: readonly Phase[] = [1, 2, 3, 4];

export function parsePhase(n: unknown): Phase {
  if (n === 1 || n === 2 || n === 3 || n === 4) return n;
  throw new ContimgError('MIGRATE_INVALID_ARGUMENT', `--phase must be 1, 2, 3 or 4 (got ${String(n)})`);
}
