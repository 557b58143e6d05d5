/**
 * Sky models for `simulate --sky FILE`: CSV (`name,ra_deg,dec_deg,flux_jy[,spectral_index]`)
 * or JSON (an array of sources, or any object with a `sources` array such as a truth file).
 */
import { readFileSync } from 'node:fs';
import { ContimgError } from './error.js';

export interface SkySource {
  name: string;
  raDeg: number;
  decDeg: number;
  fluxJy: number;
  spectralIndex?: number;
}

export function readSky(file: string): SkySource[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ContimgError('SKY_IO', `${file}: cannot read the sky model (${(e as Error).message})`);
  }
  const sources = file.toLowerCase().endsWith('.json') ? fromJson(file, text) : fromCsv(file, text);
  if (sources.length === 0) throw new ContimgError('SKY_INVALID', `${file}: the sky model holds no sources`);
  return sources;
}

function fail(file: string, where: string, what: string): never {
  throw new ContimgError('SKY_INVALID', `${file}: ${where}: ${what}`);
}

function check(file: string, where: string, s: SkySource): SkySource {
  if (!Number.isFinite(s.raDeg) || s.raDeg < 0 || s.raDeg >= 360) fail(file, where, `ra_deg must be in [0, 360), got ${s.raDeg}`);
  if (!Number.isFinite(s.decDeg) || Math.abs(s.decDeg) > 90) fail(file, where, `dec_deg must be in [-90, 90], got ${s.decDeg}`);
  if (!Number.isFinite(s.fluxJy) || s.fluxJy < 0) fail(file, where, `flux_jy must be a non-negative number, got ${s.fluxJy}`);
  if (s.spectralIndex !== undefined && !Number.isFinite(s.spectralIndex)) fail(file, where, 'spectral_index must be a number');
  return s;
}

function fromCsv(file: string, text: string): SkySource[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim().toLowerCase());
  const col = (name: string, required: boolean): number => {
    const i = header.indexOf(name);
    if (i < 0 && required) fail(file, 'header', `missing column '${name}' (expected name,ra_deg,dec_deg,flux_jy[,spectral_index])`);
    return i;
  };
  const [iName, iRa, iDec, iFlux, iAlpha] = [col('name', true), col('ra_deg', true), col('dec_deg', true), col('flux_jy', true), col('spectral_index', false)];
  return lines.map((line, n) => {
    const f = line.split(',').map((x) => x.trim());
    const num = (i: number) => (i >= 0 && f[i] !== undefined && f[i] !== '' ? Number(f[i]) : undefined);
    return check(file, `line ${n + 2}`, {
      name: f[iName] ?? `src${n}`,
      raDeg: num(iRa) ?? NaN,
      decDeg: num(iDec) ?? NaN,
      fluxJy: num(iFlux) ?? NaN,
      spectralIndex: num(iAlpha),
    });
  });
}

function fromJson(file: string, text: string): SkySource[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    fail(file, 'JSON', (e as Error).message);
  }
  const list = Array.isArray(data) ? data : (data as { sources?: unknown }).sources;
  if (!Array.isArray(list)) fail(file, 'JSON', 'expected an array of sources or an object with a "sources" array');
  return list.map((raw, i) => {
    const o = raw as Record<string, unknown>;
    const num = (...keys: string[]) => {
      for (const k of keys) if (typeof o[k] === 'number') return o[k] as number;
      return undefined;
    };
    return check(file, `source ${i}`, {
      name: typeof o.name === 'string' ? o.name : `src${i}`,
      raDeg: num('ra_deg', 'raDeg') ?? NaN,
      decDeg: num('dec_deg', 'decDeg') ?? NaN,
      fluxJy: num('flux_jy', 'fluxJy') ?? NaN,
      spectralIndex: num('spectral_index', 'spectralIndex'),
    });
  });
}
