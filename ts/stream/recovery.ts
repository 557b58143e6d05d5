/**
 * Taking claims back (ts/stream/queue.ts runs these inside its write transaction, with the rows
 * they decide from locked): claims that stopped making progress, claims of processes on this host
 * that are gone, claims whose lease expired wherever their worker is, and the operator's requeue.
 * A group taken back resumes from its checkpoint as `resuming`; each way of losing a claim is
 * counted (failed attempts in `retry_count`, deaths in `crash_recoveries`), so a group that stalls
 * or kills its worker every time ends `failed` rather than looping.
 */
import type { Kysely } from 'kysely';
import { lockRows } from '../db/index.js';
import type { Liveness, ProcessIdentity } from './owner.js';
import { GROUP_STATES, type GroupState, type StreamDb, type UnixSeconds } from './schema.js';

/** A claim taken back from a worker that died or stopped making progress. */
export interface Recovered {
  groupId: string;
  state: 'pending' | 'failed';
  reason: string;
  /** What the recovery counted: a failed attempt (a stalled claim) or a death of the claimer. */
  counted: 'retry' | 'crash';
}

export type RequeueOutcome =
  | { kind: 'requeued'; previous: GroupState }
  | { kind: 'not-found' }
  | { kind: 'refused'; reason: string };

/** The claim columns of a group nobody holds (the claimer's name and token stay, for the record). */
export const NO_CLAIM = { claimed_by_host: null, claimed_by_pid: null, claimed_by_start: null, claimed_at: null, lease_expires_at: null } as const;

export function isState(s: string): s is GroupState {
  return (GROUP_STATES as readonly string[]).includes(s);
}

/**
 * Takes back in-progress claims, as `resuming`, each counted in `counter` (a group that stalls
 * or kills its worker every time must not loop): at `limit` the group is `failed`.
 */
async function takeBack(
  q: Kysely<StreamDb>,
  rows: { group_id: string; retry_count: number; crash_recoveries: number }[],
  reason: (groupId: string) => string,
  counted: Recovered['counted'],
  limit: number,
  nowS: UnixSeconds,
): Promise<Recovered[]> {
  const out: Recovered[] = [];
  for (const r of rows) {
    const column = counted === 'retry' ? 'retry_count' : 'crash_recoveries';
    const count = r[column] + 1;
    const state = count >= limit ? 'failed' : 'pending';
    const why = reason(r.group_id);
    await q
      .updateTable('ingest_queue')
      .set({
        state,
        processing_stage: 'resuming',
        [column]: count,
        error: why,
        next_attempt_at: null,
        last_update: nowS,
        ...NO_CLAIM,
      })
      .where('group_id', '=', r.group_id)
      .where('state', '=', 'in_progress')
      .execute();
    out.push({ groupId: r.group_id, state, reason: why, counted });
  }
  return out;
}

/** Re-queues (as `resuming`) claims with no progress for `timeoutS`, wherever their worker is. */
export async function recoverStale(q: Kysely<StreamDb>, timeoutS: number, maxRetries: number, nowS: UnixSeconds): Promise<Recovered[]> {
  const rows = await lockRows(
    q
      .selectFrom('ingest_queue')
      .select(['group_id', 'retry_count', 'crash_recoveries', 'claimed_by_host', 'claimed_by_pid'])
      .where('state', '=', 'in_progress')
      .where('last_update', '<', nowS - timeoutS),
    q,
  ).execute();
  const by = new Map(rows.map((r) => [r.group_id, r]));
  return takeBack(
    q,
    rows,
    (g) => {
      const r = by.get(g)!;
      const who = r.claimed_by_pid !== null ? ` (claimed by pid ${r.claimed_by_pid} on ${r.claimed_by_host})` : '';
      return `Recovered from stale in_progress state: no progress for more than ${timeoutS} s${who}`;
    },
    'retry',
    maxRetries,
    nowS,
  );
}

/**
 * Re-queues claims held by processes on this host that no longer exist. A death is not the
 * group's fault, so it does not spend the retry budget: deaths are counted apart, and only a
 * group whose claimer dies `maxCrashRecoveries` + 1 times (one that kills its worker) fails.
 */
