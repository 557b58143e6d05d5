/**
 * The pipeline layout of seed 004: every path rule of the stage tree, the data tree and the legacy
 * tree, in one class. Nothing else in contimg joins these paths by hand; callers ask a `Layout`.
 *
 * ```
 * <stage>/raw/ms/{science,calibrators}/YYYY-MM-DD/<ts>.ms     raw/groups/YYYY-MM-DD/group_<id>.json
 * <stage>/calibrated/ms/{science,calibrators}/YYYY-MM-DD/<ts>_cal.ms
 * <stage>/calibrated/tables/YYYY-MM-DD/<group>_{bpcal,gpcal,2gcal}
 * <stage>/images/YYYY-MM-DD/<ms_ts>_<params>.image            mosaics/YYYY-MM-DD/mosaic_<group>_<method>.fits
 * <stage>/products/{mosaics,catalogs,metadata,…}/YYYY-MM-DD/…   (validated, ready to publish)
 * <stage>/workspace/active/{conversion,calibration,imaging,mosaicking}/   workspace/failed/YYYY-MM-DD/<job>_error.log
 * <data>/incoming/YYYY-MM-DD/   <data>/products/<type>/YYYY-MM-DD/…   <data>/state/*.sqlite3
 * ```
 *
 * Dates are the UTC date of the observation's start, never of the processing.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../error.js';
import { obsDateOfGroup, parseUtcDate, safeName, UNSAFE_PATH, type UtcDate } from './names.js';
import { isWithin, resolveRoots, type ResolvedRoots, type RootName, type Roots, type RootSource, type RootsOptions, type StageRoot } from './roots.js';
import { layoutStatePath, readLayoutState, type LayoutState, type WriteMode } from './state.js';

export type MsKind = 'science' | 'calibrator';
export const MS_KINDS: readonly MsKind[] = ['science', 'calibrator'];
/** The directory of each kind (the seed's plural `calibrators/`). */
export const MS_KIND_DIRS: Readonly<Record<MsKind, string>> = { science: 'science', calibrator: 'calibrators' };

export type WorkspaceStage = 'conversion' | 'calibration' | 'imaging' | 'mosaicking';
export const WORKSPACE_STAGES: readonly WorkspaceStage[] = ['conversion', 'calibration', 'imaging', 'mosaicking'];

/** Calibration table kinds and their name suffixes (seed 004: `<group_id>_bpcal/` …). */
export type CalTableType = 'bandpass' | 'gain' | 'gain2';
export const CAL_TABLE_SUFFIX: Readonly<Record<CalTableType, string>> = { bandpass: '_bpcal', gain: '_gpcal', gain2: '_2gcal' };

export type DataType = 'raw_ms' | 'calibrated_ms' | 'calibration_table' | 'image' | 'mosaic' | 'catalog' | 'metadata';
export const DATA_TYPE_NAMES: readonly DataType[] = ['raw_ms', 'calibrated_ms', 'calibration_table', 'image', 'mosaic', 'catalog', 'metadata'];

export interface DataTypeRule {
  /** The stage root products of this type are made in, and a subdirectory of it. */
  staging: { root: StageRoot; sub?: string };
  /**
   * Subdirectory of the published products (`<data>/products/<sub>`) and of the validated
   * products (`<stage>/products/<sub>`), or null for types that are never published.
   */
  published: string | null;
  /** MS types are split by kind (science / calibrators) below their staging dir. */
  byKind: boolean;
}

/**
 * The DATA_TYPES table of seed 004 (staging_dir, published_dir), plus the two stage-8 products
 * (catalogs and product metadata) that the seed's tree holds under `products/`.
 */
export const DATA_TYPES: Readonly<Record<DataType, DataTypeRule>> = {
  raw_ms: { staging: { root: 'rawMs' }, published: null, byKind: true },
  calibrated_ms: { staging: { root: 'calibratedMs' }, published: 'ms', byKind: true },
  calibration_table: { staging: { root: 'calibrationTables' }, published: 'caltables', byKind: false },
  image: { staging: { root: 'images' }, published: 'images', byKind: false },
  mosaic: { staging: { root: 'mosaics' }, published: 'mosaics', byKind: false },
  catalog: { staging: { root: 'products', sub: 'catalogs' }, published: 'catalogs', byKind: false },
  metadata: { staging: { root: 'products', sub: 'metadata' }, published: 'metadata', byKind: false },
};

