/**
 * `contimg inspect PATH`: what is in a UVH5 file, a directory of subband groups, or a
 * Measurement Set.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { callNative, native } from '../../native.js';
import { ContimgError } from '../../error.js';
import {
  DEFAULT_EXPECTED_SUBBANDS,
  DEFAULT_GROUP_TOLERANCE_S,
  formGroups,
  missingSubbands,
  parseSubbandName,
  subbandLabel,
  type SubbandFile,
} from '../../groups.js';
import { defineCommand } from '../command.js';
import { report } from '../io.js';
import { describeMs, formatMsSummary } from '../../ms/summary.js';

/** The header summary the native core returns for one UVH5 file. */
export interface Uvh5Summary {
  path: string;
  version: string;
  telescope: string;
  nBlts: number;
  nBls: number;
  nTimes: number;
  nFreqs: number;
  nPols: number;
  nSpws: number;
  nAntsData: number;
  nAntsTelescope: number;
  antennas: number[];
  polarizations: number[];
  freqMinHz: number;
  freqMaxHz: number;
  freqDescending: boolean;
  channelWidthHz: number;
  timeStartJd: number;
  timeEndJd: number;
  timeStartUtc: string;
  timeEndUtc: string;
  lstStartRad: number;
  lstEndRad: number;
  integrationTimeS: number;
  integrationSpacingS: number;
  phasing: { kind: string };
  pointingDecDeg: number | null;
  uvwIsFloat32: boolean;
  hasLstArray: boolean;
  layout?: { legacy_spw_axis: boolean; vis_type: string; storage: string; direct_read: boolean };
}

const POL_NAMES: Record<number, string> = { 1: 'I', 2: 'Q', 3: 'U', 4: 'V', [-1]: 'RR', [-2]: 'LL', [-3]: 'RL', [-4]: 'LR', [-5]: 'XX', [-6]: 'YY', [-7]: 'XY', [-8]: 'YX' };

export function inspectUvh5(file: string, locateData = true): Uvh5Summary {
  return native().inspectUvh5(file, locateData) as Uvh5Summary;
}

