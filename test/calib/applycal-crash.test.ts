/**
 * `contimg applycal` crash safety (SIGKILL after the copy, after everything is written but
 * before the fsync and rename, and at timed instants: the final name holds nothing or the
 * complete calibrated MS, and a rerun finishes), and `contimg image --column auto` on its output.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir, runCli } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--antennas', '8', '--channels', '4', '--integrations', '12', '--seed', '7'];
let dir: string;
let ms: string;
let tabs: { bp: string; g: string };

beforeAll(async () => {
  dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'in'), ...SIM);
  ms = (await cliJson('convert', '--input-dir', path.join(dir, 'in'), '--output-dir', path.join(dir, 'ms'))).groups[0].outputMs;
  tabs = await oracle('casa_applycal.py', 'tables', ms, path.join(dir, 'casa'));
}, 60_000);


describe('SIGKILL during applycal', () => {
  it('leaves no output under the final name, or the complete one; a rerun finishes', async () => {
    const out = tmpDir();
    const args = ['applycal', ms, '--tables', tabs.bp, tabs.g, '--output-dir', out, '--json'];
    const final = path.join(out, '2025-10-02T00:00:00_cal.ms');
    for (const point of ['copied', 'applied']) {
      const r = await runCli(args, { CONTIMG_APPLYCAL_FAULT: point });
      expect(r.signal, point).toBe('SIGKILL');
      expect(existsSync(final), point).toBe(false);
      // The killed run's temporary copy is there; the rerun removes it.
      expect(readdirSync(out).some((f) => f.includes('.partial-')), point).toBe(true);
    }
    // Timed kills anywhere in the run (start-up included).
    const full = await runCli(args);
    expect(full.code).toBe(0);
    const reference = path.join(tmpDir(), 'reference.ms');
    await oracle('casa_applycal.py', 'apply', ms, reference, tabs.bp, tabs.g);
    for (const f of [0.3, 0.6, 0.8, 0.95]) {
      const o = tmpDir();
      const a = ['applycal', ms, '--tables', tabs.bp, tabs.g, '--output-dir', o, '--json'];
      const r = await runCli(a, {}, Math.round(f * full.ms));
      const fin = path.join(o, '2025-10-02T00:00:00_cal.ms');
      if (existsSync(fin)) {
        // Anything under the final name is complete: it equals CASA's result.
        const c = await oracle('casa_applycal.py', 'compare', fin, reference);
        expect(c.corrected_max_rel, `kill at ${f}`).toBeLessThan(1e-5);
      }
      if (r.signal !== 'SIGKILL') continue;
      const again = await runCli(a);
      expect(again.code).toBe(0);
      expect(readdirSync(o).filter((x) => x.includes('.partial-'))).toEqual([]);
    }
    const again = await runCli(args);
    expect(again.code).toBe(0);
    expect(readdirSync(out)).toEqual(['2025-10-02T00:00:00_cal.ms']);
    const c = await oracle('casa_applycal.py', 'compare', final, reference);
    expect(c.flag_mismatch).toBe(0);
    expect(c.corrected_max_rel).toBeLessThan(1e-5);
  }, 85_000);
});

describe('a write that fails during applycal', () => {
  it('is reported with its code and the output file, leaves nothing behind, and a rerun succeeds', async () => {
    const out = tmpDir();
    const args = ['applycal', ms, '--tables', tabs.bp, tabs.g, '--output-dir', out, '--json'];
    // The failure comes from the writer thread of the row pipeline while the reader and the
    // corrections go on: it must stop both and surface, not hang or be lost.
    process.env.CONTIMG_APPLYCAL_FAULT = 'write-error';
    let r;
    try {
      r = await cli(...args);
    } finally {
      delete process.env.CONTIMG_APPLYCAL_FAULT;
    }
    expect(r.code).not.toBe(0);
    const [failed] = JSON.parse(r.stdout);
    expect(failed.status).toBe('failed');
    expect(failed.code).toBe('CALIB_IO');
    expect(failed.error).toContain('injected write failure');
    expect(failed.error).toContain('.partial-');
    expect(readdirSync(out)).toEqual([]);
    const [ok] = await cliJson('applycal', ms, '--tables', tabs.bp, tabs.g, '--output-dir', out);
    expect(ok.status).toBe('calibrated');
    expect(ok.summary.rows).toBeGreaterThan(0);
    expect(readdirSync(out)).toEqual(['2025-10-02T00:00:00_cal.ms']);
  }, 60_000);
});

describe('contimg image on a calibrated MS', () => {
  it('images CORRECTED_DATA by default (and says so), DATA when asked', async () => {
    const out = tmpDir();
    const [r] = await cliJson('applycal', ms, '--tables', tabs.bp, tabs.g, '--output-dir', out);
    const common = ['--size', '128', '--niter', '0', '--cell-arcsec', '30'];
    const [auto] = await cliJson('image', r.output, '--output-dir', path.join(out, 'auto'), ...common);
    expect(auto.summary.column).toBe('CORRECTED_DATA');
    const [data] = await cliJson('image', r.output, '--output-dir', path.join(out, 'data'), ...common, '--column', 'DATA');
    expect(data.summary.column).toBe('DATA');
    // Different visibilities, different images.
    expect(Math.abs(auto.summary.peakJy - data.summary.peakJy)).toBeGreaterThan(1e-3 * Math.abs(data.summary.peakJy));
    // The raw MS has no CORRECTED_DATA: auto images DATA.
    const [raw] = await cliJson('image', ms, '--output-dir', path.join(out, 'raw'), ...common);
    expect(raw.summary.column).toBe('DATA');
  }, 60_000);
});
