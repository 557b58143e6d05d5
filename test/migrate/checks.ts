/**
 * What a finished migration must look like, and a normalised snapshot of a fixture's state to
 * compare an interrupted migration with an uninterrupted one. Reads the databases with plain SQL
 * and walks the trees itself: none of this goes through the code under test.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { EXPECTED, LEGACY_DIRS, contentDigest, expectedPath, resolvesTest, symlinksUnder, type Fixture } from './fixtures.js';

const REGISTRIES = ['products', 'cal_registry', 'data_registry', 'ingest'] as const;

function rows(file: string, sql: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/**
 * `rows`, for a database a kill may have caught before its first migration committed: the file
 * exists without the table, and vouches for nothing (it reads as empty, as contimg reads it).
 */
function rowsOfTable(file: string, table: string, sql: string): Record<string, unknown>[] {
  const has = rows(file, `SELECT name FROM sqlite_master WHERE type = 'table' AND name = '${table}'`);
  return has.length ? rows(file, sql) : [];
}

/** Every path our registries vouch for (products, calibration tables, non-failed data products). */
export function registeredProductPaths(f: Fixture): string[] {
  const s = (n: string) => path.join(f.data, 'state', `${n}.sqlite3`);
  return [
    ...rowsOfTable(s('products'), 'ms_index', 'SELECT path FROM ms_index'),
    ...rowsOfTable(s('cal_registry'), 'caltables', 'SELECT path FROM caltables'),
    ...rowsOfTable(s('data_registry'), 'data_registry', "SELECT path FROM data_registry WHERE status != 'failed'"),
  ].map((r) => r.path as string);
}

/** Every registered product path exists (the invariant that must hold even right after a crash). */
export function expectRegistriesResolve(f: Fixture, when: string): void {
  for (const p of registeredProductPaths(f)) expect(resolvesTest(p), `${when}: registered ${p} must exist`).toBe(true);
}

export function expectMigrated(f: Fixture): void {
  // The data: identical checksums at the expected new places.
  for (const e of EXPECTED) {
    const at = expectedPath(f, e);
    expect(existsSync(at), `${e.legacy} → ${at}`).toBe(true);
    if (!e.legacy.endsWith('.sqlite3')) expect(contentDigest(at), `${e.legacy} content`).toBe(f.before.get(e.legacy));
  }
  // The legacy tree is gone; images/ and mosaics/ hold only date directories now.
  for (const d of LEGACY_DIRS) expect(existsSync(path.join(f.legacy, d)), `${d}/ removed`).toBe(false);
  for (const d of ['images', 'mosaics']) {
    for (const n of readdirSync(path.join(f.stage, d))) expect(n, `${d}/${n}`).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  }
  // No symlinks are left anywhere (compatibility and dual-write links are gone), so none dangles.
  expect([...symlinksUnder(f.stage), ...symlinksUnder(f.data), ...symlinksUnder(f.legacy)]).toEqual([]);
  // Registries: every product registered, at its new path, existing.
  const paths = registeredProductPaths(f);
  for (const p of paths) {
    expect(resolvesTest(p), p).toBe(true);
    expect(p.startsWith(f.stage + path.sep) || p.startsWith(f.data + path.sep), p).toBe(true);
  }
  const products = EXPECTED.filter((e) => ['raw_ms', 'calibrated_ms', 'calibration_table', 'image', 'mosaic'].includes(e.kind));
  const registered = rows(path.join(f.data, 'state', 'data_registry.sqlite3'), 'SELECT path FROM data_registry').map((r) => r.path);
  expect(new Set(registered)).toEqual(new Set(products.map((e) => expectedPath(f, e))));
  // The old registries moved, and their paths were rewritten (the stale entry is left as it was).
  const oldMs = rows(path.join(f.data, 'state', 'legacy', 'products.sqlite3'), 'SELECT path FROM ms_index').map((r) => r.path as string);
  const rawMs = EXPECTED.filter((e) => e.kind === 'raw_ms').map((e) => expectedPath(f, e));
  expect(new Set(oldMs)).toEqual(new Set([...rawMs, path.join(f.legacy, 'ms', 'science', '2025-09-30T00:00:00.ms')]));
  const oldImages = rows(path.join(f.data, 'state', 'legacy', 'products.sqlite3'), 'SELECT path, ms_path FROM images');
  expect(oldImages).toEqual([
    { path: path.join(f.stage, 'images/2025-10-02/2025-10-02T03:00:00_briggs.image'), ms_path: path.join(f.stage, 'raw/ms/science/2025-10-02/2025-10-02T03:00:00.ms') },
  ]);
  const oldCal = rows(path.join(f.data, 'state', 'legacy', 'cal_registry.sqlite3'), 'SELECT path FROM caltables').map((r) => r.path);
  expect(oldCal.sort()).toEqual(EXPECTED.filter((e) => e.kind === 'calibration_table').map((e) => expectedPath(f, e)).sort());
}

