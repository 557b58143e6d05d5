/**
 * Stage 6: one Measurement Set into a restored Stokes I image. The native core does the work
 * (crates/imaging); this module decides where the outputs go, skips what already exists, and
 * registers the image when the pipeline layout is in use.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { callNative, native } from '../native.js';
import { ContimgError } from '../error.js';
import { makeDirs, obsDateOfGroup, type Layout, type UtcDate } from '../layout/index.js';
import { version } from '../version.js';

export type Weighting = 'natural' | 'uniform' | 'briggs';

export interface ImageOptions {
  column: string;
  size: number;
  cellArcsec?: number;
  weighting: Weighting;
  robust: number;
  niter: number;
  thresholdJy: number;
  autoThresholdSigma: number;
  gain: number;
  mgain: number;
  maxMajorCycles: number;
  epsilon: number;
  wgridding: boolean;
  pbcor: boolean;
  pbCutoff: number;
  threads?: number;
  simd?: 'auto' | 'scalar' | 'avx2' | 'avx512';
}

export const DEFAULT_IMAGE_OPTIONS: ImageOptions = {
  // auto: CORRECTED_DATA when the MS has it (a calibrated MS), else DATA.
  column: 'auto',
  size: 2048,
  weighting: 'briggs',
  robust: 0,
  niter: 1000,
  thresholdJy: 0,
  autoThresholdSigma: 3,
  gain: 0.1,
  mgain: 0.8,
  maxMajorCycles: 20,
  epsilon: 1e-4,
  wgridding: true,
  pbcor: false,
  pbCutoff: 0.1,
};

/** What the native imager reports while it runs. */
export interface ImageProgress {
  stage: 'read' | 'plan' | 'psf' | 'major' | 'restore' | 'write';
  rowsDone: number;
  rowsTotal: number;
  cycle: number;
  peakJy: number;
  thresholdJy: number;
  components: number;
}

/** The native summary (crates/imaging `ImageSummary`), as much of it as callers read. */
export interface ImageSummary {
  ms: string;
  /** The column imaged (`auto` resolved). */
  column: string;
  outputs: string[];
  size: number;
  cellArcsec: number;
  phaseCenterDeg: [number, number];
  freqHz: number;
  bandwidthHz: number;
  beam: { bmaj_deg: number; bmin_deg: number; bpa_deg: number } | null;
  visibilities: number;
  components: number;
  modelFluxJy: number;
  peakJy: number;
  rmsJy: number;
  thresholdJy: number;
  stop: string;
  majorCycles: { cycle: number; peakBeforeJy: number; peakAfterJy: number; components: number; stop: string; seconds: number }[];
  gridder: Record<string, unknown>;
  timingsS: Record<string, number>;
  warnings: string[];
}

export type ImageResult =
  | { status: 'imaged'; ms: string; prefix: string; summary: ImageSummary; registered: boolean }
  | { status: 'skipped'; ms: string; prefix: string; reason: string };

/** The timestamp an MS is named by: its file name without `.ms`. */
export function msTimestamp(ms: string): string {
  return path.basename(ms.replace(/\/+$/, '')).replace(/\.ms$/i, '');
}

/**
 * The observation date of an MS by its name: `<ts>.ms`, or `<ts>_cal.ms` for the calibrated
 * copy (ts/applycal/run.ts), whose images are named `<ts>_cal_<params>` beside the raw MS's.
 */
export function msObsDate(ms: string): UtcDate {
  return obsDateOfGroup(msTimestamp(ms).replace(/_cal$/, ''));
}

/**
 * The `<params>` part of a layout image name: what distinguishes two images of one MS. Only
 * characters that are safe in a file name, with `p` for a decimal point.
 */
export function imageParamsTag(o: ImageOptions): string {
  const num = (x: number) => String(x).replace('.', 'p');
  const w = o.weighting === 'briggs' ? `briggs${num(o.robust)}` : o.weighting;
  return [`${o.size}px`, o.cellArcsec === undefined ? undefined : `${num(o.cellArcsec)}as`, w, o.column === 'DATA' || o.column === 'auto' ? undefined : o.column.toLowerCase()]
    .filter((x) => x !== undefined)
    .join('_');
}

