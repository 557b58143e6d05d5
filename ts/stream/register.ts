/**
 * Registering subband files into queue groups (ts/stream/queue.ts runs this inside its write
 * transaction). The stream's counterpart of `formGroups` (ts/groups.ts): whatever order files
 * arrive in, the groups come out as `contimg convert` forms them from the same files.
 *
 * - A file joins the newest group within the tolerance that lacks its subband and stays within
 *   the tolerance with it, else it starts a group. A group is named by its earliest timestamp,
 *   so while it is collecting, a file stamped earlier renames it.
 * - Best match. A file for a subband a nearby group already has competes with that group's file:
 *   the one nearer the median time of the group's other subbands stays. A copy written a few
 *   seconds before its group is thus reported as a duplicate instead of splitting the group
 *   (while the group is unclaimed, a better-fitting newcomer displaces it; a claimed group
 *   keeps the file it converts). When a group
 *   completes, a collecting group nearby that holds only worse-fitting copies of its subbands
 *   is dissolved into duplicates too.
 */
import type { Kysely } from 'kysely';
import { formatTimestamp, misfitMs, parseUtc, type SubbandFile } from '../groups.js';
import type { GroupState, StreamDb, UnixSeconds } from './schema.js';

/** A complete subband file the watcher found, ready to be registered. */
export interface Arrival extends SubbandFile {
  sizeBytes: number;
  /** Modification time when found (ms), recorded to notice a corrected file later. */
  mtimeMs?: number;
}

export interface GroupingRules {
  /** Subbands whose name timestamps lie within this many seconds form one group. */
  toleranceS: number;
  expectedSubbands: number;
  /** `--chunk-duration`, recorded with each new group. */
  chunkMinutes: number;
}

/** What registering one file did. */
export type Registration =
  /** Already registered (a re-delivery or a rescan): nothing changed. */
  | { kind: 'known'; path: string; groupId: string }
  /** Joined an existing group or started a new one. */
  | {
      kind: 'joined' | 'created';
      path: string;
      groupId: string;
      /** The group's previous name, when this file's earlier timestamp renamed it. */
      renamedFrom?: string;
      subbands: number;
      expected: number;
      /** The group's state after the file joined it. */
      state: GroupState;
      /** This file completed the group. */
      becamePending: boolean;
    }
  /**
   * A file for a subband that a group within the tolerance has a better-fitting file for (or the
   * same name again): not part of any group. `path` may be a file registered earlier and now
   * displaced or dissolved.
   */
  | { kind: 'duplicate'; path: string; groupId: string; existingPath: string };

/** Whether registering these files completed a group (made it `pending`). */
export function completedAGroup(regs: readonly Registration[]): boolean {
  return regs.some((r) => r.kind !== 'known' && r.kind !== 'duplicate' && r.becamePending);
}

/** Seconds since the epoch of a `YYYY-MM-DDTHH:MM:SS` group id (NaN for anything else). */
export function groupTimeS(groupId: string): number {
  try {
    return parseUtc(groupId) / 1000;
  } catch {
    return Number.NaN;
  }
}

type Q = Kysely<StreamDb>;
interface Member {
  group_id: string;
  subband_idx: number;
  path: string;
  stamped_at: number | null;
}
const timeMsOf = (m: Member) => (m.stamped_at ?? groupTimeS(m.group_id)) * 1000;
const asTimes = (ms: Member[]) => ms.map((m) => ({ subband: m.subband_idx, timeMs: timeMsOf(m) }));
const spanMs = (times: number[]) => Math.max(...times) - Math.min(...times);

export async function registerFiles(q: Q, files: Arrival[], rules: GroupingRules, nowS: UnixSeconds): Promise<Registration[]> {
  const sorted = [...files].sort((a, b) => a.timeMs - b.timeMs || a.subband - b.subband || a.path.localeCompare(b.path));
  const out: Registration[] = [];
  for (const f of sorted) out.push(...(await registerOne(q, f, rules, nowS)));
  return out;
}

async function membersOf(q: Q, groupIds: string[]): Promise<Member[]> {
  if (groupIds.length === 0) return [];
  return q.selectFrom('subband_files').select(['group_id', 'subband_idx', 'path', 'stamped_at']).where('group_id', 'in', groupIds).execute();
}

/** Groups whose id lies within ±tolerance of `timeMs`: the only ones a file stamped then can belong to. */
async function groupsNear(q: Q, timeMs: number, tolMs: number) {
  return q
    .selectFrom('ingest_queue')
    .select(['group_id', 'state', 'expected_subbands'])
    .where('group_id', '>=', formatTimestamp(timeMs - tolMs))
    .where('group_id', '<=', formatTimestamp(timeMs + tolMs))
    .orderBy('group_id', 'desc')
    .execute();
}

