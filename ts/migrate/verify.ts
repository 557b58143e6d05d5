/**
 * Verification: what phase 3 ends with, what phase 4 insists on before deleting anything, and
 * what `contimg migrate verify` reports. Problems fail it; warnings are reported only.
 */
import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  isUtcDateName,
  isWithin,
  linkTarget,
  listDir,
  pathKind,
  realpathOfExisting,
  resolves,
  treeDigest,
  type Layout,
} from '../layout/index.js';
import { registeredPaths, type Registries } from '../registry/index.js';
import { isSqliteFile, legacyDbReferences } from './legacydb.js';
import type { Journal } from './journal.js';

export interface Verification {
  ok: boolean;
  checkedAt: string;
  /** Checked as after phase 3: nothing may live in, or be registered in, the legacy tree. */
  migrated: boolean;
  problems: string[];
  warnings: string[];
  counts: {
    registeredPaths: number;
    symlinks: number;
    legacyDatabases: number;
    checksumsChecked: number;
  };
}

export interface VerifyOptions {
  /** Check as after phase 3 (default: whether phase 3 has run). */
  migrated: boolean;
  /** Recompute every registered checksum (reads all the data). */
  checksums?: boolean;
}

/** Whether `p` is in the legacy layout's part of the tree (not the new layout sharing a base). */
export function inLegacyTree(layout: Layout, p: string): boolean {
  const L = layout.legacy;
  if ([L.ms, L.calibMs, L.caltables, L.tmp, L.logs, L.state].some((d) => isWithin(d, p))) return true;
  for (const [dir, root] of [
    [L.images, layout.roots.images],
    [L.mosaics, layout.roots.mosaics],
  ] as const) {
    if (!isWithin(dir, p) || p === dir) continue;
    if (dir !== root) return true;
    const first = path.relative(dir, p).split(path.sep)[0]!;
    if (!isUtcDateName(first)) return true;
  }
  return false;
}

/** True when reaching `p` goes through a symlink below its root (the registry should name the real place). */
function throughSymlink(layout: Layout, p: string): boolean {
  const root = layout
    .allowedRoots()
    .filter((r) => isWithin(r, p))
    .sort((a, b) => b.length - a.length)[0];
  if (!root) return true;
  return realpathOfExisting(p) !== path.join(realpathOfExisting(root), path.relative(root, p));
}

/** The archived legacy SQLite registries (`<data>/state/legacy/**`). */
export function legacyDatabases(layout: Layout): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of listDir(d)) {
      const p = path.join(d, n);
      const k = pathKind(p);
      if (k === 'dir') walk(p);
      // Hidden names are our temporaries (a copy in flight), never an archived registry.
      else if (k === 'file' && !n.startsWith('.') && !/-(wal|shm|journal)$/.test(n) && isSqliteFile(p)) out.push(p);
    }
  };
  walk(layout.legacyStateArchive);
  return out;
}

/** Every symlink under `root` (not descending into linked directories). */
function* symlinksUnder(root: string): Generator<string> {
  const stack = [root];
  while (stack.length) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = path.join(d, n);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isSymbolicLink()) yield p;
      else if (st.isDirectory()) stack.push(p);
    }
  }
}

/** The trees to walk for links: the bases and any root configured outside them, none twice. */
function treesOf(layout: Layout): string[] {
  const all = [...new Set(layout.allowedRoots())].sort((a, b) => a.length - b.length);
  return all.filter((r, i) => !all.slice(0, i).some((o) => isWithin(o, r)));
}

export async function verifyLayout(layout: Layout, regs: Registries, journal: Journal | null, opts: VerifyOptions): Promise<Verification> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const counts = { registeredPaths: 0, symlinks: 0, legacyDatabases: 0, checksumsChecked: 0 };

  // 1. Our registries: every product they vouch for resolves, at its real (new) place.
  for (const ref of await registeredPaths(regs)) {
    counts.registeredPaths++;
    const where = `${ref.registry}.${ref.table}.${ref.column}`;
    if (!resolves(ref.path)) {
      (ref.required ? problems : warnings).push(`${where}: ${ref.path} does not exist`);
      continue;
    }
    if (opts.migrated && ref.required && inLegacyTree(layout, ref.path)) problems.push(`${where}: ${ref.path} is still in the legacy tree`);
    else if (opts.migrated && ref.required && throughSymlink(layout, ref.path)) problems.push(`${where}: ${ref.path} is reached through a symlink (${realpathOfExisting(ref.path)})`);
  }

  // 2. The archived legacy registries: references into the legacy tree would dangle once it goes.
  const L = layout.legacy;
  const legacyPrefixes = [L.ms, L.calibMs, L.caltables, L.tmp, L.logs, L.state, L.images, L.mosaics];
  for (const db of legacyDatabases(layout)) {
    counts.legacyDatabases++;
    for (const ref of legacyDbReferences(db, legacyPrefixes)) {
      if (!inLegacyTree(layout, ref.value)) continue;
      const at = `${db} ${ref.table}.${ref.column}`;
      if (!resolves(ref.value)) warnings.push(`${at}: ${ref.value} does not exist (a stale entry of the old registry)`);
      else if (opts.migrated) problems.push(`${at}: ${ref.value} still points into the legacy tree`);
    }
  }

  // 3. No dangling symlinks anywhere in the trees; and after phase 3 the legacy tree holds
  // nothing but links into the new layout and directories.
  for (const tree of treesOf(layout)) {
    for (const link of symlinksUnder(tree)) {
      counts.symlinks++;
      if (!resolves(link)) problems.push(`${link} is a dangling symlink (to ${linkTarget(link)})`);
    }
  }
  if (opts.migrated) {
    const stack = [L.ms, L.calibMs, L.caltables, L.tmp, L.logs, L.state, L.images, L.mosaics];
    while (stack.length) {
      const d = stack.pop()!;
      if (pathKind(d) !== 'dir') continue;
      for (const n of listDir(d)) {
        const p = path.join(d, n);
        if (!inLegacyTree(layout, p)) continue;
        const k = pathKind(p);
        if (k === 'dir') stack.push(p);
        else if (k !== 'symlink') problems.push(`${p} is still in the legacy tree (not migrated)`);
      }
    }
    if (journal) {
      for (const it of await journal.items(3)) {
        if (it.state !== 'done' && it.action.action !== 'verify') problems.push(`phase 3 has not finished: ${it.action.action} ${'src' in it.action ? it.action.src : ''} is ${it.state}`);
      }
    }
  }

  // 4. Optionally, the data itself.
  if (opts.checksums) {
    const rows = await regs.data.selectFrom('data_registry').select(['path', 'checksum']).where('status', '!=', 'failed').where('checksum', 'is not', null).execute();
    for (const r of rows) {
      if (!resolves(r.path)) continue;
      counts.checksumsChecked++;
      const d = await treeDigest(r.path);
      if (d.digest !== r.checksum) problems.push(`${r.path}: checksum ${d.digest} differs from the registered ${r.checksum}`);
    }
  }

  return { ok: problems.length === 0, checkedAt: new Date().toISOString(), migrated: opts.migrated, problems, warnings, counts };
}
