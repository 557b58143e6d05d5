/**
 * `contimg stream` on a full output disk (issue 11 §6): a conversion that runs out of space fails
 * that attempt with MS_NO_SPACE while the service lives on and still exits 0 on SIGTERM; staging
 * left by a process that died is removed at start, so it cannot keep claims paused forever; and
 * an output directory the kernel refuses stops the service at once instead of spinning.
 */
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, tmpDir } from '../helpers.js';
import { ensureDist, logLines, spawnCli, waitFor } from '../stream/helpers.js';
import { StreamQueue } from '../../ts/stream/queue.js';
import { contimg, smallFs, unmountAll } from './mounts.js';

let simDir: string;
beforeAll(async () => {
  ensureDist();
  simDir = tmpDir();
  // A 40 MB MS: more than the 24 MB output file system holds.
  await cliJson('simulate', '--output-dir', simDir, '--antennas', '48', '--channels', '16', '--integrations', '6');
});

afterAll(() => {
  unmountAll();
  cleanupTmpDirs();
});

async function groupError(db: string): Promise<string | null> {
  const q = await StreamQueue.open(db);
  try {
    return (await q.recentGroups(10))[0]?.error ?? null;
  } finally {
    await q.close();
  }
}

describe('the stream service on a full output disk', () => {
  // casacore aborts when a destructor's write fails (SSM's ~StManArrayFile); the shim's room check
  // before each put counts the bytes that put brings in, so the disk never fills under casacore.
  it('removes a dead run\'s staging at start, fails the attempt with MS_NO_SPACE, stays up, and exits 0 on SIGTERM', async () => {
    const root = tmpDir();
    const out = smallFs(24 * 1024);
    const input = path.join(root, 'in');
    const db = path.join(root, 'q.sqlite3');
    // What a converter killed by the full disk left behind: its staging, owned by a dead pid,
    // filling the disk below --min-free-output-gb.
    const leftover = path.join(out, '.contimg-staging-2025-10-02T00:00:00-999999-abcdef');
    mkdirSync(leftover);
    writeFileSync(path.join(leftover, '.owner'), JSON.stringify({ pid: 999999, startedAt: 0 }));
    writeFileSync(path.join(leftover, 'table.f1'), Buffer.alloc(20 << 20));
    const svc = spawnCli([
      'stream', '--input-dir', input, '--output-dir', out, '--queue-db', db, '--no-tmpfs',
      '--min-free-output-gb', '0.01', '--max-retries', '1', '--retry-backoff', '0.1',
      '--worker-poll-interval', '0.1', '--settle-time', '0.2', '--monitor-interval', '0.5', '--omp-threads', '2',
    ]);
    try {
      mkdirSync(input, { recursive: true });
      for (const f of readdirSync(simDir).filter((x) => x.endsWith('.hdf5'))) cpSync(path.join(simDir, f), path.join(input, f));
      const error = await waitFor(() => groupError(db), 'the conversion to fail', 90_000, 200);
      expect(error).toMatch(/^\[MS_NO_SPACE\] /);
      // The service is still running after the failure.
      expect(svc.child.exitCode).toBeNull();
      expect(readdirSync(out)).toEqual([]);
    } finally {
      svc.child.kill('SIGTERM');
    }
    const exit = await svc.exit;
    expect(exit, svc.stderr().slice(-2000)).toEqual({ code: 0, signal: null });
    expect(logLines(svc.stderr()).some((l) => typeof l.msg === 'string' && l.msg.includes(`Removed ${leftover}`))).toBe(true);
  }, 180_000);

  it('an output directory under /proc stops the service at once with a message naming it', async () => {
    const root = tmpDir();
    const r = await contimg(['stream', '--input-dir', path.join(root, 'in'), '--output-dir', '/proc/contimg-fault-test/out', '--queue-db', path.join(root, 'q.sqlite3')], {
      timeoutS: 60,
    });
    expect(r.signal, 'killed after spinning for 60 s').toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/proc/contimg-fault-test');
  });
});
