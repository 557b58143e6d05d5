/**
 * `contimg image`: stage 6, a restored Stokes I image of each Measurement Set (FITS image,
 * residual, model, PSF, optional primary-beam correction, PNG quicklook).
 */
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { DEFAULT_IMAGE_OPTIONS, imageJob, type ImageOptions, type ImageProgress, type ImageResult, type Weighting } from '../../image/run.js';
import { layoutBaseOptions, resolveLayout } from '../../layout/index.js';
import { defineCommand } from '../command.js';
import type { Io } from '../io.js';
import { progressBar } from '../progress.js';
import { failedMs, printResults, type FailedMs } from '../results.js';

const D = DEFAULT_IMAGE_OPTIONS;

export const imageCommand = defineCommand({
  command: 'image <ms..>',
  describe: 'Image Measurement Sets: w-gridding, Cotton-Schwab CLEAN, restored FITS images and a PNG quicklook',
  builder: (y) =>
    layoutBaseOptions(
      y
        .positional('ms', { type: 'string', array: true, demandOption: true, describe: 'Measurement Set(s) to image' })
        .option('output-dir', { type: 'string', describe: 'Where the images go (<output-dir>/<ms name>.image.fits, …); not needed with --layout' })
        .option('layout', { type: 'boolean', default: false, describe: 'Write to the pipeline layout (images/YYYY-MM-DD/<ms_timestamp>_<params>.image…) and register the image; implied by --stage-base, --data-base or CONTIMG_STAGE_BASE' })
        .option('size', { type: 'number', default: D.size, describe: 'Image size (pixels per side, even)' })
        .option('cell-arcsec', { type: 'number', describe: 'Pixel size (arcsec); default a third of the finest fringe, 1/(3 u_max)' })
        .option('weighting', { choices: ['natural', 'uniform', 'briggs'] as const, default: D.weighting, describe: 'Visibility weighting' })
        .option('robust', { type: 'number', default: D.robust, describe: 'Briggs robustness (-2 ≈ uniform, +2 ≈ natural)' })
        .option('niter', { type: 'number', default: D.niter, describe: 'Maximum CLEAN components (0: dirty image only)' })
        .option('threshold', { type: 'number', default: D.thresholdJy, describe: 'Stop cleaning at this residual peak (Jy/beam)' })
        .option('auto-threshold', { type: 'number', default: D.autoThresholdSigma, describe: "Stop cleaning at this many times the residual's robust noise (0: off)" })
        .option('gain', { type: 'number', default: D.gain, describe: 'CLEAN loop gain' })
        .option('mgain', { type: 'number', default: D.mgain, describe: 'Major-cycle gain: a minor cycle stops once the peak fell by this fraction' })
        .option('max-major', { type: 'number', default: D.maxMajorCycles, describe: 'Maximum major cycles' })
        .option('column', { type: 'string', default: D.column, describe: 'Visibility column: auto (CORRECTED_DATA when the MS has it, else DATA), DATA, CORRECTED_DATA or MODEL_DATA' })
        .option('pbcor', { type: 'boolean', default: D.pbcor, describe: 'Also write the primary beam (.pb.fits) and the corrected image (.image.pbcor.fits)' })
        .option('pb-cutoff', { type: 'number', default: D.pbCutoff, describe: 'Blank the corrected image where the beam is below this fraction of its peak' })
        .option('epsilon', { type: 'number', default: D.epsilon, describe: 'Gridding accuracy (relative l2 error of the dirty image)' })
        .option('wgridding', { type: 'boolean', default: D.wgridding, describe: 'Correct the w-term (--no-wgridding: treat w as 0)' })
        .option('threads', { type: 'number', describe: 'Cap on native threads (default: all cores)' })
        .option('simd', { choices: ['auto', 'scalar', 'avx2', 'avx512'] as const, default: 'auto' as const, hidden: true, describe: 'Force an instruction set (testing)' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'Replace existing images (otherwise an imaged MS is skipped)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the results as JSON' })
        .check((a) => {
          for (const k of ['size', 'niter', 'max-major'] as const) {
            if (!Number.isInteger(a[k]) || a[k] < 0) throw new Error(`--${k} must be a non-negative integer (got ${a[k]})`);
          }
          if (a.size < 16 || a.size % 2 !== 0) throw new Error(`--size must be even and at least 16 (got ${a.size})`);
          if (a.threads !== undefined && (!Number.isInteger(a.threads) || a.threads < 1)) throw new Error(`--threads must be a positive integer (got ${a.threads})`);
          return true;
        }),
    ),
  async run(a, { io, commandLine }) {
    const layout = resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] });
    if (!layout && !a['output-dir']) {
      throw new ContimgError('IMAGE_INVALID_ARGUMENT', 'give --output-dir, or --layout to write to the pipeline layout');
    }
    const options: ImageOptions = {
      column: a.column,
      size: a.size,
      cellArcsec: a['cell-arcsec'],
      weighting: a.weighting as Weighting,
      robust: a.robust,
      niter: a.niter,
      thresholdJy: a.threshold,
      autoThresholdSigma: a['auto-threshold'],
      gain: a.gain,
      mgain: a.mgain,
      maxMajorCycles: a['max-major'],
      epsilon: a.epsilon,
      wgridding: a.wgridding,
      pbcor: a.pbcor,
      pbCutoff: a['pb-cutoff'],
      threads: a.threads,
      simd: a.simd,
    };
    const where = layout ? { layout } : { outputDir: path.resolve(a['output-dir']!) };
    const results: (ImageResult | FailedMs)[] = [];
    for (const ms of a.ms as string[]) {
      const name = path.basename(ms);
      const bar = progressBar(io, `imaging ${name}`, io.isTTY && !a.json);
      try {
        const r = await imageJob({
          ms,
          options,
          where,
          overwrite: a.overwrite,
          commandLine,
          onProgress: (p) => showProgress(io, a.json, bar, name, p),
        });
        if (r.status === 'skipped') bar.succeed(`${name}: skipped, ${r.reason}`);
        else bar.succeed(`${name}: ${describe(r.summary)}`);
        results.push(r);
      } catch (err) {
        results.push(failedMs(ms, name, err, bar));
      }
    }
    return printResults(io, results, a.json, (r) =>
      r.status === 'imaged'
        ? `${r.ms}: ${describe(r.summary)}\n  ${r.prefix}.image.fits${r.registered ? ' (registered)' : ''}\n${r.summary.warnings.map((w) => `  warning: ${w}\n`).join('')}`
        : `${r.ms}: skipped, ${r.reason}\n`,
    );
  },
});

