#!/usr/bin/env node
/**
 * benches/convert: contimg against pyuvdata and against the raw I/O floor, in one run, on a
 * full-size DSA-110 group (96 antennas, 16 × 48 channels, 24 integrations, 2.3 GB) and on a
 * quarter group (the same with 6 integrations, 0.6 GB).
 *
 *   node benches/convert/run.mjs [--dir DIR] [--skip-pyuvdata] [--sizes full,quarter]
 *
 * contimg runs three times per round: with the options a user gets (`default`: the staging
 * decision is contimg's own), with `--no-tmpfs` (built beside the output and renamed into place)
 * and with `--staging tmpfs` (built in /dev/shm and copied, seed 000's order).
 * Every side reads warm input (each run is preceded by a read of the files), writes to the same
 * file system (the bench directory), and fsyncs what it wrote (contimg always does: a finished
 * MS must survive a power cut). BENCH_RUNS rounds (default 5) interleave the floor and both
 * contimg variants, so all see the same disk weather; medians and minima are reported.
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
const sizes = (args.includes('--sizes') ? args[args.indexOf('--sizes') + 1] : 'full,quarter').split(',');
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
 * system, and fsync them — the durability every side of this benchmark provides. Two ways:
 * through the page cache, then fsync (what a plain program does), and with direct I/O
 * (`dd oflag=direct`, rounded up to whole 16 MiB blocks: the disk's own write speed, no page
 * cache at all). On a VM whose host
 * takes back free memory the first pays a host fault for every page cache page it takes, and
 * contimg, which writes behind itself through a small page cache (`ms::writebehind`), beats
 * it; the second is the floor that no writer can beat.
 */
