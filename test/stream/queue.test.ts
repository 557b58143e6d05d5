/**
 * The queue database: schema and migrations (including adopting the Python service's database),
 * the seed's operator queries, group formation, atomic claims (also across processes), the state
 * machine, stale and dead-claim recovery, and manual requeue.
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formGroups, parseSubbandName, parseUtc } from '../../ts/groups.js';
import { currentProcess, ownerLiveness, type ProcessIdentity } from '../../ts/stream/owner.js';
import { StreamQueue, backoffS, type Arrival, type GroupingRules, type RetryOutcome } from '../../ts/stream/queue.js';
import { SCHEMA_COLUMNS, STREAM_MIGRATIONS } from '../../ts/stream/schema.js';
import { openPostgresMigrated } from '../../ts/db/postgres.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';
import { BACKEND, operatorSql, psql, queueDb } from './backend.js';
import { ensureDist, fixtures, groupNames, rng, shuffle, stamp } from './helpers.js';

afterAll(cleanupTmpDirs);

const RULES: GroupingRules = { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 };
const T0 = parseUtc('2025-10-05T12:30:00');
const me: ProcessIdentity = currentProcess();

function arrival(dir: string, name: string, sizeBytes = 100): Arrival {
  const p = parseSubbandName(name);
  if (!p.ok) throw new Error(p.reason);
  return { ...p.name, path: path.join(dir, name), sizeBytes };
}

/** Registers a complete group of 16 at `startMs` and returns its id. */
async function pendingGroup(q: StreamQueue, dir: string, startMs: number, nowS: number): Promise<string> {
  const regs = await q.register(
    groupNames(startMs).map((n) => arrival(dir, n.name)),
    RULES,
    nowS,
  );
  const last = regs.at(-1)!;
  if (last.kind === 'known' || last.kind === 'duplicate' || !last.becamePending) throw new Error('group did not become pending');
  return last.groupId;
}

function sqlite3(db: string, query: string): string {
  return execFileSync('sqlite3', [db, query], { encoding: 'utf8' });
}

const SEED_QUERIES = [
  "SELECT group_id, state, processing_stage, retry_count, error FROM ingest_queue ORDER BY received_at DESC LIMIT 10;",
  'SELECT group_id, total_time, load_time, phase_time, write_time FROM performance_metrics ORDER BY recorded_at DESC LIMIT 10;',
  'SELECT state, COUNT(*) FROM ingest_queue GROUP BY state;',
];

