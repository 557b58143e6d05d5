/**
 * `contimg stream`: the real-time streaming converter service of seed 000. Watches the input
 * directory, queues subband groups in SQLite, converts each complete group to a Measurement Set,
 * and monitors itself. Every seed flag keeps its seed default. SIGTERM/SIGINT stop claiming, let
 * the running conversion checkpoint, and exit 0; a restart continues where it stopped.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../../error.js';
import type { Argv } from 'yargs';
import { DATABASE_URL_ENV, resolveDbTarget, type DbTarget } from '../../db/target.js';
import { createLogger, normaliseLevel } from '../../log.js';
import { checkOutputArgs, layoutFromArgs } from '../../convert/output.js';
import { layoutWriterOptions, loadCalibrators } from '../../layout/index.js';
import type { StreamConfig } from '../../stream/service.js';
import { DEFAULT_LEASE_S, STREAM_ROLES, slowGroupThresholdS } from '../../stream/roles.js';
import type { QueueStatusOptions, StagingArea } from '../../stream/status.js';
import type { WatchMode } from '../../stream/watcher.js';
import { defineCommand } from '../command.js';
import { convertOptions, toConvertOptions, toStagingOptions } from './convert.js';

export const DEFAULT_QUEUE_DB = 'streaming_queue.sqlite3';

/** Where the queue database is (`stream`, `status`, `requeue`, `serve`). */
export function queueDbOptions<T>(y: Argv<T>) {
  return y
    .option('queue-db', { type: 'string', default: DEFAULT_QUEUE_DB, describe: 'SQLite queue database path (or a postgres:// URL)' })
    .option('db', { type: 'string', describe: `The queue database: postgres://… for PostgreSQL (several hosts), or sqlite:PATH; default ${DATABASE_URL_ENV}, else --queue-db` });
}

/** Options `stream` and `status` share: where the queue is and what counts as a problem. */
export function queueHealthOptions<T>(y: Argv<T>) {
  return queueDbOptions(y)
    .option('chunk-duration', { type: 'number', default: 5.0, describe: 'Duration of data chunks in minutes (a conversion slower than 90 % of it is reported)' })
    .option('in-progress-timeout', { type: 'number', default: 900, describe: 'Seconds without progress before an in-progress group is re-queued' })
    .option('collecting-timeout', { type: 'number', default: 600, describe: 'Report groups still incomplete after this many seconds' })
    .option('queue-depth-warn', { type: 'number', default: 10, describe: 'Warn when more groups than this are pending or in progress' });
}

/** The queue's database: `--db`, else `CONTIMG_DATABASE_URL`, else `--queue-db` (a path or a URL). */
export function queueTarget(a: { db?: string; 'queue-db': string }): DbTarget {
  return resolveDbTarget(a.db, a['queue-db']);
}

/** `queueTarget`, for commands that read a queue: a SQLite file must already exist. */
export function existingQueueTarget(a: { db?: string; 'queue-db': string }): DbTarget {
  const target = queueTarget(a);
  if (target.kind === 'sqlite' && !existsSync(target.file)) throw new ContimgError('NOT_FOUND', `${target.file}: no queue database (give --queue-db or --db, or start \`contimg stream\` first)`);
  return target;
}

/** The staging areas a service was given (`--output-dir`, `--tmpfs-path`, `--scratch-dir`), for status. */
export function stagingAreas(a: { 'output-dir'?: string; 'tmpfs-path'?: string; 'scratch-dir'?: string }): StagingArea[] {
  const given = [
    ['output', a['output-dir']],
    ['tmpfs', a['tmpfs-path']],
    ['scratch', a['scratch-dir']],
  ] as const;
  return given.flatMap(([area, p]) => (p ? [{ area, path: path.resolve(p) }] : []));
}

/** What `status` and `serve` report on: the queue health options and the staging areas. */
export function queueStatusOptions(a: {
  limit: number;
  'queue-depth-warn': number;
  'chunk-duration': number;
  'in-progress-timeout': number;
  'collecting-timeout': number;
  'output-dir'?: string;
  'tmpfs-path'?: string;
  'scratch-dir'?: string;
}): QueueStatusOptions {
  return {
    limit: a.limit,
    queueDepthWarn: a['queue-depth-warn'],
    slowGroupS: slowGroupThresholdS(a['chunk-duration']),
    inProgressTimeoutS: a['in-progress-timeout'],
    collectingTimeoutS: a['collecting-timeout'],
    staging: stagingAreas(a),
  };
}

function positive(a: Record<string, unknown>, names: string[], allowZero = false): void {
  for (const n of names) {
    const v = a[n];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new Error(`--${n} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${String(v)})`);
  }
}

