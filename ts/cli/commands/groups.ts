/** `contimg groups`: stage 3, groups of consecutive MS with the calibrator transit in each. */
import path from 'node:path';
import { ContimgError } from '../../error.js';
import { DEFAULT_CALIBRATORS_FILE, layoutBaseOptions, layoutRequested, loadCalibrators, resolveLayout } from '../../layout/index.js';
import { DEFAULT_GROUP_OVERLAP, DEFAULT_GROUP_SIZE, DEFAULT_MAX_GAP } from '../../group-formation/form.js';
import type { GroupsRun } from '../../group-formation/index.js';
import { defineCommand } from '../command.js';
import { report } from '../io.js';
import { progressBar } from '../progress.js';

export const groupsCommand = defineCommand({
  command: 'groups',
  describe: 'Form groups of consecutive MS (stage 3): raw/groups/YYYY-MM-DD/group_<id>.json, registered, with the calibrator transit in each',
  builder: (y) =>
    layoutBaseOptions(y)
      .option('input-dir', { type: 'string', describe: "MS to group (a directory of <ts>.ms); default: the layout's registered raw MS (ms_index)" })
      .option('output-dir', { type: 'string', describe: 'Write group_<id>.json here, flat and unregistered, instead of the layout' })
      .option('layout', { type: 'boolean', describe: 'Use the pipeline layout (raw/groups/…, registered); implied by --stage-base, --data-base or CONTIMG_STAGE_BASE' })
      .option('size', { type: 'number', default: DEFAULT_GROUP_SIZE, describe: 'MS per group' })
      .option('overlap', { type: 'number', default: DEFAULT_GROUP_OVERLAP, describe: 'MS shared by consecutive groups' })
      .option('max-gap', { type: 'number', default: DEFAULT_MAX_GAP, describe: 'A start-to-start spacing above this many MS durations ends a sequence' })
      .option('flush', { type: 'boolean', default: false, describe: 'Also group the open tail of the last sequence (the last --size MS)' })
      .option('prune', { type: 'boolean', default: false, describe: 'Remove registered groups over the same MS that are no longer formed (reported as superseded)' })
      .option('calibrators', { type: 'string', default: DEFAULT_CALIBRATORS_FILE, describe: 'Calibrator list (CSV name,ra_deg,dec_deg,flux_jy,spectral_index)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show the groups and what would change; write nothing' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON' })
      .conflicts('output-dir', 'layout')
      .check((a) => {
        const layout = layoutRequested({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] });
        if (a['output-dir'] === undefined && !layout) throw new Error('give --output-dir, or --layout (or --stage-base, or set CONTIMG_STAGE_BASE) to write raw/groups/ and register the groups');
        if (a['output-dir'] !== undefined && a['input-dir'] === undefined) throw new Error('with --output-dir, give --input-dir (the registered MS are only known to the layout)');
        return true;
      }),
  async run(a, { io }) {
    const calibrators = loadCalibrators(a.calibrators);
    const layout = a['output-dir'] === undefined ? resolveLayout({ layout: a.layout, stageBase: a['stage-base'], dataBase: a['data-base'] }) : null;
    if (a['output-dir'] === undefined && !layout) throw new ContimgError('GROUPS_INVALID_ARGUMENT', 'no layout to write (give --output-dir or --layout)');
    const progress = progressBar(io, 'groups', io.isTTY && !a.json);
    // The registries and casacore load only here (CLI start-up stays light).
    const { openRegistries } = await import('../../registry/index.js');
    const { msInDirectory, msInRegistry, runGroups } = await import('../../group-formation/index.js');
    const regs = layout ? await openRegistries(layout, { readonly: a['dry-run'] }) : undefined;
    try {
      const ms = a['input-dir'] !== undefined ? msInDirectory(a['input-dir'], (d, n) => progress.update((0.5 * d) / n, `reading MS ${d}/${n}`)) : await msInRegistry(regs!);
      const result = await runGroups({
        ms,
        calibrators,
        size: a.size,
        overlap: a.overlap,
        maxGap: a['max-gap'],
        flush: a.flush,
        dryRun: a['dry-run'],
        prune: a.prune,
        out: layout ? { layout, regs: regs! } : { outputDir: a['output-dir']! },
        onGroup: (d, n) => progress.update(0.5 + (0.5 * d) / n, `group ${d}/${n}`),
      });
      progress.succeed(`${result.groups.length} group(s) from ${result.nMs} MS`);
      report(io, a.json, summarize(result), () => text(result));
      return 0;
    } catch (e) {
      progress.fail('groups failed');
      throw e;
    } finally {
      await regs?.close();
    }
  },
});

function summarize(r: GroupsRun) {
  return {
    dryRun: r.dryRun,
    nMs: r.nMs,
    sequences: r.sequences,
    msDurationS: r.msDurationS,
    pending: r.pending,
    superseded: r.superseded,
    pruned: r.pruned,
    groups: r.groups.map((g) => ({
      id: g.id,
      file: g.file,
      file_outcome: g.fileOutcome,
      registry: g.registry,
      n_ms: g.definition.n_ms,
      start_iso: g.definition.start_iso,
      end_iso: g.definition.end_iso,
      calibrator: g.definition.calibrator,
    })),
  };
}

function text(r: GroupsRun): string {
  const lines = r.groups.map((g) => {
    const d = g.definition;
    const cal = d.calibrator ? `, ${d.calibrator.name} transits ${d.calibrator.transit_iso} in ${path.basename(d.calibrator.ms)} (rank ${d.calibrator.rank.toFixed(2)} Jy)` : '';
    return `${g.id}: ${d.n_ms} MS ${d.start_iso} … ${d.end_iso}${cal} — file ${g.fileOutcome}, registry ${g.registry}\n`;
  });
  const superseded = r.superseded.length
    ? `${r.superseded.length} registered group(s) no longer formed from these MS${r.pruned ? ', removed' : ' (--prune removes them)'}: ${r.superseded.map((g) => g.id).join(', ')}\n`
    : '';
  const pending = r.pending.length ? `${r.pending.length} MS pending (the open end of the last sequence; --flush groups them)\n` : '';
  return `${lines.join('')}${superseded}${pending}${r.groups.length} group(s) from ${r.nMs} MS in ${r.sequences} sequence(s)${r.dryRun ? ' (dry run: nothing written)' : ''}\n`;
}