describe('schema', () => {
  it('has exactly the columns the TypeScript types declare', async () => {
    const file = queueDb(tmpDir(), 'q');
    const q = await StreamQueue.open(file);
    await q.close();
    if (BACKEND === 'postgres') {
      // The queue lives in schema `public` (so the seed's queries run unchanged in psql).
      for (const [table, cols] of Object.entries(SCHEMA_COLUMNS)) {
        const actual = psql(file, `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '${table}' ORDER BY column_name`).split('\n').filter((l) => l !== '');
        expect(actual, table).toEqual(Object.keys(cols).sort());
      }
      return;
    }
    const db = new Database(file, { readonly: true });
    for (const [table, cols] of Object.entries(SCHEMA_COLUMNS)) {
      const actual = (db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as { name: string }[]).map((r) => r.name).sort();
      expect(actual, table).toEqual(Object.keys(cols).sort());
    }
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it("runs the seed's operator queries and its manual requeue UPDATE unchanged with the sqlite3 CLI (psql on PostgreSQL)", async () => {
    const dir = tmpDir();
    const file = queueDb(dir, 'streaming_queue');
    const q = await StreamQueue.open(file);
    const g = await pendingGroup(q, dir, T0, 1000);
    const c = (await q.claimNext(me, 1001))!;
    await q.complete(c, { totalS: 10, loadS: 3, phaseS: 4, writeS: 3 }, 1011);
    await pendingGroup(q, dir, T0 + 300_000, 1020);
    await q.close();
    // The same answers; only the CLIs print a whole double differently (sqlite3 `10.0`, psql `10`),
    // and PostgreSQL returns GROUP BY's groups in no particular order (the query has no ORDER BY).
    const real = (x: number) => (BACKEND === 'postgres' ? String(x) : x.toFixed(1));
    const unordered = (out: string) => (BACKEND === 'postgres' ? out.split('\n').filter((l) => l !== '').sort().map((l) => `${l}\n`).join('') : out);
    expect(operatorSql(file, SEED_QUERIES[0]!)).toBe(`2025-10-05T12:35:00|pending|collecting|0|\n${g}|completed|processing_fresh|0|\n`);
    expect(operatorSql(file, SEED_QUERIES[1]!)).toBe(`${g}|${real(10)}|${real(3)}|${real(4)}|${real(3)}\n`);
    expect(unordered(operatorSql(file, SEED_QUERIES[2]!))).toBe('completed|1\npending|1\n');
    operatorSql(file, `UPDATE ingest_queue SET state='pending', processing_stage='collecting' WHERE group_id='${g}';`);
    expect(operatorSql(file, SEED_QUERIES[2]!)).toBe('pending|2\n');
  });

  it('refuses a misspelt state or stage, also from an operator\'s UPDATE', async () => {
    const dir = tmpDir();
    const file = queueDb(dir, 'q');
    const q = await StreamQueue.open(file);
    const g = await pendingGroup(q, dir, T0, 1000);
    await q.close();
    // SQLite: triggers that name the allowed values; PostgreSQL: CHECK constraints (migration 0002).
    const [badState, badStage] =
      BACKEND === 'postgres'
        ? [/violates check constraint "ingest_queue_state_check"/, /violates check constraint "ingest_queue_stage_check"/]
        : [/ingest_queue.state must be one of collecting, pending/, /processing_stage must be one of/];
    expect(() => operatorSql(file, `UPDATE ingest_queue SET state='pendng' WHERE group_id='${g}';`)).toThrow(badState);
    expect(() => operatorSql(file, `UPDATE ingest_queue SET processing_stage='resume' WHERE group_id='${g}';`)).toThrow(badStage);
    expect(operatorSql(file, `SELECT state FROM ingest_queue WHERE group_id='${g}'`)).toBe('pending\n');
  });
});

describe('opening', () => {
  it('lets several processes create and migrate one new database at the same time', async () => {
    ensureDist();
    for (let round = 0; round < 3; round++) {
      const file = queueDb(tmpDir(), 'q');
      const outs = await Promise.all(
        [0, 1, 2, 3].map(
          () =>
            new Promise<string>((resolve) => {
              const child = spawn(process.execPath, [path.join(fixtures, 'open-queue.mjs'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
              let out = '';
              child.stdout.on('data', (d) => (out += d));
              child.stderr.on('data', (d) => (out += d));
              child.on('exit', () => resolve(out));
            }),
        ),
      );
      expect(outs).toEqual(['ok', 'ok', 'ok', 'ok']);
    }
  }, 60_000);
});

describe('upgrading an older database in place', () => {
  // The Python service only ever wrote SQLite files; there is no PostgreSQL database of it to adopt.
  it.skipIf(BACKEND === 'postgres')("adopts the Python service's oldest database (before checkpoint_path/processing_stage/chunk_minutes) without loss", async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'streaming_queue.sqlite3');
    const old = new Database(file);
    // The schema the first Python service created (its _migrate_schema added the rest later).
    old.exec(`
      CREATE TABLE ingest_queue (group_id TEXT PRIMARY KEY, state TEXT NOT NULL, received_at REAL NOT NULL, last_update REAL NOT NULL,
                                 retry_count INTEGER NOT NULL DEFAULT 0, error TEXT);
      CREATE TABLE subband_files (group_id TEXT NOT NULL, subband_idx INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (group_id, subband_idx));
      CREATE TABLE performance_metrics (group_id TEXT NOT NULL, load_time REAL, phase_time REAL, write_time REAL, total_time REAL,
                                        recorded_at REAL NOT NULL, PRIMARY KEY (group_id));
      INSERT INTO ingest_queue VALUES ('2025-10-05T12:30:00', 'completed', 1759667400.5, 1759667700.25, 0, NULL);
      INSERT INTO ingest_queue VALUES ('2025-10-05T12:35:00', 'failed', 1759667700.5, 1759668000.0, 3, 'Converter returned 1: boom');
      INSERT INTO ingest_queue VALUES ('2025-10-05T12:40:00', 'pending', 1759668000.5, 1759668000.5, 1, NULL);
      INSERT INTO subband_files VALUES ('2025-10-05T12:30:00', 0, '/data/incoming_data/2025-10-05T12:30:07_sb00.hdf5');
      INSERT INTO subband_files VALUES ('2025-10-05T12:30:00', 1, '/data/incoming_data/2025-10-05T12:30:11_sb01.hdf5');
      INSERT INTO subband_files VALUES ('2025-10-05T12:40:00', 0, '/data/incoming_data/2025-10-05T12:40:02_sb00.hdf5');
      INSERT INTO performance_metrics VALUES ('2025-10-05T12:30:00', 60.5, 120.25, 80.0, 285.2, 1759667700.25);
    `);
    // This schema predates processing_stage, so only the metrics and counts queries run on it.
    const before = SEED_QUERIES.slice(1).map((s) => sqlite3(file, s));
    old.close();

    const q = await StreamQueue.open(file);
    await q.close();
    // The operator queries give the same answers as before the upgrade, and the first one now runs.
    expect(SEED_QUERIES.slice(1).map((s) => sqlite3(file, s))).toEqual(before);
    expect(sqlite3(file, SEED_QUERIES[0]!)).toBe(
      '2025-10-05T12:40:00|pending|collecting|1|\n2025-10-05T12:35:00|failed|collecting|3|Converter returned 1: boom\n2025-10-05T12:30:00|completed|collecting|0|\n',
    );
    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT group_id, state, received_at, last_update, retry_count, error, processing_stage, expected_subbands FROM ingest_queue ORDER BY group_id').all();
    expect(rows).toEqual([
      { group_id: '2025-10-05T12:30:00', state: 'completed', received_at: 1759667400.5, last_update: 1759667700.25, retry_count: 0, error: null, processing_stage: 'collecting', expected_subbands: 16 },
      { group_id: '2025-10-05T12:35:00', state: 'failed', received_at: 1759667700.5, last_update: 1759668000, retry_count: 3, error: 'Converter returned 1: boom', processing_stage: 'collecting', expected_subbands: 16 },
      { group_id: '2025-10-05T12:40:00', state: 'pending', received_at: 1759668000.5, last_update: 1759668000.5, retry_count: 1, error: null, processing_stage: 'collecting', expected_subbands: 16 },
    ]);
    // The name time of each old file is recovered from its path.
    const files = db.prepare('SELECT path, stamped_at, size_bytes FROM subband_files ORDER BY path').all() as { path: string; stamped_at: number; size_bytes: null }[];
    expect(files.map((f) => f.stamped_at)).toEqual([parseUtc('2025-10-05T12:30:07') / 1000, parseUtc('2025-10-05T12:30:11') / 1000, parseUtc('2025-10-05T12:40:02') / 1000]);
    expect(files.every((f) => f.size_bytes === null)).toBe(true);
    db.close();

    // And the upgraded queue works: its pending group is claimable with its files.
    const q2 = await StreamQueue.open(file);
    const c = await q2.claimNext(me, 1759669000);
    expect(c?.groupId).toBe('2025-10-05T12:40:00');
    expect(c?.retryCount).toBe(1);
    expect(c?.files.map((f) => [f.subband, f.timestamp])).toEqual([[0, '2025-10-05T12:40:02']]);
    await q2.close();
  });

  it('upgrades a database that has only migration 0001, keeping its rows', async () => {
    const dir = tmpDir();
    const file = queueDb(dir, 'q');
    const first = Object.keys(STREAM_MIGRATIONS).sort()[0]!;
    let db: Kysely<any>;
    if (BACKEND === 'postgres') {
      // contimg's own PostgreSQL migrator (Kysely's does not run these DDL rewrites), given only 0001.
      db = await openPostgresMigrated<any>(file, { [first]: STREAM_MIGRATIONS[first]! }, { schema: 'public' });
    } else {
      db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(file) }) });
      // Kysely's Migrator calls up(db) alone; contimg's migrations also take the dialect.
      const kyselyMigrations = Object.fromEntries(Object.entries(STREAM_MIGRATIONS).map(([name, m]) => [name, { up: (d: Kysely<any>) => m.up(d, 'sqlite') }]));
      const { error } = await new Migrator({ db, provider: { getMigrations: async () => kyselyMigrations } }).migrateTo(first);
      expect(error).toBeUndefined();
    }
    await db
      .insertInto('ingest_queue')
      .values({ group_id: '2025-10-05T12:30:00', state: 'in_progress', received_at: 10.5, last_update: 20.5, retry_count: 2, error: 'x', checkpoint_path: '/c/a.json', processing_stage: 'resuming', chunk_minutes: 5 })
      .execute();
    await db.insertInto('subband_files').values({ group_id: '2025-10-05T12:30:00', subband_idx: 3, path: '/in/2025-10-05T12:30:09_sb03.hdf5' }).execute();
    await db.insertInto('performance_metrics').values({ group_id: '2025-10-05T12:25:00', load_time: 1, phase_time: 2, write_time: 3, total_time: 6, recorded_at: 30.5 }).execute();
    await db.destroy();

    const q = await StreamQueue.open(file);
    const g = await q.group('2025-10-05T12:30:00');
    expect(g).toMatchObject({ state: 'in_progress', retryCount: 2, error: 'x', checkpointPath: '/c/a.json', stage: 'resuming', receivedAtS: 10.5, lastUpdateS: 20.5, subbands: 1, expectedSubbands: 16 });
    expect(g?.state === 'in_progress' && g.claimedBy).toBeNull();
    expect(await q.metrics()).toEqual([{ groupId: '2025-10-05T12:25:00', loadS: 1, phaseS: 2, writeS: 3, totalS: 6, recordedAtS: 30.5, detail: undefined }]);
    // The legacy claim (no owner recorded) is recovered by the stale timeout, as resuming.
    const rec = await q.recoverStale(900, 3, 20.5 + 901);
    expect(rec).toEqual([{ groupId: '2025-10-05T12:30:00', state: 'failed', counted: 'retry', reason: expect.stringContaining('Recovered from stale in_progress state') }]);
    await q.close();
  });
});

