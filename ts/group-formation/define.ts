/**
 * A formed group as its definition file, `raw/groups/YYYY-MM-DD/group_<id>.json`: its MS, its
 * time range and the calibrator transit found in it. The content depends only on the inputs
 * (no write times), so a rerun that forms the same group produces the same bytes.
 */
import { mjdToEpochMs, obsDateOfGroup } from '../layout/names.js';
import { transitCandidates, type Calibrator, type TransitCandidate } from '../layout/calibrators.js';
import type { FormedGroup, MsRecord } from './form.js';

export const GROUP_FORMAT = 'contimg-ms-group/1';
/** How many transit candidates a definition lists (DESIGN.md §8 keeps the top 3). */
export const MAX_CANDIDATES = 3;

export interface TransitFound {
  name: string;
  ra_deg: number;
  dec_deg: number;
  flux_jy: number;
  spectral_index: number | null;
  transit_mjd: number;
  transit_iso: string;
  /** The MS during which the calibrator comes closest to the beam centre, and its position. */
  ms: string;
  ms_position: number;
  /** Whether the meridian transit (HA = 0) itself falls in that MS; else transit_mjd is the
   * closest approach at the group's edge, the calibrator passing through the beam's side. */
  at_transit: boolean;
  separation_deg: number;
  beam_response: number;
  /** beam_response × flux_jy. */
  rank: number;
}

export interface GroupDefinition {
  format: typeof GROUP_FORMAT;
  group_id: string;
  obs_date: string;
  size: number;
  overlap: number;
  n_ms: number;
  complete: boolean;
  start_mjd: number;
  end_mjd: number;
  start_iso: string;
  end_iso: string;
  ms: { path: string; group_id: string; start_mjd: number; end_mjd: number; pointing_dec_deg: number | null }[];
  calibrator: TransitFound | null;
  candidates: TransitFound[];
}

export const mjdToIso = (mjd: number): string => new Date(mjdToEpochMs(mjd)).toISOString();

/**
 * The calibrators that transit during the group, best first: each MS is searched with its own
 * time range and pointing, and a calibrator seen in several MS is kept where it comes closest.
 */
export function findTransits(members: readonly MsRecord[], calibrators: readonly Calibrator[]): TransitFound[] {
  const best = new Map<string, { c: TransitCandidate; position: number; ms: MsRecord }>();
  members.forEach((ms, position) => {
    if (ms.pointingDecDeg === null) return;
    for (const c of transitCandidates({ startMjd: ms.startMjd, endMjd: ms.endMjd, pointingDecDeg: ms.pointingDecDeg, calibrators })) {
      const prev = best.get(c.calibrator.name);
      if (!prev || c.minSeparationDeg < prev.c.minSeparationDeg) best.set(c.calibrator.name, { c, position, ms });
    }
  });
  return [...best.values()]
    .sort((a, b) => b.c.rank - a.c.rank || a.c.calibrator.name.localeCompare(b.c.calibrator.name))
    .map(({ c, position, ms }) => ({
      name: c.calibrator.name,
      ra_deg: c.calibrator.raDeg,
      dec_deg: c.calibrator.decDeg,
      flux_jy: c.calibrator.fluxJy,
      spectral_index: c.calibrator.spectralIndex ?? null,
      transit_mjd: c.closestMjd,
      transit_iso: mjdToIso(c.closestMjd),
      ms: ms.path,
      ms_position: position,
      at_transit: c.closestMjd > ms.startMjd && c.closestMjd < ms.endMjd,
      separation_deg: c.minSeparationDeg,
      beam_response: c.beamResponse,
      rank: c.rank,
    }));
}

export function defineGroup(g: FormedGroup, opts: { size: number; overlap: number }, calibrators: readonly Calibrator[]): GroupDefinition {
  const transits = findTransits(g.members, calibrators);
  return {
    format: GROUP_FORMAT,
    group_id: g.id,
    obs_date: obsDateOfGroup(g.id),
    size: opts.size,
    overlap: opts.overlap,
    n_ms: g.members.length,
    complete: g.members.length === opts.size,
    start_mjd: g.startMjd,
    end_mjd: g.endMjd,
    start_iso: mjdToIso(g.startMjd),
    end_iso: mjdToIso(g.endMjd),
    ms: g.members.map((m) => ({ path: m.path, group_id: m.groupId, start_mjd: m.startMjd, end_mjd: m.endMjd, pointing_dec_deg: m.pointingDecDeg })),
    calibrator: transits[0] ?? null,
    candidates: transits.slice(0, MAX_CANDIDATES),
  };
}
