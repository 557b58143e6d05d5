/**
 * `contimg convert`: the one-shot batch converter. Files or a directory of subband groups in,
 * one MeasurementSet per group out; a failed group is reported and the others continue.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Listr } from 'listr2';
import type { Argv } from 'yargs';
import { ContimgError, asContimgError } from '../../error.js';
import {
  DEFAULT_EXPECTED_SUBBANDS,
  DEFAULT_GROUP_TOLERANCE_S,
  formGroups,
  missingSubbands,
  parseSubbandName,
  parseUtc,
  subbandLabel,
  type SubbandFile,
} from '../../groups.js';
import { checkOutputArgs, outputFromArgs, type Completion, type GroupOutput, type GroupPlacement } from '../../convert/output.js';
import { convertJob, type ConvertRunResult } from '../../convert/run.js';
import { DEFAULT_TMPFS_PATH, decideStaging, estimateMsBytes } from '../../convert/staging.js';
import { layoutWriterOptions } from '../../layout/index.js';
import type { ConvertJob, ConvertOptions, ConvertProgress, StagingOptions } from '../../convert/types.js';
import { createLogger, type Logger } from '../../log.js';
import { defineCommand, type ArgsOf } from '../command.js';
import type { Io } from '../io.js';
import { bar, formatBytes } from '../progress.js';
import { inspectUvh5 } from './inspect.js';

/** The conversion options shared by `convert` and `stream`, with their seed defaults. */
export function convertOptions<T>(y: Argv<T>) {
  return y
    .option('phase-mode', { choices: ['meridian', 'per-integration'] as const, default: 'meridian' as const, describe: 'One FIELD at the meridian (data rotated), or one FIELD per integration (old pipeline)' })
    .option('phase-center', { type: 'string', describe: 'Explicit phase centre RA_DEG,DEC_DEG (ICRS)' })
    .option('spw-per-subband', { type: 'boolean', default: false, describe: '16 spectral windows instead of one' })
    .option('allow-missing', { type: 'boolean', default: false, describe: 'Convert groups with missing subbands, their channels flagged' })
    .option('imaging-columns', { type: 'boolean', default: false, describe: 'Add MODEL_DATA and CORRECTED_DATA' })
    .option('expected-subbands', { type: 'number', default: DEFAULT_EXPECTED_SUBBANDS, describe: 'Subbands per group' })
    .option('uvw-convention', { choices: ['auto', 'ant2-ant1', 'ant1-ant2'] as const, default: 'auto' as const, describe: 'Sign of the stored uvw (auto: detect from antenna positions)' })
    .option('input-phase', {
      choices: ['auto', 'stored-uvw', 'zero'] as const,
      default: 'auto' as const,
      describe: "Phase already in the data: the stored uvw's w (stored-uvw: DSA-110), none (zero: pyuvdata's reading of drift data), or auto: stored-uvw for DSA-110 files, zero for other drift files",
    })
    .option('threads', { type: 'number', describe: 'Cap on native threads (default: all cores)' })
    .option('chunk-integrations', { type: 'number', describe: 'Integrations per streamed block (default: from a memory budget)' })
    .option('group-tolerance', { type: 'number', default: DEFAULT_GROUP_TOLERANCE_S, describe: 'Subbands within this many seconds form one group' })
    .option('tmpfs-path', { type: 'string', default: DEFAULT_TMPFS_PATH, describe: 'tmpfs to build in when it has room' })
    .option('staging', { choices: ['auto', 'tmpfs', 'in-place'] as const, default: 'auto' as const, describe: 'Where to build the MS: auto (in place on a local file system, tmpfs on a network one), tmpfs (when it has room), in-place' })
    .option('tmpfs', { type: 'boolean', default: true, describe: '--no-tmpfs: never build in tmpfs (same as --staging in-place)' })
    .option('scratch-dir', { type: 'string', describe: 'Fast local storage to build in when tmpfs lacks room' })
    .option('keep-temp', { type: 'boolean', default: false, describe: 'Keep temporary directories (debugging)' });
}

/** What yargs parses from {@link convertOptions}: inferred, so the options are the one source. */
export type ConvertArgs = ArgsOf<typeof convertOptions<object>>;

export function toConvertOptions(a: ConvertArgs): ConvertOptions {
  let phaseCenter: ConvertOptions['phaseCenter'];
  if (a['phase-center'] !== undefined) {
    const parts = a['phase-center'].split(',').map((x) => Number(x.trim()));
    if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x))) {
      throw new ContimgError('CONVERT_INVALID_ARGUMENT', `--phase-center '${a['phase-center']}' is not RA_DEG,DEC_DEG`);
    }
    phaseCenter = { raDeg: parts[0]!, decDeg: parts[1]! };
  }
  return {
    phaseMode: a['phase-mode'],
    phaseCenter,
    spwPerSubband: a['spw-per-subband'],
    allowMissing: a['allow-missing'],
    imagingColumns: a['imaging-columns'],
    expectedSubbands: a['expected-subbands'],
    threads: a.threads,
    chunkIntegrations: a['chunk-integrations'],
    uvwConvention: a['uvw-convention'],
    inputPhase: a['input-phase'],
  };
}

