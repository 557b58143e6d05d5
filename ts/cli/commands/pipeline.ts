/**
 * `contimg pipeline`: stages 1–9 on the arrival of data, unattended (ts/pipeline/run.ts). With
 * --once it processes everything present, including what its own stages create, and exits 0
 * when nothing is left to do or 1 when any job failed; without, it watches for more.
 */
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { DEFAULT_IMAGE_OPTIONS } from '../../image/run.js';
import { layoutBaseOptions, openLayout } from '../../layout/index.js';
import { runPipeline } from '../../pipeline/run.js';
import { STAGE_DESCRIPTIONS, STAGES, type StageSwitches } from '../../pipeline/stages.js';
import { defineCommand } from '../command.js';

export const pipelineCommand = defineCommand({
  command: 'pipeline',
  describe: 'Run stages 1–9 on arriving data: convert, group, flag, calibrate, apply, image, mosaic, find sources, QA, publish',
  builder: (y) => {
    let b = layoutBaseOptions(
      y
        .option('input-dir', { type: 'string', demandOption: true, describe: 'Where the UVH5 subband files arrive' })
        .option('once', { type: 'boolean', default: false, describe: 'Process everything present (and what the stages make of it), then exit: 0 when nothing is left, 1 when a job failed' })
        .option('poll-s', { type: 'number', default: 30, describe: 'Seconds between looks at the input and the registries when idle' })
        .option('settle-s', { type: 'number', default: 10, describe: 'A subband file joins once unchanged for this many seconds (not with --once)' })
        .option('expected-subbands', { type: 'number', default: 16, describe: 'Subbands per group: a group converts once all have arrived' })
        .option('group-size', { type: 'number', default: 10, describe: 'MS per group (stage 3)' })
        .option('group-overlap', { type: 'number', default: 2, describe: 'MS shared by consecutive groups (stage 3)' })
        .option('image-size', { type: 'number', default: DEFAULT_IMAGE_OPTIONS.size, describe: 'Image size in pixels (stage 6)' })
        .option('image-cell-arcsec', { type: 'number', describe: 'Image pixel size (arcsec; default: the imager’s)' })
        .option('calibrators', { type: 'string', describe: 'Calibrator catalogue for grouping and solving (default data/calibrators.csv)' })
        .option('reference', { type: 'string', describe: 'Reference catalogue for QA (NVSS/FIRST/RACS style, or a simulation truth file)' })
        .option('convert-arg', { type: 'string', array: true, hidden: true, describe: 'Extra arguments for contimg convert (testing)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON at the end' }),
    );
    for (const s of STAGES) {
      b = b
        .option(`enable-${s}`, { type: 'boolean', default: false, describe: `Run ${STAGE_DESCRIPTIONS[s]} (the default)` })
        .option(`disable-${s}`, { type: 'boolean', default: false, describe: `Skip ${STAGE_DESCRIPTIONS[s]}` });
    }
    return b.check((a) => {
      for (const k of ['expected-subbands', 'group-size', 'image-size'] as const) {
        if (!Number.isInteger(a[k]) || a[k] < 1) throw new Error(`--${k} must be a positive integer (got ${a[k]})`);
      }
      for (const s of STAGES) if (a[`enable-${s}`] && a[`disable-${s}`]) throw new Error(`--enable-${s} and --disable-${s} contradict each other`);
      return true;
    });
  },
  async run(a, { io }) {
    if (!a['stage-base'] && !a['data-base'] && !process.env.CONTIMG_STAGE_BASE) {
      throw new ContimgError('PIPELINE_INVALID_ARGUMENT', 'give --stage-base and --data-base (or CONTIMG_STAGE_BASE): the pipeline writes the layout');
    }
    const layout = openLayout({ stageBase: a['stage-base'], dataBase: a['data-base'] });
    const args = a as unknown as Record<string, boolean>;
    const stages = Object.fromEntries(STAGES.map((s) => [s, !args[`disable-${s}`]])) as StageSwitches;
    let stop = false;
    const onSignal = () => {
      stop = true;
      io.stderr('pipeline: stopping after the current job\n');
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const report = await runPipeline({
        inputDir: path.resolve(a['input-dir']),
        layout,
        stages,
        once: a.once,
        pollS: a['poll-s'],
        settleS: a['settle-s'],
        expectedSubbands: a['expected-subbands'],
        groupSize: a['group-size'],
        groupOverlap: a['group-overlap'],
        image: { size: a['image-size'], cellArcsec: a['image-cell-arcsec'] },
        convertArgs: a['convert-arg'] ?? [],
        calibrators: a.calibrators,
        reference: a.reference,
        log: (line) => io.stderr(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
        stopping: () => stop,
      });
      if (a.json) io.stdout(JSON.stringify(report, null, 2) + '\n');
      else {
        for (const [s, r] of Object.entries(report.stages)) {
          if (r.ran || r.failed || r.waiting) io.stdout(`${s}: ${r.ran} run, ${r.failed} failed${r.waiting ? `, ${r.waiting} waiting for inputs` : ''}\n`);
        }
        for (const f of report.failures) io.stdout(`failed: ${f.job} [${f.code}] ${f.message}\n  ${f.log}\n`);
      }
      return report.failures.length > 0 ? 1 : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});
