/**
 * `contimg crossmatch` (stage 8 QA): our catalogue of an astropy-written sky against its truth,
 * the same truth in survey formats (NVSS-like FITS, FIRST-like CSV, RACS-like VOTable, all written
 * by astropy), hand-made split sources and blends, a failing reference, bad inputs, and the layout.
 * The match set is compared with astropy's match_to_catalog_sky (test/oracle/crossmatch_refs.py).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

let dir: string;
let sky: string;
let catalog: string;
let refs: { fits: string; csv: string; votable: string; scaled: string };

beforeAll(async () => {
  dir = tmpDir();
  sky = path.join(dir, 'sky');
  await oracle('make_sky_image.py', sky, '--size', '512', '--sources', '64', '--extended', '6', '--seed', '4');
  const [s] = await cliJson('sources', `${sky}.image.fits`, '--output-dir', path.join(dir, 'cat'));
  catalog = s.catalog.csv;
  refs = await oracle('crossmatch_refs.py', 'write', `${sky}.truth.json`, path.join(dir, 'refs'));
});

/** Parses the matched CSV (no quoted fields in these tests' columns of interest). */
function matchedRows(file: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const names = head!.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [names[i], v])));
}

describe('contimg crossmatch against the simulated truth', () => {
  it('finds every bright source with its flux and position, and the same pairs as astropy', async () => {
    const out = path.join(dir, 'truth');
    const [r] = await cliJson('crossmatch', catalog, '--ref', `${sky}.truth.json`, '--output-dir', out);
    expect(r.status).toBe('matched');
    const q = r.qa;
    console.log(
      `truth: ${q.counts.matches} matches (${q.counts.many_to_one} split), completeness ${q.completeness.value} (${q.completeness.matched}/${q.completeness.total}), ` +
        `reliability ${q.reliability.value}, flux ratio ${q.flux_ratio.median.toFixed(4)} ± ${q.flux_ratio.robust_scatter.toFixed(4)}, ` +
        `offset rms ${q.astrometry.rms_arcsec.toFixed(3)}″, DR ${q.dynamic_range.value.toFixed(0)}`,
    );
    expect(q.reference.format).toBe('truth');
    expect(q.reference.columns.flux).toBe('apparent_flux_jy');
    expect(q.completeness.total).toBeGreaterThan(30);
    expect(q.completeness.value).toBeGreaterThanOrEqual(0.95);
    expect(q.reliability.value).toBeGreaterThanOrEqual(0.95);
    expect(Math.abs(q.flux_ratio.median - 1)).toBeLessThan(0.02);
    expect(q.astrometry.rms_arcsec).toBeLessThanOrEqual(1);
    expect(q.dynamic_range.value).toBeGreaterThanOrEqual(50);
    expect(q.passed).toBe(true);
    expect(q.failed_checks).toEqual([]);
    expect(JSON.parse(readFileSync(r.paths.qa, 'utf8'))).toEqual(q);

    // Every (truth, our component) pair the groups hold is a nearest-neighbour pair in astropy's
    // matching, one way or the other, and the other way round.
    const ours = matchedRows(r.paths.matches).flatMap((m) => m.ref_names!.split(';').flatMap((n) => m.our_ids!.split(';').map((id) => [n, id])));
    const theirs = await oracle<[string, string][]>('crossmatch_refs.py', 'pairs', catalog, `${sky}.truth.json`, '10');
    expect(ours.sort()).toEqual(theirs.sort());
  });

  it('uses the image for the footprint and the dynamic range when given', async () => {
    const [r] = await cliJson('crossmatch', catalog, '--ref', `${sky}.truth.json`, '--image', `${sky}.image.fits`, '--output-dir', path.join(dir, 'img'));
    expect(r.qa.footprint.from).toBe('image');
    expect(r.qa.dynamic_range.from).toBe('image');
    // The noise is 1 mJy/beam by construction; the brightest source peaks near 500σ at most.
    expect(r.qa.dynamic_range.rms_jy).toBeGreaterThan(0.0008);
    expect(r.qa.dynamic_range.rms_jy).toBeLessThan(0.0013);
    expect(r.qa.dynamic_range.value).toBeGreaterThanOrEqual(50);
    expect(r.qa.counts.reference_in_footprint).toBe(64);
  });
});