export const inspectCommand = defineCommand({
  command: 'inspect <path>',
  describe: 'Summarise a UVH5 file, a directory of subband groups, or a Measurement Set',
  builder: (y) =>
    y
      .positional('path', { type: 'string', demandOption: true, describe: 'File, directory or .ms' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
      .option('expected-subbands', { type: 'number', default: DEFAULT_EXPECTED_SUBBANDS })
      .option('group-tolerance', { type: 'number', default: DEFAULT_GROUP_TOLERANCE_S, describe: 'Seconds within which subbands form a group' }),
  async run(a, { io }) {
    const target = path.resolve(a.path);
    if (!existsSync(target)) throw new ContimgError('NOT_FOUND', `${target}: no such file or directory`);
    if (statSync(target).isDirectory()) {
      if (existsSync(path.join(target, 'table.dat'))) {
        const ms = await callNative(() => describeMs(target));
        report(io, a.json, ms, () => formatMsSummary(ms));
        return 0;
      }
      const listing = await callNative(() => inspectDirectory(target, a['expected-subbands'], a['group-tolerance']));
      report(io, a.json, listing, () => formatListing(listing));
      return 0;
    }
    const s = await callNative(() => inspectUvh5(target));
    report(io, a.json, s, () => formatUvh5(s));
    return 0;
  },
});

export interface GroupListing {
  id: string;
  complete: boolean;
  subbands: number[];
  missing: number[];
  files: { subband: number; path: string; timestamp: string }[];
  timeStartUtc?: string;
  timeEndUtc?: string;
  lstStartHours?: number;
  lstEndHours?: number;
  pointingDecDeg?: number | null;
  freqMinHz?: number;
  freqMaxHz?: number;
  nAntennas?: number;
  nTimes?: number;
  error?: { code: string; message: string };
}

export interface DirectoryListing {
  path: string;
  nFiles: number;
  groups: GroupListing[];
  ignored: { file: string; reason: string }[];
  duplicates: string[];
}

export function inspectDirectory(dir: string, expected: number, toleranceS: number): DirectoryListing {
  const files: SubbandFile[] = [];
  const ignored: { file: string; reason: string }[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.hdf5') && !name.endsWith('.uvh5')) continue;
    const parsed = parseSubbandName(name);
    if (parsed.ok) files.push({ ...parsed.name, path: path.join(dir, name) });
    else ignored.push({ file: name, reason: parsed.reason });
  }
  const { groups, duplicates } = formGroups(files, toleranceS);
  return {
    path: dir,
    nFiles: files.length,
    groups: groups.map((g) => {
      const subbands = [...g.files.keys()].sort((x, y) => x - y);
      const missing = missingSubbands(g, expected);
      const entry: GroupListing = {
        id: g.id,
        complete: missing.length === 0,
        subbands,
        missing,
        files: subbands.map((sb) => ({ subband: sb, path: g.files.get(sb)!.path, timestamp: g.files.get(sb)!.timestamp })),
      };
      try {
        const heads = subbands.map((sb) => inspectUvh5(g.files.get(sb)!.path, false));
        const first = heads[0]!;
        entry.timeStartUtc = first.timeStartUtc;
        entry.timeEndUtc = first.timeEndUtc;
        entry.lstStartHours = (first.lstStartRad * 12) / Math.PI;
        entry.lstEndHours = (first.lstEndRad * 12) / Math.PI;
        entry.pointingDecDeg = first.pointingDecDeg;
        entry.freqMinHz = Math.min(...heads.map((h) => h.freqMinHz));
        entry.freqMaxHz = Math.max(...heads.map((h) => h.freqMaxHz));
        entry.nAntennas = first.nAntsData;
        entry.nTimes = first.nTimes;
      } catch (err) {
        const e = err as { code?: string; message: string };
        entry.error = { code: e.code ?? 'INTERNAL', message: e.message };
      }
      return entry;
    }),
    ignored,
    duplicates: duplicates.map((d) => d.path),
  };
}

const mhz = (hz: number | undefined) => (hz === undefined ? '?' : (hz / 1e6).toFixed(2));

function formatListing(l: DirectoryListing): string {
  const out = [`${l.path}: ${l.groups.length} group(s) from ${l.nFiles} subband file(s)`];
  for (const g of l.groups) {
    const state = g.complete ? 'complete' : `missing ${g.missing.map(subbandLabel).join(' ')}`;
    out.push(`  ${g.id}  ${String(g.subbands.length).padStart(2)} subbands  ${state}`);
    if (g.error) {
      out.push(`      error [${g.error.code}]: ${g.error.message}`);
      continue;
    }
    out.push(
      `      ${g.timeStartUtc} → ${g.timeEndUtc} UTC (${g.nTimes} integrations), LST ${g.lstStartHours?.toFixed(3)}–${g.lstEndHours?.toFixed(3)} h, ` +
        `dec ${g.pointingDecDeg?.toFixed(2) ?? '?'}°, ${mhz(g.freqMinHz)}–${mhz(g.freqMaxHz)} MHz, ${g.nAntennas} antennas`,
    );
  }
  for (const i of l.ignored) out.push(`  ignored ${i.file}: ${i.reason}`);
  for (const d of l.duplicates) out.push(`  duplicate ${d}`);
  return out.join('\n') + '\n';
}

function formatUvh5(s: Uvh5Summary): string {
  const pols = s.polarizations.map((p) => POL_NAMES[p] ?? String(p)).join(' ');
  const lines = [
    `${s.path}`,
    `  format       UVH5 ${s.version}${s.layout ? `, ${s.layout.legacy_spw_axis ? 'legacy spw axis' : 'current shapes'}, ${s.layout.vis_type}, ${s.layout.storage}${s.layout.direct_read ? ', direct reads' : ''}` : ''}`,
    `  telescope    ${s.telescope}, ${s.nAntsData} of ${s.nAntsTelescope} antennas, ${s.nBls} baselines`,
    `  times        ${s.timeStartUtc} → ${s.timeEndUtc} UTC, ${s.nTimes} integrations of ${s.integrationSpacingS.toFixed(3)} s (header integration_time ${s.integrationTimeS.toPrecision(6)} s)`,
    `  LST          ${((s.lstStartRad * 12) / Math.PI).toFixed(4)} → ${((s.lstEndRad * 12) / Math.PI).toFixed(4)} h${s.hasLstArray ? '' : ' (computed)'}`,
    `  band         ${mhz(s.freqMinHz)}–${mhz(s.freqMaxHz)} MHz, ${s.nFreqs} channels of ${(Math.abs(s.channelWidthHz) / 1e3).toFixed(3)} kHz${s.freqDescending ? ' (descending)' : ''}, ${s.nSpws} spw`,
    `  polarisations ${pols}`,
    `  phasing      ${s.phasing.kind}${s.pointingDecDeg !== null ? `, pointing dec ${s.pointingDecDeg.toFixed(4)}°` : ''}, uvw ${s.uvwIsFloat32 ? 'float32' : 'float64'}`,
  ];
  return lines.join('\n') + '\n';
}
