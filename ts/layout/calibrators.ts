/**
 * Science or calibrator: a group's MS goes to `raw/ms/calibrators/` when a source from the
 * calibrator list passes through the primary beam during the group.
 *
 * DSA-110 is a transit array: the dishes point at the meridian at a fixed declination and the
 * correlator fringe-stops there (DESIGN.md §2), so the beam centre at time t is (HA = 0, δ = the
 * pointing declination), i.e. apparent RA = the local apparent sidereal time. A calibrator passes
 * through the beam when its angular distance from that centre falls within the half-power radius
 * at some instant of the group.
 *
 * Accuracy: sidereal time from the IAU 2006 GMST (UT1 taken as UTC: |UT1−UTC| < 0.9 s ≈ 14″)
 * plus the leading terms of the equation of the equinoxes; calibrator positions (J2000) are
 * precessed (IAU 1976), nutated and aberrated to the true equator and equinox of date. Both agree
 * with astropy to about an arcsecond (test/layout/calibrators.test.ts), for a test against a 1.6°
 * radius.
 */
import path from 'node:path';
import { ContimgError } from '../error.js';
import { projectRoot } from '../project-root.js';
import { readSky, type SkySource } from '../sky.js';

/** OVRO, the DSA-110 site (DESIGN.md §2: the UVH5 header's telescope location). */
export const DSA110_LONGITUDE_DEG = -118.283405;
export const DSA110_LATITUDE_DEG = 37.233387;
/** DSA-110 dish diameter (DESIGN.md §2). */
export const DISH_DIAMETER_M = 4.65;
/** Where the beam is evaluated: 1.4 GHz, inside the 1311–1499 MHz band. */
export const BEAM_REFERENCE_FREQUENCY_HZ = 1.4e9;
const SPEED_OF_LIGHT_M_S = 299_792_458;
/**
 * The primary beam's half-power radius: a tapered dish has FWHM ≈ 1.2 λ/D, so the radius is
 * 1.2 λ/D / 2 = 1.2 × 0.2141 m / 4.65 m / 2 = 0.0276 rad ≈ 1.58° at 1.4 GHz. A calibrator inside it
 * is seen at more than half its flux, enough to solve on.
 */
export const PRIMARY_BEAM_RADIUS_DEG = ((1.2 * (SPEED_OF_LIGHT_M_S / BEAM_REFERENCE_FREQUENCY_HZ)) / DISH_DIAMETER_M / 2) * (180 / Math.PI);

/** The calibrator list shipped with contimg (standard VLA flux and phase calibrators). */
export const DEFAULT_CALIBRATORS_FILE = path.join(projectRoot, 'data', 'calibrators.csv');

export type Calibrator = SkySource;

/** Reads a calibrator list: CSV `name,ra_deg,dec_deg,flux_jy` (J2000/ICRS, Jy at ~1.4 GHz). */
export function loadCalibrators(file: string = DEFAULT_CALIBRATORS_FILE): Calibrator[] {
  return readSky(file);
}

const DEG = Math.PI / 180;
const ARCSEC = DEG / 3600;
/** TT − UTC since 2017 (32.184 s + 37 leap seconds); only enters precession and nutation. */
const TT_MINUS_UTC_S = 69.184;
/** Sidereal degrees per solar day. */
export const SIDEREAL_DEG_PER_DAY = 360 * 1.00273781191135448;

function wrap360(deg: number): number {
  const r = deg % 360;
  return r < 0 ? r + 360 : r;
}

/** Wraps to (−180, 180]. */
function wrap180(deg: number): number {
  const r = wrap360(deg);
  return r > 180 ? r - 360 : r;
}

/** Julian centuries of TT since J2000.0 at UTC MJD `mjd`. */
function centuriesTT(mjd: number): number {
  return (mjd + TT_MINUS_UTC_S / 86400 - 51544.5) / 36525;
}