/**
 * Where the outputs of imaging `ms` go, as a prefix (`<prefix>.image.fits`, …): under the
 * layout `images/YYYY-MM-DD/<ms_timestamp>_<params>`, otherwise `<outputDir>/<ms name>`.
 */
export function imagePrefix(ms: string, o: ImageOptions, where: { layout: Layout } | { outputDir: string }): string {
  const ts = msTimestamp(ms);
  if ('layout' in where) {
    // Layout.imagePath names the product `<ts>_<params>.image`; our files add their suffixes.
    return where.layout.imagePath(ts, imageParamsTag(o), msObsDate(ms)).replace(/\.image$/, '');
  }
  return path.join(where.outputDir, ts);
}

export interface ImageJob {
  ms: string;
  options: ImageOptions;
  where: { layout: Layout } | { outputDir: string };
  overwrite: boolean;
  commandLine: string;
  onProgress?: (p: ImageProgress) => void;
}

const OUTPUT_SUFFIXES = ['.image.fits', '.residual.fits', '.model.fits', '.psf.fits', '.image.png', '.pb.fits', '.image.pbcor.fits'];

export async function imageJob(job: ImageJob): Promise<ImageResult> {
  const ms = path.resolve(job.ms);
  if (!existsSync(ms)) throw new ContimgError('IMAGE_MS_NOT_FOUND', `${ms}: no such Measurement Set`);
  const prefix = imagePrefix(ms, job.options, job.where);
  const image = `${prefix}.image.fits`;
  if (existsSync(image) && !job.overwrite) {
    return { status: 'skipped', ms, prefix, reason: `${image} exists (use --overwrite to replace it)` };
  }
  // Not Node's recursive mkdir: it spins forever under /proc and calls EROFS ENOENT (fsops.ts).
  makeDirs(path.dirname(prefix));
  if (job.overwrite) {
    // The restored image goes first, so that a crash part-way never leaves an old image
    // beside new residuals that a reader would take for one set.
    for (const s of OUTPUT_SUFFIXES) rmSync(`${prefix}${s}`, { force: true });
  }
  const o = job.options;
  const summary = (await callNative(() =>
    native().imageMs(
      {
        ms,
        outputPrefix: prefix,
        column: o.column,
        size: o.size,
        cellArcsec: o.cellArcsec,
        weighting: o.weighting,
        robust: o.robust,
        niter: o.niter,
        thresholdJy: o.thresholdJy,
        autoThresholdSigma: o.autoThresholdSigma,
        gain: o.gain,
        mgain: o.mgain,
        maxMajorCycles: o.maxMajorCycles,
        epsilon: o.epsilon,
        wgridding: o.wgridding,
        pbcor: o.pbcor,
        pbCutoff: o.pbCutoff,
        threads: o.threads,
        simd: o.simd,
        history: [`contimg ${version}: ${job.commandLine}`],
      },
      job.onProgress ? (p) => job.onProgress!(p as ImageProgress) : undefined,
    ),
  )) as ImageSummary;

  let registered = false;
  if ('layout' in job.where) {
    // The registries (Kysely over SQLite) load only when a layout run registers its image.
    const { msRegistered, openRegistries, productRegistered, registerProduct } = await import('../registry/index.js');
    const regs = await openRegistries(job.where.layout);
    try {
      await registerProduct(regs, {
        dataType: 'image',
        path: image,
        obsDate: msObsDate(ms),
        // Provenance: the registered MS product, or the file itself when the MS came from
        // outside the pipeline.
        inputs: (await msRegistered(regs, ms)) || (await productRegistered(regs, ms)) ? { products: [ms] } : { files: [ms] },
      });
      registered = true;
    } finally {
      await regs.close();
    }
  }
  return { status: 'imaged', ms, prefix, summary, registered };
}
