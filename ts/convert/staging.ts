/**
 * Where a MeasurementSet is built, and how it reaches the output directory without ever being
 * seen half-written.
 *
 * Seed 000 builds in tmpfs when it has room and then moves the MS into place. Whether that pays
 * depends on the output file system, so `--staging auto` (the default) looks at it (statfs):
 * - on a local file system (ext4, xfs, btrfs, …) the MS is built beside its destination (a hidden
 *   directory in the output directory, or the layout's workspace) and renamed into place. A build
 *   in tmpfs would write every byte twice — once into RAM, once more by the copy — and the copy
 *   can only start when the build ends, while a build in place lets the disk write back during
 *   the build. Measured on a full group (benches/convert, median of 3): 12.7 s through tmpfs
 *   against 5.2 s in place.
 * - on a network or FUSE file system (NFS, CIFS, Lustre, GPFS, Ceph, …), where casacore's many
 *   small writes are slow, it is built in tmpfs when that has at least twice the estimated MS
 *   size free, else in `--scratch-dir`, else in place, and then copied with fsync to a temporary
 *   name in the output directory and renamed.
 * `--staging tmpfs` forces seed 000's order (tmpfs, scratch, output); `--staging in-place` (or
 * the older `--no-tmpfs`) never uses tmpfs.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  statfsSync,
  writeFileSync,
  readFileSync,
  copyFileSync,
  lstatSync,
} from 'node:fs';
import path from 'node:path';
import { hostName } from '../host.js';
import { makeDirs } from '../layout/fsops.js';
import type { StagingLocation, StagingOptions } from './types.js';

/** The tmpfs seed 000 builds in (`--tmpfs-path`), for `convert`, `stream` and `status`. */
export const DEFAULT_TMPFS_PATH = '/dev/shm';

export interface StagingDecision {
  location: StagingLocation;
  /** The directory the MS is built in (created by `prepare`). */
  dir: string;
  reason: string;
}

export interface StagingProbe {
  /** Free bytes on the file system holding `p`, or undefined if it cannot be used. */
  freeBytes(p: string): number | undefined;
  /** statfs `f_type` of the file system holding `p` (or its nearest existing ancestor). */
  fsType(p: string): number | undefined;
}

/** statfs magic numbers (linux/magic.h) of file systems where each write crosses a network. */
const NETWORK_FS: Record<number, string> = {
  0x6969: 'nfs',
  0x517b: 'smb',
  0xff534d42: 'cifs',
  0xfe534d42: 'smb2',
  0x65735546: 'fuse',
  0x00c36400: 'ceph',
  0x5346414f: 'afs',
  0x01021997: '9p',
  0x0bd00bd0: 'lustre',
  0x47504653: 'gpfs',
  0x19830326: 'beegfs',
  0x7461636f: 'ocfs2',
  0x01161970: 'gfs2',
  0xaad7aaea: 'panfs',
};

/** Names of local file systems, for the decision's reason (anything not network counts as local). */
const LOCAL_FS: Record<number, string> = {
  0xef53: 'ext4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x2fc12fc1: 'zfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlayfs',
  0xf2f52010: 'f2fs',
};

/** What the output file system is, as the staging decision needs it. */
export function describeFs(type: number | undefined): { network: boolean; name: string } {
  if (type === undefined) return { network: false, name: 'unknown file system' };
  const net = NETWORK_FS[type];
  if (net) return { network: true, name: net };
  return { network: false, name: LOCAL_FS[type] ?? `file system type 0x${type.toString(16)}` };
}

function nearestExisting(p: string): string {
  let q = path.resolve(p);
  while (!existsSync(q) && path.dirname(q) !== q) q = path.dirname(q);
  return q;
}

