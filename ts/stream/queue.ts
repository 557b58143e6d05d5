/**
 * The streaming queue: registering subband files into groups, and the group state machine
 * (collecting → pending → in_progress → completed | failed) with atomic claims.
 *
 * Every operation that reads and then writes runs in one write transaction (ts/db/index.ts): on
 * SQLite `BEGIN IMMEDIATE`, which takes the write lock before the first read; on PostgreSQL with
 * the rows it decides from locked. Two services (or a service and an operator's `contimg
 * requeue`) sharing one database each see the other's work whole, never half of it, and never
 * decide from a snapshot another writer has already changed. Claims on PostgreSQL pass over rows
 * another claimer holds (`FOR UPDATE SKIP LOCKED`), so workers on several hosts do not queue up
 * behind each other.
 *
 * Leases and fencing. A claim is a lease until `lease_expires_at`, renewed by its worker; any
 * process takes back a group whose lease expired. Each claim increments the group's
 * `claim_token`, and every write a claimer makes (progress, completion, failure, publishing its
 * MS through `fenced`) is conditional on that token: a worker that stalled past its lease (a
 * SIGSTOP, a frozen VM, a network partition) and wakes after the group was claimed again is
 * refused, whatever it believes.
 *
 * Time is passed in (`nowS`, Unix seconds) rather than read here, so tests can drive the clock.
 */
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { describeTarget, dialectOf, lockRows, openDatabase, parseDbTarget, writeTransaction, type DbTarget } from '../db/index.js';
import { listen, notify } from '../db/notify.js';
import { formatTimestamp, parseSubbandName, type SubbandFile } from '../groups.js';
import { completedAGroup, filesOfFailedGroups, groupTimeS, registerFiles, requeueReplaced, type Arrival, type FailedGroupFile, type GroupingRules, type Registration } from './register.js';
import type { Liveness, ProcessIdentity } from './owner.js';
import {
  STREAM_MIGRATIONS,
  type ClaimStage,
  type GroupState,
  type LegacyProcessingStage,
  type ProcessingStage,
  type StreamDb,
  type UnixSeconds,
} from './schema.js';
import { DEFAULT_LEASE_S } from './roles.js';
import { NO_CLAIM, isState, recoverDeadOwners, recoverExpiredLeases, recoverStale, requeue, type Recovered, type RequeueOutcome } from './recovery.js';

export type { Arrival, GroupingRules, Registration } from './register.js';
export type { Recovered, RequeueOutcome } from './recovery.js';

export interface RegisteredFile extends SubbandFile {
  sizeBytes: number | null;
}

interface GroupCommon {
  groupId: string;
  stage: ProcessingStage | LegacyProcessingStage | null;
  receivedAtS: UnixSeconds;
  lastUpdateS: UnixSeconds;
  retryCount: number;
  /** Times the group was taken back from a claiming process that died. */
  crashRecoveries: number;
  error: string | null;
  checkpointPath: string | null;
  expectedSubbands: number;
  nextAttemptAtS: UnixSeconds | null;
  /** Subband files registered for the group. */
  subbands: number;
  /** The fencing token of the group's latest claim (0: never claimed by contimg). */
  claimToken: number;
  /** The worker name of the latest claimer (`--worker-name`). */
  worker: string | null;
}

/** A row of `ingest_queue`; only an in-progress group has a claimer. */
export type GroupRecord =
  | (GroupCommon & { state: Exclude<GroupState, 'in_progress'>; lastClaimedBy: ProcessIdentity | null })
  | (GroupCommon & {
      state: 'in_progress';
      /** Null only for claims written by the Python service, which did not record one. */
      claimedBy: ProcessIdentity | null;
      claimedAtS: UnixSeconds | null;
      /** Null for claims written before leases (they are recovered by the stale-claim rule only). */
      leaseExpiresAtS: UnixSeconds | null;
    });

/** A group this process holds: everything the worker needs to convert it. */
export interface Claim {
  groupId: string;
  stage: ClaimStage;
  owner: ProcessIdentity;
  claimedAtS: UnixSeconds;
  /** The fencing token: this claim's number among the group's claims. */
  token: number;
  leaseExpiresAtS: UnixSeconds;
  /** Failed attempts before this one. */
  retryCount: number;
  expectedSubbands: number;
  files: RegisteredFile[];
}


export type RetryOutcome = { state: 'pending'; retryCount: number; nextAttemptAtS: UnixSeconds } | { state: 'failed'; retryCount: number } | { state: 'lost' };