export function toStagingOptions(a: ConvertArgs): StagingOptions {
  return { tmpfsPath: a['tmpfs-path'], mode: a.staging, noTmpfs: !a.tmpfs, scratchDir: a['scratch-dir'], keepTemp: a['keep-temp'] };
}

/** What the pipeline layout adds to a group's result: its kind, and what happened around it. */
export interface LayoutFacts {
  kind?: GroupPlacement['kind'];
  calibrator?: string;
  registered?: boolean;
  legacyLink?: string | null;
}

export interface FailedGroup {
  groupId: string;
  error: { code: string; message: string };
  /** `workspace/failed/YYYY-MM-DD/conversion-<group>_error.log` (pipeline layout). */
  errorLog?: string;
}

export type GroupResult = (ConvertRunResult & LayoutFacts) | FailedGroup;

function layoutFacts(p: GroupPlacement, done: Completion): LayoutFacts {
  if (!p.kind) return {};
  return { kind: p.kind, calibrator: p.calibrator?.name, registered: done.registered || !!done.alreadyRegistered, legacyLink: done.legacyLink };
}

/** A group of inputs to convert, with what a dry run reports about it. */
export interface PlannedGroup {
  groupId: string;
  inputs: SubbandFile[];
  missing: number[];
  expected: number;
}

/** Turns the command's file arguments or input directory into groups. */
export function collectGroups(files: string[], inputDir: string | undefined, expected: number, toleranceS: number, startMs?: number, endMs?: number): { groups: PlannedGroup[]; notes: string[] } {
  const notes: string[] = [];
  const subbandFiles: SubbandFile[] = [];
  const singles: PlannedGroup[] = [];
  const consider = (p: string, fromDir: boolean) => {
    const parsed = parseSubbandName(p);
    if (parsed.ok) subbandFiles.push({ ...parsed.name, path: p });
    else if (fromDir) notes.push(`ignored ${path.basename(p)}: ${parsed.reason}`);
    else {
      // Any other UVH5 file converts on its own.
      const id = path.basename(p).replace(/\.(uvh5|hdf5|h5)$/i, '');
      singles.push({ groupId: id, inputs: [{ path: p, subband: 0, timestamp: id, timeMs: 0 }], missing: [], expected: 1 });
    }
  };
  for (const f of files) {
    const p = path.resolve(f);
    if (!existsSync(p)) throw new ContimgError('NOT_FOUND', `${p}: no such file`);
    consider(p, false);
  }
  if (inputDir) {
    const dir = path.resolve(inputDir);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ContimgError('NOT_FOUND', `${dir}: not a directory`);
    for (const name of readdirSync(dir).sort()) {
      if (name.endsWith('.hdf5') || name.endsWith('.uvh5')) consider(path.join(dir, name), true);
    }
  }
  const { groups, duplicates } = formGroups(subbandFiles, toleranceS);
  for (const d of duplicates) notes.push(`duplicate subband file ignored: ${d.path} (group ${d.groupId} keeps ${d.keptPath})`);
  const planned: PlannedGroup[] = groups
    .filter((g) => (startMs === undefined || g.startMs >= startMs) && (endMs === undefined || g.startMs <= endMs))
    .map((g) => ({
      groupId: g.id,
      inputs: [...g.files.values()].sort((a, b) => a.subband - b.subband),
      missing: missingSubbands(g, expected),
      expected,
    }));
  return { groups: [...planned, ...singles], notes };
}

function convertBuilder(y: Argv) {
  return layoutWriterOptions(convertOptions(
      y
        .positional('files', { type: 'string', array: true, describe: 'UVH5 files (subband files are grouped)' })
        .option('input-dir', { type: 'string', describe: 'Convert every group found in this directory' })
        .option('output-dir', { type: 'string', describe: 'Where the Measurement Sets go (<output-dir>/<group>.ms), unless the pipeline layout is written (--layout)' })
        .option('start', { type: 'string', describe: 'Only groups starting at or after this UTC time' })
        .option('end', { type: 'string', describe: 'Only groups starting at or before this UTC time' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'List the groups and what would happen' })
        .option('overwrite', { type: 'boolean', default: false, describe: 'Replace existing outputs (default: skip them)' })
        .option('checkpoint-dir', { type: 'string', describe: 'Record progress here so an interrupted conversion resumes where it stopped' })
        .option('log-level', { type: 'string', default: 'info', describe: 'Log level (debug, info, warn, error)' })
        .option('json', { type: 'boolean', default: false, describe: 'Print a JSON summary' }),
  )).check((a) => {
    if (!(a.files?.length) && !a['input-dir']) throw new Error('give UVH5 files or --input-dir');
    checkOutputArgs(a);
    return true;
  });
}

