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

/**
 * Clusters files into groups. Files are taken in time order; each joins the newest group
 * whose first timestamp is within `toleranceS` and which lacks its subband, else it starts a
 * new group. A second file for a subband already in a group (a re-delivery) is reported in
 * `duplicates`, not silently dropped.
 */
export function formGroups(
  files: SubbandFile[],
  toleranceS = DEFAULT_GROUP_TOLERANCE_S,
): { groups: Group[]; duplicates: SubbandFile[] } {
  const sorted = [...files].sort((a, b) => a.timeMs - b.timeMs || a.subband - b.subband || a.path.localeCompare(b.path));
  const groups: Group[] = [];
  const duplicates: SubbandFile[] = [];
  for (const f of sorted) {
    const open = groups.filter((g) => f.timeMs - g.startMs <= toleranceS * 1000);
    const home = open.reverse().find((g) => !g.files.has(f.subband));
    if (home) {
      home.files.set(f.subband, f);
    } else if (open.length > 0 && open.some((g) => g.files.get(f.subband)?.timeMs === f.timeMs)) {
      duplicates.push(f);
    } else {
      groups.push({ id: f.timestamp, startMs: f.timeMs, files: new Map([[f.subband, f]]) });
    }
  }
  return { groups, duplicates };
}