export interface MetricRow {
  groupId: string;
  totalS: number | null;
  loadS: number | null;
  phaseS: number | null;
  writeS: number | null;
  recordedAtS: UnixSeconds;
  detail?: Record<string, number>;
}

export type StateCounts = Record<GroupState, number>;


/** Retry delay after the n-th failure: base · 2^(n−1), at most 16 × base. */
export function backoffS(baseS: number, failures: number): number {
  return baseS * 2 ** Math.min(4, Math.max(0, failures - 1));
}

type Row = {
  group_id: string;
  state: string;
  processing_stage: string | null;
  received_at: number;
  last_update: number;
  retry_count: number;
  crash_recoveries: number;
  error: string | null;
  checkpoint_path: string | null;
  expected_subbands: number;
  next_attempt_at: number | null;
  claimed_by_host: string | null;
  claimed_by_pid: number | null;
  claimed_by_start: string | null;
  claimed_at: number | null;
  claim_token: number;
  lease_expires_at: number | null;
  claimed_by_worker: string | null;
  subbands: number | null;
};

function toRecord(r: Row): GroupRecord {
  if (!isState(r.state)) throw new Error(`ingest_queue: group ${r.group_id} has an unknown state '${r.state}'`);
  const owner: ProcessIdentity | null =
    r.claimed_by_host !== null && r.claimed_by_pid !== null ? { host: r.claimed_by_host, pid: r.claimed_by_pid, start: r.claimed_by_start ?? '' } : null;
  const common: GroupCommon = {
    groupId: r.group_id,
    stage: r.processing_stage as GroupCommon['stage'],
    receivedAtS: r.received_at,
    lastUpdateS: r.last_update,
    retryCount: r.retry_count,
    crashRecoveries: r.crash_recoveries,
    error: r.error,
    checkpointPath: r.checkpoint_path,
    expectedSubbands: r.expected_subbands,
    nextAttemptAtS: r.next_attempt_at,
    subbands: Number(r.subbands ?? 0),
    claimToken: r.claim_token,
    worker: r.claimed_by_worker,
  };
  return r.state === 'in_progress'
    ? { ...common, state: 'in_progress', claimedBy: owner, claimedAtS: r.claimed_at, leaseExpiresAtS: r.lease_expires_at }
    : { ...common, state: r.state, lastClaimedBy: owner };
}


/** The row condition "this process still holds this claim": its fencing token first. */
function heldBy(eb: ExpressionBuilder<StreamDb, 'ingest_queue'>, c: Claim) {
  return eb.and([
    eb('group_id', '=', c.groupId),
    eb('claim_token', '=', c.token),
    eb('state', '=', 'in_progress'),
    eb('claimed_by_host', '=', c.owner.host),
    eb('claimed_by_pid', '=', c.owner.pid),
    eb('claimed_by_start', '=', c.owner.start),
    eb('claimed_at', '=', c.claimedAtS),
  ]);
}

function fileFromRow(r: { subband_idx: number; path: string; size_bytes: number | null; stamped_at: number | null }, groupId: string): RegisteredFile {
  const parsed = parseSubbandName(r.path);
  if (parsed.ok) return { ...parsed.name, path: r.path, subband: r.subband_idx, sizeBytes: r.size_bytes };
  const timeMs = r.stamped_at !== null ? r.stamped_at * 1000 : groupTimeS(groupId) * 1000;
  return { path: r.path, subband: r.subband_idx, timestamp: Number.isFinite(timeMs) ? formatTimestamp(timeMs) : groupId, timeMs, sizeBytes: r.size_bytes };
}


export interface ClaimOptions {
  leaseS?: number;
  /** A name for the claiming worker, shown in `status` and the metrics. */
  worker?: string;
}

export class StreamQueue {
  private constructor(
    readonly db: Kysely<StreamDb>,
    /** The database file or URL (password hidden), for messages. */
    readonly file: string,
    readonly target: DbTarget,
  ) {}

