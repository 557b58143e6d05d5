/**
 * `contimg crossmatch`: stage 8's QA — our source catalogue against a reference catalogue
 * (NVSS/FIRST/RACS-style FITS, CSV or VOTable, or the simulated truth), into a matched table
 * and a QA report with pass/fail checks.
 */
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { layoutBaseOptions, resolveLayout } from '../../layout/index.js';
import { crossmatchJob, crossmatchPaths, DEFAULT_CROSSMATCH_OPTIONS, describeChecks, type CrossmatchOptions, type CrossmatchResult } from '../../crossmatch/run.js';
import { defineCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { failed, printResults, type Failed } from '../results.js';

const D = DEFAULT_CROSSMATCH_OPTIONS;

type DryRun = { status: 'dry-run'; catalog: string; reference: string; paths: ReturnType<typeof crossmatchPaths> };

export const crossmatchCommand = defineCommand({
  command: 'crossmatch <catalogs..>',
  describe: 'Cross-match source catalogues against a reference (FITS table, CSV, VOTable or simulated truth) and report QA metrics',
  builder: (y) =>
    layoutBaseOptions(
      y
        .positional('catalogs', { type: 'string', array: true, demandOption: true, describe: 'Catalogue(s) written by contimg sources: <stem>.sources.csv or .sources.fits' })
        .option('ref', { type: 'string', demandOption: true, describe: 'Reference catalogue: FITS binary table, CSV, VOTable (TABLEDATA), or a truth.json from contimg simulate' })
        .option('image', { type: 'string', describe: 'The image the catalogue came from: its finite pixels are the footprint, and its pixels give the dynamic range' })
        .option('radius', { type: 'number', default: D.radiusArcsec, describe: 'Match radius, arcsec' })
        .option('flux-limit', { type: 'number', describe: 'Flux limit (Jy) for completeness, reliability and the flux and position statistics; default --flux-limit-rms × the median local rms' })
        .option('flux-limit-rms', { type: 'number', default: D.fluxLimitRms, describe: 'The default flux limit, in units of the catalogue\'s median local rms' })
        .option('ref-ra', { type: 'string', describe: 'The reference\'s RA column (default: the first of ra_deg, RAJ2000, _RAJ2000, RA, …)' })
        .option('ref-dec', { type: 'string', describe: 'The reference\'s Dec column (default: the first of dec_deg, DEJ2000, _DEJ2000, DEC, …)' })
        .option('ref-flux', { type: 'string', describe: 'The reference\'s flux column (default: the first of flux_jy, int_jy, total_flux_source, S1.4, Fint, …, peak_flux, Fpeak)' })
        .option('ref-flux-unit', { type: 'string', describe: 'Unit of the reference flux (Jy, mJy, uJy; /beam ignored), overriding TUNIT / the VOTable unit / the survey convention' })
        .option('max-flux-error', { type: 'number', default: D.fluxRatioTolerance, describe: 'QA: |median flux ratio (ours/reference) − 1| at most this' })
        .option('min-completeness', { type: 'number', default: D.completenessMin, describe: 'QA: completeness at least this' })
        .option('max-offset-rms', { type: 'number', default: D.astrometryRmsMaxArcsec, describe: 'QA: astrometric rms offset at most this, arcsec' })
        .option('min-dynamic-range', { type: 'number', default: D.dynamicRangeMin, describe: 'QA: dynamic range at least this' })
        .option('fail-on-qa', { type: 'boolean', default: false, describe: 'Exit 1 when a QA check fails (by default a cross-match that ran exits 0 and reports "passed": false)' })
        .option('output-dir', { type: 'string', describe: 'Where the matched table and QA report go; not needed with --layout' })
        .option('layout', { type: 'boolean', default: false, describe: 'Write to the pipeline layout (products/catalogs/YYYY-MM-DD/<stem>.xmatch_<ref>.csv, products/metadata/YYYY-MM-DD/<stem>.xmatch_<ref>.qa.json) and register both; implied by --stage-base, --data-base or CONTIMG_STAGE_BASE' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing cross-match (otherwise it is skipped)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Say what would be written; write nothing' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the results as JSON' })
        .check((a) => {
          if (!(a.radius > 0)) throw new Error(`--radius must be positive (got ${a.radius})`);
          if (a['flux-limit'] !== undefined && !(a['flux-limit'] >= 0)) throw new Error(`--flux-limit must be a non-negative number of Jy (got ${a['flux-limit']})`);
          for (const k of ['flux-limit-rms', 'max-flux-error', 'min-completeness', 'max-offset-rms', 'min-dynamic-range'] as const) {
            if (!(a[k] >= 0)) throw new Error(`--${k} must be a non-negative number (got ${a[k]})`);
          }
          return true;
        }),
    ),
  async run(a, { io }) {
    const layout = resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] });
    if (!layout && !a['output-dir']) throw new ContimgError('CROSSMATCH_INVALID_ARGUMENT', 'give --output-dir, or --layout to write to the pipeline layout');
    const options: CrossmatchOptions = {
      reference: a.ref,
      image: a.image,
      radiusArcsec: a.radius,
      fluxLimitJy: a['flux-limit'],
      fluxLimitRms: a['flux-limit-rms'],
      refRa: a['ref-ra'],
      refDec: a['ref-dec'],
      refFlux: a['ref-flux'],
      refFluxUnit: a['ref-flux-unit'],
      fluxRatioTolerance: a['max-flux-error'],
      completenessMin: a['min-completeness'],
      astrometryRmsMaxArcsec: a['max-offset-rms'],
      dynamicRangeMin: a['min-dynamic-range'],
    };
    const where = layout ? { layout } : { outputDir: path.resolve(a['output-dir']!) };
    const results: (CrossmatchResult | DryRun | Failed<'catalog'>)[] = [];
    for (const catalog of a.catalogs as string[]) {
      const name = path.basename(catalog);
      const bar = progressBar(io, `cross-matching ${name}`, io.isTTY && !a.json);
      try {
        if (a['dry-run']) {
          const paths = crossmatchPaths(path.resolve(catalog), path.resolve(a.ref), where);
          results.push({ status: 'dry-run', catalog: path.resolve(catalog), reference: path.resolve(a.ref), paths });
          bar.succeed(`${name}: would write ${paths.matches} and ${paths.qa}`);
          continue;
        }
        const r = await crossmatchJob({ catalog, options, where, overwrite: a.overwrite });
        bar.succeed(r.status === 'matched' ? `${name}: QA ${r.passed ? 'passed' : 'FAILED'}` : `${name}: skipped, ${r.reason}`);
        results.push(r);
      } catch (err) {
        results.push(failed('catalog', path.resolve(catalog), name, err, bar));
      }
    }
    const code = printResults(
      io,
      results,
      a.json,
      (r) =>
        r.status === 'matched'
          ? describe(r)
          : r.status === 'dry-run'
            ? `${r.catalog}: would write ${r.paths.matches} and ${r.paths.qa}\n`
            : `${r.catalog}: skipped, ${r.reason}\n`,
      'catalog',
    );
    const qaFailed = results.some((r) => r.status === 'matched' && !r.passed);
    return code !== 0 ? code : a['fail-on-qa'] && qaFailed ? 1 : 0;
  },
});

