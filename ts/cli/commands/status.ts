/**
 * `contimg status`: the streaming queue at a glance — counts by state, the most recent groups,
 * the latest conversion timings, and the warnings the service's monitor would raise now. Reads
 * the same database the service writes (opening it applies any pending migration, as the
 * service itself would on its next start). The value is ts/stream/status.ts's `queueStatus`, the
 * same one the ops dashboard and `/metrics` show.
 */
import { DEFAULT_TMPFS_PATH } from '../../convert/staging.js';
import { layoutBaseOptions, openLayout, type Layout } from '../../layout/index.js';
import { defineCommand } from '../command.js';
import type { Io } from '../io.js';
import { report } from '../io.js';
import { existingQueueTarget, queueHealthOptions, queueStatusOptions } from './stream.js';

export const statusCommand = defineCommand({
  command: 'status',
  describe: 'Show the streaming queue (counts by state, recent groups, metrics, warnings), or with --stage-base/--data-base every pipeline stage',
  builder: (y) =>
    layoutBaseOptions(queueHealthOptions(y))
      .option('limit', { type: 'number', default: 10, describe: 'How many recent groups and metrics to list' })
      // The queue does not record where the service writes; given these, status also reports the
      // staging that dead conversions left there (what pauses claims on a full disk).
      .option('output-dir', { type: 'string', describe: "The service's --output-dir: report staging left there by conversions that died" })
      .option('tmpfs-path', { type: 'string', default: DEFAULT_TMPFS_PATH, describe: "The service's --tmpfs-path (checked for dead staging too)" })
      .option('scratch-dir', { type: 'string', describe: "The service's --scratch-dir (checked for dead staging too)" })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
  async run(a, { io }) {
    if (a['stage-base'] || a['data-base']) return pipelineStatusReport(io, a.json, openLayout({ stageBase: a['stage-base'], dataBase: a['data-base'] }), a.limit);
    const target = existingQueueTarget(a);
    // The queue (Kysely over SQLite) loads only for this command.
    const { StreamQueue } = await import('../../stream/queue.js');
    const queue = await StreamQueue.open(target);
    try {
      const { queueStatus } = await import('../../stream/status.js');
      const value = await queueStatus(queue, queueStatusOptions(a), Date.now() / 1000);
      const { counts, warnings } = value;
      report(io, a.json, value, () => {
        const lines: string[] = [];
        lines.push(`Queue ${queue.file}: ${value.total} group(s) — ${Object.entries(counts).map(([s, n]) => `${s} ${n}`).join(', ')}`);
        lines.push('', 'Recent groups:');
        if (value.groups.length === 0) lines.push('  (none)');
        for (const g of value.groups) {
          lines.push(
            `  ${g.groupId}  ${g.state.padEnd(11)} ${String(g.processingStage ?? '').padEnd(16)} ${String(g.subbands).padStart(2)}/${g.expectedSubbands}` +
              `  retries ${g.retryCount}${g.claimedBy && g.state === 'in_progress' ? `  by ${g.claimedBy}` : ''}${g.error ? `\n      error: ${g.error}` : ''}`,
          );
        }
        lines.push('', 'Workers holding claims:');
        if (value.workers.length === 0) lines.push('  (none)');
        for (const w of value.workers) {
          const lease = w.leaseRemainingS === null ? 'no lease' : w.leaseRemainingS >= 0 ? `lease ${w.leaseRemainingS.toFixed(0)} s left` : `lease expired ${(-w.leaseRemainingS).toFixed(0)} s ago`;
          lines.push(`  ${w.worker ?? '?'} (${w.host ?? '?'}:${w.pid ?? '?'})  ${w.groupId}  claim ${w.token}  heartbeat ${w.heartbeatAgeS.toFixed(0)} s ago, ${lease}`);
        }
        lines.push('', 'Recent conversions (s):');
        if (value.metrics.length === 0) lines.push('  (none)');
        const f = (x: number | null) => (x === null ? '   -  ' : x.toFixed(1).padStart(6));
        for (const m of value.metrics) lines.push(`  ${m.groupId}  total ${f(m.totalS)}  load ${f(m.loadS)}  phase ${f(m.phaseS)}  write ${f(m.writeS)}`);
        lines.push('', warnings.length ? 'Warnings:' : 'No warnings.');
        for (const w of warnings) lines.push(`  WARNING: ${w}`);
        return lines.join('\n') + '\n';
      });
      return 0;
    } finally {
      await queue.close();
    }
  },
});

/** Every pipeline stage: what its registry holds, and the newest failures. */
async function pipelineStatusReport(io: Io, json: boolean, layout: Layout, limit: number): Promise<number> {
  const { pipelineStatus } = await import('../../pipeline/status.js');
  const st = await pipelineStatus(layout, limit);
  report(io, json, st, () => {
    const lines = ['Pipeline stages:'];
    for (const s of st.stages) {
      const detail = Object.entries(s.detail).map(([k, n]) => `${k} ${n}`).join(', ');
      lines.push(`  ${s.stage.padEnd(10)} ${String(s.count).padStart(5)} ${s.what}${detail ? ` (${detail})` : ''}`);
    }
    lines.push('', st.failures.length ? 'Recent failures:' : 'No failures.');
    for (const f of st.failures) lines.push(`  ${f.time}  ${f.job}  [${f.code}]\n      ${f.log}`);
    return lines.join('\n') + '\n';
  });
  return 0;
}
