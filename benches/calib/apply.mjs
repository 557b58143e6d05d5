#!/usr/bin/env node
/**
 * benches/calib/apply: `contimg applycal` against CASA's applycal and against a plain read of
 * the MS, on a full-size DSA-110 group (96 antennas, 16 × 48 = 768 channels, 24 integrations).
 *
 *   node benches/calib/apply.mjs [--dir DIR] [--runs N]
 *
 * The tables are CASA's own (bandpass solint inf, solnorm; gaincal ap, solint 30 s), made once on
 * the MS. Each round, in this order: a plain read of every file of the MS (the floor: cat to
 * /dev/null, page cache dropped only by what the other runs push out), contimg applycal (copy +
 * CORRECTED_DATA + calwt, fsynced, renamed), and CASA's applycal (calwt=True, B nearest,
 * G linear) on a fresh copy of the MS (the copy timed separately: CASA writes in place).
 * Medians over the rounds (default 3). The machine is shared, so timings are noisy: say so.
 * Prints JSON.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const dir = path.resolve(opt('--dir', path.join(root, '.cache', 'bench-applycal')));
const runs = Number(opt('--runs', '3'));
const contimg = path.join(root, 'bin', 'contimg');
const python = path.join(root, '.venv', 'bin', 'python');
const oracle = path.join(root, 'test', 'oracle', 'casa_applycal.py');

function timed(cmd, argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  return { seconds: s, peakRssMb: Number(r.stderr.trim().split('\n').at(-1)) / 1024, stdout: r.stdout };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const du = (p) => Number(execFileSync('du', ['-sb', p], { encoding: 'utf8' }).split('\t')[0]);

mkdirSync(dir, { recursive: true });
const input = path.join(dir, 'in');
const msDir = path.join(dir, 'ms');
if (!existsSync(msDir)) {
  rmSync(input, { recursive: true, force: true });
  execFileSync(contimg, ['simulate', '--output-dir', input, '--seed', '11', '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(contimg, ['convert', '--input-dir', input, '--output-dir', msDir + '.partial', '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('mv', [msDir + '.partial', msDir]);
  rmSync(input, { recursive: true, force: true });
}
const ms = path.join(msDir, readdirSync(msDir).find((f) => f.endsWith('.ms')));
const tables = path.join(dir, 'tables');
if (!existsSync(path.join(tables, 'g'))) {
  const t = timed(python, [oracle, 'tables', ms, tables]);
  process.stderr.write(`CASA bandpass + gaincal: ${t.seconds.toFixed(1)} s\n`);
}
const bp = path.join(tables, 'bp');
const g = path.join(tables, 'g');

const rounds = [];
for (let i = 0; i < runs; i++) {
  const out = path.join(dir, 'ours');
  const casaMs = path.join(dir, 'casa.ms');
  rmSync(out, { recursive: true, force: true });
  rmSync(casaMs, { recursive: true, force: true });
  const read = timed('sh', ['-c', `find "${ms}" -type f -exec cat {} + > /dev/null`]);
  const ours = timed(contimg, ['applycal', ms, '--tables', bp, g, '--output-dir', out, '--json']);
  const summary = JSON.parse(ours.stdout)[0].summary;
  const copy = timed('cp', ['-r', ms, casaMs]);
  const casa = timed(python, ['-c', `
import sys; sys.path.insert(0, ${JSON.stringify(path.dirname(oracle))})
import casa_env; casa_env.setup()
with casa_env.quiet_stdout():
    from casatasks import applycal
    applycal(vis=${JSON.stringify(casaMs)}, gaintable=[${JSON.stringify(bp)}, ${JSON.stringify(g)}], interp=['nearest', 'linear'], calwt=True, flagbackup=False)
`]);
  const check = i === 0 ? JSON.parse(execFileSync(python, [oracle, 'compare', summary.output, casaMs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 })) : undefined;
  rounds.push({ readS: read.seconds, oursS: ours.seconds, oursCopyS: summary.copySeconds, oursApplyS: summary.applySeconds, oursRssMb: ours.peakRssMb, casaCopyS: copy.seconds, casaS: casa.seconds, casaRssMb: casa.peakRssMb, check });
  process.stderr.write(`round ${i + 1}: read ${read.seconds.toFixed(1)} s, contimg ${ours.seconds.toFixed(1)} s, CASA ${casa.seconds.toFixed(1)} s (+ copy ${copy.seconds.toFixed(1)} s)\n`);
}
const m = (k) => median(rounds.map((r) => r[k]));
console.log(
  JSON.stringify(
    {
      ms,
      msBytes: du(ms),
      runs,
      medians: { readS: m('readS'), contimgS: m('oursS'), contimgCopyS: m('oursCopyS'), contimgApplyS: m('oursApplyS'), casaApplycalS: m('casaS'), casaCopyS: m('casaCopyS') },
      ratios: { contimgOverRead: m('oursS') / m('readS'), casaOverContimg: m('casaS') / m('oursS'), casaWithCopyOverContimg: (m('casaS') + m('casaCopyS')) / m('oursS') },
      peakRssMb: { contimg: m('oursRssMb'), casa: m('casaRssMb') },
      agreement: rounds[0].check,
      rounds,
      note: 'shared 2-core machine with other builds running: timings are noisy',
    },
    null,
    2,
  ),
);
