/**
 * `contimg simulate --rfi` and `contimg flag`: the RFI mask is exactly where the data differ
 * from the same simulation without RFI; the flagger finds ≥95% of it and flags ≤2% of the
 * clean samples (both over the samples not flagged by design: autocorrelations, the first and
 * last integration); AOFlagger 3.1's default strategy on a copy of the same MS is reported
 * beside it. Existing flags survive, a second run changes nothing, --dry-run writes nothing,
 * and bad input fails with a code.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliJson, cleanupTmpDirs, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--antennas', '10', '--channels', '4', '--integrations', '12', '--seed', '7'];
let dir: string;
let ms: string;
let truth: string;

function copyMs(name: string): string {
  const c = path.join(dir, name);
  cpSync(ms, c, { recursive: true });
  return c;
}

beforeAll(async () => {
  dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'rfi'), ...SIM, '--rfi');
  await cliJson('simulate', '--output-dir', path.join(dir, 'clean'), ...SIM);
  ms = (await cliJson('convert', '--input-dir', path.join(dir, 'rfi'), '--output-dir', path.join(dir, 'ms'))).groups[0].outputMs;
  truth = path.join(dir, 'rfi', '2025-10-02T00:00:00.truth.json');
}, 120_000);

describe('simulate --rfi', () => {
  it('writes the exact mask: the samples that differ from the run without --rfi', async () => {
    const r = await oracle('flag_score.py', 'mask', path.join(dir, 'rfi'), path.join(dir, 'clean'));
    expect(r.shape).toEqual([12, 55, 64, 2]);
    expect(r.mask).toBeGreaterThan(0);
    expect(r.equal).toBe(true);
    expect(r.differ).toBe(r.mask);
  });

  it('records the plan and the npy axes in truth.json, with a range of strengths', () => {
    const t = JSON.parse(readFileSync(truth, 'utf8')).rfi;
    const sigma = t.sigma_jy;
    expect(t.narrowband.length).toBeGreaterThanOrEqual(2);
    expect(t.bursts.length).toBeGreaterThanOrEqual(2);
    expect(t.bad_antennas.length).toBe(1);
    for (const n of t.narrowband) expect(n.amplitude_jy / sigma).toBeGreaterThanOrEqual(10);
    for (const b of t.bursts) expect(b.amplitude_jy / sigma).toBeGreaterThanOrEqual(3);
    expect(t.npy.axes).toEqual(['time', 'baseline', 'freq', 'pol']);
    expect(t.npy.baselines.length).toBe(55);
    expect(t.npy.n_true).toBeGreaterThan(0);
  });
});

describe('contimg flag', () => {
  it('finds >= 95% of the injected RFI and flags <= 2% of the clean samples; AOFlagger reported beside', async () => {
    const ours = copyMs('ours.ms');
    const [r] = await cliJson('flag', ours);
    expect(r.status).toBe('flagged');
    expect(r.summary.steps.map((s: { step: string }) => s.step)).toEqual(['autocorr', 'quack', 'sumthreshold', 'baselines', 'antennas', 'sir']);
    const s = await oracle('flag_score.py', 'score', ours, truth);
    // The bad antenna (all its baselines) is found as a whole.
    const bad = JSON.parse(readFileSync(truth, 'utf8')).rfi.bad_antennas.map((b: { antenna: number }) => b.antenna);
    expect(r.summary.noisyAntennas).toEqual(bad);
    let aof = 'aoflagger not installed';
    if (existsSync('/usr/bin/aoflagger')) {
      const theirs = copyMs('aoflagger.ms');
      execFileSync('aoflagger', [theirs], { stdio: 'ignore' });
      const a = await oracle('flag_score.py', 'score', theirs, truth);
      aof = `AOFlagger 3.1 default strategy: detection ${(100 * a.detection).toFixed(2)}%, false ${(100 * a.false).toFixed(2)}%`;
      // Sanity only: AOFlagger finds a good part of it.
      expect(a.detection).toBeGreaterThan(0.3);
    }
    console.log(`flag score (test size, excluding autocorrelations and quack): contimg detection ${(100 * s.detection).toFixed(2)}%, false ${(100 * s.false).toFixed(2)}%; over all samples ${(100 * s.detection_all).toFixed(2)}% / ${(100 * s.false_all).toFixed(2)}%; ${aof}`);
    expect(s.detection).toBeGreaterThanOrEqual(0.95);
    expect(s.false).toBeLessThanOrEqual(0.02);
  }, 120_000);

  it('joins the spectral windows of a baseline: the 16-window layout gets the same flags as the single window', async () => {
    const ms16 = (await cliJson('convert', '--input-dir', path.join(dir, 'rfi'), '--output-dir', path.join(dir, 'ms16'), '--spw-per-subband')).groups[0].outputMs;
    const [one] = await cliJson('flag', copyMs('one.ms'));
    const [many] = await cliJson('flag', ms16);
    expect(many.summary.nChan).toBe(64);
    const newly = (r: { summary: { steps: { newlyFlagged: number }[] } }) => r.summary.steps.map((s) => s.newlyFlagged);
    expect(newly(many)).toEqual(newly(one));
    expect(many.summary.noisyAntennas).toEqual(one.summary.noisyAntennas);
    const a = await oracle('flag_score.py', 'score', path.join(dir, 'one.ms'), truth);
    const b = await oracle('flag_score.py', 'score', ms16, truth);
    expect(b.detection).toBe(a.detection);
    expect(b.false).toBe(a.false);
    // Edge channels count from the ends of each window: channels 0 and 3 of every 4.
    const [edged] = await cliJson('flag', ms16, '--edge-channels', '1');
    const after: number[] = edged.summary.perChannelAfter;
    expect(after.filter((_, c) => c % 4 === 0 || c % 4 === 3).every((f) => f === 1)).toBe(true);
    expect(edged.summary.steps.find((s: { step: string }) => s.step === 'edges').newlyFlagged).toBeGreaterThan(0);
  }, 120_000);

  it('keeps existing flags, and a second run leaves FLAG as it is', async () => {
    const m = copyMs('preset.ms');
    const p = await oracle('flag_score.py', 'preset', m);
    expect(p.set).toBeGreaterThan(0);
    const [first] = await cliJson('flag', m);
    expect(first.summary.flaggedBefore).toBe(p.set);
    expect((await oracle('flag_score.py', 'preset-kept', m)).unflagged).toBe(0);
    const h1 = await oracle('flag_score.py', 'hash', m);
    expect(h1.flagged).toBe(first.summary.flaggedAfter);
    const [second] = await cliJson('flag', m);
    expect(second.summary.alreadyFlagged).toBe(true);
    expect((await oracle('flag_score.py', 'hash', m)).sha256).toBe(h1.sha256);
    // Other settings flag again, on top of what is there (OR).
    const [third] = await cliJson('flag', m, '--edge-channels', '2');
    expect(third.summary.alreadyFlagged).toBe(false);
    expect(third.summary.flaggedBefore).toBe(h1.flagged);
    expect(third.summary.flaggedAfter).toBeGreaterThan(h1.flagged);
    expect(third.summary.steps.find((s: { step: string }) => s.step === 'edges').newlyFlagged).toBeGreaterThan(0);
    expect((await oracle('flag_score.py', 'preset-kept', m)).unflagged).toBe(0);
    // Edge channels are flagged everywhere.
    expect(third.summary.perChannelAfter[0]).toBe(1);
    expect(third.summary.perChannelAfter[63]).toBe(1);
  }, 120_000);

  it('flags only what is asked: --no-rfi with --no-quack flags exactly the autocorrelations', async () => {
    const m = copyMs('design.ms');
    const [r] = await cliJson('flag', m, '--no-rfi', '--no-quack');
    // 10 autocorrelations of 55 baselines.
    expect(r.summary.fractionAfter).toBeCloseTo(10 / 55, 12);
    expect(r.summary.steps.map((s: { step: string }) => s.step)).toEqual(['autocorr']);
    const [q] = await cliJson('flag', m, '--no-rfi', '--no-autocorr');
    // Quack: 2 of 12 integrations, on top of the autocorrelations already flagged.
    expect(q.summary.fractionAfter).toBeCloseTo(10 / 55 + (2 / 12) * (45 / 55), 12);
  }, 60_000);

  it('--dry-run computes and reports but writes nothing', async () => {
    const m = copyMs('dry.ms');
    const before = await oracle('flag_score.py', 'hash', m);
    const files = readdirSync(path.dirname(m)).sort();
    const [r] = await cliJson('flag', m, '--dry-run');
    expect(r.status).toBe('dry-run');
    expect(r.summary.fractionAfter).toBeGreaterThan(0.3);
    expect((await oracle('flag_score.py', 'hash', m)).sha256).toBe(before.sha256);
    expect(readdirSync(path.dirname(m)).sort()).toEqual(files);
  }, 60_000);

  it('fails clearly: no MS, no DATA column, read-only MS, bad options', async () => {
    const missing = await cli('flag', path.join(dir, 'nope.ms'), '--json');
    expect(missing.code).toBe(1);
    const [m] = JSON.parse(missing.stdout);
    expect(m.code).toBe('CALIB_MS_NOT_FOUND');
    expect(m.error).toContain('nope.ms');

    const noData = copyMs('nodata.ms');
    execFileSync(process.env.CONTIMG_ORACLE_PYTHON ?? 'python3', ['-c', `from casacore.tables import table; t = table('${noData}', readonly=False, ack=False); t.removecols(['DATA']); t.close()`]);
    const [n] = JSON.parse((await cli('flag', noData, '--json')).stdout);
    expect(n.code).toBe('CALIB_NO_DATA_COLUMN');

    const ro = copyMs('ro.ms');
    chmodSync(ro, 0o555);
    const [r] = JSON.parse((await cli('flag', ro, '--json')).stdout);
    expect(r.code).toBe('CALIB_MS_READ_ONLY');
    expect(r.error).toContain('ro.ms');
    chmodSync(ro, 0o755);

    const bad = await cli('flag', ms, '--sir-eta', '1.5', '--json');
    expect(JSON.parse(bad.stdout)[0].code).toBe('INVALID_ARGUMENT');
  }, 60_000);
});