/** Renames a collecting group to the earliest timestamp of its files, if that name is free. */
async function renameToEarliest(q: Q, groupId: string): Promise<string> {
  const ms = await membersOf(q, [groupId]);
  if (ms.length === 0) return groupId;
  const want = formatTimestamp(Math.min(...ms.map(timeMsOf)));
  if (want === groupId) return groupId;
  const taken = await q.selectFrom('ingest_queue').select('group_id').where('group_id', '=', want).executeTakeFirst();
  if (taken) return groupId;
  await q.updateTable('ingest_queue').set({ group_id: want }).where('group_id', '=', groupId).execute();
  await q.updateTable('subband_files').set({ group_id: want }).where('group_id', '=', groupId).execute();
  return want;
}

async function registerOne(q: Q, f: Arrival, rules: GroupingRules, nowS: UnixSeconds): Promise<Registration[]> {
  const known = await q.selectFrom('subband_files').select('group_id').where('path', '=', f.path).executeTakeFirst();
  if (known) return [{ kind: 'known', path: f.path, groupId: known.group_id }];

  const tolMs = rules.toleranceS * 1000;
  const candidates = await groupsNear(q, f.timeMs, tolMs);
  const members = await membersOf(q, candidates.map((c) => c.group_id));
  let home: (typeof candidates)[number] | undefined;
  const extra: Registration[] = [];
  for (const c of candidates) {
    const mine = members.filter((m) => m.group_id === c.group_id);
    const same = mine.find((m) => m.subband_idx === f.subband);
    if (!same) {
      if (spanMs([...mine.map(timeMsOf), f.timeMs]) <= tolMs) {
        home = c;
        break;
      }
      continue;
    }
    const duplicate: Registration = { kind: 'duplicate', path: f.path, groupId: c.group_id, existingPath: same.path };
    if (timeMsOf(same) === f.timeMs) return [duplicate];
    const others = mine.filter((m) => m !== same);
    if (spanMs([...others.map(timeMsOf), f.timeMs]) > tolMs) continue;
    const mNew = misfitMs(f.timeMs, f.subband, asTimes(mine));
    const mOld = misfitMs(timeMsOf(same), f.subband, asTimes(mine));
    if (!Number.isFinite(mNew)) continue; // nothing to compare with: it may start the next group
    // A group already claimed keeps the file it is converting (or converted) with.
    if (mNew >= mOld || (c.state !== 'collecting' && c.state !== 'pending')) return [duplicate];
    // The newcomer fits the unclaimed group better: it takes the subband's place.
    await q.deleteFrom('subband_files').where('path', '=', same.path).execute();
    extra.push({ kind: 'duplicate', path: same.path, groupId: c.group_id, existingPath: f.path });
    home = c;
    break;
  }

  let created = false;
  if (!home) {
    const clash = await q.selectFrom('subband_files').select(['path']).where('group_id', '=', f.timestamp).where('subband_idx', '=', f.subband).executeTakeFirst();
    if (clash) return [{ kind: 'duplicate', path: f.path, groupId: f.timestamp, existingPath: clash.path }];
    const exists = await q.selectFrom('ingest_queue').select('group_id').where('group_id', '=', f.timestamp).executeTakeFirst();
    if (!exists) {
      await q
        .insertInto('ingest_queue')
        .values({
          group_id: f.timestamp,
          state: 'collecting',
          processing_stage: 'collecting',
          received_at: nowS,
          last_update: nowS,
          retry_count: 0,
          expected_subbands: rules.expectedSubbands,
          chunk_minutes: rules.chunkMinutes,
        })
        .execute();
      created = true;
    }
    home = { group_id: f.timestamp, state: 'collecting', expected_subbands: rules.expectedSubbands };
  }

  await q
    .insertInto('subband_files')
    .values({ group_id: home.group_id, subband_idx: f.subband, path: f.path, size_bytes: f.sizeBytes, arrived_at: nowS, stamped_at: f.timeMs / 1000, mtime_ms: f.mtimeMs ?? null })
    .execute();
  let groupId = home.group_id;
  let renamedFrom: string | undefined;
  // Unclaimed groups are named by their earliest file (a claimed one keeps its name).
  if (home.state === 'collecting' || home.state === 'pending') {
    groupId = await renameToEarliest(q, home.group_id);
    if (groupId !== home.group_id) renamedFrom = home.group_id;
  }
  for (const d of extra) if (d.kind === 'duplicate') d.groupId = groupId;
  const { n } = await q
    .selectFrom('subband_files')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('group_id', '=', groupId)
    .executeTakeFirstOrThrow();
  const becamePending = home.state === 'collecting' && n >= home.expected_subbands;
  await q
    .updateTable('ingest_queue')
    .set(becamePending ? { state: 'pending', last_update: nowS } : { last_update: nowS })
    .where('group_id', '=', groupId)
    .execute();
  if (becamePending) extra.push(...(await dissolveShadows(q, groupId, tolMs)));
  return [
    {
      kind: created && n === 1 ? 'created' : 'joined',
      path: f.path,
      groupId,
      renamedFrom,
      subbands: n,
      expected: home.expected_subbands,
      state: becamePending ? 'pending' : (home.state as GroupState),
      becamePending,
    },
    ...extra,
  ];
}