function ioFloor(files, bytesOut, direct) {
  settle();
  readAll(files);
  const target = path.join(dir, 'floor.bin');
  const t = process.hrtime.bigint();
  readAll(files);
  if (direct) {
    const block = 16 << 20;
    execFileSync('dd', ['if=/dev/zero', `of=${target}`, `bs=${block}`, `count=${Math.ceil(bytesOut / block)}`, 'oflag=direct', 'conv=fsync', 'status=none']);
  } else {
    const buf = Buffer.alloc(8 << 20, 7);
    const fd = openSync(target, 'w');
    for (let left = bytesOut; left > 0; left -= buf.length) writeSync(fd, buf, 0, Math.min(left, buf.length));
    fsyncSync(fd);
    closeSync(fd);
  }
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

function convertOnce(input, out, extra) {
  rmSync(out, { recursive: true, force: true });
  settle();
  readAll(readdirSync(input).filter((n) => n.endsWith('.hdf5')).map((n) => path.join(input, n)));
  const r = timed(process.execPath, [contimg, 'convert', '--input-dir', input, '--output-dir', out, ...extra, '--json']);
  const summary = JSON.parse(r.stdout);
  const g = summary.groups[0];
  return { ...r, summary, ms: g.outputMs, staging: g.staging?.location };
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const round2 = (x) => +x.toFixed(2);
// `stagedTmpfs` is seed 000's order (build in /dev/shm, then copy): what `--staging auto` decides against on a local disk.
const VARIANTS = { default: [], noTmpfs: ['--no-tmpfs'], stagedTmpfs: ['--staging', 'tmpfs'] };
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const PY_RUNS = Number(process.env.BENCH_PYUVDATA_RUNS ?? 3);

/** pyuvdata's read + phase() + write_ms, PY_RUNS times (it takes ~10× longer than contimg). */
function pyuvdataRuns(files, field) {
  const out = path.join(dir, 'out-pyuvdata.ms');
  const runs = [];
  for (let i = 0; i < PY_RUNS; i++) {
    settle();
    readAll(files);
    const r = timed(python, [path.join(root, 'benches', 'convert', 'pyuvdata_convert.py'), out, String(field.raDeg), String(field.decDeg), ...files]);
    rmSync(out, { recursive: true, force: true });
    runs.push({ seconds: r.seconds, peakRssMb: r.peakRssMb, stages: JSON.parse(r.stdout.trim().split('\n').at(-1)) });
  }
  const secs = runs.map((r) => r.seconds);
  return {
    medianS: round2(median(secs)),
    bestS: round2(Math.min(...secs)),
    allRunsS: secs.map(round2),
    peakRssMb: Math.round(Math.max(...runs.map((r) => r.peakRssMb))),
    stagesOfFirst: runs[0].stages,
  };
}

/** One group size: RUNS interleaved rounds of floor, default and --no-tmpfs, then pyuvdata PY_RUNS times. */
function benchSize(name, integrations) {
  const input = simulate(`group${integrations}`, integrations);
  const files = readdirSync(input).filter((n) => n.endsWith('.hdf5')).sort().map((n) => path.join(input, n));
  const bytesIn = files.reduce((a, f) => a + statSync(f).size, 0);
  const runs = Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, []]));
  const floors = [];
  const directFloors = [];
  let msBytes = 0;
  let rows = 0;
  let field = null;
  for (let i = 0; i < RUNS; i++) {
    for (const [k, extra] of Object.entries(VARIANTS)) {
      const r = convertOnce(input, path.join(dir, `out-${k}`), extra);
      runs[k].push(r);
      msBytes = duBytes(r.ms);
      rows = r.summary.groups[0].rows;
      field = r.summary.groups[0].fields[0];
    }
    floors.push(ioFloor(files, msBytes, false));
    directFloors.push(ioFloor(files, msBytes, true));
  }
  const floorMedian = median(floors);
  const directFloorMedian = median(directFloors);
  const py = skipPy ? null : pyuvdataRuns(files, field);
  const contimg = {};
  for (const [k, rs] of Object.entries(runs)) {
    const secs = rs.map((r) => r.seconds);
    const med = median(secs);
    const bestRun = rs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    contimg[k] = {
      medianS: round2(med),
      bestS: round2(bestRun.seconds),
      allRunsS: secs.map(round2),
      staging: [...new Set(rs.map((r) => r.staging))].join(','),
      peakRssMb: Math.round(Math.max(...rs.map((r) => r.peakRssMb))),
      stagesOfBest: bestRun.summary.groups[0].timings,
      overIoFloorMedians: round2(med / floorMedian),
      overDirectIoFloorMedians: round2(med / directFloorMedian),
      pyuvdataOverContimgMedian: py ? +(py.medianS / med).toFixed(1) : null,
    };
  }
  return {
    group: { integrations, antennas: 96, baselines: 4656, channels: 768, rows, inputBytes: bytesIn, msBytes },
    ioFloor: { medianS: round2(floorMedian), bestS: round2(Math.min(...floors)), allRunsS: floors.map(round2) },
    directIoFloor: { medianS: round2(directFloorMedian), bestS: round2(Math.min(...directFloors)), allRunsS: directFloors.map(round2) },
    contimg,
    pyuvdata: py,
  };
}

mkdirSync(dir, { recursive: true });
const SIZES = { full: 24, quarter: 6 };
const results = {};
for (const s of sizes) results[s] = benchSize(s, SIZES[s]);

// Peak RSS must not grow with the number of integrations: the same group with twice as many.
const run48 = convertOnce(simulate('group48', 48), path.join(dir, 'out-48'), []);

const cpu = os.cpus();
const report = {
  machine: { cpus: cpu.length, model: cpu[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg(), fs: execFileSync('df', ['-T', dir], { encoding: 'utf8' }).split('\n')[1]?.split(/\s+/)[1] },
  runs: RUNS,
  ...results,
  peakRssMbByIntegrations: { 24: results.full?.contimg.default.peakRssMb, 48: Math.round(run48.peakRssMb) },
};
console.log(JSON.stringify(report, null, 2));
