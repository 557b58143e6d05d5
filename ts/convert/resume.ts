/**
 * Resumable conversions across claims: the names of a group's checkpoint and partial MS, and
 * taking over an earlier claim's checkpoint.
 *
 * Without a claim token (`contimg convert --checkpoint-dir`, one process) a group has one
 * checkpoint, `<group>.checkpoint.json`, and one deterministic staging directory.
 *
 * With a claim token (the streaming queue's fencing token) each claim builds under its own names,
 * `<group>.t<token>.checkpoint.json` and `contimg-staging-<group>-t<token>`. A worker whose lease
 * expired may still be alive — stopped (SIGSTOP, a frozen VM), then woken — and its native
 * threads keep writing its partial MS until they notice, a chunk later. Were the partial MS
 * shared, those writes would land in the MS the next claim is finishing. So the next claim
 * *copies* the newest earlier checkpoint and its partial MS into its own names, and the late
 * writer only ever touches files nobody else uses.
 */
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fsyncPath } from '../layout/fsops.js';

export function checkpointPathFor(checkpointDir: string, groupId: string, claimToken?: number): string {
  return path.join(checkpointDir, claimToken === undefined ? `${groupId}.checkpoint.json` : `${groupId}.t${claimToken}.checkpoint.json`);
}

/** The converter's snapshot directories beside a checkpoint (Rust's `with_extension("snapN")`). */
function snapshotPaths(checkpoint: string): string[] {
  const stem = checkpoint.replace(/\.json$/, '');
  return [`${stem}.snap0`, `${stem}.snap1`, `${stem}.tmp`];
}

/** Tokens of the claims of `groupId` that left a checkpoint in `checkpointDir`, ascending. */
export function checkpointTokens(checkpointDir: string, groupId: string): number[] {
  if (!existsSync(checkpointDir)) return [];
  const prefix = `${groupId}.t`;
  const tokens: number[] = [];
  for (const name of readdirSync(checkpointDir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.checkpoint.json')) continue;
    const t = Number(name.slice(prefix.length, -'.checkpoint.json'.length));
    if (Number.isInteger(t)) tokens.push(t);
  }
  return tokens.sort((a, b) => a - b);
}

/** Whether any checkpoint of `groupId` exists (per group or per claim). */
export function hasCheckpoint(checkpointDir: string, groupId: string): boolean {
  return existsSync(checkpointPathFor(checkpointDir, groupId)) || checkpointTokens(checkpointDir, groupId).length > 0;
}

interface CheckpointFile {
  ms_path: string;
  snapshot?: string | null;
  [k: string]: unknown;
}

/**
 * The checkpoints a claim may take over, oldest first: the per-group one (`contimg convert`, or a
 * contimg before leases), then those of earlier claims. `undefined` stands for the per-group one.
 */
export function earlierCheckpoints(checkpointDir: string, groupId: string, claimToken: number): (number | undefined)[] {
  const perGroup = existsSync(checkpointPathFor(checkpointDir, groupId)) ? [undefined] : [];
  return [...perGroup, ...checkpointTokens(checkpointDir, groupId).filter((t) => t < claimToken)];
}

/**
 * Copies the newest earlier checkpoint (see `earlierCheckpoints`) to this claim's names: its
 * partial MS to `builtMs`, its snapshot beside this claim's checkpoint, and the checkpoint itself
 * (written last, atomically, so a copy cut short is never taken for a checkpoint). The earlier
 * files are then removed. Returns whether one was taken over.
 */
export function adoptEarlierCheckpoint(checkpointDir: string, groupId: string, claimToken: number, builtMs: string): boolean {
  const mine = checkpointPathFor(checkpointDir, groupId, claimToken);
  if (existsSync(mine)) return false;
  const earlier = earlierCheckpoints(checkpointDir, groupId, claimToken);
  if (earlier.length === 0) return false;
  const theirs = checkpointPathFor(checkpointDir, groupId, earlier.at(-1));
  let cp: CheckpointFile;
  try {
    cp = JSON.parse(readFileSync(theirs, 'utf8')) as CheckpointFile;
  } catch {
    return false; // unreadable: the conversion starts afresh, as the converter would
  }
  if (!cp.ms_path || !existsSync(cp.ms_path) || !cp.snapshot || !existsSync(cp.snapshot)) return false;
  rmSync(builtMs, { recursive: true, force: true });
  cpSync(cp.ms_path, builtMs, { recursive: true });
  const snapshot = `${mine.replace(/\.json$/, '')}.${path.basename(cp.snapshot).split('.').at(-1)}`;
  rmSync(snapshot, { recursive: true, force: true });
  cpSync(cp.snapshot, snapshot, { recursive: true });
  fsyncPath(path.dirname(builtMs));
  const tmp = `${mine}.adopting`;
  writeFileSync(tmp, JSON.stringify({ ...cp, ms_path: builtMs, snapshot }, null, 2));
  fsyncPath(tmp);
  renameSync(tmp, mine);
  fsyncPath(checkpointDir);
  for (const t of earlier) removeCheckpoint(checkpointDir, groupId, t);
  return true;
}

/** Removes a claim's checkpoint, its snapshots and the partial MS it names. */
export function removeCheckpoint(checkpointDir: string, groupId: string, claimToken?: number): void {
  const file = checkpointPathFor(checkpointDir, groupId, claimToken);
  try {
    const cp = JSON.parse(readFileSync(file, 'utf8')) as CheckpointFile;
    // The partial MS lives in a staging directory of its own: remove that directory.
    if (cp.ms_path && /contimg-staging-/.test(path.basename(path.dirname(cp.ms_path)))) rmSync(path.dirname(cp.ms_path), { recursive: true, force: true });
  } catch {
    // no readable checkpoint: nothing it names to remove
  }
  for (const p of [file, ...snapshotPaths(file)]) rmSync(p, { recursive: true, force: true });
}
