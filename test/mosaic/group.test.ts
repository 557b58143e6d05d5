/**
 * `contimg mosaic GROUP` end to end: simulated consecutive observations of one known sky →
 * convert → groups → image (--layout --pbcor) → mosaic by group id, in the pipeline layout.
 * The registered mosaic and its inputs come from the registries; the sources are measured in
 * the mosaic with astropy (test/oracle/mosaic_truth.py).
 *
 * The observations are 6 integrations (77 s) long, so consecutive fields drift 0.32° in RA and
 * overlap as the 3° primary beams of 5-minute groups (1.25° apart) do. The images (1024 × 5.4",
 * 1.5°) each hold the whole simulated sky, so that every source is deconvolved in every image:
 * at 512 pixels the uncleaned sidelobes of the sources outside a field (this snapshot PSF's are
 * ~10%) moved fluxes by up to 15% and doubled the noise.
 */
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistries, registerProduct } from '../../ts/registry/index.js';
import { obsDateOfGroup, resolveLayout } from '../../ts/layout/index.js';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--antennas', '48', '--channels', '4', '--integrations', '6', '--no-gains', '--seed', '5'];
const CELL_ARCSEC = 5.4;
const SIZE = 1024;

interface TruthCheck {
  sources: { name: string; flux_jy: number; snr: number | null; rel_err?: number; offset_beam?: number }[];
}

let dir: string;
let base: string[];
let msPaths: string[];
let groupIds: string[];
let images: string[];
let sky: string;
let result: any;

/** A deterministic sky: a jittered grid of sources over the fields of the first three MS. */
function writeSky(file: string, raDeg: number[], decDeg: number): void {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const cosDec = Math.cos((decDeg * Math.PI) / 180);
  const sources = [];
  // 0.75° of sky per field: 0.1° inside each edge, on a 0.14° grid (> 15 beams apart).
  const raLo = raDeg[0]! - 0.28 / cosDec;
  const raHi = raDeg[2]! + 0.28 / cosDec;
  for (let dec = decDeg - 0.28; dec <= decDeg + 0.28 + 1e-9; dec += 0.14) {
    for (let ra = raLo; ra <= raHi + 1e-9; ra += 0.14 / cosDec) {
      // One in five faint (~3σ), so the 10σ selection has something to leave out.
      const faint = rand() < 0.2;
      sources.push({
        name: `S${sources.length}`,
        ra_deg: ra + ((rand() - 0.5) * 0.03) / cosDec,
        dec_deg: dec + (rand() - 0.5) * 0.03,
        flux_jy: faint ? 0.008 + rand() * 0.004 : 0.1 + rand() * 0.3,
      });
    }
  }
  writeFileSync(file, JSON.stringify({ sources }, null, 1));
}

beforeAll(async () => {
  dir = tmpDir('contimg-mosaic-group-');
  base = ['--stage-base', path.join(dir, 'stage'), '--data-base', path.join(dir, 'data')];
  // Where the fields point: a first simulation with the default sky, for its truth files.
  const probe = await cliJson('simulate', '--output-dir', path.join(dir, 'probe'), ...SIM, '--groups', '4', '--subbands', '1');
  const truths = probe.groups.map((g: { truth: string }) => JSON.parse(readFileSync(g.truth, 'utf8')));
  sky = path.join(dir, 'sky.json');
  writeSky(sky, truths.map((t: any) => t.pointing.meridian_icrs_mid.ra_deg), truths[0].pointing.meridian_icrs_mid.dec_deg);
  await cliJson('simulate', '--output-dir', path.join(dir, 'uv'), ...SIM, '--groups', '4', '--sky', sky);
  await cliJson('convert', '--input-dir', path.join(dir, 'uv'), '--layout', ...base);
  // 4 MS, groups of 3 sharing 1: MS 0–2 and (flushed) 1–3.
  const groups = await cliJson('groups', ...base, '--size', '3', '--overlap', '1', '--flush');
  groupIds = groups.groups.map((g: { id: string }) => g.id);
  const msDir = path.join(dir, 'stage', 'raw', 'ms', 'science', groupIds[0]!.slice(0, 10));
  msPaths = readdirSync(msDir).sort().map((m) => path.join(msDir, m));
  // MS 3 is left unimaged: the second group misses it.
  images = [];
  for (const ms of msPaths.slice(0, 3)) {
    const [r] = await cliJson('image', ms, '--layout', ...base, '--pbcor', '--size', String(SIZE));
    images.push(`${r.prefix}.image.fits`);
  }
  [result] = await cliJson('mosaic', groupIds[0]!, ...base);
}, 120_000);