/** Greenwich mean sidereal time (IAU 2006: Earth rotation angle plus the precession polynomial), degrees. */
export function greenwichMeanSiderealTimeDeg(mjdUtc: number): number {
  const du = mjdUtc - 51544.5;
  // ERA = 2π (0.7790572732640 + 1.00273781191135448 Du): split Du's whole days off for precision.
  const era = wrap360(360 * (0.779057273264 + 0.00273781191135448 * du + (du % 1)));
  const t = centuriesTT(mjdUtc);
  const poly = 0.014506 + t * (4612.156534 + t * (1.3915817 + t * (-0.00000044 + t * (-0.000029956 + t * -0.0000000368))));
  return wrap360(era + poly / 3600);
}

interface Nutation {
  /** Nutation in longitude and obliquity, and the true obliquity, in radians. */
  dpsi: number;
  deps: number;
  eps: number;
}

/** The four largest terms of the IAU 1980 nutation (≈ 0.5″), enough here. */
function nutation(mjdUtc: number): Nutation {
  const t = centuriesTT(mjdUtc);
  const omega = (125.04452 - 1934.136261 * t) * DEG;
  const lSun = (280.4665 + 36000.7698 * t) * DEG;
  const lMoon = (218.3165 + 481267.8813 * t) * DEG;
  const dpsi = (-17.2 * Math.sin(omega) - 1.32 * Math.sin(2 * lSun) - 0.23 * Math.sin(2 * lMoon) + 0.21 * Math.sin(2 * omega)) * ARCSEC;
  const deps = (9.2 * Math.cos(omega) + 0.57 * Math.cos(2 * lSun) + 0.1 * Math.cos(2 * lMoon) - 0.09 * Math.cos(2 * omega)) * ARCSEC;
  const eps0 = (84381.406 - 46.836769 * t) * ARCSEC;
  return { dpsi, deps, eps: eps0 + deps };
}

/** Greenwich apparent sidereal time: GMST plus the equation of the equinoxes (Δψ cos ε), degrees. */
export function greenwichApparentSiderealTimeDeg(mjdUtc: number): number {
  const n = nutation(mjdUtc);
  return wrap360(greenwichMeanSiderealTimeDeg(mjdUtc) + (n.dpsi * Math.cos(n.eps)) / DEG);
}

/** Local apparent sidereal time: the apparent RA of the meridian, degrees in [0, 360). */
export function localApparentSiderealTimeDeg(mjdUtc: number, longitudeDeg = DSA110_LONGITUDE_DEG): number {
  return wrap360(greenwichApparentSiderealTimeDeg(mjdUtc) + longitudeDeg);
}

/**
 * A J2000 position at the true equator and equinox of date (geocentric apparent place): IAU 1976
 * precession (Lieske's ζ, z, θ), nutation, and annual aberration (Meeus, Astronomical Algorithms
 * ch. 23), good to about an arcsecond.
 */
