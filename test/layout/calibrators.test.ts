/**
 * Science or calibrator: sidereal time and apparent places against astropy, the closest approach
 * against a brute-force search, and the classification of real MS around a 3C286 transit.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CALIBRATORS_FILE,
  PRIMARY_BEAM_RADIUS_DEG,
  angularSeparationDeg,
  apparentPlace,
  classifyGroup,
  closestApproach,
  loadCalibrators,
  localApparentSiderealTimeDeg,
} from '../../ts/layout/index.js';
import { readMsFacts } from '../../ts/migrate/index.js';
import { cleanupTmpDirs, python, root, tmpDir } from '../helpers.js';
import { makeRealMs, seeded } from '../migrate/fixtures.js';

afterAll(cleanupTmpDirs);

async function astropy<T>(req: unknown): Promise<T> {
  const child = execFile(python, [path.join(root, 'test', 'layout', 'sky_oracle.py')], { maxBuffer: 64 << 20 });
  child.stdin!.end(JSON.stringify(req));
  const out = await new Promise<string>((resolve, reject) => {
    let s = '';
    let e = '';
    child.stdout!.on('data', (b) => (s += b));
    child.stderr!.on('data', (b) => (e += b));
    child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`sky_oracle.py failed: ${e}`))));
  });
  return JSON.parse(out) as T;
}

const ARCSEC = 1 / 3600;
const wrap = (d: number) => ((d % 360) + 540) % 360 - 180;
const cal3C286 = { name: '3C286', raDeg: 202.784534, decDeg: 30.509155, fluxJy: 15 };

let transit: { transit_mjd: number; apparent_dec_deg: number };
beforeAll(async () => {
  transit = await astropy({ transit: { ra_deg: cal3C286.raDeg, dec_deg: cal3C286.decDeg, day_mjd: 60950 } });
});

describe('sidereal time and apparent places (against astropy)', () => {
  it('local apparent sidereal time agrees to within an arcsecond over 2020–2030', async () => {
    const rnd = seeded(1);
    const mjds = Array.from({ length: 40 }, () => 58849 + rnd() * 3653);
    const ref = await astropy<{ last_deg: number[] }>({ lst_mjds: mjds });
    for (const [i, mjd] of mjds.entries()) {
      expect(Math.abs(wrap(localApparentSiderealTimeDeg(mjd) - ref.last_deg[i]!)), `MJD ${mjd}`).toBeLessThan(1 * ARCSEC);
    }
  });

  it('J2000 → apparent place (true equator and equinox of date) agrees to within 2″', async () => {
    for (const [ra, dec, mjd] of [
      [202.784534, 30.509155, 60950.86],
      [24.422081, 33.159759, 55000.1],
      [270.19035, 78.467783, 62000.7],
      [187.277915, 2.052388, 60000.3],
    ] as const) {
      const ref = await astropy<{ apparent: { ra_deg: number; dec_deg: number } }>({ apparent: { ra_deg: ra, dec_deg: dec, mjd } });
      const mine = apparentPlace(ra, dec, mjd);
      // Precession alone moves these by up to 0.3°: the comparison is not trivially small.
      expect(angularSeparationDeg(ra, dec, ref.apparent.ra_deg, ref.apparent.dec_deg)).toBeGreaterThan(60 * ARCSEC);
      expect(angularSeparationDeg(mine.raDeg, mine.decDeg, ref.apparent.ra_deg, ref.apparent.dec_deg)).toBeLessThan(2 * ARCSEC);
    }
  });

  it('the closest approach to the meridian beam matches a brute-force search', async () => {
    const rnd = seeded(2);
    const cases = Array.from({ length: 12 }, (_, i) => {
      const start = transit.transit_mjd + (rnd() - 0.5) * (i < 6 ? 0.01 : 0.2);
      return { ra_deg: cal3C286.raDeg, dec_deg: cal3C286.decDeg, start_mjd: start, end_mjd: start + 309 / 86400, pointing_dec_deg: 30.378 + (rnd() - 0.5) * 4 };
    });
    const ref = await astropy<{ closest: { min_sep_deg: number; at_mjd: number }[] }>({ closest: cases });
    for (const [i, c] of cases.entries()) {
      const mine = closestApproach(cal3C286, c.start_mjd, c.end_mjd, c.pointing_dec_deg);
      expect(Math.abs(mine.minSeparationDeg - ref.closest[i]!.min_sep_deg), `case ${i}`).toBeLessThan(3 * ARCSEC);
      expect(Math.abs(mine.closestMjd - ref.closest[i]!.at_mjd) * 86400, `case ${i}`).toBeLessThan(3);
    }
  });
});

describe('classifyGroup', () => {
  const calibrators = loadCalibrators();

  it('ships a list of standard calibrators, and a 1.6° half-power radius', () => {
    expect(DEFAULT_CALIBRATORS_FILE.endsWith(path.join('data', 'calibrators.csv'))).toBe(true);
    expect(calibrators.map((c) => c.name)).toEqual(expect.arrayContaining(['3C48', '3C138', '3C147', '3C286', '3C295']));
    expect(PRIMARY_BEAM_RADIUS_DEG).toBeGreaterThan(1.55);
    expect(PRIMARY_BEAM_RADIUS_DEG).toBeLessThan(1.6);
  });

  it('a group during which 3C286 transits through the beam is a calibrator group; others are science', () => {
    const t = transit.transit_mjd;
    const dec = transit.apparent_dec_deg;
    const group = (start: number, pointing: number) => classifyGroup({ startMjd: start, endMjd: start + 309 / 86400, pointingDecDeg: pointing, calibrators });
    const hit = group(t - 100 / 86400, dec);
    expect(hit.kind).toBe('calibrator');
    if (hit.kind === 'calibrator') {
      expect(hit.calibrator.name).toBe('3C286');
      expect(hit.calibrator.minSeparationDeg).toBeLessThan(5 * ARCSEC);
      expect(Math.abs(hit.calibrator.closestMjd - t) * 86400).toBeLessThan(5);
    }
    // One declination step away, still inside the half-power radius…
    expect(group(t - 100 / 86400, dec + 1.4).kind).toBe('calibrator');
    // …two, outside it (for 3C286 alone: the full VLA list has J1326+3154, 4.8 Jy, 0.8° from there).
    const only3C286 = calibrators.filter((c) => c.name === '3C286');
    expect(classifyGroup({ startMjd: t - 100 / 86400, endMjd: t + 209 / 86400, pointingDecDeg: dec + 1.8, calibrators: only3C286 }).kind).toBe('science');
    const neighbour = group(t - 100 / 86400, dec + 1.8);
    expect(neighbour.kind === 'calibrator' && neighbour.calibrator.name).toBe('J1326+3154');
    // Before the transit, the source is still an hour angle away: 20 minutes is 5°.
    expect(group(t - 20 / 1440, dec).kind).toBe('science');
    // A group that ends just as the source enters the beam (1.5° of hour angle ≈ 6 minutes before).
    const edge = group(t - (6 * 60 + 309) / 86400, dec);
    expect(edge.kind).toBe('calibrator');
    // The default survey declination sees none of these calibrators.
    expect(group(t - 100 / 86400, 54.57).kind).toBe('science');
  });

  it('refuses nonsense', () => {
    expect(() => classifyGroup({ startMjd: 2, endMjd: 1, pointingDecDeg: 0, calibrators })).toThrow(/finite and ordered/);
    expect(() => classifyGroup({ startMjd: 1, endMjd: 2, pointingDecDeg: 0, calibrators })).toThrow(/minutes, not 24\.0 hours/);
    expect(() => classifyGroup({ startMjd: 1, endMjd: 1.001, pointingDecDeg: 95, calibrators })).toThrow(/not in \[-90, 90\]/);
  });

  it('classifies real MS by their own time range: simulated at the 3C286 transit, and an hour later', async () => {
    const dir = tmpDir('contimg-cal-ms-');
    const start = new Date((transit.transit_mjd - 40587) * 86400_000 - 120_000);
    const ts = (d: Date) => d.toISOString().slice(0, 19);
    const atTransit = await makeRealMs(dir, ts(start), { decDeg: transit.apparent_dec_deg, integrations: 24 });
    const later = await makeRealMs(dir, ts(new Date(start.getTime() + 3600_000)), { decDeg: transit.apparent_dec_deg, integrations: 24 });
    for (const [ms, kind] of [
      [atTransit, 'calibrator'],
      [later, 'science'],
    ] as const) {
      const facts = readMsFacts(ms);
      // 24 integrations of 12.885 s: a 5-minute group.
      expect((facts.endMjd - facts.startMjd) * 86400).toBeCloseTo(24 * 12.884902, 1);
      const cls = classifyGroup({ startMjd: facts.startMjd, endMjd: facts.endMjd, pointingDecDeg: transit.apparent_dec_deg, calibrators });
      expect(cls.kind, ms).toBe(kind);
    }
  });
});
