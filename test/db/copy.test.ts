/**
 * Migration across backends (issue 14): `contimg db copy` moves a SQLite installation with history
 * (a queue with groups in every state and metrics, rows in every registry) to PostgreSQL and back
 * to a fresh SQLite installation, and the operators' queries (psql on PostgreSQL), `contimg status`
 * and the registries' queries give identical results on all three. A copy into a non-empty
 * destination, or one that fails half-way, changes nothing; `contimg db migrate` creates every
 * schema, once, also from two processes at once.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSubbandName, parseUtc } from '../../ts/groups.js';
import { sql } from 'kysely';
import { openLayout, parseUtcDate, type Layout, type RegistryName } from '../../ts/layout/index.js';
import { openRegistries, registerCalTable, registerIngest, registerMs, registerProduct, rewriteRegistryPaths, type Registries } from '../../ts/registry/index.js';
import { StreamQueue, type Arrival, type GroupingRules } from '../../ts/stream/queue.js';
import type { ProcessIdentity } from '../../ts/stream/owner.js';
import { bin, cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';
import { psql, usePostgres } from '../postgres.js';
import { groupNames } from '../stream/helpers.js';

const RULES: GroupingRules = { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 };
const T0 = parseUtc('2025-10-05T12:30:00');
const owner: ProcessIdentity = { host: 'node-a', pid: 4242, start: 'boot-1' };

const OPERATOR_QUERIES = [
  'SELECT group_id, state, processing_stage, retry_count, error FROM ingest_queue ORDER BY received_at DESC LIMIT 10',
  'SELECT group_id, total_time, load_time, phase_time, write_time FROM performance_metrics ORDER BY recorded_at DESC LIMIT 10',
  'SELECT state, COUNT(*) FROM ingest_queue GROUP BY state ORDER BY state',
];

/** Registry queries whose results must survive the round trip (every table, every column). */
const REGISTRY_QUERIES: [string, string][] = [
  ['ingest', 'SELECT * FROM ingest_files ORDER BY path'],
  ['products', 'SELECT * FROM ms_index ORDER BY path'],
  ['products', 'SELECT * FROM ms_groups ORDER BY group_id'],
  ['products', 'SELECT * FROM ms_group_members ORDER BY group_id, position'],
  ['cal_registry', 'SELECT * FROM caltables ORDER BY path'],
  ['data_registry', 'SELECT * FROM data_registry ORDER BY id'],
  // (NULLs sort first in SQLite and last in PostgreSQL: ordered without them.)
  ['data_registry', "SELECT * FROM data_provenance ORDER BY product_id, COALESCE(input_product_id, 0), COALESCE(input_path, '')"],
];

const postgres = usePostgres();
afterAll(cleanupTmpDirs);

interface Site {
  dir: string;
  queueFile: string;
  layout: Layout;
  bases: string[];
}

function site(): Site {
  const dir = tmpDir('contimg-dbcopy-');
  const stageBase = path.join(dir, 'stage');
  const dataBase = path.join(dir, 'data');
  return { dir, queueFile: path.join(dir, 'streaming_queue.sqlite3'), layout: openLayout({ stageBase, dataBase, env: {} }), bases: ['--stage-base', stageBase, '--data-base', dataBase] };
}

function arrivals(dir: string, startMs: number, subbands = 16): Arrival[] {
  return groupNames(startMs, { subbands }).map((n) => {
    const p = parseSubbandName(n.name);
    if (!p.ok) throw new Error(p.reason);
    return { ...p.name, path: path.join(dir, n.name), sizeBytes: 1000 + n.sb };
  });
}

