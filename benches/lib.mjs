/**
 * What the benchmark scripts share: the project's paths, command-line options, timing a command
 * with its peak memory, medians, sizes on disk, and a simulated group converted once and cached.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const contimg = path.join(root, 'bin', 'contimg');
export const python = path.join(root, '.venv', 'bin', 'python');

/** `--name value` from the command line, or `dflt`. */
export function option(name, dflt) {
  const args = process.argv.slice(2);
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}

/** Runs a command under /usr/bin/time: wall seconds, peak RSS (MB) and its stdout; throws on failure. */
export function timed(cmd, argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  return { seconds, peakRssMb: Number(r.stderr.trim().split('\n').at(-1)) / 1024, stdout: r.stdout };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Bytes on disk under `p`. */
export const du = (p) => Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);

/**
 * A full-size simulated group converted to `<dir>/ms/<group>.ms`, made once and reused by later
 * runs (the MS appears under its name only when complete). The subband files go once converted;
 * the simulation's truth (JSON, masks) stays in `<dir>/in`.
 */
export function cachedGroupMs(dir, simulateArgs) {
  const input = path.join(dir, 'in');
  const msDir = path.join(dir, 'ms');
  if (!existsSync(msDir)) {
    rmSync(input, { recursive: true, force: true });
    // An interrupted setup's output would otherwise be converted into (the group is skipped as
    // done, or a second MS lands beside the first).
    rmSync(msDir + '.partial', { recursive: true, force: true });
    execFileSync(contimg, ['simulate', '--output-dir', input, ...simulateArgs, '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync(contimg, ['convert', '--input-dir', input, '--output-dir', msDir + '.partial', '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
    renameSync(msDir + '.partial', msDir);
    for (const f of readdirSync(input)) if (f.endsWith('.hdf5')) rmSync(path.join(input, f));
  }
  return { input, ms: path.join(msDir, readdirSync(msDir).find((f) => f.endsWith('.ms'))) };
}
