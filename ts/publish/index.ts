/**
 * Stage 9, publishing: validated products move from the stage tree's `products/<type>/YYYY-MM-DD/`
 * to the data tree's `products/<type>/YYYY-MM-DD/`, in batches, and become `published` in
 * data_registry.
 *
 * Atomic per product: the product appears at its published path by one rename of a complete
 * (and, across file systems, verified) copy, and its registry row changes path and status in one
 * transaction while both copies exist; the staged copy is deleted only after that. A product is
 * claimed in the registry (publish_target) before it moves, so a publish killed at any moment
 * resumes where it stopped on the next run.
 *
 * Never twice: a product's identity is its type and name (unique in data_registry); a published
 * product is never picked again, a second product with the same name is refused, and nothing is
 * ever written over an existing published path.
 */
import path from 'node:path';
import { ContimgError, asContimgError } from '../error.js';
import {
  DATA_TYPES,
  DATA_TYPE_NAMES,
  acquireLock,
  faultPoint,
  isWithin,
  linkTarget,
  listDir,
  parseUtcDate,
  pathKind,
  realpathOfExisting,
  relocate,
  relocateTempPath,
  removeTree,
  safeName,
  sameFileSystem,
  treeDigest,
  type DataType,
  type Layout,
  type SameFileSystem,
  type UtcDate,
} from '../layout/index.js';
import { openRegistries, registerProduct, rewriteRegistryPaths, type Registries } from '../registry/index.js';

import { DEFAULT_BATCH_SIZE } from './defaults.js';

export { DEFAULT_BATCH_SIZE };

export interface PublishOptions {
  layout: Layout;
  batchSize?: number;
  /** Only these types. */
  types?: DataType[];
  dryRun?: boolean;
  sameFs?: SameFileSystem;
  /** Called before each batch and after each product. */
  onProgress?: (p: { batch: number; batches: number; done: number; total: number; current: string }) => void;
  setBy?: string;
}

export interface PublishCandidate {
  dataType: DataType;
  name: string;
  obsDate: UtcDate;
  /** The validated product in the stage tree. */
  path: string;
  /** Where it is published. */
  target: string;
  /** A publish killed half-way, resumed. */
  resumed: boolean;
}

export interface PublishReport {
  dryRun: boolean;
  batches: number;
  published: (PublishCandidate & { method: 'rename' | 'copy' | 'none'; checksum: string | null })[];
  /** Would be published (dry run). */
  planned: PublishCandidate[];
  /** Not published, and why (not an error: already published, marked failed, …). */
  skipped: { path: string; reason: string }[];
  /** Refused or failed; each names the path and what is wrong. */
  failed: { path: string; error: { code: string; message: string } }[];
}

interface Found {
  candidates: PublishCandidate[];
  skipped: PublishReport['skipped'];
  failed: PublishReport['failed'];
}

const fail = (p: string, code: string, message: string) => ({ path: p, error: { code, message } });

