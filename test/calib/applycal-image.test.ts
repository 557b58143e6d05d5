/**
 * Calibrated visibilities, imaged, recover the truth: a full-array group simulated with gains
 * and the default noise, calibrated with tables holding the simulator's true gains, imaged by
 * `contimg image` (which picks CORRECTED_DATA), and measured by astropy against the truth file
 * with test/image's limits. The same MS imaged from its raw DATA fails them.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

interface Checked {
  sources: { name: string; inner: boolean; expected_snr: number; offset_beams?: number; flux_ratio?: number }[];
}

let calibrated: string;
let raw: string;
let truth: string;

beforeAll(async () => {
  const dir = tmpDir();
  // Template tables from CASA on a tiny MS of the same band; the oracle rewrites their channels
  // and solutions for the big one.
  await cliJson('simulate', '--output-dir', path.join(dir, 'tiny'), '--antennas', '6', '--channels', '1', '--integrations', '2', '--seed', '1');
  const tiny = (await cliJson('convert', '--input-dir', path.join(dir, 'tiny'), '--output-dir', path.join(dir, 'tiny_ms'))).groups[0].outputMs;
  await oracle('casa_applycal.py', 'tables', tiny, path.join(dir, 'tpl'));

  const s = await cliJson('simulate', '--output-dir', path.join(dir, 'in'), '--channels', '8', '--sources', '5', '--seed', '3');
  truth = s.groups[0].truth;
  raw = (await cliJson('convert', '--input-dir', path.join(dir, 'in'), '--output-dir', path.join(dir, 'ms'))).groups[0].outputMs;
  const t = await oracle<{ bp: string; g: string }>('casa_applycal.py', 'truth-tables', raw, truth, path.join(dir, 'tpl'), path.join(dir, 'truth'));
  const [r] = await cliJson('applycal', raw, '--tables', t.bp, t.g, '--output-dir', path.join(dir, 'cal'));
  calibrated = r.output;
}, 80_000);

describe('a calibrated field group, imaged', () => {
  it('recovers every bright source at its true position with its apparent flux', async () => {
    const out = tmpDir();
    const args = ['--size', '2048', '--cell-arcsec', '6'];
    const [r] = await cliJson('image', calibrated, '--output-dir', out, ...args, '--niter', '200');
    expect(r.summary.column).toBe('CORRECTED_DATA');
    const c = await oracle<Checked>('check_image.py', r.prefix + '.image.fits', truth, '--inner', '0.9');
    const bright = c.sources.filter((s) => s.inner && s.expected_snr > 20);
    expect(bright.length).toBeGreaterThanOrEqual(4);
    for (const s of bright) {
      expect(s.offset_beams!, `${s.name} position`).toBeLessThan(1 / 3);
      expect(Math.abs(s.flux_ratio! - 1), `${s.name} flux ${s.flux_ratio}`).toBeLessThan(0.1);
    }
    // Uncalibrated, the gains scatter the flux: the same check fails on DATA (a dirty image is
    // enough to show it, and cheaper).
    const [d] = await cliJson('image', calibrated, '--output-dir', path.join(out, 'raw'), ...args, '--niter', '0', '--column', 'DATA');
    const u = await oracle<Checked>('check_image.py', d.prefix + '.image.fits', truth, '--inner', '0.9');
    const ok = u.sources.filter((s) => s.inner && s.expected_snr > 20 && (s.offset_beams ?? 9) < 1 / 3 && Math.abs((s.flux_ratio ?? 0) - 1) < 0.1);
    expect(ok.length).toBeLessThan(bright.length);
  }, 85_000);
});
