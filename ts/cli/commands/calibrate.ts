/**
 * `contimg calibrate`: stage 4, bandpass and gain solutions of calibrator MSs. Each MS gives
 * `<group>_bpcal` (B, solint inf, solnorm), `<group>_gpcal` (G phase-only, solint inf, on
 * B-corrected data) and `<group>_2gcal` (G phase-only, --solint, on top of both), CASA
 * caltables written atomically and registered in cal_registry when the pipeline layout is in use.
 */
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { calTablePaths, registerCalTables, runCalibrate, CALIBRATE_TABLES, type CalibrateSummary } from '../../calibrate/solve.js';
import { layoutBaseOptions, resolveLayout, type CalTableType } from '../../layout/index.js';
import { outputExists } from '../../applycal/run.js';
import { defineCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { failedMs, printResults, type FailedMs } from '../results.js';

type Result =
  | { status: 'calibrated'; ms: string; tables: Record<CalTableType, string>; summary: CalibrateSummary; registered: number }
  | { status: 'skipped' | 'dry-run'; ms: string; tables: Record<CalTableType, string>; reason: string; registered?: number };

const STAGE_TEXT = { accumulate: 'reading the visibilities', solve: 'solving B, G, G(solint)', write: 'writing the tables' } as const;

export const calibrateCommand = defineCommand({
  command: 'calibrate <ms..>',
  describe: 'Solve bandpass (B) and phase gains (G inf, G solint) on calibrator MSs by StEFCal: writes <group>_{bpcal,gpcal,2gcal} CASA caltables',
  builder: (y) =>
    layoutBaseOptions(
      y
        .positional('ms', { type: 'string', array: true, demandOption: true, describe: 'Calibrator Measurement Set(s)' })
        .option('sky', { type: 'string', describe: 'Sky model (CSV or JSON, as simulate --sky) instead of the catalogue calibrator in the field' })
        .option('calibrators', { type: 'string', describe: 'Calibrator catalogue (default data/calibrators.csv)' })
        .option('refant', { type: 'string', default: '103', describe: 'Reference antenna name; the next antenna with data is used when it has none' })
        .option('minsnr', { type: 'number', default: 3, describe: 'Flag solutions with a lower SNR' })
        .option('uvrange', { type: 'string', describe: 'Baselines to use, CASA syntax (">100m", "0.1~5klambda")' })
        .option('solint', { type: 'number', default: 60, describe: 'Solution interval of the second G table (seconds)' })
        .option('max-flagged', { type: 'number', default: 0.25, describe: 'Reject a solve with a larger fraction of flagged solutions' })
        .option('validity-hours', { type: 'number', default: 12, describe: 'Registered validity: ± this many hours around the MS mid-time' })
        .option('write-model', { type: 'boolean', default: false, describe: 'Also write the model into MODEL_DATA of the MS (in place)' })
        .option('output-dir', { type: 'string', describe: 'Write the tables in this directory; not needed with --layout' })
        .option('layout', { type: 'boolean', default: false, describe: 'Write calibrated/tables/YYYY-MM-DD/<group>_* and register them in cal_registry; implied by --stage-base, --data-base or CONTIMG_STAGE_BASE' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'Replace existing tables (otherwise the MS is skipped)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Say where the tables would go' })
        .option('json', { type: 'boolean', default: false, describe: 'Print the results as JSON' })
        .check((a) => {
          if (!(a.solint > 0)) throw new Error('--solint must be positive');
          if (!(a['max-flagged'] >= 0 && a['max-flagged'] <= 1)) throw new Error('--max-flagged must be in [0, 1]');
          if (!(a['validity-hours'] > 0)) throw new Error('--validity-hours must be positive');
          return true;
        }),
    ),
  async run(a, { io }) {
    const layout = resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] });
    if (!layout && !a['output-dir']) throw new ContimgError('INVALID_ARGUMENT', 'give --output-dir, or --layout to write to the pipeline layout');
    const where = layout ? { layout } : { outputDir: path.resolve(a['output-dir']!) };
    const results: (Result | FailedMs)[] = [];
    for (const m of a.ms as string[]) {
      const ms = path.resolve(m);
      const name = path.basename(ms);
      const bar = progressBar(io, `calibrate ${name}`, io.isTTY && !a.json);
      try {
        if (!outputExists(ms)) throw new ContimgError('CALIB_MS_NOT_FOUND', `${ms}: no such Measurement Set`);
        const tables = calTablePaths(ms, where);
        if (a['dry-run']) {
          results.push({ status: 'dry-run', ms, tables, reason: `would solve and write ${CALIBRATE_TABLES.length} tables` });
          bar.succeed(`${name}: dry run`);
          continue;
        }
        if (CALIBRATE_TABLES.every((t) => outputExists(tables[t])) && !a.overwrite) {
          // Tables appear only complete: a run killed after the last rename but before
          // registering is finished here.
          const registered = layout ? await registerCalTables(layout, ms, tables, a['validity-hours']) : 0;
          results.push({ status: 'skipped', ms, tables, reason: 'the tables exist (use --overwrite to replace them)', registered });
          bar.succeed(`${name}: skipped`);
          continue;
        }
        let lastStage = '';
        const summary = await runCalibrate({
          ms,
          tables,
          sky: a.sky,
          calibrators: a.calibrators,
          refant: a.refant,
          minSnr: a.minsnr,
          uvrange: a.uvrange,
          solintS: a.solint,
          maxFlaggedFraction: a['max-flagged'],
          writeModel: a['write-model'],
          // A killed run may have left some of the three: a rerun replaces them.
          overwrite: a.overwrite || CALIBRATE_TABLES.some((t) => outputExists(tables[t])),
          onProgress: (p) => {
            const f = p.total > 0 ? p.done / p.total : 0;
            const at = { accumulate: 0, solve: 0.8, write: 0.9 }[p.stage] + f * (p.stage === 'accumulate' ? 0.8 : 0.1);
            if (io.isTTY && !a.json) bar.update(at, STAGE_TEXT[p.stage]);
            else if (!a.json && p.stage !== lastStage) io.stderr(`${name}: ${STAGE_TEXT[p.stage]}\n`);
            lastStage = p.stage;
          },
        });
        const registered = layout ? await registerCalTables(layout, ms, tables, a['validity-hours']) : 0;
        bar.succeed(`${name}: ${describe(summary)}`);
        results.push({ status: 'calibrated', ms, tables, summary, registered });
      } catch (err) {
        results.push(failedMs(ms, name, err, bar));
      }
    }
    const tableLines = (r: Result) => CALIBRATE_TABLES.map((t) => `  ${r.tables[t]}\n`).join('');
    return printResults(io, results, a.json, (r) =>
      r.status === 'calibrated'
        ? `${r.ms}: ${describe(r.summary)}\n${tableLines(r)}${r.registered ? `  (${r.registered} registered)\n` : ''}`
        : `${r.ms}: ${r.status}, ${r.reason}\n${tableLines(r)}`,
    );
  },
});

function describe(s: CalibrateSummary): string {
  const flagged = s.tables.map((t) => `${t.jones[0]} ${(100 * t.flaggedFraction).toFixed(1)}%`).join(', ');
  return `${s.calibrator ?? `${s.sources} sources`}, refant ${s.refant}${s.refant !== s.refantRequested ? ` (requested ${s.refantRequested})` : ''}, ${s.antennas} antennas × ${s.channels} channels, flagged ${flagged}, ${s.seconds.toFixed(1)} s`;
}
