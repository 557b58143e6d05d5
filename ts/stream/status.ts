/**
 * The streaming queue's status value: what `contimg status --json` prints, and the only source
 * of the ops dashboard and of `/metrics` (ts/ops). One function computes it so that the page,
 * the Prometheus gauges and the command line can never disagree about a number.
 *
 * Queries beyond the StreamQueue API (workers, new timing rows) use the queue's Kysely handle
 * with dialect-neutral SQL only: the queue is being ported to PostgreSQL.
 */
import path from 'node:path';
import { queueWarnings, realDiskProbe, stagingWarning, type DiskProbe } from './monitor.js';
import type { GroupRecord, MetricRow, StreamQueue } from './queue.js';
import { LATEST_MIGRATION } from './schema.js';
import { latestQuicklooks, type Quicklook } from './quicklooks.js';

export type { Quicklook };

export const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString().replace(/\.\d+Z$/, 'Z'));

function claimer(g: GroupRecord): string | null {
  const who = g.state === 'in_progress' ? g.claimedBy : g.lastClaimedBy;
  return who ? `${who.host}:${who.pid}` : null;
}

/** The kinds of warning `queueWarnings`/`stagingWarning` raise, for `contimg_monitor_warning{kind}`. */
export const WARNING_KINDS = ['queue_depth', 'stale_in_progress', 'stale_collecting', 'slow_group', 'staging_leftovers'] as const;
export type WarningKind = (typeof WARNING_KINDS)[number];

/**
 * The kind of a warning message, from the fixed words of its WARNINGS template (monitor.ts);
 * test/ops/metrics.test.ts renders every template and checks it is classified, so a rewording
 * there cannot silently zero a gauge here.
 */
