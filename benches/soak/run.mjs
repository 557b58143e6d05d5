#!/usr/bin/env node
/**
 * benches/soak: the streaming service under a sustained stream of simulated groups.
 *
 *   node benches/soak/run.mjs [--groups 50] [--antennas 24] [--channels 8] [--integrations 6]
 *                             [--dir DIR] [--keep] [--use-subprocess]
 *
 * Starts `contimg stream` (the compiled CLI, real converter), then has `contimg simulate` write
 * the groups straight into its input directory as fast as it can produce them (each file as
 * `…_incomplete.hdf5`, renamed when complete, with clock jitter between subbands, as the
 * correlator does). Meanwhile it samples, every 250 ms, the queue (counts by state, from the
 * service's own SQLite database), the service's RSS (/proc/PID/status) and its open file
 * descriptors (/proc/PID/fd). When every group is completed it stops the service with SIGTERM
 * and prints JSON: throughput (groups/min, from the first file to the last completion), queue
 * depth over time, peak RSS, and the growth of RSS and descriptors between the first and the
 * last third of the run, and of descriptors between the idle service before the stream and after
 * it (a conversion holds its inputs and tables open, so only idle counts compare). A leak shows
 * up as steady growth over 50 groups. Exits non-zero if a group failed, the service exited
 * badly, or idle descriptors grew.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const groups = Number(arg('groups', '50'));
const dims = ['--antennas', arg('antennas', '24'), '--channels', arg('channels', '8'), '--integrations', arg('integrations', '6')];
const dir = path.resolve(arg('dir', path.join(root, '.cache', 'bench-soak')));
const bin = path.join(root, 'bin', 'contimg');

rmSync(dir, { recursive: true, force: true });
const input = path.join(dir, 'incoming');
const output = path.join(dir, 'ms');
const db = path.join(dir, 'streaming_queue.sqlite3');
mkdirSync(input, { recursive: true });

function procStatus(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

function counts() {
  if (!existsSync(db)) return undefined;
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    d.pragma('busy_timeout = 2000');
    const c = { collecting: 0, pending: 0, in_progress: 0, completed: 0, failed: 0 };
    for (const r of d.prepare('SELECT state, COUNT(*) AS n FROM ingest_queue GROUP BY state').all()) c[r.state] = r.n;
    return c;
  } catch {
    return undefined;
  } finally {
    d.close();
  }
}

const service = spawn(
  process.execPath,
  [bin, 'stream', '--input-dir', input, '--output-dir', output, '--queue-db', db, '--checkpoint-dir', path.join(dir, 'ck'),
    '--worker-poll-interval', '0.2', '--settle-time', '0.5', '--monitor-interval', '5', '--cleanup-temp', '--log-level', arg('log-level', 'WARNING'),
    ...(argv.includes('--use-subprocess') ? ['--use-subprocess'] : [])],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
let serviceLog = '';
const { createWriteStream } = await import('node:fs');
const logFile = createWriteStream(path.join(dir, 'service.log'));
service.stderr.on('data', (d) => {
  logFile.write(d);
  serviceLog = (serviceLog + d).slice(-20_000);
});
const serviceExit = new Promise((resolve) => service.on('exit', (code, signal) => resolve({ code, signal })));

const t0 = Date.now();
const samples = [];
let firstFileMs;
const sampler = setInterval(() => {
  const p = procStatus(service.pid);
  const c = counts();
  if (firstFileMs === undefined && readdirSync(input).some((n) => n.endsWith('.hdf5'))) firstFileMs = Date.now();
  if (p && c) samples.push({ tS: (Date.now() - t0) / 1000, ...p, depth: c.pending + c.in_progress, ...c });
}, 250);

// Give the service a moment to start watching, then produce every group as fast as possible.
await new Promise((r) => setTimeout(r, 1500));
const idleBefore = procStatus(service.pid);
const simStart = Date.now();
const simExit = new Promise((resolve, reject) => {
  const sim = spawn(process.execPath, [bin, 'simulate', '--output-dir', input, '--groups', String(groups), '--jitter-s', '20', '--seed', '7', ...dims, '--json'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  sim.stderr.on('data', (d) => (err += d));
  sim.on('exit', (code) => (code === 0 ? resolve((Date.now() - simStart) / 1000) : reject(new Error(`simulate failed: ${err}`))));
});

const deadline = Date.now() + 30 * 60_000;
let last;
for (;;) {
  last = counts();
  if (last && last.completed + last.failed >= groups) break;
  if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(last)}`);
  await new Promise((r) => setTimeout(r, 250));
}
const doneMs = Date.now();
const produced = await simExit;
clearInterval(sampler);
// Idle again: the last conversion has released its files.
await new Promise((r) => setTimeout(r, 1000));
const idleAfter = procStatus(service.pid);
service.kill('SIGTERM');
const exit = await serviceExit;

const third = Math.max(1, Math.floor(samples.length / 3));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const warmupGroups = Math.max(5, Math.ceil(groups / 10));
const warm = samples.filter((x) => x.completed >= warmupGroups);
const late = samples.slice(-third);
const d = new Database(db, { readonly: true });
const metrics = d.prepare('SELECT AVG(total_time) AS mean, MAX(total_time) AS max FROM performance_metrics').get();
d.close();
const report = {
  groups,
  dims: dims.join(' '),
  produceSeconds: +produced.toFixed(1),
  completed: last.completed,
  failed: last.failed,
  throughputGroupsPerMin: +((60 * last.completed) / ((doneMs - (firstFileMs ?? t0)) / 1000)).toFixed(1),
  conversionSeconds: { mean: +(metrics.mean ?? 0).toFixed(2), max: +(metrics.max ?? 0).toFixed(2) },
  peakRssMb: +Math.max(...samples.map((s) => s.hwmMb)).toFixed(1),
  // RSS after the first groups (the native core's one-time allocations: HDF5, casacore, thread
  // pools, allocator arenas) against the last third of the run.
  rssMb: {
    afterWarmup: +median(warm.slice(0, third).map((s) => s.rssMb)).toFixed(1),
    lateMedian: +median(late.map((s) => s.rssMb)).toFixed(1),
  },
  openFds: { idleBefore: idleBefore?.fds, idleAfter: idleAfter?.fds, max: Math.max(...samples.map((s) => s.fds)) },
  queueDepth: {
    max: Math.max(...samples.map((s) => s.depth)),
    // One point per second: [seconds since start, pending + in_progress, collecting].
    series: samples.filter((_, i) => i % 4 === 0).map((s) => [+s.tS.toFixed(1), s.depth, s.collecting]),
  },
  serviceExit: exit,
};
report.rssGrowthAfterWarmupMb = +(report.rssMb.lateMedian - report.rssMb.afterWarmup).toFixed(1);
// Least-squares slope of RSS against groups completed, after warm-up: a leak is a steady slope.
{
  const xs = warm.map((x) => x.completed);
  const ys = warm.map((x) => x.rssMb);
  const mx = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const my = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length);
  const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  report.rssSlopeMbPer100Groups = sxx > 0 ? +((100 * sxy) / sxx).toFixed(1) : null;
}
report.fdGrowth = (idleAfter?.fds ?? 0) - (idleBefore?.fds ?? 0);
console.log(JSON.stringify(report, null, 2));
if (!argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
const ok = report.failed === 0 && exit.code === 0 && report.fdGrowth <= 0;
if (!ok) {
  console.error(`soak: FAILED (failed groups ${report.failed}, service exit ${JSON.stringify(exit)}, fd growth ${report.fdGrowth})\n${serviceLog}`);
  process.exit(1);
}
