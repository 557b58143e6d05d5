/**
 * Who holds a claim, and whether that process still exists.
 *
 * A claim records the claimer's host name, pid and an identity of the process's start. The
 * start identity matters because pids are reused: a container restarted on the same host runs
 * the service as pid 1 again, and a pid alone would make the dead claim look alive forever. On
 * Linux the identity is the boot id plus the process start time in clock ticks from
 * `/proc/<pid>/stat`, exact and comparable without any clock conversion.
 */
import { readFileSync } from 'node:fs';
import { hostName } from '../host.js';

export interface ProcessIdentity {
  host: string;
  pid: number;
  /** Boot id and start ticks on Linux; elsewhere the start time in Unix seconds. */
  start: string;
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); the name may hold spaces. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // afterName[0] is field 3 (state), so field 22 is at index 19.
    return afterName[19];
  } catch {
    return undefined;
  }
}

/** The start identity of a live process, or undefined where it cannot be read (not Linux, gone). */
export function processStartToken(pid: number): string | undefined {
  const ticks = startTicks(pid);
  if (ticks === undefined) return undefined;
  return `${bootId() ?? 'boot?'}:${ticks}`;
}

export { hostName } from '../host.js';

let self: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  self ??= {
    host: hostName(),
    pid: process.pid,
    start: processStartToken(process.pid) ?? `t${Math.round(Date.now() / 1000 - process.uptime())}`,
  };
  return self;
}

/** `unknown`: held on another host, where this process cannot look. */
export type Liveness = 'alive' | 'gone' | 'unknown';

export function ownerLiveness(owner: ProcessIdentity): Liveness {
  if (owner.host !== hostName()) return 'unknown';
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    // EPERM: a process with this pid exists but belongs to another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  const token = processStartToken(owner.pid);
  if (token !== undefined && token !== owner.start) return 'gone';
  return 'alive';
}
