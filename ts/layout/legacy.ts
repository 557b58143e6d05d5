/**
 * Where each thing in the legacy layout (DESIGN.md §5) goes in the new one. `LEGACY_MAPPING` is
 * the table operators read (`contimg migrate plan` and the README print it); `legacyDestination`
 * is the same rules as code. Keep the two side by side.
 */
import { ContimgError } from '../error.js';
import type { Layout, MsKind } from './layout.js';
import type { UtcDate } from './names.js';

export type LegacyCategory = 'raw_ms' | 'calibrated_ms' | 'calibration_table' | 'image' | 'mosaic' | 'state' | 'log' | 'tmp' | 'unsorted';

export interface LegacyRule {
  legacy: string;
  category: LegacyCategory;
  destination: string;
  /** Which registry phase 2 records it in. */
  registered: string;
  why: string;
}

export const LEGACY_MAPPING: readonly LegacyRule[] = [
  {
    legacy: '<stage>/ms/{science,calibrators}/<ts>.ms',
    category: 'raw_ms',
    destination: '<stage>/raw/ms/{science,calibrators}/YYYY-MM-DD/<ts>.ms',
    registered: 'products.ms_index + data_registry (raw_ms)',
    why: 'the date is the UTC date of the first integration, read from the MS itself; the kind is the directory it was in',
  },
  {
    legacy: '<stage>/calib_ms/<ts>[_cal].ms',
    category: 'calibrated_ms',
    destination: '<stage>/calibrated/ms/{science,calibrators}/YYYY-MM-DD/<ts>_cal.ms',
    registered: 'data_registry (calibrated_ms), provenance → its raw MS',
    why: 'calibrated, not calibrator: the kind is that of the raw MS with the same timestamp',
  },
  {
    legacy: '<stage>/caltables/<group>_{bpcal,gpcal,2gcal}',
    category: 'calibration_table',
    destination: '<stage>/calibrated/tables/YYYY-MM-DD/<group>_{bpcal,gpcal,2gcal}',
    registered: 'cal_registry (valid from the group start, open-ended) + data_registry',
    why: 'the date is that of the group timestamp in the name',
  },
  {
    legacy: '<stage>/images/<ms_ts>_<params>.image (flat)',
    category: 'image',
    destination: '<stage>/images/YYYY-MM-DD/<ms_ts>_<params>.image',
    registered: 'data_registry (image), provenance → its MS',
    why: 'the date is that of the first timestamp in the name',
  },
  {
    legacy: '<stage>/mosaics/mosaic_<group>_<method>.fits (flat)',
    category: 'mosaic',
    destination: '<stage>/mosaics/YYYY-MM-DD/mosaic_<group>_<method>.fits',
    registered: 'data_registry (mosaic)',
    why: 'the date is that of the first timestamp in the name',
  },
  {
    legacy: '<stage>/state/*',
    category: 'state',
    destination: '<data>/state/legacy/*',
    registered: '— (paths inside old SQLite registries are rewritten as their files move)',
    why: 'state belongs with the data, not on the SSD; the old registries are kept, not merged, so that nothing in them is lost or misread',
  },
  {
    legacy: '<stage>/logs/**',
    category: 'log',
    destination: '<data>/logs/**',
    registered: '—',
    why: 'logs are metadata: kept permanently, on the data disk, with their relative paths',
  },
  {
    legacy: '<stage>/tmp/** (non-empty entries)',
    category: 'tmp',
    destination: '<stage>/workspace/failed/legacy-tmp/**',
    registered: '—',
    why: 'leftovers of interrupted work: kept where failed work is inspected; empty directories are simply removed in phase 4',
  },
  {
    legacy: 'anything else inside a legacy directory (unknown names, unreadable MS, names without a timestamp)',
    category: 'unsorted',
    destination: '<data>/archive/legacy-stage/<relative path>',
    registered: '—',
    why: 'nothing is deleted that is not verified elsewhere: what no rule recognises is kept verbatim for an operator',
  },
];

/** A legacy entry, classified: what `legacyDestination` needs to place it. */
export type LegacyClass =
  | { category: 'raw_ms' | 'calibrated_ms'; kind: MsKind; name: string; obsDate: UtcDate }
  | { category: 'calibration_table' | 'image' | 'mosaic'; name: string; obsDate: UtcDate }
  | { category: 'state' | 'log' | 'tmp' | 'unsorted'; rel: string };

export function legacyDestination(layout: Layout, c: LegacyClass): string {
  switch (c.category) {
    case 'raw_ms':
    case 'calibrated_ms':
      return layout.stagingPath(c.category, c.name, c.obsDate, c.kind);
    case 'calibration_table':
    case 'image':
    case 'mosaic':
      return layout.stagingPath(c.category, c.name, c.obsDate);
    case 'state':
      return layout.legacyStateDestination(c.rel);
    case 'log':
      return layout.legacyLogDestination(c.rel);
    case 'tmp':
      return layout.legacyTmpDestination(c.rel);
    case 'unsorted':
      return layout.unsortedDestination(c.rel);
    default: {
      const never: never = c;
      throw new ContimgError('INTERNAL', `unknown legacy category ${JSON.stringify(never)}`);
    }
  }
}
