/**
 * The converter: stages, runs the native conversion of one group, and moves the finished
 * MeasurementSet into place. Implements the `Converter` contract that `contimg convert` and the
 * streaming worker share.
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { callNative, native } from '../native.js';
import { ContimgError } from '../error.js';
import { version } from '../version.js';
import { inspectUvh5 } from '../cli/commands/inspect.js';
import { makeDirs } from '../layout/fsops.js';
import { abandonMove, cleanAbandoned, commitMove, decideStaging, estimateMsBytes, markOwner, prepareMove, type MoveResult, type PreparedMove } from './staging.js';
import { adoptEarlierCheckpoint, checkpointPathFor, checkpointTokens, removeCheckpoint } from './resume.js';
import type { ConvertHooks, ConvertJob, ConvertOptions, ConvertResult, Converter } from './types.js';

/** What the native core reports for one conversion. */
export interface NativeConvertSummary {
  group: string;
  msPath: string;
  rows: number;
  nSpw: number;
  nChan: number;
  nCorr: number;
  subbands: number[];
  missingSubbands: number[];
  fields: { name: string; raDeg: number; decDeg: number }[];
  uvwConvention: 'ant2-minus-ant1' | 'ant1-minus-ant2' | null;
  uvwResidualM: number | null;
  inputPhase: 'stored-uvw' | 'zero';
  /** Whether `--input-phase auto` chose `inputPhase`, and why. */
  inputPhaseAuto: boolean;
  inputPhaseReason: string;
  /** NaN/Inf visibility samples, flagged with DATA 0. */
  nonFiniteFlagged: number;
  bytesRead: number;
  resumedFromRow: number | null;
  warnings: string[];
  timings: {
    openS: number;
    planS: number;
    readS: number;
    assembleS: number;
    phaseS: number;
    writeS: number;
    flushS: number;
    finishS: number;
    totalS: number;
  };
}

export interface ConvertRunResult extends ConvertResult {
  native?: NativeConvertSummary;
  fields: { name: string; raDeg: number; decDeg: number }[];
  missingSubbands: number[];
  /** The phase the input was taken to carry, and why (`--input-phase`). */
  inputPhase?: { phase: 'stored-uvw' | 'zero'; auto: boolean; reason: string };
  /** NaN/Inf visibility samples found, flagged and zeroed. */
  nonFiniteFlagged?: number;
}

/** Shape of the MS a job will produce, for the staging estimate. */
function estimate(job: ConvertJob, opts: ConvertOptions): number {
  const h = inspectUvh5(job.inputs[0]!.path, false);
  const multi = job.inputs.length > 1 || opts.expectedSubbands > 1;
  const subbands = multi ? Math.max(opts.expectedSubbands, job.inputs.length) : 1;
  const rows = h.nBlts * (opts.spwPerSubband && multi ? subbands : Math.max(1, h.nSpws));
  const nchan = opts.spwPerSubband || !multi ? h.nFreqs / Math.max(1, h.nSpws) : h.nFreqs * subbands;
  return estimateMsBytes(rows, nchan, h.nPols, opts.imagingColumns);
}

