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
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cachedGroupMs, contimg, du, median, option, python, root, timed } from '../lib.mjs';

const dir = path.resolve(option('--dir', path.join(root, '.cache', 'bench-applycal')));
const runs = Number(option('--runs', '3'));
const oracle = path.join(root, 'test', 'oracle', 'casa_applycal.py');

mkdirSync(dir, { recursive: true });
const { ms } = cachedGroupMs(dir, ['--seed', '11']);
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