/** The four registries of seed 004, each a SQLite file in `<data>/state/`. */
export type RegistryName = 'ingest' | 'products' | 'cal_registry' | 'data_registry';
export const REGISTRY_NAMES: readonly RegistryName[] = ['ingest', 'products', 'cal_registry', 'data_registry'];

/** The legacy layout (DESIGN.md §5) that `contimg migrate` starts from. */
export interface LegacyDirs {
  base: string;
  ms: string;
  msByKind: Readonly<Record<MsKind, string>>;
  calibMs: string;
  caltables: string;
  images: string;
  mosaics: string;
  tmp: string;
  logs: string;
  state: string;
}

export function legacyDirs(base: string): LegacyDirs {
  return {
    base,
    ms: path.join(base, 'ms'),
    msByKind: { science: path.join(base, 'ms', 'science'), calibrator: path.join(base, 'ms', 'calibrators') },
    calibMs: path.join(base, 'calib_ms'),
    caltables: path.join(base, 'caltables'),
    images: path.join(base, 'images'),
    mosaics: path.join(base, 'mosaics'),
    tmp: path.join(base, 'tmp'),
    logs: path.join(base, 'logs'),
    state: path.join(base, 'state'),
  };
}

export interface LayoutOptions extends RootsOptions {
  /** `--legacy-base`: where the legacy tree is (default: the recorded one, else the stage base). */
  legacyBase?: string;
}

/** What a group's MS path needs: its id, its kind, and its date when the id is not a timestamp. */
export interface MsTarget {
  groupId: string;
  kind: MsKind;
  obsDate?: UtcDate;
}

export class Layout {
  readonly roots: Roots;
  readonly sources: Readonly<Record<RootName, RootSource>>;
  readonly legacy: LegacyDirs;
  /** The persisted layout state, or null on an installation that never migrated. */
  readonly state: LayoutState | null;

  constructor(resolved: ResolvedRoots, state: LayoutState | null, legacyBase?: string) {
    this.roots = resolved.roots;
    this.sources = resolved.sources;
    this.state = state;
    this.legacy = legacyDirs(path.resolve(legacyBase ?? state?.legacyBase ?? resolved.roots.stageBase));
    if (isWithin(this.legacy.base, this.roots.dataBase) || isWithin(this.roots.dataBase, this.legacy.base)) {
      throw new ContimgError('LAYOUT_CONFIG', `the legacy base ${this.legacy.base} and the data base ${this.roots.dataBase} must be separate trees`);
    }
  }

  /** Where new products are written now (see `WriteMode`). */
  get writeMode(): WriteMode {
    return this.state?.writeMode ?? 'new';
  }

  // ---- data tree -----------------------------------------------------------------------------

  get stateDir(): string {
    return path.join(this.roots.dataBase, 'state');
  }

  registryPath(name: RegistryName): string {
    return path.join(this.stateDir, `${name}.sqlite3`);
  }

  get layoutStatePath(): string {
    return layoutStatePath(this.roots.dataBase);
  }

  /** The migration's journal, in the data tree so that it survives the legacy tree's removal. */
  get migrationJournalPath(): string {
    return path.join(this.stateDir, 'migration.sqlite3');
  }

  lockPath(command: 'migrate' | 'publish'): string {
    return path.join(this.stateDir, `${command}.lock`);
  }

  incomingDir(date: UtcDate): string {
    return path.join(this.roots.dataBase, 'incoming', parseUtcDate(date));
  }

  // ---- stage tree: products ------------------------------------------------------------------