/** The validated products waiting in `<stage>/products/`, checked and matched with the registry. */
async function findCandidates(layout: Layout, regs: Registries, types: DataType[], dryRun: boolean): Promise<Found> {
  const found: Found = { candidates: [], skipped: [], failed: [] };
  const allowed = layout.allowedRoots().map(realpathOfExisting);
  const seen = new Set<string>();

  // Publishes a previous run claimed and did not finish come first (their target is fixed).
  const inFlight = await regs.data.selectFrom('data_registry').selectAll().where('publish_target', 'is not', null).where('status', '=', 'staged').execute();
  for (const r of inFlight) {
    if (!types.includes(r.data_type)) continue;
    seen.add(r.path);
    found.candidates.push({ dataType: r.data_type, name: r.name, obsDate: parseUtcDate(r.obs_date), path: r.path, target: r.publish_target!, resumed: true });
  }

  for (const type of types) {
    const sub = DATA_TYPES[type].published;
    if (sub === null) continue;
    const dir = path.join(layout.roots.products, sub);
    for (const date of listDir(dir)) {
      const dateDir = path.join(dir, date);
      if (date.startsWith('.')) continue;
      let obsDate: UtcDate;
      try {
        obsDate = parseUtcDate(date);
      } catch {
        found.failed.push(fail(dateDir, 'PUBLISH_LAYOUT', `not a YYYY-MM-DD directory: validated products go in ${dir}/YYYY-MM-DD/`));
        continue;
      }
      if (pathKind(dateDir) !== 'dir') {
        found.failed.push(fail(dateDir, 'PUBLISH_LAYOUT', `is a ${pathKind(dateDir)}, not a date directory`));
        continue;
      }
      for (const name of listDir(dateDir)) {
        const p = path.join(dateDir, name);
        // Our own temporaries (a publish in flight) are not products.
        if (name.startsWith('.')) continue;
        if (seen.has(p)) continue;
        const kind = pathKind(p);
        const published = await regs.data.selectFrom('data_registry').selectAll().where('data_type', '=', type).where('name', '=', name).where('status', '=', 'published').executeTakeFirst();
        if (published && (await isLeftoverOf(p, kind, published.path, published.checksum))) {
          // A publish that died after its registry update left the staged side behind (the link a
          // rename leaves for a moment, or the source of a verified copy): finish it.
          if (!dryRun) removeTree(p);
          found.skipped.push({ path: p, reason: `leftover of the finished publish to ${published.path}${dryRun ? ' (would be removed)' : ', removed'}` });
          continue;
        }
        if (kind === 'symlink') {
          const target = linkTarget(p);
          const outside = !allowed.some((r) => isWithin(r, realpathOfExisting(target)));
          found.failed.push(
            fail(p, 'LAYOUT_UNSAFE_PATH', outside ? `is a symlink to ${target}, outside the stage and data bases: refusing to publish it` : `is a symlink (to ${target}), not a product: refusing to publish a link`),
          );
          continue;
        }
        if (kind !== 'file' && kind !== 'dir') {
          found.failed.push(fail(p, 'PUBLISH_LAYOUT', `is a ${kind}, not a product`));
          continue;
        }
        try {
          safeName(name, `${type} name`);
        } catch (e) {
          const err = asContimgError(e);
          found.failed.push(fail(p, err.code, err.message));
          continue;
        }
        const row = await regs.data.selectFrom('data_registry').selectAll().where('path', '=', p).executeTakeFirst();
        const same = await regs.data.selectFrom('data_registry').selectAll().where('data_type', '=', type).where('name', '=', name).executeTakeFirst();
        if (!row && same) {
          if (same.status === 'published') found.skipped.push({ path: p, reason: `a ${type} named ${name} was already published (${same.published_at}) at ${same.path}; not publishing it twice` });
          else found.failed.push(fail(p, 'REGISTRY_DUPLICATE', `a ${type} named ${name} is already registered at ${same.path}`));
          continue;
        }
        if (row?.status === 'failed') {
          found.skipped.push({ path: p, reason: `marked failed in the registry${row.error ? ` (${row.error})` : ''}` });
          continue;
        }
        if (row && row.data_type !== type) {
          found.failed.push(fail(p, 'PUBLISH_LAYOUT', `is registered as a ${row.data_type} but sits in ${dir}`));
          continue;
        }
        if (!row && !dryRun) {
          // A product validated without being registered yet: it is registered now (staged).
          await registerProduct(regs, { dataType: type, path: p, obsDate });
        }
        found.candidates.push({ dataType: type, name, obsDate, path: p, target: layout.publishedPath(type, name, obsDate), resumed: false });
      }
    }
  }
  return found;
}

/** Whether the staged `p` is what a finished publish to `publishedPath` left behind. */
async function isLeftoverOf(p: string, kind: string, publishedPath: string, checksum: string | null): Promise<boolean> {
  if (kind === 'symlink') return linkTarget(p) === publishedPath;
  if (!checksum || (kind !== 'file' && kind !== 'dir') || pathKind(publishedPath) === 'missing') return false;
  return (await treeDigest(p)).digest === checksum && (await treeDigest(publishedPath)).digest === checksum;
}

