/**
 * `contimg mosaic`: stage 7, a primary-beam-weighted linear mosaic of a group's images on a
 * common TAN grid (FITS mosaic, weight and effective-noise maps, PNG quicklook). Given image
 * files, or one group id (`contimg groups`), whose images are found in the registries.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { GROUP_ID_RE, layoutBaseOptions, resolveLayout, type Layout } from '../../layout/index.js';
import { findGroupImages, requireGroupImages } from '../../mosaic/group.js';
import { DEFAULT_MOSAIC_OPTIONS, INTERPOLATIONS, groupIdOfImages, mosaicJob, type MosaicOptions, type MosaicProgress, type MosaicResult, type MosaicSummary } from '../../mosaic/run.js';
import { defineCommand } from '../command.js';
import type { Io } from '../io.js';
import { progressBar } from '../progress.js';
import { failedMs, printResults, type FailedMs } from '../results.js';

export const mosaicCommand = defineCommand({
  command: 'mosaic <images..>',
  describe: "Mosaic images, or a group's images: primary-beam-weighted (Σ B·I/σ² / Σ B²/σ²) on a common TAN grid, with weight and noise maps and a PNG",
  builder: (y) =>
    layoutBaseOptions(
      y
        .positional('images', { type: 'string', array: true, demandOption: true, describe: 'Flat-noise images <prefix>.image.fits, each with <prefix>.pb.fits beside it (contimg image --pbcor); or one group id YYYY-MM-DDTHH:MM:SS (contimg groups), whose registered images are mosaicked' })
        .option('image-params', { type: 'string', describe: "With a group: the images of this parameter tag (<ts>_<tag>.image.fits, e.g. 512px_briggs0); default each MS's newest" })
        .option('allow-missing', { type: 'boolean', default: false, describe: 'With a group: mosaic the images there are (at least 2) when some MS have none' })
        .option('group-id', { type: 'string', describe: 'Names the mosaic (mosaic_<group-id>_pbweighted.fits); default the timestamp the first image is named by' })
        .option('output-dir', { type: 'string', describe: 'Where the mosaic goes; not needed with --layout' })
        .option('layout', { type: 'boolean', default: false, describe: 'Write to the pipeline layout (mosaics/YYYY-MM-DD/mosaic_<group>_pbweighted.fits) and register it; implied by --stage-base, --data-base or CONTIMG_STAGE_BASE' })
        .option('pb-cutoff', { type: 'number', default: DEFAULT_MOSAIC_OPTIONS.pbCutoff, describe: 'An image counts where its primary beam is at least this; the mosaic is blank where none does' })
        .option('interpolation', { choices: INTERPOLATIONS, default: DEFAULT_MOSAIC_OPTIONS.interpolation, describe: 'Reprojection: cubic B-spline (as reproject order=bicubic; keeps an undersampled source\'s peak) or bilinear (loses up to ~30% of it between pixels)' })
        .option('cell-arcsec', { type: 'number', describe: "Pixel size (arcsec); default the finest input's" })
        .option('size', { type: 'number', array: true, describe: 'An explicit grid: NX NY pixels (default: covering every input)' })
        .option('centre', { type: 'number', array: true, describe: 'The grid centre: RA DEC (deg) (default: the centre of the inputs)' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing mosaic (otherwise it is skipped)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Say what would be written, write nothing' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the results as JSON' })
        .check((a) => {
          if (!(a['pb-cutoff'] > 0 && a['pb-cutoff'] <= 1)) throw new Error(`--pb-cutoff must be in (0, 1] (got ${a['pb-cutoff']})`);
          if (a['cell-arcsec'] !== undefined && !(a['cell-arcsec'] > 0)) throw new Error(`--cell-arcsec must be positive (got ${a['cell-arcsec']})`);
          if (a.size !== undefined && (a.size.length !== 2 || !a.size.every((n) => Number.isInteger(n) && n > 0))) throw new Error(`--size takes two positive integers NX NY (got ${a.size.join(' ')})`);
          if (a.centre !== undefined && (a.centre.length !== 2 || !a.centre.every(Number.isFinite) || Math.abs(a.centre[1]!) > 90)) throw new Error(`--centre takes RA DEC in degrees (got ${a.centre.join(' ')})`);
          return true;
        }),
    ),
  async run(a, { io, commandLine }) {
    const layout = resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] });
    if (!layout && !a['output-dir'] && !a['dry-run']) {
      throw new ContimgError('MOSAIC_INVALID_ARGUMENT', 'give --output-dir, or --layout to write to the pipeline layout');
    }
    const args = a.images as string[];
    const group = isGroupId(args) ? args[0]! : undefined;
    if (group !== undefined && !layout) {
      throw new ContimgError('MOSAIC_INVALID_ARGUMENT', `group ${group}: its images are found in the pipeline layout's registries; give --layout, --stage-base or --data-base`);
    }
    if (group === undefined && (a['image-params'] !== undefined || a['allow-missing'])) {
      throw new ContimgError('MOSAIC_INVALID_ARGUMENT', '--image-params and --allow-missing choose among a group\'s images; give a group id, not image files');
    }
    const groupId = group ?? a['group-id'] ?? groupIdOfImages(args);
    const options: MosaicOptions = {
      pbCutoff: a['pb-cutoff'],
      interpolation: a.interpolation,
      cellArcsec: a['cell-arcsec'],
      size: a.size as [number, number] | undefined,
      centreDeg: a.centre as [number, number] | undefined,
    };
    const where = layout ? { layout } : { outputDir: path.resolve(a['output-dir'] ?? '.') };
    const bar = progressBar(io, `mosaic ${groupId}`, io.isTTY && !a.json);
    const results: (MosaicResult | FailedMs)[] = [];
    try {
      const { images, missingMs } = group !== undefined ? await imagesOfGroup(layout!, group, a['image-params'], a['allow-missing'], io, a.json) : { images: args, missingMs: undefined };
      const r = await mosaicJob({
        groupId,
        images,
        missingMs,
        options,
        where,
        overwrite: a.overwrite,
        dryRun: a['dry-run'],
        commandLine,
        onProgress: (p) => showProgress(io, a.json, bar, groupId, p),
      });
      bar.succeed(`${groupId}: ${r.status === 'mosaicked' ? describe(r.summary) : r.status}`);
      results.push(r);
    } catch (err) {
      results.push(failedMs(groupId, groupId, err, bar));
    }
    return printResults(io, results, a.json, (r) => {
      const files = [r.outputs.mosaic, r.outputs.weight, r.outputs.noise, r.outputs.png];
      if (r.status === 'mosaicked') return `${r.groupId}: ${describe(r.summary)}\n${files.map((f, i) => `  ${f}${i === 0 && r.registered ? ' (registered)' : ''}\n`).join('')}`;
      if (r.status === 'skipped') return `${r.groupId}: skipped, ${r.reason}\n`;
      return `${r.groupId}: would mosaic ${r.images.length} images into\n${files.map((f) => `  ${f}\n`).join('')}`;
    });
  },
});

/** One argument that names no file and reads as a group id: the group form. */
function isGroupId(args: string[]): boolean {
  return args.length === 1 && GROUP_ID_RE.test(args[0]!) && !existsSync(args[0]!);
}

