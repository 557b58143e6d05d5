/**
 * StreamingWorker (seed 000): claims the oldest pending group, stages its inputs, converts it
 * with the injected `Converter`, and records the outcome.
 *
 * - A failure is retried after a backoff; after `--max-retries` failed attempts the group is
 *   `failed`, its `error` naming the file and the cause (staged paths mapped back to the
 *   originals).
 * - Progress reported by the converter refreshes the claim (`last_update`), so a claim goes
 *   stale only when its conversion stops making progress for `--in-progress-timeout`; then
 *   any worker re-queues it, as `resuming`. A claim whose process is gone (this host) is
 *   re-queued at once, on start and on every loop.
 * - A claim is a lease (`--lease-duration`), renewed a few times per lease while the worker
 *   lives; a worker that finds its lease taken over stops converting. Any worker, on any host,
 *   takes back groups whose lease expired. The finished MS is published (renamed into the
 *   shared tree) only inside the queue's fence, so a worker that wakes after its group was
 *   claimed again never publishes, registers or completes it.
 * - Stopping aborts the conversion through the `AbortSignal` (the converter stops at the next
 *   chunk boundary, leaving a checkpoint), gives the claim back as `resuming` without counting
 *   an attempt, and returns.
 * - Where the MS goes, and what follows it (registration in the pipeline layout), is the
 *   `GroupOutput`'s business (ts/convert/output.ts); a group is registered before it is marked
 *   completed, and a group that reaches `failed` leaves its error log there.
 * - The converter is asynchronous (native threads, or a child process), so the event loop stays
 *   free for the watcher and the monitor while it runs.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FailedJob, GroupOutput, GroupPlacement } from '../convert/output.js';
import type { Converter, ConvertJob, ConvertOptions, ConvertResult, StagingOptions } from '../convert/types.js';
import type { Logger } from '../log.js';
import { asContimgError } from '../error.js';
import { checkpointPathFor, hasCheckpoint } from '../convert/resume.js';
import { faultPoint } from '../layout/fault.js';
import { originalPaths, stageInputs, type StagedInputs } from './inputs.js';
import { backfillTimings } from './metrics.js';
import { currentProcess, ownerLiveness, type Liveness, type ProcessIdentity } from './owner.js';
import type { Claim, StreamQueue } from './queue.js';
import type { ClaimStage } from './schema.js';

export interface WorkerConfig {
  /** Where each group's MS goes (flat or the pipeline layout) and what follows it. */
  output: GroupOutput;
  /** Persistent checkpoints (`--checkpoint-dir`); without it an interrupted group starts over. */
  checkpointDir?: string;
  /** Conversion options; `threads` carries `--omp-threads`, `allowMissing` `--allow-missing`. */
  convert: ConvertOptions;
  /** The converter's own staging (tmpfs, scratch). */
  staging: StagingOptions;
  /** Input staging: copy (`--stage-inputs`, `--stage-workers`) or symlink, into `baseDir`. */
  inputs: { copy: boolean; workers: number; baseDir?: string };
  cleanupTemp: boolean;
  maxRetries: number;
  /** Deaths of the claiming process a group survives (`--max-crash-recoveries`); one more fails it. */
  maxCrashRecoveries: number;
  /** First retry delay (seconds); doubles per failure, at most 16×. */
  retryBackoffS: number;
  inProgressTimeoutS: number;
  collectingTimeoutS: number;
  /** Idle wait between queue checks (seconds). */
  workerPollIntervalS: number;
  /** Seconds a claim holds its group unless renewed (renewed every third of it). */
  leaseS: number;
  /** This worker's name in the queue (`--worker-name`). */
  workerName?: string;
  profile: boolean;
  /** Recorded in each MS's HISTORY. */
  commandLine: string;
}

export interface WorkerDeps {
  converter: Converter;
  log: Logger;
  owner?: ProcessIdentity;
  liveness?: (o: ProcessIdentity) => Liveness;
  /** Claims wait while this says no (free space). */
  mayClaim?: () => boolean;
  /** Run on every loop: the monitor's event reports. */
  onLoop?: (nowS: number) => Promise<unknown>;
  /** Unix seconds. */
  now?: () => number;
}

type AbortReason = 'shutdown' | 'claim-lost';

export { checkpointPathFor } from '../convert/resume.js';

