/**
 * `contimg stream` as a process (the compiled CLI, a test converter that takes a few hundred ms):
 * SIGTERM exits 0 after checkpointing, a restart resumes; SIGKILL leaves a claim that the next
 * start re-queues at once; and the `status` and `requeue` commands.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formGroups, parseSubbandName, parseUtc } from '../../ts/groups.js';
import { currentProcess } from '../../ts/stream/owner.js';
import { StreamQueue } from '../../ts/stream/queue.js';
import { hasCheckpoint } from '../../ts/convert/resume.js';
import { cleanupTmpDirs, cli, tmpDir } from '../helpers.js';
import { BACKEND, pgDatabaseUrl, queueDb } from './backend.js';
import { deliver, ensureDist, groupNames, logLines, rng, shuffle, spawnCli, stamp, testConverterModule, waitFor } from './helpers.js';

afterAll(cleanupTmpDirs);
beforeAll(() => ensureDist(), 180_000);

const T0 = parseUtc('2025-10-05T12:30:00');
const G0 = stamp(T0);

function dirs() {
  const d = tmpDir();
  const x = { input: path.join(d, 'in'), output: path.join(d, 'out'), db: queueDb(d, 'streaming_queue'), ck: path.join(d, 'ck'), calls: path.join(d, 'calls.jsonl') };
  mkdirSync(x.input);
  return x;
}

function streamArgs(x: ReturnType<typeof dirs>, extra: string[] = []): string[] {
  return [
    'stream',
    '--input-dir', x.input,
    '--output-dir', x.output,
    '--queue-db', x.db,
    '--checkpoint-dir', x.ck,
    '--worker-poll-interval', '0.1',
    '--poll-interval', '0.2',
    '--settle-time', '0.2',
    '--no-monitoring',
    '--no-tmpfs',
    '--log-level', 'DEBUG',
    '--converter-module', testConverterModule,
    ...extra,
  ];
}

const slowEnv = (x: ReturnType<typeof dirs>) => ({ CONTIMG_TEST_CONVERTER_STEPS: '10', CONTIMG_TEST_CONVERTER_STEP_MS: '60', CONTIMG_TEST_CONVERTER_LOG: x.calls });

async function readGroup(db: string, g: string) {
  const q = await StreamQueue.open(db);
  try {
    return await q.group(g);
  } finally {
    await q.close();
  }
}

/** The fake converter's calls so far; it may be writing a line right now, so only whole lines count. */
function calls(x: ReturnType<typeof dirs>): Record<string, any>[] {
  if (!existsSync(x.calls)) return [];
  const text = readFileSync(x.calls, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
}

describe('contimg stream (a process)', () => {
  it('stops on SIGTERM with exit 0, checkpointing the running conversion; a restart resumes it', async () => {
    const x = dirs();
    const svc = spawnCli(streamArgs(x), slowEnv(x));
    const names = groupNames(T0, { jitterS: 20 });
    for (const n of names) deliver(x.input, n.name);
    // The group is named by its earliest (jittered) timestamp.
    const G0 = stamp(Math.min(...names.map((n) => n.timeMs)));
    await waitFor(() => calls(x).some((c) => c.event === 'start'), 'the conversion to start', 20_000);
    svc.child.kill('SIGTERM');
    const { code, signal } = await svc.exit;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    const lines = logLines(svc.stderr());
    expect(lines.some((l) => l.msg === 'SIGTERM received: no new claims; the running conversion checkpoints and stops')).toBe(true);
    expect(lines.at(-1)?.msg).toBe('Streaming converter stopped');
    expect(calls(x).map((c) => c.event)).toEqual(['start', 'aborted']);
    expect(await readGroup(x.db, G0)).toMatchObject({ state: 'pending', stage: 'resuming', retryCount: 0 });
    expect(hasCheckpoint(x.ck, G0)).toBe(true);

    const again = spawnCli(streamArgs(x), slowEnv(x));
    await waitFor(async () => (await readGroup(x.db, G0))?.state === 'completed', 'the resumed group', 20_000);
    again.child.kill('SIGINT');
    expect((await again.exit).code).toBe(0);
    const starts = calls(x).filter((c) => c.event === 'start');
    expect(starts).toHaveLength(2);
    expect(starts[1]!.resumedFromStep).toBe(calls(x).find((c) => c.event === 'aborted')!.step);
    expect(await readGroup(x.db, G0)).toMatchObject({ state: 'completed', stage: 'resuming', retryCount: 0 });
  }, 60_000);

  it('after SIGKILL, the next start re-queues the dead claim at once (not after --in-progress-timeout)', async () => {
    const x = dirs();
    // The input staging goes to a scratch directory of the test's own, and is to be cleaned up.
    const scratch = path.join(tmpDir(), 'scratch');
    const args = ['--scratch-dir', scratch, '--cleanup-temp'];
    const svc = spawnCli(streamArgs(x, args), slowEnv(x));
    for (const n of groupNames(T0)) deliver(x.input, n.name);
    await waitFor(() => calls(x).some((c) => c.event === 'start'), 'the conversion to start', 20_000);
    svc.child.kill('SIGKILL');
    expect((await svc.exit).signal).toBe('SIGKILL');
    const g = await readGroup(x.db, G0);
    expect(g?.state).toBe('in_progress');
    expect(g?.state === 'in_progress' && g.claimedBy?.pid).toBe(svc.child.pid);
    // The killed worker's input staging is left, named with its pid and host; beside it, those
    // of a live process on this host and of a process on another host.
    const dead = readdirSync(scratch);
    expect(dead).toEqual([expect.stringMatching(new RegExp(`^contimg-inputs-${G0.replace(/[^A-Za-z0-9_.-]/g, '_')}-${svc.child.pid}@.+-[A-Za-z0-9]{6}$`))]);
    const live = `contimg-inputs-other-${process.pid}@${dead[0]!.split('@')[1]}`;
    const remote = `contimg-inputs-other-${svc.child.pid}@some-other-host-abc123`;
    for (const d of [live, remote]) mkdirSync(path.join(scratch, d));

    const again = spawnCli(streamArgs(x, ['--in-progress-timeout', '900', ...args]), slowEnv(x));
    await waitFor(async () => (await readGroup(x.db, G0))?.state === 'completed', 'the recovered group', 20_000);
    again.child.kill('SIGTERM');
    expect((await again.exit).code).toBe(0);
    expect(await readGroup(x.db, G0)).toMatchObject({ state: 'completed', stage: 'resuming', retryCount: 0, crashRecoveries: 1, error: null });
    const lines = logLines(again.stderr());
    expect(lines.some((l) => String(l.msg).startsWith(`Recovered stale in-progress group ${G0}; re-queued for processing (Recovered from in_progress state: the claiming process (pid ${svc.child.pid} `))).toBe(true);
    // The dead worker's staging went at start; the rerun's own went after its conversion.
    expect(lines.some((l) => l.msg === `Removed ${path.join(scratch, dead[0]!)}, the input staging of a worker whose process is gone`)).toBe(true);
    expect(readdirSync(scratch).sort()).toEqual([live, remote].sort());
  }, 60_000);

  it('two services sharing one queue database and input directory convert each group exactly once', async () => {
    const x = dirs();
    const env = { CONTIMG_TEST_CONVERTER_STEPS: '4', CONTIMG_TEST_CONVERTER_STEP_MS: '40', CONTIMG_TEST_CONVERTER_LOG: x.calls };
    const a = spawnCli(streamArgs(x), env);
    const b = spawnCli(streamArgs(x), env);
    const rand = rng(99);
    const names = shuffle([0, 1, 2, 3, 4, 5].flatMap((i) => groupNames(T0 + i * 300_000, { jitterS: 40, rand })), rand);
    for (const n of names) {
      deliver(x.input, n.name);
      if (rand() < 0.2) await new Promise((r) => setTimeout(r, 20));
    }
    const expected = formGroups(names.map((n) => ({ ...(parseSubbandName(n.name) as { ok: true; name: { timestamp: string; timeMs: number; subband: number } }).name, path: n.name })), 60).groups;
    const q = await StreamQueue.open(x.db);
    await waitFor(async () => (await q.counts()).completed === expected.length, 'every group completed', 30_000);
    expect((await q.recentGroups(100)).map((g) => g.groupId).sort()).toEqual(expected.map((g) => g.id).sort());
    for (const g of expected) expect((await q.files(g.id)).map((f) => path.basename(f.path)).sort()).toEqual([...g.files.values()].map((f) => f.path).sort());
    await q.close();
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect([(await a.exit).code, (await b.exit).code]).toEqual([0, 0]);
    const done = calls(x).filter((c) => c.event === 'done');
    expect(done.map((c) => c.group).sort()).toEqual(expected.map((g) => g.id).sort());
    // Both did some of the work.
    expect(new Set(done.map((c) => c.pid)).size).toBe(2);
  }, 60_000);

  it('lists every seed flag with its seed default in --help', async () => {
    const r = await cli('stream', '--help');
    expect(r.code).toBe(0);
    // yargs wraps long descriptions onto lines indented deeper than the option names (6 spaces).
    const help = r.stdout.replace(/\n {7,}/g, ' ');
    for (const [flag, dflt] of [
      ['--input-dir', null],
      ['--output-dir', null],
      ['--scratch-dir', null],
      ['--checkpoint-dir', null],
      ['--chunk-duration', '5'],
      ['--omp-threads', '4'],
      ['--use-subprocess', 'false'],
      ['--stage-inputs', 'false'],
      ['--stage-workers', '4'],
      ['--monitoring', 'true'],
      ['--monitor-interval', '60'],
      ['--profile', 'false'],
      ['--log-level', '"INFO"'],
      ['--queue-db', '"streaming_queue.sqlite3"'],
      ['--expected-subbands', '16'],
      ['--max-retries', '3'],
      ['--in-progress-timeout', '900'],
      ['--collecting-timeout', '600'],
      ['--poll-interval', '5'],
      ['--worker-poll-interval', '5'],
      ['--cleanup-temp', 'false'],
      ['--allow-missing', 'false'],
      ['--group-tolerance', '60'],
      ['--layout', 'false'],
    ] as const) {
      const line = help.split('\n').find((l) => l.trimStart().startsWith(flag + ' '));
      expect(line, flag).toBeDefined();
      if (dflt !== null) expect(line!.replace(/\s+/g, ' '), flag).toMatch(new RegExp(`\\[default: ${dflt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\]`));
    }
    expect(r.stdout).not.toContain('--converter-module');
    const bad = await cli('stream', '--input-dir', 'a', '--output-dir', 'b', '--log-level', 'LOUD');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown log level 'LOUD'");
  });
});

describe('contimg status and requeue', () => {
  it('shows counts, recent groups, metrics and warnings; requeues a failed group; refuses a live claim', async () => {
    const x = dirs();
    const svc = spawnCli(streamArgs(x, ['--max-retries', '1', '--collecting-timeout', '0.5']), { CONTIMG_TEST_CONVERTER_FAIL: '_sb03\\.hdf5$' });
    for (const n of groupNames(T0)) deliver(x.input, n.name);
    for (const n of groupNames(T0 + 300_000).slice(0, 10)) deliver(x.input, n.name);
    await waitFor(async () => (await readGroup(x.db, G0))?.state === 'failed', 'the failure', 20_000);
    await new Promise((r) => setTimeout(r, 600));
    svc.child.kill('SIGTERM');
    expect((await svc.exit).code).toBe(0);

    const s = await cli('status', '--queue-db', x.db, '--json', '--collecting-timeout', '0.5');
    expect(s.code).toBe(0);
    const status = JSON.parse(s.stdout);
    expect(status.counts).toEqual({ collecting: 1, pending: 0, in_progress: 0, completed: 0, failed: 1 });
    expect(status.groups.map((g: { groupId: string; state: string }) => [g.groupId, g.state])).toEqual([
      [stamp(T0 + 300_000), 'collecting'],
      [G0, 'failed'],
    ]);
    expect(status.groups[1].error).toMatch(/^\[UVH5_TRUNCATED\] .*_sb03\.hdf5: file is truncated/);
    expect(status.warnings).toEqual([`Group ${stamp(T0 + 300_000)} has been waiting for missing subbands longer than 1 s`]);
    const text = await cli('status', '--queue-db', x.db);
    expect(text.stdout).toContain('collecting 1, pending 0, in_progress 0, completed 0, failed 1');
    expect(text.stdout).toContain(`  ${G0}  failed`);

    const rq = await cli('requeue', G0, '--queue-db', x.db);
    expect(rq).toMatchObject({ code: 0, stdout: `Requeued ${G0} (was failed).\n` });
    expect(await readGroup(x.db, G0)).toMatchObject({ state: 'pending', retryCount: 0 });
    const missing = await cli('requeue', '2030-01-01T00:00:00', '--queue-db', x.db);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no group 2030-01-01T00:00:00');

    // A group claimed by a live process (this one) is refused without --force.
    const q = await StreamQueue.open(x.db);
    const c = await q.claimNext(currentProcess(), Date.now() / 1000);
    await q.close();
    expect(c?.groupId).toBe(G0);
    const refused = await cli('requeue', G0, '--queue-db', x.db);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`STREAM_REQUEUE_REFUSED\\]: ${G0} is in progress, claimed by pid ${process.pid} on .* which is still running; use --force`));
    const forced = await cli('requeue', G0, '--queue-db', x.db, '--force', '--json');
    expect(JSON.parse(forced.stdout)).toEqual({ groupId: G0, previous: 'in_progress', state: 'pending' });
    if (BACKEND === 'postgres') {
      // A database that does not exist on the server: refused, naming it, with no queue created.
      const none = await cli('status', '--queue-db', pgDatabaseUrl('nope'));
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('database "nope" does not exist');
    } else {
      const none = await cli('status', '--queue-db', path.join(x.input, 'nope.sqlite3'));
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('no queue database');
    }
  }, 60_000);
});
