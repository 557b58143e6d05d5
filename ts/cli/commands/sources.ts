/**
 * `contimg sources`: stage 8's source finding — background and noise maps, islands, elliptical
 * Gaussian fits — on restored images or mosaics, into CSV and FITS catalogues.
 */
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { layoutBaseOptions, resolveLayout } from '../../layout/index.js';
import { catalogPaths, DEFAULT_SOURCES_OPTIONS, pbFor, sourcesJob, type SourcesOptions, type SourcesResult } from '../../sources/run.js';
import { defineCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { failed, printResults, type Failed } from '../results.js';

const D = DEFAULT_SOURCES_OPTIONS;

type DryRun = { status: 'dry-run'; image: string; pb: string | null; catalog: ReturnType<typeof catalogPaths> };

export const sourcesCommand = defineCommand({
  command: 'sources <images..>',
  describe: 'Find sources in restored images or mosaics: Gaussian components with errors, as CSV and FITS catalogues',
  builder: (y) =>
    layoutBaseOptions(
      y
        .positional('images', { type: 'string', array: true, demandOption: true, describe: 'FITS image(s): <prefix>.image.fits, a mosaic, …' })
        .option('output-dir', { type: 'string', describe: 'Where the catalogues go (<output-dir>/<image stem>.sources.{csv,fits}); not needed with --layout' })
        .option('layout', { type: 'boolean', default: false, describe: 'Write to the pipeline layout (products/catalogs/YYYY-MM-DD/<image stem>.sources.{csv,fits}) and register the catalogue; implied by --stage-base, --data-base or CONTIMG_STAGE_BASE' })
        .option('detect', { type: 'number', default: D.detectSigma, describe: 'Detection threshold: an island needs a pixel this many local sigma above the background' })
        .option('analysis', { type: 'number', default: D.analysisSigma, describe: 'Analysis threshold: islands grow over pixels this many sigma above the background' })
        .option('box-beams', { type: 'number', default: D.boxBeams, describe: 'Background and noise box, in restoring beams' })
        .option('max-components', { type: 'number', default: D.maxComponents, describe: 'At most this many Gaussians per island' })
        .option('pb', { type: 'string', default: D.pb, describe: 'Primary beam to divide fluxes by: a FITS file on the image grid, auto (<prefix>.pb.fits beside <prefix>.image.fits, if there) or none' })
        .option('beam', { type: 'number', array: true, describe: 'Restoring beam "MAJ MIN PA" (arcsec, arcsec, deg) for images without BMAJ/BMIN' })
        .option('maps', { type: 'boolean', default: D.maps, describe: 'Also write the background and noise maps (.bkg.fits, .rms.fits)' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'Replace existing catalogues (otherwise a catalogued image is skipped)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Say what would be written; write nothing' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the results as JSON' })
        .check((a) => {
          if (!(a.detect > 0) || !(a.analysis > 0) || a.analysis > a.detect) throw new Error(`need 0 < --analysis (${a.analysis}) <= --detect (${a.detect})`);
          if (!Number.isInteger(a['max-components']) || a['max-components'] < 1) throw new Error(`--max-components must be a positive integer (got ${a['max-components']})`);
          if (a.beam !== undefined && (a.beam.length !== 3 || a.beam.some((v) => !Number.isFinite(v)) || a.beam[0]! <= 0 || a.beam[1]! <= 0)) {
            throw new Error('--beam takes three numbers: major (arcsec), minor (arcsec), position angle (deg)');
          }
          return true;
        }),
    ),
  async run(a, { io, commandLine }) {
    const layout = resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] });
    if (!layout && !a['output-dir']) throw new ContimgError('SOURCES_INVALID_ARGUMENT', 'give --output-dir, or --layout to write to the pipeline layout');
    const options: SourcesOptions = {
      detectSigma: a.detect,
      analysisSigma: a.analysis,
      boxBeams: a['box-beams'],
      maxComponents: a['max-components'],
      pb: a.pb,
      beam: a.beam as [number, number, number] | undefined,
      maps: a.maps,
    };
    const where = layout ? { layout } : { outputDir: path.resolve(a['output-dir']!) };
    const results: (SourcesResult | DryRun | Failed<'image'>)[] = [];
    for (const image of a.images as string[]) {
      const name = path.basename(image);
      const bar = progressBar(io, `finding sources in ${name}`, io.isTTY && !a.json);
      try {
        if (a['dry-run']) {
          const abs = path.resolve(image);
          results.push({ status: 'dry-run', image: abs, pb: pbFor(abs, options.pb), catalog: catalogPaths(abs, options, where) });
          bar.succeed(`${name}: would write ${catalogPaths(abs, options, where).csv}`);
          continue;
        }
        const r = await sourcesJob({ image, options, where, overwrite: a.overwrite, commandLine });
        bar.succeed(r.status === 'found' ? `${name}: ${describe(r)}` : `${name}: skipped, ${r.reason}`);
        results.push(r);
      } catch (err) {
        results.push(failed('image', path.resolve(image), name, err, bar));
      }
    }
    return printResults(
      io,
      results,
      a.json,
      (r) =>
        r.status === 'found'
          ? `${r.image}: ${describe(r)}\n  ${r.catalog.csv}${r.registered ? ' (registered)' : ''}\n`
          : r.status === 'dry-run'
            ? `${r.image}: would write ${r.catalog.csv} and ${r.catalog.fits}${r.pb ? ` (fluxes over the primary beam ${r.pb})` : ''}\n`
            : `${r.image}: skipped, ${r.reason}\n`,
      'image',
    );
  },
});

function describe(r: Extract<SourcesResult, { status: 'found' }>): string {
  const s = r.summary;
  return (
    `${s.components} components in ${s.islands} islands (${s.resolved} resolved), median rms ${s.medianRmsJy.toExponential(2)} Jy/beam, ` +
    `brightest ${s.peakJy.toExponential(3)} Jy/beam${s.pbCorrected ? ' (primary-beam corrected)' : ''}, ${Object.values(s.timingsS).reduce((x, y) => x + y, 0).toFixed(1)} s`
  );
}
