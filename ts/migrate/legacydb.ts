/**
 * The old pipeline's SQLite registries (`<stage>/state/*.sqlite3`). Their schemas are not ours and
 * vary between versions, so they are archived whole (`<data>/state/legacy/`) rather than merged,
 * and the paths inside them are rewritten generically: every text column of every table, the same
 * exact-prefix rewrite our own registries get (ts/registry `rewriteColumnSql`).
 */
import Database from 'better-sqlite3';
import { closeSync, openSync, readSync } from 'node:fs';
import { ContimgError } from '../error.js';
import { pathKind } from '../layout/index.js';

/** True when `file` starts with SQLite's header. */
export function isSqliteFile(file: string): boolean {
  if (pathKind(file) !== 'file') return false;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16);
    readSync(fd, buf, 0, 16, 0);
    return buf.toString('latin1') === 'SQLite format 3\0';
  } finally {
    closeSync(fd);
  }
}

/**
 * Folds a database's write-ahead log into the main file and leaves it in rollback-journal mode, so
 * that the one file holds everything before it moves (a -wal left behind would be lost data). A
 * database another process holds is an error: the old pipeline must be stopped for phase 3.
 */
export function checkpointForMove(file: string): void {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma('busy_timeout = 2000');
    const [res] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
    if (res && res.busy) throw new Error('another process is using it');
    db.pragma('journal_mode = DELETE');
  } catch (e) {
    throw new ContimgError('MIGRATE_LEGACY_DB', `${file}: cannot prepare the old registry for its move (${(e as Error).message}); stop the old pipeline first`);
  } finally {
    db?.close();
  }
  for (const side of ['-wal', '-shm']) {
    if (pathKind(file + side) !== 'missing') throw new ContimgError('MIGRATE_LEGACY_DB', `${file}${side} is still there after a checkpoint: is another process using ${file}?`);
  }
}

interface TextColumn {
  table: string;
  column: string;
}

function textColumns(db: Database.Database): TextColumn[] {
  const out: TextColumn[] = [];
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`).all() as { name: string }[];
  for (const { name } of tables) {
    const cols = db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(name) as { name: string; type: string }[];
    for (const c of cols) {
      // Paths are text; SQLite's affinity rules make any declared type containing CHAR, CLOB or
      // TEXT (or none at all) able to hold one.
      if (c.type === '' || /CHAR|CLOB|TEXT/i.test(c.type)) out.push({ table: name, column: c.name });
    }
  }
  return out;
}

const quote = (id: string) => `"${id.replace(/"/g, '""')}"`;

/** Rewrites `from` (and paths below it) to `to` in every text column of `file`. Returns rows changed. */
export function rewriteLegacyDb(file: string, from: string, to: string): number {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    let changed = 0;
    const cols = textColumns(db);
    db.transaction(() => {
      for (const { table, column } of cols) {
        const c = quote(column);
        const r = db
          .prepare(`UPDATE ${quote(table)} SET ${c} = @to || substr(${c}, length(@from) + 1) WHERE ${c} = @from OR substr(${c}, 1, length(@fromDir)) = @fromDir`)
          .run({ from, to, fromDir: `${from}/` });
        changed += r.changes;
      }
    })();
    return changed;
  } finally {
    db.close();
  }
}

/** Every text value in `file` that starts with one of `prefixes` (exactly, or followed by '/'). */
export function legacyDbReferences(file: string, prefixes: string[]): { table: string; column: string; value: string }[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const out: { table: string; column: string; value: string }[] = [];
    for (const { table, column } of textColumns(db)) {
      const rows = db.prepare(`SELECT ${quote(column)} AS v FROM ${quote(table)} WHERE typeof(${quote(column)}) = 'text'`).all() as { v: string }[];
      for (const { v } of rows) if (prefixes.some((p) => v === p || v.startsWith(`${p}/`))) out.push({ table, column, value: v });
    }
    return out;
  } finally {
    db.close();
  }
}
