/**
 * `contimg convert` against pyuvdata: for each variant the reference is pyuvdata's read +
 * phase() to our FIELD centre + write_ms conventions (test/oracle/convert_reference.py).
 */
import { readdirSync, rmSync, truncateSync, statSync, copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../ts/native.js';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';
import { expectMatches, type Reference } from './reference.js';

afterAll(cleanupTmpDirs);

const GROUP = ['--antennas', '10', '--channels', '8', '--integrations', '4', '--flag-fraction', '0.05', '--jitter-s', '20'];

function subbandFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /_sb\d\d\.hdf5$/.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

let sim: { dir: string; group: string; truth: string };
beforeAll(async () => {
  const dir = tmpDir();
  const s = await cliJson('simulate', '--output-dir', dir, ...GROUP, '--seed', '11');
  sim = { dir, group: s.groups[0].group, truth: s.groups[0].truth };
});

describe('contimg convert, DSA-110 groups', () => {
  it('converts the full 16 subbands to one ascending SPW that matches pyuvdata', async () => {
    const out = tmpDir();
    const r = await cliJson('convert', '--input-dir', sim.dir, '--output-dir', out);
    expect(r.converted).toBe(1);
    const g = r.groups[0];
    expect(g.outputMs).toBe(path.join(out, `${sim.group}.ms`));
    expect(g.native.nSpw).toBe(1);
    expect(g.native.nChan).toBe(128);
    expect(g.native.uvwConvention).toBe('ant2-minus-ant1');
    // --input-phase auto recognises DSA-110 data and reads the stored uvw's phase.
    expect(g.inputPhase).toEqual({ phase: 'stored-uvw', auto: true, reason: expect.stringMatching(/^DSA-110 data \(telescope OVRO_MMA, instrument DSA, extra_keywords phase_center_dec/) });
    expect(g.staging.reason).toMatch(/tmpfs|scratch|output/);
    const ref = await oracle<Reference>('convert_reference.py', g.outputMs, '--files', ...subbandFiles(sim.dir));
    expectMatches(ref, 'full group');
    expect(ref.n_corr).toBe(2);

    // python-casacore opens MAIN and every subtable; measures keywords are there.
    const check = await oracle<any>('check_ms.py', g.outputMs);
    expect(check.ok).toBe(true);
    expect(check.MS_VERSION).toBe(2);
    expect(check.main.columns.TIME.keywords.MEASINFO).toEqual({ type: 'epoch', Ref: 'UTC' });
    expect(check.main.columns.UVW.keywords.MEASINFO.Ref).toBe('ICRS');
    expect(Object.keys(check.main.columns)).toEqual(expect.arrayContaining(['DATA', 'WEIGHT_SPECTRUM', 'TIME_CENTROID', 'FLAG_CATEGORY']));
    expect(check.subtable_nrows.ANTENNA).toBe(117);
    for (const t of ['ANTENNA', 'DATA_DESCRIPTION', 'FEED', 'FIELD', 'FLAG_CMD', 'HISTORY', 'OBSERVATION', 'POINTING', 'POLARIZATION', 'PROCESSOR', 'SPECTRAL_WINDOW', 'STATE', 'SOURCE']) {
      expect(check.subtables[t], t).toBeDefined();
    }

    // The FIELD is the meridian at mid-time at the pointing declination, per the truth file.
    const truth = JSON.parse((await import('node:fs')).readFileSync(sim.truth, 'utf8'));
    const f = g.fields[0];
    expect(f.raDeg).toBeCloseTo(truth.pointing.meridian_icrs_mid.ra_deg, 8);
    expect(f.decDeg).toBeCloseTo(truth.pointing.meridian_icrs_mid.dec_deg, 8);

    // HISTORY records the version and the command line; inspect summarises the MS.
    const ms = await cliJson('inspect', g.outputMs);
    const { version } = await import('../../ts/version.js');
    expect(ms.history[0].message).toContain(`contimg ${version}`);
    expect(ms.history[0].message).toContain('convert --input-dir');
    expect(ms.nRows).toBe(ref.rows);
    expect(ms.fields[0].name).toBe(f.name);
    const text = (await cli('inspect', g.outputMs)).stdout;
    expect(text).toContain('XX YY');
    expect(text).toContain(f.name);
  });

  it('writes 16 spectral windows with --spw-per-subband', async () => {
    const out = tmpDir();
    const r = await cliJson('convert', '--input-dir', sim.dir, '--output-dir', out, '--spw-per-subband');
    const g = r.groups[0];
    expect(g.native.nSpw).toBe(16);
    const ref = await oracle<Reference>('convert_reference.py', g.outputMs, '--files', ...subbandFiles(sim.dir), '--spw-per-subband');
    expectMatches(ref, 'spw per subband');
    expect(ref.n_spw).toBe(16);
  });

  it('refuses a group with a missing subband, and converts it flagged with --allow-missing', async () => {
    const dir = tmpDir();
    for (const f of subbandFiles(sim.dir)) if (!f.includes('_sb05')) copyFileSync(f, path.join(dir, path.basename(f)));
    const out = tmpDir();
    const refused = await cli('convert', '--input-dir', dir, '--output-dir', out, '--json');
    expect(refused.code).toBe(1);
    const s = JSON.parse(refused.stdout);
    expect(s.failed).toBe(1);
    expect(s.groups[0].error.code).toBe('CONVERT_MISSING_SUBBANDS');
    expect(s.groups[0].error.message).toContain('sb05');
    expect(readdirSync(out).filter((n) => n.endsWith('.ms'))).toEqual([]);

    const r = await cliJson('convert', '--input-dir', dir, '--output-dir', out, '--allow-missing');
    const g = r.groups[0];
    expect(g.missingSubbands).toEqual([5]);
    expect(g.native.nChan).toBe(128);
    const ref = await oracle<Reference>('convert_reference.py', g.outputMs, '--files', ...subbandFiles(dir));
    expectMatches(ref, 'missing subband');
    expect(ref.missing_channels).toBe(8);
  });

  it('detects and undoes the other uvw sign convention', async () => {
    const dir = tmpDir();
    await cliJson('simulate', '--output-dir', dir, '--antennas', '8', '--channels', '8', '--integrations', '2', '--subbands', '2', '--flip-uvw', '--seed', '5');
    const out = tmpDir();
    const r = await cliJson('convert', '--input-dir', dir, '--output-dir', out, '--expected-subbands', '2');
    const g = r.groups[0];
    expect(g.native.uvwConvention).toBe('ant1-minus-ant2');
    expect(g.warnings.join(' ')).toContain('x_ant1 − x_ant2');
    const ref = await oracle<Reference>('convert_reference.py', g.outputMs, '--files', ...subbandFiles(dir), '--flip');
    expectMatches(ref, 'flipped uvw');
  });

  it('reproduces the old per-integration layout: one FIELD per integration, data not rotated', async () => {
    const out = tmpDir();
    const r = await cliJson('convert', '--input-dir', sim.dir, '--output-dir', out, '--phase-mode', 'per-integration');
    const g = r.groups[0];
    expect(g.fields).toHaveLength(4);
    const truth = JSON.parse((await import('node:fs')).readFileSync(sim.truth, 'utf8'));
    g.fields.forEach((f: any, i: number) => {
      expect(f.raDeg).toBeCloseTo(truth.pointing.meridian_icrs[i].ra_deg, 8);
      expect(f.decDeg).toBeCloseTo(truth.pointing.meridian_icrs[i].dec_deg, 8);
    });
    // Unrotated: the data are the files' visibilities (conjugated, as write_ms stores them).
    const check = await oracle<any>('per_integration_check.py', g.outputMs, ...subbandFiles(sim.dir));
    expect(check.max_data_diff).toBe(0);
    expect(check.field_ids).toEqual([0, 1, 2, 3]);
    expect(check.max_uvw_length_diff_m).toBeLessThan(1e-6);
  });
});

describe('contimg convert, UVH5 files from anywhere', () => {
  let gen: Record<string, string>;
  beforeAll(async () => {
    gen = await oracle<Record<string, string>>('make_generic_uvh5.py', tmpDir());
  });

  it('converts 4-polarisation, multi-spw drift data (MS polarisation order, one SPW per spw)', async () => {
    // A drift file from a non-DSA telescope: by default read as pyuvdata does (no phase).
    const out = tmpDir();
    const r = await cliJson('convert', gen.fourpol_multispw!, '--output-dir', out);
    const g = r.groups[0];
    expect(g.native.nSpw).toBe(2);
    expect(g.native.nCorr).toBe(4);
    expect(g.native.inputPhase).toBe('zero');
    const ms = await cliJson('inspect', g.outputMs);
    expect(ms.polarizations[0].corrTypes).toEqual([9, 10, 11, 12]);
    const ref = await oracle<Reference>('convert_reference.py', g.outputMs, '--files', gen.fourpol_multispw!, '--input-phase', 'zero');
    expectMatches(ref, 'four pol');
    // The DSA-110 reading (the stored uvw's w is in the data) when asked for.
    const out2 = tmpDir();
    const r2 = await cliJson('convert', gen.fourpol_multispw!, '--output-dir', out2, '--input-phase', 'stored-uvw');
    expect(r2.groups[0].inputPhase).toEqual({ phase: 'stored-uvw', auto: false, reason: 'set by --input-phase' });
    const ref2 = await oracle<Reference>('convert_reference.py', r2.groups[0].outputMs, '--files', gen.fourpol_multispw!, '--input-phase', 'stored-uvw');
    expectMatches(ref2, 'four pol, stored-uvw input phase');
    // The two semantics really differ on this non-coplanar array.
    expect(native().msDigest(r2.groups[0].outputMs).data).not.toBe(native().msDigest(g.outputMs).data);
  });

  it("keeps pyuvdata's own phased data at its centre, or rephases it to --phase-center", async () => {
    const out = tmpDir();
    const r = await cliJson('convert', gen.phased!, '--output-dir', out);
    expect(r.groups[0].fields[0].raDeg).toBeCloseTo(250, 9);
    expect(r.groups[0].fields[0].decDeg).toBeCloseTo(45, 9);
    expectMatches(await oracle<Reference>('convert_reference.py', r.groups[0].outputMs, '--files', gen.phased!), 'phased');
    const out2 = tmpDir();
    const r2 = await cliJson('convert', gen.phased!, '--output-dir', out2, '--phase-center', '251.5,44.2');
    expect(r2.groups[0].fields[0].raDeg).toBeCloseTo(251.5, 9);
    expectMatches(await oracle<Reference>('convert_reference.py', r2.groups[0].outputMs, '--files', gen.phased!), 'rephased');
  });

  it('converts single-polarisation data without calling it Stokes I', async () => {
    const out = tmpDir();
    const r = await cliJson('convert', gen.singlepol!, '--output-dir', out);
    const ms = await cliJson('inspect', r.groups[0].outputMs);
    expect(ms.polarizations[0].corrTypes).toEqual([9]);
    expectMatches(await oracle<Reference>('convert_reference.py', r.groups[0].outputMs, '--files', gen.singlepol!, '--input-phase', 'zero'), 'single pol');
  });
});

describe('contimg convert, conventions and options', () => {
  it('derives INTERVAL from the time steps when a legacy file records the sample time', async () => {
    const dir = tmpDir();
    await cliJson('simulate', '--output-dir', dir, '--antennas', '6', '--channels', '8', '--integrations', '3', '--subbands', '1', '--legacy-integration-time');
    const out = tmpDir();
    const r = await cliJson('convert', '--input-dir', dir, '--output-dir', out, '--expected-subbands', '1', '--imaging-columns');
    const g = r.groups[0];
    expect(g.warnings.join(' ')).toMatch(/integration_time says 0\.134.*12\.88/);
    const ms = await cliJson('inspect', g.outputMs);
    expect(Math.abs(ms.integrationTimeS - 12.884901888)).toBeLessThan(2e-5);
    // --imaging-columns: MODEL_DATA zero, CORRECTED_DATA a copy of DATA.
    expect(ms.columns).toEqual(expect.arrayContaining(['MODEL_DATA', 'CORRECTED_DATA']));
    const d = native().msDigest(g.outputMs);
    expect(native().msDigest(g.outputMs, 'CORRECTED_DATA').data).toBe(d.data);
    expect(native().msDigest(g.outputMs, 'MODEL_DATA').data).not.toBe(d.data);
  });

  it('warns when Earth orientation must be predicted or extrapolated', async () => {
    const dir = tmpDir();
    await cliJson('simulate', '--output-dir', dir, '--antennas', '6', '--channels', '8', '--integrations', '2', '--subbands', '1', '--start', '2031-06-01T00:00:00');
    const out = tmpDir();
    const r = await cliJson('convert', '--input-dir', dir, '--output-dir', out, '--expected-subbands', '1');
    expect(r.groups[0].warnings.join(' ')).toMatch(/outside the IERS table.*update data\/iers\/eop\.csv/);
  });
});

describe('contimg convert, batches', () => {
  it('reports a bad group, converts the others, exits 1; reruns skip; --overwrite replaces', async () => {
    const dir = tmpDir();
    await cliJson('simulate', '--output-dir', dir, '--antennas', '6', '--channels', '8', '--integrations', '2', '--groups', '3', '--seed', '2');
    const files = subbandFiles(dir);
    const victim = files.find((f) => f.includes('_sb03'))!;
    truncateSync(victim, Math.floor(statSync(victim).size / 2));
    const out = tmpDir();
    const r = await cli('convert', '--input-dir', dir, '--output-dir', out, '--json');
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout);
    expect(s.converted).toBe(2);
    expect(s.failed).toBe(1);
    const bad = s.groups.find((g: any) => g.error);
    expect(bad.error.code).toBe('UVH5_TRUNCATED');
    expect(bad.error.message).toContain(path.basename(victim));
    expect(readdirSync(out).filter((n) => n.endsWith('.ms'))).toHaveLength(2);
    expect(readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);

    rmSync(victim);
    const again = await cliJson('convert', '--input-dir', dir, '--output-dir', out, '--allow-missing');
    expect(again.skipped).toBe(2);
    expect(again.converted).toBe(1);
    const before = native().msDigest(path.join(out, `${again.groups.find((g: any) => !g.skipped).groupId}.ms`));
    const over = await cliJson('convert', '--input-dir', dir, '--output-dir', out, '--allow-missing', '--overwrite');
    expect(over.converted).toBe(3);
    const after = native().msDigest(path.join(out, `${again.groups.find((g: any) => !g.skipped).groupId}.ms`));
    expect(after.data).toBe(before.data);
  });

  it('lists the groups and what would happen with --dry-run, writing nothing', async () => {
    const out = path.join(tmpDir(), 'out');
    mkdirSync(out);
    const r = await cliJson('convert', '--input-dir', sim.dir, '--output-dir', out, '--dry-run');
    expect(r.groups).toHaveLength(1);
    expect(r.groups[0].action).toBe('convert');
    expect(r.groups[0].detail).toMatch(/build in (tmpfs|scratch|output)/);
    expect(readdirSync(out)).toEqual([]);
  });
});