export const realProbe: StagingProbe = {
  freeBytes(p) {
    try {
      if (!statSync(p).isDirectory()) return undefined;
      const s = statfsSync(p);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      return undefined;
    }
  },
  fsType(p) {
    try {
      // f_type is unsigned; Node reports it as a signed 32-bit number on some builds.
      return Number(statfsSync(nearestExisting(p)).type) >>> 0;
    } catch {
      return undefined;
    }
  },
};

/** Bytes a MeasurementSet of this shape takes on disk (casacore tiled storage). */
export function estimateMsBytes(rows: number, nchan: number, ncorr: number, imagingColumns: boolean): number {
  const cell = nchan * ncorr;
  // DATA (8), WEIGHT_SPECTRUM (4), FLAG (1 bit); UVW, WEIGHT, SIGMA and the scalar columns.
  const perRow = cell * 8 + cell * 4 + cell / 8 + 24 + ncorr * 8 + 64 + (imagingColumns ? cell * 16 : 0);
  return Math.ceil(rows * perRow);
}

/**
 * Name of the staging directory: deterministic when a checkpoint must find it again, and then
 * one per claim when the queue gives a claim token (ts/convert/resume.ts says why).
 */
function stagingName(groupId: string, resumable: boolean, claimToken?: number): string {
  const safe = groupId.replace(/[^A-Za-z0-9_.:-]/g, '_');
  if (!resumable) return `contimg-staging-${safe}-${ownerTag()}`;
  return claimToken === undefined ? `contimg-staging-${safe}` : `contimg-staging-${safe}-t${claimToken}`;
}

export function decideStaging(
  groupId: string,
  outputDir: string,
  estimate: number | (() => number),
  opts: StagingOptions,
  resumable: boolean,
  probe: StagingProbe = realProbe,
  claimToken?: number,
): StagingDecision {
  const name = stagingName(groupId, resumable, claimToken);
  // Only staging away from the output needs the size, and estimating it reads an input header:
  // asked for only then.
  let known: number | undefined = typeof estimate === 'number' ? estimate : undefined;
  const estimateBytes = (): number => (known ??= (estimate as () => number)());
  const gb = (n: number) => (n >= 1e8 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);
  const notes: string[] = [];
  const mode = opts.mode ?? 'auto';
  const fs = describeFs(probe.fsType(opts.workspaceDir ?? outputDir));
  // Staging elsewhere pays only on a network file system, or when the user asks for it.
  const stageAway = mode === 'tmpfs' || (mode === 'auto' && fs.network);
  if (mode === 'in-place') {
    notes.push('building in place (--staging in-place)');
  } else if (!stageAway) {
    notes.push(`the output is on a local file system (${fs.name}), where building in place writes each byte once and lets the disk work during the build`);
  } else if (opts.noTmpfs) {
    notes.push('tmpfs disabled (--no-tmpfs)');
  } else {
    if (mode === 'auto') notes.push(`the output is on a network file system (${fs.name})`);
    const free = probe.freeBytes(opts.tmpfsPath);
    if (free === undefined) notes.push(`tmpfs ${opts.tmpfsPath} is not a usable directory`);
    else if (free >= 2 * estimateBytes()) {
      return {
        location: 'tmpfs',
        dir: path.join(opts.tmpfsPath, name),
        reason: [...notes, `tmpfs ${opts.tmpfsPath} has ${gb(free)} free, at least twice the estimated ${gb(estimateBytes())}`].join('; '),
      };
    } else notes.push(`tmpfs ${opts.tmpfsPath} has only ${gb(free)} free, less than twice the estimated ${gb(estimateBytes())}`);
  }
  if (opts.scratchDir && stageAway) {
    const free = probe.freeBytes(opts.scratchDir);
    if (free !== undefined && free >= estimateBytes()) {
      return { location: 'scratch', dir: path.join(opts.scratchDir, name), reason: `${notes.join('; ')}; building in scratch ${opts.scratchDir} (${gb(free)} free)` };
    }
    notes.push(free === undefined ? `scratch ${opts.scratchDir} is not a usable directory` : `scratch ${opts.scratchDir} has only ${gb(free)} free`);
  }
  if (opts.workspaceDir) {
    // Not hidden: the workspace exists so that operators see what is being converted.
    return { location: 'workspace', dir: path.join(opts.workspaceDir, name), reason: `${notes.join('; ')}; building in the workspace ${opts.workspaceDir}` };
  }
  return {
    location: 'output',
    dir: path.join(outputDir, `.${name}`),
    reason: `${notes.join('; ')}; building in a hidden directory inside the output directory`,
  };
}

