/** `contimg simulate`: realistic DSA-110 subband groups with known truth. */
import path from 'node:path';
import { callNative, native } from '../../native.js';
import { readSky } from '../../sky.js';
import { planCalibratorTransit } from '../../sim-calibrator.js';
import { defineCommand } from '../command.js';
import { report } from '../io.js';
import { formatBytes, progressBar } from '../progress.js';

export const simulateCommand = defineCommand({
  command: 'simulate',
  describe: 'Write simulated DSA-110 subband groups (real file format, known truth)',
  builder: (y) =>
    y
      .option('output-dir', { type: 'string', demandOption: true, describe: 'Where the groups are written' })
      .option('start', { type: 'string', default: '2025-10-02T00:00:00', describe: 'UTC start of the first group (with --calibrator: the transit is the first at or after it)' })
      .option('groups', { type: 'number', default: 1, describe: 'Consecutive 5-minute groups' })
      .option('subbands', { type: 'number', default: 16, describe: 'Subband files per group (sb00 = highest)' })
      .option('antennas', { type: 'number', default: 96, describe: 'Active antennas (of the 117 real stations)' })
      .option('channels', { type: 'number', default: 48, describe: 'Channels per subband (must divide 384)' })
      .option('integrations', { type: 'number', default: 24, describe: 'Integrations of 12.885 s per group' })
      .option('sources', { type: 'number', describe: 'Random point sources per group, near its pointing (default 5; 0 with --calibrator)' })
      .option('sky', { type: 'string', describe: 'Sky model (CSV or JSON) instead of random sources' })
      .option('seed', { type: 'number', default: 1, describe: 'Random seed (same seed, same bytes)' })
      .option('noise-jy', { type: 'number', describe: 'Noise per real/imaginary part (Jy); default from SEFD 5800 Jy' })
      .option('flag-fraction', { type: 'number', default: 0, describe: 'Fraction of samples flagged (nsamples 0)' })
      .option('rfi', { type: 'boolean', default: false, describe: 'Inject RFI (narrowband channels, broadband bursts, bad antennas); its exact mask goes to <group>.rfi.npy' })
      .option('jitter-s', { type: 'number', default: 0, describe: 'Clock jitter between subband file timestamps (s)' })
      .option('dec', { type: 'number', describe: 'Pointing declination (deg, of date; default 54.57)' })
      .option('calibrator', { type: 'string', describe: 'Simulate a transit of this catalogue calibrator (3C286, J1331+3030, 1331+305, ...) at the first group\'s mid-time' })
      .option('calibrators', { type: 'string', describe: 'Calibrator catalogue (CSV name,ra_deg,dec_deg,flux_jy,spectral_index; default data/calibrators.csv)' })
      .option('gains', { type: 'boolean', default: true, describe: 'Apply per-antenna complex gains (--no-gains: unity)' })
      .option('flip-uvw', { type: 'boolean', default: false, describe: 'Write uvw = pos(ant1) - pos(ant2) with conjugated data' })
      .option('legacy-integration-time', { type: 'boolean', default: false, describe: 'Record the 0.134 s sample time as integration_time (pre-2022 files)' })
      .option('threads', { type: 'number', describe: 'Cap on worker threads (default: all cores)' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'Replace existing files' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON' })
      .conflicts('sky', 'sources')
      .conflicts('calibrator', 'dec')
      .check((a) => {
        for (const k of ['groups', 'subbands', 'antennas', 'channels', 'integrations', 'seed'] as const) {
          const v = a[k];
          if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a non-negative integer (got ${v})`);
        }
        return true;
      }),
  async run(a, { io }) {
    const outputDir = path.resolve(a['output-dir']);
    const sky = a.sky ? readSky(a.sky) : undefined;
    // The calibrator sets the pointing and the start; the simulator adds it to the sky.
    const transit = a.calibrator ? planCalibratorTransit(a.calibrator, a.start, a.integrations, a.calibrators) : undefined;
    const progress = progressBar(io, 'simulating', io.isTTY && !a.json);
    const summary = await callNative(() =>
      native().simulate(
        {
          outputDir,
          start: transit?.start ?? a.start,
          groups: a.groups,
          subbands: a.subbands,
          channels: a.channels,
          integrations: a.integrations,
          antennas: a.antennas,
          sources: sky ? undefined : (a.sources ?? (transit ? 0 : 5)),
          sky,
          calibrator: transit?.calibrator,
          seed: a.seed,
          noiseJy: a['noise-jy'],
          flagFraction: a['flag-fraction'],
          rfi: a.rfi,
          jitterS: a['jitter-s'],
          decDeg: transit?.decDeg ?? a.dec ?? 54.57,
          gains: a.gains,
          flipUvw: a['flip-uvw'],
          legacyIntegrationTime: a['legacy-integration-time'],
          threads: a.threads,
          overwrite: a.overwrite,
        },
        (p) => progress.update(p.bytesWritten / Math.max(1, p.bytesTotal), `${p.filesDone}/${p.filesTotal} files ${formatBytes(p.bytesWritten)}`),
      ),
    ).catch((e: unknown) => {
      progress.fail('simulation failed');
      throw e;
    });
    progress.succeed(`simulated ${summary.groups.length} group(s), ${formatBytes(summary.bytesWritten)} in ${summary.seconds.toFixed(1)} s`);
    const out = transit
      ? { ...summary, calibrator: { name: transit.calibrator.name, transitIso: transit.transitIso, transitMjd: transit.transitMjd, decDeg: transit.decDeg } }
      : summary;
    report(io, a.json, out, () =>
      summary.groups
        .map((g) => `${g.group}: ${g.files.length} subband files, ${g.nSources} sources, truth ${path.relative(process.cwd(), g.truth) || g.truth}\n`)
        .join('') +
        (transit ? `${transit.calibrator.name} transits at ${transit.transitIso} (dec of date ${transit.decDeg.toFixed(4)} deg)\n` : '') + `${formatBytes(summary.bytesWritten)} written to ${outputDir} in ${summary.seconds.toFixed(1)} s\n`,
    );
    return 0;
  },
});
