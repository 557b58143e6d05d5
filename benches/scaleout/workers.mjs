/**
 * Groups per minute with 1, 2 and 4 `contimg stream --role worker` processes on one machine,
 * sharing a PostgreSQL 15 queue (a temporary server, fsync on), for small and full-size groups,
 * in one run (issue 14). The workers start and wait; a watcher process then registers the groups
 * (already on disk) in its start-up scan, and the clock runs from the moment every group is
 * registered until the queue reports every group completed. Each worker runs with
 * the defaults a user gets (`--omp-threads 4`, staging auto). Reports the median of `--runs` runs.
 *   node benches/scaleout/workers.mjs [--runs R] [--small N] [--full N] [--workers 1,2,4]
 * Needs `npm run build` and postgresql-15; full-size groups take ~3 GB each in and out.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamQueue } from '../../dist/stream/queue.js';
import { startPostgres } from '../../scripts/pg-temp.mjs';
import { median } from '../lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const contimg = path.join(root, 'bin', 'contimg');
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(opt('runs', 3));
const WORKER_COUNTS = opt('workers', '1,2,4').split(',').map(Number);
const SIZES = [
  { name: 'small', groups: Number(opt('small', 32)), simulate: ['--antennas', '16', '--channels', '8', '--integrations', '6'] },
  { name: 'full-size', groups: Number(opt('full', 4)), simulate: [] },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(args, env = {}) {
  const child = spawn(process.execPath, [contimg, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-200_000)));
  const exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, err: () => err };
}

async function once(pg, input, groups, workers, tag) {
  const url = pg.createDatabase(`w_${tag}`);
  const out = mkdtempSync(path.join(os.tmpdir(), 'contimg-bench-workers-out-'));
  const common = ['--db', url, '--output-dir', out, '--worker-poll-interval', '0.2', '--log-level', 'INFO'];
  // Workers first, each up and polling (node start-up and loading the native core are not what is
  // measured), then the watcher, whose start-up scan registers every group at once.
  const ws = Array.from({ length: workers }, (_, i) => start(['stream', '--role', 'worker', '--worker-name', `w${i}`, ...common]));
  const procs = [...ws];
  const q = await StreamQueue.open(url);
  try {
    for (const w of ws) {
      while (!w.err().includes('Streaming converter running')) {
        if (w.child.exitCode !== null) throw new Error(`worker exited: ${w.err()}`);
        await sleep(20);
      }
    }
    const watcher = start(['stream', '--role', 'watcher', '--input-dir', input, '--settle-time', '0.1', ...common]);
    procs.push(watcher);
    // The clock starts when every group is registered.
    for (;;) {
      const c = await q.counts();
      if (c.pending + c.in_progress + c.completed === groups) break;
      if (watcher.child.exitCode !== null) throw new Error(`watcher exited: ${watcher.err()}`);
      await sleep(10);
    }
    const t0 = performance.now();
    for (;;) {
      const c = await q.counts();
      if (c.completed === groups) break;
      if (c.failed > 0) throw new Error(`a group failed: ${JSON.stringify((await q.recentGroups(50)).filter((g) => g.state === 'failed').map((g) => g.error))}`);
      await sleep(20);
    }
    const seconds = (performance.now() - t0) / 1000;
    // A retried attempt waits out --retry-backoff: say so, with the error, rather than hide it in a time.
    const retried = (await q.recentGroups(groups)).filter((g) => g.retryCount > 0 || g.crashRecoveries > 0);
    if (retried.length > 0) console.error(JSON.stringify({ warning: 'groups were retried', tag, retried: retried.map((g) => ({ group: g.groupId, retries: g.retryCount, error: g.error })), log: ws.flatMap((w) => w.err().split('\n').filter((l) => /attempt|failed|lease|Refused|WARN|ERROR/.test(l))) }));
    return seconds;
  } finally {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exit));
    await q.close();
    rmSync(out, { recursive: true, force: true });
  }
}

const pg = await startPostgres({ fsync: true });
const rows = [];
let n = 0;
try {
  for (const size of SIZES) {
    if (size.groups === 0) continue;
    const input = mkdtempSync(path.join(os.tmpdir(), `contimg-bench-workers-${size.name}-`));
    try {
      mkdirSync(input, { recursive: true });
      execFileSync(process.execPath, [contimg, 'simulate', '--output-dir', input, '--groups', String(size.groups), '--seed', '77', ...size.simulate, '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
      for (const workers of WORKER_COUNTS) {
        const secs = [];
        for (let r = 0; r < RUNS; r++) secs.push(await once(pg, input, size.groups, workers, `${++n}`));
        const s = median(secs);
        rows.push({ size: size.name, groups: size.groups, workers, medianSeconds: +s.toFixed(2), groupsPerMinute: +((size.groups / s) * 60).toFixed(1), runsSeconds: secs.map((x) => +x.toFixed(2)) });
        console.error(JSON.stringify(rows.at(-1)));
      }
    } finally {
      rmSync(input, { recursive: true, force: true });
    }
  }
  console.log(JSON.stringify({ bench: 'workers', cpus: os.cpus().length, backend: 'postgresql-15', rows }, null, 2));
} finally {
  pg.stop();
}