/** What the conversion loop reads from the command's arguments. */
type LoopArgs = ArgsOf<typeof convertBuilder>;

export const convertCommand = defineCommand({
  command: 'convert [files..]',
  describe: 'Convert UVH5 subband groups (or single UVH5 files) to Measurement Sets',
  builder: convertBuilder,
  async run(a, { io, commandLine }) {
    const log = createLogger({ level: a['log-level'], json: !io.isTTY, destination: io.isTTY ? undefined : { write: (s: string) => io.stderr(s) } });
    const opts = toConvertOptions(a);
    const { groups, notes } = collectGroups(
      (a.files ?? []).map(String),
      a['input-dir'],
      opts.expectedSubbands,
      a['group-tolerance'],
      a.start ? parseUtc(a.start) : undefined,
      a.end ? parseUtc(a.end) : undefined,
    );
    for (const n of notes) log.warn(n);
    if (groups.length === 0) {
      io.stderr('contimg: no groups to convert\n');
      return 1;
    }
    const output = outputFromArgs(a);
    try {
      log.info({ output: output.description }, `writing to ${output.description}`);
      return await convertGroups(a, groups, opts, output, log, io, commandLine);
    } finally {
      await output.close();
    }
  },
});

async function convertGroups(
  a: LoopArgs,
  groups: PlannedGroup[],
  opts: ConvertOptions,
  output: GroupOutput,
  log: Logger,
  io: Io,
  commandLine: string,
): Promise<number> {
  const staging = output.staging(toStagingOptions(a));
  const jobFor = (g: PlannedGroup, outputMs: string): ConvertJob => ({
    groupId: g.groupId,
    inputs: g.inputs,
    outputMs,
    staging,
    checkpointDir: a['checkpoint-dir'] ? path.resolve(a['checkpoint-dir']) : undefined,
    overwrite: a.overwrite,
    commandLine,
  });
  const optsFor = (g: PlannedGroup): ConvertOptions => ({ ...opts, expectedSubbands: g.expected });

  if (a['dry-run']) {
    const plan = groups.map((g) => {
      let placement: GroupPlacement;
      try {
        placement = output.place(g.groupId, g.inputs);
      } catch (err) {
        const e = asContimgError(err);
        return { groupId: g.groupId, action: 'fail', detail: `[${e.code}] ${e.message}`, inputs: g.inputs.map((f) => f.path), missing: g.missing, output: null };
      }
      return { ...dryRun(g, jobFor(g, placement.outputMs), optsFor(g)), ...(placement.kind ? { kind: placement.kind, calibrator: placement.calibrator?.name, reason: placement.reason } : {}) };
    });
    if (a.json) io.stdout(JSON.stringify({ dryRun: true, groups: plan }, null, 2) + '\n');
    else io.stdout(plan.map((p) => `${p.groupId}: ${p.action} (${p.detail})\n`).join(''));
    return 0;
  }

  const results: GroupResult[] = [];
  const tasks = new Listr(
    groups.map((g) => ({
      title: `${g.groupId}`,
      task: async (_ctx: unknown, task: { title: string; output: string }) => {
        const started = Date.now();
        let placement: GroupPlacement | undefined;
        try {
          placement = output.place(g.groupId, g.inputs);
          if (placement.reason) log.info({ group: g.groupId, kind: placement.kind, calibrator: placement.calibrator }, `${g.groupId}: ${placement.reason}`);
          const job = jobFor(g, placement.outputMs);
          const r = (await convertJob(job, optsFor(g), {
            onProgress: (p: ConvertProgress) => {
              const s = (Date.now() - started) / 1000;
              task.output = `${p.stage.padEnd(8)} ${bar(p.done / Math.max(1, p.total))} ${formatBytes(p.bytes)} read, ${formatBytes(p.bytes / Math.max(s, 1e-3))}/s`;
            },
          })) as ConvertRunResult;
          const done = await output.completed(placement, r);
          if (done.registered) log.info({ group: job.groupId }, `registered ${job.outputMs}`);
          if (done.legacyLink) log.info({ group: job.groupId }, `dual-write: ${done.legacyLink} → ${job.outputMs}`);
          results.push({ ...r, ...layoutFacts(placement, done) });
          log.info({ group: job.groupId, staging: r.staging }, `staging: ${r.staging.reason}`);
          for (const w of r.warnings) log.warn({ group: job.groupId }, w);
          task.title = r.skipped
            ? `${job.groupId}: skipped, ${path.basename(job.outputMs)} exists`
            : `${job.groupId}: ${r.rows} rows in ${r.timings.totalS.toFixed(1)} s (read ${r.timings.loadS.toFixed(1)} s, phase ${r.timings.phaseS.toFixed(1)} s, write ${r.timings.writeS.toFixed(1)} s) → ${job.outputMs}`;
        } catch (err) {
          const e = asContimgError(err);
          const failure: FailedGroup = { groupId: g.groupId, error: { code: e.code, message: e.message } };
          log.error({ group: g.groupId, code: e.code }, e.message);
          try {
            const errorLog = output.failed({ groupId: g.groupId, inputs: g.inputs, placement }, failure.error, { commandLine });
            if (errorLog) {
              failure.errorLog = errorLog;
              log.error({ group: g.groupId }, `error log: ${errorLog}`);
            }
          } catch (logErr) {
            // The group's own error is what matters; not being able to file it is secondary.
            log.error({ group: g.groupId }, `cannot write the error log: ${(logErr as Error).message}`);
          }
          results.push(failure);
          throw new Error(`${g.groupId}: [${e.code}] ${e.message}`);
        }
      },
      rendererOptions: { persistentOutput: false },
    })),
    {
      concurrent: false,
      exitOnError: false,
      renderer: io.isTTY && !a.json ? 'default' : 'silent',
      rendererOptions: { collapseErrors: false },
    },
  );
  await tasks.run().catch(() => undefined);

  const failed = results.filter((r) => 'error' in r);
  const converted = results.filter((r) => !('error' in r) && !r.skipped);
  const skipped = results.filter((r) => !('error' in r) && r.skipped);
  const summary = { converted: converted.length, skipped: skipped.length, failed: failed.length, groups: results };
  if (a.json) io.stdout(JSON.stringify(summary, null, 2) + '\n');
  else printSummary(io, results);
  return failed.length > 0 ? 1 : 0;
}

