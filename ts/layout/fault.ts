/**
 * Fault injection for the crash tests: long operations (migration phases, publishing) call
 * `faultPoint` between every file-system change and registry write. With
 * `CONTIMG_FAULT_KILL_AT=N` in the environment the process SIGKILLs itself at the N-th point, so a
 * test can stop it at *every* step, not only where a timer happens to land; with
 * `CONTIMG_FAULT_TRACE=FILE` each point's label is appended to FILE (to count them). With
 * `CONTIMG_FAULT_STOP_AT=LABEL` the process SIGSTOPs itself the first time it reaches that point
 * (a frozen worker, for the lease tests), and goes on when the test sends SIGCONT. Without any of
 * these a fault point costs one comparison.
 */
import { appendFileSync } from 'node:fs';

const killAt = Number(process.env.CONTIMG_FAULT_KILL_AT ?? 0);
const trace = process.env.CONTIMG_FAULT_TRACE;
let stopAt = process.env.CONTIMG_FAULT_STOP_AT;
let count = 0;

export function faultPoint(label: string): void {
  if (!killAt && !trace && !stopAt) return;
  if (label === stopAt) {
    stopAt = undefined;
    process.kill(process.pid, 'SIGSTOP');
  }
  count++;
  if (trace) appendFileSync(trace, `${count} ${label}\n`);
  if (count === killAt) process.kill(process.pid, 'SIGKILL');
}
