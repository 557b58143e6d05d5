/**
 * `contimg calibrate` on a simulated transit of 3C286 with the full default array (96 antennas,
 * 16 subbands × 8 channels, 10 integrations, default noise):
 * - B × G × G60 equals the simulator's gains (<group>.gains.npy) to 1° rms in phase and 1% rms
 *   in amplitude, after removing the reference antenna's phase and each antenna's overall
 *   amplitude (which solnorm and phase-only G leave free);
 * - CASA's bandpass and gaincal ×2 on the same MS and model (our MODEL_DATA) agree to 0.5° and
 *   0.5%, with the same flags; CASA opens our tables, and CASA's applycal with them gives our
 *   applycal's CORRECTED_DATA;
 * - the errors (no calibrator, all flagged, too many flagged), the reference antenna fallback,
 *   the layout path and cal_registry entries that applycal finds.
 */
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir, SMALL } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--calibrator', '3C286', '--channels', '8', '--integrations', '10', '--seed', '5'];
let dir: string;
let ms: string;
let truth: string;
let first: any; // the first calibrate result

async function convert(input: string, out: string): Promise<string> {
  const c = await cliJson('convert', '--input-dir', input, '--output-dir', out);
  return c.groups[0].outputMs;
}

beforeAll(async () => {
  dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'in'), ...SIM);
  truth = path.join(dir, 'in', readdirSync(path.join(dir, 'in')).find((f) => f.endsWith('.truth.json'))!);
  ms = await convert(path.join(dir, 'in'), path.join(dir, 'ms'));
  const [r] = await cliJson('calibrate', ms, '--output-dir', path.join(dir, 'tabs'));
  first = r;
}, 120_000);

function tables(r: any): [string, string, string] {
  return [r.tables.bandpass, r.tables.gain, r.tables.gain2];
}

