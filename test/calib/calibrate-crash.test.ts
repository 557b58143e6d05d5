/**
 * `contimg calibrate` crash safety: SIGKILL at each fault point (CONTIMG_CALIBRATE_FAULT: after
 * the accumulation, with each table complete under its temporary name, and after each rename)
 * leaves every table under its final name complete or absent, registers nothing, and a rerun
 * finishes the job (the three tables, registered in cal_registry, no leftovers).
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cli, cliJson, oracle, tmpDir, runCli } from '../helpers.js';

afterAll(cleanupTmpDirs);

const SIM = ['--calibrator', '3C286', '--antennas', '12', '--channels', '4', '--integrations', '6', '--seed', '11'];
let ms: string;

beforeAll(async () => {
  const dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'in'), ...SIM);
  ms = (await cliJson('convert', '--input-dir', path.join(dir, 'in'), '--output-dir', path.join(dir, 'ms'))).groups[0].outputMs;
}, 60_000);


const POINTS = ['accumulated', 'bpcal-staged', 'bpcal', 'gpcal-staged', 'gpcal', '2gcal-staged', '2gcal'];

describe('SIGKILL during calibrate', () => {
  it('leaves no table or the complete one, registers nothing; a rerun finishes', async () => {
    for (const point of POINTS) {
      const base = tmpDir();
      const env = ['--stage-base', path.join(base, 'stage'), '--data-base', path.join(base, 'data')];
      const [dry] = await cliJson('calibrate', ms, ...env, '--dry-run');
      const finals: string[] = [dry.tables.bandpass, dry.tables.gain, dry.tables.gain2];
      const r = await runCli(['calibrate', ms, ...env, '--json'], { CONTIMG_CALIBRATE_FAULT: point });
      expect(r.signal, point).toBe('SIGKILL');
      const present = finals.filter((f) => existsSync(f));
      // Tables appear in order, each complete: bpcal after "bpcal", gpcal after "gpcal", …
      const want = POINTS.indexOf(point) >= POINTS.indexOf('2gcal') ? 3 : POINTS.indexOf(point) >= POINTS.indexOf('gpcal') ? 2 : POINTS.indexOf(point) >= POINTS.indexOf('bpcal') ? 1 : 0;
      expect(present, point).toEqual(finals.slice(0, want));
      if (present.length > 0) {
        const info = await oracle('calib_vs_truth.py', 'tables', ...present);
        for (const t of info) {
          expect(t.finite, `${point} ${t.path}`).toBe(true);
          expect(t.subtables).toEqual(['ANTENNA', 'FIELD', 'HISTORY', 'OBSERVATION', 'SPECTRAL_WINDOW']);
          expect(t.rows).toBeGreaterThan(0);
        }
      }
      // Nothing is registered by a killed run: applycal finds no tables.
      const a = await cli('applycal', ms, ...env, '--dry-run', '--json');
      expect(JSON.parse(a.stdout)[0].code, point).toBe('CALIB_NO_TABLES');
      // The rerun completes and registers the three.
      const again = await cliJson('calibrate', ms, ...env);
      expect(['calibrated', 'skipped']).toContain(again[0].status);
      expect(again[0].registered, point).toBe(3);
      for (const f of finals) expect(readdirSync(path.dirname(f)).filter((x) => x.includes('.partial-')), point).toEqual([]);
      const [ap] = await cliJson('applycal', ms, ...env, '--dry-run');
      expect(ap.tables.map((t: { path: string }) => t.path), point).toEqual(finals);
      const info = await oracle('calib_vs_truth.py', 'tables', ...finals);
      expect(info.map((t: { subType: string }) => t.subType)).toEqual(['B Jones', 'G Jones', 'G Jones']);
    }
  }, 180_000);
});
