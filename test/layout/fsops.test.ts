/**
 * The file-system primitives: tree checksums, hashing copies, atomic writes and links, the lock,
 * and `relocate` (rename within a file system, copy-verify-delete across) with its ordering.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  acquireLock,
  atomicSymlink,
  atomicWriteFile,
  cleanStaleTemps,
  copyTreeHashing,
  relocate,
  relocateTempPath,
  resolves,
  treeDigest,
  type RelocateState,
} from '../../ts/layout/index.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';
import { cleanupOtherDirs, contentDigest, otherFileSystemDir } from '../migrate/fixtures.js';

afterAll(() => {
  cleanupTmpDirs();
  cleanupOtherDirs();
});

function tree(root: string): string {
  mkdirSync(path.join(root, 'SUB', 'deeper'), { recursive: true });
  writeFileSync(path.join(root, 'table.dat'), 'abc');
  writeFileSync(path.join(root, 'SUB', 'table.f0'), Buffer.alloc(3 << 20, 7));
  mkdirSync(path.join(root, 'empty'));
  return root;
}

describe('treeDigest', () => {
  it('covers paths, contents and empty directories, but not the root name', async () => {
    const d = tmpDir();
    const a = tree(path.join(d, 'a.ms'));
    const b = tree(path.join(d, 'b.ms'));
    const da = await treeDigest(a);
    expect(da.digest).toMatch(/^tree-sha256:[0-9a-f]{64}$/);
    expect(da.bytes).toBe(3 + (3 << 20));
    expect(da.files).toBe(2);
    expect((await treeDigest(b)).digest).toBe(da.digest);
    writeFileSync(path.join(b, 'SUB', 'table.f0'), Buffer.concat([Buffer.alloc((3 << 20) - 1, 7), Buffer.from([8])]));
    expect((await treeDigest(b)).digest).not.toBe(da.digest);
    const c = tree(path.join(d, 'c.ms'));
    mkdirSync(path.join(c, 'another-empty'));
    expect((await treeDigest(c)).digest).not.toBe(da.digest);
    const e = tree(path.join(d, 'e.ms'));
    writeFileSync(path.join(e, 'table.dat2'), '');
    expect((await treeDigest(e)).digest).not.toBe(da.digest);
  });

  it('a hashing copy reports the checksum of what it copied, and the copy has it too', async () => {
    const d = tmpDir();
    const src = tree(path.join(d, 'src.ms'));
    symlinkSync('table.dat', path.join(src, 'link'));
    const copied = await copyTreeHashing(src, path.join(d, 'dst.ms'));
    expect(copied.digest).toBe((await treeDigest(src)).digest);
    expect((await treeDigest(path.join(d, 'dst.ms'))).digest).toBe(copied.digest);
    expect(readlinkSync(path.join(d, 'dst.ms', 'link'))).toBe('table.dat');
    await expect(copyTreeHashing(src, path.join(d, 'dst.ms'))).rejects.toThrow(/EEXIST/);
  });
});

describe('atomic writes, links and the lock', () => {
  it('atomicWriteFile leaves no temporary; stale temporaries of dead processes are cleaned', () => {
    const d = tmpDir();
    const f = path.join(d, 'layout.json');
    writeFileSync(path.join(d, '.layout.json.tmp-999999-abcdef'), 'torn');
    atomicWriteFile(f, 'one');
    atomicWriteFile(f, 'two');
    expect(readFileSync(f, 'utf8')).toBe('two');
    expect(readdirSync(d)).toEqual(['layout.json']);
    writeFileSync(path.join(d, `.layout.json.tmp-${process.ppid}-abcdef`), 'a live process is writing this');
    cleanStaleTemps(f);
    expect(readdirSync(d)).toContain(`.layout.json.tmp-${process.ppid}-abcdef`);
  });

  it('atomicSymlink replaces a link but never a file or a directory', () => {
    const d = tmpDir();
    const l = path.join(d, 'l');
    atomicSymlink(l, '/a');
    atomicSymlink(l, '/b');
    expect(readlinkSync(l)).toBe('/b');
    writeFileSync(path.join(d, 'f'), 'data');
    expect(() => atomicSymlink(path.join(d, 'f'), '/b')).toThrow(/f: cannot make it a link to \/b: a file is already there/);
    expect(readFileSync(path.join(d, 'f'), 'utf8')).toBe('data');
  });

  it('the lock refuses a second holder, naming it, and takes over from a dead one', () => {
    const d = tmpDir();
    const file = path.join(d, 'migrate.lock');
    const release = acquireLock(file, 'contimg migrate run --phase 3');
    expect(() => acquireLock(file, 'contimg migrate run --phase 4')).toThrow(new RegExp(`'contimg migrate run --phase 3' \\(pid ${process.pid}.*is running`));
    release();
    expect(existsSync(file)).toBe(false);
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(file, JSON.stringify({ pid: Number(dead.stdout.trim()), host: os.hostname(), startedAt: 'then', command: 'killed' }));
    const r2 = acquireLock(file, 'rerun');
    expect(JSON.parse(readFileSync(file, 'utf8')).pid).toBe(process.pid);
    r2();
  });
});

describe('relocate', () => {
  /** Hooks that record what happened and check the ordering rule at each registry rewrite. */
  function hooks(sameFs: boolean, log: string[]) {
    let state: RelocateState = 'pending';
    return {
      get state() {
        return state;
      },
      h: {
        sameFs: () => sameFs,
        async setState(s: Exclude<RelocateState, 'pending'>, info: { method: string; checksum?: { digest: string } }) {
          state = s;
          log.push(`state ${s} ${info.method}${info.checksum ? ' with checksum' : ''}`);
        },
        async rewrite(from: string, to: string) {
          // The registry is rewritten while both paths resolve.
          log.push(`rewrite (from ${resolves(from) ? 'resolves' : 'MISSING'}, to ${resolves(to) ? 'resolves' : 'MISSING'})`);
        },
      },
    };
  }

  it('within a file system: a rename, a link left at the old path, references rewritten while it resolves', async () => {
    const d = tmpDir();
    const from = tree(path.join(d, 'old', 'x.ms'));
    const digest = contentDigest(from);
    const to = path.join(d, 'new', '2025-10-02', 'x.ms');
    const log: string[] = [];
    const k = hooks(true, log);
    const r = await relocate({ from, to, state: 'pending', leaveLink: true }, k.h);
    expect(r.method).toBe('rename');
    expect(log).toEqual(['rewrite (from resolves, to resolves)', 'state done rename']);
    expect(lstatSync(from).isSymbolicLink()).toBe(true);
    expect(readlinkSync(from)).toBe(to);
    expect(contentDigest(to)).toBe(digest);
    // Done is done; and a rerun of an unfinished move with the data already moved just finishes it.
    expect((await relocate({ from, to, state: 'done', leaveLink: true }, k.h)).method).toBe('none');
    const log2: string[] = [];
    await relocate({ from, to, state: 'pending', leaveLink: false }, hooks(true, log2).h);
    expect(log2).toEqual(['rewrite (from resolves, to resolves)', 'state done rename']);
    expect(existsSync(from)).toBe(false);
  });

  it('across file systems: copy, verify, mark verified, place, rewrite, then delete the source', async () => {
    const shm = otherFileSystemDir();
    const d = tmpDir();
    const from = tree(path.join(d, 'old', 'x.ms'));
    const digest = contentDigest(from);
    const to = path.join(shm ?? tmpDir(), 'new', 'x.ms');
    const log: string[] = [];
    const r = await relocate({ from, to, state: 'pending', leaveLink: true }, hooks(false, log).h);
    expect(r.method).toBe('copy');
    expect(r.checksum?.digest).toMatch(/^tree-sha256:/);
    expect(log[0]).toBe('state verified copy with checksum');
    // The rewrite happens while the source is still there (before it is deleted).
    expect(log[1]).toBe('rewrite (from resolves, to resolves)');
    expect(log.at(-1)).toBe('state done copy with checksum');
    expect(readlinkSync(from)).toBe(to);
    expect(contentDigest(to)).toBe(digest);
    expect(existsSync(relocateTempPath(to))).toBe(false);
  });

  it('resumes a copy killed after verification, and one killed half-way through deleting the source', async () => {
    const d = tmpDir();
    const from = tree(path.join(d, 'old', 'x.ms'));
    const digest = contentDigest(from);
    const to = path.join(d, 'new', 'x.ms');
    // Killed after "verified", before the temporary was renamed into place.
    mkdirSync(path.dirname(to), { recursive: true });
    await copyTreeHashing(from, relocateTempPath(to));
    const log: string[] = [];
    await relocate({ from, to, state: 'verified', leaveLink: false }, hooks(false, log).h);
    expect(contentDigest(to)).toBe(digest);
    expect(existsSync(from)).toBe(false);
    expect(existsSync(relocateTempPath(to))).toBe(false);

    // Killed while deleting the source: both exist, the journal says verified.
    const from2 = tree(path.join(d, 'old', 'y.ms'));
    const to2 = path.join(d, 'new', 'y.ms');
    await copyTreeHashing(from2, to2);
    writeFileSync(path.join(from2, 'table.dat'), 'half deleted');
    await relocate({ from: from2, to: to2, state: 'verified', leaveLink: false }, hooks(false, []).h);
    expect(existsSync(from2)).toBe(false);
    expect(readFileSync(path.join(to2, 'table.dat'), 'utf8')).toBe('abc');
  });

  it('refuses what it did not make: an existing target, a link elsewhere, both paths missing', async () => {
    const d = tmpDir();
    const from = tree(path.join(d, 'a.ms'));
    const to = tree(path.join(d, 'b.ms'));
    await expect(relocate({ from, to, state: 'pending', leaveLink: true }, hooks(true, []).h)).rejects.toThrow(`${to} already exists and was not made by this move of ${from}`);
    const l = path.join(d, 'l.ms');
    symlinkSync('/etc', l);
    await expect(relocate({ from: l, to: path.join(d, 'c.ms'), state: 'pending', leaveLink: true }, hooks(true, []).h)).rejects.toThrow(`${l}: cannot move it to`);
    await expect(relocate({ from: path.join(d, 'none'), to: path.join(d, 'none2'), state: 'pending', leaveLink: true }, hooks(true, []).h)).rejects.toThrow(/neither .* holds the data/);
  });
});