/** A queue with history: groups in every state, retries, errors, and metrics with detail. */
async function seedQueue(file: string, dir: string): Promise<void> {
  const q = await StreamQueue.open(file);
  // Times with many significant digits: a double must cross the engines exactly.
  let now = 1_759_667_400.123456;
  const tick = () => (now += 37.0000123);
  for (let i = 0; i < 14; i++) await q.register(arrivals(dir, T0 + i * 300_000), RULES, tick());
  await q.register(arrivals(dir, T0 + 14 * 300_000, 5), RULES, tick());
  for (let i = 0; i < 9; i++) {
    const c = (await q.claimNext(owner, tick(), { worker: `w${i % 3}` }))!;
    await q.complete(c, { totalS: 10 + i / 7, loadS: 3.1 + i, phaseS: i === 4 ? null : 4 / 3, writeS: 2.000001 * i, detail: { read: i / 9 } }, tick());
  }
  for (const maxRetries of [1, 1, 3]) {
    const c = (await q.claimNext(owner, tick()))!;
    await q.retryOrFail(c, `[CONVERT_FAILED] ${c.groupId}: bad subband 7 — "quoted" 'text'`, { maxRetries, backoffBaseS: 30 }, tick());
  }
  await q.claimNext(owner, tick(), { worker: 'busy' });
  await q.close();
}

/** Rows in every registry, made the way the stages make them (files first). */
async function seedRegistries(layout: Layout, dir: string): Promise<void> {
  const file = (p: string) => {
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, `content of ${path.basename(p)}`);
    return p;
  };
  const regs = await openRegistries(layout, { db: { kind: 'sqlite', file: 'unused' } });
  try {
    const inputs: string[] = [];
    for (let sb = 0; sb < 4; sb++) {
      const p = file(path.join(dir, 'incoming', `2025-10-05T12:30:00_sb0${sb}.hdf5`));
      inputs.push(p);
      await registerIngest(regs, { path: p, groupId: '2025-10-05T12:30:00', subband: sb });
    }
    const sci = layout.msPathFor({ groupId: '2025-10-05T12:30:00', kind: 'science' });
    const cal = layout.msPathFor({ groupId: '2025-10-05T12:35:00', kind: 'calibrator' });
    file(path.join(sci, 'table.dat'));
    file(path.join(cal, 'table.dat'));
    await registerMs(regs, { path: sci, groupId: '2025-10-05T12:30:00', startMjd: 60953.520833333336, endMjd: 60953.524305555555, pointingDecDeg: 54.573, kind: 'science', inputs });
    await registerMs(regs, { path: cal, groupId: '2025-10-05T12:35:00', startMjd: 60953.524305555555, endMjd: 60953.52777777778, pointingDecDeg: null, kind: 'calibrator', calibrator: '3C286' });
    const table = file(layout.calTablePath('2025-10-05T12:35:00', 'bandpass'));
    await registerCalTable(regs, { path: table, groupId: '2025-10-05T12:35:00', tableType: 'bandpass', validStartMjd: 60953.4, validEndMjd: null, solvedFrom: cal });
    const image = file(path.join(dir, 'stage', 'images', '2025-10-05T12:30:00.fits'));
    await registerProduct(regs, { dataType: 'image', path: image, obsDate: parseUtcDate('2025-10-05'), inputs: { products: [sci], files: [table] } });
    const t = '2025-10-05T13:00:00.000Z';
    await regs.products
      .insertInto('ms_groups')
      .values({ group_id: 'g1', obs_date: '2025-10-05', definition_path: file(path.join(dir, 'groups', 'group_g1.json')), start_mjd: 60953.52, end_mjd: 60953.53, n_ms: 2, calibrator: '3C286', transit_mjd: 60953.5261, transit_ms: cal, calibrator_rank: 0.75, registered_at: t, updated_at: t })
      .execute();
    await regs.products.insertInto('ms_group_members').values([{ group_id: 'g1', position: 0, ms_path: sci }, { group_id: 'g1', position: 1, ms_path: cal }]).execute();
  } finally {
    await regs.close();
  }
}