describe('group formation', () => {
  it('groups jittered, shuffled arrivals exactly as formGroups does, naming each group by its earliest file', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const rand = rng(7);
    const names = [0, 1, 2, 3].flatMap((i) => groupNames(T0 + i * 300_000, { jitterS: 40, rand }));
    const arrivals = names.map((n) => arrival(dir, n.name));
    // One at a time, in random order: every registration is its own transaction.
    for (const a of shuffle(arrivals, rand)) await q.register([a], RULES, 1000);
    const expected = formGroups(arrivals, 60).groups;
    const got = await q.recentGroups(100);
    expect(got.map((g) => g.groupId).sort()).toEqual(expected.map((g) => g.id).sort());
    for (const g of expected) {
      const files = await q.files(g.id);
      expect(files.map((f) => f.path).sort()).toEqual([...g.files.values()].map((f) => f.path).sort());
      expect((await q.group(g.id))?.state).toBe('pending');
    }
    await q.close();
  });

  it('groups by the best match of all 16 subbands: a copy of one subband written seconds before its group is a duplicate, in batch and in stream, whatever the arrival order', async () => {
    const dir = tmpDir();
    const rand = rng(11);
    const real = groupNames(T0, { jitterS: 20, rand }).map((n) => arrival(dir, n.name));
    const copy = arrival(path.join(dir, 'copies'), `${stamp(T0 - 5_000)}_sb05.hdf5`);
    const realSb05 = real.find((a) => a.subband === 5)!;
    const groupId = stamp(Math.min(...real.map((a) => a.timeMs)));
    // Batch (`contimg convert --input-dir`): one complete group, and the copy reported against it.
    const batch = formGroups([...real, copy], 60);
    expect(batch.groups.map((g) => [g.id, g.files.size])).toEqual([[groupId, 16]]);
    expect(batch.groups[0]!.files.get(5)!.path).toBe(realSb05.path);
    expect(batch.duplicates).toEqual([{ ...copy, groupId, keptPath: realSb05.path }]);
    // Groups closer together than the tolerance (26 s, the first one incomplete) are not copies of each other.
    const close = [0, 26_000, 52_000].flatMap((dt, k) => groupNames(T0 + dt).filter((n) => !(k === 0 && n.sb === 3)).map((n) => arrival(dir, n.name)));
    const three = formGroups(close, 60);
    expect(three.groups.map((g) => [g.id, g.files.size])).toEqual([[stamp(T0), 15], [stamp(T0 + 26_000), 16], [stamp(T0 + 52_000), 16]]);
    expect(three.duplicates).toEqual([]);
    // Stream: the copy first (alone, then with its rival), last, and in random orders.
    const rest = real.filter((a) => a !== realSb05);
    const orders = [[copy, ...real], [copy, realSb05, ...rest], [copy, ...rest, realSb05], [...real, copy], ...Array.from({ length: 12 }, () => shuffle([...real, copy], rand))];
    for (const [i, order] of orders.entries()) {
      const q = await StreamQueue.open(queueDb(dir, `q${i}`));
      const regs = [];
      for (const a of order) regs.push(...(await q.register([a], RULES, 1000)));
      const groups = await q.recentGroups(10);
      expect(groups.map((g) => [g.groupId, g.state, g.subbands]), `order ${i}`).toEqual([[groupId, 'pending', 16]]);
      expect((await q.files(groupId)).map((f) => f.path).sort(), `order ${i}`).toEqual(real.map((a) => a.path).sort());
      expect(regs.filter((r) => r.kind === 'duplicate'), `order ${i}`).toEqual([{ kind: 'duplicate', path: copy.path, groupId: expect.any(String), existingPath: realSb05.path }]);
      await q.close();
    }
  });

  it('renames a collecting group when an earlier-stamped subband arrives, and becomes pending with the 16th', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const r1 = await q.register([arrival(dir, `${stamp(T0 + 20_000)}_sb03.hdf5`)], RULES, 1000);
    expect(r1[0]).toMatchObject({ kind: 'created', groupId: stamp(T0 + 20_000), subbands: 1, becamePending: false });
    const r2 = await q.register([arrival(dir, `${stamp(T0 + 5_000)}_sb07.hdf5`)], RULES, 1001);
    expect(r2[0]).toMatchObject({ kind: 'joined', groupId: stamp(T0 + 5_000), renamedFrom: stamp(T0 + 20_000), subbands: 2 });
    expect(await q.group(stamp(T0 + 20_000))).toBeUndefined();
    const rest = [0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15].map((sb) => arrival(dir, `${stamp(T0 + 10_000)}_sb${String(sb).padStart(2, '0')}.hdf5`));
    const r3 = await q.register(rest, RULES, 1002);
    expect(r3.at(-1)).toMatchObject({ kind: 'joined', groupId: stamp(T0 + 5_000), subbands: 16, becamePending: true, state: 'pending' });
    expect((await q.group(stamp(T0 + 5_000)))?.receivedAtS).toBe(1000);
    await q.close();
  });

  it('is idempotent for re-deliveries, and refuses a second file for a subband within the tolerance', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const a = arrival(dir, `${stamp(T0)}_sb00.hdf5`);
    await q.register([a], RULES, 1000);
    expect(await q.register([a, a], RULES, 1001)).toEqual([
      { kind: 'known', path: a.path, groupId: stamp(T0) },
      { kind: 'known', path: a.path, groupId: stamp(T0) },
    ]);
    // Same name in another directory (a copy delivered twice): a duplicate, not a new group.
    const copy = { ...a, path: path.join(dir, 'elsewhere', path.basename(a.path)) };
    expect((await q.register([copy], RULES, 1002))[0]).toMatchObject({ kind: 'duplicate', groupId: stamp(T0), existingPath: a.path });
    // sb00 again 30 s later cannot join the same group; with nothing else near it starts a group of its own
    // only if that does not collide: here it becomes the seed of the next window.
    const later = arrival(dir, `${stamp(T0 + 30_000)}_sb00.hdf5`);
    expect((await q.register([later], RULES, 1003))[0]).toMatchObject({ kind: 'created', groupId: stamp(T0 + 30_000) });
    expect((await q.counts()).collecting).toBe(2);
    await q.close();
  });

  it('records a subband that arrives after its group was converted, without touching the group', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const names = groupNames(T0);
    await q.register(names.slice(0, 15).map((n) => arrival(dir, n.name)), { ...RULES, expectedSubbands: 15 }, 1000);
    const c = (await q.claimNext(me, 1001))!;
    await q.complete(c, { totalS: 1, loadS: 0, phaseS: 0, writeS: 1 }, 1002);
    const late = await q.register([arrival(dir, names[15]!.name)], RULES, 1003);
    expect(late[0]).toMatchObject({ kind: 'joined', groupId: stamp(T0), state: 'completed', becamePending: false, subbands: 16 });
    expect((await q.group(stamp(T0)))?.state).toBe('completed');
    await q.close();
  });
});

