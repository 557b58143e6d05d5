/**
 * UVH5 from other telescopes (issue 11): files pyuvdata writes the way other arrays do, each
 * converted with default options and compared with pyuvdata's read + phase() + write_ms of the
 * same file (test/oracle/convert_reference.py) to a relative 1e-5 in DATA and 1 mm in UVW.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';
import { expectMatches, type Reference } from './reference.js';

afterAll(cleanupTmpDirs);

let gen: Record<string, string> & { nonfinite_count: number };
beforeAll(async () => {
  gen = await oracle('make_generic_uvh5.py', tmpDir());
});

/** Converts one file with default options (plus `extra`) and returns its group's result. */
async function convert(file: string, ...extra: string[]): Promise<any> {
  const r = await cliJson('convert', file, '--output-dir', tmpDir(), ...extra);
  expect(r.converted).toBe(1);
  return r.groups[0];
}

function reference(g: any, file: string, inputPhase: string = g.inputPhase.phase): Promise<Reference> {
  return oracle<Reference>('convert_reference.py', g.outputMs, '--files', file, '--input-phase', inputPhase);
}

describe('contimg convert, UVH5 from other telescopes', () => {
  it('swaps XY and YX when it conjugates a baseline to ant1 < ant2, and keeps XY autocorrelations complex', async () => {
    const g = await convert(gen.fourpol_mixed!);
    expect(g.native.nCorr).toBe(4);
    expect(g.warnings.join(' ')).toContain('conjugated to ant1 < ant2 (their cross hands swapped)');
    expectMatches(await reference(g, gen.fourpol_mixed!), 'mixed baseline order, 4 pols');
    // Under either reading of the input phase.
    const s = await convert(gen.fourpol_mixed!, '--input-phase', 'stored-uvw');
    expectMatches(await reference(s, gen.fourpol_mixed!, 'stored-uvw'), 'mixed baseline order, stored-uvw');
    // And when pyuvdata phased the file first.
    const p = await convert(gen.fourpol_mixed_phased!);
    expect(p.inputPhase).toEqual({ phase: 'stored-uvw', auto: true, reason: expect.stringContaining('phased') });
    expect(p.fields[0].raDeg).toBeCloseTo(120, 9);
    expectMatches(await reference(p, gen.fourpol_mixed_phased!), 'mixed baseline order, phased');
  });

  it('refuses mixed baseline orders with a lone cross hand, naming the file', async () => {
    const r = await cli('convert', gen.lone_cross_mixed!, '--output-dir', tmpDir(), '--json');
    expect(r.code).toBe(1);
    const e = JSON.parse(r.stdout).groups[0].error;
    expect(e.code).toBe('CONVERT_UNSUPPORTED');
    expect(e.message).toContain(gen.lone_cross_mixed!);
    expect(e.message).toContain('only one cross-hand polarisation');
  });

  it('reads drift data from a non-DSA telescope as pyuvdata does (HERA, from pyuvdata\'s own tables)', async () => {
    const g = await convert(gen.hera_drift!);
    expect(g.inputPhase).toEqual({ phase: 'zero', auto: true, reason: 'drift data from HERA: read as pyuvdata does (no phase in the data)' });
    expect(g.native.inputPhase).toBe('zero');
    expectMatches(await reference(g, gen.hera_drift!, 'zero'), 'HERA drift');
    // The DSA-110 reading of the same file is far off pyuvdata: this is what auto avoids.
    const dsa = await convert(gen.hera_drift!, '--input-phase', 'stored-uvw');
    expect((await reference(dsa, gen.hera_drift!, 'zero')).data_rel).toBeGreaterThan(0.01);
    // The text summary prints the decision.
    const text = await cli('convert', gen.hera_drift!, '--output-dir', tmpDir());
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('input phase: zero (auto): drift data from HERA');
  });

  it('reads a file carrying DSA-110 fringe-stopping keywords as DSA-110 data', async () => {
    const g = await convert(gen.dsa_keywords!);
    expect(g.inputPhase.phase).toBe('stored-uvw');
    expect(g.inputPhase.reason).toMatch(/^DSA-110 data \(extra_keywords phase_center_dec/);
    expectMatches(await reference(g, gen.dsa_keywords!, 'stored-uvw'), 'DSA keywords');
  });

  it('converts a single-channel file', async () => {
    const g = await convert(gen.single_channel!);
    expect(g.native.nChan).toBe(1);
    expectMatches(await reference(g, gen.single_channel!), 'single channel');
  });

  it('writes each integration\'s own INTERVAL and EXPOSURE when integration times vary', async () => {
    const g = await convert(gen.variable_inttime!);
    expect(g.warnings.join(' ')).not.toContain('integration_time says');
    const ref = await reference(g, gen.variable_inttime!);
    expect(ref.equal.interval).toBe(true);
    expectMatches(ref, 'variable integration time');
  });

  it('flags NaN/Inf visibilities, zeroes them and reports the count', async () => {
    const r = await cli('convert', gen.nonfinite!, '--output-dir', tmpDir(), '--json');
    expect(r.code).toBe(0);
    const g = JSON.parse(r.stdout).groups[0];
    expect(gen.nonfinite_count).toBe(9);
    expect(g.nonFiniteFlagged).toBe(9);
    expect(g.native.nonFiniteFlagged).toBe(9);
    expect(g.warnings).toContain('9 visibility sample(s) were NaN or Inf: flagged, with DATA set to 0');
    const ref = await reference(g, gen.nonfinite!);
    expect(ref.nonfinite).toBe(9);
    expectMatches(ref, 'NaN/Inf');
    const text = await cli('convert', gen.nonfinite!, '--output-dir', tmpDir());
    expect(text.stdout).toContain('9 NaN/Inf visibilities flagged');
  });
});
