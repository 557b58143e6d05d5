/**
 * The registries: opening them, and the writes every stage makes. A registry row vouches for a
 * file, so every write here comes *after* the file is complete in place (callers move first, then
 * register), and a move updates the registry while both copies exist (ts/layout/relocate.ts):
 * whenever a process dies, the registry names files that exist.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { openSqlite, type Migrations } from '../db/sqlite.js';
import { openPostgresMigrated } from '../db/postgres.js';
import { DATABASE_URL_ENV, parseDbTarget, type DbTarget } from '../db/target.js';
import { ContimgError } from '../error.js';
import { treeDigest, type TreeDigest } from '../layout/fsops.js';
import type { CalTableType, DataType, Layout, MsKind, RegistryName } from '../layout/layout.js';
import { obsDateOfGroup, utcDateOfMjd, type UtcDate } from '../layout/names.js';
import {
  CAL_MIGRATIONS,
  DATA_MIGRATIONS,
  INGEST_MIGRATIONS,
  PATH_COLUMNS,
  PRODUCTS_MIGRATIONS,
  type CalDB,
  type DataRegistryDB,
  type IngestDB,
  type MsStatus,
  type ProductsDB,
  type ProductStatus,
} from './schema.js';

export * from './schema.js';

export interface Registries {
  ingest: Kysely<IngestDB>;
  products: Kysely<ProductsDB>;
  cal: Kysely<CalDB>;
  data: Kysely<DataRegistryDB>;
  /** The database of a registry name, untyped (for generic path rewrites). */
  byName(name: RegistryName): Kysely<any>;
  close(): Promise<void>;
}

/**
 * Where the registries are: PostgreSQL when `db` (or, without it, `CONTIMG_DATABASE_URL`) is a
 * `postgres://` URL, each registry in the schema named after it; otherwise the layout's SQLite
 * files. A SQLite target names the queue's file, not the registries', so it changes nothing here.
 */
export function registriesUrl(db?: DbTarget, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const target = db ?? (env[DATABASE_URL_ENV] ? parseDbTarget(env[DATABASE_URL_ENV]!) : undefined);
  return target?.kind === 'postgres' ? target.url : undefined;
}

/**
 * Opens (creating and migrating as needed) the four registries in `<data>/state/`, or on
 * PostgreSQL (see `registriesUrl`). With `readonly` nothing is created or changed: a SQLite
 * registry that does not exist yet reads as empty; a PostgreSQL schema that is not migrated is an
 * error naming `contimg db migrate`.
 */
export async function openRegistries(layout: Layout, opts: { readonly?: boolean; db?: DbTarget } = {}): Promise<Registries> {
  const opened: Kysely<any>[] = [];
  const url = registriesUrl(opts.db);
  const open = async <DB>(name: RegistryName, migrations: Migrations): Promise<Kysely<DB>> => {
    const file = layout.registryPath(name);
    // Two connections each: a command uses one at a time per registry, and four registries on
    // every host's commands add up on the server.
    const db = url
      ? await openPostgresMigrated<DB>(url, migrations, { schema: name, readonly: opts.readonly, maxConnections: 2 })
      : !opts.readonly
        ? await openSqlite<DB>(file, migrations)
        : existsSync(file)
          ? await openSqlite<DB>(file, migrations, { readonly: true })
          : await openSqlite<DB>(':memory:', migrations);
    opened.push(db);
    return db;
  };
  try {
    const ingest = await open<IngestDB>('ingest', INGEST_MIGRATIONS);
    const products = await open<ProductsDB>('products', PRODUCTS_MIGRATIONS);
    const cal = await open<CalDB>('cal_registry', CAL_MIGRATIONS);
    const data = await open<DataRegistryDB>('data_registry', DATA_MIGRATIONS);
    const byName: Record<RegistryName, Kysely<any>> = { ingest, products, cal_registry: cal, data_registry: data };
    return {
      ingest,
      products,
      cal,
      data,
      byName: (name) => byName[name],
      async close() {
        for (const db of opened) await db.destroy();
      },
    };
  } catch (e) {
    for (const db of opened) await db.destroy();
    throw e;
  }
}

const now = () => new Date().toISOString();