function describe(r: Extract<CrossmatchResult, { status: 'matched' }>): string {
  const q = r.qa;
  const c = q.counts;
  const f = (v: number | null, d = 3) => (v === null ? 'n/a' : v.toFixed(d));
  return (
    `${r.catalog} against ${r.reference}: QA ${q.passed ? 'passed' : `FAILED (${q.failed_checks.join(', ')})`}\n` +
    `  ${c.matches} matches of ${c.ours} components and ${c.reference} reference sources (${c.one_to_one} one-to-one, ${c.many_to_one} split, ${c.blends} blends) within ${q.radius_arcsec}″\n` +
    `  flux ratio ${f(q.flux_ratio.median)} ± ${f(q.flux_ratio.robust_scatter)} (${q.flux_ratio.n} above ${q.flux_limit_jy.toExponential(2)} Jy), ` +
    `offset ΔRA·cosδ ${f(q.astrometry.median_dra_arcsec, 2)}″ ΔDec ${f(q.astrometry.median_ddec_arcsec, 2)}″ rms ${f(q.astrometry.rms_arcsec, 2)}″\n` +
    `  completeness ${f(q.completeness.value)} (${q.completeness.matched}/${q.completeness.total}), reliability ${f(q.reliability.value)} (${q.reliability.matched}/${q.reliability.total}), dynamic range ${f(q.dynamic_range.value, 0)}\n` +
    describeChecks(q).map((l) => `  ${l}\n`).join('') +
    `  ${r.paths.matches}\n  ${r.paths.qa}${r.registered ? ' (registered)' : ''}\n`
  );
}
