/**
 * File-system primitives that the layout, the migration and publishing share: atomic writes and
 * symlinks, tree checksums, a copy that hashes what it reads, file-system identity, and a lock.
 *
 * Everything that replaces something does it by rename(2) of a complete temporary, so a reader (or
 * a process killed half-way) sees the old thing or the new thing, never a torn one. Temporary names
 * start with '.', which `safeName` refuses for real products, so they can never collide with one.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { open, lstat, readdir, readlink, mkdir, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { native } from '../native.js';
import { ContimgError, asContimgError } from '../error.js';

export type PathKind = 'missing' | 'file' | 'dir' | 'symlink' | 'other';

/** What is at `p`, without following a final symlink. */
export function pathKind(p: string): PathKind {
  let st;
  try {
    st = lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
    throw e;
  }
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'other';
}

/** True when `p` exists after following symlinks (a dangling link does not). */
export function resolves(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

const FS_REASONS: Record<string, string> = {
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'the kernel refuses to create it there',
  ENOTDIR: 'a path component is not a directory',
};

/** A file-system error as a ContimgError whose code is the errno name (EROFS, ENOSPC, …). */
export function fsError(e: unknown, p: string, doing: string): ContimgError {
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return asContimgError(e);
  return new ContimgError(code, `${p}: ${doing}: ${FS_REASONS[code] ?? (e as Error).message} (${code})`);
}

/**
 * Creates `dir` and its missing parents, one mkdir(2) at a time from the deepest existing
 * ancestor. Not `mkdirSync(…, { recursive: true })`: Node's recursive mkdir spins forever where
 * the kernel answers ENOENT for a directory whose parent exists (under /proc, /sys), and reports
 * a read-only file system as ENOENT. Errors carry the errno as code (EROFS, EACCES, ENOENT, …)
 * and name the directory.
 */
export function makeDirs(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, p, 'cannot create directory');
      missing.push(p);
      if (path.dirname(p) === p) break;
      continue;
    }
    if (!isDir) throw new ContimgError('ENOTDIR', `${p}: cannot create directory ${abs}: ${p} is not a directory (ENOTDIR)`);
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && resolves(d) && statSync(d).isDirectory()) continue;
      throw fsError(e, d, 'cannot create directory');
    }
  }
}

/** The absolute target of the symlink at `link` (relative targets resolved against its directory). */
export function linkTarget(link: string): string {
  return path.resolve(path.dirname(link), readlinkSync(link));
}

export function fsyncPath(p: string): void {
  const fd = openSync(p, fsConstants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename or unlink in `dir` durable. */
export function fsyncDir(dir: string): void {
  try {
    fsyncPath(dir);
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  }
}

function tempName(target: string, tag: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(3).toString('hex')}`);
}

/**
 * Removes the temporaries (`tempName`) that a process killed while replacing `target` left beside
 * it: they are incomplete by definition, and a left-over temporary link would dangle.
 */
export function cleanStaleTemps(target: string): void {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.`;
  for (const name of listDir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(tmp|link)-(\d+)-[0-9a-f]{6}$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && pidAlive(pid)) continue;
    rmSync(path.join(dir, name), { force: true, recursive: true });
  }
}

/** Writes `data` to `file` atomically: a temporary beside it, fsync, rename, fsync the directory. */
export function atomicWriteFile(file: string, data: string | Uint8Array): void {
  makeDirs(path.dirname(file));
  cleanStaleTemps(file);
  const tmp = tempName(file, 'tmp');
  const fd = openSync(tmp, 'wx');
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(file));
}

/**
 * Makes `link` a symlink to `target` (absolute), atomically: a temporary link renamed over it. An
 * existing symlink is replaced; a real file or directory at `link` is never replaced (that would
 * destroy data), and is an error naming it.
 */
/**
 * Swaps `a` and `b` in one step (renameat2 RENAME_EXCHANGE; both must exist on one file
 * system). Returns false where the kernel or file system cannot, so the caller can fall back.
 */