export class StreamingWorker {
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  /** A wake-up that came while the worker was not idle. */
  private woken = false;
  private current: { claim: Claim; abort: AbortController } | undefined;
  private readonly owner: ProcessIdentity;
  private readonly now: () => number;
  private readonly liveness: (o: ProcessIdentity) => Liveness;

  constructor(
    private readonly queue: StreamQueue,
    private readonly cfg: WorkerConfig,
    private readonly deps: WorkerDeps,
  ) {
    this.owner = deps.owner ?? currentProcess();
    this.now = deps.now ?? (() => Date.now() / 1000);
    this.liveness = deps.liveness ?? ownerLiveness;
  }

  /** The group being converted, if any. */
  get busyWith(): string | undefined {
    return this.current?.claim.groupId;
  }

  /** Ends the idle wait now, or skips the next one (a group just became pending). */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  /** Stops claiming; the current conversion is asked to checkpoint and stop. `run()` then returns. */
  stop(): void {
    this.stopping = true;
    this.current?.abort.abort('shutdown' satisfies AbortReason);
    this.wake();
  }

  private idle(): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, this.cfg.workerPollIntervalS * 1000);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }

  /** Re-queues claims of dead processes on this host and claims that stopped making progress. */
  async recover(): Promise<void> {
    const now = this.now();
    const dead = await this.queue.recoverDeadOwners(this.owner.host, this.liveness, this.cfg.maxCrashRecoveries, now);
    const expired = await this.queue.recoverExpiredLeases(this.cfg.maxCrashRecoveries, now);
    const stale = await this.queue.recoverStale(this.cfg.inProgressTimeoutS, this.cfg.maxRetries, now);
    for (const r of [...dead, ...expired, ...stale]) {
      if (r.state === 'failed') {
        const spent =
          r.counted === 'crash'
            ? `its claiming process died ${this.cfg.maxCrashRecoveries + 1} times: --max-crash-recoveries ${this.cfg.maxCrashRecoveries} spent`
            : `retry budget of ${this.cfg.maxRetries} spent`;
        const code = r.counted === 'crash' ? 'STREAM_CRASH_RECOVERIES_SPENT' : 'STREAM_RETRIES_SPENT';
        this.deps.log.error({ group: r.groupId }, `Group ${r.groupId} failed: ${r.reason} (${spent})`);
        this.recordFailure({ groupId: r.groupId }, { code, message: `${r.reason} (${spent})` });
      } else this.deps.log.warn({ group: r.groupId }, `Recovered stale in-progress group ${r.groupId}; re-queued for processing (${r.reason})`);
    }
  }

  /** The error log of a group that reached `failed`; failing to write it must not stop the worker. */
  private recordFailure(job: FailedJob, error: { code?: string; message: string }): void {
    try {
      const file = this.cfg.output.failed(job, error, { commandLine: this.cfg.commandLine });
      if (file) this.deps.log.error({ group: job.groupId, errorLog: file }, `Group ${job.groupId}: error log ${file}`);
    } catch (err) {
      this.deps.log.error({ group: job.groupId, err }, `Group ${job.groupId}: cannot write its error log: ${(err as Error).message}`);
    }
  }

  /** One pass of housekeeping, then one claim if there is work. Returns false when idle. */
  async step(): Promise<boolean> {
    await this.recover();
    const now = this.now();
    if (this.cfg.convert.allowMissing) {
      for (const g of await this.queue.promoteStaleCollecting(this.cfg.collectingTimeoutS, now)) {
        this.deps.log.warn({ group: g }, `Group ${g} still incomplete after ${this.cfg.collectingTimeoutS} s: converting it with the missing subbands flagged (--allow-missing)`);
      }
    }
    await this.deps.onLoop?.(now);
    if (this.stopping) return false;
    if (this.deps.mayClaim && !this.deps.mayClaim()) return false;
    const claim = await this.queue.claimNext(this.owner, this.now(), { leaseS: this.cfg.leaseS, worker: this.cfg.workerName });
    if (!claim) return false;
    await this.process(claim);
    return true;
  }

  /** The loop: runs until `stop()`. */
  async run(): Promise<void> {
    while (!this.stopping) {
      let worked = false;
      try {
        worked = await this.step();
      } catch (err) {
        // The queue itself failed (disk full, database locked too long): say so and try again.
        this.deps.log.error({ err }, `worker: ${(err as Error).message}`);
      }
      if (!worked && !this.stopping) await this.idle();
    }
  }

  private async process(claim: Claim): Promise<void> {
    const { log } = this.deps;
    const id = claim.groupId;
    const t0 = performance.now();
    const abort = new AbortController();
    this.current = { claim, abort };
    if (this.stopping) abort.abort('shutdown' satisfies AbortReason);

    const lostClaim = () => {
      if (abort.signal.aborted) return;
      log.warn({ group: id, token: claim.token }, `lost the claim on ${id} (lease ${claim.token} taken over by another worker); stopping this conversion`);
      abort.abort('claim-lost' satisfies AbortReason);
    };
    // Renewed on a timer, not on progress: a conversion can go a long time between reports.
    const lease = setInterval(() => {
      void this.queue.renewLease(claim, this.cfg.leaseS, this.now()).then(
        (held) => held || lostClaim(),
        (err) => log.error({ err, group: id }, `renewing the lease on ${id} failed: ${(err as Error).message}`),
      );
    }, (this.cfg.leaseS * 1000) / 3);
    const fence = async (publish: () => void | Promise<void>) => {
      faultPoint('stream.publish');
      const ok = await this.queue.fenced(claim, publish, { leaseS: this.cfg.leaseS, nowS: this.now() });
      if (!ok) log.warn({ group: id, token: claim.token }, `Refused to publish ${id}: this worker's lease ${claim.token} was taken over; the output of the newer claim stands`);
      return ok;
    };

    const checkpointDir = this.cfg.checkpointDir;
    const checkpoint = checkpointDir ? checkpointPathFor(checkpointDir, id, claim.token) : null;
    const resumable = checkpointDir !== undefined && hasCheckpoint(checkpointDir, id);
    let stage: ClaimStage = claim.stage;
    if (stage === 'processing_fresh' && resumable) stage = 'resuming';
    await this.queue.setStage(claim, stage, checkpoint, this.now());
    const attempt = claim.retryCount + 1;
    log.info(
      { group: id, stage, attempt, subbands: claim.files.length, expected: claim.expectedSubbands },
      `${stage === 'resuming' ? 'Resuming' : 'Processing'} group ${id} (attempt ${attempt} of ${this.cfg.maxRetries}, claim ${claim.token}, ${claim.files.length}/${claim.expectedSubbands} subbands${stage === 'resuming' && resumable ? `, from its checkpoint in ${checkpointDir}` : ''})`,
    );

    let staged: StagedInputs | undefined;
    let placement: GroupPlacement | undefined;
    let lastBeatMs = performance.now();
    const beatEveryMs = Math.min(30, this.cfg.inProgressTimeoutS / 4) * 1000;
    const onProgress = () => {
      if (performance.now() - lastBeatMs < beatEveryMs) return;
      lastBeatMs = performance.now();
      void this.queue.heartbeat(claim, this.now()).then(
        (held) => {
          if (!held && !abort.signal.aborted) {
            log.warn({ group: id }, `lost the claim on ${id} (re-queued by someone else); stopping this conversion`);
            abort.abort('claim-lost' satisfies AbortReason);
          }
        },
        (err) => log.error({ err, group: id }, `heartbeat for ${id} failed: ${(err as Error).message}`),
      );
    };

    try {
      // From the original files: the placement may read a header, and its errors and the
      // registered provenance must name the files as delivered.
      placement = this.cfg.output.place(id, claim.files);
      if (placement.reason) log.info({ group: id, kind: placement.kind, calibrator: placement.calibrator }, `Group ${id}: ${placement.reason}`);
      const tStage = performance.now();
      staged = await stageInputs(id, claim.files, { baseDir: this.cfg.inputs.baseDir, copy: this.cfg.inputs.copy, workers: this.cfg.inputs.workers });
      const stageInputsS = (performance.now() - tStage) / 1000;
      const job: ConvertJob = {
        groupId: id,
        inputs: staged.files,
        outputMs: placement.outputMs,
        staging: this.cfg.staging,
        checkpointDir: this.cfg.checkpointDir,
        claimToken: claim.token,
        overwrite: false,
        commandLine: this.cfg.commandLine,
      };
      const opts: ConvertOptions = { ...this.cfg.convert, expectedSubbands: claim.expectedSubbands };
      const result: ConvertResult = await this.deps.converter(job, opts, { signal: abort.signal, onProgress, fence });
      // Before `complete`: a group the queue calls completed is registered. A crash in between
      // re-runs the group, which finds its MS in place and registers it only if it is not yet.
      const done = await this.cfg.output.completed(placement, result);
      if (done.registered) log.info({ group: id }, `Group ${id}: registered ${result.outputMs}`);
      if (done.legacyLink) log.info({ group: id }, `Group ${id}: dual-write link ${done.legacyLink} → ${result.outputMs}`);
      const wallS = (performance.now() - t0) / 1000;
      const t = backfillTimings(result.timings, wallS);
      const detail = this.cfg.profile ? { ...result.timings?.detail, stageInputsS, stageInputsBytes: staged.bytesCopied } : undefined;
      const held = await this.queue.complete(claim, { totalS: t.totalS, loadS: t.loadS, phaseS: t.phaseS, writeS: t.writeS, detail }, this.now());
      if (!held) {
        log.warn({ group: id }, `Group ${id} converted to ${result.outputMs}, but its claim was taken over meanwhile; the queue keeps the other worker's state`);
      } else if (result.skipped) {
        log.info({ group: id }, `Group ${id} completed: ${result.outputMs} already exists (kept, not converted again)`);
      } else {
        log.info(
          { group: id, timings: t, staging: result.staging, rows: result.rows },
          `Group ${id} completed in ${t.totalS.toFixed(1)} s${result.resumedFromRow !== undefined ? `, resumed from its checkpoint at row ${result.resumedFromRow}` : ''} (load ${t.loadS.toFixed(1)} s, phase ${t.phaseS.toFixed(1)} s, write ${t.writeS.toFixed(1)} s` +
            `${t.backfilled.length ? `; ${t.backfilled.join(', ')} backfilled` : ''}) → ${result.outputMs}`,
        );
      }
      for (const w of result.warnings) log.warn({ group: id }, `${id}: ${originalPaths(w, staged)}`);
      if (detail) log.info({ group: id, profile: detail }, `Profile of ${id}: ${Object.entries(detail).map(([k, v]) => `${k}=${typeof v === 'number' ? v.toFixed(3) : v}`).join(' ')}`);
    } catch (err) {
      const reason = abort.signal.aborted ? (abort.signal.reason as AbortReason) : asContimgError(err).code === 'STREAM_LEASE_LOST' ? 'claim-lost' : undefined;
      if (reason === 'claim-lost') {
        log.warn({ group: id }, `Stopped converting ${id}: another worker holds it now`);
      } else if (reason === 'shutdown') {
        const given = await this.queue.release(claim, this.now());
        log.info({ group: id }, `Stopped converting ${id} for shutdown${checkpoint ? `; it resumes from ${checkpoint}` : '; it starts over'} on the next claim${given ? '' : ' (claim already taken over)'}`);
      } else {
        const error = describeFailure(err, claim, staged);
        const r = await this.queue.retryOrFail(claim, error, { maxRetries: this.cfg.maxRetries, backoffBaseS: this.cfg.retryBackoffS }, this.now());
        if (r.state === 'failed') {
          log.error({ group: id, attempts: r.retryCount }, `Group ${id} failed after ${r.retryCount} attempt(s): ${error}`);
          this.recordFailure({ groupId: id, inputs: claim.files, placement }, { message: `${error} (after ${r.retryCount} attempt(s))` });
        } else if (r.state === 'pending') log.warn({ group: id, attempt: r.retryCount }, `Group ${id} attempt ${r.retryCount} failed: ${error}; retrying in ${(r.nextAttemptAtS - this.now()).toFixed(0)} s`);
        else log.warn({ group: id }, `Group ${id} failed (${error}), but its claim was taken over meanwhile`);
      }
    } finally {
      clearInterval(lease);
      this.current = undefined;
      if (staged) {
        if (this.cfg.cleanupTemp) await rm(staged.dir, { recursive: true, force: true }).catch(() => undefined);
        else log.debug({ group: id }, `Preserved temporary staging directory ${staged.dir}`);
      }
    }
  }
}

/** `[CODE] message`, with the file the message is about named by its real path. */
export function describeFailure(err: unknown, claim: Claim, staged: StagedInputs | undefined): string {
  const e = asContimgError(err);
  let msg = originalPaths(e.message, staged);
  const namesAFile = claim.files.some((f) => msg.includes(path.basename(f.path)));
  if (!namesAFile) {
    const dirs = [...new Set(claim.files.map((f) => path.dirname(f.path)))];
    msg = `group ${claim.groupId} (${claim.files.length} files in ${dirs.join(', ') || 'no directory'}): ${msg}`;
  }
  return `[${e.code}] ${msg}`;
}