/** psql's unaligned output, each cell typed back: NULL, a number, or text. */
function psqlRows(url: string, query: string): unknown[][] {
  return psql(url, query, { separator: '\t', nullAs: '<NULL>' })
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t').map((c) => (c === '<NULL>' ? null : /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(c) ? Number(c) : c)));
}

function sqliteRows(file: string, query: string): unknown[][] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(query).raw().all() as unknown[][]).map((r) => [...r]);
  } finally {
    db.close();
  }
}

async function registryRows(layout: Layout, db?: string): Promise<Record<string, unknown[]>> {
  const regs = await openRegistries(layout, { readonly: true, db: db ? { kind: 'postgres', url: db } : { kind: 'sqlite', file: 'unused' } });
  const out: Record<string, unknown[]> = {};
  try {
    for (const [name, q] of REGISTRY_QUERIES) out[q] = (await sql.raw(q).execute(regs.byName(name as RegistryName))).rows;
  } finally {
    await regs.close();
  }
  return out;
}

/** A status without what names the database or depends on the instant it was read (ages, lease time left). */
function withoutQueueDb(s: Record<string, unknown>) {
  const { queueDb: _q, workers, ...rest } = s;
  const timeless = (workers as Record<string, unknown>[]).map(({ heartbeatAgeS: _h, leaseRemainingS: _l, ...w }) => w);
  return { ...rest, workers: timeless };
}

