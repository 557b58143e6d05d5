/**
 * End to end with the real converter (`defaultConverter`, the native core) and real simulated
 * DSA-110 groups from `contimg simulate`: the service as a process, killed with SIGKILL at random
 * moments while files stream in, ends with every group converted and byte-identical to
 * `contimg convert` of the same files; a truncated subband fails its group after the retries,
 * naming the file; a group that never completes is reported; `--use-subprocess` gives the same
 * bytes; and the event loop stays responsive while the native core converts.
 *
 * TODO(lead): these need only the real converter behind `defaultConverter` (ts/stream/converter.ts)
 * and `contimg simulate`. Both exist in this tree, so the suite runs; it skips itself where the
 * native core is not built.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../../ts/native.js';
import { defaultConverter, realConverterAvailable } from '../../ts/stream/converter.js';
import { StreamQueue } from '../../ts/stream/queue.js';
import { StreamService } from '../../ts/stream/service.js';
import { cleanupTmpDirs, cli, cliJson, tmpDir } from '../helpers.js';
import { BACKEND, queueDb } from './backend.js';
import { WARN, captureLog, ensureDist, logLines, rng, shuffle, spawnCli, testConfig, waitFor } from './helpers.js';

afterAll(cleanupTmpDirs);

const SMALL = ['--antennas', '16', '--channels', '8', '--integrations', '6'];

interface Simulated {
  dir: string;
  groups: { group: string; files: string[] }[];
}

async function simulate(groups: number, seed: number, extra: string[] = []): Promise<Simulated> {
  const dir = tmpDir('contimg-sim-');
  const s = await cliJson<{ groups: { group: string; files: string[] }[] }>('simulate', '--output-dir', dir, '--groups', String(groups), '--jitter-s', '20', '--seed', String(seed), ...SMALL, ...extra);
  return { dir, groups: s.groups };
}

/** The correlator's protocol: write `…_incomplete.hdf5`, rename when done. */
function deliverFile(src: string, input: string): void {
  const final = path.join(input, path.basename(src));
  const temp = final.replace(/\.hdf5$/, '_incomplete.hdf5');
  copyFileSync(src, temp);
  renameSync(temp, final);
}

function digest(ms: string) {
  return native().msDigest(ms);
}

async function queueState(db: string) {
  // A PostgreSQL queue's database exists from the start (queueDb creates it); a SQLite file only once the service made it.
  if (BACKEND === 'sqlite' && !existsSync(db)) return undefined;
  const q = await StreamQueue.open(db);
  try {
    return { counts: await q.counts(), groups: await q.recentGroups(100), metrics: await q.metrics() };
  } finally {
    await q.close();
  }
}

function streamArgs(root: string, db: string, extra: string[] = []): string[] {
  return [
    'stream',
    '--input-dir', path.join(root, 'in'),
    '--output-dir', path.join(root, 'out'),
    '--queue-db', db,
    '--checkpoint-dir', path.join(root, 'ck'),
    '--worker-poll-interval', '0.1',
    '--settle-time', '0.2',
    '--monitor-interval', '0.5',
    '--no-tmpfs',
    '--omp-threads', '2',
    ...extra,
  ];
}

