/**
 * Stage 8, source finding: one restored image (or mosaic) into a component catalogue. The
 * native core does the work (crates/sources); this module decides where the catalogue goes,
 * finds the primary beam beside an image, skips what exists, and registers the catalogue when
 * the pipeline layout is in use.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { callNative, native } from '../native.js';
import { ContimgError } from '../error.js';
import { isUtcDateName, makeDirs, timestampInName, obsDateOfGroup, type Layout, type UtcDate } from '../layout/index.js';
import { version } from '../version.js';

export interface SourcesOptions {
  detectSigma: number;
  analysisSigma: number;
  boxBeams: number;
  maxComponents: number;
  /** A primary-beam image to divide fluxes by; `auto`: `<prefix>.pb.fits` beside `<prefix>.image.fits`, if there; `none`. */
  pb: string;
  /** [major arcsec, minor arcsec, PA deg] for an image without BMAJ/BMIN. */
  beam?: [number, number, number];
  maps: boolean;
}

export const DEFAULT_SOURCES_OPTIONS: SourcesOptions = {
  detectSigma: 5,
  analysisSigma: 3,
  boxBeams: 20,
  maxComponents: 8,
  pb: 'auto',
  maps: false,
};

/** The native summary (crates/sources `SourcesSummary`). */
export interface SourcesSummary {
  image: string;
  components: number;
  islands: number;
  resolved: number;
  beamArcsec: [number, number, number];
  medianRmsJy: number;
  peakJy: number;
  detectSigma: number;
  analysisSigma: number;
  pbCorrected: boolean;
  outputs: string[];
  timingsS: Record<string, number>;
}

export interface CatalogPaths {
  csv: string;
  fits: string;
  maps?: string;
}

export type SourcesResult =
  | { status: 'found'; image: string; pb: string | null; catalog: CatalogPaths; summary: SourcesSummary; registered: boolean }
  | { status: 'skipped'; image: string; catalog: CatalogPaths; reason: string };

/** `x.image.fits` → `x`, `mosaic_…_pbweighted.fits` → `mosaic_…_pbweighted`. */
export function imageStem(image: string): string {
  return path.basename(image).replace(/(\.image)?(\.pbcor)?\.fits$/i, '');
}

/** The observation date of an image: its layout directory, else the timestamp in its name. */
export function imageObsDate(image: string): UtcDate {
  const dir = path.basename(path.dirname(path.resolve(image)));
  if (isUtcDateName(dir)) return dir as UtcDate;
  const ts = timestampInName(path.basename(image));
  if (!ts) throw new ContimgError('SOURCES_INVALID_ARGUMENT', `${image}: no observation date in its directory or name; use --output-dir`);
  return obsDateOfGroup(ts);
}

export function catalogPaths(image: string, o: SourcesOptions, where: { layout: Layout } | { outputDir: string }): CatalogPaths {
  const stem = imageStem(image);
  const csv = 'layout' in where ? where.layout.catalogPath(`${stem}.sources.csv`, imageObsDate(image)) : path.join(where.outputDir, `${stem}.sources.csv`);
  const base = csv.replace(/\.csv$/, '');
  return { csv, fits: `${base}.fits`, maps: o.maps ? base : undefined };
}

/** The primary beam to use: given, found beside the image (`auto`), or none. */
export function pbFor(image: string, pb: string): string | null {
  if (pb === 'none') return null;
  if (pb !== 'auto') {
    if (!existsSync(pb)) throw new ContimgError('SOURCES_PB_NOT_FOUND', `${pb}: no such primary-beam image`);
    return path.resolve(pb);
  }
  const beside = image.replace(/\.image\.fits$/i, '.pb.fits');
  return beside !== image && existsSync(beside) ? path.resolve(beside) : null;
}

export interface SourcesJob {
  image: string;
  options: SourcesOptions;
  where: { layout: Layout } | { outputDir: string };
  overwrite: boolean;
  commandLine: string;
}

export async function sourcesJob(job: SourcesJob): Promise<SourcesResult> {
  const image = path.resolve(job.image);
  if (!existsSync(image)) throw new ContimgError('FITS_NOT_FOUND', `${image}: no such image`);
  const catalog = catalogPaths(image, job.options, job.where);
  if (existsSync(catalog.csv) && !job.overwrite) {
    return { status: 'skipped', image, catalog, reason: `${catalog.csv} exists (use --overwrite to replace it)` };
  }
  const pb = pbFor(image, job.options.pb);
  makeDirs(path.dirname(catalog.csv));
  // The CSV is written last and stands for the catalogue: remove it first, so that a crash
  // part-way never leaves an old CSV beside a new FITS table.
  if (job.overwrite) rmSync(catalog.csv, { force: true });
  const o = job.options;
  const summary = (await callNative(() =>
    native().findSources({
      image,
      pb: pb ?? undefined,
      csv: catalog.csv,
      fits: catalog.fits,
      mapsPrefix: catalog.maps,
      detectSigma: o.detectSigma,
      analysisSigma: o.analysisSigma,
      boxBeams: o.boxBeams,
      maxComponents: o.maxComponents,
      beam: o.beam,
      history: [`contimg ${version}: ${job.commandLine}`],
    }),
  )) as SourcesSummary;

  let registered = false;
  if ('layout' in job.where) {
    const { registerOutputs } = await import('../registry/index.js');
    await registerOutputs(job.where.layout, [{ dataType: 'catalog', path: catalog.fits }, { dataType: 'catalog', path: catalog.csv }], imageObsDate(image), [image]);
    registered = true;
  }
  return { status: 'found', image, pb, catalog, summary, registered };
}