describe('contimg crossmatch against survey formats', () => {
  it('reads NVSS-like FITS, FIRST-like CSV and RACS-like VOTable into the same metrics as the truth', async () => {
    const [t] = await cliJson('crossmatch', catalog, '--ref', `${sky}.truth.json`, '--output-dir', path.join(dir, 'fmt-truth'));
    for (const [format, file, ra, flux, from] of [
      ['fits', refs.fits, 'RAJ2000', 'S1.4', 'column'],
      ['csv', refs.csv, 'RA', 'Fint', 'name'],
      ['votable', refs.votable, 'ra', 'total_flux_source', 'column'],
    ] as const) {
      const [r] = await cliJson('crossmatch', catalog, '--ref', file, '--output-dir', path.join(dir, `fmt-${format}`));
      const q = r.qa;
      expect(q.reference.format).toBe(format);
      expect([q.reference.columns.ra, q.reference.columns.flux, q.reference.columns.flux_unit_from]).toEqual([ra, flux, from]);
      expect(q.reference.sources).toBe(64);
      expect(q.counts).toEqual(t.qa.counts);
      expect(q.completeness).toEqual(t.qa.completeness);
      expect(q.reliability).toEqual(t.qa.reliability);
      expect(q.flux_ratio.n).toBe(t.qa.flux_ratio.n);
      expect(q.flux_ratio.median).toBeCloseTo(t.qa.flux_ratio.median, 8);
      // Sexagesimal text to 1e-5 s of RA and 1e-4″ of Dec: the offsets agree to a milliarcsecond.
      expect(q.astrometry.rms_arcsec).toBeCloseTo(t.qa.astrometry.rms_arcsec, 3);
      expect(q.passed).toBe(true);
    }
  });
});

describe('contimg crossmatch groups', () => {
  it('sums the components of a split source into one match and flags a blend', async () => {
    const d = tmpDir();
    const head = 'id,ra_deg,dec_deg,int_jy,peak_jy,local_rms_jy,pb';
    const a = 4 / 3600;
    // Source A split into two components 4″ either side; one component between B and C (8″ apart);
    // a lone component matching nothing.
    writeFileSync(
      path.join(d, 'hand.sources.csv'),
      [head, `1,${150 - a},30,0.06,0.05,0.001,1`, `2,${150 + a},30,0.04,0.03,0.001,1`, `3,151,30,0.3,0.3,0.001,1`, `4,152,30,0.05,0.05,0.001,1`].join('\n') + '\n',
    );
    writeFileSync(path.join(d, 'ref.csv'), ['name,ra,dec,flux_jy', 'A,150,30,0.1', `B,${151 - a},30,0.1`, `C,${151 + a},30,0.2`].join('\n') + '\n');
    const [r] = await cliJson('crossmatch', path.join(d, 'hand.sources.csv'), '--ref', path.join(d, 'ref.csv'), '--output-dir', d);
    expect(r.qa.counts).toMatchObject({ matches: 2, one_to_one: 0, many_to_one: 1, blends: 1, ours_matched: 3, reference_matched: 3 });
    const rows = matchedRows(r.paths.matches);
    expect(rows.map((m) => [m.kind, m.ref_names, m.our_ids])).toEqual([
      ['many-to-one', 'A', '1;2'],
      ['blend', 'B;C', '3'],
    ]);
    expect(Number(rows[0]!.our_int_jy)).toBeCloseTo(0.1, 12);
    expect(Number(rows[0]!.flux_ratio)).toBeCloseTo(1, 12);
    // The flux-weighted centroid of 0.06 at −4″ and 0.04 at +4″ is 0.8″ west of A.
    expect(Number(rows[0]!.dra_arcsec)).toBeCloseTo(-0.8 * Math.cos((30 * Math.PI) / 180), 3);
    expect(Number(rows[1]!.ref_flux_jy)).toBeCloseTo(0.3, 12);
    // A blend is kept out of the statistics: one match counted.
    expect(r.qa.flux_ratio.n).toBe(1);
    expect(rows[0]!['our.id']).toBe('1');
    expect(rows[1]!['ref.name']).toBe('B');
  });
});

