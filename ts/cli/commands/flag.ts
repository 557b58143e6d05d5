/**
 * `contimg flag`: stage 4's RFI flagging of Measurement Sets in place — autocorrelations,
 * quack, band edges, then AOFlagger-style SumThreshold and SIR. FLAG is replaced atomically
 * (a kill leaves the old FLAG or the new one). The MS is changed where it is, so there are no
 * output-location flags.
 */
import path from 'node:path';
import { describeFlag, runFlag, type FlagSummary } from '../../flag/run.js';
import { defineCommand } from '../command.js';
import { progressBar } from '../progress.js';
import { failedMs, printResults, type FailedMs } from '../results.js';

type Result = { status: 'flagged' | 'dry-run'; ms: string; summary: FlagSummary };

const STAGE_TEXT = { read: 'reading DATA and FLAG', sumthreshold: 'finding RFI', write: 'writing FLAG' } as const;

export const flagCommand = defineCommand({
  command: 'flag <ms..>',
  describe: 'Flag RFI in Measurement Sets in place (autocorrelations, quack, band edges, SumThreshold + SIR)',
  builder: (y) =>
    y
      .positional('ms', { type: 'string', array: true, demandOption: true, describe: 'Measurement Set(s) to flag' })
      .option('autocorr', { type: 'boolean', default: true, describe: 'Flag autocorrelations (--no-autocorr: keep them)' })
      .option('quack', { type: 'boolean', default: true, describe: 'Flag the first and last integration (--no-quack: keep them)' })
      .option('edge-channels', { type: 'number', default: 0, describe: 'Channels to flag at each end of every spectral window' })
      .option('rfi', { type: 'boolean', default: true, describe: 'Run SumThreshold, the cross-baseline statistics and SIR (--no-rfi: only the steps above)' })
      .option('threshold', { type: 'number', default: 6, describe: 'SumThreshold single-sample threshold chi_1, in robust sigma' })
      .option('rho', { type: 'number', default: 1.5, describe: 'SumThreshold threshold fall-off: chi_M = chi_1 / rho^log2(M)' })
      .option('iterations', { type: 'number', default: 3, describe: 'Background + SumThreshold iterations (sensitivity doubles each)' })
      .option('sir-eta', { type: 'number', default: 0.2, describe: 'Scale-invariant rank operator eta (0: off)' })
      .option('smooth-time', { type: 'number', default: 1, describe: 'Background box half-width in integrations (applied twice)' })
      .option('smooth-chan', { type: 'number', default: 4, describe: 'Background box half-width in channels (applied twice)' })
      .option('antenna-noise-ratio', { type: 'number', default: 1.5, describe: "Flag an antenna whose baselines' median noise exceeds the array's by this factor" })
      .option('force', { type: 'boolean', default: false, describe: 'Flag again even if the MS was already flagged with these settings (a rerun is otherwise a no-op)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Compute and report the flags; write nothing' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the results as JSON' })
      .check((a) => {
        if (!Number.isInteger(a['edge-channels']) || a['edge-channels'] < 0) throw new Error(`--edge-channels must be a non-negative integer (got ${a['edge-channels']})`);
        for (const k of ['smooth-time', 'smooth-chan'] as const) if (!Number.isInteger(a[k]) || a[k] < 0) throw new Error(`--${k} must be a non-negative integer (got ${a[k]})`);
        if (!Number.isInteger(a.iterations) || a.iterations < 1) throw new Error(`--iterations must be a positive integer (got ${a.iterations})`);
        return true;
      }),
  async run(a, { io }) {
    const results: (Result | FailedMs)[] = [];
    for (const m of a.ms as string[]) {
      const ms = path.resolve(m);
      const name = path.basename(ms);
      const bar = progressBar(io, `flag ${name}`, io.isTTY && !a.json);
      let lastStage = '';
      try {
        const summary = await runFlag(
          {
            ms,
            autocorr: a.autocorr,
            quack: a.quack,
            edgeChannels: a['edge-channels'],
            rfi: a.rfi,
            threshold: a.threshold,
            rho: a.rho,
            iterations: a.iterations,
            sirEta: a['sir-eta'],
            smoothTime: a['smooth-time'],
            smoothChan: a['smooth-chan'],
            antennaNoiseRatio: a['antenna-noise-ratio'],
            dryRun: a['dry-run'],
            force: a.force,
          },
          (p) => {
            const f = p.total > 0 ? p.done / p.total : 0;
            const span = { read: [0, 0.6], sumthreshold: [0.6, 0.8], write: [0.8, 1] }[p.stage];
            if (io.isTTY && !a.json) bar.update(span[0]! + f * (span[1]! - span[0]!), STAGE_TEXT[p.stage]);
            // Without a terminal: one line when each stage starts.
            else if (!a.json && p.stage !== lastStage) io.stderr(`${name}: ${STAGE_TEXT[p.stage]}\n`);
            lastStage = p.stage;
          },
        );
        bar.succeed(`${name}: ${describeFlag(summary)}`);
        results.push({ status: a['dry-run'] ? 'dry-run' : 'flagged', ms, summary });
      } catch (err) {
        results.push(failedMs(ms, name, err, bar));
      }
    }
    return printResults(io, results, a.json, (r) => `${r.ms}: ${describeFlag(r.summary)}\n`);
  },
});