describe('claims', () => {
  it('takes the oldest pending group by arrival, never one still collecting or backing off', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const later = await pendingGroup(q, dir, T0 + 600_000, 1000);
    const earlier = await pendingGroup(q, dir, T0, 1005);
    await q.register([arrival(dir, `${stamp(T0 + 1_200_000)}_sb00.hdf5`)], RULES, 990);
    const c1 = (await q.claimNext(me, 1010))!;
    expect(c1.groupId).toBe(later);
    expect(c1.stage).toBe('processing_fresh');
    expect(c1.files).toHaveLength(16);
    const r = await q.retryOrFail(c1, '[X] boom', { maxRetries: 3, backoffBaseS: 100 }, 1011);
    expect(r).toEqual({ state: 'pending', retryCount: 1, nextAttemptAtS: 1111 });
    expect((await q.claimNext(me, 1012))?.groupId).toBe(earlier);
    expect(await q.claimNext(me, 1013)).toBeUndefined(); // `later` backs off until 1111
    const again = (await q.claimNext(me, 1111))!;
    expect(again.groupId).toBe(later);
    expect(again.retryCount).toBe(1);
    await q.close();
  });

  it('never gives one group to two processes claiming from one database at once', async () => {
    ensureDist();
    const dir = tmpDir();
    const file = queueDb(dir, 'q');
    const q = await StreamQueue.open(file);
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push(await pendingGroup(q, dir, T0 + i * 300_000, 1000 + i));
    await q.close();
    const startAt = Date.now() + 1500;
    const race = (label: string) =>
      new Promise<string[]>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(fixtures, 'claimer.mjs'), file, String(startAt), label, '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (err += d));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`claimer ${label} exited ${code}: ${err}`))));
      });
    const [a, b] = await Promise.all([race('a'), race('b')]);
    expect(a.length + b.length).toBe(ids.length);
    expect(new Set([...a, ...b]).size).toBe(ids.length);
    expect([...a, ...b].sort()).toEqual([...ids].sort());
    // Both really raced (each got some), or the test proves nothing about atomicity.
    expect(Math.min(a.length, b.length)).toBeGreaterThan(0);
  }, 60_000);
});

