/**
 * Subband file names and group formation: the one place that knows what
 * `YYYY-MM-DDTHH:MM:SS_sbNN.hdf5` means and which files make a group.
 *
 * Each DSA-110 correlator node stamps its file with its own clock, so the 16 subbands of one
 * 5-minute group carry timestamps up to tens of seconds apart. A file joins the group whose
 * first (earliest) timestamp lies within the tolerance; the group is named by that timestamp.
 */
import path from 'node:path';

export const DEFAULT_EXPECTED_SUBBANDS = 16;
export const DEFAULT_GROUP_TOLERANCE_S = 60;

const NAME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})_sb(\d{2})\.hdf5$/;

export interface SubbandName {
  /** `YYYY-MM-DDTHH:MM:SS`, UTC. */
  timestamp: string;
  /** Milliseconds since the epoch (UTC). */
  timeMs: number;
  subband: number;
}

export interface SubbandFile extends SubbandName {
  path: string;
}

/** Why a name was not accepted, or the parsed name. */
export type ParsedName = { ok: true; name: SubbandName } | { ok: false; reason: string };

/**
 * Parses a subband file name strictly. Temporary names (`…_incomplete.hdf5`, dot files) and
 * anything that is not a real calendar date are refused with a reason.
 */
export function parseSubbandName(fileName: string): ParsedName {
  const base = path.basename(fileName);
  if (base.startsWith('.')) return { ok: false, reason: 'hidden or temporary file' };
  if (base.endsWith('_incomplete.hdf5')) return { ok: false, reason: 'still being written (_incomplete)' };
  const m = NAME_RE.exec(base);
  if (!m) return { ok: false, reason: 'name is not YYYY-MM-DDTHH:MM:SS_sbNN.hdf5' };
  const [y, mo, d, h, mi, s, sb] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  const timeMs = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(timeMs);
  if (
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    back.getUTCHours() !== h ||
    back.getUTCMinutes() !== mi ||
    back.getUTCSeconds() !== s
  ) {
    return { ok: false, reason: 'timestamp is not a valid UTC date and time' };
  }
  return { ok: true, name: { timestamp: base.slice(0, 19), timeMs, subband: sb } };
}

export function formatTimestamp(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(0, 19);
}

/** Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z]` (UTC) or anything Date accepts with an explicit zone. */
export function parseUtc(text: string): number {
  const withZone = /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text}Z`;
  const t = Date.parse(withZone);
  if (Number.isNaN(t)) throw new Error(`'${text}' is not a UTC date/time (expected YYYY-MM-DDTHH:MM:SS)`);
  return t;
}

export interface Group {
  /** The earliest timestamp of its files. */
  id: string;
  startMs: number;
  /** Files by subband index. */
  files: Map<number, SubbandFile>;
}

export function missingSubbands(group: Group, expected = DEFAULT_EXPECTED_SUBBANDS): number[] {
  const out: number[] = [];
  for (let sb = 0; sb < expected; sb++) if (!group.files.has(sb)) out.push(sb);
  return out;
}

export function subbandLabel(sb: number): string {
  return `sb${String(sb).padStart(2, '0')}`;
}

/** A subband file left out of a group because the group has a better-fitting file for its subband. */
export interface DuplicateFile extends SubbandFile {
  /** The group it would have belonged to, and the file kept there for its subband. */
  groupId: string;
  keptPath: string;
}

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/**
 * How far a file of subband `sb` lies from the rest of a group: the distance from its time to
 * the median time of the group's other subbands (Infinity when there are none, so no comparison).
 */
export function misfitMs(timeMs: number, sb: number, members: Iterable<{ subband: number; timeMs: number }>): number {
  const others = [...members].filter((m) => m.subband !== sb).map((m) => m.timeMs);
  return others.length ? Math.abs(timeMs - median(others)) : Number.POSITIVE_INFINITY;
}

/**
 * Whether group `g` holds nothing but a few worse-fitting copies of subbands that group `h`
 * has, each within the tolerance of `h`: a copy written early (or late), not a group.
 */
export function isShadow(g: Group, h: Group, tolMs: number): boolean {
  // Stray copies are a few files; a group with half of the subbands or more is a group.
  if (g === h || g.files.size * 2 >= h.files.size) return false;
  const kept = [...h.files.values()];
  const times = kept.map((f) => f.timeMs);
  return [...g.files.values()].every((f) => {
    const have = h.files.get(f.subband);
    if (!have || Math.max(...times, f.timeMs) - Math.min(...times, f.timeMs) > tolMs) return false;
    const mine = misfitMs(f.timeMs, f.subband, kept);
    return Number.isFinite(mine) && mine >= misfitMs(have.timeMs, f.subband, kept);
  });
}

/**
 * Clusters files into groups by the best match of all subbands. Files are taken in time order;
 * from the earliest file left, every span of at most `toleranceS` that starts within the
 * tolerance of it is a candidate, and the one holding the most distinct subbands wins (then the
 * tightest, then the earliest). A subband found twice in it keeps the file nearest the median
 * time of the others; the other files stay for later groups (two groups may lie closer than the
 * tolerance). At the end, a smaller group made only of worse-fitting copies of a nearby group's
 * subbands (a copy written a few seconds early) is reported in `duplicates` with the group it
 * duplicates, as is the same name delivered twice; neither splits a group nor starts one.
 */
export function formGroups(files: SubbandFile[], toleranceS = DEFAULT_GROUP_TOLERANCE_S): { groups: Group[]; duplicates: DuplicateFile[] } {
  const tolMs = toleranceS * 1000;
  let left = [...files].sort((a, b) => a.timeMs - b.timeMs || a.subband - b.subband || a.path.localeCompare(b.path));
  let groups: Group[] = [];
  const duplicates: DuplicateFile[] = [];
  while (left.length > 0) {
    const first = left[0]!;
    let best = { i: 0, j: 0, distinct: 0, spanMs: 0 };
    for (let i = 0; i < left.length && left[i]!.timeMs - first.timeMs <= tolMs; i++) {
      const seen = new Set<number>();
      for (let j = i; j < left.length && left[j]!.timeMs - left[i]!.timeMs <= tolMs; j++) {
        if (seen.has(left[j]!.subband)) continue;
        seen.add(left[j]!.subband);
        const spanMs = left[j]!.timeMs - left[i]!.timeMs;
        if (seen.size > best.distinct || (seen.size === best.distinct && spanMs < best.spanMs)) best = { i, j, distinct: seen.size, spanMs };
      }
    }
    const window = left.slice(best.i, best.j + 1);
    // Subbands found once fix the group's time; a repeated subband keeps its best-fitting file.
    const bySb = new Map<number, SubbandFile[]>();
    for (const f of window) bySb.set(f.subband, [...(bySb.get(f.subband) ?? []), f]);
    const singles = [...bySb.values()].filter((fs) => fs.length === 1).map((fs) => fs[0]!);
    const chosen = new Map<number, SubbandFile>();
    for (const [sb, fs] of bySb) {
      const fit = (f: SubbandFile) => (singles.length ? misfitMs(f.timeMs, sb, singles) : f.timeMs - fs[0]!.timeMs);
      chosen.set(sb, fs.reduce((a, b) => (fit(b) < fit(a) ? b : a)));
    }
    const kept = [...chosen.values()];
    const startMs = Math.min(...kept.map((f) => f.timeMs));
    const group: Group = { id: formatTimestamp(startMs), startMs, files: new Map([...chosen].sort((a, b) => a[0] - b[0])) };
    groups.push(group);
    const taken = new Set(kept);
    left = left.filter((f) => {
      if (taken.has(f)) return false;
      // The same name again (another directory): a re-delivery.
      const have = chosen.get(f.subband);
      if (have?.timeMs !== f.timeMs) return true;
      duplicates.push({ ...f, groupId: group.id, keptPath: have.path });
      return false;
    });
  }
  // What is left of an early copy forms a small group of its own: fold it back as duplicates.
  const shadows = groups.filter((g) => groups.some((h) => isShadow(g, h, tolMs)));
  for (const g of shadows) {
    const h = groups.find((x) => isShadow(g, x, tolMs))!;
    for (const f of g.files.values()) duplicates.push({ ...f, groupId: h.id, keptPath: h.files.get(f.subband)!.path });
  }
  groups = groups.filter((g) => !shadows.includes(g));
  groups.sort((a, b) => a.startMs - b.startMs);
  return { groups, duplicates };
}
