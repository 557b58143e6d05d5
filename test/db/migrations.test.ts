/**
 * Every database survives a kill at any moment of its creation: the streaming queue, the four
 * registries and the migration journal. A child process opens the database through the compiled
 * code with a preloaded hook (kill-hook.mjs) that SIGKILLs it right after its N-th writing
 * statement; N runs over every statement of every migration, until the child finishes. After
 * each kill, a read-only open reads the leftover as empty, and a rerun builds exactly the schema
 * and migration record of an uninterrupted open.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { openSqlite } from '../../ts/db/sqlite.js';
import { openLayout } from '../../ts/layout/index.js';
import { Journal } from '../../ts/migrate/journal.js';
import { openRegistries, registeredPaths } from '../../ts/registry/index.js';
import { StreamQueue } from '../../ts/stream/queue.js';
import { STREAM_MIGRATIONS } from '../../ts/stream/schema.js';
import { cleanupTmpDirs, root, tmpDir } from '../helpers.js';
import { ensureDist } from '../stream/helpers.js';

afterAll(cleanupTmpDirs);
beforeAll(() => ensureDist(), 300_000);

const here = path.join(root, 'test', 'db');

interface Kind {
  kind: 'queue' | 'registries' | 'journal';
  /** What the child is given: a file, or a directory holding the layout's trees. */
  target(dir: string): string;
  /** The database files it creates. */
  files(target: string): string[];
  /** Opens read-write through the real code (the rerun). */
  open(target: string): Promise<void>;
  /** Opens read-only and checks the database reads as empty. */
  readsEmpty(target: string): Promise<void>;
}

const layoutOf = (target: string) => openLayout({ stageBase: path.join(target, 'stage'), dataBase: path.join(target, 'data'), env: {} });

const KINDS: Kind[] = [
  {
    kind: 'queue',
    target: (dir) => path.join(dir, 'streaming_queue.sqlite3'),
    files: (t) => [t],
    open: async (t) => (await StreamQueue.open(t)).close(),
    async readsEmpty(t) {
      const db = await openSqlite<any>(t, STREAM_MIGRATIONS, { readonly: true });
      try {
        const r = await db.selectFrom('ingest_queue').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
        expect(Number(r.n)).toBe(0);
      } finally {
        await db.destroy();
      }
    },
  },
  {
    kind: 'registries',
    target: (dir) => dir,
    files: (t) => ['ingest', 'products', 'cal_registry', 'data_registry'].map((n) => path.join(t, 'data', 'state', `${n}.sqlite3`)),
    open: async (t) => (await openRegistries(layoutOf(t))).close(),
    async readsEmpty(t) {
      const regs = await openRegistries(layoutOf(t), { readonly: true });
      try {
        expect(await registeredPaths(regs)).toEqual([]);
      } finally {
        await regs.close();
      }
    },
  },
  {
    kind: 'journal',
    target: (dir) => path.join(dir, 'state', 'migration.sqlite3'),
    files: (t) => [t],
    open: async (t) => (await Journal.open(t)).close(),
    async readsEmpty(t) {
      const j = await Journal.open(t, { readonly: true });
      try {
        expect(await j.bases()).toEqual({});
        expect(await j.phaseStatus(1)).toBe('not-started');
        expect(await j.items(1)).toEqual([]);
      } finally {
        await j.close();
      }
    },
  },
];

/** The schema (every table, index and trigger, as SQL) and the migration record of each file. */
function dump(files: string[]) {
  return files.map((f) => {
    if (!existsSync(f)) return { file: path.basename(f), missing: true };
    const db = new Database(f, { readonly: true });
    try {
      const schema = db.prepare(`SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`).all();
      const migrations = (db.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as { name: string }[]).map((r) => r.name);
      return { file: path.basename(f), schema, migrations };
    } finally {
      db.close();
    }
  });
}

function openInChild(kind: Kind['kind'], target: string, killAfter: number) {
  return spawnSync(process.execPath, ['--import', path.join(here, 'kill-hook.mjs'), path.join(here, 'open-db.mjs'), kind, target], {
    env: { ...process.env, CONTIMG_TEST_KILL_AFTER: String(killAfter) },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('migrations are atomic', () => {
  for (const k of KINDS) {
    it(`${k.kind}: a SIGKILL after any statement of its migrations leaves a database that reads as empty and a rerun completes`, async () => {
      const fresh = k.target(tmpDir());
      await k.open(fresh);
      const reference = dump(k.files(fresh));
      for (const d of reference) expect(d.migrations?.length, d.file).toBeGreaterThan(0);
      const creates = reference.flatMap((d) => d.schema ?? []).length;

      let n = 1;
      for (; ; n++) {
        const target = k.target(tmpDir());
        const r = openInChild(k.kind, target, n);
        if (r.status === 0) {
          // The hook never fired: N is past the last statement, and the child built it all.
          expect(dump(k.files(target))).toEqual(reference);
          break;
        }
        expect(r.signal, `kill after statement ${n}: ${r.stderr}`).toBe('SIGKILL');
        await k.readsEmpty(target);
        await k.open(target);
        expect(dump(k.files(target)), `rerun after a kill after statement ${n}`).toEqual(reference);
        // The rerun's work is in place: opening again changes nothing.
        await k.open(target);
        expect(dump(k.files(target))).toEqual(reference);
      }
      // Every CREATE of every migration, its record and the commit were each a kill point.
      expect(n - 1).toBeGreaterThan(creates);
    }, 600_000);
  }
});
