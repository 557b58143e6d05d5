/**
 * Reading the legacy tree: what is there, what each entry is (LEGACY_MAPPING), where it goes, and
 * what the migration must refuse. Read-only: `plan` runs exactly this, and the phases store its
 * result in their journal before changing anything.
 */
import path from 'node:path';
import { describeMs, type MsSummary } from '../ms/summary.js';
import { asContimgError } from '../error.js';
import {
  CAL_TABLE_SUFFIX,
  GROUP_ID_RE,
  MS_KIND_DIRS,
  MS_KINDS,
  isUtcDateName,
  isWithin,
  legacyDestination,
  linkTarget,
  listDir,
  pathKind,
  realpathOfExisting,
  resolves,
  timestampInName,
  apparentPlace,
  obsDateOfGroup,
  utcDateOfMjd,
  type CalTableType,
  type Layout,
  type LegacyClass,
  type MsKind,
  type UtcDate,
} from '../layout/index.js';

/** What the migration needs to know about an MS, read from the MS itself. */
export interface MsFacts {
  groupId: string;
  startMjd: number;
  endMjd: number;
  /** The MS phase centre's declination (FIELD, ICRS), degrees. */
  pointingDecDeg: number | null;
}

export interface ScannedItem {
  src: string;
  /** Relative to the legacy base. */
  rel: string;
  cls: LegacyClass;
  dst: string;
  ms?: MsFacts;
  /** For calibration tables, images and mosaics: the group timestamp in the name. */
  groupId?: string;
  calTableType?: CalTableType;
  /** Why an entry went to `unsorted`. */
  note?: string;
}

/** A symlink in the legacy tree that points into the new layout (dual-write, or a phase-3 link). */
export interface ScannedLink {
  src: string;
  target: string;
}

export interface LegacyScan {
  items: ScannedItem[];
  links: ScannedLink[];
  /** Directories of the legacy tree that hold no item themselves, deepest first. */
  dirs: string[];
  /** Reasons the migration cannot go on; each names a path. */
  problems: string[];
  /** Top-level entries of the legacy base that are not part of the legacy layout (left alone). */
  ignored: string[];
}

export type MsReader = (msPath: string) => MsFacts;

/** The MS's own time range (first integration's start to last one's end) and phase centre. */
export function readMsFacts(msPath: string, summary: MsSummary = describeMs(msPath)): MsFacts {
  let start = Infinity;
  let end = -Infinity;
  for (const s of summary.scans) {
    start = Math.min(start, s.startMjdS);
    end = Math.max(end, s.endMjdS);
  }
  if (!Number.isFinite(start) && summary.timeRangeMjdS) {
    const half = (summary.integrationTimeS ?? 0) / 2;
    [start, end] = [summary.timeRangeMjdS[0] - half, summary.timeRangeMjdS[1] + half];
  }
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new Error('the MS has no rows (no time range)');
  const startMjd = start / 86400;
  const endMjd = end / 86400;
  const stem = path.basename(msPath).replace(/(_cal)?\.ms$/, '');
  const fromName = GROUP_ID_RE.test(stem) ? stem : timestampInName(stem);
  // ms_index.pointing_dec_deg means the pointing declination of date (what the converter
  // registers, from the header): the FIELD is ICRS, so take its apparent place at mid-time.
  const midMjd = (startMjd + endMjd) / 2;
  const decs = summary.fields
    .filter((f) => Number.isFinite(f.raDeg) && Number.isFinite(f.decDeg))
    .map((f) => apparentPlace(f.raDeg, f.decDeg, midMjd).decDeg);
  return {
    groupId: fromName ?? new Date(Math.round((startMjd - 40587) * 86400) * 1000).toISOString().slice(0, 19),
    startMjd,
    endMjd,
    pointingDecDeg: decs.length ? decs.reduce((a, b) => a + b, 0) / decs.length : null,
  };
}