function requireExisting(p: string, what: string): string {
  const abs = path.resolve(p);
  if (!existsSync(abs)) {
    throw new ContimgError('REGISTRY_MISSING_FILE', `${abs}: cannot register the ${what}: it does not exist (write it first, then register it)`);
  }
  return abs;
}

// ---- stage 1 ---------------------------------------------------------------------------------

export interface IngestRegistration {
  path: string;
  groupId: string;
  subband: number;
  obsDate?: UtcDate;
}

/** Registers a stage-1 input (a subband file in `incoming/`); registering it again is a no-op. */
export async function registerIngest(regs: Registries, f: IngestRegistration): Promise<void> {
  const abs = requireExisting(f.path, 'input file');
  await regs.ingest
    .insertInto('ingest_files')
    .values({
      path: abs,
      group_id: f.groupId,
      subband: f.subband,
      size_bytes: statSync(abs).size,
      obs_date: f.obsDate ?? obsDateOfGroup(f.groupId),
      registered_at: now(),
    })
    .onConflict((oc) => oc.column('path').doNothing())
    .execute();
}

// ---- any product -----------------------------------------------------------------------------

export interface ProductRegistration {
  dataType: DataType;
  path: string;
  /** The product's identity; default: the file name. */
  name?: string;
  obsDate: UtcDate;
  /** Default `staged`; only publishing makes a product `published`. */
  status?: Exclude<ProductStatus, 'published'>;
  /** Computed from the file when not given. */
  checksum?: TreeDigest;
  /** Provenance: registered products this one was made from (their paths), and outside files. */
  inputs?: { products?: string[]; files?: string[] };
}

export interface RegisteredProduct {
  id: number;
  checksum: TreeDigest;
}

/**
 * Registers a product in data_registry (or refreshes its checksum if its path is registered). A
 * second product with the same type and name is refused: a name identifies a product, which is
 * what lets publishing guarantee that nothing is published twice.
 */