describe('contimg crossmatch QA and errors', () => {
  it('reports a reference 1.5 times too bright as a failed flux check, exiting 0 unless --fail-on-qa', async () => {
    const args = ['crossmatch', catalog, '--ref', refs.scaled, '--output-dir', path.join(dir, 'scaled')];
    const text = await cli(...args);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('QA FAILED (flux_ratio)');
    expect(text.stdout).toMatch(/flux_ratio 0\.6\d+ \(needs \|x - 1\| <= 0\.2\) FAILED/);
    const [r] = JSON.parse((await cli(...args, '--overwrite', '--json')).stdout);
    expect(r.qa.passed).toBe(false);
    expect(r.qa.failed_checks).toEqual(['flux_ratio']);
    expect(r.qa.flux_ratio.median).toBeCloseTo(1 / 1.5, 1);
    expect((await cli(...args, '--overwrite', '--fail-on-qa')).code).toBe(1);
    // A looser threshold passes the same figures.
    const [loose] = await cliJson(...args, '--overwrite', '--max-flux-error', '0.4');
    expect(loose.qa.passed).toBe(true);
  });

  it('refuses unreadable references with a code that names the file', async () => {
    const d = tmpDir();
    writeFileSync(path.join(d, 'garbage.dat'), '\x00\x01\x02 not a catalogue');
    writeFileSync(path.join(d, 'nora.csv'), 'name,x,DEC,flux_jy\nA,1,2,3\n');
    writeFileSync(path.join(d, 'bad.fits'), 'SIMPLE  = not really');
    const codes: [string, string][] = [];
    for (const ref of ['garbage.dat', 'nora.csv', 'bad.fits', 'missing.vot']) {
      const r = await cli('crossmatch', catalog, '--ref', path.join(d, ref), '--output-dir', d, '--json');
      expect(r.code).toBe(1);
      const [x] = JSON.parse(r.stdout);
      expect(x.error).toContain(ref);
      codes.push([ref, x.code]);
    }
    expect(codes).toEqual([
      ['garbage.dat', 'CROSSMATCH_UNKNOWN_FORMAT'],
      ['nora.csv', 'CROSSMATCH_NO_COLUMNS'],
      ['bad.fits', 'FITS_NOT_FITS'],
      ['missing.vot', 'CROSSMATCH_NOT_FOUND'],
    ]);
    const named = await cli('crossmatch', catalog, '--ref', path.join(d, 'nora.csv'), '--ref-ra', 'x', '--output-dir', d, '--json');
    expect(JSON.parse(named.stdout)[0].status).toBe('matched');
  });
});

describe('contimg crossmatch in the layout', () => {
  it('writes to products/catalogs and products/metadata, registers both and skips a rerun', async () => {
    const root = tmpDir();
    const stage = path.join(root, 'stage');
    const data = path.join(root, 'data');
    const image = path.join(root, 'images', '2025-10-02', '2025-10-02T00:00:00_2048px_briggs0.image.fits');
    await oracle('make_sky_image.py', image.replace(/\.image\.fits$/, ''), '--size', '256', '--sources', '9', '--extended', '0');
    const [s] = await cliJson('sources', image, '--stage-base', stage, '--data-base', data);
    const truth = image.replace(/\.image\.fits$/, '.truth.json');
    const args = ['crossmatch', s.catalog.csv, '--ref', truth, '--stage-base', stage, '--data-base', data];
    const stem = '2025-10-02T00:00:00_2048px_briggs0.xmatch_2025-10-02T00:00:00_2048px_briggs0.truth';
    const [dry] = await cliJson(...args, '--dry-run');
    expect(dry.paths).toEqual({
      matches: path.join(stage, 'products', 'catalogs', '2025-10-02', `${stem}.csv`),
      qa: path.join(stage, 'products', 'metadata', '2025-10-02', `${stem}.qa.json`),
    });
    expect(existsSync(dry.paths.qa)).toBe(false);
    const [r] = await cliJson(...args);
    expect(r.registered).toBe(true);
    expect(existsSync(dry.paths.matches) && existsSync(dry.paths.qa)).toBe(true);
    const db = new Database(path.join(data, 'state', 'data_registry.sqlite3'), { readonly: true });
    const rows = db.prepare("SELECT name, data_type FROM data_registry WHERE name LIKE '%xmatch%' ORDER BY name").all();
    const prov = db.prepare('SELECT input_path FROM data_provenance WHERE input_path IS NOT NULL').all() as { input_path: string }[];
    db.close();
    expect(rows).toEqual([
      { name: `${stem}.csv`, data_type: 'catalog' },
      { name: `${stem}.qa.json`, data_type: 'metadata' },
    ]);
    expect(prov.map((p) => p.input_path)).toContain(truth);
    const [again] = await cliJson(...args);
    expect(again.status).toBe('skipped');
  });
});
