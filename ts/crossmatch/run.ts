/**
 * Stage 8, second half: our component catalogue against a reference (a survey catalogue or the
 * simulated truth). The native core (crates/crossmatch) reads, matches and measures; this module
 * decides where the matched table and the QA report go, skips what exists, and registers both
 * when the pipeline layout is in use.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { callNative, native } from '../native.js';
import { ContimgError } from '../error.js';
import { makeDirs, type Layout } from '../layout/index.js';
import { imageObsDate } from '../sources/run.js';

export interface CrossmatchOptions {
  reference: string;
  image?: string;
  radiusArcsec: number;
  /** Jy; default `fluxLimitRms` × the catalogue's median local rms. */
  fluxLimitJy?: number;
  fluxLimitRms: number;
  refRa?: string;
  refDec?: string;
  refFlux?: string;
  refFluxUnit?: string;
  fluxRatioTolerance: number;
  completenessMin: number;
  astrometryRmsMaxArcsec: number;
  dynamicRangeMin: number;
}

export const DEFAULT_CROSSMATCH_OPTIONS = {
  radiusArcsec: 10,
  fluxLimitRms: 10,
  fluxRatioTolerance: 0.2,
  completenessMin: 0.7,
  astrometryRmsMaxArcsec: 1,
  dynamicRangeMin: 50,
} as const;

export interface QaCheck {
  name: string;
  value: number | null;
  comparison: string;
  limit: number;
  passed: boolean;
}

/** The QA report as written (crates/crossmatch `Qa`; the README documents it). */
export interface Qa {
  schema: string;
  catalog: string;
  reference: { path: string; format: string; rows: number; sources: number; skipped_rows: number; columns: Record<string, unknown> };
  image: string | null;
  radius_arcsec: number;
  flux_limit_jy: number;
  flux_limit_from: string;
  counts: { ours: number; reference: number; reference_in_footprint: number; matches: number; one_to_one: number; many_to_one: number; blends: number; ours_matched: number; reference_matched: number };
  flux_ratio: { median: number | null; robust_scatter: number | null; n: number };
  astrometry: { median_dra_arcsec: number | null; median_ddec_arcsec: number | null; rms_arcsec: number | null; n: number };
  completeness: { value: number | null; matched: number; total: number };
  reliability: { value: number | null; matched: number; total: number };
  dynamic_range: { value: number | null; peak_jy: number; rms_jy: number; from: string };
  checks: QaCheck[];
  passed: boolean;
  failed_checks: string[];
  outputs: string[];
}

export interface CrossmatchPaths {
  matches: string;
  qa: string;
}

export type CrossmatchResult =
  | { status: 'matched'; catalog: string; reference: string; paths: CrossmatchPaths; qa: Qa; passed: boolean; registered: boolean }
  | { status: 'skipped'; catalog: string; reference: string; paths: CrossmatchPaths; reason: string };

/** `x.sources.csv` → `x`; `nvss.fits` → `nvss`; `sky.truth.json` → `sky.truth`. */
function stem(file: string, suffix: RegExp): string {
  return path.basename(file).replace(suffix, '');
}

/** `<stem>.xmatch_<reference>.csv` (catalogs) and `<stem>.xmatch_<reference>.qa.json` (metadata). */
export function crossmatchPaths(catalog: string, reference: string, where: { layout: Layout } | { outputDir: string }): CrossmatchPaths {
  const name = `${stem(catalog, /(\.sources)?\.(csv|fits)$/i)}.xmatch_${stem(reference, /\.[^.]*$/)}`;
  if ('layout' in where) {
    const obsDate = imageObsDate(catalog);
    return { matches: where.layout.catalogPath(`${name}.csv`, obsDate), qa: where.layout.metadataPath(`${name}.qa.json`, obsDate) };
  }
  return { matches: path.join(where.outputDir, `${name}.csv`), qa: path.join(where.outputDir, `${name}.qa.json`) };
}

export interface CrossmatchJob {
  catalog: string;
  options: CrossmatchOptions;
  where: { layout: Layout } | { outputDir: string };
  overwrite: boolean;
}

export async function crossmatchJob(job: CrossmatchJob): Promise<CrossmatchResult> {
  const catalog = path.resolve(job.catalog);
  const reference = path.resolve(job.options.reference);
  if (!existsSync(catalog)) throw new ContimgError('CROSSMATCH_NOT_FOUND', `${catalog}: no such catalogue`);
  if (!existsSync(reference)) throw new ContimgError('CROSSMATCH_NOT_FOUND', `${reference}: no such reference catalogue`);
  const paths = crossmatchPaths(catalog, reference, job.where);
  // The QA report is written last and stands for the cross-match.
  if (existsSync(paths.qa) && !job.overwrite) {
    return { status: 'skipped', catalog, reference, paths, reason: `${paths.qa} exists (use --overwrite to replace it)` };
  }
  makeDirs(path.dirname(paths.matches));
  makeDirs(path.dirname(paths.qa));
  if (job.overwrite) rmSync(paths.qa, { force: true });
  const o = job.options;
  const qa = (await callNative(() =>
    native().crossmatch({
      catalog,
      reference,
      image: o.image ? path.resolve(o.image) : undefined,
      matchesCsv: paths.matches,
      qaJson: paths.qa,
      radiusArcsec: o.radiusArcsec,
      fluxLimitJy: o.fluxLimitJy,
      fluxLimitRms: o.fluxLimitRms,
      refRa: o.refRa,
      refDec: o.refDec,
      refFlux: o.refFlux,
      refFluxUnit: o.refFluxUnit,
      fluxRatioTolerance: o.fluxRatioTolerance,
      completenessMin: o.completenessMin,
      astrometryRmsMaxArcsec: o.astrometryRmsMaxArcsec,
      dynamicRangeMin: o.dynamicRangeMin,
    }),
  )) as Qa;

  let registered = false;
  if ('layout' in job.where) {
    const { registerOutputs } = await import('../registry/index.js');
    await registerOutputs(job.where.layout, [{ dataType: 'catalog', path: paths.matches }, { dataType: 'metadata', path: paths.qa }], imageObsDate(catalog), [catalog, reference]);
    registered = true;
  }
  return { status: 'matched', catalog, reference, paths, qa, passed: qa.passed, registered };
}

/** One line per check: `flux_ratio 0.667 (needs |value - 1| <= 0.2) FAILED`. */
export function describeChecks(qa: Qa): string[] {
  return qa.checks.map((c) => `${c.name} ${c.value === null ? 'n/a' : round(c.value)} (needs ${c.comparison.replace('value', 'x')} ${c.limit}) ${c.passed ? 'ok' : 'FAILED'}`);
}

function round(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4);
}
