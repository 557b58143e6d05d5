#!/usr/bin/env node
/**
 * benches/calib/chain: stages 4–5 as a user runs them on a full-size calibrator group (simulate
 * --calibrator 3C286 --rfi at the default size: 96 antennas, 16 × 48 = 768 channels, 24
 * integrations, converted to one MS), with the defaults a user gets:
 *
 * - contimg: `flag`, `calibrate`, `applycal` of the three tables (three CLI runs, timed whole);
 * - CASA 6.7 in one process: flagdata (tfcrop), bandpass, gaincal ×2, applycal
 *   (benches/calib/casa_chain.py), against MODEL_DATA written once, untimed, by
 *   `calibrate --write-model` (the same model);
 * - the floor: one plain read of every file of the MS (cat to /dev/null).
 *
 * Each round starts both chains from fresh copies of the pristine MS (the copies untimed: both
 * write flags in place) and runs, in order, the read, contimg, CASA. Medians over the rounds
 * (default 3). The issue's targets: the contimg chain ≤ 2× the read, ≥ 20× faster than CASA.
 *
 *   node benches/calib/chain.mjs [--dir DIR] [--runs N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { contimg, median, option, python, root } from '../lib.mjs';

const dir = path.resolve(option('--dir', path.join(root, '.cache', 'bench-chain')));
const runs = Number(option('--runs', '3'));

const run = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${(r.stderr || '').slice(-2000)}`);
  return r.stdout;
};
const timed = (f) => {
  const t = process.hrtime.bigint();
  const out = f();
  return { seconds: Number(process.hrtime.bigint() - t) / 1e9, out };
};
const fresh = (from, to) => {
  rmSync(to, { recursive: true, force: true });
  execFileSync('cp', ['-a', from, to]);
  execFileSync('sync');
};

mkdirSync(dir, { recursive: true });
const pristine = path.join(dir, 'pristine.ms');
const withModel = path.join(dir, 'model.ms');
if (!existsSync(withModel)) {
  const input = path.join(dir, 'in');
  rmSync(input, { recursive: true, force: true });
  run(contimg, ['simulate', '--output-dir', input, '--calibrator', '3C286', '--rfi', '--seed', '11', '--json']);
  run(contimg, ['convert', '--input-dir', input, '--output-dir', path.join(dir, 'conv'), '--json']);
  const ms = readdirSync(path.join(dir, 'conv')).find((f) => f.endsWith('.ms'));
  // `mv` onto an existing directory moves into it: a pristine MS left by an earlier setup would
  // carry the new one inside it, copied and read with it in every round.
  rmSync(pristine, { recursive: true, force: true });
  renameSync(path.join(dir, 'conv', ms), pristine);
  rmSync(input, { recursive: true, force: true });
  fresh(pristine, withModel + '.partial');
  run(contimg, ['calibrate', withModel + '.partial', '--output-dir', path.join(dir, 'model-tables'), '--write-model', '--overwrite', '--json']);
  execFileSync('mv', [withModel + '.partial', withModel]);
}
const refant = JSON.parse(run(contimg, ['calibrate', pristine, '--output-dir', path.join(dir, 'refant-tables'), '--overwrite', '--json']))[0].summary.refant;

const rounds = [];
for (let i = 0; i < runs; i++) {
  const ours = path.join(dir, 'ours.ms');
  const casa = path.join(dir, 'casa.ms');
  fresh(pristine, ours);
  fresh(withModel, casa);
  rmSync(path.join(dir, 'ours_cal'), { recursive: true, force: true });
  const read = timed(() => execFileSync('sh', ['-c', `find "${pristine}" -type f -exec cat {} + > /dev/null`]));
  const stages = {};
  const chain = timed(() => {
    stages.flag = timed(() => run(contimg, ['flag', ours, '--json'])).seconds;
    const c = timed(() => JSON.parse(run(contimg, ['calibrate', ours, '--output-dir', path.join(dir, 'ours_tables'), '--overwrite', '--json']))[0]);
    stages.calibrate = c.seconds;
    const t = c.out.tables;
    stages.applycal = timed(() => run(contimg, ['applycal', ours, '--tables', t.bandpass, t.gain, t.gain2, '--output-dir', path.join(dir, 'ours_cal'), '--overwrite', '--json'])).seconds;
  });
  const c = timed(() => JSON.parse(run(python, [path.join(root, 'benches', 'calib', 'casa_chain.py'), casa, path.join(dir, 'casa_tables'), refant])));
  rounds.push({ read: read.seconds, contimg: chain.seconds, contimgStages: stages, casa: c.seconds, casaTasks: c.out });
  process.stderr.write(`round ${i + 1}: read ${read.seconds.toFixed(1)} s, contimg ${chain.seconds.toFixed(1)} s (${Object.entries(stages).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}), CASA ${c.seconds.toFixed(1)} s\n`);
}
const med = (f) => median(rounds.map(f));
const m = { read: med((r) => r.read), contimg: med((r) => r.contimg), casa: med((r) => r.casa), flag: med((r) => r.contimgStages.flag), calibrate: med((r) => r.contimgStages.calibrate), applycal: med((r) => r.contimgStages.applycal) };
const msBytes = Number(execFileSync('du', ['-sb', pristine], { encoding: 'utf8' }).split('\t')[0]);
console.log(JSON.stringify({ ms: pristine, msBytes, rounds, median: m, ratio: { contimgOverRead: m.contimg / m.read, casaOverContimg: m.casa / m.contimg } }, null, 2));