  /** `<staging dir of type>/[science|calibrators/]YYYY-MM-DD/<name>`. */
  stagingPath(type: DataType, name: string, date: UtcDate, kind?: MsKind): string {
    const rule = DATA_TYPES[type];
    let dir = path.join(this.roots[rule.staging.root], rule.staging.sub ?? '');
    if (rule.byKind) {
      if (!kind) throw new ContimgError('LAYOUT_CONFIG', `${type} paths need a kind (science or calibrator)`);
      dir = path.join(dir, MS_KIND_DIRS[kind]);
    }
    return path.join(dir, parseUtcDate(date), safeName(name, `${type} name`));
  }

  /** The raw MS of a group in the new layout: `raw/ms/<kind>/YYYY-MM-DD/<groupId>.ms`. */
  rawMsPath(t: MsTarget): string {
    return this.stagingPath('raw_ms', `${safeName(t.groupId, 'group id')}.ms`, t.obsDate ?? obsDateOfGroup(t.groupId), t.kind);
  }

  /**
   * Where a conversion writes a group's MS now: the new layout, or the legacy layout when the
   * migration was rolled back to before phase 1. In dual-write mode, call `dualWrite` once the MS
   * is in place so that the legacy path shows it too.
   */
  msPathFor(t: MsTarget): string {
    if (this.writeMode === 'legacy') return path.join(this.legacy.msByKind[t.kind], `${safeName(t.groupId, 'group id')}.ms`);
    return this.rawMsPath(t);
  }

  calibratedMsPath(t: MsTarget): string {
    return this.stagingPath('calibrated_ms', `${safeName(t.groupId, 'group id')}_cal.ms`, t.obsDate ?? obsDateOfGroup(t.groupId), t.kind);
  }

  calTablePath(groupId: string, type: CalTableType, obsDate?: UtcDate): string {
    return this.stagingPath('calibration_table', `${safeName(groupId, 'group id')}${CAL_TABLE_SUFFIX[type]}`, obsDate ?? obsDateOfGroup(groupId));
  }

  /** `images/YYYY-MM-DD/<ms_timestamp>_<params>.image`. */
  imagePath(msTimestamp: string, params: string, obsDate?: UtcDate): string {
    return this.stagingPath('image', `${safeName(msTimestamp, 'MS timestamp')}_${safeName(params, 'image parameters')}.image`, obsDate ?? obsDateOfGroup(msTimestamp));
  }

  /** `mosaics/YYYY-MM-DD/mosaic_<group_id>_<method>.fits`. */
  mosaicPath(groupId: string, method: string, obsDate?: UtcDate): string {
    return this.stagingPath('mosaic', `mosaic_${safeName(groupId, 'group id')}_${safeName(method, 'mosaic method')}.fits`, obsDate ?? obsDateOfGroup(groupId));
  }

  /** `products/catalogs/YYYY-MM-DD/<name>` (stage 8: source catalogues). */
  catalogPath(name: string, obsDate: UtcDate): string {
    return this.stagingPath('catalog', name, obsDate);
  }

  /** `products/metadata/YYYY-MM-DD/<name>` (stage 8: QA reports). */
  metadataPath(name: string, obsDate: UtcDate): string {
    return this.stagingPath('metadata', name, obsDate);
  }

  /** `raw/groups/YYYY-MM-DD/group_<id>.json` (stage 3). */
  groupDefinitionPath(groupId: string, obsDate?: UtcDate): string {
    return path.join(this.roots.stageBase, 'raw', 'groups', obsDate ?? obsDateOfGroup(groupId), `group_${safeName(groupId, 'group id')}.json`);
  }

  /** A validated product, ready to publish: `<stage>/products/<type dir>/YYYY-MM-DD/<name>`. */
  validatedPath(type: DataType, name: string, date: UtcDate): string {
    return path.join(this.roots.products, this.publishedSubdir(type), parseUtcDate(date), safeName(name, `${type} name`));
  }

  /** A published product: `<data>/products/<type dir>/YYYY-MM-DD/<name>`. */
  publishedPath(type: DataType, name: string, date: UtcDate): string {
    return path.join(this.roots.publishedProducts, this.publishedSubdir(type), parseUtcDate(date), safeName(name, `${type} name`));
  }

