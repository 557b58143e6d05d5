/**
 * The latest quicklooks under a service's output trees (a PNG beside the FITS it shows), for the
 * dashboard and `/api/status`.
 *
 * The dashboard asks on every tick (every second or two while someone watches), and a layout
 * tree grows by a directory a day. Each directory's scan is therefore kept with the directory's
 * mtime and reused while that is unchanged: products appear and disappear by rename (every
 * writer here publishes atomically), which changes the mtime of the directory they are in. A
 * tick then costs one stat per directory instead of a listing and two stats per file.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface Quicklook {
  /** Opaque id (hash of the path): the only handle the server accepts for the file. */
  id: string;
  kind: 'image' | 'mosaic';
  name: string;
  png: string;
  fits: string;
  modified: string | null;
}

type Found = Quicklook & { mtimeMs: number };

interface DirScan {
  mtimeMs: number;
  quicklooks: Found[];
  subdirs: string[];
}

/** Directories that hold a product's many files, never quicklooks: not descended into. */
const OPAQUE_DIR = /\.(ms|image|residual|model|psf|pb)$|_(bpcal|gpcal|2gcal)$/;
const MAX_DEPTH = 4;
const RACY_MS = 2000;

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** Scans of the directories seen by the last walk, by path. */
let scans = new Map<string, DirScan>();

function scanDir(dir: string, previous: Map<string, DirScan>): DirScan | undefined {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(dir).mtimeMs;
  } catch {
    return undefined; // absent or removed while we looked
  }
  const cached = previous.get(dir);
  // Timestamps are coarse (a few ms): a second rename in the same tick as the one a scan saw
  // leaves the mtime as it was. A recently changed directory is therefore always read again.
  if (cached && cached.mtimeMs === mtimeMs && Date.now() - mtimeMs > RACY_MS) return cached;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  const scan: DirScan = { mtimeMs, quicklooks: [], subdirs: [] };
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!OPAQUE_DIR.test(e.name) && !e.name.startsWith('.')) scan.subdirs.push(p);
      continue;
    }
    if (!e.isFile() || !e.name.endsWith('.png')) continue;
    const fits = p.slice(0, -'.png'.length) + '.fits';
    try {
      if (!statSync(fits).isFile()) continue;
      const pngMtimeMs = statSync(p).mtimeMs;
      const name = path.basename(fits);
      scan.quicklooks.push({
        id: createHash('sha256').update(p).digest('hex').slice(0, 16),
        kind: /^mosaic_/.test(name) ? 'mosaic' : 'image',
        name,
        png: p,
        fits,
        modified: iso(pngMtimeMs),
        mtimeMs: pngMtimeMs,
      });
    } catch {
      // No sibling FITS: not a quicklook of a product.
    }
  }
  return scan;
}

/** The newest `limit` image quicklooks and the newest `limit` mosaic ones under `roots`. */
export function latestQuicklooks(roots: readonly string[], limit: number): Quicklook[] {
  const previous = scans;
  const next = new Map<string, DirScan>();
  const found = new Map<string, Found>();
  const walk = (dir: string, depth: number) => {
    if (next.has(dir)) return;
    const scan = scanDir(dir, previous);
    if (!scan) return;
    next.set(dir, scan);
    for (const q of scan.quicklooks) found.set(q.png, q);
    if (depth < MAX_DEPTH) for (const d of scan.subdirs) walk(d, depth + 1);
  };
  for (const r of roots) walk(path.resolve(r), 0);
  // Only what this walk saw is kept: removed directories do not accumulate.
  scans = next;
  const sorted = [...found.values()].sort((a, b) => b.mtimeMs - a.mtimeMs || a.png.localeCompare(b.png));
  // The newest of each kind are shown side by side: a burst of images must not hide the mosaics.
  const pick = (k: Quicklook['kind']) => sorted.filter((q) => q.kind === k).slice(0, limit);
  return [...pick('image'), ...pick('mosaic')].map(({ mtimeMs: _, ...q }) => q);
}