function describe(s: { column?: string; size: number; cellArcsec: number; beam: { bmaj_deg: number; bmin_deg: number; bpa_deg: number } | null; peakJy: number; rmsJy: number; components: number; majorCycles: unknown[]; timingsS: Record<string, number> }): string {
  const beam = s.beam ? `beam ${(s.beam.bmaj_deg * 3600).toFixed(1)}"×${(s.beam.bmin_deg * 3600).toFixed(1)}" PA ${s.beam.bpa_deg.toFixed(0)}°` : 'no beam fit';
  return (
    `${s.column ?? 'DATA'}, ${s.size}² × ${s.cellArcsec.toFixed(2)}", ${beam}, peak ${s.peakJy.toExponential(3)} Jy/beam, rms ${s.rmsJy.toExponential(2)} Jy/beam, ` +
    `${s.components} components in ${s.majorCycles.length} major cycles, ${(s.timingsS.total ?? 0).toFixed(1)} s`
  );
}

/** One line per stage and major cycle: a bar on a terminal, plain lines on stderr otherwise. */
function showProgress(io: Io, json: boolean, bar: ReturnType<typeof progressBar>, name: string, p: ImageProgress): void {
  const text =
    p.stage === 'read'
      ? `reading ${p.rowsDone}/${p.rowsTotal} rows`
      : p.stage === 'major'
        ? `major cycle ${p.cycle}: peak ${p.peakJy.toExponential(3)} Jy/beam, threshold ${p.thresholdJy.toExponential(2)}, ${p.components} components`
        : p.stage;
  if (io.isTTY && !json) {
    bar.update(p.stage === 'read' && p.rowsTotal > 0 ? p.rowsDone / p.rowsTotal : 0, text);
  } else if (!json && p.stage !== 'read') {
    io.stderr(`${name}: ${text}\n`);
  }
}