/** Whether `p` lies in the new layout (where dual-write and compatibility links may point). */
export function inNewTree(layout: Layout, p: string): boolean {
  const L = layout.legacy;
  if ([L.ms, L.calibMs, L.caltables, L.tmp, L.logs, L.state].some((d) => isWithin(d, p))) return false;
  const r = layout.roots;
  if ([r.rawMs, r.calibratedMs, r.calibrationTables, r.products, r.workspace, r.dataBase, path.join(r.stageBase, 'raw'), path.join(r.stageBase, 'calibrated')].some((d) => isWithin(d, p))) {
    return true;
  }
  for (const root of [r.images, r.mosaics]) {
    if (!isWithin(root, p)) continue;
    const first = path.relative(root, p).split(path.sep)[0];
    if (first && isUtcDateName(first)) return true;
  }
  return false;
}

/** The new layout's top-level names in the stage base, which a scan of the legacy base skips. */
function newTopLevel(layout: Layout): Set<string> {
  const names = new Set<string>();
  for (const r of Object.values(layout.roots)) {
    if (isWithin(layout.legacy.base, r) && r !== layout.legacy.base) names.add(path.relative(layout.legacy.base, r).split(path.sep)[0]!);
  }
  return names;
}

export function scanLegacy(layout: Layout, readMs: MsReader = (p) => readMsFacts(p)): LegacyScan {
  const L = layout.legacy;
  const items: ScannedItem[] = [];
  const links: ScannedLink[] = [];
  const dirs: string[] = [];
  const problems: string[] = [];
  const ignored: string[] = [];
  const rel = (p: string) => path.relative(L.base, p);
  const allowed = layout.allowedRoots().map(realpathOfExisting);

  /** Deals with a symlink found where an item could be; true if it was one. */
  const symlink = (p: string): boolean => {
    if (pathKind(p) !== 'symlink') return false;
    const target = linkTarget(p);
    const real = realpathOfExisting(target);
    if (!allowed.some((r) => isWithin(r, real))) {
      problems.push(`${p} is a symlink to ${target}, outside the stage and data bases: refusing to migrate it (move the data in by hand, or remove the link)`);
    } else if (!inNewTree(layout, target)) {
      problems.push(`${p} is a symlink to ${target}, which is not in the new layout: refusing to guess what it means (resolve it by hand)`);
    } else if (!resolves(p)) {
      problems.push(`${p} is a dangling symlink (to ${target}): remove it or restore its target`);
    } else {
      links.push({ src: p, target });
    }
    return true;
  };

  const unsorted = (p: string, note: string) => {
    items.push({ src: p, rel: rel(p), cls: { category: 'unsorted', rel: rel(p) }, dst: layout.unsortedDestination(rel(p)), note });
  };

  /** A legacy directory of the layout: must be a real directory if it exists. */
  const legacyDir = (d: string): boolean => {
    const k = pathKind(d);
    if (k === 'missing') return false;
    if (k === 'symlink') {
      problems.push(`${d} is a symlink (to ${linkTarget(d)}): the migration does not follow linked legacy directories; replace the link by the directory`);
      return false;
    }
    if (k !== 'dir') {
      problems.push(`${d} is not a directory`);
      return false;
    }
    dirs.push(d);
    return true;
  };

  /** Reads an MS's facts, or files it as unsorted (an MS that cannot be read is kept, not guessed at). */
  const readOrUnsorted = (p: string): MsFacts | undefined => {
    try {
      return readMs(p);
    } catch (e) {
      unsorted(p, `could not read its time range: ${asContimgError(e).message}`);
      return undefined;
    }
  };

  const msItem = (p: string, category: 'raw_ms' | 'calibrated_ms', kindHint: MsKind | undefined, known?: MsFacts): void => {
    const facts = known ?? readOrUnsorted(p);
    if (!facts) return;
    const obsDate = utcDateOfMjd(facts.startMjd);
    const base = path.basename(p).replace(/\.ms$/, '');
    const name = category === 'calibrated_ms' ? `${base.replace(/_cal$/, '')}_cal.ms` : path.basename(p);
    const kind: MsKind = kindHint ?? 'science';
    try {
      const cls: LegacyClass = { category, kind, name, obsDate };
      items.push({ src: p, rel: rel(p), cls, dst: legacyDestination(layout, cls), ms: facts });
    } catch (e) {
      unsorted(p, asContimgError(e).message);
    }
  };

  // ms/{science,calibrators}/<ts>.ms, flat (or one date directory deep, as later old pipelines did)
  if (legacyDir(L.ms)) {
    for (const name of listDir(L.ms)) {
      const p = path.join(L.ms, name);
      const kind = MS_KINDS.find((k) => MS_KIND_DIRS[k] === name);
      if (kind && pathKind(p) === 'dir') {
        dirs.push(p);
        for (const n of listDir(p)) {
          const q = path.join(p, n);
          if (symlink(q)) continue;
          if (n.endsWith('.ms') && pathKind(q) === 'dir') msItem(q, 'raw_ms', kind);
          else if (isUtcDateName(n) && pathKind(q) === 'dir') {
            dirs.push(q);
            for (const m of listDir(q)) {
              const r = path.join(q, m);
              if (symlink(r)) continue;
              if (m.endsWith('.ms') && pathKind(r) === 'dir') msItem(r, 'raw_ms', kind);
              else unsorted(r, 'not a Measurement Set');
            }
          } else unsorted(q, 'not a Measurement Set');
        }
      } else if (!symlink(p)) unsorted(p, `not ms/science or ms/calibrators`);
    }
  }

  // calib_ms/: calibrated MS; their kind is that of the raw MS of the same group.
  const calibratorGroups = new Set(items.filter((i) => i.cls.category === 'raw_ms' && i.cls.kind === 'calibrator').map((i) => i.ms!.groupId));
  if (legacyDir(L.calibMs)) {
    for (const name of listDir(L.calibMs)) {
      const p = path.join(L.calibMs, name);
      if (symlink(p)) continue;
      if (name.endsWith('.ms') && pathKind(p) === 'dir') {
        const facts = readOrUnsorted(p);
        if (facts) msItem(p, 'calibrated_ms', calibratorGroups.has(facts.groupId) ? 'calibrator' : 'science', facts);
      } else unsorted(p, 'not a Measurement Set');
    }
  }

  // caltables/<group>_{bpcal,gpcal,2gcal}
  if (legacyDir(L.caltables)) {
    for (const name of listDir(L.caltables)) {
      const p = path.join(L.caltables, name);
      if (symlink(p)) continue;
      const type = (Object.keys(CAL_TABLE_SUFFIX) as CalTableType[]).find((t) => name.endsWith(CAL_TABLE_SUFFIX[t]));
      const groupId = timestampInName(name);
      if (!type || !groupId) {
        unsorted(p, !type ? 'not named <group>_bpcal, _gpcal or _2gcal' : 'no group timestamp in its name');
        continue;
      }
      const cls: LegacyClass = { category: 'calibration_table', name, obsDate: obsDateOfGroup(groupId) };
      items.push({ src: p, rel: rel(p), cls, dst: legacyDestination(layout, cls), groupId, calTableType: type });
    }
  }

  // images/ and mosaics/: flat entries dated by the timestamp in their names. When the legacy
  // directory is also the new root (same base), its date directories are the new layout.
  for (const [dir, category, root] of [
    [L.images, 'image', layout.roots.images],
    [L.mosaics, 'mosaic', layout.roots.mosaics],
  ] as const) {
    const k = pathKind(dir);
    if (k === 'missing') continue;
    if (k !== 'dir') {
      legacyDir(dir);
      continue;
    }
    if (dir !== root) dirs.push(dir);
    for (const name of listDir(dir)) {
      const p = path.join(dir, name);
      if (dir === root && isUtcDateName(name) && pathKind(p) === 'dir') continue;
      if (symlink(p)) continue;
      const groupId = timestampInName(name);
      if (!groupId) {
        unsorted(p, 'no timestamp in its name to date it by');
        continue;
      }
      try {
        const cls: LegacyClass = { category, name, obsDate: obsDateOfGroup(groupId) };
        items.push({ src: p, rel: rel(p), cls, dst: legacyDestination(layout, cls), groupId });
      } catch (e) {
        unsorted(p, asContimgError(e).message);
      }
    }
  }

  // tmp/, logs/, state/: each top-level entry moves as a unit, keeping its relative path.
  for (const [dir, category] of [
    [L.tmp, 'tmp'],
    [L.logs, 'log'],
    [L.state, 'state'],
  ] as const) {
    if (!legacyDir(dir)) continue;
    const names = listDir(dir);
    for (const name of names) {
      const p = path.join(dir, name);
      if (symlink(p)) continue;
      const r = path.relative(dir, p);
      if (category === 'tmp' && isEmptyTree(p)) {
        collectDirs(p, dirs);
        continue;
      }
      if (category === 'state') {
        // SQLite's -wal/-shm/-journal belong to their database, which is checkpointed before it
        // moves (they disappear); only an orphan moves on its own.
        const m = /^(.*)-(wal|shm|journal)$/.exec(name);
        if (m && names.includes(m[1]!)) continue;
      }
      const cls: LegacyClass = { category, rel: r };
      items.push({ src: p, rel: rel(p), cls, dst: legacyDestination(layout, cls) });
    }
  }

  // Top-level entries that belong to neither layout are left alone (and reported).
  const known = new Set(['ms', 'calib_ms', 'caltables', 'images', 'mosaics', 'tmp', 'logs', 'state', ...newTopLevel(layout)]);
  for (const name of listDir(L.base)) if (!known.has(name)) ignored.push(path.join(L.base, name));

  // Two legacy entries may not land on one path, nor on something already there.
  const seen = new Map<string, string>();
  for (const it of items) {
    const other = seen.get(it.dst);
    if (other) problems.push(`${it.src} and ${other} would both move to ${it.dst}: rename one of them`);
    seen.set(it.dst, it.src);
    if (pathKind(it.dst) !== 'missing') problems.push(`${it.src} cannot move to ${it.dst}: something is already there`);
  }
  dirs.sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  return { items, links, dirs: [...new Set(dirs)], problems, ignored };
}

