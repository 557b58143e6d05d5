/**
 * Fault injection for the crash tests: long operations (migration phases, publishing) call
 * `faultPoint` between every file-system change and registry write. With
 * `CONTIMG_FAULT_KILL_AT=N` in the environment the process SIGKILLs itself at the N-th point, so a
 * test can stop it at *every* step, not only where a timer happens to land; with
 * `CONTIMG_FAULT_TRACE=FILE` each point's label is appended to FILE (to count them). Without
 * either variable a fault point costs one comparison.
 */
import { appendFileSync } from 'node:fs';

const killAt = Number(process.env.CONTIMG_FAULT_KILL_AT ?? 0);
const trace = process.env.CONTIMG_FAULT_TRACE;
let count = 0;

export function faultPoint(label: string): void {
  if (!killAt && !trace) return;
  count++;
  if (trace) appendFileSync(trace, `${count} ${label}\n`);
  if (count === killAt) process.kill(process.pid, 'SIGKILL');
}
