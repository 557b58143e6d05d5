/**
 * `contimg status --stage-base … --data-base …`: every stage of the pipeline at a glance, from
 * the registries (read-only) and the failure logs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../layout/index.js';
import { openRegistries } from '../registry/index.js';

export interface StageStatus {
  stage: string;
  what: string;
  count: number;
  detail: Record<string, number>;
}

export interface PipelineStatus {
  stages: StageStatus[];
  failures: { job: string; date: string; code: string; time: string; log: string }[];
}

export async function pipelineStatus(layout: Layout, limit: number): Promise<PipelineStatus> {
  const regs = await openRegistries(layout, { readonly: true });
  try {
    const count = async (q: { executeTakeFirst(): Promise<{ n: number | string | bigint } | undefined> }) => Number((await q.executeTakeFirst())?.n ?? 0);
    const byType = await regs.data.selectFrom('data_registry').select(['data_type', 'status', 'name']).execute();
    const of = (type: string, pred: (name: string) => boolean = () => true) => byType.filter((r) => r.data_type === type && pred(r.name));
    const split = (rows: { status: string }[]) => Object.fromEntries(['staged', 'published', 'failed'].map((s) => [s, rows.filter((r) => r.status === s).length]).filter(([, n]) => n));
    const files = await count(regs.ingest.selectFrom('ingest_files').select((eb) => eb.fn.countAll().as('n')));
    const ingestGroups = await count(regs.ingest.selectFrom('ingest_files').select((eb) => eb.fn.count('group_id').distinct().as('n')));
    const ms = await regs.products.selectFrom('ms_index').select('kind').execute();
    const groups = await regs.products.selectFrom('ms_groups').select('calibrator').execute();
    const tables = await regs.cal.selectFrom('caltables').select(['table_type', 'status']).execute();
    const qa = of('metadata', (n) => n.endsWith('.qa.json'));
    const stages: StageStatus[] = [
      { stage: 'ingest', what: 'subband files registered', count: files, detail: { groups: ingestGroups } },
      { stage: 'convert', what: 'Measurement Sets', count: ms.length, detail: { science: ms.filter((m) => m.kind === 'science').length, calibrator: ms.filter((m) => m.kind === 'calibrator').length } },
      { stage: 'groups', what: 'MS groups', count: groups.length, detail: { with_calibrator: groups.filter((g) => g.calibrator).length } },
      { stage: 'calibrate', what: 'active caltables', count: tables.filter((t) => t.status === 'active').length, detail: Object.fromEntries(['bandpass', 'gain', 'gain2'].map((t) => [t, tables.filter((x) => x.table_type === t && x.status === 'active').length])) },
      { stage: 'applycal', what: 'calibrated MS', count: of('calibrated_ms').length, detail: split(of('calibrated_ms')) },
      { stage: 'image', what: 'images', count: of('image').length, detail: split(of('image')) },
      { stage: 'mosaic', what: 'mosaics', count: of('mosaic', (n) => n.endsWith('_pbweighted.fits')).length, detail: split(of('mosaic', (n) => n.endsWith('_pbweighted.fits'))) },
      { stage: 'sources', what: 'source catalogues', count: of('catalog', (n) => n.endsWith('.sources.csv')).length, detail: split(of('catalog', (n) => n.endsWith('.sources.csv'))) },
      { stage: 'qa', what: 'QA reports', count: qa.length, detail: split(qa) },
      { stage: 'publish', what: 'published products', count: byType.filter((r) => r.status === 'published').length, detail: {} },
    ];
    return { stages, failures: recentFailures(layout, limit) };
  } finally {
    await regs.close();
  }
}

/** The newest failure logs (workspace/failed/YYYY-MM-DD/<job>_error.log): job, code, when. */
function recentFailures(layout: Layout, limit: number): PipelineStatus['failures'] {
  const root = path.dirname(layout.failedLogPath('x', '2000-01-01' as never));
  const top = path.dirname(root);
  const out: (PipelineStatus['failures'][number] & { mtime: number })[] = [];
  for (const date of safeList(top)) {
    for (const f of safeList(path.join(top, date)).filter((f) => f.endsWith('_error.log'))) {
      const log = path.join(top, date, f);
      const text = readFileSync(log, 'utf8');
      // The newest entry of the log (a job that failed again appends).
      const last = text.split('\n---\n').at(-1) ?? '';
      out.push({ job: f.replace(/_error\.log$/, ''), date, code: /\[([A-Z0-9_]+)\]/.exec(last)?.[1] ?? '', time: /^time: (.*)$/m.exec(last)?.[1] ?? '', log, mtime: statSync(log).mtimeMs });
    }
  }
  return out
    .sort((a, b) => b.mtime - a.mtime)
    .slice(0, limit)
    .map(({ mtime: _m, ...rest }) => rest);
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