describe('state machine', () => {
  let dir: string;
  let q: StreamQueue;
  beforeAll(async () => {
    dir = tmpDir();
    q = await StreamQueue.open(queueDb(dir, 'q'));
  });
  afterAll(() => q.close());

  it('fails a group after max-retries failed attempts, keeping the error', async () => {
    const g = await pendingGroup(q, dir, T0, 1000);
    const outcomes: RetryOutcome[] = [];
    let now = 1000;
    for (let i = 0; i < 3; i++) {
      now += 100;
      const c = (await q.claimNext(me, now))!;
      expect(c.groupId).toBe(g);
      outcomes.push(await q.retryOrFail(c, `[UVH5_TRUNCATED] /in/x_sb03.hdf5: truncated (attempt ${i + 1})`, { maxRetries: 3, backoffBaseS: 10 }, now));
    }
    expect(outcomes.map((o) => o.state)).toEqual(['pending', 'pending', 'failed']);
    expect(outcomes.map((o) => ('nextAttemptAtS' in o ? o.nextAttemptAtS - (1000 + 100 * (outcomes.indexOf(o) + 1)) : null))).toEqual([10, 20, null]);
    expect(await q.group(g)).toMatchObject({ state: 'failed', retryCount: 3, error: '[UVH5_TRUNCATED] /in/x_sb03.hdf5: truncated (attempt 3)' });
    expect(backoffS(10, 9)).toBe(160);
  });

  it('completes only while the claim is held, recording metrics in the same transaction', async () => {
    const g = await pendingGroup(q, dir, T0 + 300_000, 2000);
    const c = (await q.claimNext(me, 2001))!;
    expect(c.groupId).toBe(g);
    expect(await q.heartbeat(c, 2002)).toBe(true);
    // Someone else re-queues it (the seed's manual UPDATE) and another worker claims it.
    await q.db.updateTable('ingest_queue').set({ state: 'pending', processing_stage: 'collecting' }).where('group_id', '=', g).execute();
    const other = (await q.claimNext({ host: 'elsewhere', pid: 1, start: 'x' }, 2003))!;
    expect(other.groupId).toBe(g);
    expect(await q.heartbeat(c, 2004)).toBe(false);
    expect(await q.complete(c, { totalS: 5, loadS: 1, phaseS: 1, writeS: 1 }, 2005)).toBe(false);
    expect((await q.metrics()).some((m) => m.groupId === g)).toBe(false);
    expect(await q.complete(other, { totalS: 5, loadS: 1, phaseS: 2, writeS: 1, detail: { readS: 0.5 } }, 2006)).toBe(true);
    expect(await q.group(g)).toMatchObject({ state: 'completed', stage: 'processing_fresh', error: null });
    expect((await q.metrics({ limit: 1 }))[0]).toEqual({ groupId: g, totalS: 5, loadS: 1, phaseS: 2, writeS: 1, recordedAtS: 2006, detail: { readS: 0.5 } });
  });

  it('gives a claim back on shutdown as resuming, without counting an attempt', async () => {
    const g = await pendingGroup(q, dir, T0 + 600_000, 3000);
    const c = (await q.claimNext(me, 3001))!;
    expect(await q.setStage(c, 'processing_fresh', '/ck/x.json', 3002)).toBe(true);
    expect(await q.release(c, 3003)).toBe(true);
    expect(await q.group(g)).toMatchObject({ state: 'pending', stage: 'resuming', retryCount: 0, checkpointPath: '/ck/x.json' });
    const again = (await q.claimNext(me, 3004))!;
    expect(again).toMatchObject({ groupId: g, stage: 'resuming' });
    await q.complete(again, { totalS: 1, loadS: 0, phaseS: 0, writeS: 0 }, 3005);
    // Completion keeps `resuming`, so operators can tell restarted jobs from fresh ones.
    expect((await q.group(g))?.stage).toBe('resuming');
  });
});

