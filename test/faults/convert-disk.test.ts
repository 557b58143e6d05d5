/**
 * `contimg convert` on full and read-only file systems and on paths the kernel refuses (issue 11
 * §6). Real faults: size-limited tmpfs mounts and a read-only remount; the CLI runs as a child
 * process so that an abort would show as SIGABRT instead of killing the test worker.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, tmpDir } from '../helpers.js';
import { contimg, listTree, remountReadOnly, resizeFs, smallFs, unmountAll } from './mounts.js';

// 48 antennas × 16 subbands × 16 channels × 6 integrations: a 40 MB MS, 18 MB of input.
const GROUP = ['--antennas', '48', '--channels', '16', '--integrations', '6'];
let input: string;

beforeAll(async () => {
  input = tmpDir();
  await cliJson('simulate', '--output-dir', input, ...GROUP);
});

afterAll(() => {
  unmountAll();
  cleanupTmpDirs();
});

/** Group summaries of `convert --json`. */
function groups(stdout: string): { groupId: string; error?: { code: string; message: string } }[] {
  return (JSON.parse(stdout) as { groups: { groupId: string; error?: { code: string; message: string } }[] }).groups;
}

describe('a full output disk', () => {
  // casacore aborts when a destructor's write fails (SSM's ~StManArrayFile); the shim's room check
  // before each put counts the bytes that put brings in, so the disk never fills under casacore.
  it('with --no-tmpfs: an MS_NO_SPACE error (not SIGABRT), no staging left, and a rerun with room succeeds', async () => {
    const out = smallFs(24 * 1024);
    const r = await contimg(['convert', '--input-dir', input, '--output-dir', out, '--no-tmpfs', '--json']);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(1);
    const [g] = groups(r.stdout);
    expect(g!.error?.code, r.stdout).toBe('MS_NO_SPACE');
    expect(g!.error?.message).toContain(out);
    expect(g!.error?.message).toMatch(/No space left on device/);
    // The failed build is gone: nothing hidden fills the disk.
    expect(listTree(out)).toEqual([]);

    resizeFs(out, 128 * 1024);
    const again = await contimg(['convert', '--input-dir', input, '--output-dir', out, '--no-tmpfs', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(out)).toEqual([`${groups(again.stdout)[0]!.groupId}.ms`]);
  });

  it('with staging elsewhere: the copy fails with ENOSPC and neither the partial copy nor the staging MS stays', async () => {
    const out = smallFs(24 * 1024);
    const tmpfs = tmpDir(); // another file system with room: the MS is built there, then copied
    const r = await contimg(['convert', '--input-dir', input, '--output-dir', out, '--staging', 'tmpfs', '--tmpfs-path', tmpfs, '--json']);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(1);
    const [g] = groups(r.stdout);
    expect(g!.error?.code, r.stdout).toBe('ENOSPC');
    expect(g!.error?.message).toContain(out);
    expect(listTree(out)).toEqual([]);
    expect(readdirSync(tmpfs)).toEqual([]);
  });
});

describe('output directories the file system refuses', () => {
  it('a read-only file system is reported as EROFS, naming the directory', async () => {
    const ro = smallFs(1024);
    remountReadOnly(ro);
    const dir = path.join(ro, 'ms', 'day');
    const r = await contimg(['convert', '--input-dir', input, '--output-dir', dir, '--no-tmpfs', '--json']);
    expect(r.code, r.stderr).toBe(1);
    const text = r.stdout + r.stderr;
    expect(text).toContain('EROFS');
    expect(text).toContain(path.join(ro, 'ms'));
    expect(text).not.toContain('ENOENT');
  });

  it('a directory under /proc fails at once (no endless recursive mkdir)', async () => {
    const dir = '/proc/contimg-fault-test/out';
    const r = await contimg(['convert', '--input-dir', input, '--output-dir', dir, '--json'], { timeoutS: 60 });
    expect(r.signal, 'killed after spinning for 60 s').toBeNull();
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('/proc/contimg-fault-test');
    expect(existsSync(dir)).toBe(false);
  });
});