  private publishedSubdir(type: DataType): string {
    const sub = DATA_TYPES[type].published;
    if (sub === null) throw new ContimgError('LAYOUT_CONFIG', `${type} products are never published`);
    return sub;
  }

  /** The seed's DATA_TYPES table with this layout's directories. */
  dataTypes(): Record<DataType, { stagingDir: string; publishedDir: string | null }> {
    const out = {} as Record<DataType, { stagingDir: string; publishedDir: string | null }>;
    for (const t of DATA_TYPE_NAMES) {
      const r = DATA_TYPES[t];
      out[t] = {
        stagingDir: path.join(this.roots[r.staging.root], r.staging.sub ?? ''),
        publishedDir: r.published === null ? null : path.join(this.roots.publishedProducts, r.published),
      };
    }
    return out;
  }

  // ---- stage tree: workspace -----------------------------------------------------------------

  workspaceDir(stage: WorkspaceStage): string {
    return path.join(this.roots.workspace, 'active', stage);
  }

  /** Where conversions build their MS before moving it into `raw/ms/…`. */
  conversionWorkspace(): string {
    return this.workspaceDir('conversion');
  }

  failedDir(date: UtcDate): string {
    return path.join(this.roots.workspace, 'failed', parseUtcDate(date));
  }

  /** `workspace/failed/YYYY-MM-DD/<job>_error.log`, dated by the observation, not the failure. */
  failedLogPath(jobId: string, obsDateUtc: UtcDate): string {
    return path.join(this.failedDir(obsDateUtc), `${safeName(jobId, 'job id')}_error.log`);
  }

  /** Every directory of the new layout that exists from the start (phase 1 creates them). */
  skeletonDirs(): string[] {
    const r = this.roots;
    const dirs = [
      ...MS_KINDS.map((k) => path.join(r.rawMs, MS_KIND_DIRS[k])),
      path.join(r.stageBase, 'raw', 'groups'),
      ...MS_KINDS.map((k) => path.join(r.calibratedMs, MS_KIND_DIRS[k])),
      r.calibrationTables,
      r.images,
      r.mosaics,
      ...['mosaics', 'catalogs', 'metadata'].map((s) => path.join(r.products, s)),
      ...WORKSPACE_STAGES.map((s) => this.workspaceDir(s)),
      path.join(r.workspace, 'failed'),
      path.join(r.dataBase, 'incoming'),
      ...['mosaics', 'catalogs', 'images', 'metadata'].map((s) => path.join(r.publishedProducts, s)),
      this.stateDir,
    ];
    return [...new Set(dirs)];
  }

  // ---- where legacy things go (the migration's mapping; see LEGACY_MAPPING) ----------------

  /** Legacy logs keep their relative path under `<data>/logs/`. */
  legacyLogDestination(relPath: string): string {
    return this.below(path.join(this.roots.dataBase, 'logs'), relPath);
  }

  /** Leftovers of the old pipeline's tmp/ are kept as failed work: `workspace/failed/legacy-tmp/`. */
  legacyTmpDestination(relPath: string): string {
    return this.below(path.join(this.roots.workspace, 'failed', 'legacy-tmp'), relPath);
  }

  /** Legacy state (old registries, configs) is archived beside the new registries. */
  get legacyStateArchive(): string {
    return path.join(this.stateDir, 'legacy');
  }

  legacyStateDestination(relPath: string): string {
    return this.below(this.legacyStateArchive, relPath);
  }

  /** Anything in a legacy directory that no rule recognises is kept, verbatim, for an operator. */
  unsortedDestination(relPath: string): string {
    return this.below(path.join(this.roots.dataBase, 'archive', 'legacy-stage'), relPath);
  }

  private below(dir: string, relPath: string): string {
    const parts = relPath.split('/');
    // Parts come from directory listings, but a relative path must still never climb out.
    for (const p of parts) {
      if (p === '' || p === '.' || p === '..' || p.includes('\0')) {
        throw new ContimgError(UNSAFE_PATH, `'${relPath}' is not a safe relative path`);
      }
    }
    return path.join(dir, ...parts);
  }

