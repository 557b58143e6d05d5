#!/usr/bin/env node
/**
 * benches/convert: contimg against pyuvdata and against the raw I/O floor, on one full-size
 * DSA-110 group (96 antennas, 16 × 48 channels, 24 integrations, 2.3 GB), in one run.
 *
 *   node benches/convert/run.mjs [--dir DIR] [--skip-pyuvdata]
 *
 * Every side reads warm input (each run is preceded by a read of the files), writes to the same
 * file system (the bench directory), and fsyncs what it wrote (contimg always does: a finished
 * MS must survive a power cut). contimg runs with --no-tmpfs so its MS is
 * built beside the output and renamed into place (the default would build in /dev/shm and copy).
 * Peak RSS comes from GNU time. Prints JSON.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const dir = path.resolve(args.includes('--dir') ? args[args.indexOf('--dir') + 1] : path.join(root, '.cache', 'bench-convert'));
const skipPy = args.includes('--skip-pyuvdata');
const contimg = path.join(root, 'bin', 'contimg');
const python = path.join(root, '.venv', 'bin', 'python');

function timed(cmd, argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  return { seconds: s, peakRssMb: Number(lines.at(-1)) / 1024, stdout: r.stdout };
}

function duBytes(p) {
  return Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);
}

function readAll(files) {
  const buf = Buffer.allocUnsafe(8 << 20);
  let n = 0;
  for (const f of files) {
    const fd = openSync(f, 'r');
    for (;;) {
      const k = readSync(fd, buf, 0, buf.length, null);
      if (k <= 0) break;
      n += k;
    }
    closeSync(fd);
  }
  return n;
}

/**
 * The floor: read every input byte, write as many bytes as the MS holds to the same file
 * system, and fsync them — the durability every side of this benchmark provides.
 */
function ioFloor(files, bytesOut) {
  settle();
  readAll(files);
  const t = process.hrtime.bigint();
  readAll(files);
  const target = path.join(dir, 'floor.bin');
  const buf = Buffer.alloc(8 << 20, 7);
  const fd = openSync(target, 'w');
  for (let left = bytesOut; left > 0; left -= buf.length) writeSync(fd, buf, 0, Math.min(left, buf.length));
  fsyncSync(fd);
  closeSync(fd);
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  rmSync(target);
  return s;
}

function simulate(sub, integrations) {
  const d = path.join(dir, sub);
  if (!existsSync(d) || readdirSync(d).filter((n) => n.endsWith('.hdf5')).length < 16) {
    rmSync(d, { recursive: true, force: true });
    execFileSync(process.execPath, [contimg, 'simulate', '--output-dir', d, '--integrations', String(integrations), '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return d;
}

function settle() {
  // Let earlier writes reach the disk so one run's writeback does not slow the next.
  execFileSync('sync');
}

function convertOnce(input, out) {
  rmSync(out, { recursive: true, force: true });
  settle();
  readAll(readdirSync(input).filter((n) => n.endsWith('.hdf5')).map((n) => path.join(input, n)));
  const r = timed(process.execPath, [contimg, 'convert', '--input-dir', input, '--output-dir', out, '--no-tmpfs', '--json']);
  const summary = JSON.parse(r.stdout);
  return { ...r, summary, ms: summary.groups[0].outputMs };
}

mkdirSync(dir, { recursive: true });
const input = simulate('group24', 24);
const files = readdirSync(input).filter((n) => n.endsWith('.hdf5')).sort().map((n) => path.join(input, n));
const bytesIn = files.reduce((a, f) => a + statSync(f).size, 0);

// Interleaved runs, so that both sides see the same disk and page-cache weather; this
// machine's I/O varies severalfold from run to run, so minima and medians are both reported.
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const runs = [];
const floors = [];
let msBytes = 0;
for (let i = 0; i < RUNS; i++) {
  const r = convertOnce(input, path.join(dir, 'out-contimg'));
  runs.push(r);
  msBytes = duBytes(r.ms);
  floors.push(ioFloor(files, msBytes));
}
const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
const floor = Math.min(...floors);
const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

let py = null;
if (!skipPy) {
  const field = best.summary.groups[0].fields[0];
  const out = path.join(dir, 'out-pyuvdata.ms');
  settle();
  readAll(files);
  const r = timed(python, [path.join(root, 'benches', 'convert', 'pyuvdata_convert.py'), out, String(field.raDeg), String(field.decDeg), ...files]);
  py = { seconds: r.seconds, peakRssMb: r.peakRssMb, stages: JSON.parse(r.stdout.trim().split('\n').at(-1)) };
  rmSync(out, { recursive: true, force: true });
}

// Peak RSS must not grow with the number of integrations: the same group with twice as many.
const input48 = simulate('group48', 48);
const run48 = convertOnce(input48, path.join(dir, 'out-contimg-48'));

const cpu = os.cpus();
const report = {
  machine: { cpus: cpu.length, model: cpu[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg(), fs: execFileSync('df', ['-T', dir], { encoding: 'utf8' }).split('\n')[1]?.split(/\s+/)[1] },
  group: { antennas: 96, baselines: 4656, subbands: 16, channels: 768, integrations: 24, rows: best.summary.groups[0].rows, inputBytes: bytesIn, msBytes },
  contimg: { seconds: best.seconds, medianS: median(runs.map((r) => r.seconds)), allRunsS: runs.map((r) => +r.seconds.toFixed(2)), peakRssMb: Math.round(Math.max(...runs.map((r) => r.peakRssMb))), stages: best.summary.groups[0].timings },
  ioFloor: { seconds: floor, medianS: median(floors), allRunsS: floors.map((s) => +s.toFixed(2)) },
  pyuvdata: py,
  ratios: {
    contimgOverIoFloor: +(best.seconds / floor).toFixed(2),
    contimgOverIoFloorMedians: +(median(runs.map((r) => r.seconds)) / median(floors)).toFixed(2),
    pyuvdataOverContimg: py ? +(py.seconds / best.seconds).toFixed(1) : null,
    pyuvdataOverContimgMedian: py ? +(py.seconds / median(runs.map((r) => r.seconds))).toFixed(1) : null,
  },
  peakRssByIntegrations: { 24: Math.round(best.peakRssMb), 48: Math.round(run48.peakRssMb) },
};
console.log(JSON.stringify(report, null, 2));
