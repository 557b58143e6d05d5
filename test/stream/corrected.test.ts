/**
 * A corrected file that replaces a bad one of a failed group is noticed by the running service
 * (new size and mtime), and the group is requeued and converted, without `contimg requeue`.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Converter } from '../../ts/convert/types.js';
import { ContimgError } from '../../ts/error.js';
import { StreamService } from '../../ts/stream/service.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';
import { captureLog, deliver, groupNames, testConfig, waitFor } from './helpers.js';
// @ts-expect-error -- a plain JavaScript fixture shared with child processes
import { makeTestConverter } from './fixtures/test-converter.mjs';

afterAll(cleanupTmpDirs);

/** The test converter, refusing any input whose content starts with BAD (naming the file). */
function contentChecking(): Converter {
  const inner = (makeTestConverter as (o?: Record<string, unknown>) => Converter)();
  return async (job, opts, hooks) => {
    for (const f of job.inputs) {
      if (readFileSync(f.path).subarray(0, 3).toString() === 'BAD') throw new ContimgError('UVH5_TRUNCATED', `${f.path}: truncated file`);
    }
    return inner(job, opts, hooks);
  };
}

/** The correlator's way: write under `_incomplete`, rename over the final name. */
function writeRenamed(dir: string, name: string, content: Buffer): string {
  const final = path.join(dir, name);
  const temp = final.replace(/\.hdf5$/, '_incomplete.hdf5');
  writeFileSync(temp, content);
  renameSync(temp, final);
  return final;
}

describe('corrected files', () => {
  it('requeues a failed group when its bad file is replaced with a new size and mtime, and converts it', async () => {
    const dir = tmpDir();
    const cfg = testConfig(dir, { maxRetries: 1, settleS: 0.2 });
    const log = captureLog('info');
    const svc = new StreamService(cfg, { converter: contentChecking(), log: log.log });
    const done = svc.run();
    await svc.ready;
    const names = groupNames(Date.UTC(2025, 9, 5, 12, 30, 0));
    const groupId = names[0]!.name.slice(0, 19);
    for (const n of names.slice(1)) deliver(cfg.inputDir, n.name);
    const bad = writeRenamed(cfg.inputDir, names[0]!.name, Buffer.concat([Buffer.from('BAD'), Buffer.alloc(100)]));
    await waitFor(async () => (await svc.queueDb!.group(groupId))?.state === 'failed', 'the failure', 20_000, 50);
    expect((await svc.queueDb!.group(groupId))?.error).toContain(path.basename(bad));

    writeRenamed(cfg.inputDir, names[0]!.name, Buffer.alloc(2048, 7));
    await waitFor(async () => (await svc.queueDb!.group(groupId))?.state === 'completed', 'the corrected group to convert', 30_000, 50);
    const g = await svc.queueDb!.group(groupId);
    expect(g).toMatchObject({ state: 'completed', retryCount: 0, subbands: 16 });
    expect((await svc.queueDb!.files(groupId)).find((f) => f.path === bad)?.sizeBytes).toBe(2048);
    expect(log.lines.some((l) => String(l.msg).startsWith(`Group ${groupId}: ${bad} was replaced (103 → 2048 bytes`))).toBe(true);
    svc.stop();
    await done;
  }, 60_000);
});
