/**
 * `contimg applycal` against CASA and against the simulator's truth, on a small simulated group
 * (8 antennas, 64 channels, 12 integrations):
 * - CASA's own bandpass/gaincal tables, applied by CASA's applycal (calwt=True, B nearest, G
 *   linear) and by us: the same CORRECTED_DATA (relative 1e-5), weights and flags, also with
 *   flagged solutions;
 * - tables holding the true gains (written with python-casacore) restore the noiseless model;
 * - the error cases: a table of other channels or antennas, not a caltable, no tables
 *   registered, no table valid at the MS time; and the registry path of a layout run.
 */
import { cpSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--antennas', '8', '--channels', '4', '--integrations', '12', '--seed', '7'];
let dir: string;
let ms: string; // noisy data with gains
let tabs: { bp: string; g: string };

interface Compare {
  rows: number;
  flag_mismatch: number;
  flagged_ours: number;
  flagged_casa: number;
  corrected_max_rel: number;
  corrected_max_diff_over_rms: number;
  weight_max_rel: number;
  weight_spectrum_max_rel: number;
  sigma_max_rel: number;
  data_equal: boolean;
}

async function convert(input: string, out: string): Promise<string> {
  const c = await cliJson('convert', '--input-dir', input, '--output-dir', out);
  return c.groups[0].outputMs;
}

beforeAll(async () => {
  dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'in'), ...SIM);
  ms = await convert(path.join(dir, 'in'), path.join(dir, 'ms'));
  tabs = await oracle('casa_applycal.py', 'tables', ms, path.join(dir, 'casa'));
}, 60_000);

async function ours(tables: string[], out: string, ...extra: string[]) {
  const [r] = await cliJson('applycal', ms, '--tables', ...tables, '--output-dir', out, ...extra);
  expect(r.status, JSON.stringify(r)).toBe('calibrated');
  return r;
}

describe('applycal agrees with CASA', () => {
  it('B (nearest) then G (linear, amplitude and phase), calwt: same CORRECTED_DATA, weights, flags', async () => {
    const r = await ours([tabs.bp, tabs.g], path.join(dir, 'ours1'));
    expect(path.basename(r.output)).toBe('2025-10-02T00:00:00_cal.ms');
    expect(r.summary.tables.map((t: { interp: string }) => t.interp)).toEqual(['nearest', 'linear']);
    await oracle('casa_applycal.py', 'apply', ms, path.join(dir, 'casa1.ms'), tabs.bp, tabs.g);
    const c = await oracle<Compare>('casa_applycal.py', 'compare', r.output, path.join(dir, 'casa1.ms'));
    expect(c.data_equal).toBe(true);
    expect(c.flag_mismatch).toBe(0);
    expect(c.corrected_max_rel).toBeLessThan(1e-5);
    expect(c.weight_max_rel).toBeLessThan(1e-5);
    expect(c.weight_spectrum_max_rel).toBeLessThan(1e-5);
    expect(c.sigma_max_rel).toBe(0);
    // The gains really changed the weights (CASA's tables here are far from unity).
    expect(r.summary.rows).toBe(c.rows);
    // No partial output left beside it.
    expect(readdirSync(path.dirname(r.output)).filter((f) => f.includes('partial'))).toEqual([]);

    // Again in blocks of 5 rows (8 antennas: 36 rows per integration), so integrations are
    // split between blocks and the reader, correction and writer threads hand over 87 blocks:
    // the result is the same to the last bit.
    const cell = 2 * 4 * 8; // correlations × channels × bytes of a complex64
    process.env.CONTIMG_APPLYCAL_BLOCK_BYTES = String(5 * cell);
    let small;
    try {
      small = await ours([tabs.bp, tabs.g], path.join(dir, 'ours1-blocks'));
    } finally {
      delete process.env.CONTIMG_APPLYCAL_BLOCK_BYTES;
    }
    const same = await oracle<Compare>('casa_applycal.py', 'compare', small.output, r.output);
    expect(same.rows).toBe(c.rows);
    expect(same.flag_mismatch).toBe(0);
    expect(same.corrected_max_rel).toBe(0);
    expect(same.weight_max_rel).toBe(0);
    expect(same.weight_spectrum_max_rel).toBe(0);
  }, 60_000);

  it('flagged G solutions flag the data they touch, as in CASA (random ones, and next to exact time matches)', async () => {
    for (const [n, seed] of [['6', '3'], ['pattern', '0']] as const) {
      const g = path.join(dir, `gflag-${n}`);
      cpSync(tabs.g, g, { recursive: true });
      const f = await oracle<{ flagged_rows: number[] }>('casa_applycal.py', 'flag-solutions', g, n, seed);
      expect(f.flagged_rows.length).toBeGreaterThanOrEqual(6);
      const r = await ours([tabs.bp, g], path.join(dir, `ours-${n}`));
      await oracle('casa_applycal.py', 'apply', ms, path.join(dir, `casa-${n}.ms`), tabs.bp, g);
      const c = await oracle<Compare>('casa_applycal.py', 'compare', r.output, path.join(dir, `casa-${n}.ms`));
      expect(c.flagged_casa, n).toBeGreaterThan(0);
      expect(c.flag_mismatch, n).toBe(0);
      expect(c.corrected_max_rel, n).toBeLessThan(1e-5);
      expect(c.weight_max_rel, n).toBeLessThan(1e-5);
      expect(r.summary.flaggedAfter).toBe(c.flagged_ours);
    }
  }, 60_000);
});