export const convertJob: Converter = async (job: ConvertJob, opts: ConvertOptions, hooks: ConvertHooks = {}): Promise<ConvertRunResult> => {
  const t0 = performance.now();
  const base: Omit<ConvertRunResult, 'skipped' | 'rows' | 'bytesRead' | 'bytesWritten' | 'timings' | 'staging'> = {
    groupId: job.groupId,
    outputMs: job.outputMs,
    warnings: [],
    fields: [],
    missingSubbands: [],
  };
  if (existsSync(job.outputMs) && !job.overwrite) {
    return {
      ...base,
      skipped: true,
      rows: 0,
      bytesRead: 0,
      bytesWritten: 0,
      timings: { loadS: 0, phaseS: 0, writeS: 0, totalS: 0, detail: {} },
      staging: { location: 'output', path: job.outputMs, reason: 'output exists (use --overwrite to replace it)' },
      warnings: [`${job.outputMs} already exists: skipped`],
    };
  }
  const outputDir = path.dirname(job.outputMs);
  makeDirs(outputDir);
  // Staging directories of conversions whose process died, wherever they were built.
  for (const base of [outputDir, job.staging.tmpfsPath, job.staging.scratchDir, job.staging.workspaceDir]) if (base) cleanAbandoned(base);
  const resumable = job.checkpointDir !== undefined;
  const decision = decideStaging(job.groupId, outputDir, () => estimate(job, opts), job.staging, resumable, undefined, job.claimToken);
  makeDirs(decision.dir);
  markOwner(decision.dir);
  const built = path.join(decision.dir, path.basename(job.outputMs));
  const checkpointPath = job.checkpointDir ? checkpointPathFor(job.checkpointDir, job.groupId, job.claimToken) : undefined;
  if (job.checkpointDir) {
    makeDirs(job.checkpointDir);
    if (job.claimToken !== undefined) adoptEarlierCheckpoint(job.checkpointDir, job.groupId, job.claimToken, built);
  }

  const token = new (native().CancelToken)();
  const onAbort = () => token.cancel();
  if (hooks.signal?.aborted) token.cancel();
  hooks.signal?.addEventListener('abort', onAbort);
  let summary: NativeConvertSummary;
  try {
    summary = (await callNative(() =>
      native().convertGroup(
        {
          inputs: job.inputs.map((f) => ({ subband: f.subband, path: f.path })),
          msPath: built,
          phaseMode: opts.phaseMode,
          phaseCenterDeg: opts.phaseCenter ? [opts.phaseCenter.raDeg, opts.phaseCenter.decDeg] : undefined,
          spwPerSubband: opts.spwPerSubband,
          allowMissing: opts.allowMissing,
          expectedSubbands: opts.expectedSubbands,
          imagingColumns: opts.imagingColumns,
          chunkIntegrations: opts.chunkIntegrations,
          uvwConvention: opts.uvwConvention,
          inputPhase: opts.inputPhase ?? 'auto',
          threads: opts.threads,
          checkpointPath,
          groupName: job.groupId,
          commandLine: job.commandLine,
          version,
        },
        hooks.onProgress
          ? (p) =>
              hooks.onProgress!({
                groupId: job.groupId,
                stage: p.stage as 'read' | 'phase' | 'write' | 'finalize',
                done: p.rowsDone,
                total: p.rowsTotal,
                bytes: p.bytesRead,
              })
          : null,
        token,
      ),
    )) as NativeConvertSummary;
  } catch (err) {
    if (!resumable && !job.staging.keepTemp) rmSync(decision.dir, { recursive: true, force: true });
    throw err;
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
  }

  const tMove = performance.now();
  let moved: MoveResult | undefined;
  let prepared: PreparedMove | undefined;
  try {
    const ready = (prepared = prepareMove(built, job.outputMs));
    const publish = () => {
      moved = commitMove(ready, job.overwrite);
    };
    const published = hooks.fence ? await hooks.fence(publish) : (publish(), true);
    if (!published) {
      abandonMove(ready);
      if (!resumable && !job.staging.keepTemp) rmSync(decision.dir, { recursive: true, force: true });
      throw new ContimgError('STREAM_LEASE_LOST', `${job.outputMs}: not published: this worker's claim on ${job.groupId} was taken over (its lease expired); the other worker's output stands`);
    }
  } catch (err) {
    if (err instanceof ContimgError && err.code === 'STREAM_LEASE_LOST') throw err;
    if (prepared && !moved) abandonMove(prepared);
    // Nothing of this attempt stays behind (moveIntoPlace removed its partial copy), unless a
    // checkpoint will resume from the built MS.
    if (!resumable && !job.staging.keepTemp) rmSync(decision.dir, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new ContimgError(
      typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'CONVERT_IO',
      `${job.outputMs}: cannot move the finished MeasurementSet into place: ${(err as Error).message}`,
    );
  }
  if (!moved) throw new Error('unreachable: published without a move');
  // Earlier claims' checkpoints and partial MSs are of no use once the group is published.
  if (job.checkpointDir && job.claimToken !== undefined) for (const t of checkpointTokens(job.checkpointDir, job.groupId)) removeCheckpoint(job.checkpointDir, job.groupId, t);
  const moveS = (performance.now() - tMove) / 1000;
  if (!job.staging.keepTemp) rmSync(decision.dir, { recursive: true, force: true });
  const t = summary.timings;
  // The MS's shape is known now: its size follows from it, with no header to read.
  const bytesWritten = estimateMsBytes(summary.rows, summary.nChan, summary.nCorr, opts.imagingColumns);
  return {
    ...base,
    skipped: false,
    rows: summary.rows,
    bytesRead: summary.bytesRead,
    bytesWritten,
    timings: {
      loadS: t.planS + t.readS,
      phaseS: t.assembleS + t.phaseS,
      writeS: t.writeS + t.flushS + t.finishS + moveS,
      totalS: (performance.now() - t0) / 1000,
      detail: { ...t, moveS },
    },
    staging: { location: decision.location, path: decision.dir, reason: `${decision.reason}; moved by ${moved.method}${moved.replaced ? ', replacing the previous output' : ''}` },
    resumedFromRow: summary.resumedFromRow ?? undefined,
    warnings: summary.warnings,
    native: summary,
    fields: summary.fields,
    missingSubbands: summary.missingSubbands,
    inputPhase: { phase: summary.inputPhase, auto: summary.inputPhaseAuto, reason: summary.inputPhaseReason },
    nonFiniteFlagged: summary.nonFiniteFlagged,
  };
};