describe('recovery', () => {
  it('re-queues a claim with no progress for --in-progress-timeout as resuming, counting the attempt', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const g = await pendingGroup(q, dir, T0, 1000);
    const c = (await q.claimNext({ host: 'node7', pid: 4242, start: 's' }, 1000))!;
    await q.heartbeat(c, 1500);
    expect(await q.recoverStale(900, 3, 2399)).toEqual([]);
    expect(await q.staleInProgressCount(900, 2401)).toBe(1);
    const rec = await q.recoverStale(900, 3, 2401);
    expect(rec).toEqual([{ groupId: g, state: 'pending', counted: 'retry', reason: 'Recovered from stale in_progress state: no progress for more than 900 s (claimed by pid 4242 on node7)' }]);
    expect(await q.group(g)).toMatchObject({ state: 'pending', stage: 'resuming', retryCount: 1, lastClaimedBy: null });
    expect((await q.claimNext(me, 2402))?.stage).toBe('resuming');
    await q.close();
  });

  it('re-queues at once a claim whose process on this host is gone, and leaves live and remote ones alone', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const gone = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => gone.on('exit', () => resolve(gone.pid!)));
    const dead: ProcessIdentity = { host: me.host, pid: deadPid, start: 'whatever' };
    // The same pid as this process but a different start: a previous incarnation (pid reuse).
    const reused: ProcessIdentity = { ...me, start: `${me.start}-earlier` };
    const remote: ProcessIdentity = { host: 'some-other-host', pid: 1, start: 'x' };
    const ids = [];
    for (const [i, owner] of [dead, reused, me, remote].entries()) {
      const g = await pendingGroup(q, dir, T0 + i * 300_000, 1000 + i);
      const c = (await q.claimNext(owner, 1010 + i))!;
      expect(c.groupId).toBe(g);
      ids.push(g);
    }
    expect(ownerLiveness(dead)).toBe('gone');
    expect(ownerLiveness(me)).toBe('alive');
    expect(ownerLiveness(remote)).toBe('unknown');
    const rec = await q.recoverDeadOwners(me.host, ownerLiveness, 3, 1020);
    expect(rec.map((r) => r.groupId).sort()).toEqual([ids[0], ids[1]].sort());
    expect(rec[0]!.reason).toMatch(/the claiming process \(pid \d+ on .+\) is gone/);
    expect((await q.group(ids[2]!))?.state).toBe('in_progress');
    expect((await q.group(ids[3]!))?.state).toBe('in_progress');
    // A death is not the group's fault: counted apart, the retry budget untouched.
    expect(await q.group(ids[0]!)).toMatchObject({ state: 'pending', stage: 'resuming', retryCount: 0, crashRecoveries: 1 });
    await q.close();
  });

  it('counts deaths of the claimer apart from retries: they never spend --max-retries, and a group that kills its worker every time still fails', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const g = await pendingGroup(q, dir, T0, 1000);
    const dead: ProcessIdentity = { host: me.host, pid: 1, start: 'gone' };
    const gone = () => 'gone' as const;
    // One real conversion error first: with --max-retries 2, one more would fail the group.
    const c0 = (await q.claimNext(me, 1000))!;
    expect(await q.retryOrFail(c0, '[X] transient', { maxRetries: 2, backoffBaseS: 0 }, 1001)).toMatchObject({ state: 'pending', retryCount: 1 });
    // Three deaths with --max-crash-recoveries 3: each re-queued as resuming, the retry count untouched.
    for (let i = 1; i <= 3; i++) {
      const c = (await q.claimNext(dead, 1001 + i))!;
      expect(c.groupId).toBe(g);
      expect(await q.recoverDeadOwners(me.host, gone, 3, 1001 + i)).toEqual([
        { groupId: g, state: 'pending', counted: 'crash', reason: 'Recovered from in_progress state: the claiming process (pid 1 on ' + me.host + ') is gone' },
      ]);
      expect(await q.group(g)).toMatchObject({ state: 'pending', stage: 'resuming', retryCount: 1, crashRecoveries: i });
    }
    // The fourth death: a group that kills its worker every time fails.
    await q.claimNext(dead, 1010);
    expect((await q.recoverDeadOwners(me.host, gone, 3, 1011))[0]).toMatchObject({ groupId: g, state: 'failed', counted: 'crash' });
    expect(await q.group(g)).toMatchObject({ state: 'failed', retryCount: 1, crashRecoveries: 4 });
    // requeue gives both budgets back.
    await q.requeue(g, { force: false, liveness: ownerLiveness }, 1012);
    expect(await q.group(g)).toMatchObject({ state: 'pending', retryCount: 0, crashRecoveries: 0 });
    await q.close();
  });
});

