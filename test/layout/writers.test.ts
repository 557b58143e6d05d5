/**
 * The writers in the pipeline layout (seed 004): `contimg convert` and `contimg stream` with
 * `--layout` (or CONTIMG_STAGE_BASE) put each MS in `raw/ms/{science,calibrators}/YYYY-MM-DD/`,
 * dated by the observation, build it in `workspace/active/conversion/`, register it once, and
 * leave `workspace/failed/YYYY-MM-DD/<job>_error.log` for a failed group. Real simulated groups
 * and the real converter; the checks read the trees, the simulator's truth files and the SQLite
 * files directly.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { realConverterAvailable } from '../../ts/stream/converter.js';
import { StreamQueue } from '../../ts/stream/queue.js';
import { cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';
import { ensureDist, logLines, spawnCli, waitFor } from '../stream/helpers.js';

afterAll(cleanupTmpDirs);

/** Small groups: 4 antennas, 2 subbands of 8 channels. */
const SMALL = ['--antennas', '4', '--channels', '8', '--subbands', '2'];
const CONVERT = ['--expected-subbands', '2', '--no-tmpfs'];
const JD_AT_MJD_ZERO = 2_400_000.5;
/**
 * 3C286's meridian transit at OVRO on 2025-10-02 and its apparent declination then, from astropy
 * (test/layout/sky_oracle.py, as calibrators.test.ts asks it); fixed here so that this suite needs
 * no Python. Arcseconds do not matter against a 1.6° beam.
 */
const TRANSIT_3C286 = { mjd: 60950.85984953704, apparentDecDeg: 30.3782206320719 };

interface Sim {
  dir: string;
  groups: { group: string; files: string[]; truth: string }[];
}

async function simulate(start: string, opts: { integrations?: number; decDeg?: number; groups?: number; seed?: number } = {}): Promise<Sim> {
  const dir = tmpDir('contimg-wsim-');
  const s = await cliJson<{ groups: Sim['groups'] }>(
    'simulate', '--output-dir', dir, '--start', start, ...SMALL,
    '--integrations', String(opts.integrations ?? 2),
    '--dec', String(opts.decDeg ?? 54.57),
    '--groups', String(opts.groups ?? 1),
    '--seed', String(opts.seed ?? 3),
  );
  return { dir, groups: s.groups };
}

function trees() {
  const root = tmpDir('contimg-writers-');
  return { root, stage: path.join(root, 'stage'), data: path.join(root, 'data') };
}
type Trees = ReturnType<typeof trees>;

const layoutArgs = (t: Trees) => ['--layout', '--stage-base', t.stage, '--data-base', t.data];

/** Rows of a registry, read with plain SQL. */
function rows<T = Record<string, any>>(t: Trees, registry: string, query: string): T[] {
  const file = path.join(t.data, 'state', `${registry}.sqlite3`);
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(query).all() as T[];
  } finally {
    db.close();
  }
}

/** Every `*.ms` directory below `dir`, relative to it. */
function msUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.name.endsWith('.ms')) out.push(r);
      else if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** The simulated group's own time range (first integration's start, last one's end) and pointing. */
function truthOf(truthFile: string): { startMjd: number; endMjd: number; decDeg: number } {
  const t = JSON.parse(readFileSync(truthFile, 'utf8')) as { times_jd: number[]; integration_time_s: number; pointing: { dec_deg: number } };
  const halfDays = t.integration_time_s / 2 / 86400;
  const times = [...new Set(t.times_jd)].sort((a, b) => a - b);
  return { startMjd: times[0]! - JD_AT_MJD_ZERO - halfDays, endMjd: times.at(-1)! - JD_AT_MJD_ZERO + halfDays, decDeg: t.pointing.dec_deg };
}

const utcDateOfMjd = (mjd: number) => new Date((mjd - 40587) * 86400_000).toISOString().slice(0, 10);
const stampOfMs = (ms: number) => new Date(ms).toISOString().slice(0, 19);

function expectEmptyWorkspace(t: Trees): void {
  const ws = path.join(t.stage, 'workspace', 'active', 'conversion');
  expect(existsSync(ws)).toBe(true);
  expect(readdirSync(ws)).toEqual([]);
}

