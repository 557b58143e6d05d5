/**
 * Stages 4–5 as the pipeline runs them, on data nobody calibrated by hand: a transit of 3C286
 * and a field group five minutes later at the same declination, simulated with the same seed
 * (so the same instrument: the gains depend on the seed, the antenna and absolute time only)
 * and with RFI. `contimg flag` flags both MSs; `contimg calibrate` solves on the calibrator's
 * with its catalogue model; `contimg applycal` applies the three tables to the field's;
 * `contimg image` images it; astropy measures the image against the field's truth with
 * test/image's limits. The raw DATA of the same MS fails them, so the check can fail.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, defined, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

interface Checked {
  sources: { name: string; inner: boolean; expected_snr: number; offset_beams?: number; flux_ratio?: number }[];
}

const SIZE = ['--channels', '8', '--integrations', '24'] as const;
const SEED = '21';

let calibrated: string;
let fieldTruth: string;
let tables: Record<string, string>;

beforeAll(async () => {
  const dir = tmpDir();
  const cal = (await cliJson('simulate', '--output-dir', path.join(dir, 'cal'), ...SIZE, '--calibrator', '3C286', '--rfi', '--seed', SEED)).groups[0];
  const calTruth = JSON.parse(readFileSync(cal.truth, 'utf8'));
  // The field group starts where the calibrator's ends, at the declination the calibrator
  // transit chose.
  const t = calTruth.times_jd as number[];
  const endJd = defined(t.at(-1), 'the last time') + (defined(t[1], 'a second time') - defined(t[0], 'a first time')) / 2;
  const start = new Date((endJd - 2440587.5) * 86400e3).toISOString().replace('Z', '');
  const dec = String(calTruth.pointing.dec_deg);
  const field = (await cliJson('simulate', '--output-dir', path.join(dir, 'field'), ...SIZE, '--start', start, '--dec', dec, '--sources', '5', '--rfi', '--seed', SEED)).groups[0];
  fieldTruth = field.truth;

  const convert = async (d: string) => (await cliJson('convert', '--input-dir', path.join(dir, d), '--output-dir', path.join(dir, `${d}_ms`))).groups[0].outputMs as string;
  const [calMs, fieldMs] = [await convert('cal'), await convert('field')];
  for (const f of await cliJson('flag', calMs, fieldMs)) expect(f.status, JSON.stringify(f)).toBe('flagged');
  const [solved] = await cliJson('calibrate', calMs, '--output-dir', path.join(dir, 'tables'));
  expect(solved.status).toBe('calibrated');
  tables = solved.tables;
  const [applied] = await cliJson('applycal', fieldMs, '--tables', tables.bandpass!, tables.gain!, tables.gain2!, '--output-dir', path.join(dir, 'calibrated'));
  calibrated = applied.output;
}, 150_000);

describe('calibrator solutions applied to the next field group', () => {
  it('recover every bright field source at its true position with its apparent flux; raw DATA does not', async () => {
    const out = tmpDir();
    const args = ['--size', '2048', '--cell-arcsec', '6'];
    const [r] = await cliJson('image', calibrated, '--output-dir', out, ...args, '--niter', '200');
    expect(r.summary.column).toBe('CORRECTED_DATA');
    const c = await oracle<Checked>('check_image.py', r.prefix + '.image.fits', fieldTruth, '--inner', '0.9');
    const bright = c.sources.filter((s) => s.inner && s.expected_snr > 20);
    console.log(bright.map((s) => `${s.name}: offset ${s.offset_beams!.toFixed(3)} beam, flux ratio ${s.flux_ratio!.toFixed(3)}`).join('\n'));
    expect(bright.length).toBeGreaterThanOrEqual(3);
    for (const s of bright) {
      expect(s.offset_beams!, `${s.name} position`).toBeLessThan(1 / 3);
      expect(Math.abs(s.flux_ratio! - 1), `${s.name} flux ${s.flux_ratio}`).toBeLessThan(0.1);
    }
    const [d] = await cliJson('image', calibrated, '--output-dir', path.join(out, 'raw'), ...args, '--niter', '0', '--column', 'DATA');
    const u = await oracle<Checked>('check_image.py', d.prefix + '.image.fits', fieldTruth, '--inner', '0.9');
    const ok = u.sources.filter((s) => s.inner && s.expected_snr > 20 && (s.offset_beams ?? 9) < 1 / 3 && Math.abs((s.flux_ratio ?? 0) - 1) < 0.1);
    expect(ok.length).toBeLessThan(bright.length);
  }, 120_000);
});
