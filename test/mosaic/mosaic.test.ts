/**
 * `contimg mosaic` end to end on simulated overlapping fields of a known sky
 * (test/oracle/mosaic_sim.py): fluxes of the truth sources, the effective-noise map against
 * the measured scatter of source-free pixels, and the mosaic against the same formula computed
 * with astropy + reproject (test/oracle/mosaic_reference.py), for cubic (the default) and
 * bilinear interpolation; and on fields whose beam is undersampled (~2 pixels FWHM on the minor
 * axis, as our 25″ × 12.5″ beam on 6″ cells), where only cubic keeps the sources' peaks.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

interface Sim {
  images: string[];
  truth: string;
  cell_arcsec: number;
  sources: number;
}

interface TruthCheck {
  sources: { flux_jy: number; measured_jy: number | null; peak_fit_jy?: number; noise_jy: number | null; snr: number | null; rel_err?: number }[];
  noise_free_pixels: number;
  noise_measured_over_map: number;
  noise_bins: { noise_lo_jy: number; noise_hi_jy: number; pixels: number; measured_over_map: number }[];
}

interface Reference {
  peak_jy: number;
  compared_pixels: number;
  ref_only_pixels: number;
  ours_only_pixels: number;
  max_abs_diff_over_peak: number;
  max_weight_rel_diff: number;
  sigmas_jy: number[];
  order: string;
  interior_pixels: number;
  interior_max_abs_diff_over_peak: number;
  interior_max_weight_rel_diff: number;
}

let sim: Sim;
let out: string;
let result: any;

beforeAll(async () => {
  const dir = tmpDir('contimg-mosaic-');
  sim = await oracle<Sim>('mosaic_sim.py', dir, '--n', '5', '--size', '384', '--dec', '55', '--seed', '3');
  out = path.join(dir, 'out');
  [result] = await cliJson('mosaic', ...sim.images, '--output-dir', out, '--group-id', 'sim');
}, 120_000);

describe('contimg mosaic', () => {
  it('writes the mosaic, weight, noise and PNG on a TAN grid of the finest cell', () => {
    expect(result.status).toBe('mosaicked');
    const o = result.outputs;
    expect(o.mosaic).toBe(path.join(out, 'mosaic_sim_pbweighted.fits'));
    for (const f of [o.mosaic, o.weight, o.noise, o.png]) expect(existsSync(f)).toBe(true);
    expect(readFileSync(o.png).subarray(1, 4).toString()).toBe('PNG');
    const s = result.summary;
    expect(s.cellArcsec).toBeCloseTo(sim.cell_arcsec, 6);
    // Five 384-pixel fields 1.25° of RA apart at dec 55: 4 × 1.25° × cos 55° ≈ 195 pixels wider.
    expect(s.nx).toBeGreaterThan(384 + 180);
    expect(s.nx).toBeLessThan(384 + 230);
    const header = readFileSync(o.mosaic).subarray(0, 2880 * 3).toString('latin1');
    expect(header).toMatch(/CTYPE1  = 'RA---TAN'/);
    expect(header).toMatch(/MOSMETH = 'pbweighted'/);
  });

  it('recovers every truth source above 10σ to within 3%', async () => {
    const t = await oracle<TruthCheck>('mosaic_truth.py', result.outputs.mosaic, result.outputs.noise, sim.truth);
    const bright = t.sources.filter((s) => s.snr !== null && s.snr > 10);
    const errors = bright.map((s) => Math.abs(s.rel_err!));
    console.log(`flux errors of ${bright.length} sources above 10σ: max ${(Math.max(...errors) * 100).toFixed(2)}%, median ${(errors.sort((a, b) => a - b)[errors.length >> 1]! * 100).toFixed(2)}%`);
    // The generator puts ~1 in 8 sources below 10σ: the selection must select.
    expect(bright.length).toBeGreaterThanOrEqual(15);
    expect(bright.length).toBeLessThan(t.sources.length);
    for (const s of bright) expect(Math.abs(s.rel_err!), JSON.stringify(s)).toBeLessThan(0.03);
  }, 120_000);

  it('has a noise map that matches the scatter of source-free pixels to 10%', async () => {
    const t = await oracle<TruthCheck>('mosaic_truth.py', result.outputs.mosaic, result.outputs.noise, sim.truth);
    console.log(`measured/map noise: all ${t.noise_measured_over_map.toFixed(3)}, by noise tercile ${t.noise_bins.map((b) => b.measured_over_map.toFixed(3)).join(' ')}`);
    expect(t.noise_free_pixels).toBeGreaterThan(50_000);
    // Terciles of the noise map: the deep overlaps, the middle and the outer edges.
    expect(t.noise_bins[2]!.noise_lo_jy / t.noise_bins[0]!.noise_hi_jy).toBeGreaterThan(1.5);
    for (const b of t.noise_bins) expect(Math.abs(b.measured_over_map - 1), JSON.stringify(b)).toBeLessThan(0.1);
  }, 120_000);

  it('agrees with astropy + reproject_interp (bicubic) to 1e-3 of the peak', async () => {
    expect(result.summary.interpolation).toBe('cubic');
    const o = result.outputs;
    const r = await oracle<Reference>('mosaic_reference.py', o.mosaic, o.weight, '0.1', ...sim.images, '--order', 'bicubic');
    console.log(
      `cubic: max |ours − reproject bicubic| / peak = ${r.interior_max_abs_diff_over_peak.toExponential(2)} over ${r.interior_pixels} interior pixels, ` +
        `${r.max_abs_diff_over_peak.toExponential(2)} over all ${r.compared_pixels}; weight ${r.interior_max_weight_rel_diff.toExponential(2)}`,
    );
    expect(r.order).toBe('bicubic');
    expect(r.compared_pixels).toBeGreaterThan(100_000);
    expect(r.interior_pixels).toBeGreaterThan(0.8 * r.compared_pixels);
    expect(r.ref_only_pixels + r.ours_only_pixels).toBeLessThan(r.compared_pixels * 1e-3);
    expect(r.interior_max_abs_diff_over_peak).toBeLessThan(1e-3);
    expect(r.interior_max_weight_rel_diff).toBeLessThan(1e-3);
    // No blanks in these inputs, and the edges are clipped as reproject does: all pixels agree.
    expect(r.max_abs_diff_over_peak).toBeLessThan(1e-3);
    result.summary.inputs.forEach((inp: { sigmaJy: number }, i: number) => expect(inp.sigmaJy / r.sigmas_jy[i]! - 1).toBeCloseTo(0, 4));
  }, 120_000);

  it('with --interpolation bilinear agrees with astropy + reproject_interp (bilinear) to 1e-3 of the peak', async () => {
    const [lin] = await cliJson('mosaic', ...sim.images, '--output-dir', path.join(out, '..', 'bilinear'), '--group-id', 'sim', '--interpolation', 'bilinear');
    expect(lin.summary.interpolation).toBe('bilinear');
    const o = lin.outputs;
    expect(readFileSync(o.mosaic).subarray(0, 2880 * 3).toString('latin1')).toMatch(/MOSINTRP= 'bilinear'/);
    const r = await oracle<Reference>('mosaic_reference.py', o.mosaic, o.weight, '0.1', ...sim.images, '--order', 'bilinear');
    console.log(`bilinear: max |ours − reproject| / peak = ${r.max_abs_diff_over_peak.toExponential(2)} over ${r.compared_pixels} pixels; weight ${r.max_weight_rel_diff.toExponential(2)}`);
    expect(r.compared_pixels).toBeGreaterThan(100_000);
    // Blanking where no beam reaches the cutoff: the same pixels, but for rounding at the edge.
    expect(r.ref_only_pixels + r.ours_only_pixels).toBeLessThan(r.compared_pixels * 1e-3);
    expect(r.max_abs_diff_over_peak).toBeLessThan(1e-3);
    expect(r.max_weight_rel_diff).toBeLessThan(1e-3);
    // The same MAD noise per image.
    lin.summary.inputs.forEach((inp: { sigmaJy: number }, i: number) => expect(inp.sigmaJy / r.sigmas_jy[i]! - 1).toBeCloseTo(0, 4));
    // Cubic and bilinear differ (by the sources' curvature), so the two comparisons test something.
    const other = await oracle<Reference>('mosaic_reference.py', o.mosaic, o.weight, '0.1', ...sim.images, '--order', 'bicubic');
    expect(other.max_abs_diff_over_peak).toBeGreaterThan(3e-3);
  }, 120_000);

  it('skips an existing mosaic, replaces it with --overwrite, and says what it would write with --dry-run', async () => {
    const args = ['mosaic', ...sim.images, '--output-dir', out, '--group-id', 'sim'];
    expect((await cliJson(...args))[0].status).toBe('skipped');
    const dry = tmpDir();
    const [plan] = await cliJson('mosaic', ...sim.images, '--output-dir', dry, '--group-id', 'sim', '--dry-run');
    expect(plan.status).toBe('planned');
    expect(plan.outputs.noise).toBe(path.join(dry, 'mosaic_sim_pbweighted.noise.fits'));
    expect(existsSync(plan.outputs.mosaic)).toBe(false);
    expect((await cliJson(...args, '--overwrite'))[0].status).toBe('mosaicked');
  }, 120_000);

  it('writes the pipeline layout and registers the mosaic', async () => {
    const base = tmpDir();
    const [r] = await cliJson('mosaic', ...sim.images.slice(0, 2), '--group-id', '2025-03-04T05:06:07', '--stage-base', path.join(base, 'stage'), '--data-base', path.join(base, 'data'));
    const expected = path.join(base, 'stage', 'mosaics', '2025-03-04', 'mosaic_2025-03-04T05:06:07_pbweighted.fits');
    expect(r.outputs.mosaic).toBe(expected);
    expect(r.registered).toBe(true);
    const db = new Database(path.join(base, 'data', 'state', 'data_registry.sqlite3'), { readonly: true });
    const rows = db.prepare("SELECT data_type, path, status FROM data_registry WHERE data_type = 'mosaic'").all();
    const inputs = db.prepare('SELECT input_path FROM data_provenance ORDER BY input_path').all();
    db.close();
    expect(rows).toEqual([{ data_type: 'mosaic', path: expected, status: 'staged' }]);
    expect(inputs).toEqual(sim.images.slice(0, 2).map((p) => ({ input_path: p })));
  }, 120_000);

  it('names the file and the problem on bad input', async () => {
    const dir = tmpDir();
    const code = async (...images: string[]) => {
      const r = await cli('mosaic', ...images, '--output-dir', dir, '--group-id', 'bad', '--json');
      expect(r.code).toBe(1);
      return JSON.parse(r.stdout)[0].code as string;
    };
    // No beam beside the image.
    const lonely = path.join(dir, 'lonely.image.fits');
    copyFileSync(sim.images[0]!, lonely);
    expect(await code(lonely)).toBe('MOSAIC_MISSING_PB');
    // Not FITS.
    const junk = path.join(dir, 'junk.image.fits');
    writeFileSync(junk, 'not a FITS file at all');
    copyFileSync(sim.images[0]!.replace('.image.fits', '.pb.fits'), path.join(dir, 'junk.pb.fits'));
    expect(await code(junk)).toBe('FITS_NOT_FITS');
    // All zeros: nothing to mosaic.
    const bytes = readFileSync(sim.images[0]!);
    const dataStart = Math.ceil((bytes.toString('latin1').search(/END {77}/) + 80) / 2880) * 2880;
    bytes.fill(0, dataStart);
    const empty = path.join(dir, 'empty.image.fits');
    writeFileSync(empty, bytes);
    copyFileSync(sim.images[0]!.replace('.image.fits', '.pb.fits'), path.join(dir, 'empty.pb.fits'));
    expect(await code(empty)).toBe('FITS_EMPTY_IMAGE');
    // A field 40° of RA away overlaps none of the others.
    const far = await oracle<Sim>('mosaic_sim.py', path.join(dir, 'far'), '--n', '1', '--size', '64', '--ra', '190', '--sources', '2');
    expect(await code(sim.images[0]!, far.images[0]!)).toBe('MOSAIC_NO_OVERLAP');
    // A beam on another grid.
    const other = await oracle<Sim>('mosaic_sim.py', path.join(dir, 'other'), '--n', '1', '--size', '64', '--sources', '2');
    const mixed = path.join(dir, 'mixed.image.fits');
    copyFileSync(sim.images[0]!, mixed);
    copyFileSync(other.images[0]!.replace('.image.fits', '.pb.fits'), path.join(dir, 'mixed.pb.fits'));
    expect(await code(mixed)).toBe('MOSAIC_PB_MISMATCH');
  }, 120_000);
});

describe('contimg mosaic of undersampled images (beam 4.17 × 2.08 pixels FWHM)', () => {
  // Our 25″ × 12.5″ beam on 6″ cells: ~2 pixels across the minor axis. Between input pixels,
  // bilinear interpolation flattens a source's peak; the cubic spline keeps it.
  let under: Sim;
  const peaks: Record<string, { flux: number; peak: number; snr: number }[]> = {};

  beforeAll(async () => {
    const dir = tmpDir('contimg-mosaic-under-');
    under = await oracle<Sim>('mosaic_sim.py', dir, '--n', '4', '--size', '384', '--dec', '55', '--seed', '5', '--sources', '32', '--beam-px', '4.17', '2.08');
    for (const interp of ['cubic', 'bilinear']) {
      const [r] = await cliJson('mosaic', ...under.images, '--output-dir', path.join(dir, interp), '--group-id', 'under', '--interpolation', interp);
      expect(r.summary.interpolation).toBe(interp);
      const t = await oracle<TruthCheck>('mosaic_truth.py', r.outputs.mosaic, r.outputs.noise, under.truth, '--beam-from', under.images[0]!);
      peaks[interp] = t.sources.filter((s) => s.snr !== null && s.snr > 10 && s.peak_fit_jy !== undefined).map((s) => ({ flux: s.flux_jy, peak: s.peak_fit_jy!, snr: s.snr! }));
    }
  }, 240_000);

  const errors = (interp: string) => peaks[interp]!.map((s) => s.peak / s.flux - 1);
  const report = (interp: string) => {
    const e = errors(interp);
    const abs = e.map(Math.abs).sort((a, b) => a - b);
    console.log(`${interp}: peak errors of ${e.length} sources above 10σ: worst ${(Math.max(...abs) * 100).toFixed(2)}%, median ${(abs[abs.length >> 1]! * 100).toFixed(2)}%, mean ${((e.reduce((a, b) => a + b, 0) / e.length) * 100).toFixed(2)}%`);
    return abs;
  };

  it('cubic recovers the peak of every source above 10σ to within 3%', () => {
    const abs = report('cubic');
    expect(abs.length).toBeGreaterThanOrEqual(15);
    for (const [i, s] of peaks.cubic!.entries()) expect(Math.abs(s.peak / s.flux - 1), `${i}: ${JSON.stringify(s)}`).toBeLessThan(0.03);
  });

  it('bilinear does not: it loses several per cent of the peak, up to ~15%', () => {
    const abs = report('bilinear');
    expect(abs.length).toBe(peaks.cubic!.length);
    expect(Math.max(...abs)).toBeGreaterThan(0.05);
    // Low, never high: interpolation between pixels only flattens.
    expect(errors('bilinear').filter((e) => e < -0.03).length).toBeGreaterThan(abs.length / 4);
  });
});

