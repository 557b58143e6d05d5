/**
 * Prometheus metrics of the streaming service, computed at scrape time from `queueStatus`
 * (ts/stream/status.ts), the value `contimg status --json` prints: a gauge can never disagree
 * with the command line. Each exporter has its own Registry, so two in one process (tests, a
 * service and a `serve`) do not collide in prom-client's global one.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GROUP_STATES } from '../stream/schema.js';
import { WARNING_KINDS, type QueueStatus, type QueueStatusOptions } from '../stream/status.js';
import type { MetricRow } from '../stream/queue.js';

/** The `queueStatus` call an exporter makes; `metricsSinceS` is filled in by the exporter. */
export type StatusSource = (extra?: Pick<QueueStatusOptions, 'metricsSinceS'>) => Promise<QueueStatus>;

/** Conversions take seconds to minutes; 270 s is the slow-group threshold for 5-min chunks. */
export const STAGE_BUCKETS_S = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 180, 270, 300, 600, 1200];

const STAGES = [
  ['load', 'loadS'],
  ['phase', 'phaseS'],
  ['write', 'writeS'],
  ['total', 'totalS'],
] as const;

/**
 * Rows are re-read this far behind the newest one seen: `recorded_at` is stamped before the
 * writing transaction commits, and several services may share the queue, so a row can appear
 * with a time older than one already observed. The keys seen in the window avoid double counts.
 */
const LOOKBACK_S = 300;

export class OpsMetrics {
  readonly registry = new Registry();
  private readonly groups: Gauge;
  private readonly completed: Counter;
  private readonly failed: Counter;
  private readonly stage: Histogram;
  private readonly warning: Gauge;
  private readonly free: Gauge;
  private readonly lease: Gauge;
  private readonly leaseLeft: Gauge;
  /** Newest `recorded_at` observed; -Infinity until the first scrape seeds the histogram. */
  private watermarkS = -Infinity;
  private readonly seen = new Map<string, number>();
  private updating: Promise<void> = Promise.resolve();

  constructor(private readonly source: StatusSource) {
    const registers = [this.registry];
    this.groups = new Gauge({ name: 'contimg_queue_groups', help: 'Groups in the streaming queue, by state', labelNames: ['state'], registers });
    // Counters equal to the queue's completed/failed counts. An operator's requeue lowers them,
    // which Prometheus reads as a counter reset (rate() stays right); see deploy/README.md.
    this.completed = new Counter({ name: 'contimg_groups_completed_total', help: 'Groups in state completed (the queue count)', registers });
    this.failed = new Counter({ name: 'contimg_groups_failed_total', help: 'Groups in state failed (the queue count)', registers });
    this.stage = new Histogram({
      name: 'contimg_stage_duration_seconds',
      help: 'Conversion stage durations from performance_metrics (each row observed once)',
      labelNames: ['stage'],
      buckets: STAGE_BUCKETS_S,
      registers,
    });
    this.warning = new Gauge({ name: 'contimg_monitor_warning', help: 'Monitor warnings active now, by kind (count of messages; 0 when quiet)', labelNames: ['kind'], registers });
    this.free = new Gauge({ name: 'contimg_staging_free_bytes', help: 'Free bytes on the file system of each staging area', labelNames: ['area'], registers });
    this.lease = new Gauge({
      name: 'contimg_worker_lease',
      help: 'Seconds since the last heartbeat (last_update) of each in-progress claim',
      labelNames: ['host', 'pid', 'group'],
      registers,
    });
    this.leaseLeft = new Gauge({
      name: 'contimg_worker_lease_remaining_seconds',
      help: 'Seconds left on the lease of each in-progress claim (negative: expired; any worker takes it back)',
      labelNames: ['host', 'worker', 'group'],
      registers,
    });
    // Every label value exists from the start, so a dashboard shows 0 rather than "no data".
    for (const s of STAGES) this.stage.zero({ stage: s[0] });
  }

  /** Reads the status and sets every metric; serialised so concurrent scrapes observe rows once. */
  update(): Promise<void> {
    const next = this.updating.then(() => this.doUpdate());
    this.updating = next.catch(() => undefined);
    return next;
  }

  private async doUpdate(): Promise<void> {
    const st = await this.source({ metricsSinceS: Number.isFinite(this.watermarkS) ? this.watermarkS - LOOKBACK_S : -Infinity });
    for (const s of GROUP_STATES) this.groups.set({ state: s }, st.counts[s]);
    this.completed.reset();
    this.completed.inc(st.counts.completed);
    this.failed.reset();
    this.failed.inc(st.counts.failed);
    for (const k of WARNING_KINDS) this.warning.set({ kind: k }, st.warningKinds[k]);
    this.free.reset();
    for (const a of st.staging) if (a.freeBytes !== null) this.free.set({ area: a.area }, a.freeBytes);
    this.lease.reset();
    for (const w of st.workers) this.lease.set({ host: w.host ?? '', pid: w.pid === null ? '' : String(w.pid), group: w.groupId }, w.heartbeatAgeS);
    this.leaseLeft.reset();
    for (const w of st.workers) if (w.leaseRemainingS !== null) this.leaseLeft.set({ host: w.host ?? '', worker: w.worker ?? '', group: w.groupId }, w.leaseRemainingS);
    this.observe(st.newMetrics ?? []);
  }

  private observe(rows: readonly MetricRow[]): void {
    for (const r of rows) {
      // A group converted again (requeued) gets a new row time: a new conversion, observed again.
      const key = `${r.groupId}\u0000${r.recordedAtS}`;
      if (this.seen.has(key)) continue;
      this.seen.set(key, r.recordedAtS);
      for (const [stage, field] of STAGES) {
        const v = r[field];
        if (v !== null && Number.isFinite(v)) this.stage.observe({ stage }, v);
      }
      this.watermarkS = Math.max(this.watermarkS, r.recordedAtS);
    }
    for (const [k, t] of this.seen) if (t < this.watermarkS - 2 * LOOKBACK_S) this.seen.delete(k);
  }

  /** The exposition text after a fresh update. */
  async scrape(): Promise<string> {
    await this.update();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