export function exchangePaths(a: string, b: string): boolean {
  try {
    return native().exchangePaths(a, b);
  } catch (e) {
    throw asContimgError(e);
  }
}

export function atomicSymlink(link: string, target: string): void {
  const kind = pathKind(link);
  if (kind === 'symlink' && linkTarget(link) === target) return;
  if (kind !== 'missing' && kind !== 'symlink') {
    throw new ContimgError('LAYOUT_CONFLICT', `${link}: cannot make it a link to ${target}: a ${kind} is already there`);
  }
  makeDirs(path.dirname(link));
  cleanStaleTemps(link);
  const tmp = tempName(link, 'link');
  symlinkSync(target, tmp);
  try {
    renameSync(tmp, link);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(link));
}

/**
 * A symlink to `target` made ahead of time under a temporary name beside `link`, to be put in
 * place later by one rename (`commit`), e.g. right after the data it stands in for moves away.
 */
export function prepareSymlink(link: string, target: string): { commit(): void; discard(): void } {
  makeDirs(path.dirname(link));
  cleanStaleTemps(link);
  const tmp = tempName(link, 'link');
  symlinkSync(target, tmp);
  return {
    commit() {
      renameSync(tmp, link);
      fsyncDir(path.dirname(link));
    },
    discard() {
      rmSync(tmp, { force: true });
    },
  };
}

/** Removes the symlink at `link` if (and only if) it points at `target`. */
export function removeLinkTo(link: string, target: string): boolean {
  if (pathKind(link) !== 'symlink' || linkTarget(link) !== target) return false;
  unlinkSync(link);
  fsyncDir(path.dirname(link));
  return true;
}

/** The device of `p`, or of its nearest existing ancestor (for paths not created yet). */
export function deviceOf(p: string): number {
  let cur = path.resolve(p);
  for (;;) {
    try {
      return statSync(cur).dev;
    } catch {
      const up = path.dirname(cur);
      if (up === cur) throw new ContimgError('LAYOUT_IO', `${p}: no existing ancestor directory`);
      cur = up;
    }
  }
}

/** Whether a rename can move `from` to `to`; injectable so tests can force the copy path. */
export type SameFileSystem = (from: string, to: string) => boolean;

export const sameFileSystem: SameFileSystem = (from, to) => deviceOf(from) === deviceOf(path.dirname(to));

// ---------------------------------------------------------------------------------------------
// Tree checksums

/** A checksum over a file or a directory tree (an MS is a directory). */
export interface TreeDigest {
  /** `tree-sha256:<hex>`: see `treeDigest` for what it covers. */
  digest: string;
  bytes: number;
  files: number;
}

const CHUNK = 1 << 20;

interface Entry {
  rel: string;
  line: string;
  bytes: number;
}

function combine(entries: Entry[]): TreeDigest {
  entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const h = createHash('sha256');
  let bytes = 0;
  let files = 0;
  for (const e of entries) {
    h.update(e.line);
    bytes += e.bytes;
    if (e.line.startsWith('f ')) files++;
  }
  return { digest: `tree-sha256:${h.digest('hex')}`, bytes, files };
}

function fileLine(rel: string, size: number, sha: string): string {
  return `f ${JSON.stringify(rel)} ${size} ${sha}\n`;
}

async function hashFile(file: string, sink?: (chunk: Buffer) => Promise<void>): Promise<{ sha: string; size: number }> {
  const h = createHash('sha256');
  const fh = await open(file, 'r');
  let size = 0;
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      h.update(chunk);
      size += bytesRead;
      if (sink) await sink(chunk);
    }
  } finally {
    await fh.close();
  }
  return { sha: h.digest('hex'), size };
}

/**
 * SHA-256 over a file or directory tree, streaming (never a whole file in memory). It covers every
 * entry's relative path and type, each file's size and content, and each symlink's target, in
 * sorted path order; the name of the root itself is left out, so a moved or renamed tree keeps its
 * checksum. Empty directories count, so a tree that lost one is caught.
 */