function sameFileSystem(a: string, b: string): boolean {
  return statSync(a).dev === statSync(b).dev;
}

function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copies a directory tree, fsyncing every file and directory. */
function copyTreeDurable(src: string, dst: string): void {
  makeDirs(dst);
  for (const entry of readdirSync(src)) {
    const s = path.join(src, entry);
    const d = path.join(dst, entry);
    const st = lstatSync(s);
    if (st.isDirectory()) copyTreeDurable(s, d);
    else if (st.isSymbolicLink()) throw new Error(`${s}: unexpected symbolic link inside a MeasurementSet`);
    else {
      copyFileSync(s, d);
      fsyncPath(d);
    }
  }
  fsyncPath(dst);
}

export interface MoveResult {
  method: 'rename' | 'copy';
  replaced: boolean;
}

/**
 * Moves the finished MS `built` to `target` so that `target` either does not exist or is
 * complete at every instant. An existing target (with `overwrite`) is swapped out by rename
 * and removed afterwards.
 */
export function moveIntoPlace(built: string, target: string, overwrite: boolean): MoveResult {
  return commitMove(prepareMove(built, target), overwrite);
}

/** A finished MS on the target's file system, one rename from its place. */
export interface PreparedMove {
  built: string;
  target: string;
  /** `built` itself, or a hidden durable copy next to `target`. */
  source: string;
  method: MoveResult['method'];
  tag: string;
}

/**
 * The slow half of a move: a copy next to the target when the MS was built on another file
 * system (tmpfs, a worker's local scratch). Nothing is visible at `target` yet, so this part
 * needs no lock; `commitMove` is the instant that publishes.
 */
export function prepareMove(built: string, target: string): PreparedMove {
  const outDir = path.dirname(target);
  makeDirs(outDir);
  const tag = ownerTag();
  let source = built;
  let method: MoveResult['method'] = 'rename';
  if (!sameFileSystem(path.dirname(built), outDir)) {
    // Copy next to the target under a hidden name, durable, then rename.
    const partial = path.join(outDir, `.${path.basename(target)}.partial-${tag}`);
    try {
      copyTreeDurable(built, partial);
    } catch (e) {
      // A full or failing disk: the partial copy is useless and only takes the space a retry needs.
      rmSync(partial, { recursive: true, force: true });
      throw e;
    }
    source = partial;
    method = 'copy';
  }
  return { built, target, source, method, tag };
}

/** Gives up a prepared move: its hidden copy goes (the built MS stays for a checkpoint to resume). */
export function abandonMove(m: PreparedMove): void {
  if (m.source !== m.built) rmSync(m.source, { recursive: true, force: true });
}

/** The rename that publishes a prepared move (and, with `overwrite`, retires the old output). */
export function commitMove(m: PreparedMove, overwrite: boolean): MoveResult {
  const { built, target, source, method, tag } = m;
  const outDir = path.dirname(target);
  let replaced = false;
  let old: string | undefined;
  if (existsSync(target)) {
    if (!overwrite) throw new Error(`${target} already exists`);
    old = path.join(outDir, `.${path.basename(target)}.old-${tag}`);
    renameSync(target, old);
    replaced = true;
  }
  renameSync(source, target);
  fsyncPath(outDir);
  if (old) rmSync(old, { recursive: true, force: true });
  if (method === 'copy') rmSync(built, { recursive: true, force: true });
  return { method, replaced };
}