export async function recoverDeadOwners(
  q: Kysely<StreamDb>,
  host: string,
  liveness: (o: ProcessIdentity) => Liveness,
  maxCrashRecoveries: number,
  nowS: UnixSeconds,
): Promise<Recovered[]> {
  const rows = await lockRows(
    q
      .selectFrom('ingest_queue')
      .select(['group_id', 'retry_count', 'crash_recoveries', 'claimed_by_host', 'claimed_by_pid', 'claimed_by_start'])
      .where('state', '=', 'in_progress')
      .where('claimed_by_host', '=', host),
    q,
  ).execute();
  const dead = rows.filter((r) => r.claimed_by_pid !== null && liveness({ host, pid: r.claimed_by_pid, start: r.claimed_by_start ?? '' }) === 'gone');
  const by = new Map(dead.map((r) => [r.group_id, r]));
  const reason = (g: string) => `Recovered from in_progress state: the claiming process (pid ${by.get(g)!.claimed_by_pid} on ${host}) is gone`;
  return takeBack(q, dead, reason, 'crash', maxCrashRecoveries + 1, nowS);
}

/**
 * Re-queues claims whose lease expired, wherever their worker is: the worker died, or stopped
 * (SIGSTOP, a frozen host) long enough that the group must move on. Like a death on this host,
 * it does not spend the retry budget; it counts against `maxCrashRecoveries`.
 */
export async function recoverExpiredLeases(q: Kysely<StreamDb>, maxCrashRecoveries: number, nowS: UnixSeconds): Promise<Recovered[]> {
  const rows = await lockRows(
    q
      .selectFrom('ingest_queue')
      .select(['group_id', 'retry_count', 'crash_recoveries', 'claimed_by_host', 'claimed_by_pid', 'claimed_by_worker', 'lease_expires_at'])
      .where('state', '=', 'in_progress')
      .where('lease_expires_at', '<', nowS),
    q,
    { skipLocked: true },
  ).execute();
  const by = new Map(rows.map((r) => [r.group_id, r]));
  const reason = (g: string) => {
    const r = by.get(g)!;
    return `Recovered from in_progress state: the lease of ${r.claimed_by_worker ?? `pid ${r.claimed_by_pid} on ${r.claimed_by_host}`} expired ${(nowS - (r.lease_expires_at ?? nowS)).toFixed(0)} s ago`;
  };
  return takeBack(q, rows, reason, 'crash', maxCrashRecoveries + 1, nowS);
}

/**
 * `contimg requeue`: back to `pending` with a fresh retry budget. An in-progress group whose
 * claimer may still be working on it (alive on this host, or on another host where that
 * cannot be checked, while its lease runs) is refused unless `force`. A claim whose lease expired
 * is fenced off already: its worker can no longer publish or complete, so requeueing it is safe.
 */
export async function requeue(
  q: Kysely<StreamDb>,
  groupId: string,
  opts: { force: boolean; liveness: (o: ProcessIdentity) => Liveness },
  nowS: UnixSeconds,
): Promise<RequeueOutcome> {
  const r = await lockRows(q.selectFrom('ingest_queue').selectAll().where('group_id', '=', groupId), q).executeTakeFirst();
  if (!r) return { kind: 'not-found' } as const;
  if (!isState(r.state)) throw new Error(`ingest_queue: group ${groupId} has an unknown state '${r.state}'`);
  if (r.state === 'in_progress' && !opts.force) {
    if (r.claimed_by_pid === null || r.claimed_by_host === null) {
      return { kind: 'refused', reason: `${groupId} is in progress, claimed by a process that did not record itself; use --force if no service is converting it` } as const;
    }
    const owner = { host: r.claimed_by_host, pid: r.claimed_by_pid, start: r.claimed_by_start ?? '' };
    const live = opts.liveness(owner);
    const leaseExpired = r.lease_expires_at !== null && r.lease_expires_at < nowS;
    if (live !== 'gone' && !(live === 'unknown' && leaseExpired)) {
      const where = live === 'alive' ? 'which is still running' : 'on another host, which this command cannot check';
      return { kind: 'refused', reason: `${groupId} is in progress, claimed by pid ${owner.pid} on ${owner.host} ${where}; use --force to requeue it anyway` } as const;
    }
  }
  await q
    .updateTable('ingest_queue')
    .set({
      state: 'pending',
      // An interrupted conversion restarts as `resuming`; anything else as the seed's manual
      // requeue does, and the worker resumes from a checkpoint if it finds one.
      processing_stage: r.state === 'in_progress' ? 'resuming' : 'collecting',
      retry_count: 0,
      crash_recoveries: 0,
      next_attempt_at: null,
      last_update: nowS,
      ...NO_CLAIM,
    })
    .where('group_id', '=', groupId)
    .execute();
  return { kind: 'requeued', previous: r.state } as const;
}
