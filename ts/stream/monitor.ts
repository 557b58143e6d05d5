/**
 * MonitoringThread (seed 000): queue health and system resources, every `--monitor-interval`
 * seconds, in the seed's wording; and the free-space guard that pauses claiming when the output
 * or scratch file system is nearly full, and resumes it when space returns.
 *
 * Two kinds of report. Event reports (a group waiting too long for missing subbands, a group
 * slower than the threshold) are made once per event, as soon as the worker's loop or the
 * periodic tick notices; they run even with `--no-monitoring`, so a stuck group is always
 * reported. Periodic reports (queue depth, stale claims, resources) are the monitor's own.
 */
import { readFileSync, readdirSync, statSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { abandonedStaging } from '../convert/staging.js';
import type { Logger } from '../log.js';
import type { StreamQueue, StateCounts } from './queue.js';

/** The seed's warnings, word for word (operators grep for them). */
export const WARNINGS = {
  highQueueDepth: (n: number) => `High queue depth: ${n} groups queued`,
  slowGroup: (groupId: string, totalS: number, thresholdS: number) =>
    `Group ${groupId} took ${totalS.toFixed(1)} s (exceeds ${minutes(thresholdS)} min threshold)`,
  staleInProgress: (n: number, timeoutS: number) => `Found ${n} stale in-progress groups (>${minutes(timeoutS)} min)`,
  waitingForSubbands: (groupId: string, timeoutS: number) =>
    `Group ${groupId} has been waiting for missing subbands longer than ${Math.round(timeoutS)} s`,
  failedIncreased: (n: number, was: number) => `Failed count increased: ${n} (was ${was})`,
  stagingLeftovers: (dirs: string[], bytes: number) =>
    `Staging left by dead conversions: ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'} (${formatGb(bytes)}): ${dirs.join(', ')}; \`contimg stream\` removes them when it starts`,
} as const;

/** Bytes under `p` (files only, not following links). */
function treeBytes(p: string): number {
  let total = 0;
  try {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const q = `${p}/${e.name}`;
      if (e.isDirectory()) total += treeBytes(q);
      else if (e.isFile()) total += statSync(q).size;
    }
  } catch {
    // Removed while we looked.
  }
  return total;
}

/** The warning for staging directories that conversions which died left in `bases`, if any. */
export function stagingWarning(bases: readonly string[]): string | null {
  const dirs = [...new Set(bases)].flatMap((b) => abandonedStaging(b));
  if (dirs.length === 0) return null;
  return WARNINGS.stagingLeftovers(dirs, dirs.reduce((n, d) => n + treeBytes(d), 0));
}

/** 270 → "4.5", 900 → "15". */
function minutes(s: number): string {
  const m = s / 60;
  return Number.isInteger(m) ? String(m) : m.toFixed(1);
}

export function formatGb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}
/** Free space of the file system holding a path; undefined if it cannot be read. Injectable for tests. */
export type DiskProbe = (p: string) => DiskSpace | undefined;