/**
 * A group just completed: collecting groups within the tolerance that hold only worse-fitting
 * copies of its subbands (an early copy that arrived before the group's own file and had nothing
 * to compete with) are dissolved, their files reported as duplicates.
 */
async function dissolveShadows(q: Q, groupId: string, tolMs: number): Promise<Registration[]> {
  const startMs = groupTimeS(groupId) * 1000;
  const near = (await groupsNear(q, startMs, tolMs)).filter((c) => c.group_id !== groupId && c.state === 'collecting');
  if (near.length === 0) return [];
  const kept = await membersOf(q, [groupId]);
  const keptTimes = asTimes(kept);
  const out: Registration[] = [];
  for (const c of near) {
    const shadow = await membersOf(q, [c.group_id]);
    const isCopy = (m: Member) => {
      const have = kept.find((k) => k.subband_idx === m.subband_idx);
      if (!have || spanMs([...keptTimes.map((k) => k.timeMs), timeMsOf(m)]) > tolMs) return false;
      const mine = misfitMs(timeMsOf(m), m.subband_idx, keptTimes);
      return Number.isFinite(mine) && mine >= misfitMs(timeMsOf(have), m.subband_idx, keptTimes);
    };
    // Stray copies are a few files (as isShadow in ts/groups.ts); half the subbands or more is a group.
    if (shadow.length === 0 || shadow.length * 2 >= kept.length || !shadow.every(isCopy)) continue;
    await q.deleteFrom('subband_files').where('group_id', '=', c.group_id).execute();
    await q.deleteFrom('ingest_queue').where('group_id', '=', c.group_id).execute();
    for (const m of shadow) out.push({ kind: 'duplicate', path: m.path, groupId, existingPath: kept.find((k) => k.subband_idx === m.subband_idx)!.path });
  }
  return out;
}

/** A registered file of a failed group, as registered: what a corrected file is compared with. */
export interface FailedGroupFile {
  groupId: string;
  path: string;
  sizeBytes: number | null;
  mtimeMs: number | null;
}

export async function filesOfFailedGroups(q: Q): Promise<FailedGroupFile[]> {
  const rows = await q
    .selectFrom('subband_files as f')
    .innerJoin('ingest_queue as g', 'g.group_id', 'f.group_id')
    .select(['f.group_id', 'f.path', 'f.size_bytes', 'f.mtime_ms'])
    .where('g.state', '=', 'failed')
    .execute();
  return rows.map((r) => ({ groupId: r.group_id, path: r.path, sizeBytes: r.size_bytes, mtimeMs: r.mtime_ms }));
}

/**
 * A file of a failed group was replaced (a corrected file, with a new size or mtime): records it
 * and puts the group back to `pending` with fresh budgets, as `contimg requeue` would. The
 * converter's checkpoint fingerprints its inputs (path, size, mtime), so the group converts
 * afresh from the corrected file. Returns the group requeued, or undefined if the file is not
 * (or no longer) part of a failed group.
 */
export async function requeueReplaced(q: Q, path: string, sizeBytes: number, mtimeMs: number, nowS: UnixSeconds): Promise<string | undefined> {
  const row = await q
    .selectFrom('subband_files as f')
    .innerJoin('ingest_queue as g', 'g.group_id', 'f.group_id')
    .select(['f.group_id'])
    .where('f.path', '=', path)
    .where('g.state', '=', 'failed')
    .executeTakeFirst();
  if (!row) return undefined;
  await q.updateTable('subband_files').set({ size_bytes: sizeBytes, mtime_ms: mtimeMs, arrived_at: nowS }).where('path', '=', path).execute();
  await q
    .updateTable('ingest_queue')
    .set({ state: 'pending', processing_stage: 'collecting', retry_count: 0, crash_recoveries: 0, next_attempt_at: null, last_update: nowS })
    .where('group_id', '=', row.group_id)
    .execute();
  return row.group_id;
}
