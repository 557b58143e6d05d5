/**
 * Claims, leases and fencing on both backends (issue 14), against a real PostgreSQL 15 server
 * (test/postgres.ts) and SQLite: concurrent claimers never share a group; a worker whose lease
 * expired and whose group was claimed again is refused everything (renewal, publishing,
 * completion, failure) however late it wakes; a publish in progress holds off the reclaim; and
 * the PostgreSQL schema is the one the TypeScript types declare, built once by racing processes.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSubbandName, parseUtc } from '../../ts/groups.js';
import type { ProcessIdentity } from '../../ts/stream/owner.js';
import { StreamQueue, type Arrival, type GroupingRules } from '../../ts/stream/queue.js';
import { SCHEMA_COLUMNS, STREAM_MIGRATIONS } from '../../ts/stream/schema.js';
import { cleanupTmpDirs, root, tmpDir } from '../helpers.js';
import { usePostgres } from '../postgres.js';
import { groupNames } from '../stream/helpers.js';

const RULES: GroupingRules = { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 };
const T0 = parseUtc('2025-10-05T12:30:00');
const A: ProcessIdentity = { host: 'host-a', pid: 101, start: 'a' };
const B: ProcessIdentity = { host: 'host-b', pid: 202, start: 'b' };

const postgres = usePostgres();
let dbs = 0;
afterAll(cleanupTmpDirs);

function arrival(dir: string, name: string): Arrival {
  const p = parseSubbandName(name);
  if (!p.ok) throw new Error(p.reason);
  return { ...p.name, path: path.join(dir, name), sizeBytes: 100 };
}

async function pendingGroups(q: StreamQueue, n: number, nowS: number): Promise<string[]> {
  const files = [];
  for (let i = 0; i < n; i++) files.push(...groupNames(T0 + i * 300_000).map((g) => arrival('/data/in', g.name)));
  const regs = await q.register(files, RULES, nowS);
  return [...new Set(regs.filter((r) => r.kind !== 'known' && r.kind !== 'duplicate' && r.becamePending).map((r) => r.groupId))];
}

const backends = ['sqlite', 'postgres'] as const;
function freshQueueSpec(backend: (typeof backends)[number]): string {
  return backend === 'sqlite' ? path.join(tmpDir(), 'q.sqlite3') : postgres.server().createDatabase(`leases_${process.pid}_${++dbs}`);
}

describe.each(backends)('leases and fencing on %s', (backend) => {
  it('refuses everything a worker does after its lease expired and its group was claimed again', async () => {
    const spec = freshQueueSpec(backend);
    const qa = await StreamQueue.open(spec);
    const qb = await StreamQueue.open(spec);
    try {
      const [g] = await pendingGroups(qa, 1, 1000);
      const a = (await qa.claimNext(A, 1000, { leaseS: 10, worker: 'worker-a' }))!;
      expect(a).toMatchObject({ groupId: g, token: 1, leaseExpiresAtS: 1010 });
      expect(await qa.renewLease(a, 10, 1005)).toBe(true);
      expect(a.leaseExpiresAtS).toBe(1015);
      // Nothing to take back while the lease runs.
      expect(await qb.recoverExpiredLeases(5, 1014)).toEqual([]);
      // Worker A stops (SIGSTOP); its lease runs out and B takes the group back and claims it.
      const back = await qb.recoverExpiredLeases(5, 1016);
      expect(back).toHaveLength(1);
      expect(back[0]).toMatchObject({ groupId: g, state: 'pending', counted: 'crash' });
      expect(back[0]!.reason).toContain('worker-a');
      const b = (await qb.claimNext(B, 1017, { leaseS: 10, worker: 'worker-b' }))!;
      expect(b).toMatchObject({ groupId: g, token: 2, stage: 'resuming' });
      // A wakes: every write it tries is refused, and its publish never runs.
      let published = false;
      expect(await qa.renewLease(a, 10, 1018)).toBe(false);
      expect(await qa.heartbeat(a, 1018)).toBe(false);
      expect(await qa.fenced(a, () => void (published = true), { leaseS: 10, nowS: 1018 })).toBe(false);
      expect(published).toBe(false);
      expect(await qa.complete(a, { totalS: 1, loadS: 0.3, phaseS: 0.4, writeS: 0.3 }, 1019)).toBe(false);
      expect(await qa.retryOrFail(a, '[X] late', { maxRetries: 3, backoffBaseS: 1 }, 1019)).toEqual({ state: 'lost' });
      expect(await qa.release(a, 1019)).toBe(false);
      // B's claim stands and completes.
      expect(await qb.fenced(b, () => void (published = true), { leaseS: 10, nowS: 1020 })).toBe(true);
      expect(published).toBe(true);
      expect(await qb.complete(b, { totalS: 2, loadS: 0.5, phaseS: 1, writeS: 0.5 }, 1021)).toBe(true);
      const rec = (await qb.group(g!))!;
      expect(rec).toMatchObject({ state: 'completed', claimToken: 2, worker: 'worker-b', crashRecoveries: 1, retryCount: 0, error: null });
      expect((await qb.metrics()).map((m) => m.totalS)).toEqual([2]);
    } finally {
      await qa.close();
      await qb.close();
    }
  });

  // In one process, SQLite's busy wait blocks the event loop that would end the holder's
  // transaction; across processes the same write lock holds the reclaim off. PostgreSQL's row
  // lock is what this checks.
  it.skipIf(backend === 'sqlite')('holds a reclaim off while the claimer is publishing, and renews the lease with the publish', async () => {
    const spec = freshQueueSpec(backend);
    const qa = await StreamQueue.open(spec);
    const qb = await StreamQueue.open(spec);
    const qc = await StreamQueue.open(spec);
    try {
      await pendingGroups(qa, 1, 1000);
      const a = (await qa.claimNext(A, 1000, { leaseS: 10 }))!;
      let reclaim: Promise<unknown> | undefined;
      let reclaimedDuringPublish = false;
      const ok = await qa.fenced(
        a,
        async () => {
          // Past the lease by the reclaimer's clock, while A is inside its publish.
          reclaim = qb.recoverExpiredLeases(5, 1011).then((r) => r);
          await new Promise((r) => setTimeout(r, 300));
          reclaimedDuringPublish = (await qc.group(a.groupId))?.state !== 'in_progress';
        },
        { leaseS: 10, nowS: 1009 },
      );
      expect(ok).toBe(true);
      expect(reclaimedDuringPublish).toBe(false);
      // The publish renewed the lease to 1019: the waiting reclaim finds nothing expired.
      expect(await reclaim).toEqual([]);
      expect(await qa.complete(a, { totalS: 1, loadS: 0.3, phaseS: 0.4, writeS: 0.3 }, 1012)).toBe(true);
    } finally {
      await qa.close();
      await qb.close();
      await qc.close();
    }
  });

  // SQLite claimers race across processes in test/stream/queue.test.ts (in one process its busy
  // wait would block the event loop of the connection holding the lock).
  it.skipIf(backend === 'sqlite')('gives each of 120 groups to exactly one of 8 concurrent claimers', async () => {
    const spec = freshQueueSpec(backend);
    const setup = await StreamQueue.open(spec);
    const ids = await pendingGroups(setup, 120, 1000);
    await setup.close();
    expect(ids).toHaveLength(120);
    const claimers = await Promise.all(Array.from({ length: 8 }, () => StreamQueue.open(spec)));
    try {
      const got = await Promise.all(
        claimers.map(async (q, i) => {
          const mine: string[] = [];
          const me: ProcessIdentity = { host: `host-${i}`, pid: 1000 + i, start: String(i) };
          for (;;) {
            const c = await q.claimNext(me, 2000, { leaseS: 60, worker: `w${i}` });
            if (!c) return mine;
            mine.push(c.groupId);
          }
        }),
      );
      const all = got.flat();
      expect(all).toHaveLength(120);
      expect(new Set(all).size).toBe(120);
      expect([...all].sort()).toEqual([...ids].sort());
      // They really raced: more than one claimer got work.
      expect(got.filter((g) => g.length > 0).length).toBeGreaterThan(1);
    } finally {
      for (const q of claimers) await q.close();
    }
  });
});

describe('the PostgreSQL queue schema', () => {
  it('is built once by four processes opening a new database at once, with the columns the types declare', async () => {
    const url = postgres.server().createDatabase(`schema_${process.pid}`);
    const opener = path.join(root, 'test', 'db', 'open-db.mjs');
    const runs = Array.from(
      { length: 4 },
      () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [opener, 'queue', url], { stdio: ['ignore', 'ignore', 'pipe'] });
          let err = '';
          child.stderr.on('data', (d) => (err += d));
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`opener exited ${code}: ${err}`))));
        }),
    );
    await Promise.all(runs);
    const q = await StreamQueue.open(url);
    try {
      const { sql } = await import('kysely');
      const migrations = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(q.db);
      expect(migrations.rows.map((r) => r.name)).toEqual(Object.keys(STREAM_MIGRATIONS).sort());
      for (const [table, cols] of Object.entries(SCHEMA_COLUMNS)) {
        const r = await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ${table}`.execute(q.db);
        expect(r.rows.map((c) => c.name).sort(), table).toEqual(Object.keys(cols).sort());
      }
      // 8-byte types where SQLite has them: an MJD-precision time and a 3 GB size survive.
      await q.db.insertInto('subband_files').values({ group_id: 'g', subband_idx: 0, path: '/x', size_bytes: 3_000_000_123, arrived_at: 1759667400.123456, stamped_at: null, mtime_ms: null }).execute();
      expect(await q.db.selectFrom('subband_files').select(['size_bytes', 'arrived_at']).executeTakeFirst()).toEqual({ size_bytes: 3_000_000_123, arrived_at: 1759667400.123456 });
      // A misspelt state is refused, as SQLite's triggers refuse it.
      await expect(sql`UPDATE ingest_queue SET state = 'pendng'`.execute(q.db).then(() => q.db.insertInto('ingest_queue').values({ group_id: 'x', state: 'pendng' as never, received_at: 1, last_update: 1, error: null, checkpoint_path: null, chunk_minutes: null, claimed_by_host: null, claimed_by_pid: null, claimed_by_start: null, claimed_at: null, next_attempt_at: null, lease_expires_at: null, claimed_by_worker: null }).execute())).rejects.toThrow(/check constraint/);
    } finally {
      await q.close();
    }
  });
});

describe.each(backends)('requeue on %s', (backend) => {
  it('refuses a claim held on another host while its lease runs, and requeues it once the lease expired', async () => {
    const q = await StreamQueue.open(freshQueueSpec(backend));
    try {
      const [g] = await pendingGroups(q, 1, 1000);
      await q.claimNext(A, 1000, { leaseS: 10 });
      // This process cannot see host-a's processes: only the lease says whether A may still work.
      const unknown = () => 'unknown' as const;
      const early = await q.requeue(g!, { force: false, liveness: unknown }, 1005);
      expect(early).toMatchObject({ kind: 'refused' });
      expect((early as { reason: string }).reason).toContain('on another host');
      expect(await q.requeue(g!, { force: false, liveness: unknown }, 1011)).toEqual({ kind: 'requeued', previous: 'in_progress' });
      expect(await q.group(g!)).toMatchObject({ state: 'pending', stage: 'resuming', retryCount: 0 });
    } finally {
      await q.close();
    }
  });
});
