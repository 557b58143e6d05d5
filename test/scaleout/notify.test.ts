/**
 * Workers in other processes are woken by PostgreSQL notices (ts/db/notify.ts): a worker that
 * polls only every 60 s claims a group the watcher process makes pending within seconds, because
 * the watcher's registration sends `contimg_pending`. Without the notice it would wait for its
 * next poll, a minute after it started.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSubbandName, parseUtc } from '../../ts/groups.js';
import type { ProcessIdentity } from '../../ts/stream/owner.js';
import { StreamQueue, type Arrival } from '../../ts/stream/queue.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';
import { usePostgres } from '../postgres.js';
import { deliver, ensureDist, groupNames, spawnCli, testConverterModule, waitFor } from '../stream/helpers.js';

const postgres = usePostgres();
afterAll(cleanupTmpDirs);

describe('LISTEN/NOTIFY between watcher and workers', () => {
  it('a worker polling every 60 s claims a new group within seconds of the watcher registering it', async () => {
    ensureDist();
    const url = postgres.server().createDatabase('notify');
    const root = tmpDir();
    const input = path.join(root, 'in');
    mkdirSync(input, { recursive: true });
    const common = ['--db', url, '--output-dir', path.join(root, 'out'), '--converter-module', testConverterModule, '--log-level', 'INFO'];
    const worker = spawnCli(['stream', '--role', 'worker', '--worker-poll-interval', '60', ...common]);
    const watcher = spawnCli(['stream', '--role', 'watcher', '--input-dir', input, '--settle-time', '0.1', '--poll-interval', '0.2', ...common]);
    const q = await StreamQueue.open(url);
    try {
      // Both up, the worker idle in its 60 s wait (its first look found nothing).
      for (const p of [worker, watcher]) await waitFor(() => p.stderr().includes('Streaming converter running'), 'the service to start', 60_000, 50);
      await new Promise((r) => setTimeout(r, 500));
      for (const f of groupNames(parseUtc('2025-10-05T12:30:00'))) deliver(input, f.name);
      const pendingAt = await waitFor(async () => ((await q.counts()).pending + (await q.counts()).in_progress + (await q.counts()).completed === 1 ? Date.now() : 0), 'the group to be registered', 60_000, 20);
      const doneAt = await waitFor(async () => ((await q.counts()).completed === 1 ? Date.now() : 0), 'the group to be converted', 45_000, 20);
      // Far inside the 60 s poll: it was the notice that woke the worker.
      expect(doneAt - pendingAt).toBeLessThan(30_000);
      console.log(`notify: converted ${((doneAt - pendingAt) / 1000).toFixed(2)} s after registration (worker poll interval 60 s)`);
      for (const p of [worker, watcher]) p.child.kill('SIGTERM');
      for (const p of [worker, watcher]) expect((await p.exit).code).toBe(0);
    } finally {
      for (const p of [worker, watcher]) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await q.close();
    }
  }, 180_000);

  it('every change that makes a group claimable at once sends a notice, not only registration', async () => {
    const url = postgres.server().createDatabase('notify_paths');
    const worker = await StreamQueue.open(url);
    const service = await StreamQueue.open(url);
    let notices = 0;
    const stop = await worker.onPending(
      () => notices++,
      (err) => {
        throw err;
      },
    );
    // Every change below must be followed by one more notice.
    const expectNotice = async (what: string, change: () => Promise<unknown>) => {
      const before = notices;
      await change();
      await waitFor(() => notices > before, `a notice after ${what}`, 10_000, 10);
    };
    const me: ProcessIdentity = { host: 'host-a', pid: 101, start: 'a' };
    const arrival = (name: string): Arrival => {
      const p = parseSubbandName(name);
      if (!p.ok) throw new Error(p.reason);
      return { ...p.name, path: path.join('/data/in', name), sizeBytes: 100 };
    };
    try {
      const files = groupNames(parseUtc('2025-10-05T12:30:00')).map((f) => arrival(f.name));
      await expectNotice('registration', () => service.register(files, { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 }, 1000));
      let claim = (await service.claimNext(me, 1000, { leaseS: 10 }))!;
      await expectNotice("a release at shutdown", async () => expect(await service.release(claim, 1001)).toBe(true));
      claim = (await service.claimNext(me, 1002, { leaseS: 10 }))!;
      await expectNotice('a recovered expired lease', () => service.recoverExpiredLeases(5, 1100));
      claim = (await service.claimNext(me, 1101, { leaseS: 10 }))!;
      expect(await service.complete(claim, { totalS: 1, loadS: 0.3, phaseS: 0.4, writeS: 0.3 }, 1102)).toBe(true);
      await expectNotice('contimg requeue', () => service.requeue(claim.groupId, { force: false, liveness: () => 'gone' }, 1103));
    } finally {
      await stop();
      await worker.close();
      await service.close();
    }
  }, 60_000);
});