export const realDiskProbe: DiskProbe = (p) => {
  try {
    const s = statfsSync(p);
    return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
};

export interface SpaceRule {
  /** `output` or `scratch`. */
  name: string;
  path: string;
  minFreeBytes: number;
}

/**
 * Pauses claiming while any watched file system has less than its minimum free. A conversion
 * already running finishes (it was sized when it started); only new claims wait.
 */
export class SpaceGuard {
  private pausedBy: string[] = [];

  constructor(
    private readonly rules: SpaceRule[],
    private readonly probe: DiskProbe,
    private readonly log: Logger,
  ) {}

  get paused(): boolean {
    return this.pausedBy.length > 0;
  }

  /** Why claims are paused (empty when they are not). */
  get reasons(): readonly string[] {
    return this.pausedBy;
  }

  /** True when claims may go on. Logs each pause and resume once. */
  check(): boolean {
    const low: string[] = [];
    for (const r of this.rules) {
      const s = this.probe(r.path);
      if (s && s.freeBytes < r.minFreeBytes) low.push(`${r.name} ${r.path} has ${formatGb(s.freeBytes)} free (below ${formatGb(r.minFreeBytes)})`);
    }
    if (low.length > 0 && !this.paused) this.log.warn(`Pausing claims: ${low.join('; ')}`);
    else if (low.length === 0 && this.paused) {
      const now = this.rules.map((r) => `${r.name} ${formatGb(this.probe(r.path)?.freeBytes ?? 0)} free`).join(', ');
      this.log.info(`Resuming claims: free space restored (${now})`);
    }
    this.pausedBy = low;
    return low.length === 0;
  }
}

export interface MonitorConfig {
  intervalS: number;
  /** Warn when more than this many groups are pending or in progress. */
  queueDepthWarn: number;
  /** Warn when a conversion takes longer (seconds): 90 % of `--chunk-duration`, 4.5 min for 5-min groups. */
  slowGroupS: number;
  inProgressTimeoutS: number;
  collectingTimeoutS: number;
  /** File systems to report: input, output, scratch, tmpfs. */
  dirs: { name: string; path: string }[];
  /** Where conversions stage (output, scratch, tmpfs, workspace): leftovers there are warned about. */
  stagingBases?: string[];
}

export interface ResourceReport {
  loadAvg: number[];
  cpus: number;
  /** Busy share of all CPUs since the previous report (null on the first). */
  cpuBusyPercent: number | null;
  memTotalBytes: number;
  memAvailableBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** This process's open file descriptors (null where /proc is missing). */
  openFds: number | null;
  disks: { name: string; path: string; freeBytes: number | null; totalBytes: number | null }[];
}

export interface MonitorReport {
  counts: StateCounts;
  warnings: string[];
  resources: ResourceReport;
  pausedForSpace: boolean;
}

function memAvailable(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return os.freemem();
}

export function openFdCount(): number | null {
  try {
    // readdir itself holds one descriptor while it lists.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return null;
  }
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** Current warnings from the queue alone, without memory of what was reported (`contimg status`). */
export async function queueWarnings(queue: StreamQueue, cfg: Omit<MonitorConfig, 'intervalS' | 'dirs'>, nowS: number, recentMetrics = 10): Promise<string[]> {
  const out: string[] = [];
  const counts = await queue.counts();
  const depth = counts.pending + counts.in_progress;
  if (depth > cfg.queueDepthWarn) out.push(WARNINGS.highQueueDepth(depth));
  const stale = await queue.staleInProgressCount(cfg.inProgressTimeoutS, nowS);
  if (stale > 0) out.push(WARNINGS.staleInProgress(stale, cfg.inProgressTimeoutS));
  for (const g of await queue.staleCollecting(cfg.collectingTimeoutS, nowS)) out.push(WARNINGS.waitingForSubbands(g.groupId, cfg.collectingTimeoutS));
  for (const m of await queue.metrics({ limit: recentMetrics })) {
    if (m.totalS !== null && m.totalS > cfg.slowGroupS) out.push(WARNINGS.slowGroup(m.groupId, m.totalS, cfg.slowGroupS));
  }
  return out;
}

export class Monitor {
  private readonly reportedWaiting = new Set<string>();
  private metricsWatermarkS: number;
  private lastFailed: number | undefined;
  private lastCpu = cpuTimes();
  private firstTick = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly queue: StreamQueue,
    private readonly cfg: MonitorConfig,
    private readonly log: Logger,
    private readonly probe: DiskProbe = realDiskProbe,
    private readonly guard?: SpaceGuard,
    /** Slow groups recorded before this (earlier runs) are history, not news. */
    startS: number = Date.now() / 1000,
  ) {
    this.metricsWatermarkS = startS;
  }

  /** Reports each new event once: groups waiting for subbands too long, and slow conversions. */
  async checkEvents(nowS: number): Promise<string[]> {
    const out: string[] = [];
    const waiting = await this.queue.staleCollecting(this.cfg.collectingTimeoutS, nowS);
    const still = new Set<string>();
    for (const g of waiting) {
      still.add(g.groupId);
      if (this.reportedWaiting.has(g.groupId)) continue;
      this.reportedWaiting.add(g.groupId);
      const msg = WARNINGS.waitingForSubbands(g.groupId, this.cfg.collectingTimeoutS);
      this.log.warn({ group: g.groupId, subbands: g.subbands, expected: g.expected }, msg);
      out.push(msg);
    }
    // Forget groups that completed or were renamed, so the set does not grow without bound.
    for (const g of this.reportedWaiting) if (!still.has(g)) this.reportedWaiting.delete(g);
    const fresh = await this.queue.metrics({ sinceS: this.metricsWatermarkS });
    for (const m of fresh.reverse()) {
      this.metricsWatermarkS = Math.max(this.metricsWatermarkS, m.recordedAtS);
      if (m.totalS !== null && m.totalS > this.cfg.slowGroupS) {
        const msg = WARNINGS.slowGroup(m.groupId, m.totalS, this.cfg.slowGroupS);
        this.log.warn({ group: m.groupId, totalS: m.totalS }, msg);
        out.push(msg);
      }
    }
    return out;
  }

  resources(): ResourceReport {
    const cpu = cpuTimes();
    const dTotal = cpu.total - this.lastCpu.total;
    const busy = this.firstTick || dTotal <= 0 ? null : (100 * (cpu.busy - this.lastCpu.busy)) / dTotal;
    this.lastCpu = cpu;
    this.firstTick = false;
    const mem = process.memoryUsage();
    return {
      loadAvg: os.loadavg(),
      cpus: os.cpus().length,
      cpuBusyPercent: busy,
      memTotalBytes: os.totalmem(),
      memAvailableBytes: memAvailable(),
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
      openFds: openFdCount(),
      disks: this.cfg.dirs.map((d) => {
        const s = this.probe(d.path);
        return { name: d.name, path: d.path, freeBytes: s?.freeBytes ?? null, totalBytes: s?.totalBytes ?? null };
      }),
    };
  }

  async tick(nowS: number): Promise<MonitorReport> {
    const warnings: string[] = [];
    const warn = (msg: string, extra: object = {}) => {
      this.log.warn(extra, msg);
      warnings.push(msg);
    };
    const counts = await this.queue.counts();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    this.log.info(
      { counts },
      `Queue status: total=${total}, collecting=${counts.collecting}, pending=${counts.pending}, in_progress=${counts.in_progress}, failed=${counts.failed}, completed=${counts.completed}`,
    );
    const depth = counts.pending + counts.in_progress;
    if (depth > this.cfg.queueDepthWarn) warn(WARNINGS.highQueueDepth(depth), { depth });
    if (this.lastFailed !== undefined && counts.failed > this.lastFailed) warn(WARNINGS.failedIncreased(counts.failed, this.lastFailed));
    this.lastFailed = counts.failed;
    const stale = await this.queue.staleInProgressCount(this.cfg.inProgressTimeoutS, nowS);
    if (stale > 0) warn(WARNINGS.staleInProgress(stale, this.cfg.inProgressTimeoutS), { stale });
    warnings.push(...(await this.checkEvents(nowS)));

    const r = this.resources();
    const disks = r.disks.map((d) => `${d.name} ${d.freeBytes === null ? 'n/a' : formatGb(d.freeBytes)}`).join(', ');
    this.log.info(
      { resources: r },
      `System metrics: load ${r.loadAvg.map((x) => x.toFixed(2)).join('/')} (${r.cpus} CPUs)` +
        `${r.cpuBusyPercent === null ? '' : `, CPU=${r.cpuBusyPercent.toFixed(1)}%`}` +
        `, RAM=${(100 * (1 - r.memAvailableBytes / r.memTotalBytes)).toFixed(1)}% (${formatGb(r.memTotalBytes - r.memAvailableBytes)}/${formatGb(r.memTotalBytes)})` +
        `, RSS=${(r.rssBytes / 1e6).toFixed(0)} MB${r.openFds === null ? '' : `, fds=${r.openFds}`}; free: ${disks}`,
    );
    const leftovers = stagingWarning(this.cfg.stagingBases ?? []);
    if (leftovers) warn(leftovers);
    const pausedForSpace = this.guard ? !this.guard.check() : false;
    if (pausedForSpace) warnings.push(`Claims paused: ${this.guard!.reasons.join('; ')}`);
    return { counts, warnings, resources: r, pausedForSpace };
  }

  start(nowS: () => number = () => Date.now() / 1000): void {
    const run = () => {
      if (this.running) return;
      this.running = this.tick(nowS())
        .catch((err) => this.log.error({ err }, `Error in monitoring: ${(err as Error).message}`))
        .finally(() => (this.running = undefined));
    };
    this.log.info(`Starting monitoring (interval: ${this.cfg.intervalS} s)`);
    run();
    this.timer = setInterval(run, this.cfg.intervalS * 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