describe('calibrate against the simulated truth', () => {
  it('finds 3C286 and writes <group>_{bpcal,gpcal,2gcal}', () => {
    expect(first.status, JSON.stringify(first)).toBe('calibrated');
    expect(first.summary.calibrator).toBe('3C286');
    expect(first.summary.calibratorOffsetDeg).toBeLessThan(0.5);
    expect(first.summary.antennas).toBe(96);
    expect(first.summary.channels).toBe(128);
    expect(first.summary.intervals).toBe(2); // 10 × 12.885 s: 5 + 5 integrations per 60 s interval, as CASA groups them
    const names = tables(first).map((t) => path.basename(t));
    const group = path.basename(ms).replace(/\.ms$/, '');
    expect(names).toEqual([`${group}_bpcal`, `${group}_gpcal`, `${group}_2gcal`]);
    expect(readdirSync(path.join(dir, 'tabs')).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('B × G × G60 matches gains.npy: phase rms ≤ 1°, amplitude rms ≤ 1%', async () => {
    const c = await oracle('calib_vs_truth.py', 'compare', ...tables(first), truth);
    expect(c.antennas).toBeGreaterThanOrEqual(90);
    expect(c.phase_rms_deg, JSON.stringify(c)).toBeLessThan(1);
    expect(c.amp_rms, JSON.stringify(c)).toBeLessThan(0.01);
    // The comparison can fail: the gains without G60 (drift unremoved) or with a wrong sign are
    // checked by the solve itself being needed — the raw truth phases span ±180°.
    expect(c.phase_max_deg).toBeLessThan(10);
  }, 60_000);

  it('refant: the named antenna when it has data, else the next one in ANTENNA order, recorded in ANTENNA2', async () => {
    const t = JSON.parse(readFileSync(truth, 'utf8'));
    const active: number[] = t.gains.npy.antennas.map((a: { ms_antenna_row: number }) => a.ms_antenna_row);
    const names: string[] = t.gains.npy.antennas.map((a: { name: string }) => a.name);
    // An antenna with data, requested explicitly.
    const want = names[10]!;
    const [r] = await cliJson('calibrate', ms, '--output-dir', path.join(dir, 'ref1'), '--refant', want);
    expect(r.summary.refant).toBe(want);
    // A station without data: the next row with data is used.
    const missing = [...Array(117).keys()].find((row) => !active.includes(row) && active.some((a) => a > row))!;
    const next = Math.min(...active.filter((a) => a > missing));
    const [r2] = await cliJson('calibrate', ms, '--output-dir', path.join(dir, 'ref2'), '--refant', String(missing + 1));
    expect(r2.summary.refantRequested).toBe(String(missing + 1));
    expect(r2.summary.refantIndex).toBe(next);
    const info = await oracle('calib_vs_truth.py', 'tables', ...tables(r2));
    for (const tab of info) expect(tab.antenna2).toEqual([next]);
  }, 60_000);
});

describe('calibrate --sky', () => {
  it('a sky model holding the catalogue calibrator gives the same solutions', async () => {
    const t = JSON.parse(readFileSync(truth, 'utf8'));
    const c = t.calibrator;
    // --sky fluxes are at 1.405 GHz (the simulator's reference), the catalogue's at 1.4 GHz.
    const flux = c.flux_jy * Math.pow(1.405e9 / c.ref_freq_hz, c.spectral_index);
    const sky = path.join(dir, 'sky.csv');
    writeFileSync(sky, `name,ra_deg,dec_deg,flux_jy,spectral_index\nCAL,${c.ra_deg},${c.dec_deg},${flux},${c.spectral_index}\n`);
    const [r] = await cliJson('calibrate', ms, '--output-dir', path.join(dir, 'sky'), '--sky', sky);
    expect(r.summary.calibrator).toBe(null);
    expect(r.summary.sources).toBe(1);
    const ours = tables(r);
    const cat = tables(first);
    for (let k = 0; k < 3; k++) {
      const d = await oracle('casa_calibrate.py', 'compare', ours[k]!, cat[k]!);
      expect(d.flag_mismatch).toBe(0);
      expect(d.phase_max_deg).toBeLessThan(1e-3);
      expect(d.amp_max_rel).toBeLessThan(1e-5);
    }
  }, 60_000);
});

describe('calibrate agrees with CASA', () => {
  let casa: { bp: string; gp: string; g2: string };
  let ours: [string, string, string];
  let modelMs: string;

  beforeAll(async () => {
    modelMs = path.join(dir, 'model.ms');
    cpSync(ms, modelMs, { recursive: true });
    const [r] = await cliJson('calibrate', modelMs, '--output-dir', path.join(dir, 'ours'), '--write-model', '--refant', first.summary.refant);
    expect(r.summary.modelWritten).toBe(true);
    ours = tables(r);
    casa = await oracle('casa_calibrate.py', 'solve', modelMs, path.join(dir, 'casa'), first.summary.refant, '3');
  }, 240_000);

  it('CASA opens our tables as B Jones and G Jones caltables with the MS subtables', async () => {
    for (const [t, sub] of [[ours[0], 'B Jones'], [ours[1], 'G Jones'], [ours[2], 'G Jones']] as const) {
      const o = await oracle('casa_calibrate.py', 'open', t);
      expect(o.type).toBe('Calibration');
      expect(o.subType).toBe(sub);
      expect(o.keywords.ParType).toBe('Complex');
      expect(o.keywords.VisCal).toBe(sub);
      expect(o.subtables).toEqual(['ANTENNA', 'FIELD', 'HISTORY', 'OBSERVATION', 'SPECTRAL_WINDOW']);
      for (const c of ['TIME', 'FIELD_ID', 'SPECTRAL_WINDOW_ID', 'ANTENNA1', 'ANTENNA2', 'INTERVAL', 'SCAN_NUMBER', 'OBSERVATION_ID', 'CPARAM', 'PARAMERR', 'FLAG', 'SNR', 'WEIGHT']) expect(o.columns).toContain(c);
      expect(o.cparam_shape).toEqual([2, sub === 'B Jones' ? 128 : 1]);
    }
  }, 60_000);

  it('B, G and G60 solutions agree with CASA to 0.5° and 0.5%, with the same flags', async () => {
    const out: Record<string, any> = {};
    for (const [k, o, c] of [['B', ours[0], casa.bp], ['G', ours[1], casa.gp], ['G60', ours[2], casa.g2]] as const) {
      out[k] = await oracle('casa_calibrate.py', 'compare', o, c);
    }
    for (const k of ['B', 'G', 'G60']) {
      const c = out[k];
      expect(c.compared, k).toBeGreaterThan(0);
      expect(c.unmatched, `${k} ${JSON.stringify(c)}`).toBe(0);
      expect(c.phase_max_deg, `${k} ${JSON.stringify(out)}`).toBeLessThan(0.5);
      expect(c.amp_max_rel, `${k} ${JSON.stringify(out)}`).toBeLessThan(0.005);
      expect(c.flag_mismatch, `${k} ${JSON.stringify(out)}`).toBe(0);
    }
    console.log('calibrate vs CASA:', JSON.stringify(out));
  }, 60_000);

  it("CASA's applycal with our tables gives our applycal's CORRECTED_DATA", async () => {
    const [r] = await cliJson('applycal', ms, '--tables', ...ours, '--output-dir', path.join(dir, 'applied'));
    expect(r.status).toBe('calibrated');
    await oracle('casa_applycal.py', 'apply', ms, path.join(dir, 'casa_applied.ms'), ...ours);
    const c = await oracle('casa_applycal.py', 'compare', r.output, path.join(dir, 'casa_applied.ms'));
    expect(c.flag_mismatch).toBe(0);
    expect(c.corrected_max_rel).toBeLessThan(1e-5);
  }, 120_000);
});

describe('calibrate errors', () => {
  it('CALIB_NO_CALIBRATOR when no catalogue calibrator is in the field', async () => {
    const d = tmpDir();
    await cliJson('simulate', '--output-dir', path.join(d, 'in'), ...SMALL);
    const field = await convert(path.join(d, 'in'), path.join(d, 'ms'));
    const r = await cli('calibrate', field, '--output-dir', path.join(d, 'tabs'), '--json');
    expect(r.code).toBe(1);
    const [res] = JSON.parse(r.stdout);
    expect(res.code).toBe('CALIB_NO_CALIBRATOR');
    expect(res.error).toContain(field);
    expect(existsSync(path.join(d, 'tabs'))).toBe(readdirSync(d).includes('tabs'));
  }, 60_000);

  it('CALIB_ALL_FLAGGED when the uv range selects nothing', async () => {
    const r = await cli('calibrate', ms, '--output-dir', path.join(dir, 'none'), '--uvrange', '>1000km', '--json');
    const [res] = JSON.parse(r.stdout);
    expect(res.code).toBe('CALIB_ALL_FLAGGED');
    expect(res.error).toContain(ms);
  }, 60_000);

  it('CALIB_TOO_MANY_FLAGGED when more than 25% of solutions fall below --minsnr', async () => {
    const median = first.summary.tables[0].medianSnr;
    const r = await cli('calibrate', ms, '--output-dir', path.join(dir, 'lowsnr'), '--minsnr', String(median), '--json');
    const [res] = JSON.parse(r.stdout);
    expect(res.code, JSON.stringify(res)).toBe('CALIB_TOO_MANY_FLAGGED');
    expect(res.error).toMatch(/B \(bandpass\)/);
    // No table (not even a partial one) is left.
    expect(existsSync(path.join(dir, 'lowsnr')) ? readdirSync(path.join(dir, 'lowsnr')) : []).toEqual([]);
  }, 60_000);

  it('a bad --uvrange is INVALID_ARGUMENT', async () => {
    const r = await cli('calibrate', ms, '--output-dir', path.join(dir, 'bad'), '--uvrange', '5~1m', '--json');
    const [res] = JSON.parse(r.stdout);
    expect(res.code).toBe('INVALID_ARGUMENT');
  });
});

describe('calibrate --layout', () => {
  it('writes calibrated/tables/YYYY-MM-DD/, registers ±12 h, and applycal picks bpcal, gpcal, 2gcal', async () => {
    const base = tmpDir();
    const env = ['--stage-base', path.join(base, 'stage'), '--data-base', path.join(base, 'data')];
    const dry = await cliJson('calibrate', ms, ...env, '--dry-run');
    expect(dry[0].status).toBe('dry-run');
    expect(existsSync(dry[0].tables.bandpass)).toBe(false);
    const [r] = await cliJson('calibrate', ms, ...env);
    expect(r.registered).toBe(3);
    expect(r.tables.bandpass).toMatch(/calibrated\/tables\/\d{4}-\d{2}-\d{2}\/.*_bpcal$/);
    const [a] = await cliJson('applycal', ms, ...env, '--dry-run');
    expect(a.tables.map((t: { path: string }) => t.path)).toEqual(tables(r));
    expect(a.tables.map((t: { tableType: string }) => t.tableType)).toEqual(['bandpass', 'gain', 'gain2']);
    // A second run skips (the tables exist) and keeps the registrations.
    const [again] = await cliJson('calibrate', ms, ...env);
    expect(again.status).toBe('skipped');
  }, 60_000);
});
