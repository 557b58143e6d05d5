/**
 * The four registries of seed 004, each its own SQLite file in `<data>/state/` with its own
 * numbered migrations: the one source of truth for their tables. Migrations are frozen in time
 * (raw SQL, `Kysely<any>`): a later change is a new numbered migration, never an edit here.
 *
 * Paths are stored absolute. Times are ISO-8601 UTC text; MJDs are days (UTC).
 */
import { sql, type Generated, type Kysely } from 'kysely';
import type { DbMigration as Migration } from '../db/dialect.js';
import type { Migrations } from '../db/dialect.js';
import type { CalTableType, DataType, MsKind } from '../layout/layout.js';

// ---- ingest.sqlite3: stage 1 inputs ----------------------------------------------------------

export interface IngestFilesTable {
  path: string;
  group_id: string;
  subband: number;
  size_bytes: number;
  obs_date: string;
  registered_at: string;
}

export interface IngestDB {
  ingest_files: IngestFilesTable;
}

export const INGEST_MIGRATIONS: Migrations = {
  '0001_ingest_files': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE ingest_files (
        path TEXT PRIMARY KEY,
        group_id TEXT NOT NULL,
        subband INTEGER NOT NULL CHECK (subband >= 0),
        size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
        obs_date TEXT NOT NULL,
        registered_at TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX ingest_files_group ON ingest_files (group_id)`.execute(db);
    },
  } satisfies Migration,
};

// ---- products.sqlite3: ms_index --------------------------------------------------------------

export type MsStatus = 'converted' | 'calibrated' | 'imaged' | 'failed';
export const MS_STATUSES: readonly MsStatus[] = ['converted', 'calibrated', 'imaged', 'failed'];

/**
 * One row per raw MS. `path`, `start_mjd`, `mid_mjd`, `end_mjd` and `status` keep the names of the
 * old pipeline's ms_index, so operators' queries keep working.
 */
export interface MsIndexTable {
  path: string;
  group_id: string;
  start_mjd: number;
  mid_mjd: number;
  end_mjd: number;
  pointing_dec_deg: number | null;
  kind: MsKind;
  /** The calibrator that passes through the beam (kind 'calibrator'; null when not known). */
  calibrator: string | null;
  status: MsStatus;
  obs_date: string;
  registered_at: string;
  updated_at: string;
}

/** Stage 3: one row per group of consecutive MS (ts/group-formation). */
export interface MsGroupsTable {
  group_id: string;
  obs_date: string;
  /** `raw/groups/YYYY-MM-DD/group_<id>.json`. */
  definition_path: string;
  start_mjd: number;
  end_mjd: number;
  n_ms: number;
  /** The calibrator transit found in the group (best by beam × flux), if any. */
  calibrator: string | null;
  transit_mjd: number | null;
  transit_ms: string | null;
  calibrator_rank: number | null;
  registered_at: string;
  updated_at: string;
}

/** The MS of each group, in time order. */
export interface MsGroupMembersTable {
  group_id: string;
  position: number;
  ms_path: string;
}

export interface ProductsDB {
  ms_index: MsIndexTable;
  ms_groups: MsGroupsTable;
  ms_group_members: MsGroupMembersTable;
}

export const PRODUCTS_MIGRATIONS: Migrations = {
  '0001_ms_index': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE ms_index (
        path TEXT PRIMARY KEY,
        group_id TEXT NOT NULL,
        start_mjd REAL NOT NULL,
        mid_mjd REAL NOT NULL,
        end_mjd REAL NOT NULL CHECK (end_mjd >= start_mjd),
        pointing_dec_deg REAL CHECK (pointing_dec_deg BETWEEN -90 AND 90),
        kind TEXT NOT NULL CHECK (kind IN ('science', 'calibrator')),
        calibrator TEXT CHECK (calibrator IS NULL OR kind = 'calibrator'),
        status TEXT NOT NULL CHECK (status IN ('converted', 'calibrated', 'imaged', 'failed')),
        obs_date TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX ms_index_group ON ms_index (group_id)`.execute(db);
      await sql`CREATE INDEX ms_index_mid ON ms_index (mid_mjd)`.execute(db);
    },
  } satisfies Migration,
  '0002_ms_groups': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE ms_groups (
        group_id TEXT PRIMARY KEY,
        obs_date TEXT NOT NULL,
        definition_path TEXT NOT NULL UNIQUE,
        start_mjd REAL NOT NULL,
        end_mjd REAL NOT NULL CHECK (end_mjd >= start_mjd),
        n_ms INTEGER NOT NULL CHECK (n_ms > 0),
        calibrator TEXT,
        transit_mjd REAL CHECK ((transit_mjd IS NULL) = (calibrator IS NULL)),
        transit_ms TEXT CHECK ((transit_ms IS NULL) = (calibrator IS NULL)),
        calibrator_rank REAL CHECK ((calibrator_rank IS NULL) = (calibrator IS NULL)),
        registered_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX ms_groups_time ON ms_groups (start_mjd, end_mjd)`.execute(db);
      await sql`CREATE TABLE ms_group_members (
        group_id TEXT NOT NULL REFERENCES ms_groups (group_id) ON DELETE CASCADE,
        position INTEGER NOT NULL CHECK (position >= 0),
        ms_path TEXT NOT NULL,
        PRIMARY KEY (group_id, position)
      )`.execute(db);
      await sql`CREATE INDEX ms_group_members_ms ON ms_group_members (ms_path)`.execute(db);
    },
  } satisfies Migration,
};

// ---- cal_registry.sqlite3: calibration tables with validity ranges --------------------------

export type CalTableStatus = 'active' | 'retired';

export interface CalTablesTable {
  path: string;
  /** The calibrator group the table was solved from. */
  group_id: string;
  table_type: CalTableType;
  /** The table applies to data observed in [valid_start_mjd, valid_end_mjd]; open-ended when null. */
  valid_start_mjd: number;
  valid_end_mjd: number | null;
  status: CalTableStatus;
  obs_date: string;
  registered_at: string;
}

export interface CalDB {
  caltables: CalTablesTable;
}

export const CAL_MIGRATIONS: Migrations = {
  '0001_caltables': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE caltables (
        path TEXT PRIMARY KEY,
        group_id TEXT NOT NULL,
        table_type TEXT NOT NULL CHECK (table_type IN ('bandpass', 'gain', 'gain2')),
        valid_start_mjd REAL NOT NULL,
        valid_end_mjd REAL CHECK (valid_end_mjd IS NULL OR valid_end_mjd >= valid_start_mjd),
        status TEXT NOT NULL CHECK (status IN ('active', 'retired')),
        obs_date TEXT NOT NULL,
        registered_at TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX caltables_validity ON caltables (valid_start_mjd, valid_end_mjd)`.execute(db);
    },
  } satisfies Migration,
};

