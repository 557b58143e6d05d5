/**
 * `contimg image` with parameters that make no sense and on a full disk (issue 11 §6). The CLI
 * runs as a child process: an allocation failure would abort it, and that must show as a failed
 * test, not a dead test worker.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, tmpDir } from '../helpers.js';
import { contimg, listTree, remountReadOnly, resizeFs, smallFs, unmountAll } from './mounts.js';

let ms: string;
beforeAll(async () => {
  const dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'in'), '--antennas', '24', '--channels', '8', '--integrations', '4', '--no-gains');
  const c = await cliJson('convert', '--input-dir', path.join(dir, 'in'), '--output-dir', path.join(dir, 'ms'));
  ms = c.groups[0].outputMs;
});

afterAll(() => {
  unmountAll();
  cleanupTmpDirs();
});

describe('image parameters that make no sense are refused with a code', () => {
  it('--size 100000: IMAGE_TOO_LARGE with an estimate, before any allocation (no abort, no backtrace)', async () => {
    const out = tmpDir();
    const r = await contimg(['image', ms, '--output-dir', out, '--size', '100000'], { timeoutS: 60 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[IMAGE_TOO_LARGE]');
    expect(r.stderr).toMatch(/100000×100000 image needs about \d+\.\d GB/);
    expect(r.stderr).toMatch(/use --size \d+ or less/);
    expect(r.stderr).not.toContain('backtrace');
    expect(readdirSync(out)).toEqual([]);
  });

  for (const cell of ['1e-9', '1e6']) {
    it(`--cell-arcsec ${cell}: IMAGE_INVALID_ARGUMENT naming a sensible cell from the longest baseline`, async () => {
      const out = tmpDir();
      const r = await contimg(['image', ms, '--output-dir', out, '--size', '256', '--cell-arcsec', cell]);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toContain('[IMAGE_INVALID_ARGUMENT]');
      expect(r.stderr).toContain('cell-arcsec');
      expect(r.stderr).toMatch(/longest baseline \(\d+ m/);
      expect(r.stderr).toMatch(/sensible cell is about \d+\.\d"/);
      expect(r.stderr).not.toContain('flagged');
      expect(readdirSync(out)).toEqual([]);
    });
  }
});

describe('imaging onto a full or read-only disk', () => {
  it('a full disk is IMAGE_NO_SPACE, leaves no .partial file, and a rerun with room succeeds', async () => {
    // 256² pixels: each FITS file is 262 kB, so the third one does not fit.
    const out = smallFs(600);
    const r = await contimg(['image', ms, '--output-dir', out, '--size', '256', '--niter', '10']);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toContain('[IMAGE_NO_SPACE]');
    expect(r.stderr).toContain(out);
    expect(listTree(out)).toEqual([]);

    resizeFs(out, 8 * 1024);
    const again = await contimg(['image', ms, '--output-dir', out, '--size', '256', '--niter', '10', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const stem = path.basename(ms, '.ms');
    expect(readdirSync(out).sort()).toEqual(['.image.fits', '.image.png', '.model.fits', '.psf.fits', '.residual.fits'].map((s) => stem + s).sort());
  });

  it('a read-only output file system is EROFS, not ENOENT', async () => {
    const ro = smallFs(1024);
    remountReadOnly(ro);
    const r = await contimg(['image', ms, '--output-dir', path.join(ro, 'images', 'day'), '--size', '256']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[EROFS]');
    expect(r.stderr).toContain(path.join(ro, 'images'));
    expect(r.stderr).not.toContain('ENOENT');
  });
});