/** `--http-port`/`--metrics-port`: a TCP port, or 0 for an ephemeral one. */
export function checkPorts(a: Record<string, unknown>): void {
  for (const n of ['http-port', 'metrics-port']) {
    const v = a[n];
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535)) throw new Error(`--${n} must be a port number 0–65535 (got ${String(v)})`);
  }
}

export const streamCommand = defineCommand({
  command: 'stream',
  describe: 'Run the streaming converter service: watch a directory, queue subband groups, convert each complete group',
  builder: (y) =>
    layoutWriterOptions(queueHealthOptions(
      convertOptions(
        y
          .option('input-dir', { type: 'string', describe: 'Directory to watch for incoming *_sb??.hdf5 files (not needed with --role worker)' })
          .option('role', { choices: STREAM_ROLES, default: 'both' as const, describe: 'watcher: watch and queue only; worker: claim and convert only (several, on several hosts, can share a PostgreSQL queue); both' })
          .option('lease-duration', { type: 'number', default: DEFAULT_LEASE_S, describe: 'Seconds a claim holds its group unless its worker renews it (every third of it); a group whose lease expired is taken back by any worker' })
          .option('worker-name', { type: 'string', describe: 'Name of this worker in the queue, status and metrics (default host:pid; the host is CONTIMG_HOSTNAME if set)' })
          .option('output-dir', { type: 'string', describe: 'Destination directory for Measurement Sets (<output-dir>/<group>.ms), unless the pipeline layout is written (--layout)' })
          .option('checkpoint-dir', { type: 'string', describe: 'Persistent checkpoints: an interrupted conversion resumes where it stopped' })
          .option('omp-threads', { type: 'number', default: 4, describe: 'Cap on the converter threads (and OMP/MKL threads)' })
          .option('use-subprocess', { type: 'boolean', default: false, describe: 'Convert in a child process, so even a native crash only fails that attempt' })
          .option('stage-inputs', { type: 'boolean', default: false, describe: 'Copy subband files into a local temp directory first (default: symlink them)' })
          .option('stage-workers', { type: 'number', default: 4, describe: 'Parallel copies with --stage-inputs' })
          .option('cleanup-temp', { type: 'boolean', default: false, describe: 'Remove the temporary input staging directories after each conversion' })
          .option('monitoring', { type: 'boolean', default: true, describe: 'Queue and resource monitoring (--no-monitoring: off)' })
          .option('monitor-interval', { type: 'number', default: 60, describe: 'Monitoring check interval in seconds' })
          .option('profile', { type: 'boolean', default: false, describe: 'Record and log finer per-stage timings' })
          .option('log-level', { type: 'string', default: 'INFO', describe: 'DEBUG, INFO, WARNING, ERROR or CRITICAL' })
          .option('max-retries', { type: 'number', default: 3, describe: 'Failed conversion attempts before a group is marked failed' })
          .option('max-crash-recoveries', { type: 'number', default: 5, describe: 'Times a group is re-queued after its claiming process died (killed, OOM, power cut) before it is marked failed; counted apart from --max-retries' })
          .option('retry-backoff', { type: 'number', default: 30, describe: 'Seconds before the first retry; doubles per failure (at most 16x)' })
          .option('poll-interval', { type: 'number', default: 5, describe: 'Polling interval in seconds when inotify is unavailable (or --watch-mode poll)' })
          .option('watch-mode', { choices: ['auto', 'inotify', 'poll'] as const, default: 'auto' as const, describe: 'auto: inotify, falling back to polling if it fails' })
          .option('settle-time', { type: 'number', default: 2, describe: 'A file written in place (not renamed) is taken once unchanged this many seconds' })
          .option('worker-poll-interval', { type: 'number', default: 5, describe: 'Worker idle wait in seconds' })
          .option('min-free-output-gb', { type: 'number', default: 10, describe: 'Pause claiming while the output file system has less free space (GB)' })
          .option('min-free-scratch-gb', { type: 'number', default: 10, describe: 'Pause claiming while the scratch file system has less free space (GB)' })
          .option('converter-module', { type: 'string', hidden: true, describe: 'A module exporting `converter` to use instead of the built-in one (tests)' }),
      ),
    ))
      // Shared with `convert`, described for the service.
      .option('threads', { type: 'number', describe: "convert's name for --omp-threads; wins when both are given" })
      .option('scratch-dir', { type: 'string', describe: 'Fast local storage: input staging, and building each MS when tmpfs lacks room' })
      .option('http-port', { type: 'number', describe: 'Serve the read-only dashboard (and /metrics) on this port (0: any free port; default off)' })
      .option('metrics-port', { type: 'number', describe: 'Serve Prometheus /metrics on this port (0: any free port; default off; the same as --http-port: one server)' })
      .option('http-host', { type: 'string', default: '127.0.0.1', describe: 'Address the dashboard and metrics listen on (default: this machine only)' })
      .check((a) => {
        normaliseLevel(String(a['log-level']));
        if (a.role !== 'worker' && a['input-dir'] === undefined) throw new Error('--input-dir is required (except with --role worker)');
        positive(a, ['lease-duration', 'chunk-duration', 'omp-threads', 'stage-workers', 'monitor-interval', 'poll-interval', 'worker-poll-interval', 'group-tolerance', 'expected-subbands', 'threads']);
        positive(a, ['max-retries', 'max-crash-recoveries', 'retry-backoff', 'in-progress-timeout', 'collecting-timeout', 'settle-time', 'queue-depth-warn', 'min-free-output-gb', 'min-free-scratch-gb'], true);
        for (const n of ['omp-threads', 'stage-workers', 'max-retries', 'max-crash-recoveries', 'expected-subbands'] as const) {
          if (!Number.isInteger(a[n])) throw new Error(`--${n} must be an integer (got ${a[n]})`);
        }
        // Consecutive groups are a chunk apart; a wider tolerance would merge them.
        if (a['group-tolerance'] >= a['chunk-duration'] * 60) throw new Error(`--group-tolerance (${a['group-tolerance']} s) must be shorter than --chunk-duration (${a['chunk-duration']} min)`);
        checkPorts(a);
        checkOutputArgs(a);
        return true;
      }),
  async run(a, { io, commandLine }) {
    const log = createLogger({
      level: a['log-level'],
      json: !io.isTTY,
      destination: io.isTTY ? undefined : { write: (s: string) => io.stderr(s) },
      name: 'contimg-stream',
    });
    const convert = toConvertOptions(a);
    const layout = layoutFromArgs(a);
    const cfg: StreamConfig = {
      role: a.role,
      inputDir: path.resolve(a['input-dir'] ?? '.'),
      leaseS: a['lease-duration'],
      workerName: a['worker-name'],
      outputDir: a['output-dir'] !== undefined ? path.resolve(a['output-dir']) : undefined,
      layout,
      calibrators: layout ? loadCalibrators(a.calibrators) : undefined,
      queueDb: queueTarget(a),
      scratchDir: a['scratch-dir'] ? path.resolve(a['scratch-dir']) : undefined,
      checkpointDir: a['checkpoint-dir'] ? path.resolve(a['checkpoint-dir']) : undefined,
      chunkDurationMin: a['chunk-duration'],
      ompThreads: a['omp-threads'],
      useSubprocess: a['use-subprocess'],
      converterModule: a['converter-module'] ? path.resolve(a['converter-module']) : undefined,
      stageInputs: a['stage-inputs'],
      stageWorkers: a['stage-workers'],
      cleanupTemp: a['cleanup-temp'],
      monitoring: a.monitoring,
      monitorIntervalS: a['monitor-interval'],
      profile: a.profile,
      expectedSubbands: a['expected-subbands'],
      maxRetries: a['max-retries'],
      maxCrashRecoveries: a['max-crash-recoveries'],
      retryBackoffS: a['retry-backoff'],
      inProgressTimeoutS: a['in-progress-timeout'],
      collectingTimeoutS: a['collecting-timeout'],
      pollIntervalS: a['poll-interval'],
      workerPollIntervalS: a['worker-poll-interval'],
      watchMode: a['watch-mode'] as WatchMode,
      settleS: a['settle-time'],
      groupToleranceS: a['group-tolerance'],
      queueDepthWarn: a['queue-depth-warn'],
      minFreeOutputBytes: a['min-free-output-gb'] * 1e9,
      minFreeScratchBytes: a['min-free-scratch-gb'] * 1e9,
      // `--threads` (convert's name) wins over `--omp-threads` when both are given.
      convert: { ...convert, threads: a.threads ?? a['omp-threads'] },
      staging: { ...toStagingOptions(a), scratchDir: a['scratch-dir'] ? path.resolve(a['scratch-dir']) : undefined },
      commandLine,
      ops: { host: a['http-host'], httpPort: a['http-port'], metricsPort: a['metrics-port'] },
    };
    const { StreamService } = await import('../../stream/service.js');
    const service = new StreamService(cfg, { log });
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        log.info(`${sig} received: no new claims; the running conversion checkpoints and stops`);
        service.stop();
      } else {
        // The claim stays in_progress under this (dead) pid; the next start re-queues it at once.
        log.warn(`${sig} received again: exiting now`);
        process.exit(130);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      await service.run();
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
    return 0;
  },
});