describe('contimg mosaic GROUP', () => {
  it('forms the groups the test relies on', () => {
    expect(msPaths).toHaveLength(4);
    expect(groupIds).toEqual(msPaths.slice(0, 2).map((m) => path.basename(m, '.ms')));
    expect(images.map((i) => path.basename(i))).toEqual(msPaths.slice(0, 3).map((m) => `${path.basename(m, '.ms')}_1024px_briggs0.image.fits`));
  });

  it("mosaics the group's images into mosaics/YYYY-MM-DD/ and registers them as its inputs", () => {
    expect(result.status).toBe('mosaicked');
    const expected = path.join(dir, 'stage', 'mosaics', groupIds[0]!.slice(0, 10), `mosaic_${groupIds[0]}_pbweighted.fits`);
    expect(result.outputs.mosaic).toBe(expected);
    expect(result.registered).toBe(true);
    expect(result.summary.inputs.map((i: { image: string }) => i.image)).toEqual(images);
    expect(result.summary.cellArcsec).toBeCloseTo(CELL_ARCSEC, 6);
    // Three 1024-pixel fields 0.32° apart in RA at dec 54.6: 2 × 0.32° × cos 54.6 / 5.4" ≈ 250 pixels wider.
    expect(result.summary.nx).toBeGreaterThan(SIZE + 230);
    expect(result.summary.nx).toBeLessThan(SIZE + 270);
    const db = new Database(path.join(dir, 'data', 'state', 'data_registry.sqlite3'), { readonly: true });
    const row = db.prepare("SELECT id, path, status FROM data_registry WHERE data_type = 'mosaic'").all() as { id: number; path: string; status: string }[];
    const inputs = db
      .prepare('SELECT i.path, i.data_type, p.input_path FROM data_provenance p LEFT JOIN data_registry i ON i.id = p.input_product_id WHERE p.product_id = ? ORDER BY i.path')
      .all(row[0]!.id);
    db.close();
    expect(row.map((r) => [r.path, r.status])).toEqual([[expected, 'staged']]);
    expect(inputs).toEqual(images.map((p) => ({ path: p, data_type: 'image', input_path: null })));
  });

  it('recovers every truth source above 10σ within 10% in flux and 0.25 beam in position', async () => {
    const o = result.outputs;
    const t = await oracle<TruthCheck>('mosaic_truth.py', o.mosaic, o.noise, sky, '--beam-from', images[1]!);
    const bright = t.sources.filter((s) => s.snr !== null && s.snr > 10);
    const flux = bright.map((s) => Math.abs(s.rel_err!)).sort((a, b) => a - b);
    const offsets = bright.map((s) => s.offset_beam!).sort((a, b) => a - b);
    console.log(
      `${bright.length} of ${t.sources.length} truth sources above 10σ: |flux error| max ${(flux.at(-1)! * 100).toFixed(1)}%, median ${(flux[flux.length >> 1]! * 100).toFixed(1)}%; ` +
        `offset max ${offsets.at(-1)!.toFixed(3)}, median ${offsets[offsets.length >> 1]!.toFixed(3)} beam`,
    );
    expect(bright.length).toBeGreaterThanOrEqual(15);
    // The faint fifth of the sky stays below 10σ: the selection must select.
    expect(bright.length).toBeLessThan(t.sources.length);
    for (const s of bright) {
      expect(Math.abs(s.rel_err!), JSON.stringify(s)).toBeLessThan(0.1);
      expect(s.offset_beam!, JSON.stringify(s)).toBeLessThan(0.25);
    }
  }, 60_000);

  it('names the MS without an image (MOSAIC_MISSING_IMAGES), and mosaics the rest with --allow-missing', async () => {
    const r = await cli('mosaic', groupIds[1]!, ...base, '--json');
    expect(r.code).toBe(1);
    const [failed] = JSON.parse(r.stdout);
    expect(failed.code).toBe('MOSAIC_MISSING_IMAGES');
    expect(failed.error).toContain(msPaths[3]);
    expect(failed.error).not.toContain(msPaths[1]);
    const [plan] = await cliJson('mosaic', groupIds[1]!, ...base, '--allow-missing', '--dry-run');
    expect(plan.status).toBe('planned');
    expect(plan.images).toEqual(images.slice(1, 3));
    expect(plan.missingMs).toEqual([msPaths[3]]);
    // A parameter tag no image has leaves nothing to mosaic.
    const none = await cli('mosaic', groupIds[1]!, ...base, '--allow-missing', '--image-params', '1024px_natural', '--json');
    expect(JSON.parse(none.stdout)[0].code).toBe('MOSAIC_MISSING_IMAGES');
    // An unformed group.
    const unknown = await cli('mosaic', '2025-10-02T09:00:00', ...base, '--json');
    expect(JSON.parse(unknown.stdout)[0].code).toBe('MOSAIC_UNKNOWN_GROUP');
  }, 60_000);

  it("takes each MS's newest image, --image-params picks a tag, and a calibrated MS's image comes first", async () => {
    // MS 0 imaged again with other parameters: the newer one is taken.
    const [again] = await cliJson('image', msPaths[0]!, '--layout', ...base, '--pbcor', '--size', String(SIZE), '--robust', '0.5');
    const newer = `${again.prefix}.image.fits`;
    expect(path.basename(newer)).toBe(`${path.basename(msPaths[0]!, '.ms')}_1024px_briggs0p5.image.fits`);
    const plan = async (...extra: string[]) => (await cliJson('mosaic', groupIds[0]!, ...base, '--overwrite', '--dry-run', ...extra))[0].images;
    expect(await plan()).toEqual([newer, ...images.slice(1)]);
    expect(await plan('--image-params', '1024px_briggs0')).toEqual(images);

    // A calibrated copy of MS 1, registered as applycal registers one (the raw MS its input).
    const layout = resolveLayout({ stageBase: path.join(dir, 'stage'), dataBase: path.join(dir, 'data') })!;
    const calMs = layout.calibratedMsPath({ groupId: path.basename(msPaths[1]!, '.ms'), kind: 'science' });
    cpSync(msPaths[1]!, calMs, { recursive: true });
    const regs = await openRegistries(layout);
    try {
      await registerProduct(regs, { dataType: 'calibrated_ms', path: calMs, obsDate: obsDateOfGroup(groupIds[0]!), inputs: { products: [msPaths[1]!] } });
    } finally {
      await regs.close();
    }
    // Without an image of it the raw MS's image stands; once imaged, the calibrated one wins.
    expect(await plan('--image-params', '1024px_briggs0')).toEqual(images);
    const [cal] = await cliJson('image', calMs, '--layout', ...base, '--pbcor', '--size', String(SIZE));
    const calImage = `${cal.prefix}.image.fits`;
    expect(calImage).toBe(path.join(path.dirname(images[1]!), `${path.basename(msPaths[1]!, '.ms')}_cal_1024px_briggs0.image.fits`));
    expect(cal.registered).toBe(true);
    expect(await plan('--image-params', '1024px_briggs0')).toEqual([images[0], calImage, images[2]]);
    expect(existsSync(calImage.replace('.image.fits', '.pb.fits'))).toBe(true);
  }, 60_000);
});