// ---- snapshots -------------------------------------------------------------------------------

function normaliser(f: Fixture): (v: unknown) => unknown {
  const subs: [string, string][] = [
    [f.legacy, '<legacy>'],
    [f.stage, '<stage>'],
    [f.data, '<data>'],
  ].sort((a, b) => b[0]!.length - a[0]!.length) as [string, string][];
  return (v) => {
    if (typeof v !== 'string') return v;
    for (const [from, to] of subs) if (v === from || v.startsWith(from + '/')) return to + v.slice(from.length);
    return v;
  };
}

function tree(dir: string, label: string, norm: (v: unknown) => unknown, out: string[]): void {
  if (!existsSync(dir)) return;
  const walk = (abs: string, rel: string) => {
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) out.push(`${label}${rel} -> ${String(norm(path.resolve(path.dirname(abs), readlinkSync(abs))))}`);
    else if (st.isDirectory()) {
      out.push(`${label}${rel}/`);
      for (const n of readdirSync(abs)) walk(path.join(abs, n), `${rel}/${n}`);
    } else if (!/\.sqlite3(-wal|-shm|-journal)?$|\.lock$|layout\.json$/.test(rel)) {
      out.push(`${label}${rel} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`);
    }
  };
  walk(dir, '');
}

/**
 * Everything that defines the state of a migration, with the fixture's own paths replaced by
 * placeholders and times left out: two fixtures in the same state have equal snapshots.
 */
export function snapshot(f: Fixture): Record<string, unknown> {
  const norm = normaliser(f);
  const files: string[] = [];
  tree(f.stage, '<stage>', norm, files);
  tree(f.data, '<data>', norm, files);
  if (f.legacy !== f.stage) tree(f.legacy, '<legacy>', norm, files);
  const tableRows = (file: string) => {
    const out: Record<string, unknown[]> = {};
    for (const { name } of rows(file, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'kysely_migration' AND name != 'kysely_migration_lock'") as { name: string }[]) {
      out[name] = rows(file, `SELECT * FROM "${name}"`)
        .map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => !/(_at|^id|_id)$/.test(k) || k === 'group_id').map(([k, v]) => [k, norm(v)]))))
        .sort();
    }
    return out;
  };
  const state = path.join(f.data, 'state');
  const registries = Object.fromEntries(REGISTRIES.map((n) => [n, tableRows(path.join(state, `${n}.sqlite3`))]));
  // Provenance links rows by id: compare them by the paths they join.
  (registries.data_registry as Record<string, unknown[]>).data_provenance = rows(
    path.join(state, 'data_registry.sqlite3'),
    'SELECT p.path AS product, i.path AS input, v.input_path FROM data_provenance v JOIN data_registry p ON p.id = v.product_id LEFT JOIN data_registry i ON i.id = v.input_product_id',
  )
    .map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, norm(v)]))))
    .sort();
  const layoutJson = existsSync(path.join(state, 'layout.json')) ? JSON.parse(readFileSync(path.join(state, 'layout.json'), 'utf8')) : null;
  const journal = rows(path.join(state, 'migration.sqlite3'), 'SELECT phase, direction, seq, action, src, dst, state FROM migration_items ORDER BY phase, direction, seq').map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, norm(v)])),
  );
  const phases = rows(path.join(state, 'migration.sqlite3'), 'SELECT phase, status FROM migration_phases ORDER BY phase');
  return {
    files: files.sort(),
    registries,
    legacyRegistries: Object.fromEntries(['products', 'cal_registry'].map((n) => [n, tableRows(path.join(state, 'legacy', `${n}.sqlite3`))])),
    legacyTreeRegistries: Object.fromEntries(['products', 'cal_registry'].map((n) => [n, tableRows(path.join(f.legacy, 'state', `${n}.sqlite3`))])),
    writeMode: layoutJson?.writeMode ?? null,
    journal,
    phases,
  };
}