describe('requeue', () => {
  it('requeues failed and completed groups with a fresh retry budget, refuses live claims unless forced', async () => {
    const dir = tmpDir();
    const q = await StreamQueue.open(queueDb(dir, 'q'));
    const opts = { force: false, liveness: ownerLiveness };
    expect(await q.requeue('2025-01-01T00:00:00', opts, 1)).toEqual({ kind: 'not-found' });

    const failed = await pendingGroup(q, dir, T0, 1000);
    const c = (await q.claimNext(me, 1001))!;
    await q.retryOrFail(c, '[X] broken', { maxRetries: 1, backoffBaseS: 1 }, 1002);
    expect(await q.requeue(failed, opts, 1003)).toEqual({ kind: 'requeued', previous: 'failed' });
    expect(await q.group(failed)).toMatchObject({ state: 'pending', retryCount: 0, stage: 'collecting' });

    const live = (await q.claimNext(me, 1004))!;
    const refused = await q.requeue(live.groupId, opts, 1005);
    expect(refused.kind).toBe('refused');
    expect(refused.kind === 'refused' && refused.reason).toMatch(new RegExp(`claimed by pid ${process.pid} on .* which is still running; use --force`));
    expect(await q.requeue(live.groupId, { ...opts, force: true }, 1006)).toEqual({ kind: 'requeued', previous: 'in_progress' });
    expect(await q.group(live.groupId)).toMatchObject({ state: 'pending', stage: 'resuming' });
    // The forced requeue took the claim away: the old holder's completion is refused.
    expect(await q.complete(live, { totalS: 1, loadS: 0, phaseS: 0, writeS: 0 }, 1007)).toBe(false);
    await q.close();
  });
});