export function apparentPlace(raDeg: number, decDeg: number, mjdUtc: number): { raDeg: number; decDeg: number } {
  const t = centuriesTT(mjdUtc);
  const zeta = (2306.2181 * t + 0.30188 * t * t + 0.017998 * t ** 3) * ARCSEC;
  const z = (2306.2181 * t + 1.09468 * t * t + 0.018203 * t ** 3) * ARCSEC;
  const theta = (2004.3109 * t - 0.42665 * t * t - 0.041833 * t ** 3) * ARCSEC;
  const a0 = raDeg * DEG;
  const d0 = decDeg * DEG;
  const A = Math.cos(d0) * Math.sin(a0 + zeta);
  const B = Math.cos(theta) * Math.cos(d0) * Math.cos(a0 + zeta) - Math.sin(theta) * Math.sin(d0);
  const C = Math.sin(theta) * Math.cos(d0) * Math.cos(a0 + zeta) + Math.cos(theta) * Math.sin(d0);
  const a = Math.atan2(A, B) + z;
  const d = Math.asin(Math.max(-1, Math.min(1, C)));
  // Nutation in RA and Dec (first order).
  const n = nutation(mjdUtc);
  const da = (Math.cos(n.eps) + Math.sin(n.eps) * Math.sin(a) * Math.tan(d)) * n.dpsi - Math.cos(a) * Math.tan(d) * n.deps;
  const dd = Math.sin(n.eps) * Math.cos(a) * n.dpsi + Math.sin(a) * n.deps;
  // Annual aberration, with the Sun's true longitude and the eccentricity of Earth's orbit.
  const kappa = 20.49552 * ARCSEC;
  const e = 0.016708634 - 0.000042037 * t;
  const perihelion = (102.93735 + 1.71946 * t) * DEG;
  const M = (357.52911 + 35999.05029 * t) * DEG;
  const sun = (280.46646 + 36000.76983 * t + (1.914602 - 0.004817 * t) * Math.sin(M) + (0.019993 - 0.000101 * t) * Math.sin(2 * M) + 0.000289 * Math.sin(3 * M)) * DEG;
  const eps = n.eps;
  const aa = (lon: number) => (Math.cos(a) * Math.cos(lon) * Math.cos(eps) + Math.sin(a) * Math.sin(lon)) / Math.cos(d);
  const ad = (lon: number) => Math.cos(lon) * Math.cos(eps) * (Math.tan(eps) * Math.cos(d) - Math.sin(a) * Math.sin(d)) + Math.cos(a) * Math.sin(d) * Math.sin(lon);
  const daAb = -kappa * aa(sun) + e * kappa * aa(perihelion);
  const ddAb = -kappa * ad(sun) + e * kappa * ad(perihelion);
  return { raDeg: wrap360((a + da + daAb) / DEG), decDeg: (d + dd + ddAb) / DEG };
}

/** Great-circle distance between two positions (Vincenty's formula, stable at all distances), degrees. */
export function angularSeparationDeg(ra1Deg: number, dec1Deg: number, ra2Deg: number, dec2Deg: number): number {
  const dra = (ra2Deg - ra1Deg) * DEG;
  const [d1, d2] = [dec1Deg * DEG, dec2Deg * DEG];
  const num = Math.hypot(Math.cos(d2) * Math.sin(dra), Math.cos(d1) * Math.sin(d2) - Math.sin(d1) * Math.cos(d2) * Math.cos(dra));
  const den = Math.sin(d1) * Math.sin(d2) + Math.cos(d1) * Math.cos(d2) * Math.cos(dra);
  return Math.atan2(num, den) / DEG;
}

export interface TransitPass {
  /** The smallest distance from the beam centre during the interval, degrees. */
  minSeparationDeg: number;
  /** When it occurs (MJD, UTC): the meridian transit if it falls inside the interval. */
  closestMjd: number;
}

/**
 * How close a source comes to the meridian beam centre (HA = 0, δ = pointing) between two
 * instants. The distance only grows with |HA|, and HA grows steadily with time, so the closest
 * approach is the transit if it falls inside the interval, else one of its ends.
 */
export function closestApproach(source: { raDeg: number; decDeg: number }, startMjd: number, endMjd: number, pointingDecDeg: number): TransitPass {
  const place = apparentPlace(source.raDeg, source.decDeg, (startMjd + endMjd) / 2);
  const haStart = wrap180(localApparentSiderealTimeDeg(startMjd) - place.raDeg);
  const haEnd = haStart + (endMjd - startMjd) * SIDEREAL_DEG_PER_DAY;
  let ha: number;
  let when: number;
  if (haStart <= 0 && haEnd >= 0) {
    ha = 0;
    when = startMjd - haStart / SIDEREAL_DEG_PER_DAY;
  } else if (Math.abs(haStart) <= Math.abs(wrap180(haEnd))) {
    ha = haStart;
    when = startMjd;
  } else {
    ha = wrap180(haEnd);
    when = endMjd;
  }
  // The beam centre at that instant is at RA = source RA + HA, δ = pointing (apparent frame).
  return { minSeparationDeg: angularSeparationDeg(place.raDeg + ha, place.decDeg, place.raDeg, pointingDecDeg), closestMjd: when };
}

