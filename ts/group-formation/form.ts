/**
 * Stage 3: which MS make a group. Pure: MS records in, groups out.
 *
 * The rule (README "contimg groups"):
 * - MS are ordered by start time. Consecutive MS of a steady stream start one MS duration apart
 *   (5 min); a start-to-start spacing above `maxGap` × the MS duration (median over the input,
 *   default 1.5: one or more MS missing) ends a sequence. Groups never span two sequences.
 * - Within a sequence, groups of `size` MS start every `size − overlap` MS (10 and 2: MS 0–9,
 *   8–17, 16–25, …), so each group shares `overlap` MS with the next.
 * - MS after the last full group form a final group only once their sequence is closed (a
 *   later sequence exists) or with `flush`: the last `size` MS of the sequence (all of them when
 *   it is shorter). Until then they are pending, so a rerun while data arrive gives the same
 *   groups and adds new ones, and ids never change.
 * - A group's id is its first MS's group id (the UTC start, `YYYY-MM-DDTHH:MM:SS`).
 */
import { ContimgError } from '../error.js';

export const DEFAULT_GROUP_SIZE = 10;
export const DEFAULT_GROUP_OVERLAP = 2;
export const DEFAULT_MAX_GAP = 1.5;

export interface MsRecord {
  path: string;
  /** The MS's own group id (its UTC start, `YYYY-MM-DDTHH:MM:SS`). */
  groupId: string;
  startMjd: number;
  endMjd: number;
  /** Pointing declination of date, degrees; null when unknown (no transit search then). */
  pointingDecDeg: number | null;
}

export interface FormedGroup {
  id: string;
  members: MsRecord[];
  startMjd: number;
  endMjd: number;
  /** Which sequence (0-based, in time order) and where in it the group starts. */
  sequence: number;
  offset: number;
}

export interface FormOptions {
  size?: number;
  overlap?: number;
  maxGap?: number;
  flush?: boolean;
}

export interface Formation {
  groups: FormedGroup[];
  /** MS not yet in any group: the open tail of the last sequence. */
  pending: MsRecord[];
  sequences: number;
  msDurationS: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function checkFormOptions(o: FormOptions): Required<FormOptions> {
  const size = o.size ?? DEFAULT_GROUP_SIZE;
  const overlap = o.overlap ?? DEFAULT_GROUP_OVERLAP;
  const maxGap = o.maxGap ?? DEFAULT_MAX_GAP;
  if (!Number.isInteger(size) || size < 1) throw new ContimgError('GROUPS_INVALID_ARGUMENT', `--size must be a positive integer (got ${size})`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size) {
    throw new ContimgError('GROUPS_INVALID_ARGUMENT', `--overlap must be an integer in [0, size) = [0, ${size}) (got ${overlap})`);
  }
  if (!(maxGap >= 1)) throw new ContimgError('GROUPS_INVALID_ARGUMENT', `--max-gap must be at least 1 MS duration (got ${maxGap})`);
  return { size, overlap, maxGap, flush: o.flush ?? false };
}

export function formMsGroups(input: readonly MsRecord[], opts: FormOptions = {}): Formation {
  const { size, overlap, maxGap, flush } = checkFormOptions(opts);
  for (const m of input) {
    if (!Number.isFinite(m.startMjd) || !Number.isFinite(m.endMjd) || m.endMjd < m.startMjd) {
      throw new ContimgError('GROUPS_INVALID_MS', `${m.path}: its time range is not finite and ordered (${m.startMjd} … ${m.endMjd} MJD)`);
    }
  }
  // One MS per start time: the same observation registered twice would form a group twice.
  const byStart = [...input].sort((a, b) => a.startMjd - b.startMjd || a.path.localeCompare(b.path));
  const ms = byStart.filter((m, i) => i === 0 || m.groupId !== byStart[i - 1]!.groupId);
  if (ms.length === 0) return { groups: [], pending: [], sequences: 0, msDurationS: 0 };
  const durationD = median(ms.map((m) => m.endMjd - m.startMjd));
  const sequences: MsRecord[][] = [[ms[0]!]];
  for (let i = 1; i < ms.length; i++) {
    const spacing = ms[i]!.startMjd - ms[i - 1]!.startMjd;
    if (spacing > maxGap * durationD) sequences.push([]);
    sequences.at(-1)!.push(ms[i]!);
  }
  const stride = size - overlap;
  const groups: FormedGroup[] = [];
  let pending: MsRecord[] = [];
  const make = (seq: MsRecord[], sequence: number, offset: number, n: number): FormedGroup => {
    const members = seq.slice(offset, offset + n);
    return { id: members[0]!.groupId, members, startMjd: members[0]!.startMjd, endMjd: Math.max(...members.map((m) => m.endMjd)), sequence, offset };
  };
  sequences.forEach((seq, k) => {
    let covered = 0;
    for (let s = 0; s + size <= seq.length; s += stride) {
      groups.push(make(seq, k, s, size));
      covered = s + size;
    }
    if (covered >= seq.length) return;
    const closed = k < sequences.length - 1 || flush;
    if (!closed) {
      pending = seq.slice(covered);
      return;
    }
    const s = Math.max(0, seq.length - size);
    groups.push(make(seq, k, s, seq.length - s));
  });
  return { groups, pending, sequences: sequences.length, msDurationS: durationD * 86400 };
}
