/**
 * Moving a product (a file or an MS directory) to another place in the layout, resumably, with
 * the registry references updated in the same step. The migration (phase 3 and its rollback) and
 * publishing both move this way.
 *
 * Within one file system the move is rename(2). Across file systems it is copy (hashing what is
 * read) to a hidden temporary beside the target, verify (read the copy back and compare), record
 * "verified" in the caller's journal, rename the temporary into place, update the registry, and
 * only then delete the source: nothing is deleted unless a verified copy exists elsewhere.
 *
 * The registry is updated while the path it names exists. Across file systems both copies exist
 * at that moment. Within one, the data and a link must trade places in one step, or the
 * registry's old path would name nothing for an instant: a symlink to itself is put at the target
 * (it resolves to nothing, and nothing refers to it), then `renameat2(RENAME_EXCHANGE)` swaps it
 * with the source, so the data is at the target and the source path holds a link to it — whose
 * text, the target's path, now resolves. The link is removed at the end when the caller does not
 * want it kept. Where the file system cannot exchange, the data is renamed and a link made
 * beforehand is renamed in right after; a rerun repairs the instant between those two renames
 * (case "already moved" below). Temporaries left by a kill are removed by the next run
 * (`cleanStaleTemps`).
 *
 * Every step is idempotent and the state is read back from the file system (plus the journal's
 * `verified` mark for copies), so a process killed at any point and run again finishes the move.
 */
