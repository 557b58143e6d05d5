/**
 * StreamingWorker and the assembled service, in-process, with the test converter: conversion and
 * metrics, retries with backoff ending in `failed`, input staging, --allow-missing, shutdown with
 * a checkpoint and resumption, the seed's manual requeue, --use-subprocess (including a crash of
 * the child), and a stalled claim taken over.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSubbandName, parseUtc } from '../../ts/groups.js';
import type { Converter } from '../../ts/convert/types.js';
import { StreamService } from '../../ts/stream/service.js';
import { StreamQueue } from '../../ts/stream/queue.js';
import { StreamingWorker, checkpointPathFor } from '../../ts/stream/worker.js';
import { flatOutput } from '../../ts/convert/output.js';
import { INPUT_STAGING_PREFIX } from '../../ts/stream/inputs.js';
import { cleanupTmpDirs, tmpDir } from '../helpers.js';
// @ts-expect-error -- a plain JavaScript fixture shared with child processes
import { makeTestConverter } from './fixtures/test-converter.mjs';
import { operatorSql } from './backend.js';
import { ERROR, WARN, captureLog, deliver, ensureDist, groupNames, rng, shuffle, stamp, testConfig, testConverterModule, waitFor, type TestStreamConfig } from './helpers.js';

afterAll(cleanupTmpDirs);

const T0 = parseUtc('2025-10-05T12:30:00');
const G0 = stamp(T0);
const mkConverter = makeTestConverter as (o?: Record<string, unknown>) => Converter;

interface Running {
  svc: StreamService;
  cfg: TestStreamConfig;
  done: Promise<void>;
  q: () => StreamQueue;
  log: ReturnType<typeof captureLog>;
  stop: () => Promise<void>;
}

async function startService(over: Partial<TestStreamConfig> = {}, converter?: Converter): Promise<Running> {
  const dir = tmpDir();
  const cfg = testConfig(dir, over);
  mkdirSync(cfg.inputDir, { recursive: true });
  const log = captureLog();
  const svc = new StreamService(cfg, { converter: converter ?? mkConverter(), log: log.log });
  const done = svc.run();
  await svc.ready;
  return {
    svc,
    cfg,
    done,
    q: () => svc.queueDb!,
    log,
    stop: async () => {
      svc.stop();
      await done;
    },
  };
}

function deliverGroup(input: string, startMs: number, opts: { subbands?: number[]; jitterS?: number; seed?: number } = {}): string[] {
  const rand = rng(opts.seed ?? 1);
  const names = groupNames(startMs, { jitterS: opts.jitterS ?? 10, rand }).filter((n) => !opts.subbands || opts.subbands.includes(n.sb));
  return shuffle(names, rand).map((n) => deliver(input, n.name));
}

async function stateOf(r: Running, g: string) {
  return (await r.q().group(g))?.state;
}

describe('StreamingWorker', () => {
  it('converts a complete group, records its metrics, and writes the MS atomically', async () => {
    const r = await startService({ profile: true });
    const files = deliverGroup(r.cfg.inputDir, T0, { jitterS: 0 });
    await waitFor(async () => (await stateOf(r, G0)) === 'completed', 'completion');
    const ms = path.join(r.cfg.outputDir, `${G0}.ms`);
    const manifest = JSON.parse(readFileSync(path.join(ms, 'manifest.json'), 'utf8'));
    expect(manifest.inputs.map((i: { real: string }) => i.real).sort()).toEqual([...files].sort());
    expect(manifest.inputs.every((i: { symlink: boolean }) => i.symlink)).toBe(true);
    expect(manifest.threads).toBe(2); // --omp-threads
    const [m] = await r.q().metrics();
    expect(m!.groupId).toBe(G0);
    expect(m!.loadS! + m!.phaseS! + m!.writeS!).toBeLessThanOrEqual(m!.totalS! + 1e-9);
    expect(Object.keys(m!.detail ?? {})).toEqual(expect.arrayContaining(['stepsS', 'stageInputsS']));
    expect(await r.q().group(G0)).toMatchObject({ state: 'completed', stage: 'processing_fresh', retryCount: 0, error: null });
    // Stopping waits for the attempt to finish: its logs and clean-up.
    await r.stop();
    expect(r.log.msgs().some((x) => x.startsWith(`Group ${G0} completed in `))).toBe(true);
    expect(r.log.msgs().some((x) => x.startsWith(`Profile of ${G0}: `))).toBe(true);
    // --cleanup-temp (on in testConfig) removed the input staging directory.
    expect(readdirSync(r.cfg.scratchDir!).filter((n) => n.startsWith(INPUT_STAGING_PREFIX))).toEqual([]);
    // Nothing half-written is visible in the output directory.
    expect(readdirSync(r.cfg.outputDir)).toEqual([`${G0}.ms`]);
  });

  it('backfills a stage timing the converter did not report', async () => {
    const r = await startService({}, mkConverter({ omit: ['phaseS', 'writeS'] }));
    deliverGroup(r.cfg.inputDir, T0);
    await waitFor(async () => (await stateOf(r, G0)) === 'completed', 'completion');
    const [m] = await r.q().metrics();
    expect(m!.loadS! + m!.phaseS! + m!.writeS!).toBeCloseTo(m!.totalS!, 9);
    expect(m!.phaseS! / m!.writeS!).toBeCloseTo(0.4 / 0.3, 6);
    await r.stop();
  });

  it('retries a failing group with backoff, then marks it failed with an error naming the real file', async () => {
    const r = await startService({ maxRetries: 3, retryBackoffS: 0.1 }, mkConverter({ fail: '_sb03\\.hdf5$' }));
    const files = deliverGroup(r.cfg.inputDir, T0);
    await waitFor(async () => (await stateOf(r, G0)) === 'failed', 'failure', 20_000);
    const bad = files.find((f) => f.endsWith('_sb03.hdf5'))!;
    const g = (await r.q().group(G0))!;
    expect(g.retryCount).toBe(3);
    // The converter saw the staged symlink; the error names the file in the input directory.
    expect(g.error).toBe(`[UVH5_TRUNCATED] ${bad}: file is truncated (test converter)`);
    await r.stop();
    const warnings = r.log.msgs(WARN);
    expect(warnings.filter((x) => x.startsWith(`Group ${G0} attempt `))).toHaveLength(2);
    expect(warnings.find((x) => x.startsWith(`Group ${G0} attempt 2 failed`))).toMatch(/retrying in \d+ s$/);
    const errors = r.log.lines.filter((l) => l.level === ERROR).map((l) => l.msg);
    expect(errors).toEqual([`Group ${G0} failed after 3 attempt(s): [UVH5_TRUNCATED] ${bad}: file is truncated (test converter)`]);
    // The backoff doubled between attempts (0.1 s, then 0.2 s).
    const starts = r.log.lines.filter((l) => String(l.msg).startsWith(`Processing group ${G0}`)).map((l) => l.time as number);
    expect(starts).toHaveLength(3);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(100);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(200);
  });

  it('copies inputs with --stage-inputs and keeps the staging directory without --cleanup-temp', async () => {
    const r = await startService({ stageInputs: true, stageWorkers: 3, cleanupTemp: false });
    deliverGroup(r.cfg.inputDir, T0);
    await waitFor(async () => (await stateOf(r, G0)) === 'completed', 'completion');
    const manifest = JSON.parse(readFileSync(path.join(r.cfg.outputDir, `${G0}.ms`, 'manifest.json'), 'utf8'));
    expect(manifest.inputs).toHaveLength(16);
    expect(manifest.inputs.every((i: { symlink: boolean; path: string }) => !i.symlink && i.path.startsWith(r.cfg.scratchDir!))).toBe(true);
    await r.stop();
    const kept = readdirSync(r.cfg.scratchDir!).filter((n) => n.startsWith(INPUT_STAGING_PREFIX));
    expect(kept).toHaveLength(1);
    const copies = readdirSync(path.join(r.cfg.scratchDir!, kept[0]!));
    expect(copies).toHaveLength(16);
    expect(copies.every((n) => lstatSync(path.join(r.cfg.scratchDir!, kept[0]!, n)).isFile())).toBe(true);
  });

  it('reports a group that stays incomplete, and with --allow-missing converts it with the gaps flagged', async () => {
    const plain = await startService({ collectingTimeoutS: 0.3 });
    deliverGroup(plain.cfg.inputDir, T0, { subbands: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] });
    const msg = `Group ${G0} has been waiting for missing subbands longer than 0 s`;
    await waitFor(() => plain.log.msgs(WARN).includes(msg), 'the missing-subbands warning');
    await new Promise((res) => setTimeout(res, 400));
    expect(plain.log.msgs(WARN).filter((x) => x === msg)).toHaveLength(1);
    expect(await stateOf(plain, G0)).toBe('collecting');
    await plain.stop();

    const allow = await startService({ collectingTimeoutS: 0.3, convert: { ...testConfig('/x').convert, allowMissing: true } });
    deliverGroup(allow.cfg.inputDir, T0, { subbands: [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15] });
    await waitFor(async () => (await stateOf(allow, G0)) === 'completed', 'completion with a missing subband');
    const manifest = JSON.parse(readFileSync(path.join(allow.cfg.outputDir, `${G0}.ms`, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ missing: [8], allowMissing: true });
    await allow.stop();
    expect(allow.log.msgs(WARN)).toContain(`${G0}: missing subbands 8 flagged`);
  });

  it('on stop, checkpoints the running conversion and gives the claim back; the next run resumes it', async () => {
    const slow = () => mkConverter({ steps: 40, stepMs: 50 });
    const first = await startService({}, slow());
    deliverGroup(first.cfg.inputDir, T0);
    await waitFor(async () => (await stateOf(first, G0)) === 'in_progress', 'the claim');
    await new Promise((res) => setTimeout(res, 300));
    await first.stop();
    const g = (await StreamQueue.open(first.cfg.queueDb).then(async (q) => {
      const x = await q.group(G0);
      await q.close();
      return x;
    }))!;
    expect(g).toMatchObject({ state: 'pending', stage: 'resuming', retryCount: 0, checkpointPath: checkpointPathFor(first.cfg.checkpointDir!, G0, 1) });
    const step = JSON.parse(readFileSync(g.checkpointPath!, 'utf8')).step as number;
    expect(step).toBeGreaterThan(0);
    expect(existsSync(path.join(first.cfg.outputDir, `${G0}.ms`))).toBe(false);

    const second = new StreamService(first.cfg, { converter: slow(), log: captureLog().log });
    const done = second.run();
    await second.ready;
    await waitFor(async () => (await second.queueDb!.group(G0))?.state === 'completed', 'the resumed conversion', 20_000);
    const manifest = JSON.parse(readFileSync(path.join(first.cfg.outputDir, `${G0}.ms`, 'manifest.json'), 'utf8'));
    expect(manifest.resumedFromStep).toBe(step);
    expect((await second.queueDb!.group(G0))?.stage).toBe('resuming');
    second.stop();
    await done;
  });

  it("handles the seed's manual requeue UPDATE: resumes from a checkpoint when there is one", async () => {
    const r = await startService();
    deliverGroup(r.cfg.inputDir, T0);
    await waitFor(async () => (await stateOf(r, G0)) === 'completed', 'completion');
    await r.stop();
    // The operator removes the output, leaves a checkpoint behind, and requeues by hand.
    execFileSync('rm', ['-rf', path.join(r.cfg.outputDir, `${G0}.ms`)]);
    writeFileSync(checkpointPathFor(r.cfg.checkpointDir!, G0), JSON.stringify({ step: 2 }));
    operatorSql(r.cfg.queueDb, `UPDATE ingest_queue SET state='pending', processing_stage='collecting' WHERE group_id='${G0}';`);
    const again = new StreamService(r.cfg, { converter: mkConverter(), log: captureLog().log });
    const done = again.run();
    await again.ready;
    await waitFor(async () => (await again.queueDb!.group(G0))?.state === 'completed', 'the requeued group');
    expect((await again.queueDb!.group(G0))?.stage).toBe('resuming');
    expect(JSON.parse(readFileSync(path.join(r.cfg.outputDir, `${G0}.ms`, 'manifest.json'), 'utf8')).resumedFromStep).toBe(2);
    again.stop();
    await done;
  });

  it('converts in a child process with --use-subprocess, and a crash there fails only that attempt', async () => {
    ensureDist();
    const dir = tmpDir();
    const logFile = path.join(dir, 'calls.jsonl');
    process.env.CONTIMG_TEST_CONVERTER_LOG = logFile;
    process.env.CONTIMG_TEST_CONVERTER_CRASH = '2025-10-05T12:35:\\d\\d_sb05\\.hdf5$';
    try {
      const r = await startService({ useSubprocess: true, converterModule: testConverterModule, maxRetries: 2, retryBackoffS: 0.05 });
      deliverGroup(r.cfg.inputDir, T0, { jitterS: 0 });
      await waitFor(async () => (await stateOf(r, G0)) === 'completed', 'completion in a child', 20_000);
      const calls = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(calls.filter((c) => c.event === 'done')).toHaveLength(1);
      expect(calls.every((c) => c.pid !== process.pid)).toBe(true);
      // The next group's converter process aborts (a native crash): the service survives.
      const g1 = stamp(T0 + 300_000);
      deliverGroup(r.cfg.inputDir, T0 + 300_000, { jitterS: 0 });
      await waitFor(async () => (await stateOf(r, g1)) === 'failed', 'the crashed group to fail', 20_000);
      expect((await r.q().group(g1))?.error).toMatch(
        /^\[STREAM_CHILD_CRASHED\] group 2025-10-05T12:35:00 \(16 files in .*\): converter process \d+ for 2025-10-05T12:35:00 was killed by SIGABRT before reporting a result; its last output: /,
      );
      const g2 = stamp(T0 + 600_000);
      deliverGroup(r.cfg.inputDir, T0 + 600_000, { jitterS: 0 });
      await waitFor(async () => (await stateOf(r, g2)) === 'completed', 'the service to carry on', 20_000);
      await r.stop();
    } finally {
      delete process.env.CONTIMG_TEST_CONVERTER_LOG;
      delete process.env.CONTIMG_TEST_CONVERTER_CRASH;
    }
  }, 60_000);

  it('re-queues a claim that stopped making progress, and the stalled worker cannot overwrite the outcome', async () => {
    const dir = tmpDir();
    const cfg = testConfig(dir, { inProgressTimeoutS: 0.5 });
    const files = path.join(dir, 'files');
    mkdirSync(files);
    deliverGroup(files, T0);
    const q = await StreamQueue.open(cfg.queueDb);
    await q.register(
      readdirSync(files).map((n) => ({ ...(parseSubbandName(n) as { ok: true; name: { timestamp: string; timeMs: number; subband: number } }).name, path: path.join(files, n), sizeBytes: 1024 })),
      { toleranceS: 60, expectedSubbands: 16, chunkMinutes: 5 },
      Date.now() / 1000,
    );
    const workerCfg = {
      output: flatOutput(cfg.outputDir!),
      checkpointDir: cfg.checkpointDir,
      convert: cfg.convert,
      staging: cfg.staging,
      inputs: { copy: false, workers: 1, baseDir: cfg.scratchDir },
      cleanupTemp: true,
      maxRetries: 3,
      maxCrashRecoveries: 5,
      retryBackoffS: 0.05,
      inProgressTimeoutS: 0.5,
      collectingTimeoutS: 600,
      workerPollIntervalS: 0.05,
      leaseS: 60,
      profile: false,
      commandLine: 'test',
    };
    let release!: () => void;
    // Worker A's conversion hangs without reporting progress (a stuck NFS read, say).
    const hung: Converter = async (job, opts, hooks) => {
      await new Promise<void>((r) => (release = r));
      return mkConverter({ steps: 1 })(job, opts, hooks);
    };
    const logA = captureLog();
    const a = new StreamingWorker(q, workerCfg, { converter: hung, log: logA.log, owner: { host: 'node-a', pid: 1, start: 'a' } });
    const aStep = a.step();
    await waitFor(async () => (await q.group(G0))?.state === 'in_progress', "A's claim");
    await new Promise((r) => setTimeout(r, 600));
    const logB = captureLog();
    const b = new StreamingWorker(q, workerCfg, { converter: mkConverter(), log: logB.log, owner: { host: 'node-b', pid: 2, start: 'b' } });
    expect(await b.step()).toBe(true);
    expect(logB.msgs(WARN)).toEqual([
      `Recovered stale in-progress group ${G0}; re-queued for processing (Recovered from stale in_progress state: no progress for more than 0.5 s (claimed by pid 1 on node-a))`,
    ]);
    expect(await q.group(G0)).toMatchObject({ state: 'completed', stage: 'resuming', retryCount: 1, lastClaimedBy: { host: 'node-b', pid: 2, start: 'b' } });
    release();
    await aStep;
    expect(logA.msgs(WARN).some((m) => m.includes('its claim was taken over meanwhile'))).toBe(true);
    expect(await q.group(G0)).toMatchObject({ state: 'completed', retryCount: 1, lastClaimedBy: { host: 'node-b', pid: 2, start: 'b' } });
    await q.close();
  });
});