export interface GroupSky {
  /** The group's first and last instants (MJD, UTC). */
  startMjd: number;
  endMjd: number;
  /** The pointing declination of date, degrees (the UVH5 header's `phase_center_dec`). */
  pointingDecDeg: number;
  calibrators: readonly Calibrator[];
  /** Override the half-power radius (degrees). */
  beamRadiusDeg?: number;
}

export type GroupClass =
  | { kind: 'science' }
  | { kind: 'calibrator'; calibrator: Calibrator & TransitPass };

/**
 * Science or calibrator. When several calibrators pass through the beam, the one that comes
 * closest to the beam centre is named (then the brightest).
 */
export function classifyGroup(g: GroupSky): GroupClass {
  if (!Number.isFinite(g.startMjd) || !Number.isFinite(g.endMjd) || g.endMjd < g.startMjd) {
    throw new ContimgError('LAYOUT_INVALID_ARGUMENT', `a group's time range must be finite and ordered (got ${g.startMjd} … ${g.endMjd} MJD)`);
  }
  if (g.endMjd - g.startMjd > 0.5) {
    throw new ContimgError('LAYOUT_INVALID_ARGUMENT', `a group lasts minutes, not ${((g.endMjd - g.startMjd) * 24).toFixed(1)} hours`);
  }
  if (!Number.isFinite(g.pointingDecDeg) || Math.abs(g.pointingDecDeg) > 90) {
    throw new ContimgError('LAYOUT_INVALID_ARGUMENT', `pointing declination ${g.pointingDecDeg}° is not in [-90, 90]`);
  }
  const radius = g.beamRadiusDeg ?? PRIMARY_BEAM_RADIUS_DEG;
  let best: (Calibrator & TransitPass) | undefined;
  for (const c of g.calibrators) {
    // Cheap reject: the distance is at least the difference in declination.
    if (Math.abs(c.decDeg - g.pointingDecDeg) > radius + 1) continue;
    const pass = closestApproach(c, g.startMjd, g.endMjd, g.pointingDecDeg);
    if (pass.minSeparationDeg > radius) continue;
    if (!best || pass.minSeparationDeg < best.minSeparationDeg - 1e-9 || (Math.abs(pass.minSeparationDeg - best.minSeparationDeg) <= 1e-9 && c.fluxJy > best.fluxJy)) {
      best = { ...c, ...pass };
    }
  }
  return best ? { kind: 'calibrator', calibrator: best } : { kind: 'science' };
}

/** The frequency of the catalogue's flux densities (the VLA manual's 20 cm band), Hz. */
export const CALIBRATOR_REF_FREQ_HZ = 1.4e9;

/**
 * Names a calibrator answers to: its catalogue name, the J2000 name hhmm±ddmm (3C286 =
 * J1331+3030) and the VLA manual's IAU name hhmm±ddd (1331+305, also with a J), all derived
 * from the position by truncation, as the catalogues name them.
 */
export function calibratorAliases(c: Calibrator): string[] {
  const raMin = Math.floor((c.raDeg / 15) * 60 + 1e-9);
  const sign = c.decDeg < 0 ? '-' : '+';
  const decAbs = Math.abs(c.decDeg);
  const decMin = Math.floor(decAbs * 60 + 1e-9);
  const hhmm = `${String(Math.floor(raMin / 60)).padStart(2, '0')}${String(raMin % 60).padStart(2, '0')}`;
  const jName = `J${hhmm}${sign}${String(Math.floor(decMin / 60)).padStart(2, '0')}${String(decMin % 60).padStart(2, '0')}`;
  const iau = `${hhmm}${sign}${String(Math.floor(decAbs * 10 + 1e-9)).padStart(3, '0')}`;
  return [...new Set([c.name, jName, iau, `J${iau}`])];
}