describe.skipIf(!realConverterAvailable())('contimg convert in the pipeline layout', () => {
  it('puts a group starting at 23:58 under that day in raw/ms/science/, built in the workspace, and registers it once with its own time range and pointing', async () => {
    const sim = await simulate('2025-10-02T23:58:00', { integrations: 12 });
    const g = sim.groups[0]!;
    const truth = truthOf(g.truth);
    // The group ends after midnight: only its start decides its date.
    expect(utcDateOfMjd(truth.endMjd)).toBe('2025-10-03');
    const t = trees();
    const r = await cliJson('convert', '--input-dir', sim.dir, ...CONVERT, ...layoutArgs(t));
    const ms = path.join(t.stage, 'raw', 'ms', 'science', '2025-10-02', '2025-10-02T23:58:00.ms');
    expect(r).toMatchObject({ converted: 1, failed: 0 });
    expect(r.groups[0]).toMatchObject({ outputMs: ms, kind: 'science', registered: true, staging: { location: 'workspace' } });
    expect(r.groups[0].staging.path.startsWith(path.join(t.stage, 'workspace', 'active', 'conversion') + path.sep)).toBe(true);
    expect(msUnder(t.stage)).toEqual(['raw/ms/science/2025-10-02/2025-10-02T23:58:00.ms']);
    expectEmptyWorkspace(t);

    const index = rows(t, 'products', 'SELECT * FROM ms_index');
    expect(index).toHaveLength(1);
    expect(index[0]).toMatchObject({ path: ms, group_id: '2025-10-02T23:58:00', kind: 'science', calibrator: null, status: 'converted', obs_date: '2025-10-02' });
    // MJD to 1e-8 d (under a millisecond).
    expect(index[0]!.start_mjd).toBeCloseTo(truth.startMjd, 8);
    expect(index[0]!.end_mjd).toBeCloseTo(truth.endMjd, 8);
    expect(index[0]!.mid_mjd).toBeCloseTo((truth.startMjd + truth.endMjd) / 2, 8);
    expect(index[0]!.pointing_dec_deg).toBeCloseTo(truth.decDeg, 9);
    const products = rows(t, 'data_registry', 'SELECT * FROM data_registry');
    expect(products).toHaveLength(1);
    expect(products[0]).toMatchObject({ data_type: 'raw_ms', name: '2025-10-02T23:58:00.ms', path: ms, obs_date: '2025-10-02', status: 'staged' });
    expect(rows(t, 'data_registry', 'SELECT input_path FROM data_provenance ORDER BY input_path').map((x) => x.input_path)).toEqual([...g.files].sort());

    // Again: the MS is kept and its registration is left exactly as it was.
    const again = await cliJson('convert', '--input-dir', sim.dir, ...CONVERT, ...layoutArgs(t));
    expect(again).toMatchObject({ converted: 0, skipped: 1, failed: 0 });
    expect(again.groups[0]).toMatchObject({ outputMs: ms, registered: true });
    expect(rows(t, 'products', 'SELECT * FROM ms_index')).toEqual(index);
    expect(rows(t, 'data_registry', 'SELECT * FROM data_registry')).toEqual(products);
  });

  it('puts a group during which 3C286 transits in raw/ms/calibrators/, naming it, and one an hour later in science/', async () => {
    const startMs = Math.floor((TRANSIT_3C286.mjd - 40587) * 86400 - 20) * 1000;
    const [atTransit, later] = [stampOfMs(startMs), stampOfMs(startMs + 3600_000)];
    // 4 integrations (52 s) from 20 s before the transit.
    const a = await simulate(atTransit, { integrations: 4, decDeg: TRANSIT_3C286.apparentDecDeg });
    const b = await simulate(later, { integrations: 4, decDeg: TRANSIT_3C286.apparentDecDeg });
    const t = trees();
    for (const f of b.groups[0]!.files) copyFileSync(f, path.join(a.dir, path.basename(f)));
    const r = await cliJson('convert', '--input-dir', a.dir, ...CONVERT, ...layoutArgs(t));
    const date = atTransit.slice(0, 10);
    const calMs = path.join(t.stage, 'raw', 'ms', 'calibrators', date, `${atTransit}.ms`);
    const sciMs = path.join(t.stage, 'raw', 'ms', 'science', later.slice(0, 10), `${later}.ms`);
    expect(r.groups.map((x: { outputMs: string; kind: string; calibrator?: string }) => [x.outputMs, x.kind, x.calibrator])).toEqual([
      [calMs, 'calibrator', '3C286'],
      [sciMs, 'science', undefined],
    ]);
    expect(msUnder(t.stage)).toEqual([path.relative(t.stage, calMs), path.relative(t.stage, sciMs)].sort());
    const index = rows(t, 'products', 'SELECT path, kind, calibrator FROM ms_index ORDER BY path');
    expect(index).toEqual([
      { path: calMs, kind: 'calibrator', calibrator: '3C286' },
      { path: sciMs, kind: 'science', calibrator: null },
    ].sort((x, y) => x.path.localeCompare(y.path)));
  });

  it('is turned on by CONTIMG_STAGE_BASE alone; an explicit --output-dir still wins; neither is a usage error', async () => {
    const sim = await simulate('2025-10-03T12:00:00');
    const t = trees();
    const saved = { stage: process.env.CONTIMG_STAGE_BASE, data: process.env.CONTIMG_DATA_BASE };
    try {
      process.env.CONTIMG_STAGE_BASE = t.stage;
      process.env.CONTIMG_DATA_BASE = t.data;
      const r = await cliJson('convert', '--input-dir', sim.dir, ...CONVERT);
      const ms = path.join(t.stage, 'raw', 'ms', 'science', '2025-10-03', '2025-10-03T12:00:00.ms');
      expect(r.groups[0]).toMatchObject({ outputMs: ms, kind: 'science', registered: true });
      expect(rows(t, 'products', 'SELECT path FROM ms_index')).toEqual([{ path: ms }]);

      const flat = tmpDir('contimg-flat-');
      const f = await cliJson('convert', '--input-dir', sim.dir, ...CONVERT, '--output-dir', flat);
      expect(f.groups[0].outputMs).toBe(path.join(flat, '2025-10-03T12:00:00.ms'));
      expect(f.groups[0].kind).toBeUndefined();
      expect(rows(t, 'products', 'SELECT path FROM ms_index')).toEqual([{ path: ms }]);

      const both = await cli('convert', '--input-dir', sim.dir, ...CONVERT, '--output-dir', flat, '--layout');
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('cannot be combined with --layout');
      delete process.env.CONTIMG_STAGE_BASE;
      const neither = await cli('convert', '--input-dir', sim.dir, ...CONVERT);
      expect(neither.code).toBe(2);
      expect(neither.stderr).toContain('give --output-dir, or --layout');
    } finally {
      for (const [k, v] of [['CONTIMG_STAGE_BASE', saved.stage], ['CONTIMG_DATA_BASE', saved.data]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('leaves workspace/failed/<observation date>/conversion-<group>_error.log naming the bad file; the other groups are converted and registered', async () => {
    // Three groups 52 s apart; --group-tolerance keeps them apart.
    const sim = await simulate('2025-10-04T23:57:00', { integrations: 4, groups: 3 });
    const [unreadable, corrupt, good] = sim.groups as [Sim['groups'][0], Sim['groups'][0], Sim['groups'][0]];
    // The first file is the one whose header places the group; the second only the converter reads.
    for (const victim of [unreadable.files[0]!, corrupt.files[1]!]) truncateSync(victim, Math.floor(statSync(victim).size / 2));
    const t = trees();
    const r = await cli('convert', '--input-dir', sim.dir, ...CONVERT, '--group-tolerance', '10', ...layoutArgs(t), '--json');
    expect(r.code).toBe(1);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ converted: 1, failed: 2 });
    for (const [g, victim] of [
      [unreadable, unreadable.files[0]!],
      [corrupt, corrupt.files[1]!],
    ] as const) {
      const log = path.join(t.stage, 'workspace', 'failed', g.group.slice(0, 10), `conversion-${g.group}_error.log`);
      expect(summary.groups.find((x: { groupId: string }) => x.groupId === g.group)).toMatchObject({ error: { code: 'UVH5_TRUNCATED' }, errorLog: log });
      const text = readFileSync(log, 'utf8');
      expect(text).toContain(`job: conversion-${g.group}`);
      expect(text).toContain('observation date: 2025-10-04');
      expect(text).toMatch(new RegExp(`error: \\[UVH5_TRUNCATED\\] ${victim.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file is truncated`));
    }
    const goodMs = path.join(t.stage, 'raw', 'ms', 'science', '2025-10-04', `${good.group}.ms`);
    expect(msUnder(t.stage)).toEqual([path.relative(t.stage, goodMs)]);
    expect(rows(t, 'products', 'SELECT path FROM ms_index')).toEqual([{ path: goodMs }]);
    expect(rows(t, 'data_registry', 'SELECT path FROM data_registry')).toEqual([{ path: goodMs }]);
    expectEmptyWorkspace(t);
  });

  it('in dual-write mode also shows the MS at its legacy path', async () => {
    const sim = await simulate('2025-10-05T08:00:00');
    const t = trees();
    mkdirSync(path.join(t.data, 'state'), { recursive: true });
    writeFileSync(
      path.join(t.data, 'state', 'layout.json'),
      JSON.stringify({ version: 1, writeMode: 'dual-write', legacyBase: t.stage, updatedAt: new Date().toISOString(), setBy: 'test' }),
    );
    const r = await cliJson('convert', '--input-dir', sim.dir, ...CONVERT, ...layoutArgs(t));
    const ms = path.join(t.stage, 'raw', 'ms', 'science', '2025-10-05', '2025-10-05T08:00:00.ms');
    const legacy = path.join(t.stage, 'ms', 'science', '2025-10-05T08:00:00.ms');
    expect(r.groups[0]).toMatchObject({ outputMs: ms, legacyLink: legacy, registered: true });
    expect(readlinkSync(legacy)).toBe(ms);
    expect(rows(t, 'products', 'SELECT path FROM ms_index')).toEqual([{ path: ms }]);
  });
});

describe.skipIf(!realConverterAvailable())('contimg stream in the pipeline layout', () => {
  async function queueState(db: string) {
    if (!existsSync(db)) return undefined;
    const q = await StreamQueue.open(db);
    try {
      return { counts: await q.counts(), groups: await q.recentGroups(10) };
    } finally {
      await q.close();
    }
  }

  it('converts into the layout and registers each group once (a re-run group registers nothing more); a group that fails leaves its error log', async () => {
    ensureDist();
    const ok = await simulate('2025-10-02T23:58:00', { integrations: 4 });
    const bad = await simulate('2025-10-02T23:40:00', { integrations: 4, seed: 4 });
    const victim = bad.groups[0]!.files[1]!;
    truncateSync(victim, Math.floor(statSync(victim).size / 2));
    const t = trees();
    const input = path.join(t.root, 'in');
    mkdirSync(input);
    const db = path.join(t.root, 'queue.sqlite3');
    const svc = spawnCli([
      'stream', ...layoutArgs(t),
      '--input-dir', input,
      '--queue-db', db,
      '--checkpoint-dir', path.join(t.root, 'ck'),
      '--expected-subbands', '2',
      '--no-tmpfs', '--cleanup-temp', '--no-monitoring',
      '--max-retries', '1',
      '--worker-poll-interval', '0.1', '--settle-time', '0.2',
      '--min-free-output-gb', '0', '--min-free-scratch-gb', '0',
      '--omp-threads', '1',
    ]);
    try {
      for (const f of [...ok.groups[0]!.files, ...bad.groups[0]!.files]) {
        // As the correlator writes: `_incomplete`, then renamed.
        const final = path.join(input, path.basename(f));
        copyFileSync(f, final.replace(/\.hdf5$/, '_incomplete.hdf5'));
        renameSync(final.replace(/\.hdf5$/, '_incomplete.hdf5'), final);
      }
      await waitFor(async () => {
        const c = (await queueState(db))?.counts;
        return c?.completed === 1 && c.failed === 1;
      }, 'one group completed, one failed', 60_000, 100);
      const G = '2025-10-02T23:58:00';
      const ms = path.join(t.stage, 'raw', 'ms', 'science', '2025-10-02', `${G}.ms`);
      const first = rows(t, 'products', 'SELECT * FROM ms_index');
      expect(first).toHaveLength(1);
      expect(first[0]).toMatchObject({ path: ms, group_id: G, kind: 'science', status: 'converted', obs_date: '2025-10-02' });
      expect(first[0]!.pointing_dec_deg).toBeCloseTo(54.57, 9);

      // Converting the group again finds its MS in place and leaves the registration alone.
      expect((await cli('requeue', G, '--queue-db', db)).code).toBe(0);
      await waitFor(() => logLines(svc.stderr()).some((l) => l.msg === `Group ${G} completed: ${ms} already exists (kept, not converted again)`), 'the re-run', 30_000, 100);
      expect(rows(t, 'products', 'SELECT * FROM ms_index')).toEqual(first);
      expect(rows(t, 'data_registry', 'SELECT path FROM data_registry')).toEqual([{ path: ms }]);
      expect(msUnder(t.stage)).toEqual([path.relative(t.stage, ms)]);

      const B = bad.groups[0]!.group;
      const log = readFileSync(path.join(t.stage, 'workspace', 'failed', '2025-10-02', `conversion-${B}_error.log`), 'utf8');
      expect(log).toContain(`[UVH5_TRUNCATED] ${path.join(input, path.basename(victim))}: file is truncated`);
      expect(log).toContain('after 1 attempt(s)');
    } finally {
      svc.child.kill('SIGTERM');
      expect((await svc.exit).code).toBe(0);
    }
    // The failed group's resumable staging may stay (a requeue resumes it); nothing of the other.
    const ws = readdirSync(path.join(t.stage, 'workspace', 'active', 'conversion'));
    expect(ws.filter((n) => n.includes('2025-10-02T23:58:00'))).toEqual([]);
  });
});