describe('db copy', () => {
  it('moves a SQLite installation with history to PostgreSQL and back, with identical query results', async () => {
    const a = site();
    await seedQueue(a.queueFile, path.join(a.dir, 'incoming'));
    await seedRegistries(a.layout, a.dir);
    const url = postgres.server().createDatabase('roundtrip');

    const there = await cliJson('db', 'copy', '--from', `sqlite:${a.queueFile}`, '--to', url, ...a.bases);
    const count = (table: string) => there.databases.flatMap((d: any) => d.tables).find((t: any) => t.table === table);
    expect(count('ingest_queue')).toMatchObject({ source: 15, destination: 15 });
    expect(count('subband_files')).toMatchObject({ source: 14 * 16 + 5 });
    expect(count('performance_metrics')).toMatchObject({ source: 9, destination: 9 });
    for (const t of ['ingest_files', 'ms_index', 'ms_groups', 'ms_group_members', 'caltables', 'data_registry', 'data_provenance']) expect(count(t).destination, t).toBeGreaterThan(0);

    const b = site();
    const back = await cliJson('db', 'copy', '--from', url, '--to', `sqlite:${b.queueFile}`, ...b.bases);
    // Same rows, same checksums, every table, both ways.
    const tables = (r: any) => r.databases.flatMap((d: any) => d.tables);
    expect(tables(back)).toEqual(tables(there));

    // The operators' queries: psql on PostgreSQL, the SQLite files directly.
    for (const q of OPERATOR_QUERIES) {
      const original = sqliteRows(a.queueFile, q);
      expect(original.length, q).toBeGreaterThan(0);
      expect(psqlRows(url, q), q).toEqual(original);
      expect(sqliteRows(b.queueFile, q), q).toEqual(original);
    }
    expect(sqliteRows(a.queueFile, OPERATOR_QUERIES[2]!)).toEqual([['collecting', 1], ['completed', 9], ['failed', 2], ['in_progress', 1], ['pending', 2]]);

    // `contimg status` reads the same queue from each.
    const status = (...args: string[]) => cliJson('status', ...args);
    const sA = await status('--queue-db', a.queueFile);
    expect(withoutQueueDb(await status('--db', url))).toEqual(withoutQueueDb(sA));
    expect(withoutQueueDb(await status('--queue-db', b.queueFile))).toEqual(withoutQueueDb(sA));

    // The registries, every table and column.
    const regsA = await registryRows(a.layout);
    expect(await registryRows(a.layout, url)).toEqual(regsA);
    expect(await registryRows(b.layout)).toEqual(regsA);
    // ... and what `status` reports of them, on PostgreSQL through CONTIMG_DATABASE_URL.
    const pipeA = await cliJson('status', ...a.bases);
    process.env.CONTIMG_DATABASE_URL = url;
    try {
      expect(await cliJson('status', ...a.bases)).toEqual(pipeA);
    } finally {
      delete process.env.CONTIMG_DATABASE_URL;
    }
  }, 120_000);

  it('leaves PostgreSQL usable: new ids follow the copied ones, and path rewrites run there as on SQLite', async () => {
    const a = site();
    await seedRegistries(a.layout, a.dir);
    const url = postgres.server().createDatabase('usable');
    expect((await cli('db', 'copy', '--from', `sqlite:${a.queueFile}`, '--to', url, ...a.bases)).code).toBe(0);
    const onPg = await openRegistries(a.layout, { db: { kind: 'postgres', url } });
    const onSqlite = await openRegistries(a.layout, { db: { kind: 'sqlite', file: 'unused' } });
    try {
      const extra = path.join(a.dir, 'stage', 'images', 'extra.fits');
      writeFileSync(extra, 'x');
      const maxId = (regs: Registries) => regs.data.selectFrom('data_registry').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow();
      const before = Number((await maxId(onPg)).m);
      expect((await registerProduct(onPg, { dataType: 'image', path: extra, obsDate: parseUtcDate('2025-10-05') })).id).toBe(before + 1);
      expect((await registerProduct(onSqlite, { dataType: 'image', path: extra, obsDate: parseUtcDate('2025-10-05') })).id).toBe(before + 1);
      const from = path.join(a.dir, 'stage');
      const to = path.join(a.dir, 'moved');
      const changed = await rewriteRegistryPaths(onPg, from, to);
      expect(changed).toBeGreaterThan(0);
      expect(await rewriteRegistryPaths(onSqlite, from, to)).toBe(changed);
      const paths = (regs: Registries) => regs.data.selectFrom('data_registry').select(['id', 'path']).orderBy('id').execute();
      expect(await paths(onPg)).toEqual(await paths(onSqlite));
      expect((await paths(onPg)).every((r) => !r.path.startsWith(from + path.sep))).toBe(true);
    } finally {
      await onPg.close();
      await onSqlite.close();
    }
  }, 60_000);

  it('refuses a destination that is not empty, naming it, and changes nothing', async () => {
    const a = site();
    await seedQueue(a.queueFile, path.join(a.dir, 'incoming'));
    const url = postgres.server().createDatabase('nonempty');
    expect((await cli('db', 'copy', '--from', `sqlite:${a.queueFile}`, '--to', url, ...a.bases)).code).toBe(0);
    const before = psqlRows(url, OPERATOR_QUERIES[2]!);
    const again = await cli('db', 'copy', '--from', `sqlite:${a.queueFile}`, '--to', url, ...a.bases);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('[DB_COPY_NOT_EMPTY]');
    expect(again.stderr).toContain(`${url} (schema public): the destination is not empty (ingest_queue has 15 row(s))`);
    expect(psqlRows(url, OPERATOR_QUERIES[2]!)).toEqual(before);

    // Into SQLite too: an existing queue file with rows.
    const b = site();
    await seedQueue(b.queueFile, path.join(b.dir, 'incoming'));
    const r = await cli('db', 'copy', '--from', url, '--to', `sqlite:${b.queueFile}`, ...b.bases);
    expect(r.stderr).toContain(`${b.queueFile}: the destination is not empty`);
    // Nothing was created for the registries.
    expect(existsSync(b.layout.stateDir)).toBe(false);

    // A source with no database at all (a mistyped path) copies nothing, and says so.
    const c = site();
    const none = await cli('db', 'copy', '--from', `sqlite:${path.join(c.dir, 'typo.sqlite3')}`, '--to', postgres.server().createDatabase('nosource'), ...c.bases);
    expect(none.stderr).toContain('[DB_COPY_NO_SOURCE]');
  }, 60_000);

  it('a copy that fails half-way leaves the destination as it was', async () => {
    const a = site();
    await seedQueue(a.queueFile, path.join(a.dir, 'incoming'));
    await seedRegistries(a.layout, a.dir);
    const url = postgres.server().createDatabase('conflict');
    // A table in the way of the products registry's migration, created by someone else.
    psql(url, 'CREATE SCHEMA products; CREATE TABLE products.ms_index (x int)');
    const schemas = () => psqlRows(url, "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' AND nspname <> 'information_schema' ORDER BY 1");
    const tables = () => psqlRows(url, "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2");
    const before = { schemas: schemas(), tables: tables() };
    const r = await cli('db', 'copy', '--from', `sqlite:${a.queueFile}`, '--to', url, ...a.bases);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/DB_MIGRATION_FAILED.*schema products.*ms_index/);
    // The queue and the ingest registry (copied before products) were rolled back with it.
    expect({ schemas: schemas(), tables: tables() }).toEqual(before);

    // Into a new SQLite installation: a failure leaves no file behind. (Here the failure is a
    // source table the copy does not know, whose rows would be lost: refused.)
    const src = postgres.server().createDatabase('conflict_src');
    expect((await cli('db', 'copy', '--from', `sqlite:${a.queueFile}`, '--to', src, ...a.bases)).code).toBe(0);
    psql(src, 'CREATE TABLE data_registry.notes (x text)');
    const c = site();
    const failed = await cli('db', 'copy', '--from', src, '--to', `sqlite:${c.queueFile}`, ...c.bases);
    expect(failed.stderr).toContain('[DB_COPY_UNKNOWN_TABLE]');
    expect(failed.stderr).toContain('notes');
    expect(existsSync(c.queueFile)).toBe(false);
    expect(existsSync(path.join(c.dir, 'data'))).toBe(false);
  }, 60_000);
});

