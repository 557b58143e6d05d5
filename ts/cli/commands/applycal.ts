/**
 * `contimg applycal`: stage 5, caltables applied to Measurement Sets. Each MS becomes a
 * calibrated copy `<ts>_cal.ms` with CORRECTED_DATA and calibrated weights, written atomically
 * and registered when the pipeline layout is in use.
 */
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { calibratedMsPath, msKind, outputExists, registerCalibrated, runApplycal, tablesFromRegistry, type ApplySummary, type ApplyTable } from '../../applycal/run.js';
import { layoutBaseOptions, resolveLayout } from '../../layout/index.js';
import { defineCommand } from '../command.js';
import { formatBytes, progressBar } from '../progress.js';
import { failedMs, printResults, type FailedMs } from '../results.js';

type Result =
  | { status: 'calibrated'; ms: string; output: string; tables: ApplyTable[]; summary: ApplySummary; registered: boolean }
  | { status: 'skipped' | 'dry-run'; ms: string; output: string; tables: ApplyTable[]; reason: string };

export const applycalCommand = defineCommand({
  command: 'applycal <ms..>',
  describe: 'Apply calibration tables (B by nearest, G linearly in time, calwt): writes <ts>_cal.ms with CORRECTED_DATA',
  builder: (y) =>
    layoutBaseOptions(
      y
        .positional('ms', { type: 'string', array: true, demandOption: true, describe: 'Measurement Set(s) to calibrate' })
        .option('tables', { type: 'string', array: true, describe: 'Caltables to apply, in order (default: the active ones in cal_registry valid at the MS time: bandpass, gain, gain2)' })
        .option('interp', { type: 'string', array: true, choices: ['nearest', 'linear'], describe: 'Time interpolation per table of --tables (default nearest for B, linear for G)' })
        .option('calwt', { type: 'boolean', default: true, describe: "Scale the weights as CASA's calwt=True does (--no-calwt: keep them)" })
        .option('output-dir', { type: 'string', describe: 'Write <output-dir>/<ts>_cal.ms; not needed with --layout' })
        .option('layout', { type: 'boolean', default: false, describe: 'Write calibrated/ms/{science,calibrators}/YYYY-MM-DD/<ts>_cal.ms and register it; implied by --stage-base, --data-base or CONTIMG_STAGE_BASE' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'Replace an existing calibrated MS (otherwise it is skipped)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Say which tables would be applied and where the output would go' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the results as JSON' })
        .check((a) => {
          if (a.interp && (!a.tables || a.interp.length !== a.tables.length)) throw new Error('--interp needs one value per table of --tables');
          return true;
        }),
    ),
  async run(a, { io }) {
    const layout = resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] });
    if (!layout && !a['output-dir']) throw new ContimgError('INVALID_ARGUMENT', 'give --output-dir, or --layout to write to the pipeline layout');
    if (!layout && !a.tables) throw new ContimgError('INVALID_ARGUMENT', 'give --tables, or --layout to take them from cal_registry');
    const where = layout ? { layout } : { outputDir: path.resolve(a['output-dir']!) };
    const results: (Result | FailedMs)[] = [];
    for (const m of a.ms as string[]) {
      const ms = path.resolve(m);
      const name = path.basename(ms);
      const bar = progressBar(io, `applycal ${name}`, io.isTTY && !a.json);
      try {
        if (!outputExists(ms)) throw new ContimgError('CALIB_MS_NOT_FOUND', `${ms}: no such Measurement Set`);
        const tables: ApplyTable[] = a.tables
          ? a.tables.map((t, i) => ({ path: path.resolve(t), interp: a.interp?.[i] as ApplyTable['interp'] }))
          : await tablesFromRegistry(layout!, ms);
        const output = calibratedMsPath(ms, await msKind(layout, ms), where);
        if (a['dry-run']) {
          results.push({ status: 'dry-run', ms, output, tables, reason: `would apply ${tables.length} table(s) and write ${output}` });
          bar.succeed(`${name}: dry run`);
          continue;
        }
        if (outputExists(output) && !a.overwrite) {
          // The output appears only complete (atomic rename); a run killed after the rename
          // but before registering is finished here.
          if (layout) await registerCalibrated(layout, ms, output, tables);
          results.push({ status: 'skipped', ms, output, tables, reason: `${output} exists (use --overwrite to replace it)` });
          bar.succeed(`${name}: skipped`);
          continue;
        }
        let lastStage = '';
        const summary = await runApplycal({
          ms,
          output,
          tables,
          calwt: a.calwt,
          overwrite: a.overwrite,
          onProgress: (p) => {
            const f = p.total > 0 ? p.done / p.total : 0;
            const text = p.stage === 'copy' ? `copying ${formatBytes(p.done)}/${formatBytes(p.total)}` : `applying ${p.done}/${p.total} rows`;
            if (io.isTTY && !a.json) bar.update(p.stage === 'copy' ? f / 2 : 0.5 + f / 2, text);
            // Without a terminal: one line when each stage starts.
            else if (!a.json && p.stage !== lastStage) io.stderr(`${name}: ${p.stage === 'copy' ? 'copying the MS' : 'applying the tables'}\n`);
            lastStage = p.stage;
          },
        });
        let registered = false;
        if (layout) {
          await registerCalibrated(layout, ms, output, tables);
          registered = true;
        }
        bar.succeed(`${name}: ${describe(summary)}`);
        results.push({ status: 'calibrated', ms, output, tables, summary, registered });
      } catch (err) {
        results.push(failedMs(ms, name, err, bar));
      }
    }
    return printResults(io, results, a.json, (r) =>
      r.status === 'calibrated'
        ? `${r.ms}: ${describe(r.summary)}\n  ${r.output}${r.registered ? ' (registered)' : ''}\n`
        : `${r.ms}: ${r.status}, ${r.reason}\n${r.tables.map((t) => `  ${t.path}\n`).join('')}`,
    );
  },
});

function describe(s: ApplySummary): string {
  const pct = (n: number) => ((100 * n) / Math.max(1, s.samples)).toFixed(2);
  return `${s.tables.map((t) => `${t.jones} (${t.interp})`).join(' → ')}; ${s.rows} rows, flagged ${pct(s.flaggedBefore)}% → ${pct(s.flaggedAfter)}%${s.calwt ? ', calwt' : ''}, ${s.seconds.toFixed(1)} s`;
}
