/**
 * `contimg publish`: validated products from the stage tree's products/ to the data tree's, in
 * batches, each atomic, none twice, resumable after SIGKILL at any step.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLayout, parseUtcDate } from '../../ts/layout/index.js';
import { publish } from '../../ts/publish/index.js';
import { openRegistries, registerProduct } from '../../ts/registry/index.js';
import { cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';
import { assertBuildFresh, cleanupOtherDirs, contentDigest, otherFileSystemDir, runChild, symlinksUnder } from '../migrate/fixtures.js';

afterAll(() => {
  cleanupTmpDirs();
  cleanupOtherDirs();
});

interface Trees {
  stage: string;
  data: string;
  args: string[];
  /** Validated product → its expected published path, and its content digest. */
  products: { staged: string; published: string; digest: string; type: string }[];
}

/** A stage tree with validated products (some registered already), the data tree on tmpfs if there is one. */
async function trees(opts: { sameFileSystem?: boolean } = {}): Promise<Trees> {
  const r = tmpDir('contimg-publish-');
  const shm = opts.sameFileSystem ? null : otherFileSystemDir();
  const stage = path.join(r, 'stage');
  const data = shm ? path.join(shm, 'data') : path.join(r, 'data');
  const products: Trees['products'] = [];
  const add = (sub: string, date: string, name: string, type: string, dir = false) => {
    const staged = path.join(stage, 'products', sub, date, name);
    mkdirSync(path.dirname(staged), { recursive: true });
    if (dir) {
      mkdirSync(path.join(staged, 'sub'), { recursive: true });
      writeFileSync(path.join(staged, 'table.dat'), randomBytes(5000));
      writeFileSync(path.join(staged, 'sub', 'table.f0'), randomBytes(70_000));
    } else writeFileSync(staged, randomBytes(40_000));
    products.push({ staged, published: path.join(data, 'products', sub, date, name), digest: contentDigest(staged), type });
  };
  add('mosaics', '2025-10-02', 'mosaic_2025-10-02T03:00:00_mean.fits', 'mosaic');
  add('mosaics', '2025-10-03', 'mosaic_2025-10-03T00:03:00_mean.fits', 'mosaic');
  add('catalogs', '2025-10-02', 'catalog_2025-10-02T03:00:00.fits', 'catalog');
  add('metadata', '2025-10-02', 'mosaic_2025-10-02T03:00:00_mean.json', 'metadata');
  add('images', '2025-10-02', '2025-10-02T03:00:00_briggs.image', 'image', true);
  // Two were registered by the stage that made them; the others are registered when published.
  const layout = openLayout({ stageBase: stage, dataBase: data, env: {} });
  const regs = await openRegistries(layout);
  for (const p of products.slice(0, 2)) await registerProduct(regs, { dataType: p.type as 'mosaic', path: p.staged, obsDate: parseUtcDate(path.basename(path.dirname(p.staged))) });
  await regs.close();
  return { stage, data, args: ['--stage-base', stage, '--data-base', data], products };
}

function registry(t: Trees) {
  const db = new Database(path.join(t.data, 'state', 'data_registry.sqlite3'), { readonly: true });
  try {
    return db.prepare('SELECT data_type, name, path, status, published_at, publish_target, checksum FROM data_registry ORDER BY name').all() as any[];
  } finally {
    db.close();
  }
}

function expectPublished(t: Trees): void {
  for (const p of t.products) {
    expect(existsSync(p.staged), p.staged).toBe(false);
    expect(contentDigest(p.published), p.published).toBe(p.digest);
  }
  const rows = registry(t);
  expect(rows).toHaveLength(t.products.length);
  for (const r of rows) {
    expect(r.status, r.name).toBe('published');
    expect(r.published_at).toBeTruthy();
    expect(r.publish_target).toBeNull();
    expect(t.products.map((p) => p.published)).toContain(r.path);
  }
  // Nothing half-done is left: no temporaries, no links.
  const walk = (d: string): string[] => (existsSync(d) ? readdirSync(d, { recursive: true }).map(String) : []);
  expect(walk(path.join(t.data, 'products')).filter((n) => path.basename(n).startsWith('.'))).toEqual([]);
  expect(walk(path.join(t.stage, 'products')).filter((n) => path.basename(n).startsWith('.'))).toEqual([]);
  expect([...symlinksUnder(t.stage), ...symlinksUnder(t.data)]).toEqual([]);
}

