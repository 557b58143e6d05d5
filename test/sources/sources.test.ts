/**
 * `contimg sources` (stage 8) against a known sky and against its peer, AegeanTools.
 *
 * The synthetic image is written by astropy (test/oracle/make_sky_image.py): point sources
 * and resolved Gaussians restored with a DSA-110-like beam in beam-correlated noise. A second
 * image comes from the whole chain (simulate → convert → image), whose truth is the
 * simulator's. Both catalogues are scored by test/oracle/catalog_vs_truth.py (astropy matching),
 * and Aegean runs on the same images so that the figures can be read side by side.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

interface Score {
  components: number;
  bright: number;
  matched: number;
  completeness: number;
  reliability: number;
  spurious: number;
  flux_ratio_median: number;
  flux_ratio_scatter: number;
  offset_beams_median: number;
  offset_beams_rms: number;
  offset_beams_max: number;
  extended_size_ratio_median: number | null;
  missed: string[];
}

let dir: string;
let synthetic: string;
beforeAll(async () => {
  dir = tmpDir();
  synthetic = path.join(dir, 'sky');
  await oracle('make_sky_image.py', synthetic, '--size', '1024', '--sources', '150', '--extended', '10', '--seed', '4');
});

describe('contimg sources on a known sky', () => {
  it('recovers every source above 10σ with its flux, position and size, as Aegean does', async () => {
    const out = path.join(dir, 'cat');
    const [r] = await cliJson('sources', `${synthetic}.image.fits`, '--output-dir', out);
    expect(r.status).toBe('found');
    expect(r.pb).toBeNull();
    expect(r.catalog.csv).toBe(path.join(out, 'sky.sources.csv'));
    const ours = await oracle<Score>('catalog_vs_truth.py', r.catalog.csv, `${synthetic}.truth.json`, '--snr', '10');
    const peer = await oracle<{ catalog: string; bane_s: number; aegean_s: number }>('aegean_peer.py', `${synthetic}.image.fits`, path.join(dir, 'aegean'));
    const theirs = await oracle<Score>('catalog_vs_truth.py', peer.catalog, `${synthetic}.truth.json`, '--snr', '10', '--columns', 'aegean');
    console.log(
      `synthetic 1024², ${ours.bright} sources above 10σ:\n` +
        `  contimg: completeness ${ours.completeness}, reliability ${ours.reliability.toFixed(3)}, flux ratio ${ours.flux_ratio_median.toFixed(4)} ± ${ours.flux_ratio_scatter.toFixed(4)}, offset rms ${ours.offset_beams_rms.toFixed(3)} beam, ${r.summary.timingsS.find.toFixed(2)} s\n` +
        `  Aegean:  completeness ${theirs.completeness}, reliability ${theirs.reliability.toFixed(3)}, flux ratio ${theirs.flux_ratio_median.toFixed(4)} ± ${theirs.flux_ratio_scatter.toFixed(4)}, offset rms ${theirs.offset_beams_rms.toFixed(3)} beam, BANE ${peer.bane_s.toFixed(1)} s + aegean ${peer.aegean_s.toFixed(1)} s`,
    );
    // The bounds: completeness ≥ 0.95 above 10σ, flux within 5%, positions within 0.1 beam.
    expect(ours.bright).toBeGreaterThan(100);
    expect(ours.completeness, `missed ${ours.missed}`).toBeGreaterThanOrEqual(0.95);
    expect(Math.abs(ours.flux_ratio_median - 1)).toBeLessThan(0.05);
    expect(ours.offset_beams_rms).toBeLessThan(0.1);
    expect(ours.reliability).toBeGreaterThanOrEqual(0.95);
    // Resolved sources bright enough to measure (≥ 30σ): the deconvolved major axis is the truth's.
    expect(Math.abs(ours.extended_size_ratio_median! - 1)).toBeLessThan(0.15);
    // No worse than the peer on the same image.
    expect(ours.completeness).toBeGreaterThanOrEqual(theirs.completeness - 0.02);
    expect(ours.flux_ratio_scatter).toBeLessThan(1.5 * theirs.flux_ratio_scatter + 0.005);
  });

  it('writes the same catalogue as CSV and as a FITS table that astropy reads, with units', async () => {
    const out = path.join(dir, 'cat');
    const csvPath = path.join(out, 'sky.sources.csv');
    const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
    const header = lines[0]!.split(',');
    for (const c of ['ra_deg', 'dec_deg', 'peak_jy', 'int_jy', 'ra_deg_err', 'dec_deg_err', 'peak_jy_err', 'int_jy_err']) expect(header).toContain(c);
    const t = await oracle<{ extname: string; columns: string[]; units: Record<string, string>; rows: ({ ra_deg: number; peak_jy: number } & Record<string, number>)[]; meta: Record<string, unknown> }>('fits_table.py', path.join(out, 'sky.sources.fits'));
    expect(t.extname).toBe('SOURCES');
    expect(t.columns).toEqual(header);
    expect(t.units.ra_deg).toBe('deg');
    expect(t.units.peak_jy).toBe('Jy / beam');
    expect(t.units.int_jy).toBe('Jy');
    expect(t.rows.length).toBe(lines.length - 1);
    const first = Object.fromEntries(header.map((h, i) => [h, Number(lines[1]!.split(',')[i])]));
    expect(t.rows[0]!.ra_deg).toBeCloseTo(first.ra_deg!, 9);
    expect(t.rows[0]!.peak_jy / first.peak_jy! - 1).toBeLessThan(1e-8);
    // Brightest first; errors positive.
    expect(t.rows[0]!.peak_jy).toBeGreaterThanOrEqual(t.rows[1]!.peak_jy);
    for (const row of t.rows) for (const c of ['ra_deg_err', 'dec_deg_err', 'peak_jy_err', 'int_jy_err']) expect(row[c]).toBeGreaterThan(0);
    expect(t.meta.DETECT).toBe(5);
  });

  it('refuses bad images with a clear error and a code, and goes on with the next', async () => {
    const bad = tmpDir();
    await oracle('write_bad_fits.py', bad);
    writeFileSync(path.join(bad, 'text.fits'), 'not a FITS file at all');
    const files = ['text.fits', 'nowcs.fits', 'empty.fits', 'nobeam.fits', 'cube.fits', 'missing.fits'].map((f) => path.join(bad, f));
    const r = await cli('sources', ...files, `${synthetic}.image.fits`, '--output-dir', path.join(bad, 'out'), '--json');
    expect(r.code).toBe(1);
    const results = JSON.parse(r.stdout);
    expect(results.map((x: { code?: string; status: string }) => x.code ?? x.status)).toEqual([
      'FITS_NOT_FITS',
      'FITS_NO_WCS',
      'FITS_EMPTY_IMAGE',
      'SOURCES_NO_BEAM',
      'FITS_UNSUPPORTED',
      'FITS_NOT_FOUND',
      'found',
    ]);
    for (const x of results.slice(0, 6)) expect(x.error).toContain(path.basename(x.image));
    // A beam given on the command line rescues the image that lacks one.
    const [ok] = await cliJson('sources', path.join(bad, 'nobeam.fits'), '--beam', '20', '15', '0', '--output-dir', path.join(bad, 'out'));
    expect(ok.status).toBe('found');
  });

  it('writes into the layout, registers the catalogue and skips it on a rerun', async () => {
    const root = tmpDir();
    const stage = path.join(root, 'stage');
    const image = path.join(root, 'images', '2025-10-02', '2025-10-02T00:00:00_2048px_briggs0.image.fits');
    await oracle('make_sky_image.py', image.replace(/\.image\.fits$/, ''), '--size', '256', '--sources', '9', '--extended', '0');
    const args = ['sources', image, '--stage-base', stage, '--data-base', path.join(root, 'data')];
    const dry = await cliJson(...args, '--dry-run');
    const csv = path.join(stage, 'products', 'catalogs', '2025-10-02', '2025-10-02T00:00:00_2048px_briggs0.sources.csv');
    expect(dry[0].catalog.csv).toBe(csv);
    expect(existsSync(csv)).toBe(false);
    const [r] = await cliJson(...args);
    expect(r.registered).toBe(true);
    expect(existsSync(csv)).toBe(true);
    const db = new Database(path.join(root, 'data', 'state', 'data_registry.sqlite3'), { readonly: true });
    const rows = db.prepare("SELECT name, data_type, status FROM data_registry WHERE data_type = 'catalog' ORDER BY name").all();
    const prov = db.prepare('SELECT input_path FROM data_provenance WHERE input_path IS NOT NULL').all() as { input_path: string }[];
    db.close();
    expect(rows).toEqual([
      { name: '2025-10-02T00:00:00_2048px_briggs0.sources.csv', data_type: 'catalog', status: 'staged' },
      { name: '2025-10-02T00:00:00_2048px_briggs0.sources.fits', data_type: 'catalog', status: 'staged' },
    ]);
    expect(prov.map((p) => p.input_path)).toContain(image);
    const [again] = await cliJson(...args);
    expect(again.status).toBe('skipped');
  });
});

describe('contimg sources on an image from the whole chain', () => {
  it('finds the simulated sources in a contimg image and agrees with Aegean on their fluxes', async () => {
    const d = tmpDir();
    const s = await cliJson('simulate', '--output-dir', path.join(d, 'in'), '--channels', '8', '--no-gains', '--sources', '60', '--seed', '8');
    const truth = s.groups[0].truth;
    const c = await cliJson('convert', '--input-dir', path.join(d, 'in'), '--output-dir', path.join(d, 'ms'));
    const [img] = await cliJson('image', c.groups[0].outputMs, '--output-dir', path.join(d, 'img'), '--size', '1024', '--cell-arcsec', '6', '--pbcor');
    const image = `${img.prefix}.image.fits`;
    // Apparent fluxes (no primary-beam correction), as the truth file gives them.
    const [r] = await cliJson('sources', image, '--output-dir', path.join(d, 'cat'), '--pb', 'none');
    const beam = Math.sqrt(r.summary.beamArcsec[0] * r.summary.beamArcsec[1]);
    const rms = String(r.summary.medianRmsJy);
    const ours = await oracle<Score>('catalog_vs_truth.py', r.catalog.csv, truth, '--snr', '10', '--rms', rms, '--beam-arcsec', String(beam), '--footprint', image);
    const peer = await oracle<{ catalog: string }>('aegean_peer.py', image, path.join(d, 'aegean'));
    const theirs = await oracle<Score>('catalog_vs_truth.py', peer.catalog, truth, '--snr', '10', '--rms', rms, '--beam-arcsec', String(beam), '--footprint', image, '--columns', 'aegean');
    console.log(
      `contimg image 1024² × 6″, ${ours.bright} simulated sources above 10σ:\n` +
        `  contimg: completeness ${ours.completeness}, flux ratio ${ours.flux_ratio_median.toFixed(4)} ± ${ours.flux_ratio_scatter.toFixed(4)}, offset median ${ours.offset_beams_median.toFixed(3)} rms ${ours.offset_beams_rms.toFixed(3)} beam, ${ours.components} components\n` +
        `  Aegean:  completeness ${theirs.completeness}, flux ratio ${theirs.flux_ratio_median.toFixed(4)} ± ${theirs.flux_ratio_scatter.toFixed(4)}, offset median ${theirs.offset_beams_median.toFixed(3)} rms ${theirs.offset_beams_rms.toFixed(3)} beam, ${theirs.components} components`,
    );
    expect(ours.bright).toBeGreaterThanOrEqual(10);
    expect(ours.completeness, `missed ${ours.missed}`).toBeGreaterThanOrEqual(0.95);
    expect(ours.offset_beams_median).toBeLessThan(0.1);
    expect(ours.offset_beams_rms).toBeLessThan(0.1);
    // The image itself loses a few percent of peak flux off-centre (smearing); both finders
    // measure the same image, so they must agree with each other closely.
    expect(Math.abs(ours.flux_ratio_median - theirs.flux_ratio_median)).toBeLessThan(0.02);
    expect(Math.abs(ours.flux_ratio_median - 1)).toBeLessThan(0.1);
  });
});