describe('applycal with the true gains', () => {
  it('restores the noiseless model, on 1-spw and 16-spw MS alike', async () => {
    const clean = tmpDir();
    await cliJson('simulate', '--output-dir', path.join(clean, 'g'), ...SIM, '--noise-jy', '0');
    await cliJson('simulate', '--output-dir', path.join(clean, 'm'), ...SIM, '--noise-jy', '0', '--no-gains');
    const gained = await convert(path.join(clean, 'g'), path.join(clean, 'gms'));
    const model = await convert(path.join(clean, 'm'), path.join(clean, 'mms'));
    const truth = path.join(clean, 'g', '2025-10-02T00:00:00.truth.json');
    const t = await oracle<{ bp: string; g: string }>('casa_applycal.py', 'truth-tables', gained, truth, path.join(dir, 'casa'), path.join(clean, 'truth'));
    const [r] = await cliJson('applycal', gained, '--tables', t.bp, t.g, '--output-dir', path.join(clean, 'out'));
    expect(r.status).toBe('calibrated');
    const d = await oracle<{ max_diff_over_rms: number; raw_max_diff_over_rms: number; unflagged: number }>('casa_applycal.py', 'model-diff', r.output, model);
    expect(d.unflagged).toBeGreaterThan(1000);
    // The gains are large (raw data far from the model); the calibrated data match it to float precision.
    expect(d.raw_max_diff_over_rms).toBeGreaterThan(0.5);
    expect(d.max_diff_over_rms).toBeLessThan(1e-4);

    // The same 1-spw tables on the 16-spw layout of the same group: channels matched by frequency.
    const gained16 = (await cliJson('convert', '--input-dir', path.join(clean, 'g'), '--output-dir', path.join(clean, 'g16'), '--spw-per-subband')).groups[0].outputMs;
    const model16 = (await cliJson('convert', '--input-dir', path.join(clean, 'm'), '--output-dir', path.join(clean, 'm16'), '--spw-per-subband')).groups[0].outputMs;
    const [r16] = await cliJson('applycal', gained16, '--tables', t.bp, t.g, '--output-dir', path.join(clean, 'out16'));
    const d16 = await oracle<{ max_diff_over_rms: number; unflagged: number }>('casa_applycal.py', 'model-diff', r16.output, model16);
    expect(d16.unflagged).toBe(d.unflagged);
    expect(d16.max_diff_over_rms).toBeLessThan(1e-4);
  }, 60_000);
});

