/**
 * `contimg mosaic GROUP`: which images make a group's mosaic. The group's MS come from the
 * products registry (`contimg groups`), each MS's images from the data registry's provenance
 * (`contimg image --layout` registers an image with the MS it was made from as its input).
 *
 * Per member MS: the images of its calibrated copy when there are any (applycal registers the
 * calibrated MS with the raw one as its input), else those of the raw MS; of those, the ones
 * with a primary beam beside them (the mosaic weights by it), of the `--image-params` tag when
 * one is given, and the newest registration (a re-imaged MS is registered again).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ContimgError } from '../error.js';
import type { Layout } from '../layout/index.js';
import type { Registries } from '../registry/index.js';
import { msTimestamp } from '../image/run.js';
import { pbPathOf } from './run.js';

export interface MemberImage {
  /** The group's MS (as the group lists it). */
  ms: string;
  /** The MS the image was made from: `ms` or its calibrated copy; null when none was found. */
  imagedMs: string | null;
  image: string | null;
}

export interface GroupImages {
  groupId: string;
  members: MemberImage[];
  /** The images found, in the group's MS order. */
  images: string[];
  /** The MS without a usable image. */
  missing: string[];
}

/** The group's MS in order: its registered members, else its definition file in the layout. */
export async function groupMembers(regs: Registries, layout: Layout, groupId: string): Promise<string[]> {
  const rows = await regs.products.selectFrom('ms_group_members').select('ms_path').where('group_id', '=', groupId).orderBy('position').execute();
  if (rows.length > 0) return rows.map((r) => r.ms_path);
  let file: string | undefined;
  try {
    file = layout.groupDefinitionPath(groupId);
  } catch {
    // Not a timestamp: no definition file can be named by it either.
  }
  if (file && existsSync(file)) {
    const def = JSON.parse(readFileSync(file, 'utf8')) as { ms?: { path: string }[] };
    if (Array.isArray(def.ms) && def.ms.length > 0) return def.ms.map((m) => path.resolve(m.path));
  }
  throw new ContimgError('MOSAIC_UNKNOWN_GROUP', `group ${groupId} is neither registered nor defined in ${file ?? 'the layout'} (form it with \`contimg groups\`)`);
}

/** Registered products of a type that have `input` among their inputs, newest registration first. */
async function productsMadeFrom(regs: Registries, input: string, dataType: 'image' | 'calibrated_ms') {
  return regs.data
    .selectFrom('data_registry as out')
    .innerJoin('data_provenance as p', 'p.product_id', 'out.id')
    .leftJoin('data_registry as src', 'src.id', 'p.input_product_id')
    .select(['out.id', 'out.path', 'out.updated_at'])
    .where('out.data_type', '=', dataType)
    .where('out.status', '!=', 'failed')
    .where((eb) => eb.or([eb('src.path', '=', input), eb('p.input_path', '=', input)]))
    .orderBy('out.updated_at', 'desc')
    .orderBy('out.id', 'desc')
    .execute();
}

/** The `<params>` of a layout image `<ms timestamp>_<params>.image.fits`; null for other names. */
export function imageParamsOf(image: string, ms: string): string | null {
  const stem = path.basename(image).replace(/\.image\.fits$/, '');
  const prefix = `${msTimestamp(ms)}_`;
  return stem !== path.basename(image) && stem.startsWith(prefix) ? stem.slice(prefix.length) : null;
}

/** The newest usable image made from `ms`, or null. */
async function imageOf(regs: Registries, ms: string, imageParams: string | undefined): Promise<string | null> {
  for (const row of await productsMadeFrom(regs, ms, 'image')) {
    if (!row.path.endsWith('.image.fits') || !existsSync(row.path) || !existsSync(pbPathOf(row.path))) continue;
    if (imageParams !== undefined && imageParamsOf(row.path, ms) !== imageParams) continue;
    return row.path;
  }
  return null;
}

export async function findGroupImages(regs: Registries, layout: Layout, groupId: string, opts: { imageParams?: string } = {}): Promise<GroupImages> {
  const members: MemberImage[] = [];
  for (const ms of await groupMembers(regs, layout, groupId)) {
    const calibrated = (await productsMadeFrom(regs, ms, 'calibrated_ms')).map((r) => r.path);
    let found: MemberImage = { ms, imagedMs: null, image: null };
    for (const source of [...calibrated, ms]) {
      const image = await imageOf(regs, source, opts.imageParams);
      if (image) {
        found = { ms, imagedMs: source, image };
        break;
      }
    }
    members.push(found);
  }
  return {
    groupId,
    members,
    images: members.flatMap((m) => (m.image ? [m.image] : [])),
    missing: members.filter((m) => !m.image).map((m) => m.ms),
  };
}

/**
 * The images to mosaic, or MOSAIC_MISSING_IMAGES naming the MS without one: always when fewer
 * than two are found (one image is no mosaic), and for any missing unless `allowMissing`.
 */
export function requireGroupImages(g: GroupImages, allowMissing: boolean, imageParams?: string): string[] {
  const what = imageParams === undefined ? 'an image with a primary beam' : `an image ${imageParams} with a primary beam`;
  const list = g.missing.map((m) => `  ${m}`).join('\n');
  if (g.images.length < 2) {
    throw new ContimgError(
      'MOSAIC_MISSING_IMAGES',
      `group ${g.groupId}: ${g.images.length} of its ${g.members.length} MS have ${what} (a mosaic needs 2); missing:\n${list}\n(image them with \`contimg image --layout --pbcor\`)`,
    );
  }
  if (g.missing.length > 0 && !allowMissing) {
    throw new ContimgError(
      'MOSAIC_MISSING_IMAGES',
      `group ${g.groupId}: ${g.missing.length} of its ${g.members.length} MS have no ${what.replace(/^an /, '')}:\n${list}\n(image them with \`contimg image --layout --pbcor\`, or mosaic the rest with --allow-missing)`,
    );
  }
  return g.images;
}
