/**
 * The worker's input staging (seed 000): each attempt gets a temporary directory holding the
 * group's subband files, copied in parallel with `--stage-inputs` (local reads instead of random
 * I/O on a networked ingest disk) or else symlinked. `--cleanup-temp` removes it afterwards;
 * without it the directory is kept as a record of exactly what was converted.
 */
import { constants as fsConstants, readdirSync, rmSync } from 'node:fs';
import { copyFile, mkdir, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SubbandFile } from '../groups.js';
import { ContimgError } from '../error.js';
import { ownerTag, ownerTagGone } from '../convert/staging.js';

export interface InputStagingOptions {
  /** Where the temporary directory goes (the scratch dir, else the system temp dir). */
  baseDir?: string;
  copy: boolean;
  /** Parallel copies with `copy` (at least 1). */
  workers: number;
}

export interface StagedInputs {
  dir: string;
  mode: 'copy' | 'symlink';
  /** The files as the converter sees them, in the same order as the originals. */
  files: SubbandFile[];
  /** Staged path → original path, to name the real file in error messages. */
  originals: Map<string, string>;
  bytesCopied: number;
}

/** A prefix the converter's own staging clean-up (`contimg-staging-…`) never matches. */
export const INPUT_STAGING_PREFIX = 'contimg-inputs-';

/** Where the input staging directories go when no base directory is given. */
export const inputStagingBase = (baseDir: string | undefined): string => baseDir ?? os.tmpdir();

export async function stageInputs(groupId: string, files: SubbandFile[], opts: InputStagingOptions): Promise<StagedInputs> {
  const base = inputStagingBase(opts.baseDir);
  await mkdir(base, { recursive: true });
  // `contimg-inputs-<group>-<pid>@<host>-<random>`: the converter's owner tag says whose it is.
  const dir = path.join(base, `${INPUT_STAGING_PREFIX}${groupId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${ownerTag()}`);
  await mkdir(dir, { mode: 0o700 });
  const staged = files.map((f) => ({ ...f, path: path.join(dir, path.basename(f.path)) }));
  const originals = new Map(staged.map((s, i) => [s.path, files[i]!.path]));
  let bytesCopied = 0;
  try {
    if (opts.copy) {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < files.length; i = next++) {
          // FICLONE: a reflink where the file system can, a real copy otherwise.
          await copyFile(files[i]!.path, staged[i]!.path, fsConstants.COPYFILE_FICLONE);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, files.length)) }, worker));
      for (const s of staged) bytesCopied += (await stat(s.path)).size;
    } else {
      await Promise.all(files.map((f, i) => symlink(path.resolve(f.path), staged[i]!.path)));
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    const which = e.path ? ` ${e.path}` : '';
    throw new ContimgError('STREAM_STAGE_INPUTS', `staging the inputs of ${groupId} into ${dir} failed:${which}: ${e.message}`);
  }
  return { dir, mode: opts.copy ? 'copy' : 'symlink', files: staged, originals, bytesCopied };
}

/** Rewrites staged paths in a message back to the files an operator knows. */
export function originalPaths(message: string, staged: StagedInputs | undefined): string {
  if (!staged) return message;
  let out = message;
  for (const [s, o] of staged.originals) out = out.split(s).join(o);
  return out;
}

/**
 * Removes the input staging directories in `base` of workers whose process is gone (killed, out
 * of memory): their `finally` never ran. With `--stage-inputs` each holds a copy of a whole group.
 * Only for `--cleanup-temp`: without it the directories are kept on purpose. Returns what went.
 */
export function cleanAbandonedInputs(base: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const e of entries) {
    if (!e.startsWith(INPUT_STAGING_PREFIX) || !ownerTagGone(e)) continue;
    rmSync(path.join(base, e), { recursive: true, force: true });
    removed.push(path.join(base, e));
  }
  return removed;
}
