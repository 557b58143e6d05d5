// benches/sources/run.sh's summary: wall times of ours (median of 3) and of BANE + aegean (one
// run), their ratio against the issue's 10×, and both catalogues' scores against the truth.
import { readFileSync } from 'node:fs';

const [dir, cores] = process.argv.slice(2);
const json = (f) => JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'));
const oursWallS = [1, 2, 3].map((i) => {
  const [a, b] = readFileSync(`${dir}/wall${i}`, 'utf8').trim().split(' ').map(Number);
  return b - a;
});
const medianWallS = oursWallS.slice().sort((a, b) => a - b)[1];
const aegean = json('aegean.json');
const aegeanWallS = aegean.bane_s + aegean.aegean_s;
// Truth sources above 10σ: how many were found within half a beam, how many components are
// real, and the measured/true flux (median, MAD scatter) and position offsets (beams).
const pick = (s) => ({
  bright: s.bright,
  matched: s.matched,
  completeness: s.completeness,
  reliability: s.reliability,
  spurious: s.spurious,
  fluxRatioMedian: s.flux_ratio_median,
  fluxRatioScatter: s.flux_ratio_scatter,
  offsetBeamsMedian: s.offset_beams_median,
  offsetBeamsRms: s.offset_beams_rms,
});
console.log(
  JSON.stringify(
    {
      bench: 'sources',
      size: 4096,
      sources: 1500,
      cores: Number(cores),
      ours: { medianWallS, runsWallS: oursWallS, components: json('score_ours.json').components },
      aegean: { wallS: aegeanWallS, baneS: aegean.bane_s, aegeanS: aegean.aegean_s, components: aegean.components },
      speedup: aegeanWallS / medianWallS,
      targetSpeedup: 10,
      score: { ours: pick(json('score_ours.json')), aegean: pick(json('score_aegean.json')) },
    },
    null,
    1,
  ),
);