describe('db migrate', () => {
  const migrate = (url: string) => promisify(execFile)(process.execPath, [bin, 'db', 'migrate', '--db', url, '--json'], { encoding: 'utf8' });

  it('creates every schema, once, also from two processes at once', async () => {
    const url = postgres.server().createDatabase('migrate');
    const [one, two] = await Promise.all([migrate(url), migrate(url)]);
    const first = JSON.parse(one.stdout);
    expect(JSON.parse(two.stdout)).toEqual(first);
    expect(first.databases.map((d: any) => [d.name, d.version])).toEqual([
      ['queue', '0005_leases'],
      ['ingest', '0001_ingest_files'],
      ['products', '0002_ms_groups'],
      ['cal_registry', '0001_caltables'],
      ['data_registry', '0001_data_registry'],
    ]);
    const recorded = () => psqlRows(url, "SELECT n.nspname, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'kysely_migration' GROUP BY 1 ORDER BY 1");
    const stamps = () => psqlRows(url, 'SELECT name, timestamp FROM public.kysely_migration ORDER BY name');
    expect(recorded()).toEqual([['cal_registry', 1], ['data_registry', 1], ['ingest', 1], ['products', 1], ['public', 1]]);
    const before = stamps();
    expect(before).toHaveLength(5);
    // A second run is a no-op: nothing recorded again.
    expect(JSON.parse((await migrate(url)).stdout)).toEqual(first);
    expect(stamps()).toEqual(before);
  }, 60_000);

  it('on SQLite, creates the queue file and the layout registries', async () => {
    const s = site();
    const r = await cliJson('db', 'migrate', '--queue-db', s.queueFile, ...s.bases);
    expect(r.databases.map((d: any) => d.where)).toEqual([s.queueFile, ...(['ingest', 'products', 'cal_registry', 'data_registry'] as const).map((n) => s.layout.registryPath(n))]);
    expect(existsSync(s.queueFile)).toBe(true);
  });
});
