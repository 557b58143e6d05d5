/**
 * Fixtures for the layout, migration and publishing tests: real Measurement Sets, a legacy stage
 * tree (DESIGN.md §5) holding them with old logs, tmp leftovers and old registries, and checks
 * that do not use the code under test (their own checksums, tree walks and SQL).
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliJson, root, tmpDir } from '../helpers.js';

// ---- real MS ---------------------------------------------------------------------------------

export interface MsOptions {
  /** Integrations of 12.885 s (12 ≈ 2.6 min: a group at 23:58:00 then ends after midnight). */
  integrations?: number;
  /** Pointing declination of date (degrees). */
  decDeg?: number;
  seed?: number;
}

/**
 * A real MS for the group starting at `timestamp` (`YYYY-MM-DDTHH:MM:SS`), written as
 * `<dir>/<timestamp>.ms`: a small simulated DSA-110 group converted by `contimg convert`. The one
 * place tests make MS; swap the body to use another converter.
 */
export async function makeRealMs(dir: string, timestamp: string, opts: MsOptions = {}): Promise<string> {
  const work = tmpDir('contimg-ms-');
  await cliJson(
    'simulate',
    '--output-dir', work,
    '--start', timestamp,
    '--antennas', '4',
    '--channels', '8',
    '--subbands', '2',
    '--integrations', String(opts.integrations ?? 2),
    '--dec', String(opts.decDeg ?? 54.57),
    '--seed', String(opts.seed ?? 7),
  );
  const r = await cliJson<{ groups: { outputMs: string }[] }>('convert', '--input-dir', work, '--output-dir', dir, '--expected-subbands', '2', '--no-tmpfs');
  rmSync(work, { recursive: true, force: true });
  return r.groups[0]!.outputMs;
}

// ---- independent checks ----------------------------------------------------------------------

/** sha256 over a file or tree: sorted relative paths with each file's sha256 (test's own code). */
export function contentDigest(p: string): string {
  const lines: string[] = [];
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) lines.push(`l ${rel} ${readlinkSync(abs)}`);
    else if (st.isDirectory()) {
      lines.push(`d ${rel}`);
      for (const n of readdirSync(abs)) walk(path.join(abs, n), rel ? `${rel}/${n}` : n);
    } else lines.push(`f ${rel} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`);
  };
  walk(p, '');
  return createHash('sha256').update(lines.sort().join('\n')).digest('hex');
}