/**
 * The owner part of a staging or partial-copy name: pid, host and a random suffix. Several
 * workers, on this host and others, share an output tree, and each cleans up after dead
 * conversions there; the name says whose an entry is even before its `.owner` record exists
 * (another worker's cleanup once removed a staging directory in the instant between its mkdir
 * and its owner record), and a worker judges only its own host's processes.
 */
export function ownerTag(): string {
  return `${process.pid}@${thisHost()}-${randomBytes(3).toString('hex')}`;
}

/** Whether `name` ends in an `ownerTag()` whose process is gone (never judged for another host's). */
export function ownerTagGone(name: string): boolean {
  const owner = tagOwner(name);
  return owner !== undefined && !alive(owner);
}

/** This host's name as owner marks carry it (safe in a file name). */
function thisHost(): string {
  return hostName().replace(/[^A-Za-z0-9._-]/g, '_');
}

/** Pid and host of an owner tag at the end of `name` (no host: written before hosts were recorded). */
const OWNER_TAG = /-(\d+)(?:@([^@/]+))?-[0-9a-f]{6}$/;

/** Owner record of a staging directory, so a later run can tell abandoned ones apart. */
export function markOwner(dir: string): void {
  makeDirs(dir);
  writeFileSync(path.join(dir, '.owner'), JSON.stringify({ pid: process.pid, host: thisHost(), startedAt: Date.now() }));
}

/** Whether the owner may still be working: a process on another host is never judged from here. */
function alive(owner: { pid: number; host?: string }): boolean {
  if (owner.host !== undefined && owner.host !== thisHost()) return true;
  return pidAlive(owner.pid);
}

function tagOwner(name: string): { pid: number; host?: string } | undefined {
  const m = OWNER_TAG.exec(name);
  return m ? { pid: Number(m[1]), host: m[2] } : undefined;
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerAlive(dir: string): boolean {
  let owner: { pid: number; host?: string } | undefined;
  try {
    owner = JSON.parse(readFileSync(path.join(dir, '.owner'), 'utf8')) as { pid: number; host?: string };
  } catch {
    // No record yet (or a torn one): the name says whose it is.
    owner = tagOwner(path.basename(dir));
  }
  return owner !== undefined && alive(owner);
}

const STAGING_DIR = /^\.?contimg-staging-.+-\d+(?:@[^@/]+)?-[0-9a-f]{6}$/;
const MOVE_LEFTOVER = /^\.(.+\.ms)\.(partial|old)(-\d+(?:@[^@/]+)?-[0-9a-f]{6})$/;

/**
 * Staging directories in `base` whose conversion's process is gone (what `cleanAbandoned` would
 * remove), without touching them: for the monitor's warning.
 */
export function abandonedStaging(base: string): string[] {
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((e) => STAGING_DIR.test(e) && !ownerAlive(path.join(base, e)))
    .map((e) => path.join(base, e));
}

/**
 * Removes staging directories left in `base` by conversions whose process is gone, except
 * resumable ones (their checkpoint still needs them). Returns what was removed.
 */
export function cleanAbandoned(base: string): string[] {
  if (!existsSync(base)) return [];
  const removed: string[] = [];
  for (const entry of readdirSync(base)) {
    if (!STAGING_DIR.test(entry)) continue;
    const dir = path.join(base, entry);
    if (!ownerAlive(dir)) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  for (const entry of readdirSync(base)) {
    // Partial copies and swapped-out old outputs of an interrupted move.
    const m = MOVE_LEFTOVER.exec(entry);
    const owner = m ? tagOwner(m[3]!) : undefined;
    if (!m || !owner || alive(owner)) continue;
    const dir = path.join(base, entry);
    const target = path.join(base, m[1]!);
    if (m[2] === 'old' && !existsSync(target)) {
      // The move stopped between its two renames: the previous output is the only one.
      renameSync(dir, target);
    } else {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
  }
  return removed;
}