// ---- data_registry.sqlite3: every product ----------------------------------------------------

export type ProductStatus = 'staged' | 'published' | 'failed';

/**
 * A publish in flight (crash recovery): `claimed` once the target is chosen, `verified` once a
 * copy at the target's temporary name has been checked against the source.
 */
export type PublishState = 'claimed' | 'verified';

export interface DataRegistryTable {
  id: Generated<number>;
  data_type: DataType;
  /** The product's file name: with data_type, its identity (a product is published once). */
  name: string;
  obs_date: string;
  path: string;
  status: ProductStatus;
  /** `tree-sha256:…` (ts/layout/fsops.ts `treeDigest`). */
  checksum: string | null;
  size_bytes: number | null;
  created_at: string;
  updated_at: string;
  published_at: string | null;
  publish_target: string | null;
  publish_state: PublishState | null;
  error: string | null;
}

/** Provenance: each product's inputs, either registered products or outside files (UVH5). */
export interface DataProvenanceTable {
  product_id: number;
  input_product_id: number | null;
  input_path: string | null;
}

export interface DataRegistryDB {
  data_registry: DataRegistryTable;
  data_provenance: DataProvenanceTable;
}

export const DATA_MIGRATIONS: Migrations = {
  '0001_data_registry': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE data_registry (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        data_type TEXT NOT NULL CHECK (data_type IN
          ('raw_ms', 'calibrated_ms', 'calibration_table', 'image', 'mosaic', 'catalog', 'metadata')),
        name TEXT NOT NULL,
        obs_date TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('staged', 'published', 'failed')),
        checksum TEXT,
        size_bytes INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        published_at TEXT CHECK ((published_at IS NOT NULL) = (status = 'published')),
        publish_target TEXT,
        publish_state TEXT CHECK (publish_state IN ('claimed', 'verified')),
        error TEXT,
        UNIQUE (data_type, name),
        CHECK ((publish_target IS NULL) = (publish_state IS NULL))
      )`.execute(db);
      await sql`CREATE INDEX data_registry_status ON data_registry (status, data_type)`.execute(db);
      await sql`CREATE TABLE data_provenance (
        product_id INTEGER NOT NULL REFERENCES data_registry (id) ON DELETE CASCADE,
        input_product_id INTEGER REFERENCES data_registry (id) ON DELETE CASCADE,
        input_path TEXT,
        CHECK ((input_product_id IS NULL) != (input_path IS NULL))
      )`.execute(db);
      await sql`CREATE UNIQUE INDEX data_provenance_product ON data_provenance (product_id, input_product_id) WHERE input_product_id IS NOT NULL`.execute(db);
      await sql`CREATE UNIQUE INDEX data_provenance_path ON data_provenance (product_id, input_path) WHERE input_path IS NOT NULL`.execute(db);
    },
  } satisfies Migration,
};

/**
 * Every column that holds a path, by registry: what a move rewrites and what verification checks.
 * `required`: the path must resolve (a product the registry vouches for); otherwise it is a
 * reference to an outside input that may legitimately be cleaned up (incoming UVH5 files).
 */
export const PATH_COLUMNS = [
  { registry: 'products', table: 'ms_index', column: 'path', required: true },
  { registry: 'products', table: 'ms_groups', column: 'definition_path', required: true },
  { registry: 'products', table: 'ms_groups', column: 'transit_ms', required: true },
  { registry: 'products', table: 'ms_group_members', column: 'ms_path', required: true },
  { registry: 'cal_registry', table: 'caltables', column: 'path', required: true },
  { registry: 'data_registry', table: 'data_registry', column: 'path', required: true },
  { registry: 'data_registry', table: 'data_registry', column: 'publish_target', required: false },
  { registry: 'data_registry', table: 'data_provenance', column: 'input_path', required: false },
  { registry: 'ingest', table: 'ingest_files', column: 'path', required: false },
] as const;
