/**
 * `contimg requeue GROUP`: the safe form of the seed's manual requeue `UPDATE`. The group goes
 * back to `pending` with a fresh retry budget, and the service converts it again (resuming from a
 * checkpoint if one exists). A group in progress under a process that may still be converting it
 * is refused unless `--force`.
 */
import { ContimgError } from '../../error.js';
import { defineCommand } from '../command.js';
import { report } from '../io.js';
import { existingQueueTarget, queueDbOptions } from './stream.js';

export const requeueCommand = defineCommand({
  command: 'requeue <group>',
  describe: 'Put a streaming-queue group back to pending (safe manual requeue)',
  builder: (y) =>
    queueDbOptions(y)
      .positional('group', { type: 'string', demandOption: true, describe: 'Group id, YYYY-MM-DDTHH:MM:SS' })
      .option('force', { type: 'boolean', default: false, describe: 'Requeue even a group that a live process may be converting' })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' }),
  async run(a, { io }) {
    const target = existingQueueTarget(a);
    const { StreamQueue } = await import('../../stream/queue.js');
    const { ownerLiveness } = await import('../../stream/owner.js');
    const queue = await StreamQueue.open(target);
    try {
      const group = String(a.group);
      const r = await queue.requeue(group, { force: a.force, liveness: ownerLiveness }, Date.now() / 1000);
      if (r.kind === 'not-found') throw new ContimgError('NOT_FOUND', `${queue.file}: no group ${group}`);
      if (r.kind === 'refused') throw new ContimgError('STREAM_REQUEUE_REFUSED', r.reason);
      const note =
        r.previous === 'completed'
          ? ' An existing output MS is kept (the converter skips it); delete it first to convert the group again.'
          : r.previous === 'collecting'
            ? ' It is incomplete: the service converts it only with --allow-missing.'
            : '';
      report(io, a.json, { groupId: group, previous: r.previous, state: 'pending' }, () => `Requeued ${group} (was ${r.previous}).${note}\n`);
      return 0;
    } finally {
      await queue.close();
    }
  },
});