export async function registerProduct(regs: Registries, p: ProductRegistration): Promise<RegisteredProduct> {
  const abs = requireExisting(p.path, p.dataType);
  const checksum = p.checksum ?? (await treeDigest(abs));
  const name = p.name ?? path.basename(abs);
  const t = now();
  const id = await regs.data.transaction().execute(async (tx) => {
    const same = await tx.selectFrom('data_registry').select(['id', 'path']).where('data_type', '=', p.dataType).where('name', '=', name).executeTakeFirst();
    if (same && same.path !== abs) {
      throw new ContimgError('REGISTRY_DUPLICATE', `${abs}: a ${p.dataType} named ${name} is already registered at ${same.path}`);
    }
    let id: number;
    if (same) {
      await tx
        .updateTable('data_registry')
        .set({ checksum: checksum.digest, size_bytes: checksum.bytes, obs_date: p.obsDate, updated_at: t, ...(p.status ? { status: p.status } : {}) })
        .where('id', '=', same.id)
        .execute();
      id = same.id;
    } else {
      const row = await tx
        .insertInto('data_registry')
        .values({
          data_type: p.dataType,
          name,
          obs_date: p.obsDate,
          path: abs,
          status: p.status ?? 'staged',
          checksum: checksum.digest,
          size_bytes: checksum.bytes,
          created_at: t,
          updated_at: t,
          published_at: null,
          publish_target: null,
          publish_state: null,
          error: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      id = row.id;
    }
    for (const input of p.inputs?.products ?? []) {
      const src = await tx.selectFrom('data_registry').select('id').where('path', '=', path.resolve(input)).executeTakeFirst();
      if (!src) throw new ContimgError('REGISTRY_MISSING_INPUT', `${abs}: its input ${input} is not registered`);
      await sql`INSERT INTO data_provenance (product_id, input_product_id) VALUES (${id}, ${src.id}) ON CONFLICT DO NOTHING`.execute(tx);
    }
    for (const input of p.inputs?.files ?? []) {
      await sql`INSERT INTO data_provenance (product_id, input_path) VALUES (${id}, ${path.resolve(input)}) ON CONFLICT DO NOTHING`.execute(tx);
    }
    return id;
  });
  return { id, checksum };
}

/** Whether a product is registered at this path (any type). */
export async function productRegistered(regs: Registries, productPath: string): Promise<boolean> {
  const row = await regs.data.selectFrom('data_registry').select('id').where('path', '=', path.resolve(productPath)).executeTakeFirst();
  return row !== undefined;
}

/**
 * Registers a command's products (stages 6–8) made from `inputs`: each input that is a
 * registered product is linked as one, any other as an outside file. Opens and closes the
 * registries, so that a command loads Kysely only when it registers.
 */
export async function registerOutputs(layout: Layout, outputs: { dataType: DataType; path: string }[], obsDate: UtcDate, inputs: string[]): Promise<void> {
  const regs = await openRegistries(layout);
  try {
    const known = inputs.length ? await regs.data.selectFrom('data_registry').select('path').where('path', 'in', inputs.map((i) => path.resolve(i))).execute() : [];
    const knownSet = new Set(known.map((r) => r.path));
    const links = { products: inputs.filter((i) => knownSet.has(path.resolve(i))), files: inputs.filter((i) => !knownSet.has(path.resolve(i))) };
    for (const o of outputs) await registerProduct(regs, { dataType: o.dataType, path: o.path, obsDate, inputs: links });
  } finally {
    await regs.close();
  }
}

// ---- stage 2: raw MS -------------------------------------------------------------------------

export interface MsRegistration {
  path: string;
  groupId: string;
  /** The MS's first and last instants (MJD, UTC). */
  startMjd: number;
  endMjd: number;
  pointingDecDeg: number | null;
  kind: MsKind;
  /** For calibrator MS: the calibrator that passes through the beam. */
  calibrator?: string | null;
  status?: MsStatus;
  /** Default: the date of the group id, else of `startMjd`. */
  obsDate?: UtcDate;
  /** The UVH5 files it was converted from. */
  inputs?: string[];
  checksum?: TreeDigest;
}

function msObsDate(m: MsRegistration): UtcDate {
  if (m.obsDate) return m.obsDate;
  try {
    return obsDateOfGroup(m.groupId);
  } catch {
    return utcDateOfMjd(m.startMjd);
  }
}

/**
 * Registers a raw MS: a row in products.ms_index and a `raw_ms` product in data_registry.
 * Idempotent: registering the same path again refreshes the row.
 */
export async function registerMs(regs: Registries, m: MsRegistration): Promise<RegisteredProduct> {
  const abs = requireExisting(m.path, 'MeasurementSet');
  if (m.kind === 'science' && m.calibrator) {
    throw new ContimgError('REGISTRY_INVALID', `${abs}: a science MS has no calibrator (got ${m.calibrator})`);
  }
  const obsDate = msObsDate(m);
  const product = await registerProduct(regs, { dataType: 'raw_ms', path: abs, obsDate, checksum: m.checksum, inputs: { files: m.inputs } });
  const t = now();
  const row = {
    group_id: m.groupId,
    start_mjd: m.startMjd,
    mid_mjd: (m.startMjd + m.endMjd) / 2,
    end_mjd: m.endMjd,
    pointing_dec_deg: m.pointingDecDeg,
    kind: m.kind,
    calibrator: m.kind === 'calibrator' ? (m.calibrator ?? null) : null,
    status: m.status ?? 'converted',
    obs_date: obsDate,
    updated_at: t,
  } as const;
  await regs.products
    .insertInto('ms_index')
    .values({ path: abs, ...row, registered_at: t })
    .onConflict((oc) => oc.column('path').doUpdateSet(row))
    .execute();
  return product;
}

/**
 * Whether the MS at `msPath` is registered. registerMs writes data_registry before ms_index, so
 * an ms_index row means both are there.
 */
export async function msRegistered(regs: Registries, msPath: string): Promise<boolean> {
  const row = await regs.products.selectFrom('ms_index').select('path').where('path', '=', path.resolve(msPath)).executeTakeFirst();
  return row !== undefined;
}

// ---- stage 4: calibration tables -------------------------------------------------------------

export interface CalTableRegistration {
  path: string;
  groupId: string;
  tableType: CalTableType;
  validStartMjd: number;
  /** null: valid until superseded. */
  validEndMjd: number | null;
  obsDate?: UtcDate;
  checksum?: TreeDigest;
  /** The calibrator MS it was solved from (a registered product path). */
  solvedFrom?: string;
}

export async function registerCalTable(regs: Registries, c: CalTableRegistration): Promise<RegisteredProduct> {
  const abs = requireExisting(c.path, 'calibration table');
  const obsDate = c.obsDate ?? obsDateOfGroup(c.groupId);
  const product = await registerProduct(regs, {
    dataType: 'calibration_table',
    path: abs,
    obsDate,
    checksum: c.checksum,
    inputs: c.solvedFrom ? { products: [c.solvedFrom] } : undefined,
  });
  const row = {
    group_id: c.groupId,
    table_type: c.tableType,
    valid_start_mjd: c.validStartMjd,
    valid_end_mjd: c.validEndMjd,
    status: 'active',
    obs_date: obsDate,
  } as const;
  await regs.cal
    .insertInto('caltables')
    .values({ path: abs, ...row, registered_at: now() })
    .onConflict((oc) => oc.column('path').doUpdateSet(row))
    .execute();
  return product;
}

/** The active calibration tables valid at `mjd` (optionally of one type), newest solution first. */
export async function calTablesValidAt(regs: Registries, mjd: number, type?: CalTableType) {
  let q = regs.cal
    .selectFrom('caltables')
    .selectAll()
    .where('status', '=', 'active')
    .where('valid_start_mjd', '<=', mjd)
    .where((eb) => eb.or([eb('valid_end_mjd', 'is', null), eb('valid_end_mjd', '>=', mjd)]));
  if (type) q = q.where('table_type', '=', type);
  return q.orderBy('valid_start_mjd', 'desc').execute();
}

// ---- moving files: path references -----------------------------------------------------------

/**
 * SQL that rewrites `from` (and every path below it) to `to` in one column. Comparison is exact
 * (no LIKE: it is case-insensitive and treats `_` and `%` specially, both wrong for paths).
 */
export function rewriteColumnSql(table: string, column: string, from: string, to: string) {
  const t = sql.id(table);
  const c = sql.id(column);
  const fromDir = `${from}/`;
  // Portable as it is: PostgreSQL types the untyped parameters of `||` and `length` as text
  // (test/db/copy.test.ts runs it on both engines).
  return sql`UPDATE ${t} SET ${c} = ${to} || substr(${c}, length(${from}) + 1)
    WHERE ${c} = ${from} OR substr(${c}, 1, length(${fromDir})) = ${fromDir}`;
}

/**
 * Rewrites every registry reference to `from` (or below it) into `to`: what a move calls, in
 * the same step as the move, while both paths exist. Returns the number of rows changed.
 */
export async function rewriteRegistryPaths(regs: Registries, from: string, to: string): Promise<number> {
  let changed = 0;
  for (const name of ['ingest', 'products', 'cal_registry', 'data_registry'] as const) {
    const db = regs.byName(name);
    const cols = PATH_COLUMNS.filter((c) => c.registry === name);
    await db.transaction().execute(async (tx) => {
      for (const c of cols) {
        const r = await rewriteColumnSql(c.table, c.column, path.resolve(from), path.resolve(to)).execute(tx);
        changed += Number(r.numAffectedRows ?? 0n);
      }
    });
  }
  return changed;
}

export interface PathReference {
  registry: RegistryName;
  table: string;
  column: string;
  path: string;
  /** Must resolve (see PATH_COLUMNS). */
  required: boolean;
}

/** Every path the registries hold (failed products excepted: they may have no file). */
export async function registeredPaths(regs: Registries): Promise<PathReference[]> {
  const out: PathReference[] = [];
  for (const c of PATH_COLUMNS) {
    const db = regs.byName(c.registry);
    const where = c.table === 'data_registry' && c.column === 'path' ? sql`AND status != 'failed'` : sql``;
    const rows = await sql<{ p: string }>`SELECT ${sql.id(c.column)} AS p FROM ${sql.id(c.table)} WHERE ${sql.id(c.column)} IS NOT NULL ${where}`.execute(db);
    for (const r of rows.rows) out.push({ registry: c.registry, table: c.table, column: c.column, path: r.p, required: c.required });
  }
  return out;
}