describe('contimg publish', () => {
  beforeAll(() => {
    assertBuildFresh(['publish', 'layout', 'registry', 'cli']);
  });

  it('publishes in batches, each product once, marked published; a rerun publishes nothing', async () => {
    const t = await trees();
    const dry = await cliJson('publish', ...t.args, '--dry-run');
    expect(dry.planned).toHaveLength(5);
    expect(dry.planned.map((p: any) => p.target).sort()).toEqual(t.products.map((p) => p.published).sort());
    expect(existsSync(path.join(t.data, 'products'))).toBe(false);
    expect(registry(t)).toHaveLength(2);

    const r = await cliJson('publish', ...t.args, '--batch-size', '2');
    expect(r.batches).toBe(3);
    expect(r.published).toHaveLength(5);
    expect(r.failed).toEqual([]);
    expectPublished(t);
    const again = await cliJson('publish', ...t.args);
    expect(again.published).toEqual([]);
    expect(again.failed).toEqual([]);
    expectPublished(t);
  });

  it('never publishes a product twice: the same name staged again is refused, an identical leftover removed', async () => {
    const t = await trees();
    await cliJson('publish', ...t.args);
    const [p0, p1] = t.products;
    // A different product under a published name.
    mkdirSync(path.dirname(p0!.staged), { recursive: true });
    writeFileSync(p0!.staged, 'a different mosaic with the same name');
    // The same bytes as a published product (what a publish killed after its registry update leaves).
    mkdirSync(path.dirname(p1!.staged), { recursive: true });
    writeFileSync(p1!.staged, readFileSync(p1!.published));
    const r = await cliJson('publish', ...t.args);
    expect(r.published).toEqual([]);
    expect(r.skipped.find((s: any) => s.path === p0!.staged).reason).toMatch(/already published .* not publishing it twice/);
    expect(r.skipped.find((s: any) => s.path === p1!.staged).reason).toMatch(/leftover of the finished publish .* removed/);
    expect(readFileSync(p0!.staged, 'utf8')).toBe('a different mosaic with the same name');
    expect(existsSync(p1!.staged)).toBe(false);
    expect(contentDigest(p0!.published)).toBe(p0!.digest);
  });

  it('refuses symlinks out of the bases, misplaced products and occupied targets, each by name', async () => {
    const t = await trees();
    const outside = tmpDir('contimg-outside-');
    writeFileSync(path.join(outside, 'secret.fits'), 'x');
    const link = path.join(t.stage, 'products', 'mosaics', '2025-10-02', 'mosaic_evil.fits');
    symlinkSync(path.join(outside, 'secret.fits'), link);
    const undated = path.join(t.stage, 'products', 'mosaics', 'latest');
    mkdirSync(undated);
    const occupied = t.products[2]!;
    mkdirSync(path.dirname(occupied.published), { recursive: true });
    writeFileSync(occupied.published, 'someone else put this here');
    const r = await cli('publish', ...t.args, '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    const why = (p: string) => out.failed.find((f: any) => f.path === p)?.error;
    expect(why(link)).toEqual({ code: 'LAYOUT_UNSAFE_PATH', message: `is a symlink to ${path.join(outside, 'secret.fits')}, outside the stage and data bases: refusing to publish it` });
    expect(why(undated).message).toMatch(/not a YYYY-MM-DD directory/);
    expect(why(occupied.staged).message).toBe(`${occupied.published} already exists and was not made by this move of ${occupied.staged}; resolve it by hand`);
    expect(r.stderr).toContain(occupied.staged);
    expect(readFileSync(occupied.published, 'utf8')).toBe('someone else put this here');
    expect(contentDigest(occupied.staged)).toBe(occupied.digest);
    expect(out.published).toHaveLength(4);
  });

  it('verifies a copy against the registered checksum: a product changed since registration is not published', async () => {
    const t = await trees();
    const p = t.products[0]!;
    writeFileSync(p.staged, 'changed after it was registered');
    const layout = openLayout({ stageBase: t.stage, dataBase: t.data, env: {} });
    const r = await publish({ layout, sameFs: () => false, types: ['mosaic'] });
    expect(r.failed.map((f) => [f.path, f.error.code])).toEqual([[p.staged, 'PUBLISH_CHECKSUM']]);
    expect(existsSync(p.published)).toBe(false);
    expect(readFileSync(p.staged, 'utf8')).toBe('changed after it was registered');
    expect(readdirSync(path.dirname(p.published)).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(r.published.map((x) => x.path)).toEqual([t.products[1]!.staged]);
  });

  for (const sameFs of [false, true]) {
    it(`SIGKILL after every kind of step (${sameFs ? 'rename on one file system' : 'copy across file systems'}), then rerun: each product published exactly once, intact`, async () => {
      const make = () => trees(sameFs ? { sameFileSystem: true } : {});
      const ref = await make();
      const trace = path.join(tmpDir(), 'points');
      writeFileSync(trace, '');
      const r0 = await runChild(['publish', ...ref.args, '--batch-size', '2'], { env: { CONTIMG_FAULT_TRACE: trace } });
      expect(r0.code, r0.stderr).toBe(0);
      expectPublished(ref);
      // Every point whose (previous step, step) pair is new, and the last one.
      const labels = readFileSync(trace, 'utf8').trim().split('\n').map((l) => l.split(' ')[1]!);
      expect(labels).toContain(sameFs ? 'relocate:renamed' : 'relocate:verified');
      const seen = new Set<string>();
      const kills = labels.flatMap((label, j) => {
        const pair = `${labels[j - 1] ?? '^'} ${label}`;
        if (seen.has(pair) && j !== labels.length - 1) return [];
        seen.add(pair);
        return [j + 1];
      });
      expect(kills.length).toBeGreaterThan(5);
      for (const k of kills) {
        const t = await make();
        const r = await runChild(['publish', ...t.args, '--batch-size', '2'], { env: { CONTIMG_FAULT_KILL_AT: String(k) } });
        expect(r.signal, `kill at ${k} (${labels[k - 1]}): ${r.stderr}`).toBe('SIGKILL');
        // Right after the kill, everything the registry names exists.
        for (const row of registry(t)) expect(existsSync(row.path), `kill at ${k}: ${row.path}`).toBe(true);
        const again = await runChild(['publish', ...t.args, '--json']);
        expect(again.code, `rerun after kill at ${k}: ${again.stderr}`).toBe(0);
        expectPublished(t);
      }
    }, 600_000);
  }
});