  /**
   * Opens (creating if needed) and migrates the queue database: a SQLite file (a path, WAL mode,
   * 10 s busy timeout) or PostgreSQL (schema `public`). Migrations run in one transaction under a
   * lock (ts/db/), so two processes opening a new database at once serialise. Switching a
   * brand-new SQLite file to WAL can still meet the other process's lock without waiting; that is
   * retried.
   */
  static async open(where: string | DbTarget, opts: { maxConnections?: number } = {}): Promise<StreamQueue> {
    const target: DbTarget = typeof where === 'string' ? parseDbTarget(where) : where;
    for (let attempt = 1; ; attempt++) {
      try {
        const db = await openDatabase<StreamDb>(target, STREAM_MIGRATIONS, { schema: 'public', maxConnections: opts.maxConnections });
        return new StreamQueue(db, describeTarget(target), target);
      } catch (err) {
        const racing = /database is locked/.test((err as Error).message);
        if (!racing || attempt >= 5) throw err;
        await new Promise((r) => setTimeout(r, 50 * attempt + Math.random() * 50));
      }
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Runs `fn` as one write transaction (see the module comment). */
  private async immediate<T>(fn: (q: Kysely<StreamDb>) => Promise<T>, serialize?: string): Promise<T> {
    return writeTransaction(this.db, fn, { serialize });
  }

  /** Every registered path: the watcher skips these on its startup scan. */
  async knownPaths(): Promise<Set<string>> {
    const rows = await this.db.selectFrom('subband_files').select('path').execute();
    return new Set(rows.map((r) => r.path));
  }

  /**
   * Registers complete subband files, in time order, in one transaction, into the groups
   * `contimg convert` would form from the same files (ts/stream/register.ts). A group becomes
   * `pending` when its last expected subband arrives.
   */
  async register(files: Arrival[], rules: GroupingRules, nowS: UnixSeconds): Promise<Registration[]> {
    if (files.length === 0) return [];
    // Registration reads groups near each file's time that may not exist yet: serialised.
    const regs = await this.immediate((q) => registerFiles(q, files, rules, nowS), 'contimg:register');
    await this.wakeWorkersIf(completedAGroup(regs));
    return regs;
  }

  /**
   * After a committed change that made a group claimable now, wakes the workers in other
   * processes so that they claim at once rather than at their next poll. Every path to an
   * immediately claimable `pending` sends it: registration, release, recovery, promotion and
   * requeue (a retry after a backoff is found by the poll when its time comes).
   */
  private async wakeWorkersIf(madePending: boolean): Promise<void> {
    if (madePending) await notify(this.db, 'contimg_pending');
  }

  /**
   * Calls `onPending` whenever another process makes a group pending (PostgreSQL only; see
   * ts/db/notify.ts). Returns the function that stops listening.
   */
  async onPending(onPending: () => void, onError: (err: Error) => void): Promise<() => Promise<void>> {
    return listen(this.target, 'contimg_pending', onPending, onError);
  }

  /** The files of failed groups, with the size and mtime they were registered with. */
  async filesOfFailedGroups(): Promise<FailedGroupFile[]> {
    return filesOfFailedGroups(this.db);
  }

  /** A corrected file replaced one of a failed group: record it and requeue the group (see register.ts). */
  async requeueReplaced(path: string, sizeBytes: number, mtimeMs: number, nowS: UnixSeconds): Promise<string | undefined> {
    const group = await this.immediate((q) => requeueReplaced(q, path, sizeBytes, mtimeMs, nowS), 'contimg:register');
    await this.wakeWorkersIf(group !== undefined);
    return group;
  }

  /**
   * Claims the oldest pending group (by arrival) whose retry backoff has passed, and leases it:
   * the row is read locked (passing over rows other claimers hold) and marked in one
   * transaction, so no two claimers can both get it. A group re-queued after a stopped or stale
   * claim stays `resuming`; any other starts as `processing_fresh` (the worker switches it to
   * `resuming` if it finds a checkpoint).
   */
  async claimNext(owner: ProcessIdentity, nowS: UnixSeconds, opts: ClaimOptions = {}): Promise<Claim | undefined> {
    const leaseS = opts.leaseS ?? DEFAULT_LEASE_S;
    const postgres = dialectOf(this.db) === 'postgres';
    // One statement picks and marks the group. On PostgreSQL it needs no explicit transaction:
    // the sub-select locks the row it picks (passing over rows other claimers hold), and the
    // update re-checks `pending` under that lock. One round trip and one commit per claim is
    // what lets many workers claim quickly.
    const claim = (q: Kysely<StreamDb>) =>
      q
        .updateTable('ingest_queue')
        .set((eb) => ({
          state: 'in_progress',
          processing_stage: sql<ProcessingStage>`CASE WHEN processing_stage = 'resuming' THEN 'resuming' ELSE 'processing_fresh' END`,
          claimed_by_host: owner.host,
          claimed_by_pid: owner.pid,
          claimed_by_start: owner.start,
          claimed_by_worker: opts.worker ?? `${owner.host}:${owner.pid}`,
          claimed_at: nowS,
          claim_token: eb('claim_token', '+', 1),
          lease_expires_at: nowS + leaseS,
          last_update: nowS,
        }))
        .where('state', '=', 'pending')
        .where('group_id', '=', (eb) => {
          const next = eb
            .selectFrom('ingest_queue')
            .select('group_id')
            .where('state', '=', 'pending')
            .where((w) => w.or([w('next_attempt_at', 'is', null), w('next_attempt_at', '<=', nowS)]))
            .orderBy('received_at')
            .orderBy('group_id')
            .limit(1);
          return postgres ? next.forUpdate().skipLocked() : next;
        })
        .returning(['group_id', 'processing_stage', 'retry_count', 'expected_subbands', 'claim_token'])
        .executeTakeFirst();
    const row = postgres ? await claim(this.db) : await this.immediate(claim);
    if (!row) return undefined;
    // A claimed group's files no longer change (registration never takes a file from a group in
    // progress), so they are read after the claim committed.
    const files = await this.files(row.group_id);
    return {
      groupId: row.group_id,
      stage: row.processing_stage === 'resuming' ? 'resuming' : 'processing_fresh',
      owner,
      claimedAtS: nowS,
      token: row.claim_token,
      leaseExpiresAtS: nowS + leaseS,
      retryCount: row.retry_count,
      expectedSubbands: row.expected_subbands,
      files,
    };
  }

  /** Extends a held claim's lease to `nowS + leaseS`; false if the claim was lost (its token superseded). */
  async renewLease(c: Claim, leaseS: number, nowS: UnixSeconds): Promise<boolean> {
    const r = await this.db
      .updateTable('ingest_queue')
      .set({ lease_expires_at: nowS + leaseS })
      .where((eb) => heldBy(eb, c))
      .executeTakeFirst();
    if (r.numUpdatedRows > 0n) c.leaseExpiresAtS = nowS + leaseS;
    return r.numUpdatedRows > 0n;
  }

  /**
   * Runs `publish` (moving a finished MS into the shared tree) only while this claim still holds
   * its group, with the group's row locked until it returns, so the group cannot be taken back
   * half-way; the lease is renewed with it, so the claim that published also completes. Returns
   * false, without running it, when the claim was lost.
   */
  async fenced(c: Claim, publish: () => Promise<void> | void, lease: { leaseS: number; nowS: UnixSeconds }): Promise<boolean> {
    return this.immediate(async (q) => {
      const held = await lockRows(q.selectFrom('ingest_queue').select('group_id').where((eb) => heldBy(eb, c)), q).executeTakeFirst();
      if (!held) return false;
      await publish();
      await q.updateTable('ingest_queue').set({ lease_expires_at: lease.nowS + lease.leaseS }).where((eb) => heldBy(eb, c)).execute();
      c.leaseExpiresAtS = lease.nowS + lease.leaseS;
      return true;
    });
  }

  /** Records the stage and checkpoint of a held claim; false if the claim was lost. */
  async setStage(c: Claim, stage: ClaimStage, checkpointPath: string | null, nowS: UnixSeconds): Promise<boolean> {
    const r = await this.db
      .updateTable('ingest_queue')
      .set({ processing_stage: stage, checkpoint_path: checkpointPath, last_update: nowS })
      .where((eb) => heldBy(eb, c))
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Progress on a held claim: refreshes `last_update`, the clock stale-claim recovery reads. */
  async heartbeat(c: Claim, nowS: UnixSeconds): Promise<boolean> {
    const r = await this.db.updateTable('ingest_queue').set({ last_update: nowS }).where((eb) => heldBy(eb, c)).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Marks a held claim completed and records its metrics, together; false if the claim was lost. */
  async complete(c: Claim, m: Omit<MetricRow, 'groupId' | 'recordedAtS'>, nowS: UnixSeconds): Promise<boolean> {
    return this.immediate(async (q) => {
      const r = await q
        .updateTable('ingest_queue')
        .set({ state: 'completed', error: null, next_attempt_at: null, last_update: nowS })
        .where((eb) => heldBy(eb, c))
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      const values = {
        load_time: m.loadS,
        phase_time: m.phaseS,
        write_time: m.writeS,
        total_time: m.totalS,
        recorded_at: nowS,
        detail_json: m.detail ? JSON.stringify(m.detail) : null,
      };
      await q
        .insertInto('performance_metrics')
        .values({ group_id: c.groupId, ...values })
        .onConflict((oc) => oc.column('group_id').doUpdateSet(values))
        .execute();
      return true;
    });
  }

  /**
   * A failed attempt: counted, and the group goes back to `pending` after a backoff, or to
   * `failed` once `maxRetries` attempts have failed (the Python service's rule).
   */
  async retryOrFail(c: Claim, error: string, policy: { maxRetries: number; backoffBaseS: number }, nowS: UnixSeconds): Promise<RetryOutcome> {
    return this.immediate(async (q) => {
      const row = await lockRows(q.selectFrom('ingest_queue').select('retry_count').where((eb) => heldBy(eb, c)), q).executeTakeFirst();
      if (!row) return { state: 'lost' } as const;
      const retryCount = row.retry_count + 1;
      if (retryCount >= policy.maxRetries) {
        await q
          .updateTable('ingest_queue')
          .set({ state: 'failed', retry_count: retryCount, error, next_attempt_at: null, last_update: nowS })
          .where('group_id', '=', c.groupId)
          .execute();
        return { state: 'failed', retryCount } as const;
      }
      const nextAttemptAtS = nowS + backoffS(policy.backoffBaseS, retryCount);
      await q
        .updateTable('ingest_queue')
        .set({
          state: 'pending',
          retry_count: retryCount,
          error,
          next_attempt_at: nextAttemptAtS,
          last_update: nowS,
          ...NO_CLAIM,
        })
        .where('group_id', '=', c.groupId)
        .execute();
      return { state: 'pending', retryCount, nextAttemptAtS } as const;
    });
  }

  /** Gives a held claim back without counting an attempt (shutdown): it resumes next time. */
  async release(c: Claim, nowS: UnixSeconds): Promise<boolean> {
    const r = await this.db
      .updateTable('ingest_queue')
      .set({
        state: 'pending',
        processing_stage: 'resuming',
        next_attempt_at: null,
        last_update: nowS,
        ...NO_CLAIM,
      })
      .where((eb) => heldBy(eb, c))
      .executeTakeFirst();
    const released = r.numUpdatedRows > 0n;
    await this.wakeWorkersIf(released);
    return released;
  }

  /** Re-queues (as `resuming`) claims with no progress for `timeoutS`, wherever their worker is. */
  async recoverStale(timeoutS: number, maxRetries: number, nowS: UnixSeconds): Promise<Recovered[]> {
    if (!(timeoutS > 0)) return [];
    return this.wakeAfterRecovery(await this.immediate((q) => recoverStale(q, timeoutS, maxRetries, nowS)));
  }

  /** Re-queues claims held by processes on this host that no longer exist (see recovery.ts). */
  async recoverDeadOwners(host: string, liveness: (o: ProcessIdentity) => Liveness, maxCrashRecoveries: number, nowS: UnixSeconds): Promise<Recovered[]> {
    return this.wakeAfterRecovery(await this.immediate((q) => recoverDeadOwners(q, host, liveness, maxCrashRecoveries, nowS)));
  }

  /** Re-queues claims whose lease expired, wherever their worker is (see recovery.ts). */
  async recoverExpiredLeases(maxCrashRecoveries: number, nowS: UnixSeconds): Promise<Recovered[]> {
    return this.wakeAfterRecovery(await this.immediate((q) => recoverExpiredLeases(q, maxCrashRecoveries, nowS)));
  }

  private async wakeAfterRecovery(recovered: Recovered[]): Promise<Recovered[]> {
    await this.wakeWorkersIf(recovered.some((r) => r.state === 'pending'));
    return recovered;
  }

  /** `--allow-missing`: groups collecting longer than `timeoutS` become pending as they are. */
  async promoteStaleCollecting(timeoutS: number, nowS: UnixSeconds): Promise<string[]> {
    const rows = await this.db
      .updateTable('ingest_queue')
      .set({ state: 'pending', last_update: nowS })
      .where('state', '=', 'collecting')
      .where('received_at', '<', nowS - timeoutS)
      .returning('group_id')
      .execute();
    await this.wakeWorkersIf(rows.length > 0);
    return rows.map((r) => r.group_id);
  }

  /** Groups still collecting `timeoutS` after their first file arrived, oldest first. */
  async staleCollecting(timeoutS: number, nowS: UnixSeconds): Promise<{ groupId: string; receivedAtS: number; subbands: number; expected: number }[]> {
    const rows = await this.db
      .selectFrom('ingest_queue as q')
      .leftJoin('subband_files as f', 'f.group_id', 'q.group_id')
      .select((eb) => ['q.group_id', 'q.received_at', 'q.expected_subbands', eb.fn.count<number>('f.subband_idx').as('subbands')])
      .where('q.state', '=', 'collecting')
      .where('q.received_at', '<', nowS - timeoutS)
      .groupBy('q.group_id')
      .orderBy('q.received_at')
      .execute();
    return rows.map((r) => ({ groupId: r.group_id, receivedAtS: r.received_at, subbands: Number(r.subbands), expected: r.expected_subbands }));
  }

  async staleInProgressCount(timeoutS: number, nowS: UnixSeconds): Promise<number> {
    const r = await this.db
      .selectFrom('ingest_queue')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', '=', 'in_progress')
      .where('last_update', '<', nowS - timeoutS)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async counts(): Promise<StateCounts> {
    const rows = await this.db.selectFrom('ingest_queue').select((eb) => ['state', eb.fn.countAll<number>().as('n')]).groupBy('state').execute();
    const out: StateCounts = { collecting: 0, pending: 0, in_progress: 0, completed: 0, failed: 0 };
    for (const r of rows) if (isState(r.state)) out[r.state] = Number(r.n);
    return out;
  }

  private groupsQuery() {
    return this.db
      .selectFrom('ingest_queue as q')
      .leftJoin('subband_files as f', 'f.group_id', 'q.group_id')
      .select((eb) => [
        'q.group_id',
        'q.state',
        'q.processing_stage',
        'q.received_at',
        'q.last_update',
        'q.retry_count',
        'q.crash_recoveries',
        'q.error',
        'q.checkpoint_path',
        'q.expected_subbands',
        'q.next_attempt_at',
        'q.claimed_by_host',
        'q.claimed_by_pid',
        'q.claimed_by_start',
        'q.claimed_at',
        'q.claim_token',
        'q.lease_expires_at',
        'q.claimed_by_worker',
        eb.fn.count<number>('f.subband_idx').as('subbands'),
      ])
      .groupBy('q.group_id');
  }

  async group(groupId: string): Promise<GroupRecord | undefined> {
    const r = await this.groupsQuery().where('q.group_id', '=', groupId).executeTakeFirst();
    return r ? toRecord(r as Row) : undefined;
  }

  /** The most recently received groups (the seed's first operator query, with more columns). */
  async recentGroups(limit: number): Promise<GroupRecord[]> {
    const rows = await this.groupsQuery().orderBy('q.received_at', 'desc').orderBy('q.group_id', 'desc').limit(limit).execute();
    return rows.map((r) => toRecord(r as Row));
  }

  async files(groupId: string): Promise<RegisteredFile[]> {
    const rows = await this.db
      .selectFrom('subband_files')
      .select(['subband_idx', 'path', 'size_bytes', 'stamped_at'])
      .where('group_id', '=', groupId)
      .orderBy('subband_idx')
      .execute();
    return rows.map((r) => fileFromRow(r, groupId));
  }

  /** Metrics, newest first; with `sinceS`, only those recorded after it. */
  async metrics(opts: { limit?: number; sinceS?: UnixSeconds } = {}): Promise<MetricRow[]> {
    let qb = this.db.selectFrom('performance_metrics').selectAll().orderBy('recorded_at', 'desc');
    if (opts.sinceS !== undefined) qb = qb.where('recorded_at', '>', opts.sinceS);
    if (opts.limit !== undefined) qb = qb.limit(opts.limit);
    const rows = await qb.execute();
    return rows.map((r) => ({
      groupId: r.group_id,
      totalS: r.total_time,
      loadS: r.load_time,
      phaseS: r.phase_time,
      writeS: r.write_time,
      recordedAtS: r.recorded_at,
      detail: r.detail_json ? (JSON.parse(r.detail_json) as Record<string, number>) : undefined,
    }));
  }

  /**
   * `contimg requeue`: back to `pending` with a fresh retry budget; an in-progress group whose
   * claimer may still be converting it is refused unless `force` (see recovery.ts).
   */
  async requeue(groupId: string, opts: { force: boolean; liveness: (o: ProcessIdentity) => Liveness }, nowS: UnixSeconds): Promise<RequeueOutcome> {
    const outcome = await this.immediate((q) => requeue(q, groupId, opts, nowS));
    await this.wakeWorkersIf(outcome.kind === 'requeued');
    return outcome;
  }
}