import { mkdirSync, renameSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../error.js';
import { faultPoint } from './fault.js';
import {
  atomicSymlink,
  cleanStaleTemps,
  copyTreeHashing,
  exchangePaths,
  fsyncDir,
  linkTarget,
  pathKind,
  prepareSymlink,
  removeLinkTo,
  removeTree,
  treeDigest,
  type SameFileSystem,
  type TreeDigest,
} from './fsops.js';

/** A move's progress as its journal records it. */
export type RelocateState = 'pending' | 'verified' | 'done';
export type RelocateMethod = 'rename' | 'copy';

export interface RelocateOp {
  from: string;
  to: string;
  state: RelocateState;
  /** Keep a symlink at `from` pointing at `to` afterwards (the migration's compatibility link). */
  leaveLink: boolean;
}

export interface RelocateHooks {
  sameFs: SameFileSystem;
  /** Persists a state change in the caller's journal before the next step depends on it. */
  setState(state: Exclude<RelocateState, 'pending'>, info: { method: RelocateMethod; checksum?: TreeDigest }): Promise<void>;
  /** Rewrites registry references from `from` (and below) to `to`; must be idempotent. */
  rewrite(from: string, to: string): Promise<void>;
  onBytes?: (n: number) => void;
}

export interface RelocateResult {
  method: RelocateMethod | 'none';
  /** The checksum of what was copied (copies only). */
  checksum?: TreeDigest;
}

/** The hidden temporary a copy to `to` is built under. */
export function relocateTempPath(to: string): string {
  return path.join(path.dirname(to), `.${path.basename(to)}.relocating`);
}

type FromKind = 'real' | 'missing' | 'link-to-target' | 'link-elsewhere';
type ToKind = 'real' | 'missing' | 'link-to-source' | 'link-elsewhere';

function kindOf(p: string, other: string): 'real' | 'missing' | 'link-to-other' | 'link-elsewhere' {
  const k = pathKind(p);
  if (k === 'missing') return 'missing';
  if (k === 'symlink') return linkTarget(p) === other ? 'link-to-other' : 'link-elsewhere';
  if (k === 'other') throw new ContimgError('LAYOUT_IO', `${p}: cannot move a special file`);
  return 'real';
}

export async function relocate(op: RelocateOp, hooks: RelocateHooks): Promise<RelocateResult> {
  const from = path.resolve(op.from);
  const to = path.resolve(op.to);
  if (op.state === 'done') return { method: 'none' };
  cleanStaleTemps(from);
  cleanStaleTemps(to);
  const tmp = relocateTempPath(to);
  // A symlink to itself at the source is a self-link an opposite move left before its exchange:
  // the data never left `to`, so this is "already moved" (the link is replaced below).
  const fromSelf = pathKind(from) === 'symlink' && linkTarget(from) === from;
  const fk0 = fromSelf ? 'missing' : kindOf(from, to);
  let fk: FromKind = fk0 === 'link-to-other' ? 'link-to-target' : fk0;
  // A symlink to itself at the target is this move's own, ready for the exchange (see header).
  const selfLink = pathKind(to) === 'symlink' && linkTarget(to) === to;
  const tk0 = selfLink ? 'missing' : kindOf(to, from);
  let tk: ToKind = tk0 === 'link-to-other' ? 'link-to-source' : tk0;

  if (fk === 'link-elsewhere') {
    throw new ContimgError('LAYOUT_CONFLICT', `${from}: cannot move it to ${to}: it is a symlink to ${linkTarget(from)}, not the data`);
  }
  if (tk === 'link-elsewhere') {
    throw new ContimgError('LAYOUT_CONFLICT', `${to}: cannot move ${from} there: a symlink to ${linkTarget(to)} is in the way`);
  }
  if (tk === 'link-to-source') {
    // A compatibility link left by the opposite move (a rollback finds one at the legacy path).
    if (fk !== 'real') throw new ContimgError('LAYOUT_LOST', `${from} is missing and ${to} only links to it: the data is gone`);
    removeLinkTo(to, from);
    faultPoint('relocate:unlink-target');
    tk = 'missing';
  }

  let method: RelocateMethod = hooks.sameFs(from, to) ? 'rename' : 'copy';
  if (selfLink && method !== 'rename') unlinkSync(to);
  let checksum: TreeDigest | undefined;

  if (tk === 'missing' && op.state === 'verified' && pathKind(tmp) !== 'missing') {
    // A verified copy was made before a crash: put it in place.
    renameSync(tmp, to);
    fsyncDir(path.dirname(to));
    faultPoint('relocate:place-verified-copy');
    tk = 'real';
    method = 'copy';
  }

  if (fk === 'real' && tk === 'missing') {
    mkdirSync(path.dirname(to), { recursive: true });
    if (method === 'rename') {
      if (!selfLink) {
        const self = prepareSymlink(to, to);
        self.commit();
        faultPoint('relocate:self-link');
      }
      if (exchangePaths(from, to)) {
        fsyncDir(path.dirname(to));
        fsyncDir(path.dirname(from));
      } else {
        // No exchange here: a link made beforehand follows the rename at once (see header).
        unlinkSync(to);
        const link = prepareSymlink(from, to);
        try {
          renameSync(from, to);
        } catch (e) {
          link.discard();
          throw e;
        }
        link.commit();
        fsyncDir(path.dirname(to));
      }
      faultPoint('relocate:renamed');
      await hooks.rewrite(from, to);
      faultPoint('relocate:rewritten');
      if (!op.leaveLink) removeLinkTo(from, to);
      await hooks.setState('done', { method });
      faultPoint('relocate:done');
      return { method };
    }
    removeTree(tmp);
    const copied = await copyTreeHashing(from, tmp, hooks.onBytes);
    faultPoint('relocate:copied');
    const check = await treeDigest(tmp);
    if (check.digest !== copied.digest) {
      removeTree(tmp);
      throw new ContimgError('LAYOUT_VERIFY', `${to}: the copy of ${from} does not match it (${check.digest} ≠ ${copied.digest}); the source is untouched`);
    }
    checksum = copied;
    await hooks.setState('verified', { method, checksum });
    faultPoint('relocate:verified');
    renameSync(tmp, to);
    fsyncDir(path.dirname(to));
    faultPoint('relocate:placed');
    tk = 'real';
  }

  if (fk === 'real' && tk === 'real') {
    if (op.state !== 'verified' && checksum === undefined) {
      throw new ContimgError('LAYOUT_CONFLICT', `${to} already exists and was not made by this move of ${from}; resolve it by hand`);
    }
    await hooks.rewrite(from, to);
    faultPoint('relocate:rewritten');
    removeTree(from);
    fsyncDir(path.dirname(from));
    faultPoint('relocate:source-removed');
    fk = 'missing';
  }

  if (tk !== 'real') {
    throw new ContimgError('LAYOUT_LOST', `neither ${from} nor ${to} holds the data any more`);
  }
  // Already moved (now, or by a run that was killed): make the old references resolve, rewrite
  // them, and leave or remove the link as asked.
  if (fk === 'missing') {
    atomicSymlink(from, to);
    faultPoint('relocate:linked');
  }
  await hooks.rewrite(from, to);
  faultPoint('relocate:rewritten-final');
  if (!op.leaveLink) removeLinkTo(from, to);
  await hooks.setState('done', { method, checksum });
  faultPoint('relocate:done');
  return { method, checksum };
}
