/**
 * Every database handle that openSqlite hands out is closed by `destroy()`, whether or not a
 * query ran on it. A handle left to the garbage collector closes at a moment nobody chose:
 * in WAL mode its close deletes the -wal and -shm files, and a process listing the directory at
 * that moment (the migration's crash test did) finds a file gone between readdir and lstat.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../ts/db/sqlite.js';
import { STREAM_MIGRATIONS } from '../../ts/stream/schema.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

/** This process's open descriptors on `file` or its -wal and -shm. */
function openOn(file: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(path.join('/proc/self/fd', fd));
      if (target === file || target.startsWith(file + '-')) out.push(target);
    } catch {
      // Closed since the listing (the listing's own descriptor).
    }
  }
  return out;
}

describe('openSqlite', () => {
  it('closes a handle on destroy() even when nothing was queried on it', async () => {
    const file = path.join(tmpDir(), 'queue.sqlite3');
    // Created and migrated: the migration's queries take hold of the handle.
    await (await openSqlite(file, STREAM_MIGRATIONS)).destroy();
    expect(openOn(file)).toEqual([]);
    // Already migrated: nothing is queried on open.
    for (const readonly of [false, true, false]) {
      const db = await openSqlite(file, STREAM_MIGRATIONS, { readonly });
      expect(openOn(file).length, `readonly ${readonly}: open`).toBeGreaterThan(0);
      await db.destroy();
      expect(openOn(file), `readonly ${readonly}: after destroy`).toEqual([]);
    }
  });

  it('closes its handle when the open fails', async () => {
    const file = path.join(tmpDir(), 'newer.sqlite3');
    const newer = { ...STREAM_MIGRATIONS, '9999_from_the_future': { up: async () => {} } };
    await (await openSqlite(file, newer)).destroy();
    for (const readonly of [false, true]) {
      await expect(openSqlite(file, STREAM_MIGRATIONS, { readonly })).rejects.toThrow(/newer version/);
      expect(openOn(file), `readonly ${readonly}`).toEqual([]);
    }
  });
});
