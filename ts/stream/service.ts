/**
 * The streaming converter service of seed 000, assembled: the queue database, the
 * DirectoryWatcher feeding it, the StreamingWorker draining it, and the MonitoringThread
 * watching both. `contimg stream` builds a `StreamConfig` from its options and runs this; tests
 * run it in-process with their own converter, clock-free.
 */
import path from 'node:path';
import type { Converter, ConvertOptions, StagingOptions } from '../convert/types.js';
import { silentLogger, type Logger } from '../log.js';
import { subbandLabel } from '../groups.js';
import { flatOutput, layoutOutput, type GroupOutput } from '../convert/output.js';
import { loadCalibrators, makeDirs, type Calibrator, type Layout } from '../layout/index.js';
import { cleanAbandoned } from '../convert/staging.js';
import { cleanAbandonedInputs, inputStagingBase } from './inputs.js';
import { ContimgError } from '../error.js';
import { defaultConverter, loadConverterModule } from './converter.js';
import { Monitor, SpaceGuard, realDiskProbe, type DiskProbe, type SpaceRule } from './monitor.js';
import { currentProcess } from './owner.js';
import { StreamQueue, type Arrival, type GroupingRules, type Registration } from './queue.js';
import { childConverter } from './subprocess.js';
import { DirectoryWatcher, type WatchFactory, type WatchMode } from './watcher.js';
import { StreamingWorker } from './worker.js';
import { requeueCorrectedFiles } from './replacements.js';
import type { DbTarget } from '../db/target.js';
import { completedAGroup } from './register.js';
import { slowGroupThresholdS, type StreamRole } from './roles.js';

export { slowGroupThresholdS } from './roles.js';

/** Everything the service needs, in explicit units; `contimg stream` fills it from its options. */
export interface StreamConfig {
  role: StreamRole;
  inputDir: string;
  /** The flat output `<output-dir>/<group>.ms` (seed 000); ignored when `layout` is set. */
  outputDir?: string;
  /** The pipeline layout (seed 004) to write, registering each MS, or null for `outputDir`. */
  layout: Layout | null;
  /** The calibrator list that sorts groups into science and calibrators (default: the shipped one). */
  calibrators?: readonly Calibrator[];
  /** The queue's database: a SQLite path or a postgres:// URL, or its parsed target. */
  queueDb: string | DbTarget;
  scratchDir?: string;
  checkpointDir?: string;
  /** `--chunk-duration`: minutes of data per group; the slow-group threshold is 90 % of it. */
  chunkDurationMin: number;
  /** `--omp-threads`: caps the converter's threads (also OMP/MKL in a child process). */
  ompThreads: number;
  useSubprocess: boolean;
  /** A module exporting `converter` to use instead of the built-in one. */
  converterModule?: string;
  stageInputs: boolean;
  stageWorkers: number;
  cleanupTemp: boolean;
  monitoring: boolean;
  monitorIntervalS: number;
  profile: boolean;
  expectedSubbands: number;
  maxRetries: number;
  /** `--max-crash-recoveries`: deaths of the claiming process a group survives. */
  maxCrashRecoveries: number;
  retryBackoffS: number;
  inProgressTimeoutS: number;
  collectingTimeoutS: number;
  pollIntervalS: number;
  workerPollIntervalS: number;
  /** Seconds a claim holds its group unless renewed (`--lease-duration`). */
  leaseS: number;
  /** This worker's name in the queue, status and metrics (`--worker-name`; default host:pid). */
  workerName?: string;
  watchMode: WatchMode;
  /** A file written in place is taken once unchanged this long (seconds). */
  settleS: number;
  groupToleranceS: number;
  queueDepthWarn: number;
  /** Claims pause while the output / scratch file system has less free than this. */
  minFreeOutputBytes: number;
  minFreeScratchBytes: number;
  /** Conversion options (`threads` is set from `ompThreads` unless given). */
  convert: ConvertOptions;
  staging: StagingOptions;
  commandLine: string;
  /**
   * `--http-port`, `--metrics-port`, `--http-host`: the read-only dashboard and Prometheus
   * `/metrics` (ts/ops). A port undefined is off; 0 is an ephemeral port.
   */
  ops?: { host: string; httpPort?: number; metricsPort?: number };
}

