#!/usr/bin/env node
/**
 * benches/calib/flag: `contimg flag` against AOFlagger 3.1 (default strategy) and against one
 * read of DATA + FLAG, on a full-size DSA-110 group with RFI (96 antennas, 16 × 48 = 768
 * channels, 24 integrations, `simulate --rfi`), converted to one MS.
 *
 *   node benches/calib/flag.mjs [--dir DIR] [--runs N]
 *
 * Two copies of the MS are made once: one for contimg, one for AOFlagger (both flag in place).
 * Each round, in this order: python-casacore reads DATA and FLAG of the pristine MS in blocks
 * of 10000 rows (the floor: the time inside python, start-up excluded), `contimg flag`
 * (rounds after the first with --force, as the settings keyword would otherwise make it a
 * no-op), and `aoflagger` on its copy. The first round's flags are scored against the truth
 * (test/oracle/flag_score.py: detection and false-positive rates over the samples not flagged
 * by design — autocorrelations, first and last integration). Medians over the rounds (default
 * 3). Everything is in the page cache after the first round; the machine is shared, so
 * timings are noisy. Prints JSON.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cachedGroupMs, contimg, du, median, option, python, root, timed } from '../lib.mjs';

const dir = path.resolve(option('--dir', path.join(root, '.cache', 'bench-flag')));
const runs = Number(option('--runs', '3'));
const score = path.join(root, 'test', 'oracle', 'flag_score.py');

mkdirSync(dir, { recursive: true });
const { input, ms } = cachedGroupMs(dir, ['--rfi']);
const truth = path.join(input, readdirSync(input).find((f) => f.endsWith('.truth.json')));
const ours = path.join(dir, 'ours.ms');
const aof = path.join(dir, 'aoflagger.ms');
for (const c of [ours, aof]) {
  rmSync(c, { recursive: true, force: true });
  cpSync(ms, c, { recursive: true });
}
const readScript = `
import sys, time
from casacore.tables import table
t = table(sys.argv[1], ack=False)
t0 = time.perf_counter()
n = t.nrows()
for r in range(0, n, 10000):
    t.getcol('DATA', r, min(10000, n - r)); t.getcol('FLAG', r, min(10000, n - r))
print(time.perf_counter() - t0)
`;

const rounds = [];
let scores;
for (let i = 0; i < runs; i++) {
  const read = timed(python, ['-c', readScript, ms]);
  const readS = Number(read.stdout.trim());
  const o = timed(contimg, ['flag', ours, '--json', ...(i > 0 ? ['--force'] : [])]);
  const s = JSON.parse(o.stdout)[0].summary;
  const a = timed('aoflagger', [aof]);
  if (i === 0) {
    const sc = (m) => JSON.parse(execFileSync(python, [score, 'score', m, truth], { encoding: 'utf8', maxBuffer: 1 << 28 }));
    scores = { contimg: sc(ours), aoflagger: sc(aof) };
  }
  rounds.push({ readS, contimgS: o.seconds, contimgReadS: s.readSeconds, contimgFlagS: s.flagSeconds, contimgWriteS: s.writeSeconds, contimgRssMb: o.peakRssMb, aoflaggerS: a.seconds, aoflaggerRssMb: a.peakRssMb });
  process.stderr.write(`round ${i + 1}: read ${readS.toFixed(1)} s, contimg ${o.seconds.toFixed(1)} s (read ${s.readSeconds.toFixed(1)}, flag ${s.flagSeconds.toFixed(1)}, write ${s.writeSeconds.toFixed(1)}), AOFlagger ${a.seconds.toFixed(1)} s\n`);
}
const m = (k) => median(rounds.map((r) => r[k]));
console.log(
  JSON.stringify(
    {
      ms,
      msBytes: du(ms),
      runs,
      medians: { readDataFlagS: m('readS'), contimgS: m('contimgS'), contimgReadS: m('contimgReadS'), contimgFlagS: m('contimgFlagS'), contimgWriteS: m('contimgWriteS'), aoflaggerS: m('aoflaggerS') },
      ratios: { contimgOverRead: m('contimgS') / m('readS'), aoflaggerOverContimg: m('aoflaggerS') / m('contimgS'), aoflaggerOverRead: m('aoflaggerS') / m('readS') },
      peakRssMb: { contimg: m('contimgRssMb'), aoflagger: m('aoflaggerRssMb') },
      scores: {
        contimg: { detection: scores.contimg.detection, false: scores.contimg.false },
        aoflagger: { detection: scores.aoflagger.detection, false: scores.aoflagger.false },
        note: 'over the samples not flagged by design (autocorrelations, first and last integration)',
      },
      rounds,
      note: 'shared 2-core machine: timings are noisy',
    },
    null,
    2,
  ),
);