describe('applycal errors', () => {
  it('a table of other channels or other antennas: CALIB_TABLE_SHAPE; not a caltable: CALTABLE_NOT_A_CALTABLE', async () => {
    const freq = await oracle<{ table: string }>('casa_applycal.py', 'break', tabs.bp, 'freq', path.join(dir, 'bad_freq'));
    const ants = await oracle<{ table: string }>('casa_applycal.py', 'break', tabs.g, 'antennas', path.join(dir, 'bad_ants'));
    for (const [tables, code, words] of [
      [[freq.table], 'CALIB_TABLE_SHAPE', 'no B Jones solution channel'],
      [[tabs.bp, ants.table], 'CALIB_TABLE_SHAPE', '100 antennas'],
      [[ms], 'CALTABLE_NOT_A_CALTABLE', 'not a CASA caltable'],
    ] as const) {
      const out = tmpDir();
      const r = await cli('applycal', ms, '--tables', ...tables, '--output-dir', out, '--json');
      expect(r.code).toBe(1);
      const [j] = JSON.parse(r.stdout);
      expect(j.code).toBe(code);
      expect(j.error).toContain(words);
      expect(j.error).toContain(tables.at(-1));
      expect(readdirSync(out)).toEqual([]);
    }
  }, 60_000);

  it('layout: no tables registered, no time overlap, then the registered ones applied and the output registered', async () => {
    const stage = tmpDir();
    const base = ['--stage-base', path.join(stage, 'stage'), '--data-base', path.join(stage, 'data')];
    let r = await cli('applycal', ms, ...base, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)[0].code).toBe('CALIB_NO_TABLES');

    const { openLayout } = await import('../../ts/layout/index.js');
    const { openRegistries, registerCalTable } = await import('../../ts/registry/index.js');
    const layout = openLayout({ stageBase: path.join(stage, 'stage'), dataBase: path.join(stage, 'data') });
    const regs = await openRegistries(layout);
    const times = (await import('../../ts/applycal/run.js')).msTimeRangeMjd(ms);
    const tdir = path.join(stage, 'tables');
    cpSync(tabs.bp, path.join(tdir, 'old_bpcal'), { recursive: true });
    cpSync(tabs.bp, path.join(tdir, 'x_bpcal'), { recursive: true });
    cpSync(tabs.g, path.join(tdir, 'x_gpcal'), { recursive: true });
    try {
      await registerCalTable(regs, { path: path.join(tdir, 'old_bpcal'), groupId: '2025-09-01T00:00:00', tableType: 'bandpass', validStartMjd: times[0] - 30, validEndMjd: times[0] - 29 });
    } finally {
      await regs.close();
    }
    r = await cli('applycal', ms, ...base, '--json');
    expect(JSON.parse(r.stdout)[0].code).toBe('CALIB_NO_TIME_OVERLAP');

    const regs2 = await openRegistries(layout);
    try {
      await registerCalTable(regs2, { path: path.join(tdir, 'x_gpcal'), groupId: '2025-10-02T00:00:00', tableType: 'gain', validStartMjd: times[0] - 0.5, validEndMjd: times[1] + 0.5 });
      await registerCalTable(regs2, { path: path.join(tdir, 'x_bpcal'), groupId: '2025-10-02T00:00:00', tableType: 'bandpass', validStartMjd: times[0] - 0.5, validEndMjd: times[1] + 0.5 });
    } finally {
      await regs2.close();
    }
    const dry = await cliJson('applycal', ms, ...base, '--dry-run');
    expect(dry[0].status).toBe('dry-run');
    // Bandpass first, whatever the registration order.
    expect(dry[0].tables.map((t: { tableType: string }) => t.tableType)).toEqual(['bandpass', 'gain']);
    expect(dry[0].output).toBe(path.join(stage, 'stage', 'calibrated', 'ms', 'science', '2025-10-02', '2025-10-02T00:00:00_cal.ms'));
    expect(existsSync(dry[0].output)).toBe(false);

    const [done] = await cliJson('applycal', ms, ...base);
    expect(done.status).toBe('calibrated');
    expect(done.registered).toBe(true);
    const regs3 = await openRegistries(layout);
    try {
      const row = await regs3.data.selectFrom('data_registry').selectAll().where('path', '=', done.output).executeTakeFirstOrThrow();
      expect(row.data_type).toBe('calibrated_ms');
    } finally {
      await regs3.close();
    }
    // Rerun: skipped, nothing changes.
    const [again] = await cliJson('applycal', ms, ...base);
    expect(again.status).toBe('skipped');
  }, 60_000);
});
