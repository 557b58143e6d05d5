/**
 * `contimg publish` (stage 9): validated products from the stage tree's products/ to the data
 * tree's products/, in batches, each atomic, none twice (ts/publish).
 */
import { Listr } from 'listr2';
import { DATA_TYPE_NAMES, DATA_TYPES, layoutBaseOptions, openLayout, type DataType } from '../../layout/index.js';
import { DEFAULT_BATCH_SIZE } from '../../publish/defaults.js';
import type { PublishReport } from '../../publish/index.js';
import { defineCommand } from '../command.js';
import { report } from '../io.js';
import { bar } from '../progress.js';

const PUBLISHABLE = DATA_TYPE_NAMES.filter((t) => DATA_TYPES[t].published !== null);

export const publishCommand = defineCommand({
  command: 'publish',
  describe: "Publish validated products: stage products/ → the data tree's products/, marked published",
  builder: (y) =>
    layoutBaseOptions(y)
      .option('batch-size', { type: 'number', default: DEFAULT_BATCH_SIZE, describe: 'Products per batch' })
      .option('type', { type: 'string', array: true, choices: PUBLISHABLE, describe: 'Only these product types (default: all)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'List what would be published, change nothing' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
      .check((a) => {
        if (!Number.isInteger(a['batch-size']) || a['batch-size'] < 1) throw new Error(`--batch-size must be a positive integer (got ${a['batch-size']})`);
        return true;
      }),
  async run(a, { io, commandLine }) {
    const layout = openLayout({ stageBase: a['stage-base'], dataBase: a['data-base'] });
    const { publish } = await import('../../publish/index.js');
    let result: PublishReport | undefined;
    await new Listr(
      [
        {
          title: a['dry-run'] ? 'publish (dry run)' : 'publish',
          task: async (_ctx: unknown, task: { output: string }) => {
            result = await publish({
              layout,
              batchSize: a['batch-size'],
              types: a.type as DataType[] | undefined,
              dryRun: a['dry-run'],
              setBy: commandLine,
              onProgress: (p) => {
                task.output = `batch ${p.batch}/${p.batches} ${bar(p.done / Math.max(1, p.total))} ${p.done}/${p.total} ${p.current}`;
              },
            });
          },
        },
      ],
      { renderer: io.isTTY && !a.json ? 'default' : 'silent', exitOnError: true },
    ).run();
    const r = result!;
    report(io, a.json, r, () => formatReport(r));
    if (r.failed.length) for (const f of r.failed) io.stderr(`contimg: ${f.path}: [${f.error.code}] ${f.error.message}\n`);
    return r.failed.length ? 1 : 0;
  },
});

function formatReport(r: PublishReport): string {
  const lines: string[] = [];
  for (const p of r.dryRun ? r.planned : r.published) lines.push(`${r.dryRun ? 'would publish' : 'published'} ${p.dataType} ${p.path} → ${p.target}${p.resumed ? ' (resumed)' : ''}`);
  for (const s of r.skipped) lines.push(`skipped ${s.path}: ${s.reason}`);
  lines.push(
    r.dryRun
      ? `${r.planned.length} product(s) would be published in ${r.batches} batch(es)`
      : `${r.published.length} product(s) published in ${r.batches} batch(es)${r.failed.length ? `, ${r.failed.length} failed` : ''}`,
  );
  return lines.join('\n') + '\n';
}
