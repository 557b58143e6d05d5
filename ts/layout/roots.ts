/**
 * Where the two trees are: the stage tree (SSD: raw, calibrated, images, mosaics, products,
 * workspace) and the data tree (HDD: incoming, published products, state), from the
 * `CONTIMG_*` environment variables of seed 004 and the `--stage-base` / `--data-base` options.
 *
 * Precedence, for each root: the command-line base, then the root's own variable, then its
 * base variable, then the seed's default. A command-line base names a whole tree, so it also
 * overrides the per-directory variables of that tree: `--stage-base /x` puts *everything* of the
 * stage tree under /x, whatever CONTIMG_IMAGES_DIR says.
 */
import path from 'node:path';
import { ContimgError } from '../error.js';

/** The seed's defaults. */
export const DEFAULT_STAGE_BASE = '/stage/dsa110-contimg';
export const DEFAULT_DATA_BASE = '/data/dsa110-contimg';

export type StageRoot = 'rawMs' | 'calibratedMs' | 'calibrationTables' | 'images' | 'mosaics' | 'products' | 'workspace';
export type DataRoot = 'publishedProducts';
export type RootName = 'stageBase' | 'dataBase' | StageRoot | DataRoot;

/** Every `CONTIMG_*` variable of seed 004, by the root it sets. */
export const ENV_VARS = {
  stageBase: 'CONTIMG_STAGE_BASE',
  dataBase: 'CONTIMG_DATA_BASE',
  rawMs: 'CONTIMG_RAW_MS_DIR',
  calibratedMs: 'CONTIMG_CALIBRATED_MS_DIR',
  calibrationTables: 'CONTIMG_CALIBRATION_TABLES_DIR',
  images: 'CONTIMG_IMAGES_DIR',
  mosaics: 'CONTIMG_MOSAICS_DIR',
  products: 'CONTIMG_PRODUCTS_DIR',
  workspace: 'CONTIMG_WORKSPACE_DIR',
  publishedProducts: 'CONTIMG_PUBLISHED_PRODUCTS_DIR',
} as const satisfies Record<RootName, string>;

/** Where each root sits in its tree by default. */
const STAGE_DEFAULTS: Record<StageRoot, string> = {
  rawMs: 'raw/ms',
  calibratedMs: 'calibrated/ms',
  calibrationTables: 'calibrated/tables',
  images: 'images',
  mosaics: 'mosaics',
  products: 'products',
  workspace: 'workspace',
};
const DATA_DEFAULTS: Record<DataRoot, string> = { publishedProducts: 'products' };

export type Roots = Readonly<Record<RootName, string>>;
export type RootSource = 'option' | 'env' | 'default';

export interface RootsOptions {
  /** `--stage-base` (relative paths are resolved against the working directory). */
  stageBase?: string;
  /** `--data-base`. */
  dataBase?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedRoots {
  roots: Roots;
  sources: Readonly<Record<RootName, RootSource>>;
}

function fromEnv(env: NodeJS.ProcessEnv, name: RootName): string | undefined {
  const v = env[ENV_VARS[name]];
  if (v === undefined || v.trim() === '') return undefined;
  // A relative path in the environment would mean different trees in different working
  // directories (a cron job, a systemd unit, a shell): refuse it.
  if (!path.isAbsolute(v)) {
    throw new ContimgError('LAYOUT_CONFIG', `${ENV_VARS[name]}='${v}' must be an absolute path`);
  }
  return path.resolve(v);
}

function within(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** True when `child` is `parent` or lies inside it (lexically). */
export function isWithin(parent: string, child: string): boolean {
  return within(path.resolve(parent), path.resolve(child));
}

export function resolveRoots(opts: RootsOptions = {}): ResolvedRoots {
  const env = opts.env ?? process.env;
  const roots = {} as Record<RootName, string>;
  const sources = {} as Record<RootName, RootSource>;
  const base = (name: 'stageBase' | 'dataBase', option: string | undefined, fallback: string) => {
    if (option !== undefined && option.trim() !== '') {
      roots[name] = path.resolve(option);
      sources[name] = 'option';
    } else {
      const e = fromEnv(env, name);
      roots[name] = e ?? fallback;
      sources[name] = e ? 'env' : 'default';
    }
  };
  base('stageBase', opts.stageBase, DEFAULT_STAGE_BASE);
  base('dataBase', opts.dataBase, DEFAULT_DATA_BASE);
  const sub = <K extends StageRoot | DataRoot>(name: K, tree: 'stageBase' | 'dataBase', rel: string) => {
    const e = sources[tree] === 'option' ? undefined : fromEnv(env, name);
    roots[name] = e ?? path.join(roots[tree], rel);
    sources[name] = e ? 'env' : sources[tree];
  };
  for (const [k, rel] of Object.entries(STAGE_DEFAULTS) as [StageRoot, string][]) sub(k, 'stageBase', rel);
  for (const [k, rel] of Object.entries(DATA_DEFAULTS) as [DataRoot, string][]) sub(k, 'dataBase', rel);

  // The migration and publishing walk one tree and write the other: if one held the other, a
  // walk would find its own output.
  if (within(roots.stageBase, roots.dataBase) || within(roots.dataBase, roots.stageBase)) {
    throw new ContimgError(
      'LAYOUT_CONFIG',
      `the stage base ${roots.stageBase} and the data base ${roots.dataBase} must be separate trees (neither inside the other)`,
    );
  }
  return { roots, sources };
}
