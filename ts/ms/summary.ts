/**
 * A Measurement Set summary in the spirit of CASA's `listobs`, from the native reader.
 */
import { native } from '../native.js';

export interface MsSummary {
  path: string;
  nRows: number;
  msVersion: number | null;
  columns: string[];
  timeRangeMjdS: [number, number] | null;
  scans: { scan: number; fieldId: number; startMjdS: number; endMjdS: number; nRows: number; nIntegrations: number; spwIds: number[] }[];
  nBaselines: number;
  nAutocorrelations: number;
  integrationTimeS: number | null;
  telescope: string | null;
  antennas: { name: string; station: string; positionItrfM: number[]; dishDiameterM: number; flagged: boolean }[];
  spectralWindows: { name: string; nChan: number; freqMinHz: number; freqMaxHz: number; chanWidthHz: number; refFrequencyHz: number; totalBandwidthHz: number; measFreqRef: number }[];
  polarizations: { corrTypes: number[]; corrProducts: number[][] }[];
  fields: { name: string; raDeg: number; decDeg: number; frame: string; timeMjdS: number }[];
}

const CORR_NAMES: Record<number, string> = { 1: 'I', 2: 'Q', 3: 'U', 4: 'V', 5: 'RR', 6: 'RL', 7: 'LR', 8: 'LL', 9: 'XX', 10: 'XY', 11: 'YX', 12: 'YY' };

export function describeMs(path: string): MsSummary {
  return native().inspectMs(path) as MsSummary;
}

export function mjdSecondsToIso(mjdS: number): string {
  return new Date((mjdS / 86400 - 40587) * 86400000).toISOString().replace('Z', '');
}

export function formatRa(deg: number): string {
  const h = (((deg % 360) + 360) % 360) / 15;
  const hh = Math.floor(h);
  const mm = Math.floor((h - hh) * 60);
  const ss = ((h - hh) * 60 - mm) * 60;
  return `${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:${ss.toFixed(3).padStart(6, '0')}`;
}

export function formatDec(deg: number): string {
  const sign = deg < 0 ? '-' : '+';
  const d = Math.abs(deg);
  const dd = Math.floor(d);
  const mm = Math.floor((d - dd) * 60);
  const ss = ((d - dd) * 60 - mm) * 60;
  return `${sign}${String(dd).padStart(2, '0')}.${String(mm).padStart(2, '0')}.${ss.toFixed(2).padStart(5, '0')}`;
}

export function formatMsSummary(s: MsSummary): string {
  const out: string[] = [];
  out.push(`MeasurementSet ${s.path} (MS v${s.msVersion ?? '?'})`);
  out.push(`  Telescope ${s.telescope ?? '?'}, ${s.nRows} rows`);
  if (s.timeRangeMjdS) {
    const [t0, t1] = s.timeRangeMjdS;
    out.push(`  Observed from ${mjdSecondsToIso(t0)} to ${mjdSecondsToIso(t1)} UTC (${(t1 - t0).toFixed(1)} s between first and last integration)`);
  }
  out.push(`  ${s.nBaselines} baselines (${s.nAutocorrelations} autocorrelations), integration ${s.integrationTimeS?.toFixed(3) ?? '?'} s`);
  out.push(`  Scans: ${s.scans.length}`);
  out.push('    Scan  FldId  Start (UTC)               End (UTC)                 nInt  nRows     SpwIds');
  for (const sc of s.scans) {
    out.push(
      `    ${String(sc.scan).padStart(4)}  ${String(sc.fieldId).padStart(5)}  ${mjdSecondsToIso(sc.startMjdS).padEnd(24)}  ${mjdSecondsToIso(sc.endMjdS).padEnd(24)}  ${String(sc.nIntegrations).padStart(4)}  ${String(sc.nRows).padStart(8)}  [${sc.spwIds.join(',')}]`,
    );
  }
  out.push(`  Fields: ${s.fields.length}`);
  out.push('    ID  Name                          RA               Decl             Frame');
  s.fields.forEach((f, i) =>
    out.push(`    ${String(i).padStart(2)}  ${f.name.padEnd(28).slice(0, 28)}  ${formatRa(f.raDeg).padEnd(15)}  ${formatDec(f.decDeg).padEnd(15)}  ${f.frame}`),
  );
  out.push(`  Spectral windows: ${s.spectralWindows.length}`);
  out.push('    ID  #Chans  Ch0(MHz)      ChanWid(kHz)  TotBW(kHz)   CtrFreq(MHz)');
  s.spectralWindows.forEach((w, i) => {
    const ctr = (w.freqMinHz + w.freqMaxHz) / 2;
    out.push(
      `    ${String(i).padStart(2)}  ${String(w.nChan).padStart(6)}  ${(w.freqMinHz / 1e6).toFixed(4).padStart(12)}  ${(w.chanWidthHz / 1e3).toFixed(3).padStart(12)}  ${(w.totalBandwidthHz / 1e3).toFixed(1).padStart(11)}  ${(ctr / 1e6).toFixed(4).padStart(12)}`,
    );
  });
  s.polarizations.forEach((p, i) => out.push(`  Polarisation setup ${i}: ${p.corrTypes.map((c) => CORR_NAMES[c] ?? String(c)).join(' ')}`));
  const active = s.antennas.filter((a) => !a.flagged && a.name !== '');
  out.push(`  Antennas: ${active.length} active of ${s.antennas.length} rows`);
  return out.join('\n') + '\n';
}
