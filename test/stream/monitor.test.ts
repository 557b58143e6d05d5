/**
 * MonitoringThread: the seed's warnings word for word, reported once per event; system resources;
 * and the free-space guard pausing and resuming claims (with an injected probe).
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseUtc } from '../../ts/groups.js';
import { Monitor, SpaceGuard, WARNINGS, queueWarnings, type DiskProbe } from '../../ts/stream/monitor.js';
import { currentProcess } from '../../ts/stream/owner.js';
import { StreamQueue, type Arrival } from '../../ts/stream/queue.js';
import { slowGroupThresholdS } from '../../ts/stream/service.js';
import { StreamingWorker } from '../../ts/stream/worker.js';
import { flatOutput } from '../../ts/convert/output.js';
import { DEFAULT_CONVERT_OPTIONS } from '../../ts/convert/types.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';
import { queueDb } from './backend.js';
import { WARN, captureLog, groupNames } from './helpers.js';
import { parseSubbandName } from '../../ts/groups.js';

afterAll(cleanupTmpDirs);

const T0 = parseUtc('2025-10-05T12:30:00');
const RULES = { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 };
const me = currentProcess();

function arrivals(dir: string, startMs: number, n = 16): Arrival[] {
  return groupNames(startMs, { subbands: n }).map((g) => {
    const p = parseSubbandName(g.name);
    if (!p.ok) throw new Error(p.reason);
    return { ...p.name, path: path.join(dir, g.name), sizeBytes: 1 };
  });
}

const CFG = { intervalS: 60, queueDepthWarn: 10, slowGroupS: slowGroupThresholdS(5), inProgressTimeoutS: 900, collectingTimeoutS: 600, dirs: [] };

describe('warning wording', () => {
  it("matches the seed's examples exactly", () => {
    expect(WARNINGS.highQueueDepth(15)).toBe('High queue depth: 15 groups queued');
    expect(WARNINGS.slowGroup('2025-10-05T12:30:00', 285.2, slowGroupThresholdS(5.0))).toBe('Group 2025-10-05T12:30:00 took 285.2 s (exceeds 4.5 min threshold)');
    expect(WARNINGS.staleInProgress(2, 900)).toBe('Found 2 stale in-progress groups (>15 min)');
    expect(WARNINGS.waitingForSubbands('2025-10-05T12:30:00', 600)).toBe('Group 2025-10-05T12:30:00 has been waiting for missing subbands longer than 600 s');
  });
});

describe('Monitor', () => {
  it('reports queue depth, slow groups, stale claims and waiting groups in the seed wording, events once', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const now = 1_000_000;
    // 15 pending groups, 2 of them claimed 20 min ago and silent since.
    for (let i = 0; i < 15; i++) await q.register(arrivals(dir, T0 + (i + 1) * 300_000), RULES, now - 3600 + i);
    for (let i = 0; i < 2; i++) await q.claimNext({ host: 'h', pid: 1, start: 's' }, now - 1200);
    // One conversion that took 285.2 s, recorded after the monitor started.
    const slow = await q.register(arrivals(dir, T0), RULES, now - 4000);
    const c = (await q.claimNext(me, now - 4000 + 1))!;
    expect(c.groupId).toBe(slow.at(-1)!.groupId);
    await q.complete(c, { totalS: 285.2, loadS: 80, phaseS: 100, writeS: 90 }, now - 10);
    // A group with 12 of 16 subbands, first seen 700 s ago.
    await q.register(arrivals(dir, T0 + 100 * 300_000, 12), RULES, now - 700);

    const { log, msgs } = captureLog();
    const m = new Monitor(q, { ...CFG, dirs: [{ name: 'output', path: dir }] }, log, undefined, undefined, now - 60);
    const r = await m.tick(now);
    const expected = [
      'High queue depth: 15 groups queued',
      'Found 2 stale in-progress groups (>15 min)',
      `Group ${new Date(T0 + 100 * 300_000).toISOString().slice(0, 19)} has been waiting for missing subbands longer than 600 s`,
      'Group 2025-10-05T12:30:00 took 285.2 s (exceeds 4.5 min threshold)',
    ];
    expect(r.warnings).toEqual(expected);
    expect(msgs(WARN)).toEqual(expected);
    expect(r.counts).toEqual({ collecting: 1, pending: 13, in_progress: 2, completed: 1, failed: 0 });
    expect(r.resources.disks).toEqual([{ name: 'output', path: dir, freeBytes: expect.any(Number), totalBytes: expect.any(Number) }]);
    expect(r.resources.openFds).toBeGreaterThan(0);
    expect(msgs().some((x) => /^System metrics: load .* RSS=\d+ MB, fds=\d+; free: output \d+\.\d GB$/.test(x))).toBe(true);
    // The next tick repeats the conditions but not the one-off events.
    const r2 = await m.tick(now + 60);
    expect(r2.warnings).toEqual(expected.slice(0, 2));
    // `contimg status` sees the same conditions without the monitor's memory.
    expect(await queueWarnings(q, CFG, now)).toEqual(expected);
    await q.close();
  });

  it('reports a rise in failed groups', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const { log, msgs } = captureLog();
    const m = new Monitor(q, CFG, log, undefined, undefined, 0);
    await m.tick(100);
    await q.register(arrivals(dir, T0), RULES, 100);
    const c = (await q.claimNext(me, 101))!;
    await q.retryOrFail(c, '[X] y', { maxRetries: 1, backoffBaseS: 1 }, 102);
    await m.tick(103);
    expect(msgs(WARN)).toEqual(['Failed count increased: 1 (was 0)']);
    await q.close();
  });
});

describe('free-space guard', () => {
  it('pauses claiming while output or scratch is nearly full, and resumes when space returns', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    await q.register(arrivals(dir, T0), RULES, 1);
    const free: Record<string, number> = { '/out': 50e9, '/scratch': 3e9 };
    const probe: DiskProbe = (p) => (p in free ? { freeBytes: free[p]!, totalBytes: 100e9 } : undefined);
    const { log, msgs } = captureLog();
    const guard = new SpaceGuard(
      [
        { name: 'output', path: '/out', minFreeBytes: 10e9 },
        { name: 'scratch', path: '/scratch', minFreeBytes: 10e9 },
      ],
      probe,
      log,
    );
    const converted: string[] = [];
    const worker = new StreamingWorker(
      q,
      {
        output: flatOutput(path.join(dir, 'out')),
        convert: DEFAULT_CONVERT_OPTIONS,
        staging: { tmpfsPath: '/dev/shm', noTmpfs: true, keepTemp: false },
        inputs: { copy: false, workers: 1, baseDir: dir },
        cleanupTemp: true,
        maxRetries: 3,
        maxCrashRecoveries: 5,
        retryBackoffS: 1,
        inProgressTimeoutS: 900,
        collectingTimeoutS: 600,
        workerPollIntervalS: 0.05,
        leaseS: 60,
        profile: false,
        commandLine: 'test',
      },
      {
        converter: async (job) => {
          converted.push(job.groupId);
          return { groupId: job.groupId, outputMs: job.outputMs, skipped: false, rows: 1, bytesRead: 0, bytesWritten: 0, timings: { loadS: 0, phaseS: 0, writeS: 0, totalS: 0, detail: {} }, staging: { location: 'output', path: '', reason: '' }, warnings: [] };
        },
        log,
        mayClaim: () => guard.check(),
      },
    );
    expect(await worker.step()).toBe(false);
    expect(await worker.step()).toBe(false);
    expect(converted).toEqual([]);
    expect((await q.counts()).pending).toBe(1);
    free['/scratch'] = 20e9;
    expect(await worker.step()).toBe(true);
    expect(converted).toEqual(['2025-10-05T12:30:00']);
    expect(msgs().filter((x) => /claims/.test(x))).toEqual([
      'Pausing claims: scratch /scratch has 3.0 GB free (below 10.0 GB)',
      'Resuming claims: free space restored (output 50.0 GB free, scratch 20.0 GB free)',
    ]);
    await q.close();
  });
});