/** Publishes one product; resumable from any point. */
async function publishOne(layout: Layout, regs: Registries, c: PublishCandidate, sameFs: SameFileSystem) {
  layout.assertInside(c.path, 'product');
  layout.assertInside(c.target, 'publish target');
  // Claim it: from here on a rerun knows where it goes, even if this process dies.
  const claimed = await regs.data
    .updateTable('data_registry')
    .set({ publish_target: c.target, publish_state: 'claimed', updated_at: new Date().toISOString() })
    .where('path', '=', c.path)
    .where('status', '=', 'staged')
    .where((eb) => eb.or([eb('publish_target', 'is', null), eb('publish_target', '=', c.target)]))
    .where((eb) => eb.or([eb('publish_state', 'is', null), eb('publish_state', '=', 'claimed')]))
    .executeTakeFirst();
  const row = await regs.data.selectFrom('data_registry').selectAll().where('path', '=', c.path).executeTakeFirst();
  if (!row && !claimed.numUpdatedRows) {
    // Published by a run that died after its registry update: the row already names the target.
    const done = await regs.data.selectFrom('data_registry').selectAll().where('path', '=', c.target).executeTakeFirst();
    if (done?.status === 'published') return { method: 'none' as const, checksum: done.checksum };
    throw new ContimgError('PUBLISH_LOST', `${c.path} is no longer registered, and ${c.target} is not published`);
  }
  if (!row || row.publish_target !== c.target) {
    throw new ContimgError('PUBLISH_CONFLICT', `${c.path}: another publish claimed it (target ${row?.publish_target ?? 'none'})`);
  }
  faultPoint('publish:claimed');
  const result = await relocate(
    { from: c.path, to: c.target, state: row.publish_state === 'verified' ? 'verified' : 'pending', leaveLink: false },
    {
      sameFs,
      async setState(state, info) {
        if (state === 'verified') {
          if (row.checksum && info.checksum && info.checksum.digest !== row.checksum) {
            removeTree(relocateTempPath(c.target));
            throw new ContimgError('PUBLISH_CHECKSUM', `${c.path} changed since it was registered (${info.checksum.digest} ≠ ${row.checksum}): re-register it before publishing`);
          }
          await regs.data.updateTable('data_registry').set({ publish_state: 'verified' }).where('id', '=', row.id).execute();
        }
      },
      async rewrite(from, to) {
        // Path and status change together, while both copies exist: the atomic step.
        const t = new Date().toISOString();
        await regs.data
          .updateTable('data_registry')
          .set({ path: to, status: 'published', published_at: t, updated_at: t, publish_target: null, publish_state: null, error: null })
          .where('id', '=', row.id)
          .where('status', '=', 'staged')
          .execute();
        await rewriteRegistryPaths(regs, from, to);
        faultPoint('publish:registered');
      },
    },
  );
  return { method: result.method, checksum: row.checksum };
}

export async function publish(opts: PublishOptions): Promise<PublishReport> {
  const { layout } = opts;
  const types = opts.types ?? DATA_TYPE_NAMES.filter((t) => DATA_TYPES[t].published !== null);
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH_SIZE));
  const release = opts.dryRun ? () => {} : acquireLock(layout.lockPath('publish'), opts.setBy ?? 'contimg publish');
  const regs = await openRegistries(layout, { readonly: opts.dryRun });
  try {
    const found = await findCandidates(layout, regs, types, opts.dryRun ?? false);
    const report: PublishReport = { dryRun: opts.dryRun ?? false, batches: 0, published: [], planned: [], skipped: found.skipped, failed: found.failed };
    if (opts.dryRun) {
      report.planned = found.candidates;
      report.batches = Math.ceil(found.candidates.length / batchSize);
      return report;
    }
    const batches = Math.ceil(found.candidates.length / batchSize);
    let done = 0;
    for (let b = 0; b < batches; b++) {
      report.batches++;
      for (const c of found.candidates.slice(b * batchSize, (b + 1) * batchSize)) {
        opts.onProgress?.({ batch: b + 1, batches, done, total: found.candidates.length, current: c.path });
        try {
          const r = await publishOne(layout, regs, c, opts.sameFs ?? sameFileSystem);
          report.published.push({ ...c, ...r });
        } catch (e) {
          const err = asContimgError(e);
          report.failed.push(fail(c.path, err.code, err.message));
          await regs.data.updateTable('data_registry').set({ error: `[${err.code}] ${err.message}` }).where('path', '=', c.path).execute();
        }
        done++;
      }
    }
    opts.onProgress?.({ batch: batches, batches, done, total: found.candidates.length, current: 'done' });
    return report;
  } finally {
    await regs.close();
    release();
  }
}