function dryRun(g: PlannedGroup, job: ConvertJob, opts: ConvertOptions) {
  const exists = existsSync(job.outputMs);
  let action = 'convert';
  let detail = `${g.inputs.length} file(s) → ${job.outputMs}`;
  if (g.missing.length > 0 && !opts.allowMissing) {
    action = 'refuse';
    detail = `missing ${g.missing.map(subbandLabel).join(', ')} (use --allow-missing)`;
  } else if (exists && !job.overwrite) {
    action = 'skip';
    detail = `${job.outputMs} exists (use --overwrite)`;
  } else {
    if (exists) action = 'overwrite';
    try {
      const h = inspectUvh5(g.inputs[0]!.path, false);
      const n = opts.spwPerSubband ? g.expected : 1;
      const bytes = estimateMsBytes(h.nBlts * n, h.nFreqs * (opts.spwPerSubband ? 1 : g.expected), h.nPols, opts.imagingColumns);
      const decision = decideStaging(g.groupId, path.dirname(job.outputMs), bytes, job.staging, false);
      detail += `, ~${formatBytes(bytes)}, build in ${decision.location}: ${decision.reason}`;
    } catch (err) {
      const e = asContimgError(err);
      action = 'fail';
      detail = `[${e.code}] ${e.message}`;
    }
    if (g.missing.length > 0) detail += `; missing ${g.missing.map(subbandLabel).join(', ')} flagged`;
  }
  return { groupId: g.groupId, action, detail, inputs: g.inputs.map((f) => f.path), missing: g.missing, output: job.outputMs };
}

function printSummary(io: Io, results: GroupResult[]): void {
  for (const r of results) {
    if ('error' in r) io.stderr(`${r.groupId}: FAILED [${r.error.code}] ${r.error.message}${r.errorLog ? ` (error log: ${r.errorLog})` : ''}\n`);
    else if (r.skipped) io.stdout(`${r.groupId}: skipped (${r.outputMs} exists; --overwrite replaces it)\n`);
    else
      io.stdout(
        `${r.groupId}: ${r.outputMs} (${r.rows} rows, ${r.timings.totalS.toFixed(1)} s; built in ${r.staging.location}` +
          `${r.kind ? `; ${r.kind}${r.calibrator ? ` ${r.calibrator}` : ''}${r.registered ? ', registered' : ''}` : ''})` +
          `${r.missingSubbands.length ? `, missing ${r.missingSubbands.map(subbandLabel).join(' ')} flagged` : ''}` +
          `${r.nonFiniteFlagged ? `, ${r.nonFiniteFlagged} NaN/Inf visibilities flagged` : ''}\n` +
          (r.inputPhase ? `  input phase: ${r.inputPhase.phase}${r.inputPhase.auto ? ' (auto)' : ''}: ${r.inputPhase.reason}\n` : ''),
      );
  }
  const failed = results.filter((r) => 'error' in r).length;
  io.stdout(`${results.length - failed} of ${results.length} group(s) done${failed ? `, ${failed} failed` : ''}\n`);
}