  /**
   * The legacy path that a new-layout product is also shown at in dual-write mode, or null when
   * the legacy layout had no place for it (products, workspace, groups).
   */
  legacyPathFor(newPath: string): string | null {
    const p = path.resolve(newPath);
    const dated = (root: string, byKind: boolean): { kind?: MsKind; name: string } | null => {
      if (!isWithin(root, p)) return null;
      const parts = path.relative(root, p).split(path.sep);
      const want = byKind ? 3 : 2;
      if (parts.length !== want) return null;
      let kind: MsKind | undefined;
      if (byKind) {
        kind = MS_KINDS.find((k) => MS_KIND_DIRS[k] === parts[0]);
        if (!kind) return null;
      }
      try {
        parseUtcDate(parts[want - 2]!);
      } catch {
        return null;
      }
      return { kind, name: parts[want - 1]! };
    };
    const raw = dated(this.roots.rawMs, true);
    if (raw) return path.join(this.legacy.msByKind[raw.kind!], raw.name);
    const cal = dated(this.roots.calibratedMs, true);
    if (cal) return path.join(this.legacy.calibMs, cal.name);
    const tab = dated(this.roots.calibrationTables, false);
    if (tab) return path.join(this.legacy.caltables, tab.name);
    const img = dated(this.roots.images, false);
    if (img) return path.join(this.legacy.images, img.name);
    const mos = dated(this.roots.mosaics, false);
    if (mos) return path.join(this.legacy.mosaics, mos.name);
    return null;
  }

  // ---- path safety ---------------------------------------------------------------------------

  /** Every directory the layout may write in: both bases, the legacy base and any moved root. */
  allowedRoots(): string[] {
    return [...new Set([...Object.values(this.roots), this.legacy.base])];
  }

  /**
   * Refuses `p` unless it lies inside one of the layout's roots, both as written and after
   * resolving symlinks on the way (a link inside a base that points elsewhere is refused).
   */
  assertInside(p: string, what: string): string {
    const abs = path.resolve(p);
    const roots = this.allowedRoots();
    if (!roots.some((r) => isWithin(r, abs))) {
      throw new ContimgError(UNSAFE_PATH, `${what} ${abs} is outside the layout (${this.roots.stageBase}, ${this.roots.dataBase}, ${this.legacy.base})`);
    }
    const real = realpathOfExisting(abs);
    const realRoots = roots.map(realpathOfExisting);
    if (!realRoots.some((r) => isWithin(r, real))) {
      throw new ContimgError(UNSAFE_PATH, `${what} ${abs} resolves through a symlink to ${real}, outside the layout`);
    }
    return abs;
  }
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
export function realpathOfExisting(p: string): string {
  let cur = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(realpathSync(cur), ...rest.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return path.resolve(p);
      rest.push(path.basename(cur));
      cur = up;
    }
  }
}

export interface ResolveLayoutOptions extends LayoutOptions {
  /** `--layout`: write the pipeline layout even without `CONTIMG_STAGE_BASE`. */
  layout?: boolean;
}

/**
 * Whether a writer (convert, stream) is asked to write the layout: `--layout`, a
 * `--stage-base`/`--data-base` option, or `CONTIMG_STAGE_BASE` in the environment.
 */
export function layoutRequested(opts: ResolveLayoutOptions = {}): boolean {
  const env = opts.env ?? process.env;
  return opts.layout === true || !!opts.stageBase?.trim() || !!opts.dataBase?.trim() || !!env.CONTIMG_STAGE_BASE?.trim();
}

/** The layout for a writer (convert, stream), or null when none is asked for (`layoutRequested`). */
export function resolveLayout(opts: ResolveLayoutOptions = {}): Layout | null {
  return layoutRequested(opts) ? openLayout(opts) : null;
}

/** The layout, always (migrate and publish need one even with all defaults). */
export function openLayout(opts: LayoutOptions = {}): Layout {
  const resolved = resolveRoots(opts);
  return new Layout(resolved, readLayoutState(resolved.roots.dataBase), opts.legacyBase);
}