export interface StreamDeps {
  /** The converter (in-process mode); default: `converterModule`, else the built-in one. */
  converter?: Converter;
  log?: Logger;
  probe?: DiskProbe;
  watch?: WatchFactory;
}

export class StreamService {
  private readonly log: Logger;
  private stopping = false;
  private queue: StreamQueue | undefined;
  private worker: StreamingWorker | undefined;
  private watcher: DirectoryWatcher | undefined;
  private monitor: Monitor | undefined;
  private ops: { close(): Promise<void>; dashboardUrl?: string; metricsUrl?: string } | undefined;
  private resolveReady!: () => void;
  /** Resolves once the startup scan is registered and the watcher is live. */
  readonly ready = new Promise<void>((r) => (this.resolveReady = r));

  constructor(
    readonly cfg: StreamConfig,
    private readonly deps: StreamDeps = {},
  ) {
    this.log = deps.log ?? silentLogger;
  }

  /** The open queue (after `ready`). */
  get queueDb(): StreamQueue | undefined {
    return this.queue;
  }

  /** The ops servers' addresses (after `ready`), when `cfg.ops` asked for them. */
  get opsUrls(): { dashboardUrl?: string; metricsUrl?: string } {
    return { dashboardUrl: this.ops?.dashboardUrl, metricsUrl: this.ops?.metricsUrl };
  }

  /** Stops claiming, asks a running conversion to checkpoint and stop; `run()` then returns. */
  stop(): void {
    this.stopping = true;
    this.worker?.stop();
  }

  private async converter(): Promise<Converter> {
    const c = this.cfg;
    if (c.useSubprocess) {
      const threads = String(c.convert.threads ?? c.ompThreads);
      return childConverter({ converterModule: c.converterModule, env: { OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads } });
    }
    if (this.deps.converter) return this.deps.converter;
    return c.converterModule ? loadConverterModule(c.converterModule) : defaultConverter;
  }

  private describe(r: Registration): void {
    const log = this.log;
    const name = path.basename(r.path);
    if (r.kind === 'known') return;
    if (r.kind === 'duplicate') {
      log.warn({ group: r.groupId, path: r.path }, `Ignoring ${r.path}: group ${r.groupId} already has this subband (${r.existingPath})`);
      return;
    }
    if (r.renamedFrom) log.info({ group: r.groupId }, `Group ${r.renamedFrom} renamed ${r.groupId} (an earlier-stamped subband arrived)`);
    log.info({ group: r.groupId, path: r.path }, `Detected new subband ${name} → group ${r.groupId} (${r.subbands}/${r.expected})`);
    if (r.becamePending) log.info({ group: r.groupId }, `Group ${r.groupId} complete (${r.subbands}/${r.expected} subbands): pending`);
    if (r.state === 'in_progress' || r.state === 'completed' || r.state === 'failed') {
      const sb = /_sb(\d\d)\.hdf5$/.exec(name);
      log.warn(
        { group: r.groupId, path: r.path },
        `${sb ? subbandLabel(Number(sb[1])) : name} of group ${r.groupId} arrived after the group was ${r.state.replace('_', ' ')}; it is not part of that conversion (\`contimg requeue ${r.groupId}\` converts the group again)`,
      );
    }
  }

  /** Runs until `stop()`; resolves after everything is stopped and the database closed. */
  private output(): GroupOutput {
    const c = this.cfg;
    if (c.layout) return layoutOutput(c.layout, c.calibrators ?? loadCalibrators());
    if (!c.outputDir) throw new ContimgError('STREAM_CONFIG', 'the stream service needs an output directory or the pipeline layout');
    return flatOutput(c.outputDir);
  }

