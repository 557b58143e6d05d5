/**
 * `contimg image` end to end, against the simulator's truth: simulate a group with known point
 * sources (no gains: calibration is a later stage), convert it, image it, and measure every
 * source in the image with astropy (test/oracle/check_image.py reads the FITS and its WCS).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

interface Checked {
  header: Record<string, string | number>;
  wcs_naxis: number;
  rms_jy: number;
  beam_deg: number;
  sources: {
    name: string;
    apparent_flux_jy: number;
    inner: boolean;
    expected_snr: number;
    offset_beams?: number;
    flux_ratio?: number;
  }[];
}

let ms: string;
let truth: string;
beforeAll(async () => {
  const dir = tmpDir();
  // The full array and band layout, 8 channels per subband: 5 sources well above the noise.
  const s = await cliJson('simulate', '--output-dir', path.join(dir, 'in'), '--channels', '8', '--no-gains', '--sources', '5', '--seed', '3');
  truth = s.groups[0].truth;
  const c = await cliJson('convert', '--input-dir', path.join(dir, 'in'), '--output-dir', path.join(dir, 'ms'));
  ms = c.groups[0].outputMs;
});

describe('contimg image', () => {
  it('finds every bright source at its true position with its apparent flux', async () => {
    const out = tmpDir();
    const [r] = await cliJson('image', ms, '--output-dir', out, '--size', '2048', '--cell-arcsec', '6', '--pbcor');
    expect(r.status).toBe('imaged');
    const prefix = path.join(out, path.basename(ms, '.ms'));
    for (const s of ['.image.fits', '.residual.fits', '.model.fits', '.psf.fits', '.image.png', '.pb.fits', '.image.pbcor.fits']) {
      expect(existsSync(prefix + s), s).toBe(true);
    }
    expect(readdirSync(out).filter((f) => f.includes('partial'))).toEqual([]);
    expect(readFileSync(prefix + '.image.png').subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

    const c = await oracle<Checked>('check_image.py', prefix + '.image.fits', truth, '--inner', '0.9');
    expect(c.header.CTYPE1).toBe('RA---SIN');
    expect(c.header.CTYPE2).toBe('DEC--SIN');
    expect(c.header.CTYPE3).toBe('FREQ');
    expect(c.header.CTYPE4).toBe('STOKES');
    expect(c.header.BUNIT).toBe('Jy/beam');
    expect(c.header.RADESYS).toBe('ICRS');
    expect(c.wcs_naxis).toBe(2);
    // The synthesized beam of the 2.6 km array at 1.4 GHz: ~15–35″.
    expect(c.beam_deg * 3600).toBeGreaterThan(10);
    expect(c.beam_deg * 3600).toBeLessThan(40);
    const bright = c.sources.filter((s) => s.inner && s.expected_snr > 20);
    expect(bright.length).toBeGreaterThanOrEqual(4);
    for (const s of bright) {
      expect(s.offset_beams!, `${s.name} position`).toBeLessThan(1 / 3);
      expect(Math.abs(s.flux_ratio! - 1), `${s.name} flux ${s.flux_ratio}`).toBeLessThan(0.1);
    }
    // The summary agrees with the FITS header; CLEAN brought the peak residual down.
    expect(r.summary.rmsJy).toBeCloseTo(Number(c.header.RMS), 6);
    const cycles = r.summary.majorCycles;
    expect(cycles.length).toBeGreaterThan(1);
    expect(cycles.at(-1).peakAfterJy).toBeLessThan(cycles[0].peakBeforeJy / 20);
  });

  it('the PSF peaks at 1 at the centre and the model holds the cleaned flux', async () => {
    const out = tmpDir();
    const [r] = await cliJson('image', ms, '--output-dir', out, '--size', '512', '--niter', '50', '--weighting', 'natural');
    const stats = await oracle<{ psf_centre: number; psf_max: number; model_sum: number; residual_bunit: string; model_bunit: string; history: string[] }>(
      'fits_stats.py',
      r.prefix,
    );
    expect(stats.psf_centre).toBeCloseTo(1, 5);
    expect(stats.psf_max).toBeCloseTo(1, 5);
    expect(stats.model_sum).toBeCloseTo(r.summary.modelFluxJy, 4);
    expect(stats.residual_bunit).toBe('Jy/beam');
    expect(stats.model_bunit).toBe('Jy/pixel');
    expect(stats.history.join(' ')).toMatch(/contimg .*image/);
    expect(r.summary.components).toBe(50);
    expect(r.summary.stop).toBe('niter');
  });

  it('images 16 spectral windows (--spw-per-subband) as it images one', async () => {
    const dir = tmpDir();
    const c = await cliJson('convert', '--input-dir', path.dirname(truth), '--output-dir', path.join(dir, 'ms'), '--spw-per-subband');
    const args = ['--size', '256', '--niter', '0', '--weighting', 'uniform'];
    const [one] = await cliJson('image', ms, '--output-dir', path.join(dir, 'one'), ...args);
    const [many] = await cliJson('image', c.groups[0].outputMs, '--output-dir', path.join(dir, 'many'), ...args);
    expect(many.summary.visibilities).toBe(one.summary.visibilities);
    const s = await oracle<{ image_max_rel_diff: number }>('fits_stats.py', one.prefix, many.prefix);
    // Same samples, gridded per window and summed: equal to the gridding accuracy.
    expect(s.image_max_rel_diff).toBeLessThan(1e-3);
  });

  it('skips an imaged MS, and --overwrite replaces it', async () => {
    const out = tmpDir();
    const args = [ms, '--output-dir', out, '--size', '256', '--niter', '0'];
    expect((await cliJson('image', ...args))[0].status).toBe('imaged');
    const again = await cliJson('image', ...args);
    expect(again[0].status).toBe('skipped');
    expect(again[0].reason).toMatch(/exists/);
    expect((await cliJson('image', ...args, '--overwrite'))[0].status).toBe('imaged');
  });

  it('writes the pipeline layout and registers the image', async () => {
    const base = tmpDir();
    const [r] = await cliJson('image', ms, '--layout', '--stage-base', path.join(base, 'stage'), '--data-base', path.join(base, 'data'), '--size', '256', '--niter', '10');
    const ts = path.basename(ms, '.ms');
    const expected = path.join(base, 'stage', 'images', ts.slice(0, 10), `${ts}_256px_briggs0`);
    expect(r.prefix).toBe(expected);
    expect(existsSync(expected + '.image.fits')).toBe(true);
    expect(r.registered).toBe(true);
    const db = new Database(path.join(base, 'data', 'state', 'data_registry.sqlite3'), { readonly: true });
    const rows = db.prepare("SELECT data_type, path, status FROM data_registry WHERE data_type = 'image'").all();
    db.close();
    expect(rows).toEqual([{ data_type: 'image', path: expected + '.image.fits', status: 'staged' }]);
  });

  it('names the file and the problem on bad input', async () => {
    const out = tmpDir();
    const missing = await cli('image', path.join(out, 'nope.ms'), '--output-dir', out, '--json');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)[0]).toMatchObject({ status: 'failed', code: 'IMAGE_MS_NOT_FOUND' });
    const notMs = await cli('image', out, '--output-dir', out, '--json');
    expect(notMs.code).toBe(1);
    expect(JSON.parse(notMs.stdout)[0].code).toMatch(/^MS_/);
    expect(JSON.parse(notMs.stdout)[0].error).toContain(out);
    const col = await cli('image', ms, '--output-dir', out, '--column', 'CORRECTED_DATA', '--size', '64', '--json');
    expect(col.code).toBe(1);
    const e = JSON.parse(col.stdout)[0];
    expect(e.code).toBe('IMAGE_MISSING_COLUMN');
    expect(e.error).toContain(ms);
    const size = await cli('image', ms, '--output-dir', out, '--size', '100001');
    expect(size.code).toBe(2);
    expect(readdirSync(out)).toEqual([]);
  });
});
