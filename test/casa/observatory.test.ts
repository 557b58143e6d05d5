/**
 * What CASA users see of the array: CASA 6.7 (casatools/casatasks in the oracle venv) opens an
 * MS we wrote and places the observatory, and the antennas around it, where DSA-110 is.
 *
 * CASA takes the observatory position only from its own table, by OBSERVATION TELESCOPE_NAME
 * (crates/dsa110 MS_TELESCOPE_NAME says why we name EOVSA's entry). The correlator's name,
 * OVRO_MMA, has a broken entry there: listobs reported antennas 6,370 km above the array centre
 * and exportfits wrote OBSGEO 1188 m from the Earth's centre. pyuvdata and our own FITS images
 * take the exact site from the MS (OBSERVATION TELESCOPE_LOCATION).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTmpDirs, cliJson, oracle, tmpDir } from '../helpers.js';

afterAll(cleanupTmpDirs);

interface Placement {
  array_diameter_m: number;
  casa_observatory: string;
  casa_observatory_m: number;
  msmd_max_horizontal_offset_m: number;
  msmd_max_elevation_offset_m: number;
  listobs_antennas: number;
  listobs_max_horizontal_offset_m: number;
  listobs_max_elevation_offset_m: number;
  casa_exportfits_obsgeo_m: number | null;
  pyuvdata_location_m: number;
  ours_obsgeo_m: number | null;
  ours_telescop: string;
}

let p: Placement;
beforeAll(async () => {
  const dir = tmpDir();
  await cliJson('simulate', '--output-dir', path.join(dir, 'in'), '--antennas', '32', '--subbands', '2', '--channels', '2', '--integrations', '2', '--seed', '11');
  const c = await cliJson('convert', '--input-dir', path.join(dir, 'in'), '--output-dir', path.join(dir, 'ms'), '--expected-subbands', '2');
  const ms = c.groups[0].outputMs;
  const [r] = await cliJson('image', ms, '--output-dir', path.join(dir, 'img'), '--size', '64', '--niter', '0');
  p = await oracle<Placement>('casa_observatory.py', ms, dir, r.prefix + '.image.fits');
}, 600_000);

describe('the observatory position CASA, pyuvdata and FITS readers take from our MS', () => {
  it('listobs and msmd give antenna offsets within the array, at ground level', () => {
    expect(p.casa_observatory).toBe('EOVSA');
    // The nearest entry CASA ships, inside the array (316 m from its centre).
    expect(p.casa_observatory_m).toBeLessThan(350);
    expect(p.listobs_antennas).toBe(32);
    for (const h of [p.listobs_max_horizontal_offset_m, p.msmd_max_horizontal_offset_m]) {
      expect(h).toBeGreaterThan(100);
      expect(h).toBeLessThan(p.array_diameter_m);
    }
    // The site is flat to a few tens of metres (OVRO_MMA's entry gave 6,370 km).
    expect(p.listobs_max_elevation_offset_m).toBeLessThan(60);
    expect(p.msmd_max_elevation_offset_m).toBeLessThan(60);
  });

  it("exportfits of a CASA image writes OBSGEO at CASA's observatory, at OVRO", () => {
    expect(p.casa_exportfits_obsgeo_m).not.toBeNull();
    expect(p.casa_exportfits_obsgeo_m!).toBeCloseTo(p.casa_observatory_m, 3);
    expect(p.casa_exportfits_obsgeo_m!).toBeLessThan(350);
  });

  it('pyuvdata and our FITS images place the array at the DSA-110 site', () => {
    expect(p.pyuvdata_location_m).toBeLessThan(0.01);
    expect(p.ours_obsgeo_m).not.toBeNull();
    expect(p.ours_obsgeo_m!).toBeLessThan(0.01);
    expect(p.ours_telescop).toBe('DSA-110');
  });
});
