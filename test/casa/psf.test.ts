/**
 * Briggs weighting and the restoring beam, against WSClean 3.1 and CASA 6.7 on the same MS.
 *
 * The main lobe of the PSF (pixels above half the peak, connected to it) at robust −1, 0 and +1
 * must match WSClean's to within one pixel on two snapshots: 32 antennas, and the full
 * 96-antenna array. CASA's tclean agrees once its selection is the same as ours: tclean grids
 * unflagged autocorrelations (they land in the uv origin and lift the whole PSF), which we and
 * WSClean leave out; with antenna='*&' (cross-correlations) the lobes match. Our restoring
 * beam follows the main lobe; WSClean's fit is pulled out by the near sidelobes of a 5-minute
 * snapshot (README, `contimg image`).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, oracle, tmpDir } from '../helpers.js';

const execFileP = promisify(execFile);
afterAll(cleanupTmpDirs);

interface Lobe {
  pixels: number;
  extent_x: number;
  extent_y: number;
  cell_arcsec: number;
  peak_offset: [number, number];
  bmaj_arcsec?: number;
  bmin_arcsec?: number;
}

const SIZE = 1024;
const CELL = 6;
const ROBUST = [-1, 0, 1];

async function ours(ms: string, dir: string, robust: number): Promise<string> {
  const [r] = await cliJson('image', ms, '--output-dir', dir, '--size', String(SIZE), '--cell-arcsec', String(CELL), '--niter', '0', '--weighting', 'briggs', '--robust', String(robust));
  return r.prefix + '.psf.fits';
}

async function wsclean(ms: string, prefix: string, robust: number): Promise<string> {
  const args = ['-quiet', '-weight', 'briggs', String(robust), '-size', String(SIZE), String(SIZE), '-scale', `${CELL}asec`, '-make-psf-only', '-name', prefix, ms];
  await execFileP('wsclean', args, { maxBuffer: 64 << 20 });
  return prefix + '-psf.fits';
}

/** The main lobes of two PSF images (psf_lobe.py gives one per file, in order). */
async function lobes(a: string, b: string): Promise<[Lobe, Lobe]> {
  return oracle<[Lobe, Lobe]>('psf_lobe.py', a, b);
}

function expectSameLobe(a: Lobe, b: Lobe, what: string): void {
  expect(a.peak_offset, what).toEqual([0, 0]);
  expect(b.peak_offset, what).toEqual([0, 0]);
  // One pixel; at robust +1 the region above half maximum takes in the near sidelobes (~100 px)
  // and the count may differ by 2% of it, while its extents still agree to a pixel.
  const tol = Math.max(1, Math.round(0.02 * Math.max(a.pixels, b.pixels)));
  expect(Math.abs(a.pixels - b.pixels), `${what}: ${a.pixels} px against ${b.pixels} px`).toBeLessThanOrEqual(tol);
  expect(Math.abs(a.extent_x - b.extent_x), what).toBeLessThanOrEqual(1);
  expect(Math.abs(a.extent_y - b.extent_y), what).toBeLessThanOrEqual(1);
}

type Snapshot = 'ant32' | 'ant96';
let mss: Record<Snapshot, string>;
let work: string;
beforeAll(async () => {
  work = tmpDir();
  const make = async (name: Snapshot, ...sim: string[]): Promise<string> => {
    const d = path.join(work, name);
    await cliJson('simulate', '--output-dir', path.join(d, 'in'), '--subbands', '2', '--no-gains', ...sim);
    const c = await cliJson('convert', '--input-dir', path.join(d, 'in'), '--output-dir', path.join(d, 'ms'), '--expected-subbands', '2');
    return c.groups[0].outputMs;
  };
  mss = {
    ant32: await make('ant32', '--antennas', '32', '--channels', '4', '--integrations', '6', '--seed', '5'),
    ant96: await make('ant96', '--channels', '4', '--seed', '3'),
  };
}, 600_000);

describe('PSF main lobe: ours against WSClean 3.1', () => {
  for (const name of ['ant32', 'ant96'] as const) {
    it(`${name}: robust -1, 0, +1 within one pixel`, async () => {
      for (const r of ROBUST) {
        const dir = path.join(work, `${name}-r${r}`);
        const [o, w] = await lobes(await ours(mss[name], dir, r), await wsclean(mss[name], path.join(dir, 'wsclean'), r));
        console.log(`${name} robust ${r}: ours ${JSON.stringify(o)} wsclean ${JSON.stringify(w)}`);
        expectSameLobe(o, w, `${name} robust ${r}`);
      }
    }, 600_000);
  }

  it('our restoring beam follows the main lobe; WSClean fits the near sidelobes too', async () => {
    const dir = path.join(work, 'ant96-r0');
    const [o, w] = await lobes(path.join(dir, path.basename(mss.ant96, '.ms') + '.psf.fits'), path.join(dir, 'wsclean-psf.fits'));
    const lobeArcsec2 = o.pixels * CELL * CELL;
    // The half-maximum ellipse of a Gaussian with FWHM axes a, b has area π a b / 4.
    const halfMax = (l: Lobe) => (Math.PI / 4) * l.bmaj_arcsec! * l.bmin_arcsec!;
    console.log(`ant96 robust 0 beams: ours ${o.bmaj_arcsec}×${o.bmin_arcsec}″, WSClean ${w.bmaj_arcsec}×${w.bmin_arcsec}″, lobe ${o.pixels} px`);
    expect(halfMax(o) / lobeArcsec2).toBeGreaterThan(0.6);
    expect(halfMax(o) / lobeArcsec2).toBeLessThan(1.6);
    expect(halfMax(w) / halfMax(o)).toBeGreaterThan(2);
  }, 120_000);
});

describe('PSF main lobe: ours against CASA 6.7 tclean (1024², 6″ cells, 32 antennas)', () => {
  it('matches tclean on the cross-correlations at robust -1, 0, +1', async () => {
    for (const r of ROBUST) {
      const dir = path.join(work, `ant32-r${r}`);
      const psf = await oracle<string>('casa_psf.py', mss.ant32, path.join(dir, 'casa-cross'), String(SIZE), String(CELL), 'briggs', String(r), '--cross-only');
      const [o, c] = await lobes(path.join(dir, path.basename(mss.ant32, '.ms') + '.psf.fits'), psf);
      console.log(`ant32 robust ${r}: ours ${o.pixels} px, CASA (cross) ${c.pixels} px`);
      expectSameLobe(o, c, `CASA robust ${r}`);
    }
  }, 600_000);

  it("is narrower than tclean's when tclean also grids the autocorrelations", async () => {
    const dir = path.join(work, 'ant32-r0');
    const psf = await oracle<string>('casa_psf.py', mss.ant32, path.join(dir, 'casa-all'), String(SIZE), String(CELL), 'briggs', '0');
    const [o, c] = await lobes(path.join(dir, path.basename(mss.ant32, '.ms') + '.psf.fits'), psf);
    console.log(`ant32 robust 0: ours ${o.pixels} px, CASA (autocorrelations too) ${c.pixels} px`);
    expect(c.pixels).toBeGreaterThan(o.pixels);
  }, 300_000);
});
