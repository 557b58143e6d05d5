/**
 * Stage 7: a primary-beam-weighted linear mosaic of a group's images. The native core does the
 * work (crates/mosaic); this module finds each image's primary beam, decides where the outputs
 * go, skips a mosaic that exists, and registers it when the pipeline layout is in use.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { callNative, native } from '../native.js';
import { ContimgError } from '../error.js';
import { makeDirs, obsDateOfGroup, type Layout } from '../layout/index.js';
import { version } from '../version.js';

/** The only combination so far: Σ B·I/σ² / Σ B²/σ². */
export const MOSAIC_METHOD = 'pbweighted';

/** How inputs are sampled between pixel centres: cubic B-spline (reproject's order='bicubic'), or bilinear. */
export const INTERPOLATIONS = ['cubic', 'bilinear'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];

export interface MosaicOptions {
  pbCutoff: number;
  /** Default cubic: bilinear loses up to ~30% of an undersampled source's peak between pixels. */
  interpolation?: Interpolation;
  cellArcsec?: number;
  /** An explicit grid: [nx, ny] pixels, optionally centred on [ra, dec] (deg). */
  size?: [number, number];
  centreDeg?: [number, number];
}

export const DEFAULT_MOSAIC_OPTIONS = { pbCutoff: 0.1, interpolation: 'cubic' } satisfies MosaicOptions;

export interface MosaicOutputs {
  mosaic: string;
  weight: string;
  noise: string;
  png: string;
}

/** The native summary (crates/mosaic `MosaicSummary`), as much of it as callers read. */
export interface MosaicSummary {
  method: string;
  interpolation: Interpolation;
  outputs: MosaicOutputs;
  nx: number;
  ny: number;
  cellArcsec: number;
  centreDeg: [number, number];
  pbCutoff: number;
  inputs: { image: string; pb: string; nx: number; ny: number; cellArcsec: number; centreDeg: [number, number]; sigmaJy: number }[];
  coveredFraction: number;
  peakJy: number;
  minNoiseJy: number;
  medianNoiseJy: number;
  timingsS: Record<string, number>;
}

export interface MosaicProgress {
  stage: 'read' | 'combine' | 'write';
  done: number;
  total: number;
}

/** `missingMs`: with a group, its MS that had no image (mosaicked with --allow-missing). */
export type MosaicResult = { ms: string; groupId: string; outputs: MosaicOutputs; missingMs?: string[] } & (
  | { status: 'mosaicked'; summary: MosaicSummary; registered: boolean }
  | { status: 'skipped'; reason: string }
  | { status: 'planned'; images: string[]; pbs: string[] }
);

/** `<prefix>.image.fits` → `<prefix>.pb.fits`, the beam `contimg image --pbcor` writes beside it. */
export function pbPathOf(image: string): string {
  if (!image.endsWith('.image.fits')) {
    throw new ContimgError('MOSAIC_INVALID_ARGUMENT', `${image}: not an imager output <prefix>.image.fits (its primary beam is found as <prefix>.pb.fits)`);
  }
  return image.replace(/\.image\.fits$/, '.pb.fits');
}

/** The group id an image list is named by when none is given: the MS timestamp its name starts with. */
export function groupIdOfImages(images: string[]): string {
  const first = path.basename(images[0] ?? '');
  const ts = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.exec(first);
  return ts ? ts[0] : first.replace(/\.image\.fits$/, '');
}

/**
 * Where the outputs go: under the layout `mosaics/YYYY-MM-DD/mosaic_<group>_<method>.fits`,
 * otherwise `<outputDir>/mosaic_<group>_<method>.fits`; the weight, noise and PNG beside it.
 */
export function mosaicOutputs(groupId: string, where: { layout: Layout } | { outputDir: string }): MosaicOutputs {
  const mosaic = 'layout' in where ? where.layout.mosaicPath(groupId, MOSAIC_METHOD) : path.join(where.outputDir, `mosaic_${groupId}_${MOSAIC_METHOD}.fits`);
  const stem = mosaic.replace(/\.fits$/, '');
  return { mosaic, weight: `${stem}.weight.fits`, noise: `${stem}.noise.fits`, png: `${stem}.png` };
}

export interface MosaicJob {
  groupId: string;
  images: string[];
  /** With a group: its MS without an image, reported in the result. */
  missingMs?: string[];
  options: MosaicOptions;
  where: { layout: Layout } | { outputDir: string };
  overwrite: boolean;
  dryRun: boolean;
  commandLine: string;
  onProgress?: (p: MosaicProgress) => void;
}

export async function mosaicJob(job: MosaicJob): Promise<MosaicResult> {
  const images = job.images.map((i) => path.resolve(i));
  const pbs = images.map(pbPathOf);
  for (const [i, image] of images.entries()) {
    if (!existsSync(image)) throw new ContimgError('FITS_NOT_FOUND', `${image}: no such image`);
    if (!existsSync(pbs[i]!)) throw new ContimgError('MOSAIC_MISSING_PB', `${image}: no primary beam beside it (${pbs[i]} is missing; image with \`contimg image --pbcor\`)`);
  }
  const outputs = mosaicOutputs(job.groupId, job.where);
  const base = { ms: job.groupId, groupId: job.groupId, outputs, ...(job.missingMs?.length ? { missingMs: job.missingMs } : {}) };
  if (existsSync(outputs.mosaic) && !job.overwrite) {
    return { status: 'skipped', ...base, reason: `${outputs.mosaic} exists (use --overwrite to replace it)` };
  }
  if (job.dryRun) return { status: 'planned', ...base, images, pbs };
  // Not Node's recursive mkdir: it spins forever under /proc and calls EROFS ENOENT (fsops.ts).
  makeDirs(path.dirname(outputs.mosaic));
  // The mosaic goes first (and is written last), so a crash never leaves an old mosaic beside
  // new maps that a reader would take for one set.
  if (job.overwrite) for (const p of [outputs.mosaic, outputs.weight, outputs.noise, outputs.png]) rmSync(p, { force: true });
  const o = job.options;
  const summary = (await callNative(() =>
    native().mosaicImages(
      {
        images,
        pbs,
        mosaicPath: outputs.mosaic,
        weightPath: outputs.weight,
        noisePath: outputs.noise,
        pngPath: outputs.png,
        pbCutoff: o.pbCutoff,
        cellArcsec: o.cellArcsec,
        size: o.size,
        centreDeg: o.centreDeg,
        interpolation: o.interpolation,
        method: MOSAIC_METHOD,
        title: `mosaic ${job.groupId} (${MOSAIC_METHOD}, ${images.length} images)`,
        history: [`contimg ${version}: ${job.commandLine}`],
      },
      job.onProgress ? (p) => job.onProgress!(p as MosaicProgress) : undefined,
    ),
  )) as MosaicSummary;

  let registered = false;
  if ('layout' in job.where) {
    // Provenance: the registered images, or the files themselves when they came from outside.
    const { registerOutputs } = await import('../registry/index.js');
    await registerOutputs(job.where.layout, [{ dataType: 'mosaic', path: outputs.mosaic }], obsDateOfGroup(job.groupId), images);
    registered = true;
  }
  return { status: 'mosaicked', ...base, summary, registered };
}
