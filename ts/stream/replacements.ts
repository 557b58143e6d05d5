/**
 * Corrected files. When a group fails because of a bad subband, the operator (or the correlator)
 * writes a corrected file under the same name. The watcher never looks at a registered path
 * again, so without this the group stayed failed until `contimg requeue`. The files of failed
 * groups are few; each pass stats them and a file whose size or modification time differs from
 * what was registered, and that has been quiet for the settle time, requeues its group.
 */
import { stat } from 'node:fs/promises';
import type { Logger } from '../log.js';
import type { StreamQueue } from './queue.js';

/** Requeues the failed groups whose files were replaced; returns their ids. */
export async function requeueCorrectedFiles(queue: StreamQueue, settleS: number, log: Logger, nowMs = Date.now()): Promise<string[]> {
  const requeued: string[] = [];
  for (const f of await queue.filesOfFailedGroups()) {
    if (requeued.includes(f.groupId)) continue;
    const s = await stat(f.path).catch(() => undefined);
    if (!s?.isFile()) continue;
    const changed = s.size !== f.sizeBytes || (f.mtimeMs !== null && s.mtimeMs !== f.mtimeMs);
    // Still being written in place: wait until it holds still (a rename into place is at once quiet).
    if (!changed || nowMs - s.mtimeMs < settleS * 1000) continue;
    const group = await queue.requeueReplaced(f.path, s.size, s.mtimeMs, nowMs / 1000);
    if (!group) continue;
    requeued.push(group);
    log.info(
      { group, path: f.path },
      `Group ${group}: ${f.path} was replaced (${f.sizeBytes ?? '?'} → ${s.size} bytes, modified ${new Date(s.mtimeMs).toISOString()}); re-queued`,
    );
  }
  return requeued;
}