async function imagesOfGroup(layout: Layout, groupId: string, imageParams: string | undefined, allowMissing: boolean, io: Io, json: boolean): Promise<{ images: string[]; missingMs: string[] }> {
  const { openRegistries } = await import('../../registry/index.js');
  const regs = await openRegistries(layout, { readonly: true });
  try {
    const found = await findGroupImages(regs, layout, groupId, { imageParams });
    const images = requireGroupImages(found, allowMissing, imageParams);
    if (found.missing.length > 0 && !json) io.stderr(`${groupId}: no image of ${found.missing.length} MS, mosaicking the other ${images.length}:\n${found.missing.map((m) => `  ${m}\n`).join('')}`);
    return { images, missingMs: found.missing };
  } finally {
    await regs.close();
  }
}

function describe(s: MosaicSummary): string {
  return (
    `${s.inputs.length} images → ${s.nx}×${s.ny} × ${s.cellArcsec.toFixed(2)}" TAN at (${s.centreDeg[0].toFixed(4)}, ${s.centreDeg[1].toFixed(4)}), ` +
    `peak ${s.peakJy.toExponential(3)} Jy/beam, noise ${s.minNoiseJy.toExponential(2)} (best) ${s.medianNoiseJy.toExponential(2)} (median) Jy/beam, ${(s.timingsS.total ?? 0).toFixed(1)} s`
  );
}

/** A bar on a terminal, plain lines on stderr otherwise (one per stage, not per block). */
function showProgress(io: Io, json: boolean, bar: ReturnType<typeof progressBar>, name: string, p: MosaicProgress): void {
  const text = p.stage === 'combine' ? `combining ${p.done}/${p.total} rows` : p.stage === 'read' ? `reading ${p.total} images and beams` : 'writing';
  if (io.isTTY && !json) bar.update(p.stage === 'combine' && p.total > 0 ? p.done / p.total : 0, text);
  else if (!json && p.stage !== 'combine') io.stderr(`${name}: ${text}\n`);
}
