import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../ts/native.js';
import { cleanupTmpDirs, cli, cliJson, oracle, SMALL, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

describe('contimg simulate', () => {
  it('writes complete groups atomically, with truth, that pyuvdata reads back exactly', async () => {
    const dir = tmpDir();
    const s = await cliJson('simulate', '--output-dir', dir, ...SMALL, '--groups', '2', '--jitter-s', '30', '--flag-fraction', '0.05', '--seed', '7');
    expect(s.groups).toHaveLength(2);
    const names = readdirSync(dir);
    expect(names.filter((n) => n.endsWith('.hdf5'))).toHaveLength(32);
    expect(names.some((n) => n.includes('incomplete') || n.endsWith('.tmp'))).toBe(false);
    for (const g of s.groups) {
      // Jittered names: the group is named after its earliest file.
      const stamps = g.files.map((f: string) => path.basename(f).slice(0, 19)).sort();
      expect(g.group).toBe(stamps[0]);
      const truth = JSON.parse(readFileSync(g.truth, 'utf8'));
      expect(truth.format).toBe('contimg-sim-truth/1');
      expect(truth.sources.length).toBeGreaterThan(0);
      for (const src of truth.sources) {
        expect(src.apparent_flux_jy).toBeGreaterThanOrEqual(0);
        expect(src.apparent_flux_jy).toBeLessThanOrEqual(src.flux_jy * 1.5);
      }
      expect(truth.gains.antennas).toHaveLength(8);
    }
    // Consecutive groups: the second starts one group length (24 × 12.885 s here 4×) later.
    const t0 = JSON.parse(readFileSync(s.groups[0].truth, 'utf8')).times_jd[0];
    const t1 = JSON.parse(readFileSync(s.groups[1].truth, 'utf8')).times_jd[0];
    expect((t1 - t0) * 86400).toBeCloseTo(4 * 12.884901888, 3);

    const files: string[] = s.groups.flatMap((g: any) => g.files);
    const read = await oracle<any[]>('uvh5_read.py', ...files.slice(0, 4), ...files.slice(-2));
    for (const r of read) {
      expect(r.data_equals_raw && r.flags_equal_raw && r.nsamples_equal_raw, r.file).toBe(true);
      expect(r.nbls).toBe(36);
      expect(r.ntimes).toBe(4);
      expect(r.pols).toEqual([-5, -6]);
      expect(r.uvw_float32).toBe(true);
      const ours = native().uvh5Digest(r.file);
      expect(ours.vis).toBe(r.digest.vis);
      expect(ours.flags).toBe(r.digest.flags);
      expect(ours.nsamples).toBe(r.digest.nsamples);
    }
  });

  it('is deterministic for a seed', async () => {
    const a = tmpDir();
    const b = tmpDir();
    await cliJson('simulate', '--output-dir', a, ...SMALL, '--seed', '3', '--subbands', '2');
    await cliJson('simulate', '--output-dir', b, ...SMALL, '--seed', '3', '--subbands', '2', '--threads', '1');
    const f = (d: string) => path.join(d, '2025-10-02T00:00:00_sb01.hdf5');
    expect(native().uvh5Digest(f(a))).toEqual(native().uvh5Digest(f(b)));
  });

  it('accepts a sky file and refuses bad settings with a clear message', async () => {
    const dir = tmpDir();
    const sky = path.join(dir, 'sky.csv');
    (await import('node:fs')).writeFileSync(sky, 'name,ra_deg,dec_deg,flux_jy\nA,250.0,54.5,1.5\n');
    const s = await cliJson('simulate', '--output-dir', dir, ...SMALL, '--subbands', '1', '--sky', sky);
    const truth = JSON.parse(readFileSync(s.groups[0].truth, 'utf8'));
    expect(truth.sources.map((x: any) => x.name)).toEqual(['A']);

    const bad = await cli('simulate', '--output-dir', dir, ...SMALL, '--channels', '7');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('SIM_INVALID_ARGUMENT');
    expect(bad.stderr).toContain('384');
    const exists = await cli('simulate', '--output-dir', dir, ...SMALL, '--subbands', '1', '--sky', sky);
    expect(exists.code).toBe(1);
    expect(exists.stderr).toContain('already exists');
  });
});