/** Every symlink under `dir` (lstat walk, not following links). */
export function symlinksUnder(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(p);
      else if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

export function resolvesTest(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** A directory on another file system than os.tmpdir() (tmpfs), or null. */
export function otherFileSystemDir(): string | null {
  for (const cand of ['/dev/shm']) {
    try {
      if (statSync(cand).dev !== statSync(os.tmpdir()).dev && statfsSync(cand).bavail > 0) {
        const d = path.join(cand, `contimg-test-${process.pid}-${randomBytes(3).toString('hex')}`);
        mkdirSync(d);
        otherDirs.push(d);
        return d;
      }
    } catch {
      // Not there.
    }
  }
  return null;
}
const otherDirs: string[] = [];
export function cleanupOtherDirs(): void {
  for (const d of otherDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

// ---- a legacy stage tree ---------------------------------------------------------------------

/** Where a legacy entry must end up: in the stage or data tree, at a relative path. */
export interface Expected {
  /** Relative to the legacy base. */
  legacy: string;
  tree: 'stage' | 'data';
  /** Relative to that tree's base. */
  rel: string;
  kind: 'raw_ms' | 'calibrated_ms' | 'calibration_table' | 'image' | 'mosaic' | 'log' | 'tmp' | 'state' | 'unsorted';
}

export const EXPECTED: readonly Expected[] = [
  { legacy: 'ms/science/2025-10-02T03:00:00.ms', tree: 'stage', rel: 'raw/ms/science/2025-10-02/2025-10-02T03:00:00.ms', kind: 'raw_ms' },
  // Starts at 23:58 on 2 October and ends after midnight: it stays on the 2nd.
  { legacy: 'ms/science/2025-10-02T23:58:00.ms', tree: 'stage', rel: 'raw/ms/science/2025-10-02/2025-10-02T23:58:00.ms', kind: 'raw_ms' },
  { legacy: 'ms/science/2025-10-03T00:03:00.ms', tree: 'stage', rel: 'raw/ms/science/2025-10-03/2025-10-03T00:03:00.ms', kind: 'raw_ms' },
  { legacy: 'ms/science/2025-10-01/2025-10-01T10:00:00.ms', tree: 'stage', rel: 'raw/ms/science/2025-10-01/2025-10-01T10:00:00.ms', kind: 'raw_ms' },
  { legacy: 'ms/calibrators/2025-10-02T20:30:00.ms', tree: 'stage', rel: 'raw/ms/calibrators/2025-10-02/2025-10-02T20:30:00.ms', kind: 'raw_ms' },
  { legacy: 'calib_ms/2025-10-02T20:30:00.ms', tree: 'stage', rel: 'calibrated/ms/calibrators/2025-10-02/2025-10-02T20:30:00_cal.ms', kind: 'calibrated_ms' },
  { legacy: 'calib_ms/2025-10-02T03:00:00_cal.ms', tree: 'stage', rel: 'calibrated/ms/science/2025-10-02/2025-10-02T03:00:00_cal.ms', kind: 'calibrated_ms' },
  { legacy: 'caltables/2025-10-02T20:30:00_bpcal', tree: 'stage', rel: 'calibrated/tables/2025-10-02/2025-10-02T20:30:00_bpcal', kind: 'calibration_table' },
  { legacy: 'caltables/2025-10-02T20:30:00_gpcal', tree: 'stage', rel: 'calibrated/tables/2025-10-02/2025-10-02T20:30:00_gpcal', kind: 'calibration_table' },
  { legacy: 'images/2025-10-02T03:00:00_briggs.image', tree: 'stage', rel: 'images/2025-10-02/2025-10-02T03:00:00_briggs.image', kind: 'image' },
  { legacy: 'images/2025-10-03T00:03:00_natural.fits', tree: 'stage', rel: 'images/2025-10-03/2025-10-03T00:03:00_natural.fits', kind: 'image' },
  { legacy: 'mosaics/mosaic_2025-10-02T03:00:00_mean.fits', tree: 'stage', rel: 'mosaics/2025-10-02/mosaic_2025-10-02T03:00:00_mean.fits', kind: 'mosaic' },
  { legacy: 'tmp/job-123', tree: 'stage', rel: 'workspace/failed/legacy-tmp/job-123', kind: 'tmp' },
  { legacy: 'logs/pipeline.log', tree: 'data', rel: 'logs/pipeline.log', kind: 'log' },
  { legacy: 'logs/big.log', tree: 'data', rel: 'logs/big.log', kind: 'log' },
  { legacy: 'logs/2025-10-02', tree: 'data', rel: 'logs/2025-10-02', kind: 'log' },
  { legacy: 'state/config.json', tree: 'data', rel: 'state/legacy/config.json', kind: 'state' },
  { legacy: 'state/products.sqlite3', tree: 'data', rel: 'state/legacy/products.sqlite3', kind: 'state' },
  { legacy: 'state/cal_registry.sqlite3', tree: 'data', rel: 'state/legacy/cal_registry.sqlite3', kind: 'state' },
  { legacy: 'ms/science/README.txt', tree: 'data', rel: 'archive/legacy-stage/ms/science/README.txt', kind: 'unsorted' },
  { legacy: 'images/notes.txt', tree: 'data', rel: 'archive/legacy-stage/images/notes.txt', kind: 'unsorted' },
];

/** The entries of the legacy layout that must be gone after phase 4. */
export const LEGACY_DIRS = ['ms', 'calib_ms', 'caltables', 'tmp', 'logs', 'state'] as const;

function fakeTable(dir: string, seed: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'table.dat'), Buffer.from(`casacore table ${seed}`));
  writeFileSync(path.join(dir, 'table.f0'), randomBytes(20_000 + seed));
  writeFileSync(path.join(dir, 'table.info'), 'Type = Calibration\n');
}

/**
 * Builds the template of a legacy tree under `dir` once (real MS take a moment); `copyLegacy`
 * copies it for each test. `bigLogBytes` makes the cross-file-system copy take measurable time.
 */
export async function makeLegacyTemplate(dir: string, opts: { bigLogBytes?: number } = {}): Promise<string> {
  const L = (...p: string[]) => path.join(dir, ...p);
  const sci = L('ms', 'science');
  mkdirSync(sci, { recursive: true });
  await makeRealMs(sci, '2025-10-02T03:00:00', { seed: 1 });
  await makeRealMs(sci, '2025-10-02T23:58:00', { integrations: 12, seed: 2 });
  await makeRealMs(sci, '2025-10-03T00:03:00', { seed: 3 });
  await makeRealMs(L('ms', 'science', '2025-10-01'), '2025-10-01T10:00:00', { seed: 4 });
  await makeRealMs(L('ms', 'calibrators'), '2025-10-02T20:30:00', { seed: 5 });
  mkdirSync(L('calib_ms'));
  cpSync(L('ms', 'calibrators', '2025-10-02T20:30:00.ms'), L('calib_ms', '2025-10-02T20:30:00.ms'), { recursive: true });
  cpSync(L('ms', 'science', '2025-10-02T03:00:00.ms'), L('calib_ms', '2025-10-02T03:00:00_cal.ms'), { recursive: true });
  writeFileSync(L('ms', 'science', 'README.txt'), 'old notes\n');
  fakeTable(L('caltables', '2025-10-02T20:30:00_bpcal'), 1);
  fakeTable(L('caltables', '2025-10-02T20:30:00_gpcal'), 2);
  fakeTable(L('images', '2025-10-02T03:00:00_briggs.image'), 3);
  writeFileSync(L('images', '2025-10-03T00:03:00_natural.fits'), randomBytes(30_000));
  writeFileSync(L('images', 'notes.txt'), 'which image is which\n');
  mkdirSync(L('mosaics'));
  writeFileSync(L('mosaics', 'mosaic_2025-10-02T03:00:00_mean.fits'), randomBytes(50_000));
  mkdirSync(L('tmp', 'job-123', 'sub'), { recursive: true });
  writeFileSync(L('tmp', 'job-123', 'partial.bin'), randomBytes(1 << 20));
  mkdirSync(L('tmp', 'empty', 'deeper'), { recursive: true });
  mkdirSync(L('logs', '2025-10-02'), { recursive: true });
  writeFileSync(L('logs', 'pipeline.log'), 'INFO converted\n'.repeat(100));
  writeFileSync(L('logs', 'big.log'), randomBytes(opts.bigLogBytes ?? 1 << 20));
  writeFileSync(L('logs', '2025-10-02', 'convert.log'), 'ERROR group failed\n');
  mkdirSync(L('state'));
  writeFileSync(L('state', 'config.json'), '{"pipeline": "legacy"}\n');
  // The old pipeline's registries, in its own schema, in WAL mode.
  const products = new Database(L('state', 'products.sqlite3'));
  products.pragma('journal_mode = WAL');
  products.exec(`CREATE TABLE ms_index (path TEXT PRIMARY KEY, start_mjd REAL, end_mjd REAL, mid_mjd REAL, processed_at REAL, status TEXT, stage TEXT,
    stage_updated_at REAL, cal_applied INTEGER DEFAULT 0, imagename TEXT)`);
  products.exec(`CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT NOT NULL, ms_path TEXT NOT NULL, created_at REAL, type TEXT, noise_jy REAL)`);
  const ins = products.prepare('INSERT INTO ms_index (path, start_mjd, status, stage, imagename) VALUES (?, 60950.1, ?, ?, ?)');
  for (const e of EXPECTED.filter((x) => x.kind === 'raw_ms')) ins.run(L(e.legacy), 'converted', 'imaged', null);
  ins.run(L('ms', 'science', '2025-09-30T00:00:00.ms'), 'deleted long ago', 'converted', null);
  products.prepare('INSERT INTO images (path, ms_path, created_at, type, noise_jy) VALUES (?, ?, 0, ?, 0.001)').run(
    L('images', '2025-10-02T03:00:00_briggs.image'),
    L('ms', 'science', '2025-10-02T03:00:00.ms'),
    'briggs',
  );
  products.close();
  const cal = new Database(L('state', 'cal_registry.sqlite3'));
  cal.exec(`CREATE TABLE caltables (id INTEGER PRIMARY KEY, set_name TEXT, path TEXT UNIQUE, table_type TEXT, valid_start_mjd REAL, valid_end_mjd REAL, status TEXT)`);
  for (const t of ['bpcal', 'gpcal']) {
    cal.prepare('INSERT INTO caltables (set_name, path, table_type, valid_start_mjd, status) VALUES (?, ?, ?, 60950.85, ?)').run('2025-10-02T20:30:00', L('caltables', `2025-10-02T20:30:00_${t}`), t, 'active');
  }
  cal.close();
  return dir;
}

/**
 * A small legacy tree with one of each kind of step: an MS (renamed), an image (renamed), a log
 * and an old registry (copied across file systems when the data base is on tmpfs), an empty tmp
 * directory, and a product already in the new layout (which phase 1 links from its legacy path,
 * phase 3 retargets and phase 4 unlinks). Few steps, so that a test can kill at every one.
 */
export async function makeMiniTemplate(dir: string): Promise<string> {
  const L = (...p: string[]) => path.join(dir, ...p);
  await makeRealMs(L('ms', 'science'), '2025-10-02T23:58:00', { integrations: 12, seed: 2 });
  mkdirSync(L('images'));
  writeFileSync(L('images', '2025-10-02T23:58:00_x.fits'), randomBytes(10_000));
  mkdirSync(L('logs'));
  writeFileSync(L('logs', 'a.log'), randomBytes(64_000));
  mkdirSync(L('tmp', 'empty'), { recursive: true });
  mkdirSync(L('state'));
  const db = new Database(L('state', 'products.sqlite3'));
  db.exec('CREATE TABLE ms_index (path TEXT PRIMARY KEY, status TEXT)');
  db.prepare('INSERT INTO ms_index VALUES (?, ?)').run(L('ms', 'science', '2025-10-02T23:58:00.ms'), 'converted');
  db.close();
  // Converted into the new layout before the migration started (convert --layout).
  cpSync(L('ms', 'science', '2025-10-02T23:58:00.ms'), L('raw', 'ms', 'science', '2025-10-02', '2025-10-02T10:00:00.ms'), { recursive: true });
  return dir;
}

export const MINI_EXPECTED: readonly Expected[] = [
  { legacy: 'ms/science/2025-10-02T23:58:00.ms', tree: 'stage', rel: 'raw/ms/science/2025-10-02/2025-10-02T23:58:00.ms', kind: 'raw_ms' },
  { legacy: 'images/2025-10-02T23:58:00_x.fits', tree: 'stage', rel: 'images/2025-10-02/2025-10-02T23:58:00_x.fits', kind: 'image' },
  { legacy: 'logs/a.log', tree: 'data', rel: 'logs/a.log', kind: 'log' },
  { legacy: 'state/products.sqlite3', tree: 'data', rel: 'state/legacy/products.sqlite3', kind: 'state' },
];

export interface Fixture {
  root: string;
  stage: string;
  data: string;
  legacy: string;
  /** contentDigest of every EXPECTED entry before the migration (SQLite files excepted). */
  before: Map<string, string>;
}

/**
 * Copies the template to a fresh `<root>/stage` (the legacy tree inside the stage base, as in
 * production) or to `legacyBase` when given, with the data base at `dataBase` (default
 * `<root>/data`). The template's absolute paths inside the old registries are rewritten to the copy.
 */
export function copyLegacy(template: string, opts: { root?: string; dataBase?: string; legacyBase?: string; expected?: readonly Expected[] } = {}): Fixture {
  const r = opts.root ?? tmpDir('contimg-legacy-');
  const stage = path.join(r, 'stage');
  const legacy = opts.legacyBase ?? stage;
  const data = opts.dataBase ?? path.join(r, 'data');
  mkdirSync(stage, { recursive: true });
  cpSync(template, legacy, { recursive: true });
  for (const db of ['products.sqlite3', 'cal_registry.sqlite3']) {
    const d = new Database(path.join(legacy, 'state', db));
    if (!existsSync(path.join(legacy, 'state', db))) continue;
    for (const [t, c] of [
      ['ms_index', 'path'],
      ['images', 'path'],
      ['images', 'ms_path'],
      ['caltables', 'path'],
    ] as const) {
      const exists = d.prepare(`SELECT 1 FROM sqlite_master WHERE name = ?`).get(t);
      if (exists) d.prepare(`UPDATE ${t} SET ${c} = ? || substr(${c}, length(?) + 1)`).run(legacy, template);
    }
    d.close();
  }
  const before = new Map<string, string>();
  for (const e of opts.expected ?? EXPECTED) if (!e.legacy.endsWith('.sqlite3')) before.set(e.legacy, contentDigest(path.join(legacy, e.legacy)));
  return { root: r, stage, data, legacy, before };
}

export function expectedPath(f: Fixture, e: Expected): string {
  return path.join(e.tree === 'stage' ? f.stage : f.data, e.rel);
}

/** The CLI arguments naming a fixture's trees. */
export function baseArgs(f: Fixture): string[] {
  return ['--stage-base', f.stage, '--data-base', f.data, ...(f.legacy !== f.stage ? ['--legacy-base', f.legacy] : [])];
}

// ---- running the built CLI in a child process ------------------------------------------------

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const BIN = path.join(root, 'bin', 'contimg');

/**
 * Runs `bin/contimg args…`. `killAfterMs` SIGKILLs it from outside after that long; with
 * `killWhen`, the clock starts only once `killWhen()` is true (polled every few milliseconds), so
 * that a kill can be aimed inside a phase rather than at Node's start-up.
 */
export function runChild(
  args: string[],
  opts: { env?: Record<string, string>; killAfterMs?: number; killWhen?: () => boolean } = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    let timer: NodeJS.Timeout | undefined;
    const arm = () => (timer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs));
    let poll: NodeJS.Timeout | undefined;
    if (opts.killAfterMs !== undefined) {
      if (opts.killWhen) {
        poll = setInterval(() => {
          if (opts.killWhen!()) {
            clearInterval(poll);
            poll = undefined;
            arm();
          }
        }, 3);
      } else arm();
    }
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * The child processes run the compiled CLI (dist/): refuse to test a stale build rather than
 * silently test old code.
 */
export function assertBuildFresh(dirs: string[]): void {
  const newest = (d: string, ext: string): number => {
    let t = 0;
    for (const n of readdirSync(d, { recursive: true }) as string[]) if (n.endsWith(ext)) t = Math.max(t, statSync(path.join(d, n)).mtimeMs);
    return t;
  };
  for (const d of dirs) {
    const src = path.join(root, 'ts', d);
    const out = path.join(root, 'dist', d);
    if (!existsSync(out) || newest(src, '.ts') > newest(out, '.js')) {
      throw new Error(`dist/${d} is older than ts/${d}: run \`npm run build:ts\` (npm test builds first)`);
    }
  }
}

/** A small seeded PRNG, so that "random" kill points are reproducible. */
export { seededRandom as seeded } from '../helpers.js';