function isEmptyTree(p: string): boolean {
  if (pathKind(p) !== 'dir') return false;
  return listDir(p).every((n) => isEmptyTree(path.join(p, n)));
}

function collectDirs(p: string, out: string[]): void {
  out.push(p);
  for (const n of listDir(p)) collectDirs(path.join(p, n), out);
}

/** A product of the new layout, with the legacy path dual-write shows it at. */
export interface NewProduct {
  path: string;
  legacyPath: string;
  category: 'raw_ms' | 'calibrated_ms' | 'calibration_table' | 'image' | 'mosaic';
}

/**
 * Products in the new layout's dated directories that the legacy layout has a place for (raw and
 * calibrated MS, calibration tables, images, mosaics), with their legacy paths.
 */
export function newTreeProducts(layout: Layout): NewProduct[] {
  const out: NewProduct[] = [];
  const r = layout.roots;
  const visitDated = (dir: string, category: NewProduct['category']) => {
    for (const date of listDir(dir)) {
      if (!isUtcDateName(date) || pathKind(path.join(dir, date)) !== 'dir') continue;
      for (const name of listDir(path.join(dir, date))) {
        if (name.startsWith('.')) continue;
        const p = path.join(dir, date, name);
        const legacyPath = layout.legacyPathFor(p);
        if (legacyPath) out.push({ path: p, legacyPath, category });
      }
    }
  };
  for (const k of MS_KINDS) visitDated(path.join(r.rawMs, MS_KIND_DIRS[k]), 'raw_ms');
  for (const k of MS_KINDS) visitDated(path.join(r.calibratedMs, MS_KIND_DIRS[k]), 'calibrated_ms');
  visitDated(r.calibrationTables, 'calibration_table');
  visitDated(r.images, 'image');
  visitDated(r.mosaics, 'mosaic');
  return out;
}

/** The data type of a legacy category, if it is a product. */
export function itemDataType(it: ScannedItem) {
  const c = it.cls.category;
  return c === 'raw_ms' || c === 'calibrated_ms' || c === 'calibration_table' || c === 'image' || c === 'mosaic' ? c : undefined;
}

export function obsDateOf(it: ScannedItem): UtcDate | undefined {
  return 'obsDate' in it.cls ? it.cls.obsDate : undefined;
}