  async run(): Promise<void> {
    const c = this.cfg;
    const output = this.output();
    const outputDirs = output.dirs;
    const outputRoot = outputDirs.find((d) => d.name === 'output')!.path;
    for (const d of [c.inputDir, ...outputDirs.map((o) => o.path), c.scratchDir, c.checkpointDir]) if (d) makeDirs(d);
    // Staging left by a conversion that died (a crash, a full disk) is freed before the space
    // guard looks: otherwise it could keep the disk too full to ever claim the group again.
    const staging = output.staging(c.staging);
    for (const base of new Set([outputRoot, staging.tmpfsPath, staging.scratchDir, staging.workspaceDir])) {
      if (!base) continue;
      for (const dir of cleanAbandoned(base)) this.log.warn({ path: dir }, `Removed ${dir}, left by a conversion whose process is gone`);
    }
    if (c.cleanupTemp) {
      for (const dir of cleanAbandonedInputs(inputStagingBase(c.scratchDir))) this.log.warn({ path: dir }, `Removed ${dir}, the input staging of a worker whose process is gone`);
    }
    // Thread caps for libraries that read them when they load (the native core loads lazily).
    process.env.OMP_NUM_THREADS ??= String(c.ompThreads);
    const convert: ConvertOptions = { ...c.convert, threads: c.convert.threads ?? c.ompThreads, expectedSubbands: c.expectedSubbands };
    const converter = await this.converter();
    // The output opens its registries at the first registration, inside the try below.
    const queue = (this.queue = await StreamQueue.open(c.queueDb));
    let stopListening: () => Promise<void> = async () => undefined;
    const probe = this.deps.probe ?? realDiskProbe;
    try {
      const rules: SpaceRule[] = [{ name: 'output', path: outputRoot, minFreeBytes: c.minFreeOutputBytes }];
      if (c.scratchDir) rules.push({ name: 'scratch', path: c.scratchDir, minFreeBytes: c.minFreeScratchBytes });
      const guard = new SpaceGuard(rules, probe, this.log);
      const monitor = (this.monitor = new Monitor(
        queue,
        {
          intervalS: c.monitorIntervalS,
          queueDepthWarn: c.queueDepthWarn,
          slowGroupS: slowGroupThresholdS(c.chunkDurationMin),
          inProgressTimeoutS: c.inProgressTimeoutS,
          collectingTimeoutS: c.collectingTimeoutS,
          dirs: [
            { name: 'input', path: c.inputDir },
            ...outputDirs,
            ...(c.scratchDir ? [{ name: 'scratch', path: c.scratchDir }] : []),
            ...(c.staging.noTmpfs ? [] : [{ name: 'tmpfs', path: c.staging.tmpfsPath }]),
          ],
          stagingBases: [outputRoot, staging.tmpfsPath, staging.scratchDir, staging.workspaceDir].filter((d): d is string => !!d),
        },
        this.log,
        probe,
        guard,
      ));
      const worker = (this.worker = new StreamingWorker(
        queue,
        {
          output,
          checkpointDir: c.checkpointDir,
          convert,
          staging: output.staging(c.staging),
          inputs: { copy: c.stageInputs, workers: c.stageWorkers, baseDir: c.scratchDir },
          cleanupTemp: c.cleanupTemp,
          maxRetries: c.maxRetries,
          maxCrashRecoveries: c.maxCrashRecoveries,
          retryBackoffS: c.retryBackoffS,
          inProgressTimeoutS: c.inProgressTimeoutS,
          collectingTimeoutS: c.collectingTimeoutS,
          workerPollIntervalS: c.workerPollIntervalS,
          leaseS: c.leaseS,
          workerName: c.workerName,
          profile: c.profile,
          commandLine: c.commandLine,
        },
        {
          converter,
          log: this.log,
          // A watcher-only process keeps the housekeeping (taking back expired leases, the
          // monitor's reports) but never claims.
          mayClaim: () => c.role !== 'watcher' && guard.check(),
          onLoop: async (now) => {
            await requeueCorrectedFiles(queue, c.settleS, this.log);
            return monitor.checkEvents(now);
          },
        },
      ));
      if (this.stopping) worker.stop();
      // A worker serving another process's watcher (PostgreSQL) is woken by its notices.
      if (c.role !== 'watcher') {
        stopListening = await queue.onPending(
          () => worker.wake(),
          (err) => this.log.warn({ err }, `listening for new groups failed (${err.message}); claiming at each poll only`),
        );
      }
      if (c.ops && (c.ops.httpPort !== undefined || c.ops.metricsPort !== undefined)) {
        // Loaded only when asked for: Fastify and prom-client are not needed otherwise.
        const { startOpsServers, queueStatusSource, quicklookRoots } = await import('../ops/server.js');
        const areas = [
          { area: 'output', path: outputRoot },
          ...(staging.scratchDir ? [{ area: 'scratch', path: staging.scratchDir }] : []),
          ...(c.staging.noTmpfs || !staging.tmpfsPath ? [] : [{ area: 'tmpfs', path: staging.tmpfsPath }]),
          ...(staging.workspaceDir ? [{ area: 'workspace', path: staging.workspaceDir }] : []),
        ];
        const source = queueStatusSource(queue, {
          limit: 20,
          queueDepthWarn: c.queueDepthWarn,
          slowGroupS: slowGroupThresholdS(c.chunkDurationMin),
          inProgressTimeoutS: c.inProgressTimeoutS,
          collectingTimeoutS: c.collectingTimeoutS,
          staging: areas,
          quicklookRoots: quicklookRoots(c.outputDir, c.layout),
          probe,
        });
        this.ops = await startOpsServers({ source, host: c.ops.host, httpPort: c.ops.httpPort, metricsPort: c.ops.metricsPort, log: this.log });
      }
      const me = currentProcess();
      this.log.info(
        { pid: me.pid, host: me.host, queueDb: queue.file },
        `Streaming converter starting (${c.role === 'both' ? 'watcher and worker' : `${c.role} only`}${c.workerName ? `, worker ${c.workerName}` : ''}): ${c.role === 'worker' ? 'queued groups' : c.inputDir} → ${output.description} (queue ${queue.file}; converter ${c.useSubprocess ? 'in a subprocess' : 'in-process'}, ${convert.threads} threads; chunk duration ${c.chunkDurationMin} min)`,
      );
      await worker.recover();

      const grouping: GroupingRules = { toleranceS: c.groupToleranceS, expectedSubbands: c.expectedSubbands, chunkMinutes: c.chunkDurationMin };
      const sink = async (files: Arrival[]) => {
        const regs = await queue.register(files, grouping, Date.now() / 1000);
        for (const r of regs) this.describe(r);
        if (completedAGroup(regs)) worker.wake();
      };
      if (c.role !== 'worker') {
        const watcher = (this.watcher = new DirectoryWatcher(
          { inputDir: c.inputDir, mode: c.watchMode, pollIntervalS: c.pollIntervalS, settleS: c.settleS, rescanIntervalS: Math.max(60, c.pollIntervalS * 12), known: await queue.knownPaths() },
          sink,
          this.log,
          this.deps.watch,
        ));
        await watcher.start();
      }
      if (c.monitoring) monitor.start();
      this.resolveReady();
      this.log.info('Streaming converter running');
      await worker.run();
    } finally {
      await stopListening();
      this.resolveReady();
      await this.watcher?.stop().catch((err) => this.log.error({ err }, `stopping the watcher: ${(err as Error).message}`));
      await this.monitor?.stop();
      await this.ops?.close().catch((err) => this.log.error({ err }, `stopping the ops servers: ${(err as Error).message}`));
      await queue.close();
      await output.close();
      this.log.info('Streaming converter stopped');
    }
  }
}
