/**
 * `simulate`'s truth for calibration: `<group>.gains.npy` against the formula and the data
 * (numpy and h5py, not contimg), the same instrument across runs that start at different times,
 * and `--calibrator` against astropy's transit and the catalogue.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CALIBRATOR_REF_FREQ_HZ,
  angularSeparationDeg,
  apparentPlace,
  classifyGroup,
  findCalibrator,
  loadCalibrators,
  localApparentSiderealTimeDeg,
  primaryBeamPower,
} from '../../ts/layout/index.js';
import { cleanupTmpDirs, cli, cliJson, oracle, python, root, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

const T_INT_S = 12.884901888;
const TINY = ['--antennas', '8', '--channels', '4', '--subbands', '2', '--integrations', '12'] as const;
const readTruth = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

async function astropy<T>(req: unknown): Promise<T> {
  const child = execFile(python, [path.join(root, 'test', 'layout', 'sky_oracle.py')], { maxBuffer: 64 << 20 });
  child.stdin!.end(JSON.stringify(req));
  const out = await new Promise<string>((resolve, reject) => {
    let s = '';
    let e = '';
    child.stdout!.on('data', (b) => (s += b));
    child.stderr!.on('data', (b) => (e += b));
    child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`sky_oracle.py failed: ${e}`))));
  });
  return JSON.parse(out) as T;
}

describe('gains.npy', () => {
  it('holds the formula of the truth file, [antenna, time, freq, pol] complex64, channels ascending', async () => {
    const dir = tmpDir();
    const s = await cliJson('simulate', '--output-dir', dir, ...TINY, '--seed', '4');
    const g = s.groups[0];
    expect(path.basename(g.gains)).toBe(`${g.group}.gains.npy`);
    const r = await oracle('gains_npy.py', 'formula', g.truth);
    expect(r.dtype).toBe('complex64');
    expect(r.shape).toEqual([8, 12, 8, 2]);
    expect(r.declared_shape).toEqual(r.shape);
    expect(r.ms_rows).toEqual(r.antennas);
    expect(r.antennas).toEqual(readTruth(g.truth).array.active_antennas);
    expect(r.freq_ascending).toBe(true);
    expect(r.time_mjd_s_err).toBeLessThan(1e-6);
    expect(r.max_rel_err).toBeLessThan(1e-6);
  });

  it('divides out of noiseless data: data with gains = conj(g1) g2 × the same data without', async () => {
    const [a, b] = [tmpDir(), tmpDir()];
    const common = ['simulate', ...TINY, '--calibrator', '3C286', '--noise-jy', '0', '--seed', '9', '--json'];
    const w = await cliJson(...common, '--output-dir', a);
    const o = await cliJson(...common, '--output-dir', b, '--no-gains');
    const r = await oracle('gains_npy.py', 'divide', w.groups[0].truth, ...w.groups[0].files, '--', ...o.groups[0].files);
    expect(r.n).toBe(2 * 28 * 12 * 4 * 2);
    // The data are complex64: agreement to a few parts in 1e7 of the model.
    expect(r.max_rel_err).toBeLessThan(1e-5);
  });

  it('is the same instrument in runs with different --start that overlap in time, and it drifts', async () => {
    const [a, b] = [tmpDir(), tmpDir()];
    await cliJson('simulate', '--output-dir', a, ...TINY, '--seed', '5', '--start', '2025-10-02T03:00:00');
    // Five integrations later, with more antennas: seven integrations in common.
    const startB = `2025-10-02T03:01:${(5 * T_INT_S - 60).toFixed(9).padStart(12, '0')}`;
    await cliJson('simulate', '--output-dir', b, '--antennas', '12', '--channels', '4', '--subbands', '2', '--integrations', '12', '--seed', '5', '--start', startB);
    const ta = path.join(a, '2025-10-02T03:00:00.truth.json');
    const tb = path.join(b, '2025-10-02T03:01:04.truth.json');
    const r = await oracle('gains_npy.py', 'overlap', ta, tb);
    expect(r.common_times).toBe(7);
    expect(r.common_freqs).toBe(8);
    expect(r.common_antennas).toBeGreaterThanOrEqual(4);
    expect(r.max_rel_diff).toBeLessThan(1e-6);
    expect(r.drift_rad_across_a).toBeGreaterThan(1e-4);
    // A different seed is a different instrument.
    const c = tmpDir();
    await cliJson('simulate', '--output-dir', c, ...TINY, '--seed', '6', '--start', '2025-10-02T03:00:00');
    const r2 = await oracle('gains_npy.py', 'overlap', ta, path.join(c, '2025-10-02T03:00:00.truth.json'));
    expect(r2.max_rel_diff).toBeGreaterThan(0.01);
  });
});

describe('simulate --calibrator', () => {
  it('puts the transit at the group mid-time, at the apparent declination astropy gives, with the catalogue flux', async () => {
    const dir = tmpDir();
    const s = await cliJson('simulate', '--output-dir', dir, ...TINY, '--calibrator', 'j1331+3030', '--start', '2025-10-02T00:00:00');
    const truth = readTruth(s.groups[0].truth);
    const cat = findCalibrator(loadCalibrators(), '3C286')!;
    expect(truth.calibrator.name).toBe('3C286');
    expect(s.calibrator.name).toBe('3C286');

    // Transit detection (ts/layout/calibrators.ts) on the group's own time range and pointing.
    const half = T_INT_S / 2 / 86400;
    const startMjd = truth.times_jd[0] - 2_400_000.5 - half;
    const endMjd = truth.times_jd.at(-1) - 2_400_000.5 + half;
    const midMjd = truth.pointing.mid_jd - 2_400_000.5;
    const cls = classifyGroup({ startMjd, endMjd, pointingDecDeg: truth.pointing.dec_deg, calibrators: loadCalibrators() });
    expect(cls.kind).toBe('calibrator');
    if (cls.kind !== 'calibrator') return;
    expect(cls.calibrator.name).toBe('3C286');
    expect(Math.abs(cls.calibrator.closestMjd - midMjd) * 86400).toBeLessThan(0.5);
    expect(cls.calibrator.minSeparationDeg).toBeLessThan(1 / 3600);

    // astropy: the transit that day (1 s grid) and the apparent declination of date.
    const ref = await astropy<{ transit_mjd: number; apparent_dec_deg: number }>({ transit: { ra_deg: cat.raDeg, dec_deg: cat.decDeg, day_mjd: 60950 } });
    expect(Math.abs(truth.calibrator.transit_jd - 2_400_000.5 - ref.transit_mjd) * 86400).toBeLessThan(1.5);
    expect(Math.abs(midMjd - ref.transit_mjd) * 86400).toBeLessThan(1.5);
    expect(Math.abs(truth.pointing.dec_deg - ref.apparent_dec_deg) * 3600).toBeLessThan(3);

    // The catalogue's flux and index, re-referenced to the simulator's 1.405 GHz exactly.
    expect(truth.calibrator.flux_jy).toBe(cat.fluxJy);
    expect(truth.calibrator.spectral_index).toBe(cat.spectralIndex ?? 0);
    expect(truth.calibrator.ref_freq_hz).toBe(CALIBRATOR_REF_FREQ_HZ);
    expect(truth.sources).toHaveLength(1);
    const src = truth.sources[0];
    const alpha = cat.spectralIndex ?? 0;
    expect(src.spectral_index).toBe(alpha);
    expect(src.ref_freq_hz).toBe(1.405e9);
    expect(Math.abs(src.flux_jy / (cat.fluxJy * (1.405e9 / 1.4e9) ** alpha) - 1)).toBeLessThan(1e-12);
    expect(src.offset_mid_deg).toBeLessThan(0.05);

    // The beam contimg groups ranks with (TS) is the simulator's (Rust): the truth's mean beam
    // over the group's integrations and channels, recomputed from the geometry here.
    let sum = 0;
    const freqs: number[] = truth.gains.npy.freq_hz;
    for (const jd of truth.times_jd as number[]) {
      const mjd = jd - 2_400_000.5;
      const app = apparentPlace(cat.raDeg, cat.decDeg, mjd);
      const theta = angularSeparationDeg(app.raDeg, app.decDeg, localApparentSiderealTimeDeg(mjd), truth.pointing.dec_deg) * (Math.PI / 180);
      for (const f of freqs) sum += primaryBeamPower(theta, f);
    }
    const mean = sum / (truth.times_jd.length * freqs.length);
    expect(mean).toBeLessThan(0.9999); // the source moves through the beam: not trivially 1
    expect(Math.abs(mean - src.beam_mean)).toBeLessThan(1e-5);
  });

  it('takes the first transit at or after --start, accepts aliases, and refuses unknown names and bad declinations', async () => {
    const dir = tmpDir();
    const a = await cliJson('simulate', '--output-dir', dir, ...TINY, '--calibrator', '1331+305', '--start', '2025-10-02T20:38:12');
    // Just after the 2025-10-02 transit: the next one is a sidereal day later.
    expect(a.calibrator.name).toBe('3C286');
    expect(a.calibrator.transitMjd - 60950.85985).toBeGreaterThan(0.99);
    expect(a.calibrator.transitMjd - 60950.85985).toBeLessThan(1.0);

    const unknown = await cli('simulate', '--output-dir', dir, ...TINY, '--calibrator', 'NOSUCH');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('SIM_UNKNOWN_CALIBRATOR');
    expect(unknown.stderr).toContain('NOSUCH');

    const cat = path.join(dir, 'south.csv');
    writeFileSync(cat, 'name,ra_deg,dec_deg,flux_jy,spectral_index\nFARSOUTH,10.0,-60.0,5,\n');
    const south = await cli('simulate', '--output-dir', dir, ...TINY, '--calibrator', 'farsouth', '--calibrators', cat);
    expect(south.code).toBe(1);
    expect(south.stderr).toContain('SIM_CALIBRATOR_OUT_OF_RANGE');

    const both = await cli('simulate', '--output-dir', dir, ...TINY, '--calibrator', '3C48', '--dec', '40');
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/mutually exclusive|conflict/i);
  });
});
