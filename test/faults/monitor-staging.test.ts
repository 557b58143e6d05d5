/**
 * The monitor's warning for staging that dead conversions left (issue 11 §6: a full disk kept
 * claims paused while the service said "No warnings").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, tmpDir } from '../helpers.js';
import { stagingWarning } from '../../ts/stream/monitor.js';
import { StreamQueue } from '../../ts/stream/queue.js';

afterAll(cleanupTmpDirs);

function staging(base: string, name: string, pid: number, bytes: number): string {
  const dir = path.join(base, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, '.owner'), JSON.stringify({ pid, startedAt: 0 }));
  mkdirSync(path.join(dir, 'x.ms'));
  writeFileSync(path.join(dir, 'x.ms', 'table.f0'), Buffer.alloc(bytes));
  return dir;
}

describe('stagingWarning', () => {
  it('names the staging of dead processes with its size, and nothing of live ones', () => {
    const out = tmpDir();
    const shm = tmpDir();
    expect(stagingWarning([out, shm])).toBeNull();
    const dead = staging(out, '.contimg-staging-2025-10-02T00:00:00-999999-abcdef', 999999, 300_000_000);
    const dead2 = staging(shm, 'contimg-staging-2025-10-02T00:05:00-999998-012345', 999998, 0);
    staging(out, `.contimg-staging-2025-10-02T00:10:00-${process.pid}-fedcba`, process.pid, 1000);
    const w = stagingWarning([out, shm, out]);
    expect(w).toBe(`Staging left by dead conversions: 2 directories (0.3 GB): ${dead}, ${dead2}; \`contimg stream\` removes them when it starts`);
  });
});

describe('contimg status', () => {
  it('reports staging that dead conversions left in the given output directory', async () => {
    const out = tmpDir();
    const db = path.join(tmpDir(), 'q.sqlite3');
    await (await StreamQueue.open(db)).close();
    const clean = await cliJson('status', '--queue-db', db, '--output-dir', out, '--tmpfs-path', tmpDir());
    expect(clean.warnings).toEqual([]);
    const dead = staging(out, '.contimg-staging-2025-10-02T00:00:00-999999-abcdef', 999999, 1000);
    const r = await cliJson('status', '--queue-db', db, '--output-dir', out, '--tmpfs-path', tmpDir());
    expect(r.warnings).toEqual([expect.stringContaining(`Staging left by dead conversions: 1 directory (0.0 GB): ${dead}`)]);
  });
});