const KIND_PATTERNS: [WarningKind, RegExp][] = [
  ['queue_depth', /^High queue depth: \d+ groups queued$/],
  ['stale_in_progress', /^Found \d+ stale in-progress groups /],
  ['stale_collecting', /^Group \S+ has been waiting for missing subbands longer than /],
  ['slow_group', /^Group \S+ took [\d.]+ s \(exceeds /],
  ['staging_leftovers', /^Staging left by dead conversions: /],
];

export function warningKind(msg: string): WarningKind | null {
  for (const [k, re] of KIND_PATTERNS) if (re.test(msg)) return k;
  return null;
}

export interface StagingArea {
  /** `output`, `scratch`, `tmpfs` (or `workspace`). */
  area: string;
  path: string;
}

export interface QueueStatusOptions {
  /** How many recent groups and metrics to list. */
  limit: number;
  queueDepthWarn: number;
  slowGroupS: number;
  inProgressTimeoutS: number;
  collectingTimeoutS: number;
  /** Where conversions stage: leftovers there are warned about, free space reported. */
  staging?: StagingArea[];
  /** Directories whose `<name>.png` quicklooks with a sibling `<name>.fits` are listed (newest first). */
  quicklookRoots?: string[];
  /** How many quicklooks to list (default 8). */
  quicklookLimit?: number;
  /**
   * With a number: also return `newMetrics`, every timing row recorded after it (all rows for
   * -Infinity), for the stage-duration histogram. Not part of `contimg status`.
   */
  metricsSinceS?: number;
  probe?: DiskProbe;
}

export interface WorkerEntry {
  host: string | null;
  pid: number | null;
  groupId: string;
  claimedAt: string | null;
  lastUpdate: string | null;
  /** Seconds since the claim's last heartbeat (`last_update`), at `nowS`. */
  heartbeatAgeS: number;
  /** The worker's name (`--worker-name`, default host:pid). */
  worker: string | null;
  /** The claim's fencing token. */
  token: number;
  /** When the lease runs out unless renewed (null: a claim from before leases). */
  leaseExpiresAt: string | null;
  /** Seconds left on the lease at `nowS` (negative: expired, about to be taken back). */
  leaseRemainingS: number | null;
}

export type QueueStatus = Awaited<ReturnType<typeof queueStatus>>;

/**
 * In-progress claims, all of them (recentGroups is limited): who holds each, its last heartbeat
 * (`last_update`, the clock stale-claim recovery reads) and its lease.
 */
async function workers(queue: StreamQueue, nowS: number): Promise<WorkerEntry[]> {
  const rows = await queue.db
    .selectFrom('ingest_queue')
    .select(['group_id', 'claimed_by_host', 'claimed_by_pid', 'claimed_at', 'last_update', 'claimed_by_worker', 'claim_token', 'lease_expires_at'])
    .where('state', '=', 'in_progress')
    .orderBy('claimed_at')
    .orderBy('group_id')
    .execute();
  return rows.map((r) => ({
    host: r.claimed_by_host,
    pid: r.claimed_by_pid,
    groupId: r.group_id,
    claimedAt: iso(r.claimed_at),
    lastUpdate: iso(r.last_update),
    heartbeatAgeS: Math.max(0, nowS - r.last_update),
    worker: r.claimed_by_worker,
    token: r.claim_token,
    leaseExpiresAt: iso(r.lease_expires_at),
    leaseRemainingS: r.lease_expires_at === null ? null : r.lease_expires_at - nowS,
  }));
}

/**
 * The status value at `nowS`. Fields up to `warnings` are those `contimg status --json` has
 * always printed; `workers`, `warningKinds` and `staging` were added for operations.
 */
export async function queueStatus(queue: StreamQueue, opts: QueueStatusOptions, nowS: number) {
  const counts = await queue.counts();
  const groups = await queue.recentGroups(opts.limit);
  const metrics = await queue.metrics({ limit: opts.limit });
  const warnings = await queueWarnings(
    queue,
    { queueDepthWarn: opts.queueDepthWarn, slowGroupS: opts.slowGroupS, inProgressTimeoutS: opts.inProgressTimeoutS, collectingTimeoutS: opts.collectingTimeoutS },
    nowS,
    opts.limit,
  );
  const staging = opts.staging ?? [];
  const leftovers = stagingWarning(staging.map((s) => path.resolve(s.path)));
  if (leftovers) warnings.push(leftovers);
  const warningKinds = Object.fromEntries(WARNING_KINDS.map((k) => [k, 0])) as Record<WarningKind, number>;
  for (const w of warnings) {
    const k = warningKind(w);
    if (k) warningKinds[k]++;
  }
  const probe = opts.probe ?? realDiskProbe;
  const value = {
    queueDb: queue.file,
    schema: LATEST_MIGRATION,
    counts,
    total: Object.values(counts).reduce((x, y) => x + y, 0),
    groups: groups.map((g) => ({
      groupId: g.groupId,
      state: g.state,
      processingStage: g.stage,
      subbands: g.subbands,
      expectedSubbands: g.expectedSubbands,
      retryCount: g.retryCount,
      crashRecoveries: g.crashRecoveries,
      error: g.error,
      receivedAt: iso(g.receivedAtS),
      lastUpdate: iso(g.lastUpdateS),
      claimedBy: claimer(g),
      nextAttemptAt: iso(g.nextAttemptAtS),
    })),
    metrics: metrics.map((m) => ({ groupId: m.groupId, totalS: m.totalS, loadS: m.loadS, phaseS: m.phaseS, writeS: m.writeS, recordedAt: iso(m.recordedAtS), detail: m.detail })),
    warnings,
    /** Count of current warnings of each kind (every kind listed, 0 when quiet). */
    warningKinds,
    workers: await workers(queue, nowS),
    staging: staging.map((s) => {
      const d = probe(s.path);
      return { area: s.area, path: path.resolve(s.path), freeBytes: d?.freeBytes ?? null, totalBytes: d?.totalBytes ?? null };
    }),
    ...(opts.quicklookRoots ? { quicklooks: latestQuicklooks(opts.quicklookRoots, opts.quicklookLimit ?? 8) } : {}),
    ...(opts.metricsSinceS !== undefined ? { newMetrics: await newMetrics(queue, opts.metricsSinceS) } : {}),
  };
  return value;
}

/** Timing rows recorded after `sinceS` (all of them for -Infinity), oldest first. */
async function newMetrics(queue: StreamQueue, sinceS: number): Promise<MetricRow[]> {
  const rows = await queue.metrics(Number.isFinite(sinceS) ? { sinceS } : {});
  return rows.reverse();
}