/** Looks a calibrator up by any of its names, case-insensitively; undefined when none matches. */
export function findCalibrator(calibrators: readonly Calibrator[], name: string): Calibrator | undefined {
  const want = name.trim().toUpperCase().replace(/\s+/g, '');
  return (
    calibrators.find((c) => c.name.toUpperCase() === want) ??
    calibrators.find((c) => calibratorAliases(c).some((a) => a.toUpperCase() === want))
  );
}

/**
 * The first meridian transit (HA = 0 at the DSA-110 site) at or after `afterMjd` (UTC), and the
 * apparent declination of date then: where `simulate --calibrator` points and fringe-stops.
 */
export function nextTransit(source: { raDeg: number; decDeg: number }, afterMjd: number): { mjd: number; apparentDecDeg: number } {
  const ha0 = wrap360(localApparentSiderealTimeDeg(afterMjd) - apparentPlace(source.raDeg, source.decDeg, afterMjd).raDeg);
  // HA grows by SIDEREAL_DEG_PER_DAY: the next zero is (360 − HA) later (now, if HA is 0).
  let mjd = afterMjd + (ha0 === 0 ? 0 : (360 - ha0) / SIDEREAL_DEG_PER_DAY);
  // The apparent place moves by arcseconds a day: two corrections reach microseconds.
  for (let i = 0; i < 3; i++) {
    const ha = wrap180(localApparentSiderealTimeDeg(mjd) - apparentPlace(source.raDeg, source.decDeg, mjd).raDeg);
    mjd -= ha / SIDEREAL_DEG_PER_DAY;
  }
  return { mjd, apparentDecDeg: apparentPlace(source.raDeg, source.decDeg, mjd).decDeg };
}

/**
 * The dish's power response at `thetaRad` from the pointing centre: the tapered-illumination
 * model the simulator uses (`dsa110::beam::primary_beam_power`, from dsa110-calib's
 * `pb_resp`): A = [cos(πx) / (1 − 4x²)]², x = 1.2 θ D / λ.
 */
export function primaryBeamPower(thetaRad: number, freqHz = BEAM_REFERENCE_FREQUENCY_HZ): number {
  const x = (1.2 * Math.abs(thetaRad) * DISH_DIAMETER_M * freqHz) / SPEED_OF_LIGHT_M_S;
  const d = 1 - 4 * x * x;
  // A removable singularity at x = ½, where cos(πx)/(1 − 4x²) = π/4.
  const v = Math.abs(d) < 1e-9 ? Math.PI / 4 : Math.cos(Math.PI * x) / d;
  return v * v;
}

export interface TransitCandidate extends TransitPass {
  calibrator: Calibrator;
  /** Primary-beam power at the closest approach (1.4 GHz). */
  beamResponse: number;
  /** beamResponse × catalogue flux (Jy): how much of the calibrator the group sees. */
  rank: number;
}

/**
 * Every calibrator that passes within the half-power radius during the interval, best first
 * by beam response × flux (DESIGN.md §8: the old pipeline ranks by beam × flux).
 */
export function transitCandidates(g: GroupSky): TransitCandidate[] {
  classifyGroup(g); // the same argument checks
  const radius = g.beamRadiusDeg ?? PRIMARY_BEAM_RADIUS_DEG;
  const out: TransitCandidate[] = [];
  for (const c of g.calibrators) {
    if (Math.abs(c.decDeg - g.pointingDecDeg) > radius + 1) continue;
    const pass = closestApproach(c, g.startMjd, g.endMjd, g.pointingDecDeg);
    if (pass.minSeparationDeg > radius) continue;
    const beamResponse = primaryBeamPower(pass.minSeparationDeg * DEG);
    out.push({ calibrator: c, ...pass, beamResponse, rank: beamResponse * c.fluxJy });
  }
  return out.sort((a, b) => b.rank - a.rank || a.calibrator.name.localeCompare(b.calibrator.name));
}
