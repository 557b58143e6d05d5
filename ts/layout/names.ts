/**
 * The pieces every path is built from: safe single path components, and UTC observation dates.
 *
 * A name that reaches a path rule comes from a file name, a group id, a job id or a registry row,
 * and any of those can be wrong. Refusing bad names here (rather than normalising them) is what
 * keeps a path rule from ever producing a path outside its base.
 */
import { ContimgError } from '../error.js';

/** Error code for names and paths the layout refuses. */
export const UNSAFE_PATH = 'LAYOUT_UNSAFE_PATH';

/**
 * Checks that `name` is one path component we are willing to create: not empty, not `.` or `..`,
 * no `/` or NUL, no control characters, not hidden (a leading `.` is reserved for our own
 * temporary names, so a half-written temporary is never mistaken for a product), at most 255 bytes.
 */
export function safeName(name: string, what: string): string {
  const problem = nameProblem(name);
  if (problem) throw new ContimgError(UNSAFE_PATH, `${what} '${printable(name)}' is not a safe file name: ${problem}`);
  return name;
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name === '.' || name === '..') return 'it names a directory itself';
  if (name.includes('/')) return name.startsWith('/') ? 'it is an absolute path' : "it contains '/'";
  if (name.includes('\0')) return 'it contains a NUL byte';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it contains control characters';
  if (name.startsWith('.')) return "it starts with '.' (reserved for temporary files)";
  if (Buffer.byteLength(name) > 255) return 'it is longer than 255 bytes';
  return undefined;
}

function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A UTC calendar date `YYYY-MM-DD`: the name of every date directory. */
export type UtcDate = string & { readonly __utcDate: unique symbol };

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses `YYYY-MM-DD`, refusing dates that do not exist (2025-02-30). */
/** Whether a directory name is a `YYYY-MM-DD` date directory of the layout. */
export function isUtcDateName(name: string): boolean {
  try {
    parseUtcDate(name);
    return true;
  } catch {
    return false;
  }
}

export function parseUtcDate(text: string): UtcDate {
  const m = DATE_RE.exec(text);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const t = new Date(Date.UTC(y, mo - 1, d));
    if (t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d) return text as UtcDate;
  }
  throw new ContimgError(UNSAFE_PATH, `'${printable(text)}' is not a UTC date (expected YYYY-MM-DD)`);
}

/** The UTC date of an instant given in milliseconds since the Unix epoch. */
export function utcDateOfMs(epochMs: number): UtcDate {
  if (!Number.isFinite(epochMs)) throw new ContimgError(UNSAFE_PATH, `cannot take the date of a non-finite time (${epochMs})`);
  return new Date(epochMs).toISOString().slice(0, 10) as UtcDate;
}

/** MJD 40587 is 1970-01-01T00:00:00 UTC. */
export const MJD_UNIX_EPOCH = 40587;

export function mjdToEpochMs(mjd: number): number {
  return (mjd - MJD_UNIX_EPOCH) * 86_400_000;
}

export function epochMsToMjd(epochMs: number): number {
  return epochMs / 86_400_000 + MJD_UNIX_EPOCH;
}

/** The UTC date of an instant given as a Modified Julian Date (days). */
export function utcDateOfMjd(mjd: number): UtcDate {
  return utcDateOfMs(mjdToEpochMs(mjd));
}

/** `YYYY-MM-DDTHH:MM:SS`, the name of a group (its earliest subband timestamp, UTC). */
export const GROUP_ID_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})$/;

/**
 * The observation date of a group: the UTC date of its start, which is the date in its id. A
 * group that starts at 23:58 belongs to that day even though it ends, and may be converted,
 * after midnight.
 */
export function obsDateOfGroup(groupId: string): UtcDate {
  const m = GROUP_ID_RE.exec(groupId);
  if (!m || Number(m[2]) > 23 || Number(m[3]) > 59 || Number(m[4]) > 59) {
    throw new ContimgError(
      UNSAFE_PATH,
      `group id '${printable(groupId)}' is not a UTC timestamp YYYY-MM-DDTHH:MM:SS; pass the observation date explicitly`,
    );
  }
  return parseUtcDate(m[1]!);
}

/** Milliseconds since the epoch of a group id `YYYY-MM-DDTHH:MM:SS` (UTC). */
export function groupIdToEpochMs(groupId: string): number {
  obsDateOfGroup(groupId);
  return Date.parse(`${groupId}Z`);
}

/**
 * The first `YYYY-MM-DDTHH:MM:SS` in a product name (`2025-10-02T12:00:00_briggs.image`,
 * `mosaic_2025-10-02T12:00:00_mean.fits`): the group or MS the product was made from.
 */
export function timestampInName(name: string): string | undefined {
  const m = /(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})/.exec(name);
  if (!m) return undefined;
  try {
    obsDateOfGroup(m[1]!);
    return m[1]!;
  } catch {
    return undefined;
  }
}