export async function treeDigest(root: string): Promise<TreeDigest> {
  const entries: Entry[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) {
      entries.push({ rel, line: `l ${JSON.stringify(rel)} ${JSON.stringify(await readlink(abs))}\n`, bytes: 0 });
    } else if (st.isDirectory()) {
      entries.push({ rel, line: `d ${JSON.stringify(rel)}\n`, bytes: 0 });
      for (const name of await readdir(abs)) await walk(path.join(abs, name), rel ? `${rel}/${name}` : name);
    } else if (st.isFile()) {
      const { sha, size } = await hashFile(abs);
      entries.push({ rel, line: fileLine(rel, size, sha), bytes: size });
    } else {
      throw new ContimgError('LAYOUT_IO', `${abs}: cannot checksum a ${st.isFIFO() ? 'FIFO' : 'special file'}`);
    }
  };
  await walk(root, '');
  return combine(entries);
}

/**
 * Copies `src` (file or tree) to `dst`, which must not exist, hashing what it reads: the result is
 * the checksum of the source as copied, in `treeDigest`'s form. Every file and directory written
 * is fsynced, so once a verification has read the copy back it is on disk.
 */
export async function copyTreeHashing(src: string, dst: string, onBytes?: (n: number) => void): Promise<TreeDigest> {
  const entries: Entry[] = [];
  const dirs: string[] = [];
  const walk = async (s: string, d: string, rel: string): Promise<void> => {
    const st = await lstat(s);
    if (st.isSymbolicLink()) {
      const target = await readlink(s);
      await symlink(target, d);
      entries.push({ rel, line: `l ${JSON.stringify(rel)} ${JSON.stringify(target)}\n`, bytes: 0 });
    } else if (st.isDirectory()) {
      await mkdir(d, { mode: st.mode & 0o7777 });
      dirs.push(d);
      entries.push({ rel, line: `d ${JSON.stringify(rel)}\n`, bytes: 0 });
      for (const name of await readdir(s)) await walk(path.join(s, name), path.join(d, name), rel ? `${rel}/${name}` : name);
    } else if (st.isFile()) {
      const out = await open(d, 'wx', st.mode & 0o7777);
      try {
        const { sha, size } = await hashFile(s, async (chunk) => {
          let off = 0;
          while (off < chunk.length) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
          onBytes?.(chunk.length);
        });
        await out.sync();
        entries.push({ rel, line: fileLine(rel, size, sha), bytes: size });
      } finally {
        await out.close();
      }
    } else {
      throw new ContimgError('LAYOUT_IO', `${s}: cannot copy a special file`);
    }
  };
  await walk(src, dst, '');
  for (const d of dirs.reverse()) fsyncDir(d);
  return combine(entries);
}

/** Removes a file, link or tree; a missing path is fine. */
export function removeTree(p: string): void {
  rmSync(p, { recursive: true, force: true });
}

/** Entries of a directory, sorted; empty when it does not exist. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// An exclusive lock for commands that must not run twice at once (migrate, publish)

interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock file `file` (created with O_EXCL). A lock left by a process on this host that no
 * longer exists (killed, crashed) is taken over; one held by a live process is an error naming it.
 * Returns the release function.
 */
export function acquireLock(file: string, command: string): () => void {
  makeDirs(path.dirname(file));
  const me: LockOwner = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, JSON.stringify(me));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          const owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
          if (owner.pid === me.pid && owner.host === me.host) unlinkSync(file);
        } catch {
          // Already gone.
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
    } catch {
      // A lock file that is empty or torn was left by a process killed while writing it.
    }
    if (owner && (owner.host !== me.host || pidAlive(owner.pid))) {
      throw new ContimgError(
        'LOCKED',
        `${file}: '${owner.command}' (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt}) is running; wait for it to finish`,
      );
    }
    rmSync(file, { force: true });
  }
  throw new ContimgError('LOCKED', `${file}: could not take the lock`);
}
