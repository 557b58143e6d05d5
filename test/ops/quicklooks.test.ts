/**
 * The dashboard's quicklook listing reuses each directory's scan while the directory's mtime is
 * unchanged (ts/stream/quicklooks.ts). What that must not cost: a product published, removed or
 * completed by rename shows at the next call, in an existing directory or a new one.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { latestQuicklooks } from '../../ts/stream/quicklooks.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

/** Publishes `file` as our writers do: written under a temporary name, then renamed. */
function publish(file: string, body = 'x'): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file + '.partial', body);
  renameSync(file + '.partial', file);
}

let lastAgedMs = Infinity;

/**
 * Dates every directory under `root` an hour back, as if nothing had changed there for a while:
 * only then are their kept scans trusted (a directory changed in the last 2 s is always re-read).
 * Each call dates them a second earlier than the last at least: two calls within one millisecond
 * would otherwise give a changed directory back the very mtime its kept scan has.
 */
function age(root: string): void {
  lastAgedMs = Math.min(Date.now() - 3_600_000, lastAgedMs - 1000);
  const past = new Date(lastAgedMs);
  const visit = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) visit(path.join(d, e.name));
    utimesSync(d, past, past);
  };
  visit(root);
  expect(Date.now() - statSync(root).mtimeMs).toBeGreaterThan(3_000_000);
}

const names = (root: string) => latestQuicklooks([root], 8).map((q) => path.relative(root, q.png)).sort();

describe('latest quicklooks', () => {
  it('sees products appear, complete and disappear by rename, in old and new directories', () => {
    const root = tmpDir();
    const day1 = path.join(root, 'images', '2025-10-05');
    publish(path.join(day1, 'a.png'));
    publish(path.join(day1, 'a.fits'));
    publish(path.join(root, 'mosaics', 'mosaic_1.png'));
    publish(path.join(root, 'mosaics', 'mosaic_1.fits'));
    // A PNG whose FITS is not there yet is not a product's quicklook.
    publish(path.join(day1, 'b.png'));
    expect(names(root)).toEqual(['images/2025-10-05/a.png', 'mosaics/mosaic_1.png']);
    // Unchanged tree, same answer, now from the kept scans.
    age(root);
    expect(names(root)).toEqual(['images/2025-10-05/a.png', 'mosaics/mosaic_1.png']);
    expect(names(root)).toEqual(['images/2025-10-05/a.png', 'mosaics/mosaic_1.png']);

    // Aged again after each change, so that only the changed mtime can tell the scan is stale.
    publish(path.join(day1, 'b.fits'));
    age(root);
    expect(names(root)).toEqual(['images/2025-10-05/a.png', 'images/2025-10-05/b.png', 'mosaics/mosaic_1.png']);

    age(root);
    publish(path.join(root, 'images', '2025-10-06', 'c.png'));
    publish(path.join(root, 'images', '2025-10-06', 'c.fits'));
    age(root);
    expect(names(root)).toContain('images/2025-10-06/c.png');

    age(root);
    rmSync(path.join(day1, 'a.png'));
    rmSync(path.join(root, 'mosaics'), { recursive: true });
    age(root);
    expect(names(root)).toEqual(['images/2025-10-05/b.png', 'images/2025-10-06/c.png']);
  });

  it('lists the newest of each kind, images and mosaics side by side, and never inside an MS', () => {
    const root = tmpDir();
    for (let i = 0; i < 5; i++) {
      publish(path.join(root, `img${i}.png`));
      publish(path.join(root, `img${i}.fits`));
    }
    publish(path.join(root, 'mosaic_a.png'));
    publish(path.join(root, 'mosaic_a.fits'));
    publish(path.join(root, 'x.ms', 'inside.png'));
    publish(path.join(root, 'x.ms', 'inside.fits'));
    const q = latestQuicklooks([root], 2);
    expect(q.filter((x) => x.kind === 'image')).toHaveLength(2);
    expect(q.filter((x) => x.kind === 'mosaic').map((x) => x.name)).toEqual(['mosaic_a.fits']);
    expect(q.some((x) => x.png.includes('x.ms'))).toBe(false);
  });
});