describe.skipIf(!realConverterAvailable())('streaming with the real converter', () => {
  let sim: Simulated;
  const reference = new Map<string, ReturnType<typeof digest>>();

  beforeAll(async () => {
    ensureDist();
    sim = await simulate(3, 21);
    const ref = tmpDir();
    const r = await cli('convert', '--input-dir', sim.dir, '--output-dir', ref, '--no-tmpfs', '--json');
    expect(r.code).toBe(0);
    for (const g of sim.groups) reference.set(g.group, digest(path.join(ref, `${g.group}.ms`)));
  }, 300_000);

  it('converts every group exactly as `contimg convert` does, through SIGKILLs at random moments', async () => {
    const root = tmpDir();
    const db = queueDb(root, 'streaming_queue');
    const input = path.join(root, 'in');
    mkdirSync(input, { recursive: true });
    const rand = rng(20251005);
    const files = sim.groups.flatMap((g) => shuffle(g.files, rand));
    const args = streamArgs(root, db, ['--max-retries', '20', '--chunk-integrations', '1', '--retry-backoff', '0.1']);
    let svc = spawnCli(args);
    let kills = 0;
    let killedInConversion = 0;
    let delivered = 0;
    // Four kills while files arrive; then, until one has landed inside a conversion, up to four
    // more aimed at one (a conversion of these small groups takes about a second).
    while (delivered < files.length || kills < 4 || (killedInConversion === 0 && kills < 8)) {
      // Deliver a few files, then kill the service (at a random moment, or while it converts) and start it again.
      const n = Math.min(files.length - delivered, 1 + Math.floor(rand() * 8));
      for (const f of files.slice(delivered, delivered + n)) deliverFile(f, input);
      delivered += n;
      if (kills >= 4 || rand() < 0.6 || delivered === files.length) {
        const aimed = kills % 2 === 1 || kills >= 4;
        const converting =
          aimed && (await waitFor(async () => (await queueState(db))?.counts.in_progress === 1, 'a conversion to kill', 30_000, 10).then(() => true, () => false));
        if (converting) killedInConversion++;
        else await new Promise((r) => setTimeout(r, Math.floor(rand() * 300)));
        svc.child.kill('SIGKILL');
        await svc.exit;
        kills++;
        // Whatever is visible in the output directory is a complete MS, identical to the reference.
        const out = path.join(root, 'out');
        for (const name of existsSync(out) ? readdirSync(out).filter((x) => !x.startsWith('.')) : []) {
          expect(digest(path.join(out, name))).toEqual(reference.get(name.replace(/\.ms$/, '')));
        }
        svc = spawnCli(args);
      } else {
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 400)));
      }
    }
    expect(killedInConversion, 'no kill landed inside a conversion').toBeGreaterThan(0);
    await waitFor(async () => (await queueState(db))?.counts.completed === sim.groups.length, 'all groups completed', 120_000, 200);
    svc.child.kill('SIGTERM');
    expect((await svc.exit).code).toBe(0);
    const st = (await queueState(db))!;
    expect(st.counts).toEqual({ collecting: 0, pending: 0, in_progress: 0, completed: 3, failed: 0 });
    expect(st.groups.map((g) => g.groupId).sort()).toEqual(sim.groups.map((g) => g.group).sort());
    expect(readdirSync(path.join(root, 'out')).filter((x) => !x.startsWith('.')).sort()).toEqual(sim.groups.map((g) => `${g.group}.ms`).sort());
    for (const g of sim.groups) expect(digest(path.join(root, 'out', `${g.group}.ms`)), g.group).toEqual(reference.get(g.group));
    expect(st.metrics).toHaveLength(3);
    // At least one kill landed during a conversion, which then resumed after the restart.
    expect(st.groups.some((g) => g.crashRecoveries > 0 && g.retryCount === 0 && g.stage === 'resuming')).toBe(true);
    for (const m of st.metrics) expect(m.loadS! + m.phaseS! + m.writeS!).toBeLessThanOrEqual(m.totalS! + 1e-6);
  }, 300_000);

  it('survives 10 SIGKILLs aimed at one group\'s conversion with --max-retries 1: deaths are not retries; it completes, resuming, byte-identical', async () => {
    // 24 integrations converted one per chunk: long enough that every kill lands mid-conversion.
    const dir = tmpDir('contimg-sim-');
    const s = await cliJson<{ groups: { group: string; files: string[] }[] }>('simulate', '--output-dir', dir, '--groups', '1', '--jitter-s', '20', '--seed', '66', '--antennas', '16', '--channels', '8', '--integrations', '24');
    const group = s.groups[0]!;
    const ref = tmpDir();
    expect((await cli('convert', '--input-dir', dir, '--output-dir', ref, '--no-tmpfs', '--json')).code).toBe(0);
    const root = tmpDir();
    const db = queueDb(root, 'streaming_queue');
    const input = path.join(root, 'in');
    mkdirSync(input, { recursive: true });
    for (const f of group.files) deliverFile(f, input);
    const args = streamArgs(root, db, ['--max-retries', '1', '--max-crash-recoveries', '10', '--chunk-integrations', '1', '--retry-backoff', '0.1']);
    const rand = rng(1111);
    for (let kill = 1; kill <= 10; kill++) {
      const svc = spawnCli(args);
      // This process's own claim (the dead one's is re-queued first, at start).
      await waitFor(
        async () => {
          const g = (await queueState(db))?.groups[0];
          return g?.state === 'in_progress' && g.claimedBy?.pid === svc.child.pid;
        },
        `claim ${kill}`,
        60_000,
        20,
      );
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 150)));
      svc.child.kill('SIGKILL');
      expect((await svc.exit).signal).toBe('SIGKILL');
      // The kill landed inside the conversion: the group is still claimed by the dead process.
      const g = (await queueState(db))!.groups[0]!;
      expect(g.state, `kill ${kill} came after the conversion finished`).toBe('in_progress');
      expect(readdirSync(path.join(root, 'out')).filter((x) => !x.startsWith('.'))).toEqual([]);
    }
    const svc = spawnCli(args);
    await waitFor(async () => (await queueState(db))?.counts.completed === 1, 'completion', 120_000, 100);
    svc.child.kill('SIGTERM');
    expect((await svc.exit).code).toBe(0);
    const g = (await queueState(db))!.groups[0]!;
    expect(g).toMatchObject({ groupId: group.group, state: 'completed', stage: 'resuming', retryCount: 0, crashRecoveries: 10 });
    expect(digest(path.join(root, 'out', `${group.group}.ms`))).toEqual(digest(path.join(ref, `${group.group}.ms`)));
    const status = JSON.parse((await cli('status', '--queue-db', db, '--json')).stdout);
    expect(status.groups[0]).toMatchObject({ groupId: group.group, state: 'completed', processingStage: 'resuming', retryCount: 0, crashRecoveries: 10 });
  }, 300_000);

  it('fails a group with a truncated subband after --max-retries, naming the file and the cause', async () => {
    const root = tmpDir();
    const db = queueDb(root, 'streaming_queue');
    const input = path.join(root, 'in');
    mkdirSync(input, { recursive: true });
    const one = await simulate(1, 33);
    const victim = one.groups[0]!.files[5]!;
    truncateSync(victim, Math.floor(statSync(victim).size / 2));
    const svc = spawnCli(streamArgs(root, db, ['--max-retries', '2', '--retry-backoff', '0.1']));
    for (const f of one.groups[0]!.files) deliverFile(f, input);
    await waitFor(async () => (await queueState(db))?.counts.failed === 1, 'the failure', 60_000, 100);
    svc.child.kill('SIGTERM');
    expect((await svc.exit).code).toBe(0);
    const g = (await queueState(db))!.groups[0]!;
    expect(g).toMatchObject({ groupId: one.groups[0]!.group, state: 'failed', retryCount: 2 });
    expect(g.error).toContain(path.join(input, path.basename(victim)));
    expect(g.error).toMatch(/^\[UVH5_[A-Z_]+\] /);
    expect(readdirSync(path.join(root, 'out')).filter((x) => !x.startsWith('.'))).toEqual([]);
  }, 120_000);

  it('reports a group that never completes, and leaves it collecting', async () => {
    const root = tmpDir();
    const db = queueDb(root, 'streaming_queue');
    const input = path.join(root, 'in');
    mkdirSync(input, { recursive: true });
    const one = await simulate(1, 44);
    const svc = spawnCli(streamArgs(root, db, ['--collecting-timeout', '1']));
    for (const f of one.groups[0]!.files.slice(1)) deliverFile(f, input);
    const id = (await waitFor(async () => (await queueState(db))?.groups[0]?.groupId, 'the group'))!;
    const msg = `Group ${id} has been waiting for missing subbands longer than 1 s`;
    await waitFor(() => logLines(svc.stderr()).some((l) => l.msg === msg), 'the report', 20_000, 100);
    await new Promise((r) => setTimeout(r, 1200));
    svc.child.kill('SIGTERM');
    expect((await svc.exit).code).toBe(0);
    expect(logLines(svc.stderr()).filter((l) => l.msg === msg && l.level === WARN)).toHaveLength(1);
    const st = (await queueState(db))!;
    expect(st.groups[0]).toMatchObject({ state: 'collecting', subbands: 15 });
    const status = JSON.parse((await cli('status', '--queue-db', db, '--collecting-timeout', '1', '--json')).stdout);
    expect(status.warnings).toContain(msg);
  }, 120_000);

  it('gives the same bytes with --use-subprocess', async () => {
    const root = tmpDir();
    const db = queueDb(root, 'streaming_queue');
    const input = path.join(root, 'in');
    mkdirSync(input, { recursive: true });
    const svc = spawnCli(streamArgs(root, db, ['--use-subprocess']));
    const g = sim.groups[1]!;
    for (const f of g.files) deliverFile(f, input);
    await waitFor(async () => (await queueState(db))?.counts.completed === 1, 'completion', 60_000, 100);
    svc.child.kill('SIGTERM');
    expect((await svc.exit).code).toBe(0);
    expect(digest(path.join(root, 'out', `${g.group}.ms`))).toEqual(reference.get(g.group));
  }, 120_000);

  it('keeps the event loop responsive while the native core converts', async () => {
    const big = await simulate(1, 55, ['--antennas', '64', '--channels', '48', '--integrations', '24']);
    const dir = tmpDir();
    const cfg = testConfig(dir, { inputDir: big.dir, checkpointDir: undefined });
    const log = captureLog('info');
    const svc = new StreamService(cfg, { converter: defaultConverter, log: log.log });
    const done = svc.run();
    await svc.ready;
    await waitFor(async () => (await svc.queueDb!.group(big.groups[0]!.group))?.state === 'in_progress', 'the claim', 30_000, 5);
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    await waitFor(async () => (await svc.queueDb!.group(big.groups[0]!.group))?.state === 'completed', 'the conversion', 120_000, 50);
    h.disable();
    const [metric] = await svc.queueDb!.metrics({ limit: 1 });
    svc.stop();
    await done;
    // The measurement means something only if the conversion took a while.
    expect(metric!.totalS!).toBeGreaterThan(1);
    const maxMs = h.max / 1e6;
    // Timer resolution and GC pauses aside, nothing blocks: the conversion runs on native threads.
    expect(maxMs).toBeLessThan(250);
    expect(log.lines.find((l) => String(l.msg).startsWith(`Group ${big.groups[0]!.group} completed in `))).toBeDefined();
  }, 300_000);
});
